package main

import (
	"context"
	"crypto/ed25519"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cocoon-network/cocoon/offchain/attest"
	"github.com/cocoon-network/cocoon/offchain/attest/collateral/collateraltest"
)

// `attest collateral` fetches from a PCS (here a local one serving Intel's
// shipped collateral) what `attest verify --collateral FILE` then uses.
func TestAttestCollateralFetchAndVerify(t *testing.T) {
	pcs := collateraltest.IntelPCS(t, attestTestdata+"tdx/collateral")
	quote := attestTestdata + "tdx/quote_v4.dat"
	out := filepath.Join(t.TempDir(), "collateral.json")
	stdout, errOut, code := runAttest(t, "attest", "collateral", quote, "--out", out, "--intel-pcs", pcs.URL, "--intel-root-crl", pcs.URL+"/IntelSGXRootCA.der")
	if code != 0 || !strings.Contains(stdout, "tdx collateral written to") {
		t.Fatalf("collateral: exit %d %s %s", code, stdout, errOut)
	}
	v, code, text := verifyOut(t, quote, "--collateral", out, "--at", "2023-07-01T01:00:00Z", "--json")
	if code != 1 || v.FailedCheck != "tcb_status" || v.TCBStatus != "NotSupported" {
		t.Fatalf("verify with the fetched collateral: exit %d %+v\n%s", code, v, text)
	}
	_ = os.WriteFile(out, []byte(`{"version":1}`), 0o644)
	if _, code, _ := verifyOut(t, quote, "--collateral", out); code != 2 {
		t.Errorf("a broken collateral file: exit %d", code)
	}
	if _, errOut, code := runAttest(t, "attest", "collateral", quote, "--out", out, "--intel-pcs", pcs.URL+"/nothing-here"); code == 0 || !strings.Contains(errOut, "HTTP 404") {
		t.Errorf("PCS without the collateral: exit %d %s", code, errOut)
	}
}

func TestAttestWeights(t *testing.T) {
	dir := t.TempDir()
	_ = os.WriteFile(filepath.Join(dir, "a.bin"), []byte("aaa"), 0o644)
	// What `cd DIR && sha256sum a.bin | sha256sum` prints.
	out, errOut, code := runAttest(t, "attest", "weights", dir)
	if code != 0 || strings.TrimSpace(out) != "60e3c03be6983ce24fa5ce52b4012307b230764cd7bcfd95551dbb236f943b53" {
		t.Fatalf("exit %d %q %s", code, out, errOut)
	}
	if _, _, code := runAttest(t, "attest", "weights", filepath.Join(dir, "missing")); code == 0 {
		t.Error("a missing path hashed")
	}
}

func TestAttestInspectShowsWeightsAndGPUMode(t *testing.T) {
	key := ed25519.NewKeyFromSeed(make([]byte, 32))
	h := make([]byte, 32)
	h[0] = 0xab
	b, err := attest.NewBundle(context.Background(), &attest.DevSource{Key: key, Image: "img"}, nil,
		[]attest.Key{{Name: attest.KeyEd25519, Public: key.Public().(ed25519.PublicKey)}}, nil, time.Now(), attest.ModelWeights{Model: "llama", Hash: h})
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := b.Encode()
	path := filepath.Join(t.TempDir(), "b.json")
	_ = os.WriteFile(path, raw, 0o644)
	out, errOut, code := runAttest(t, "attest", "inspect", path, "--json")
	if code != 0 || !strings.Contains(out, `"model": "llama"`) || !strings.Contains(out, `"hash": "ab00`) {
		t.Fatalf("exit %d %s %s", code, out, errOut)
	}
}
