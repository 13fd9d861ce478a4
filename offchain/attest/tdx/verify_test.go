package tdx

import (
	"context"
	"crypto/x509"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-tdx-guest/abi"
	tdxverify "github.com/google/go-tdx-guest/verify"

	"github.com/cocoon-network/cocoon/offchain/attest/check"
)

// Times inside the validity of the production quote's collateral (TCB
// info 2023-06-18..07-18, QE identity 06-08..07-08, PCK CRL 06-08..07-08).
var (
	inCollateral    = time.Date(2023, 7, 1, 1, 0, 0, 0, time.UTC)
	afterCollateral = time.Date(2023, 7, 20, 0, 0, 0, 0, time.UTC)
)

const collateralDir = "../testdata/tdx/collateral"

func verifyRaw(t *testing.T, v *Verifier, raw []byte, now time.Time) (*Result, *check.Log, error) {
	t.Helper()
	q, err := ParseQuote(raw)
	if err != nil {
		return nil, nil, &check.Error{Check: "parse", Err: err}
	}
	log := &check.Log{}
	r, err := v.Verify(context.Background(), q, now, log)
	return r, log, err
}

func TestVerifyProductionQuoteOffline(t *testing.T) {
	r, log, err := verifyRaw(t, &Verifier{}, realQuote(t), inCollateral)
	if err != nil {
		t.Fatal(err)
	}
	if r.TCB.Status != StatusUnknown || r.FMSPC != "50806f000000" {
		t.Errorf("status %q fmspc %q", r.TCB.Status, r.FMSPC)
	}
	want := map[string]check.Status{
		CheckHeader: check.Passed, CheckPCKChain: check.Passed, CheckPCKRevocation: check.Skipped,
		CheckQuoteSignature: check.Passed, CheckQEReportSignature: check.Passed, CheckQEReportBinding: check.Passed,
		CheckCollateral: check.Skipped, CheckTCBLevel: check.Skipped,
	}
	for _, res := range log.Results {
		if w, ok := want[res.Check]; ok && w != res.Status {
			t.Errorf("%s: %s, want %s", res.Check, res.Status, w)
		}
		delete(want, res.Check)
	}
	if len(want) != 0 {
		t.Errorf("checks that did not run: %v", want)
	}
}

func TestVerifyProductionQuoteWithCollateral(t *testing.T) {
	v := &Verifier{Collateral: NewDirSource(collateralDir, nil)}
	r, log, err := verifyRaw(t, v, realQuote(t), inCollateral)
	if err != nil {
		t.Fatal(err)
	}
	// go-tdx-guest's sample TCB info lists two levels whose SGX SVNs are
	// above this platform's, so no level applies: Intel's QVL calls that
	// TCB_NOT_SUPPORTED. The QE itself is up to date.
	if r.TCB.Status != StatusNotSupported || r.TCB.QE != StatusUpToDate || r.TCB.EvaluationDataNumber != 15 {
		t.Errorf("TCB = %+v", r.TCB)
	}
	for _, res := range log.Results {
		if res.Status != check.Passed {
			t.Errorf("%s: %s %s", res.Check, res.Status, res.Detail)
		}
	}
	if len(log.Results) != 10 {
		t.Errorf("%d checks ran", len(log.Results))
	}
	// Collateral past its next update is refused; the PCK CRL, checked
	// first, expires first.
	_, _, err = verifyRaw(t, v, realQuote(t), afterCollateral)
	if check.Name(err) != CheckPCKRevocation || !strings.Contains(err.Error(), "CRL expired") {
		t.Errorf("expired collateral: %v", err)
	}
}

