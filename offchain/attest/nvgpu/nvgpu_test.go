package nvgpu

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"os"
	"testing"
	"time"

	"github.com/cocoon-network/cocoon/offchain/attest/check"
)

// A production H100 report and its attestation chain (test data README).
var at = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

func testdata(t testing.TB) (report, chain []byte) {
	t.Helper()
	r, err := os.ReadFile("../testdata/nvidia/report.bin")
	if err != nil {
		t.Fatal(err)
	}
	c, err := os.ReadFile("../testdata/nvidia/cert_chain.pem")
	if err != nil {
		t.Fatal(err)
	}
	return r, c
}

func TestParseRealReport(t *testing.T) {
	raw, _ := testdata(t)
	r, err := ParseReport(raw)
	if err != nil {
		t.Fatal(err)
	}
	if r.SPDMVersion != 0x11 || r.NumBlocks != 64 || len(r.Blocks) != 64 || len(r.MeasurementRecord) != 3520 || r.Trailing != 0 {
		t.Errorf("version %#x blocks %d/%d record %d trailing %d", r.SPDMVersion, r.NumBlocks, len(r.Blocks), len(r.MeasurementRecord), r.Trailing)
	}
	if r.Blocks[0].Index != 1 || len(r.Blocks[0].Value) != 48 {
		t.Errorf("first block %+v", r.Blocks[0])
	}
	if len(r.Opaque) != 12 || r.OpaqueString(OpaqueDriverVersion) != "545.00" || r.VBIOSVersion() != "96.00.5E.00.01" || r.OpaqueString(OpaqueProject) != "1010" {
		t.Errorf("opaque data: %d fields, driver %q vbios %q", len(r.Opaque), r.OpaqueString(OpaqueDriverVersion), r.VBIOSVersion())
	}
	if len(r.Signed)+signatureSize != len(raw) {
		t.Errorf("signed %d of %d", len(r.Signed), len(raw))
	}
}

func TestVerifyRealReport(t *testing.T) {
	raw, chain := testdata(t)
	flip := func(b []byte, off int) []byte {
		c := append([]byte(nil), b...)
		c[off] ^= 1
		return c
	}
	other := selfSigned(t)
	for _, c := range []struct {
		name      string
		raw       []byte
		chain     []byte
		roots     []*x509.Certificate
		now       time.Time
		wantCheck string
	}{
		{"production report", raw, chain, nil, at, ""},
		{"request nonce", flip(raw, 10), chain, nil, at, CheckSignature},
		{"measurement", flip(raw, 37+8+100), chain, nil, at, CheckSignature},
		{"opaque data", flip(raw, len(raw)-96-50), chain, nil, at, CheckSignature},
		{"signature", flip(raw, len(raw)-10), chain, nil, at, CheckSignature},
		{"chain", raw, flip(chain, 900), nil, at, CheckCertChain},
		{"another root", raw, chain, []*x509.Certificate{other}, at, CheckCertChain},
		{"before the chain", raw, chain, nil, time.Date(2019, 1, 1, 0, 0, 0, 0, time.UTC), CheckCertChain},
		{"no chain", raw, nil, nil, at, CheckCertChain},
	} {
		t.Run(c.name, func(t *testing.T) {
			r, err := ParseReport(c.raw)
			if err != nil {
				t.Fatal(err)
			}
			_, err = (&Verifier{Roots: c.roots}).Verify(r, c.chain, c.now, &check.Log{})
			if check.Name(err) != c.wantCheck {
				t.Errorf("err = %v, want check %q", err, c.wantCheck)
			}
		})
	}
}

func selfSigned(t *testing.T) *x509.Certificate {
	k, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "NVIDIA Device Identity CA"},
		NotBefore: at.Add(-time.Hour), NotAfter: at.Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return c
}

func TestParseReportRefusals(t *testing.T) {
	raw, _ := testdata(t)
	mod := func(off int, v byte) []byte {
		c := append([]byte(nil), raw...)
		c[off] = v
		return c
	}
	for _, c := range []struct {
		name   string
		in     []byte
		notRep bool
	}{
		{"empty", nil, true},
		{"not SPDM", make([]byte, 100), true},
		{"version mismatch", mod(37, 0x12), true},
		{"no signature asked", mod(2, 0), false},
		{"record length past end", mod(37+7, 0xff), false},
		{"truncated signature", raw[:len(raw)-1], false},
		{"block count mismatch", mod(37+4, 63), false},
	} {
		_, err := ParseReport(c.in)
		if err == nil || errors.Is(err, ErrNotReport) != c.notRep {
			t.Errorf("%s: err %v", c.name, err)
		}
	}
}

func TestDefaultRoots(t *testing.T) {
	r := DefaultRoots()
	if r[0].Subject.CommonName != "NVIDIA Device Identity CA" || !r[0].IsCA {
		t.Errorf("root %v", r[0].Subject)
	}
}

// FuzzParseGPUReport: no input may panic or hang the parser.
func FuzzParseGPUReport(f *testing.F) {
	raw, _ := testdata(f)
	f.Add(raw)
	f.Add(raw[:200])
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseReport(b)
		if err != nil {
			return
		}
		if len(r.Signed) > len(b) || len(r.Signature) != signatureSize {
			t.Fatalf("inconsistent report")
		}
		_ = r.OpaqueString(OpaqueDriverVersion)
	})
}
