package attest_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"testing"

	"github.com/cocoon-network/cocoon/offchain/attest"
	"github.com/cocoon-network/cocoon/offchain/attest/nvgpu"
	"github.com/cocoon-network/cocoon/offchain/attest/sevsnp"
	"github.com/cocoon-network/cocoon/offchain/attest/tdx"
)

// Measurement follows each TEE's documented rule (docs/ATTESTATION.md),
// computed here from the parsed fields rather than through the TEE
// package's own helper.
func TestMeasurement(t *testing.T) {
	quote := readFile(t, "tdx/quote_v4.dat")
	q, err := tdx.ParseQuote(quote)
	if err != nil {
		t.Fatal(err)
	}
	tdxRule := sha256.New()
	tdxRule.Write(q.Body.MRTD[:])
	for _, r := range q.Body.RTMR {
		tdxRule.Write(r[:])
	}
	snp := readFile(t, "sevsnp/report.bin")
	rep, err := sevsnp.ParseReport(snp)
	if err != nil {
		t.Fatal(err)
	}
	gpu := readFile(t, "nvidia/report.bin")
	g, err := nvgpu.ParseReport(gpu)
	if err != nil {
		t.Fatal(err)
	}
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	b := devBundle(t, key, "img", nil, t0)

	for _, tc := range []struct {
		name     string
		tee      string
		evidence []byte
		want     [32]byte
		wantErr  bool
	}{
		{name: "tdx", tee: attest.TEETDX, evidence: quote, want: [32]byte(tdxRule.Sum(nil))},
		{name: "sevsnp", tee: attest.TEESEVSNP, evidence: snp, want: sha256.Sum256(rep.Proto.GetMeasurement())},
		{name: "nvidia", tee: attest.TEENVIDIA, evidence: gpu, want: sha256.Sum256(g.MeasurementRecord)},
		{name: "dev", tee: attest.TEEDev, evidence: b.Evidence, want: sha256.Sum256([]byte("img"))},
		{name: "unknown TEE", tee: "sgx", evidence: quote, wantErr: true},
		{name: "evidence of another TEE", tee: attest.TEESEVSNP, evidence: quote, wantErr: true},
		{name: "truncated", tee: attest.TEETDX, evidence: quote[:100], wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := attest.Measurement(tc.tee, tc.evidence)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if got != tc.want {
				t.Errorf("measurement %x, want %x", got, tc.want)
			}
		})
	}
}

// The measurement an operator allows is the one the Verifier looks up.
func TestMeasurementIsWhatVerifyLooksUp(t *testing.T) {
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	b := devBundle(t, key, "img", nil, t0)
	m, err := attest.Measurement(b.TEE, b.Evidence)
	if err != nil {
		t.Fatal(err)
	}
	res, err := clock(t0).Verify(context.Background(), b, nil, nil, allow(true, map[string][][]byte{attest.TEEDev: {m[:]}}))
	if err != nil {
		t.Fatal(err)
	}
	if string(res.ImageHash) != string(m[:]) {
		t.Errorf("verifier looked up %x, Measurement says %x", res.ImageHash, m)
	}
}
