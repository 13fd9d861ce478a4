package attest_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/cocoon-network/cocoon/offchain/attest"
	"github.com/cocoon-network/cocoon/offchain/attest/check"
	"github.com/cocoon-network/cocoon/offchain/attest/sevsnp"
	"github.com/cocoon-network/cocoon/offchain/attest/tdx"
	"github.com/cocoon-network/cocoon/offchain/attest/tdx/tdxtest"
)

// TestVerifyWithServedCollateral: the TCB status comes from the collateral
// a worker serves beside its bundle, and the default policy refuses what it
// must, naming the check and the status.
func TestVerifyWithServedCollateral(t *testing.T) {
	f := tdxtest.New(t)
	var svn [16]byte
	svn[0] = 2
	at := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	b := f.Bundle([]attest.Key{workerEd, workerHP}, nil, at, svn)
	q, _ := tdx.ParseQuote(b.Evidence)
	ih := q.Body.ImageHash()
	pol := attest.DefaultPolicy(&attest.StaticAllowList{Allowed: map[string][][]byte{attest.TEETDX: {ih[:]}}})
	v := &attest.Verifier{TDX: tdx.Verifier{Roots: f.Roots()}, Now: func() time.Time { return at.Add(time.Minute) }}
	from := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

	tampered := f.ServedCollateral("UpToDate", svn, from)
	tampered.TDX.TCBInfo[20] ^= 1
	for _, c := range []struct {
		name       string
		coll       *attest.Collateral
		wantCheck  string
		wantStatus string
	}{
		{"up to date", f.ServedCollateral("UpToDate", svn, from), "", "UpToDate"},
		{"SW hardening needed", f.ServedCollateral("SWHardeningNeeded", svn, from), "", "SWHardeningNeeded"},
		{"out of date", f.ServedCollateral("OutOfDate", svn, from), attest.CheckTCBStatus, "OutOfDate"},
		{"revoked", f.ServedCollateral("Revoked", svn, from), attest.CheckTCBStatus, "Revoked"},
		{"no collateral", nil, attest.CheckTCBStatus, attest.TCBStatusUnknown},
		{"collateral not signed by Intel", tampered, tdx.CheckCollateral, attest.TCBStatusUnknown},
		{"collateral expired", f.ServedCollateral("UpToDate", svn, at.AddDate(-2, 0, 0)), tdx.CheckPCKRevocation, attest.TCBStatusUnknown},
		{"collateral of another TEE", &attest.Collateral{Version: 1, TEE: attest.TEESEVSNP, SNP: &attest.SNPCollateral{CRL: []byte{1}}}, tdx.CheckCollateral, attest.TCBStatusUnknown},
		{"collateral without its TDX part", &attest.Collateral{Version: 1, TEE: attest.TEETDX}, tdx.CheckCollateral, attest.TCBStatusUnknown},
	} {
		t.Run(c.name, func(t *testing.T) {
			res, err := v.VerifyWithCollateral(context.Background(), b, c.coll, []attest.Key{workerEd}, nil, pol)
			if check.Name(err) != c.wantCheck || res.TCBStatus != c.wantStatus {
				t.Fatalf("err = %v, status %s; want check %q, status %s", err, res.TCBStatus, c.wantCheck, c.wantStatus)
			}
		})
	}
}

// The shipped production quote and Intel's shipped collateral, served as
// a worker serves them: the platform is below every TCB level Intel
// describes (NotSupported), and the default policy refuses it.
func TestServedProductionCollateralRefusesOldPlatform(t *testing.T) {
	quote := readFile(t, "tdx/quote_v4.dat")
	files, err := tdx.ReadCollateralDir("testdata/tdx/collateral", "")
	if err != nil {
		t.Fatal(err)
	}
	coll := &attest.Collateral{Version: 1, TEE: attest.TEETDX, TDX: files}
	raw, err := coll.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if coll, err = attest.DecodeCollateral(raw); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2023, 7, 1, 1, 0, 0, 0, time.UTC)
	b := &attest.Bundle{Version: 1, TEE: attest.TEETDX, Evidence: quote, Keys: []attest.Key{workerEd}, CreatedAt: at.Unix()}
	res, err := clock(at).VerifyWithCollateral(context.Background(), b, coll, nil, nil, attest.DefaultPolicy(attest.NoAllowList{}))
	if check.Name(err) != attest.CheckTCBStatus || res.TCBStatus != tdx.StatusNotSupported {
		t.Fatalf("err = %v, status %s", err, res.TCBStatus)
	}
}

