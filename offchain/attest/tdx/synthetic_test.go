package tdx_test

import (
	"context"
	"crypto/x509"
	"math/big"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/cocoon-network/cocoon/offchain/attest/check"
	"github.com/cocoon-network/cocoon/offchain/attest/tdx"
	"github.com/cocoon-network/cocoon/offchain/attest/tdx/tdxtest"
	"github.com/cocoon-network/cocoon/offchain/attest/tsm/tsmtest"
)

func verifyRaw(t *testing.T, v *tdx.Verifier, raw []byte, now time.Time) (*tdx.Result, *check.Log, error) {
	t.Helper()
	q, err := tdx.ParseQuote(raw)
	if err != nil {
		return nil, nil, &check.Error{Check: "parse", Err: err}
	}
	log := &check.Log{}
	r, err := v.Verify(context.Background(), q, now, log)
	return r, log, err
}

func TestVerifySyntheticQuotes(t *testing.T) {
	f := tdxtest.New(t)
	now := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	issue, next := now.Add(-24*time.Hour), now.Add(24*time.Hour)
	roots := f.Roots()
	var tdxSVN [16]byte
	tdxSVN[0], tdxSVN[2] = 3, 5
	lower := func(b [16]byte) [16]byte {
		for i := range b {
			if b[i] > 0 {
				b[i]--
			}
		}
		return b
	}
	above := func(b [16]byte) [16]byte {
		for i := range b {
			b[i]++
		}
		return b
	}
	var rd [64]byte
	copy(rd[:], "report data")
	for _, c := range []struct {
		name          string
		version, body uint16
		svn           [16]byte
		levels        []tdxtest.Level
		qeStatus      string
		revoke        bool
		wantCheck     string
		wantStatus    string
	}{
		{"v4 up to date", 4, 2, tdxSVN, []tdxtest.Level{{SGX: f.CPUSVN, TDX: tdxSVN, PCESVN: f.PCESVN, Status: "UpToDate"}}, "UpToDate", false, "", "UpToDate"},
		{"v5 TD1.0 up to date", 5, 2, tdxSVN, []tdxtest.Level{{SGX: f.CPUSVN, TDX: tdxSVN, PCESVN: f.PCESVN, Status: "UpToDate"}}, "UpToDate", false, "", "UpToDate"},
		{"v5 TD1.5 second level", 5, 3, tdxSVN, []tdxtest.Level{
			{SGX: above(f.CPUSVN), TDX: tdxSVN, PCESVN: f.PCESVN, Status: "UpToDate"},
			{SGX: lower(f.CPUSVN), TDX: lower(tdxSVN), PCESVN: f.PCESVN, Status: "SWHardeningNeeded"},
		}, "UpToDate", false, "", "SWHardeningNeeded"},
		{"pcesvn too low for first level", 4, 2, tdxSVN, []tdxtest.Level{
			{SGX: f.CPUSVN, TDX: tdxSVN, PCESVN: f.PCESVN + 1, Status: "UpToDate"},
			{SGX: f.CPUSVN, TDX: tdxSVN, PCESVN: f.PCESVN - 1, Status: "OutOfDate"},
		}, "UpToDate", false, "", "OutOfDate"},
		{"QE out of date wins", 4, 2, tdxSVN, []tdxtest.Level{{SGX: f.CPUSVN, TDX: tdxSVN, PCESVN: f.PCESVN, Status: "UpToDate"}}, "OutOfDate", false, "", "OutOfDate"},
		{"no level", 5, 3, tdxSVN, []tdxtest.Level{{SGX: above(f.CPUSVN), TDX: tdxSVN, PCESVN: f.PCESVN, Status: "UpToDate"}}, "UpToDate", false, "", tdx.StatusNotSupported},
		{"module identity missing", 4, 2, [16]byte{3, 1, 5}, []tdxtest.Level{{SGX: f.CPUSVN, TDX: tdxSVN, PCESVN: f.PCESVN, Status: "UpToDate"}}, "UpToDate", false, tdx.CheckTDXModule, ""},
		{"revoked PCK", 5, 3, tdxSVN, []tdxtest.Level{{SGX: f.CPUSVN, TDX: tdxSVN, PCESVN: f.PCESVN, Status: "UpToDate"}}, "UpToDate", true, tdx.CheckPCKRevocation, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			files := f.Collateral(c.levels, c.qeStatus, issue, next)
			var revoked []*big.Int
			if c.revoke {
				revoked = append(revoked, f.PCK.SerialNumber)
			}
			f.CRLs(files, next, revoked...)
			v := &tdx.Verifier{Roots: roots, Collateral: tdxtest.Source{C: f.MustCollateral(files)}}
			r, _, err := verifyRaw(t, v, f.Quote(c.version, c.body, c.svn, rd, false), now)
			if c.wantCheck != "" {
				if check.Name(err) != c.wantCheck {
					t.Fatalf("err = %v, want check %s", err, c.wantCheck)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.TCB.Status != c.wantStatus {
				t.Errorf("status %s, want %s (%+v)", r.TCB.Status, c.wantStatus, r.TCB)
			}
			if r.Quote.Body.ReportData != rd || r.Quote.Version != c.version || r.Quote.BodyType != c.body {
				t.Errorf("quote fields lost")
			}
		})
	}
}

func TestCollateralRefusals(t *testing.T) {
	f := tdxtest.New(t)
	now := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	roots := f.Roots()
	lv := []tdxtest.Level{{SGX: f.CPUSVN, PCESVN: f.PCESVN, Status: "UpToDate"}}
	good := func() *tdx.CollateralFiles {
		return f.Collateral(lv, "UpToDate", now.Add(-time.Hour), now.Add(time.Hour))
	}
	for _, c := range []struct {
		name  string
		edit  func(*tdx.CollateralFiles)
		roots []*x509.Certificate
		want  string
	}{
		{"tcb info body edited", func(c *tdx.CollateralFiles) {
			c.TCBInfo = []byte(strings.Replace(string(c.TCBInfo), `"tcbEvaluationDataNumber":17`, `"tcbEvaluationDataNumber":18`, 1))
		}, roots, "signature does not verify"},
		{"qe identity signature edited", func(c *tdx.CollateralFiles) {
			i := strings.Index(string(c.QEIdentity), `"signature":"`) + 14
			c.QEIdentity[i] ^= 1
		}, roots, "qe identity"},
		{"signer from another root", func(*tdx.CollateralFiles) {}, tdx.IntelRoots(), "issuer chain"},
		{"no issuer chain", func(c *tdx.CollateralFiles) { c.TCBInfoChain = nil }, roots, "issuer chain"},
		{"PCK CRL not from the chain", func(c *tdx.CollateralFiles) {
			f.CRLs(c, now.Add(time.Hour))
			c.PCKCRLChain = tdxtest.PEM(f.TCBSigner, f.Root)
		}, roots, "PCK CRL"},
	} {
		t.Run(c.name, func(t *testing.T) {
			files := good()
			c.edit(files)
			_, err := tdx.ParseCollateral(files, c.roots)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("err = %v, want %q", err, c.want)
			}
		})
	}
	// Time-dependent refusals happen per quote, naming the collateral check.
	files := f.Collateral(lv, "UpToDate", now.Add(-2*time.Hour), now.Add(-time.Hour))
	f.CRLs(files, now.Add(time.Hour))
	v := &tdx.Verifier{Roots: roots, Collateral: tdxtest.Source{C: f.MustCollateral(files)}}
	if _, _, err := verifyRaw(t, v, f.Quote(4, 2, [16]byte{}, [64]byte{}, false), now); check.Name(err) != tdx.CheckCollateral {
		t.Errorf("expired TCB info: %v", err)
	}
	// Revocation fails closed: collateral without either CRL (the worker
	// chose to leave it out) is refused, not taken as "not revoked".
	for _, drop := range []struct {
		name string
		edit func(*tdx.CollateralFiles)
	}{
		{"no CRLs", func(c *tdx.CollateralFiles) { c.RootCACRL, c.PCKCRL, c.PCKCRLChain = nil, nil, nil }},
		{"no root CA CRL", func(c *tdx.CollateralFiles) { c.RootCACRL = nil }},
		{"no PCK CRL", func(c *tdx.CollateralFiles) { c.PCKCRL, c.PCKCRLChain = nil, nil }},
	} {
		files = good()
		drop.edit(files)
		v = &tdx.Verifier{Roots: roots, Collateral: tdxtest.Source{C: f.MustCollateral(files)}}
		if _, _, err := verifyRaw(t, v, f.Quote(4, 2, [16]byte{}, [64]byte{}, false), now); check.Name(err) != tdx.CheckPCKRevocation || !strings.Contains(err.Error(), "cannot be checked") {
			t.Errorf("%s: %v, want a %s failure", drop.name, err, tdx.CheckPCKRevocation)
		}
	}
	files = good()
	f.CRLs(files, now.Add(-time.Minute))
	v = &tdx.Verifier{Roots: roots, Collateral: tdxtest.Source{C: f.MustCollateral(files)}}
	if _, _, err := verifyRaw(t, v, f.Quote(4, 2, [16]byte{}, [64]byte{}, false), now); check.Name(err) != tdx.CheckPCKRevocation {
		t.Errorf("expired CRL: %v", err)
	}
}