// TestVerifyTamperedProductionQuote flips one bit at a time in the
// production quote and expects the check that guards that byte to refuse
// it, and go-tdx-guest's verifier to refuse it too.
func TestVerifyTamperedProductionQuote(t *testing.T) {
	raw := realQuote(t)
	q, err := ParseQuote(raw)
	if err != nil {
		t.Fatal(err)
	}
	sigData := headerSize + td10BodySize + 4
	certData := sigData + 64 + 64 + 6
	pckOff := certData + qeReportSize + 64 + 2 + len(q.QEAuthData) + 6
	for _, c := range []struct {
		name   string
		offset int
		check  string
	}{
		{"header user data", 30, CheckQuoteSignature},
		{"qe vendor id", 12, CheckHeader},
		{"body mr_td", headerSize + 0x88, CheckQuoteSignature},
		{"body report data", headerSize + td10BodySize - 1, CheckQuoteSignature},
		{"quote signature", sigData + 5, CheckQuoteSignature},
		{"attestation key", sigData + 64 + 40, CheckQuoteSignature},
		{"qe report", certData + 200, CheckQEReportSignature},
		{"qe report signature", certData + qeReportSize + 3, CheckQEReportSignature},
		{"qe auth data", certData + qeReportSize + 64 + 2 + 4, CheckQEReportBinding},
		{"pck leaf", pckOff + 400, CheckPCKChain},
		{"pck intermediate", pckOff + 1700, CheckPCKChain},
	} {
		t.Run(c.name, func(t *testing.T) {
			bad := append([]byte(nil), raw...)
			bad[c.offset] ^= 0x04
			_, _, err := verifyRaw(t, &Verifier{}, bad, inCollateral)
			if got := check.Name(err); got != c.check {
				t.Errorf("refused by %q (%v), want %q", got, err, c.check)
			}
			if ref, perr := abi.QuoteToProto(bad); perr == nil {
				if tdxverify.TdxQuote(ref, &tdxverify.Options{Now: inCollateral, TrustedRoots: rootPool(t)}) == nil {
					t.Errorf("go-tdx-guest accepts what we refuse")
				}
			}
		})
	}
	// The untampered quote passes both verifiers.
	ref, err := abi.QuoteToProto(raw)
	if err != nil {
		t.Fatal(err)
	}
	if err := tdxverify.TdxQuote(ref, &tdxverify.Options{Now: inCollateral, TrustedRoots: rootPool(t)}); err != nil {
		t.Errorf("go-tdx-guest refuses the production quote: %v", err)
	}
}

func TestVerifyProductionQuoteOutsideValidity(t *testing.T) {
	for _, now := range []time.Time{time.Date(2017, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2060, 1, 1, 0, 0, 0, 0, time.UTC)} {
		_, _, err := verifyRaw(t, &Verifier{}, realQuote(t), now)
		if check.Name(err) != CheckPCKChain {
			t.Errorf("at %s: %v", now, err)
		}
	}
}

func TestDirSource(t *testing.T) {
	s := NewDirSource(collateralDir, nil)
	a, err := s.Collateral(context.Background(), "50806F000000")
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.Collateral(context.Background(), "50806f000000")
	if err != nil || a != b {
		t.Errorf("second lookup: %p vs %p, %v", a, b, err)
	}
	if a.PCKCRL == nil || a.RootCACRL == nil {
		t.Errorf("CRLs not loaded")
	}
	_, err = NewDirSource(filepath.Join(t.TempDir(), "none"), nil).Collateral(context.Background(), "x")
	if !errors.Is(err, ErrNoCollateral) {
		t.Errorf("missing directory: %v", err)
	}
	// A quote whose platform the source cannot serve fails the collateral check.
	q, _ := ParseQuote(realQuote(t))
	v := &Verifier{Collateral: NewDirSource(t.TempDir(), nil)}
	if _, err := v.Verify(context.Background(), q, inCollateral, nil); check.Name(err) != CheckCollateral {
		t.Errorf("empty collateral dir: %v", err)
	}
}

func TestWorst(t *testing.T) {
	for _, c := range []struct {
		in   []string
		want string
	}{
		{[]string{"UpToDate", "", "UpToDate"}, "UpToDate"},
		{[]string{"SWHardeningNeeded", "UpToDate", "OutOfDate"}, "OutOfDate"},
		{[]string{"NotSupported", "Revoked"}, "Revoked"},
		{[]string{"UpToDate", "SomethingNew"}, "SomethingNew"},
	} {
		if got := worst(c.in...); got != c.want {
			t.Errorf("worst(%v) = %s, want %s", c.in, got, c.want)
		}
	}
}

func rootPool(t testing.TB) *x509.CertPool {
	p := x509.NewCertPool()
	for _, r := range IntelRoots() {
		p.AddCert(r)
	}
	return p
}

// BenchmarkVerifyQuote measures parsing and verifying the production quote:
// without collateral, and with collateral already cached in a DirSource
// (TCB info, QE identity and both CRLs in play).
func BenchmarkVerifyQuote(b *testing.B) {
	raw, err := os.ReadFile("../testdata/tdx/quote_v4.dat")
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name string
		v    *Verifier
	}{
		{"offline", &Verifier{}},
		{"collateral", &Verifier{Collateral: NewDirSource(collateralDir, nil)}},
	} {
		b.Run(c.name, func(b *testing.B) {
			ctx := context.Background()
			for i := 0; i < b.N; i++ {
				q, err := ParseQuote(raw)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := c.v.Verify(ctx, q, inCollateral, &check.Log{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