func TestSNPCollateralMustBeSignedByTheARK(t *testing.T) {
	report, vcek := readFile(t, "sevsnp/report.bin"), readFile(t, "sevsnp/vcek.der")
	at := time.Date(2023, 7, 1, 0, 0, 0, 0, time.UTC)
	b := &attest.Bundle{Version: 1, TEE: attest.TEESEVSNP, Evidence: report, Keys: []attest.Key{workerEd}, CreatedAt: at.Unix()}
	// The VCEK may come in the collateral instead of the bundle; a CRL
	// that the ARK did not sign makes the collateral fail.
	coll := &attest.Collateral{Version: 1, TEE: attest.TEESEVSNP, SNP: &attest.SNPCollateral{ProductLine: "Milan", VCEK: vcek, CRL: selfSignedCRL(t)}}
	res, err := clock(at).VerifyWithCollateral(context.Background(), b, coll, nil, nil, allow(true, nil))
	if check.Name(err) != tdx.CheckCollateral {
		t.Fatalf("err = %v", err)
	}
	var chain bool
	for _, c := range res.Checks {
		chain = chain || (c.Check == sevsnp.CheckCertChain && c.Status == check.Passed)
	}
	if !chain {
		t.Errorf("the VCEK from the collateral was not used: %+v", res.Checks)
	}
}

// TestSNPNeedsAMinimumTCB: AMD's CRL lists revoked keys only, so a
// policy that requires a known TCB status and sets no minimum SEV-SNP TCB
// refuses SEV-SNP evidence instead of calling it up to date (issue 22); a
// report below a set minimum is OutOfDate (sevsnp.TestTCBStatus).
func TestSNPNeedsAMinimumTCB(t *testing.T) {
	report, vcek := readFile(t, "sevsnp/report.bin"), readFile(t, "sevsnp/vcek.der")
	at := time.Date(2023, 7, 1, 0, 0, 0, 0, time.UTC)
	b := &attest.Bundle{Version: 1, TEE: attest.TEESEVSNP, Evidence: report, Keys: []attest.Key{workerEd}, CreatedAt: at.Unix()}
	coll := &attest.Collateral{Version: 1, TEE: attest.TEESEVSNP, SNP: &attest.SNPCollateral{ProductLine: "Milan", VCEK: vcek, CRL: selfSignedCRL(t)}}
	p := attest.DefaultPolicy(attest.NoAllowList{})
	_, err := clock(at).VerifyWithCollateral(context.Background(), b, coll, nil, nil, p)
	if check.Name(err) != attest.CheckTCBStatus || !strings.Contains(err.Error(), "no minimum SEV-SNP TCB") {
		t.Fatalf("default policy: %v, want a %s refusal naming min_snp_tcb", err, attest.CheckTCBStatus)
	}
	// With a minimum the status is judged (here the CRL is not AMD's).
	p.MinSNPTCB = 1
	if _, err := clock(at).VerifyWithCollateral(context.Background(), b, coll, nil, nil, p); check.Name(err) != tdx.CheckCollateral {
		t.Fatalf("with a minimum: %v", err)
	}
}

func TestDecodeCollateralRefusals(t *testing.T) {
	for _, raw := range []string{
		``, `{}`, `{"version":2,"tee":"tdx","fetched_at":0,"tdx":{}}`,
		`{"version":1,"tee":"tdx","fetched_at":0}`,
		`{"version":1,"tee":"tdx","fetched_at":0,"tdx":{"tcb_info":"AQ=="}}`,
		`{"version":1,"tee":"sevsnp","fetched_at":0,"sevsnp":{"product_line":"Milan"}}`,
		`{"version":1,"tee":"dev","fetched_at":0}`,
		`{"version":1,"tee":"sevsnp","fetched_at":0,"sevsnp":{"product_line":"Milan","crl":"AQ=="},"extra":1}`,
	} {
		if _, err := attest.DecodeCollateral([]byte(raw)); err == nil {
			t.Errorf("%s: decoded", raw)
		}
	}
}

// BenchmarkVerifyWithServedCollateral: what judging a TDX worker's TCB from
// the collateral it serves costs a client (the collateral's signatures are
// checked on every call).
func BenchmarkVerifyWithServedCollateral(b *testing.B) {
	f := tdxtest.New(b)
	var svn [16]byte
	at := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	bundle := f.Bundle([]attest.Key{workerEd, workerHP}, nil, at, svn)
	coll := f.ServedCollateral("UpToDate", svn, time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	pol := attest.DefaultPolicy(attest.NoAllowList{})
	v := &attest.Verifier{TDX: tdx.Verifier{Roots: f.Roots()}, Now: func() time.Time { return at }}
	for _, c := range []struct {
		name string
		coll *attest.Collateral
	}{{"no collateral", nil}, {"served collateral", coll}} {
		p := *pol
		p.RequireTCBStatus = c.coll != nil
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := v.VerifyWithCollateral(context.Background(), bundle, c.coll, nil, nil, &p); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
