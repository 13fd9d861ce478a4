package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cocoon-network/cocoon/offchain/wallet"
	"github.com/cocoon-network/cocoon/offchain/worker"
)

const (
	testRoot  = "EQBm0yq-3BkgI8uwgeOG64RMit5A9BQyU32m4z8zTJKp_M0s"
	testOwner = "EQAj474RLHXam6MQy4uqRjHnHwEXEGTQ47uNFVcFVcgeSkse"
)

// worker init refuses bad flags before it creates anything.
func TestWorkerInitRefusesBadFlags(t *testing.T) {
	isolateEnv(t)
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"root not an address", []string{"--root", "nope"}, "--root"},
		{"owner not an address", []string{"--owner", "nope"}, "--owner"},
		{"unknown network", []string{"--network", "garbage://x"}, "--network"},
		{"network URL without host", []string{"--network", "http://"}, "--network"},
		{"listen without port", []string{"--listen", "127.0.0.1"}, "--listen"},
		{"listen port out of range", []string{"--listen", "127.0.0.1:70000"}, "--listen"},
		{"empty model", []string{"--model", " "}, "--model"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "w")
			args := append([]string{"worker", "init", "--out", out}, tc.args...)
			_, err := runCLI(t, args...)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("worker init %v: %v, want an error naming %s", tc.args, err, tc.wantErr)
			}
			if _, err := os.Stat(out); !os.IsNotExist(err) {
				t.Errorf("worker init created %s before refusing its flags", out)
			}
		})
	}
}

// Whatever the values, the config worker init writes reads back to them:
// a model name cannot inject keys or tables.
func TestWorkerInitQuotesValues(t *testing.T) {
	isolateEnv(t)
	model := "evil\"\nmax_concurrent = 999\n[engine]\nkind = \"openai\" \\ \t\u0001 ünïcode"
	out := filepath.Join(t.TempDir(), "w")
	if _, err := runCLI(t, "worker", "init", "--out", out, "--root", testRoot, "--owner", testOwner,
		"--network", `http://127.0.0.1:8081/a"b`, "--model", model, "--listen", "127.0.0.1:9123"); err != nil {
		t.Fatal(err)
	}
	cfg, err := worker.LoadConfig(filepath.Join(out, "config.toml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Models) != 1 {
		t.Fatalf("config read back: models %+v, want one", cfg.Models)
	}
	type readBack struct {
		Model, Engine, Network, Root, Owner, PublicURL, GasWallet string
		MaxConcurrent                                             int
	}
	want := readBack{Model: model, Engine: "reference", Network: `http://127.0.0.1:8081/a"b`, Root: testRoot, Owner: testOwner,
		PublicURL: "http://127.0.0.1:9123", GasWallet: "gas.wallet", MaxConcurrent: 4}
	got := readBack{Model: cfg.Models[0].Name, Engine: cfg.Engine.Kind, Network: cfg.Network, Root: cfg.Root, Owner: cfg.Owner,
		PublicURL: cfg.PublicURL, GasWallet: cfg.Online.GasWallet, MaxConcurrent: cfg.MaxConcurrent}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("config read back (-want +got):\n%s", diff)
	}
	// The gas wallet the config names exists, readable by its owner only.
	st, err := os.Stat(cfg.Path(cfg.Online.GasWallet))
	if err != nil {
		t.Fatalf("worker init wrote no gas wallet: %v", err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("gas wallet mode %v, want 0600", st.Mode().Perm())
	}
	if _, err := wallet.Load(cfg.Path(cfg.Online.GasWallet)); err != nil {
		t.Errorf("the gas wallet does not load: %v", err)
	}
}

// worker init --sealing seals the keys as they are made: no key file in
// clear, the config's [sealing] written, the flags checked first.
func TestWorkerInitSealed(t *testing.T) {
	dir := t.TempDir()
	addr := "EQBmVHJNxQOSH5fasiSzVzQ40E5JKUjhTbco4sRHZ3o65vET"
	for _, bad := range []struct {
		args []string
		want string
	}{
		{[]string{"--sealing", "tpm", "--root", addr, "--owner", addr}, "--sealing \"tpm\""},
		{[]string{"--sealing", "dev"}, "--sealing needs --root and --owner"},
		{[]string{"--sealing", "key-release", "--root", addr, "--owner", addr}, "needs --key-release-url"},
		{[]string{"--type", "sgx"}, "--type \"sgx\""},
	} {
		if _, err := runCLI(t, append([]string{"worker", "init", "--out", filepath.Join(dir, "bad")}, bad.args...)...); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%v: %v, want %q", bad.args, err, bad.want)
		}
	}
	w := filepath.Join(dir, "w")
	if _, err := runCLI(t, "worker", "init", "--out", w, "--sealing", "dev", "--root", addr, "--owner", addr); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"worker.key", "hpke.key", "tls.key"} {
		if _, err := os.Stat(filepath.Join(w, "keys", f)); !os.IsNotExist(err) {
			t.Errorf("keys/%s is on disk: %v", f, err)
		}
	}
	cfg, err := os.ReadFile(filepath.Join(w, "config.toml"))
	if err != nil || !strings.Contains(string(cfg), "[sealing]\nkind = \"dev\"") {
		t.Fatalf("config %s (%v)", cfg, err)
	}
}
