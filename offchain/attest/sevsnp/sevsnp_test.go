package sevsnp

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-sev-guest/abi"
	"github.com/google/uuid"

	"github.com/cocoon-network/cocoon/offchain/attest/check"
	"github.com/cocoon-network/cocoon/offchain/attest/tsm/tsmtest"
)

// The go-sev-guest test report's VCEK is valid 2022-09-24..2029-09-24.
var at = time.Date(2023, 7, 1, 0, 0, 0, 0, time.UTC)

func testdata(t testing.TB) (report, vcek []byte) {
	t.Helper()
	r, err := os.ReadFile("../testdata/sevsnp/report.bin")
	if err != nil {
		t.Fatal(err)
	}
	v, err := os.ReadFile("../testdata/sevsnp/vcek.der")
	if err != nil {
		t.Fatal(err)
	}
	return r, v
}

func verifyReport(t *testing.T, raw, vcek []byte, now time.Time) (*check.Log, error) {
	t.Helper()
	rep, err := ParseReport(raw)
	if err != nil {
		return nil, &check.Error{Check: "parse", Err: err}
	}
	log := &check.Log{}
	_, err = (&Verifier{}).Verify(context.Background(), rep, Certs{VCEK: vcek}, now, log)
	return log, err
}

func TestVerifyRealReport(t *testing.T) {
	raw, vcek := testdata(t)
	log, err := verifyReport(t, raw, vcek, at)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range log.Results {
		names = append(names, r.Check)
		if r.Status != check.Passed {
			t.Errorf("%s: %s", r.Check, r.Status)
		}
	}
	if len(names) != 4 {
		t.Errorf("checks %v", names)
	}
	rep, _ := ParseReport(raw)
	// This report is from a guest launched with the DEBUG policy bit:
	// verifiers refuse it unless in test mode (attest.CheckDebug).
	if !rep.Debug() || rep.Proto.GetVersion() != 2 || len(rep.Measurement()) != 48 {
		t.Errorf("debug %v version %d", rep.Debug(), rep.Proto.GetVersion())
	}
	if s, _ := rep.Signer(); s != CertVCEK {
		t.Errorf("signer %s", s)
	}
}

func TestVerifyTamperedReport(t *testing.T) {
	raw, vcek := testdata(t)
	flip := func(b []byte, off int) []byte {
		c := append([]byte(nil), b...)
		c[off] ^= 0x10
		return c
	}
	for _, c := range []struct {
		name      string
		raw, vcek []byte
		now       time.Time
		wantCheck string
	}{
		{"measurement", flip(raw, 0x90+3), vcek, at, CheckReportSignature},
		{"report data", flip(raw, 0x50), vcek, at, CheckReportSignature},
		{"signature r", flip(raw, 0x2A0+5), vcek, at, CheckReportSignature},
		{"signature s", flip(raw, 0x2A0+0x48+5), vcek, at, CheckReportSignature},
		{"vcek signature", raw, flip(vcek, len(vcek)-20), at, CheckCertChain},
		{"vcek public key", raw, flip(vcek, 300), at, CheckCertChain},
		{"no vcek", raw, nil, at, CheckCertChain},
		{"vcek expired", raw, vcek, time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC), CheckCertChain},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := verifyReport(t, c.raw, c.vcek, c.now)
			if check.Name(err) != c.wantCheck {
				t.Errorf("err = %v, want check %s", err, c.wantCheck)
			}
		})
	}
}

func TestParseReportRefusals(t *testing.T) {
	raw, _ := testdata(t)
	bad := func(f func([]byte)) []byte {
		c := append([]byte(nil), raw...)
		f(c)
		return c
	}
	for _, c := range []struct {
		name string
		in   []byte
		ok   bool
	}{
		{"real", raw, true},
		{"trailing bytes", append(append([]byte(nil), raw...), 0, 0), true},
		{"short", raw[:ReportSize-1], false},
		{"version 1", bad(func(b []byte) { b[0] = 1 }), false},
		{"reserved policy bit clear", bad(func(b []byte) { b[0x0A] = 0 }), false},
		{"signature algorithm 2", bad(func(b []byte) { b[0x34] = 2 }), false},
	} {
		r, err := ParseReport(c.in)
		if (err == nil) != c.ok {
			t.Errorf("%s: err %v", c.name, err)
		}
		if err == nil && len(r.Raw) != ReportSize {
			t.Errorf("%s: raw is %d bytes", c.name, len(r.Raw))
		}
	}
}

func TestDefaultRoots(t *testing.T) {
	roots, err := DefaultRoots()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{"Milan", "Genoa", "Turin"} {
		var ask, asvk bool
		for _, r := range roots[line] {
			ask = ask || r.ProductCerts.Ask != nil
			asvk = asvk || r.ProductCerts.Asvk != nil
		}
		if !ask || !asvk {
			t.Errorf("%s: ASK %v ASVK %v", line, ask, asvk)
		}
	}
}

func TestCertsFromTable(t *testing.T) {
	if _, err := CertsFromTable(nil); err == nil {
		t.Error("empty table accepted")
	}
	if _, err := CertsFromTable([]byte{1, 2, 3}); err == nil {
		t.Error("garbage table accepted")
	}
}

// FuzzParseSNPReport: no input may panic or hang the parser.
func FuzzParseSNPReport(f *testing.F) {
	raw, _ := testdata(f)
	f.Add(raw)
	f.Add(raw[:ReportSize-1])
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseReport(b)
		if err != nil {
			return
		}
		_ = r.Debug()
		_, _ = r.Signer()
		_ = r.ImageHash()
	})
}

func TestGenerateRefusals(t *testing.T) {
	raw, vcek := testdata(t)
	var rd [64]byte
	copy(rd[:], "not what the canned report carries")
	for _, c := range []struct {
		name, provider string
		aux            []byte
		want           string
	}{
		{"TDX guest", "tdx_guest", nil, "provider"},
		{"report data", ProviderName, nil, "other report data"},
	} {
		k := &tsmtest.Kernel{Provider: c.provider, Aux: c.aux, Quote: func([]byte) []byte { return raw }}
		if _, _, err := Generate(context.Background(), k.Client(t), rd); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v", c.name, err)
		}
	}
	// The certificate table the host provisions comes back as Certs.
	table := (&abi.CertTable{Entries: []abi.CertTableEntry{{GUID: uuid.MustParse(abi.VcekGUID), RawCert: vcek}}}).Marshal()
	certs, err := CertsFromTable(table)
	if err != nil || !bytes.Equal(certs.VCEK, vcek) || certs.VLEK != nil {
		t.Errorf("certs from table: %v", err)
	}
}
