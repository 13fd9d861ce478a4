package worker

import (
	"context"
	"crypto/ed25519"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cocoon-network/cocoon/offchain/attest"
	"github.com/cocoon-network/cocoon/offchain/attest/atls"
	"github.com/cocoon-network/cocoon/offchain/attest/dev"
	"github.com/cocoon-network/cocoon/offchain/seal"
)

func TestIdentity(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "keys")
	id, err := InitIdentity(ctx, dir, seal.SuiteX25519MLKEM768)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := InitIdentity(ctx, dir, seal.SuiteX25519); err == nil {
		t.Fatal("init replaced an existing worker's keys")
	}
	for _, f := range []string{signKeyFile, hpkeKeyFile, tlsKeyFile, devKeyFile} {
		st, err := os.Stat(filepath.Join(dir, f))
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v, mode %v", f, err, st.Mode().Perm())
		}
	}
	loaded, err := LoadIdentity(dir)
	if err != nil {
		t.Fatal(err)
	}
	if loaded.EvidenceHash() != id.EvidenceHash() || !loaded.SignKey.Equal(id.SignKey) {
		t.Fatal("reloaded identity differs")
	}
	meas, err := loaded.Measurement()
	if err != nil || meas != dev.Measurement(DevImage) {
		t.Fatalf("measurement %x, %v", meas, err)
	}

	// The HTTPS certificate carries the very bundle whose hash is on chain,
	// and it passes attested-TLS verification with the worker's key expected.
	tid, err := loaded.TLSIdentity(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	policy := &attest.Policy{AllowList: &attest.StaticAllowList{Test: true, Allowed: map[string][][]byte{attest.TEEDev: {meas[:]}}}}
	v := &atls.Verifier{Policy: policy, ExpectedKeys: []attest.Key{{Name: attest.KeyEd25519, Public: loaded.SignKey.Public().(ed25519.PublicKey)}}}
	if _, err := v.VerifyCertificate(ctx, tid.Certificate.Leaf); err != nil {
		t.Fatalf("the worker's attested certificate does not verify: %v", err)
	}
	if raw, _ := tid.Bundle.Encode(); string(raw) != string(loaded.Evidence) {
		t.Fatal("the certificate carries another bundle than /evidence serves")
	}

	// Fresh evidence for the same keys: a new hash, the same measurement,
	// and it still loads (it vouches for these keys).
	src, err := DevSourceFor(dir)
	if err != nil {
		t.Fatal(err)
	}
	re, err := Reattest(ctx, dir, src, nil, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if re.EvidenceHash() == loaded.EvidenceHash() {
		t.Error("re-attesting kept the old evidence")
	}
	if m2, _ := re.Measurement(); m2 != meas {
		t.Error("re-attesting changed the measurement")
	}
	if _, err := LoadIdentity(dir); err != nil {
		t.Fatalf("fresh evidence does not load: %v", err)
	}

	// Evidence for other keys is refused at load: serving it would make
	// every careful client refuse the worker.
	other := filepath.Join(t.TempDir(), "keys")
	if _, err := InitIdentity(ctx, other, seal.SuiteX25519); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(filepath.Join(other, evidenceFile))
	if err := os.WriteFile(filepath.Join(dir, evidenceFile), raw, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadIdentity(dir); err == nil {
		t.Fatal("evidence made for other keys was accepted")
	}
}

// gpuSource hands out a GPU report and records the nonce it was asked.
type gpuSource struct {
	asked  [32]byte
	report []byte
}

func (g *gpuSource) AttestGPUs(_ context.Context, nonce [32]byte) ([]attest.GPUEvidence, error) {
	g.asked = nonce
	return []attest.GPUEvidence{{TEE: attest.TEENVIDIA, Evidence: g.report, CCMode: attest.GPUCCOn}}, nil
}

// Re-attesting binds the GPUs' reports and the checked weights to the same
// report data as the keys.
func TestReattestWithGPUsAndWeights(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "keys")
	if _, err := InitIdentity(ctx, dir, seal.SuiteX25519); err != nil {
		t.Fatal(err)
	}
	src, err := DevSourceFor(dir)
	if err != nil {
		t.Fatal(err)
	}
	report, err := os.ReadFile("../attest/testdata/nvidia/report.bin")
	if err != nil {
		t.Fatal(err)
	}
	gpus := &gpuSource{report: report}
	h := make([]byte, 32)
	h[0] = 7
	id, err := Reattest(ctx, dir, src, gpus, attest.KeyHoldingPlain, []attest.ModelWeights{{Model: "m", Hash: h}})
	if err != nil {
		t.Fatal(err)
	}
	rd, err := id.Bundle.ReportData()
	if err != nil {
		t.Fatal(err)
	}
	if string(gpus.asked[:]) != string(rd[:32]) || len(id.Bundle.GPUs) != 1 || string(id.Bundle.WeightsFor("m")) != string(h) || id.Bundle.KeyHolding != attest.KeyHoldingPlain {
		t.Fatalf("GPU nonce %x, report data %x, bundle %+v", gpus.asked, rd, id.Bundle)
	}
	// The dev statement signs the report data that covers the weights.
	loaded, err := LoadIdentity(dir)
	if err != nil {
		t.Fatal(err)
	}
	st, err := dev.Parse(loaded.Bundle.Evidence)
	if err != nil || string(st.ReportData) != string(rd[:]) {
		t.Fatalf("dev statement: %v", err)
	}
}