func TestGenerateThroughConfigfsTSM(t *testing.T) {
	f := tdxtest.New(t)
	var svn [16]byte
	k := &tsmtest.Kernel{Provider: tdx.ProviderName, Quote: func(in []byte) []byte {
		var rd [64]byte
		copy(rd[:], in)
		// Pad like some providers do; Generate must strip it.
		return append(f.Quote(4, tdxtest.BodyTD10, svn, rd, false), make([]byte, 100)...)
	}}
	var rd [64]byte
	copy(rd[:], "keys and nonce")
	q, err := tdx.Generate(context.Background(), k.Client(t), rd)
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := tdx.ParseQuote(q)
	if err != nil || parsed.Trailing != 0 || parsed.Body.ReportData != rd {
		t.Fatalf("generated quote: %v, trailing %d", err, parsed.Trailing)
	}
	if _, _, err := verifyRaw(t, f.Verifier(svn), q, time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)); err != nil {
		t.Errorf("generated quote does not verify: %v", err)
	}

	for _, c := range []struct {
		name string
		k    *tsmtest.Kernel
		want string
	}{
		{"SEV guest", &tsmtest.Kernel{Provider: "sev_guest", Quote: k.Quote}, "provider"},
		{"other report data", &tsmtest.Kernel{Provider: tdx.ProviderName, Quote: func([]byte) []byte {
			return f.Quote(4, tdxtest.BodyTD10, svn, [64]byte{1}, false)
		}}, "report data"},
		{"garbage", &tsmtest.Kernel{Provider: tdx.ProviderName, Quote: func([]byte) []byte { return []byte("nope") }}, "not a TDX quote"},
	} {
		if _, err := tdx.Generate(context.Background(), c.k.Client(t), rd); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want %q", c.name, err, c.want)
		}
	}
}

func TestForeignRootRefusesProductionQuote(t *testing.T) {
	raw, err := os.ReadFile("../testdata/tdx/quote_v4.dat")
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = verifyRaw(t, &tdx.Verifier{Roots: tdxtest.New(t).Roots()}, raw, time.Date(2023, 7, 1, 0, 0, 0, 0, time.UTC))
	if check.Name(err) != tdx.CheckPCKChain {
		t.Errorf("err = %v", err)
	}
}
