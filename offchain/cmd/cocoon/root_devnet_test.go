package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"math/big"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cocoon-network/cocoon/offchain/attest/dev"
	"github.com/cocoon-network/cocoon/offchain/inference/reference"
	"github.com/cocoon-network/cocoon/offchain/worker"
)

// An operator's devnet quick start: the dev image's measurement and the
// reference engine's model need no hash typed in, and root show names the
// model and its (absent) weights.
func TestRootDevnetDefaults(t *testing.T) {
	isolateEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	e, srv := cliDevnet(t, ctx)
	op := filepath.Join(t.TempDir(), "op.wallet")
	fundedWalletFile(t, e, op, big.NewInt(10e9))
	net := []string{"--network", srv.URL, "--wallet", op}

	out, err := runCLI(t, append([]string{"root", "deploy", "--test-mode", "--json"}, net...)...)
	if err != nil {
		t.Fatal(err)
	}
	var dep struct{ Root string }
	if err := json.Unmarshal([]byte(out), &dep); err != nil || dep.Root == "" {
		t.Fatalf("deploy printed %q (%v)", out, err)
	}
	root := []string{"--root", dep.Root}
	if _, err := runCLI(t, append(append([]string{"root", "allow-measurement", "--tee", "tdx"}, net...), root...)...); err == nil || !strings.Contains(err.Error(), "--hash is required for --tee tdx") {
		t.Fatalf("tdx without --hash: %v", err)
	}
	if _, err := runCLI(t, append(append([]string{"root", "allow-measurement", "--tee", "dev"}, net...), root...)...); err != nil {
		t.Fatal(err)
	}
	if _, err := runCLI(t, append(append([]string{"root", "add-model", "--name", reference.Name, "--min-price-in", "0.1", "--min-price-out", "0.3"}, net...), root...)...); err != nil {
		t.Fatal(err)
	}
	out, err = runCLI(t, "root", "show", "--network", srv.URL, "--root", dep.Root, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var show struct {
		Measurements []struct{ TEE, Hash string }
		Models       []struct {
			Name        string `json:"name"`
			WeightsHash string `json:"weights_hash"`
		}
	}
	devImage := dev.Measurement(worker.DevImage)
	if err := json.Unmarshal([]byte(out), &show); err != nil || len(show.Measurements) != 1 || show.Measurements[0].Hash != hex.EncodeToString(devImage[:]) ||
		len(show.Models) != 1 || show.Models[0].Name != reference.Name || show.Models[0].WeightsHash != strings.Repeat("0", 64) {
		t.Fatalf("root show: %s (%v)", out, err)
	}
	out, err = runCLI(t, "root", "show", "--network", srv.URL, "--root", dep.Root)
	if err != nil || !strings.Contains(out, reference.Name) || !strings.Contains(out, "weights none pinned") {
		t.Fatalf("root show: %s (%v)", out, err)
	}
}
