package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// runCLI runs the cocoon app with args and returns what it printed.
func runCLI(t *testing.T, args ...string) (string, error) {
	t.Helper()
	app := newApp()
	var out bytes.Buffer
	app.Writer = &out
	app.ErrWriter = io.Discard
	err := app.RunContext(context.Background(), append([]string{"cocoon"}, args...))
	return out.String(), err
}

// isolateEnv keeps the caller's COCOON_* variables out of the tests
// (t.Setenv restores them afterwards).
func isolateEnv(t *testing.T) {
	for _, k := range []string{"COCOON_NETWORK", "COCOON_WALLET", "TONCENTER_API_KEY"} {
		t.Setenv(k, "")
		if err := os.Unsetenv(k); err != nil {
			t.Fatal(err)
		}
	}
}

func TestWalletNewAndAddress(t *testing.T) {
	isolateEnv(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "w.json")

	out, err := runCLI(t, "wallet", "new", "--out", path)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("mode = %04o", st.Mode().Perm())
	}
	var file struct{ Mnemonic string }
	raw, _ := os.ReadFile(path)
	if err := json.Unmarshal(raw, &file); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out, file.Mnemonic) || strings.Contains(out, "mnemonic") {
		t.Errorf("wallet new printed the mnemonic without --show-mnemonic:\n%s", out)
	}
	if !strings.Contains(out, "non-bounceable): UQ") || !strings.Contains(out, "bounceable):     EQ") {
		t.Errorf("output lacks the address forms:\n%s", out)
	}

	out, err = runCLI(t, "wallet", "address", "--wallet", path, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var addr struct {
		Version string
		Address struct{ Raw, Bounceable, NonBounceable string }
	}
	if err := json.Unmarshal([]byte(out), &addr); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if addr.Version != "v5r1" || !strings.HasPrefix(addr.Address.Raw, "0:") || !strings.HasPrefix(addr.Address.Bounceable, "EQ") {
		t.Errorf("address JSON = %s", out)
	}

	if _, err := runCLI(t, "wallet", "new", "--out", path); err == nil || !strings.Contains(err.Error(), "--force") {
		t.Errorf("overwriting without --force: err = %v", err)
	}
	out, err = runCLI(t, "wallet", "new", "--out", path, "--force", "--show-mnemonic", "--version", "v4r2", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var created struct {
		Version  string
		Mnemonic string
	}
	if err := json.Unmarshal([]byte(out), &created); err != nil {
		t.Fatal(err)
	}
	if created.Version != "v4r2" || len(strings.Fields(created.Mnemonic)) != 24 {
		t.Errorf("new --json = %s", out)
	}
}

func TestWalletFlagErrors(t *testing.T) {
	isolateEnv(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "w.json")
	if _, err := runCLI(t, "wallet", "new", "--out", path); err != nil {
		t.Fatal(err)
	}
	loose := filepath.Join(dir, "loose.json")
	raw, _ := os.ReadFile(path)
	if err := os.WriteFile(loose, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(loose, 0o644); err != nil {
		t.Fatal(err)
	}
	const to = "EQAREREREREREREREREREREREREREREREREREREREREREeYT"
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"bad version", []string{"wallet", "new", "--out", filepath.Join(dir, "x.json"), "--version", "v3r2"}, "--version"},
		{"network id with v4r2", []string{"wallet", "new", "--out", filepath.Join(dir, "x.json"), "--version", "v4r2", "--network-global-id", "-3"}, "--network-global-id applies to v5r1"},
		{"zero network id", []string{"wallet", "new", "--out", filepath.Join(dir, "x.json"), "--network-global-id", "0"}, "--network-global-id"},
		{"missing out", []string{"wallet", "new"}, `"out"`},
		{"missing wallet", []string{"wallet", "address"}, `"wallet"`},
		{"world-readable wallet", []string{"wallet", "address", "--wallet", loose}, "chmod 600"},
		{"missing wallet file", []string{"wallet", "address", "--wallet", filepath.Join(dir, "none.json")}, "--wallet"},
		{"balance without network", []string{"wallet", "balance", "--wallet", path}, "--network is required"},
		{"unknown network", []string{"wallet", "balance", "--wallet", path, "--network", "tesnet"}, `--network: unknown network "tesnet"`},
		{"negative amount", []string{"wallet", "send", "--wallet", path, "--network", "testnet", "--to", to, "--amount", "-1"}, "--amount"},
		{"too precise amount", []string{"wallet", "send", "--wallet", path, "--network", "testnet", "--to", to, "--amount", "0.0000000001"}, "--amount"},
		{"garbage amount", []string{"wallet", "send", "--wallet", path, "--network", "testnet", "--to", to, "--amount", "lots"}, "--amount"},
		{"zero amount", []string{"wallet", "send", "--wallet", path, "--network", "testnet", "--to", to, "--amount", "0"}, "--amount: must be more than 0"},
		{"bad destination", []string{"wallet", "send", "--wallet", path, "--network", "testnet", "--to", "nowhere", "--amount", "1"}, "--to"},
		{"bad bounce", []string{"wallet", "send", "--wallet", path, "--network", "testnet", "--to", to, "--amount", "1", "--bounce", "yes"}, "--bounce"},
		{"bad timeout", []string{"wallet", "send", "--wallet", path, "--network", "testnet", "--to", to, "--amount", "1", "--timeout", "0s"}, "--timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := runCLI(t, tt.args...)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestWalletBalance(t *testing.T) {
	isolateEnv(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct{ Method string }
		_ = json.NewDecoder(r.Body).Decode(&req)
		if req.Method != "getAddressInformation" {
			http.Error(w, `{"ok":false,"error":"unexpected method","code":404}`, http.StatusNotFound)
			return
		}
		_, _ = io.WriteString(w, `{"ok":true,"result":{"@type":"raw.fullAccountState","balance":"2500000001","code":"","data":"","last_transaction_id":{"@type":"internal.transactionId","lt":"1000003","hash":"liOM0FpD0knOjmuBWI7BcGiyJo3yMuT9ZgmQUYhLUCo="},"frozen_hash":"","sync_utime":1795598325,"state":"uninitialized"}}`)
	}))
	defer srv.Close()
	path := filepath.Join(t.TempDir(), "w.json")
	if _, err := runCLI(t, "wallet", "new", "--out", path); err != nil {
		t.Fatal(err)
	}
	t.Setenv("COCOON_NETWORK", srv.URL)

	out, err := runCLI(t, "wallet", "balance", "--wallet", path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "balance: 2.500000001 TON") || !strings.Contains(out, "status:  uninit") || !strings.Contains(out, "address: UQ") {
		t.Errorf("balance output:\n%s", out)
	}
	out, err = runCLI(t, "wallet", "balance", "--wallet", path, "--json")
	if err != nil {
		t.Fatal(err)
	}
	type balance struct {
		Status, Balance string
		BalanceNanoton  string `json:"balance_nanoton"`
	}
	var res balance
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(balance{Status: "uninit", Balance: "2.500000001", BalanceNanoton: "2500000001"}, res); diff != "" {
		t.Errorf("balance JSON %s (-want +got):\n%s", out, diff)
	}
}
