package client

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cocoon-network/cocoon/bindings"
	"github.com/cocoon-network/cocoon/offchain/attest"
	"github.com/cocoon-network/cocoon/offchain/attest/collateral"
	"github.com/cocoon-network/cocoon/offchain/attest/collateral/collateraltest"
	"github.com/cocoon-network/cocoon/offchain/attest/tdx"
	"github.com/cocoon-network/cocoon/offchain/attest/tdx/tdxtest"
)

// serveBundle makes w serve b (and coll, when not nil) as a worker of TEE
// tee whose registered image is b's, allowed by Root.
func (w *fakeWorker) serveBundle(t *testing.T, r *fakeRoot, b *attest.Bundle, tee bindings.TEE, image [32]byte, coll *attest.Collateral) {
	t.Helper()
	raw, err := b.Encode()
	if err != nil {
		t.Fatal(err)
	}
	w.bundle, w.served = b, raw
	w.state.AttestationHash = sha256.Sum256(raw)
	w.state.TEE, w.state.Measurement = tee, image
	r.allow(tee, image)
	w.coll = nil
	if coll != nil {
		// Served as a (hostile) worker would, whether valid or not.
		if w.coll, err = json.Marshal(coll); err != nil {
			t.Fatal(err)
		}
	}
}

func (w *fakeWorker) keys() []attest.Key {
	return []attest.Key{{Name: attest.KeyEd25519, Public: w.sign.Public().(ed25519.PublicKey)}, {Name: attest.KeyHPKE, Public: w.hpke.Public().Marshal()}}
}

func refusal(t *testing.T, err error) *WorkerError {
	t.Helper()
	var we *WorkerError
	if !errors.As(err, &we) {
		t.Fatalf("VerifyWorker: %v, want a refusal", err)
	}
	return we
}

// TestDiscoverTDXTCBStatus: discovery judges a TDX worker's platform by the
// collateral the worker serves, and the default policy refuses out-of-date
// and revoked platforms and platforms whose status it cannot know.
func TestDiscoverTDXTCBStatus(t *testing.T) {
	f := tdxtest.New(t)
	var svn [16]byte
	svn[0] = 2
	at := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	from := at.AddDate(0, -1, 0)
	opts := Options{Verifier: &attest.Verifier{TDX: tdx.Verifier{Roots: f.Roots()}, Now: func() time.Time { return at.Add(time.Minute) }}}
	for _, c := range []struct {
		name      string
		coll      *attest.Collateral
		wantCheck string
		wantText  string
	}{
		{"up to date", f.ServedCollateral("UpToDate", svn, from), "", ""},
		{"out of date", f.ServedCollateral("OutOfDate", svn, from), attest.CheckTCBStatus, "TCB status OutOfDate is not accepted"},
		{"revoked", f.ServedCollateral("Revoked", svn, from), attest.CheckTCBStatus, "TCB status Revoked"},
		{"no collateral served", nil, attest.CheckTCBStatus, "GET /collateral: HTTP 404"},
		// The worker chooses what it serves: revocation and freshness are
		// judged whatever it leaves out (issue 22).
		{"CRLs left out", func() *attest.Collateral {
			c := f.ServedCollateral("UpToDate", svn, from)
			c.TDX.RootCACRL, c.TDX.PCKCRL, c.TDX.PCKCRLChain = nil, nil, nil
			return c
		}(), CheckCollateralFmt, "revocation could not be checked"},
		{"revoked PCK", func() *attest.Collateral {
			c := f.ServedCollateral("UpToDate", svn, from)
			f.CRLs(c.TDX, from.AddDate(1, 0, 0), f.PCK.SerialNumber)
			return c
		}(), tdx.CheckPCKRevocation, "revoked"},
		{"superseded TCB recovery", func() *attest.Collateral {
			f.EvaluationDataNumber = attest.DefaultMinTCBEvaluationDataNumber - 1
			defer func() { f.EvaluationDataNumber = 0 }()
			return f.ServedCollateral("UpToDate", svn, from)
		}(), attest.CheckTCBStatus, "older than the 17 the policy requires"},
	} {
		t.Run(c.name, func(t *testing.T) {
			net, r, w := tdxWorker(t, f, at, svn, c.coll)
			wk, err := New(net, opts).VerifyWorker(context.Background(), r.addr, w.addr, testModel)
			if c.wantCheck == "" {
				if err != nil {
					t.Fatal(err)
				}
				if wk.Insecure || wk.Attestation.TCBStatus != "UpToDate" || wk.TEE != bindings.TEETDX {
					t.Fatalf("worker %+v, attestation %+v", wk, wk.Attestation)
				}
				return
			}
			we := refusal(t, err)
			if we.Check != c.wantCheck || !strings.Contains(we.Error(), c.wantText) {
				t.Fatalf("refused by %s: %v; want %s saying %q", we.Check, we.Err, c.wantCheck, c.wantText)
			}
		})
	}

	// Garbage at /collateral is refused as such.
	net := newFakeNet(uint32(at.Unix()))
	r := newFakeRoot(t, net)
	w := newFakeWorker(t, r, "tdx", 1e9, 3e9)
	b := f.Bundle(w.keys(), nil, at, svn)
	q, _ := tdx.ParseQuote(b.Evidence)
	w.serveBundle(t, r, b, bindings.TEETDX, q.Body.ImageHash(), nil)
	w.coll = []byte(`{"version":1}`)
	_, err := New(net, opts).VerifyWorker(context.Background(), r.addr, w.addr, testModel)
	if we := refusal(t, err); we.Check != CheckCollateralFmt {
		t.Fatalf("refused by %s: %v", we.Check, we.Err)
	}
}

// TestDiscoverRefusesOutOfDateProductionPlatform: the production quote
// shipped with go-tdx-guest, with Intel's collateral for it, served by a
// worker. The platform is older than every TCB level Intel lists
// (NotSupported), and discovery refuses it before anything else.
func TestDiscoverRefusesOutOfDateProductionPlatform(t *testing.T) {
	quote, err := readAttestTestdata("tdx/quote_v4.dat")
	if err != nil {
		t.Fatal(err)
	}
	files, err := tdx.ReadCollateralDir("../attest/testdata/tdx/collateral", "")
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2023, 7, 1, 1, 0, 0, 0, time.UTC)
	net := newFakeNet(uint32(at.Unix()))
	r := newFakeRoot(t, net)
	r.testMode.Store(false)
	w := newFakeWorker(t, r, "old", 1e9, 3e9)
	q, err := tdx.ParseQuote(quote)
	if err != nil {
		t.Fatal(err)
	}
	b := &attest.Bundle{Version: 1, TEE: attest.TEETDX, Evidence: quote, Keys: attest.SortKeys(w.keys()), CreatedAt: at.Unix()}
	w.serveBundle(t, r, b, bindings.TEETDX, q.Body.ImageHash(), &attest.Collateral{Version: 1, TEE: attest.TEETDX, FetchedAt: at.Unix(), TDX: files})
	c := New(net, Options{Verifier: &attest.Verifier{Now: func() time.Time { return at }}})
	_, err = c.VerifyWorker(context.Background(), r.addr, w.addr, testModel)
	we := refusal(t, err)
	if we.Check != attest.CheckTCBStatus || !strings.Contains(we.Error(), "TCB status NotSupported is not accepted") {
		t.Fatalf("refused by %s: %v", we.Check, we.Err)
	}
	// Discover lists it among the refused, with the reason.
	d, err := c.Discover(context.Background(), r.addr, testModel)
	if err != nil || len(d.Workers) != 0 || len(d.Refused) != 1 || d.Refused[0].Check != attest.CheckTCBStatus {
		t.Fatalf("discovery %+v, %v", d, err)
	}
}

// TestDiscoverGPURequiredModel: a model the app's policy marks as needing
// GPUs is refused from a worker without GPU evidence; other models are not
// affected.
func TestDiscoverGPURequiredModel(t *testing.T) {
	net := newFakeNet(uint32(time.Now().Unix()))
	r := newFakeRoot(t, net)
	w := newFakeWorker(t, r, "cpu only", 1e9, 3e9)
	pol := attest.DefaultPolicy(nil)
	pol.Models = map[string]attest.ModelPolicy{testModel: {RequireGPU: true}}
	_, err := New(net, Options{Policy: pol}).VerifyWorker(context.Background(), r.addr, w.addr, testModel)
	if we := refusal(t, err); we.Check != attest.CheckGPURequired {
		t.Fatalf("refused by %s: %v", we.Check, we.Err)
	}
	pol.Models = map[string]attest.ModelPolicy{"another model": {RequireGPU: true}}
	if _, err := New(net, Options{Policy: pol}).VerifyWorker(context.Background(), r.addr, w.addr, testModel); err != nil {
		t.Fatalf("a model that needs no GPU: %v", err)
	}
	// Root carries the requirement (ModelInfo.requireGpu): it binds a
	// client whose own policy does not ask for GPUs (issue 22).
	r.gpu = true
	_, err = New(net, Options{}).VerifyWorker(context.Background(), r.addr, w.addr, testModel)
	if we := refusal(t, err); we.Check != attest.CheckGPURequired {
		t.Fatalf("Root requires GPUs for the model: refused by %s: %v", we.Check, we.Err)
	}
}

func readAttestTestdata(name string) ([]byte, error) {
	return os.ReadFile(filepath.Join("..", "attest", "testdata", name))
}

// TestDiscoverModelWeights: a worker must attest the weights Root pins for
// the model; a hardware-TEE worker that attests none is refused under the
// default policy, a dev one is not.
func TestDiscoverModelWeights(t *testing.T) {
	f := tdxtest.New(t)
	var svn [16]byte
	at := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	pinned := sha256.Sum256([]byte("the weights"))
	other := sha256.Sum256([]byte("other weights"))
	opts := Options{Verifier: &attest.Verifier{TDX: tdx.Verifier{Roots: f.Roots()}, Now: func() time.Time { return at.Add(time.Minute) }}}
	for _, c := range []struct {
		name      string
		pinned    [32]byte
		attested  []attest.ModelWeights
		wantCheck string
	}{
		{"attests the pinned weights", pinned, []attest.ModelWeights{{Model: testModel, Hash: pinned[:]}}, ""},
		{"attests other weights", pinned, []attest.ModelWeights{{Model: testModel, Hash: other[:]}}, attest.CheckWeights},
		{"attests no weights", pinned, nil, attest.CheckWeights},
		{"attests only another model's weights", pinned, []attest.ModelWeights{{Model: "another", Hash: pinned[:]}}, attest.CheckWeights},
		// Issue 22: without a pin any weights would pass, so a network not
		// in test mode does not serve the model from a TEE worker.
		{"Root pins no weights", [32]byte{}, []attest.ModelWeights{{Model: testModel, Hash: pinned[:]}}, attest.CheckWeights},
	} {
		t.Run(c.name, func(t *testing.T) {
			net := newFakeNet(uint32(at.Unix()))
			r := newFakeRoot(t, net)
			r.testMode.Store(false)
			w := newFakeWorker(t, r, "tdx", 1e9, 3e9)
			r.weights = c.pinned
			b := weightsBundle(f, w, at, svn, c.attested)
			q, _ := tdx.ParseQuote(b.Evidence)
			w.serveBundle(t, r, b, bindings.TEETDX, q.Body.ImageHash(), f.ServedCollateral("UpToDate", svn, at.AddDate(0, -1, 0)))
			_, err := New(net, opts).VerifyWorker(context.Background(), r.addr, w.addr, testModel)
			if c.wantCheck == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if we := refusal(t, err); we.Check != c.wantCheck {
				t.Fatalf("refused by %s: %v", we.Check, we.Err)
			}
		})
	}
	// Dev workers on a test network run engines without weights.
	net := newFakeNet(uint32(time.Now().Unix()))
	r := newFakeRoot(t, net)
	r.weights = pinned
	w := newFakeWorker(t, r, "dev", 1e9, 3e9)
	if _, err := New(net, Options{}).VerifyWorker(context.Background(), r.addr, w.addr, testModel); err != nil {
		t.Fatalf("dev worker without weights: %v", err)
	}
}

// weightsBundle is a TDX bundle of w's keys attesting weights: its fake
// quote is made for the bundle's report data, which commits to them.
func weightsBundle(f *tdxtest.Intel, w *fakeWorker, at time.Time, svn [16]byte, weights []attest.ModelWeights) *attest.Bundle {
	b := f.Bundle(w.keys(), nil, at, svn)
	b.Weights = weights
	rd, _ := b.ReportData()
	b.Evidence = f.Quote(4, tdxtest.BodyTD10, svn, rd, false)
	return b
}

// TestDiscoverFetchesItsOwnCollateral: with a collateral source of its own
// (Intel's PCS, here a fake one), discovery judges a TDX worker by the
// CRLs it fetched, not by those the worker chose to serve: a PCK that
// Intel revoked is refused though the worker serves a CRL without the
// revocation, and the worker's own collateral is not even needed.
func TestDiscoverFetchesItsOwnCollateral(t *testing.T) {
	f := tdxtest.New(t)
	var svn [16]byte
	svn[0] = 2
	at := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	from := at.AddDate(0, -1, 0)
	pcs := func(revoked ...*big.Int) *collateral.Cache {
		c := f.ServedCollateral("UpToDate", svn, from)
		f.CRLs(c.TDX, from.AddDate(1, 0, 0), revoked...)
		dir := t.TempDir()
		for name, b := range map[string][]byte{
			tdx.FileTCBInfo: c.TDX.TCBInfo, tdx.FileTCBInfoChain: c.TDX.TCBInfoChain,
			tdx.FileQEIdentity: c.TDX.QEIdentity, tdx.FileQEIdentityChain: c.TDX.QEIdentityChain,
			tdx.FilePCKCRL: c.TDX.PCKCRL, tdx.FilePCKCRLChain: c.TDX.PCKCRLChain, tdx.FileRootCACRL: c.TDX.RootCACRL,
		} {
			if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		srv := collateraltest.IntelPCS(t, dir)
		return &collateral.Cache{Fetcher: &collateral.Fetcher{IntelPCS: srv.URL, IntelRootCRL: srv.URL + "/IntelSGXRootCA.der",
			IntelRoots: f.Roots(), Now: func() time.Time { return at }}}
	}
	for _, c := range []struct {
		name      string
		source    *collateral.Cache
		served    *attest.Collateral
		wantCheck string
	}{
		{"Intel's CRL clean, nothing served", pcs(), nil, ""},
		{"Intel revoked the PCK, the worker serves a clean CRL", pcs(f.PCK.SerialNumber), f.ServedCollateral("UpToDate", svn, from), tdx.CheckPCKRevocation},
	} {
		t.Run(c.name, func(t *testing.T) {
			net, r, w := tdxWorker(t, f, at, svn, c.served)
			opts := Options{Collateral: c.source, Verifier: &attest.Verifier{TDX: tdx.Verifier{Roots: f.Roots()}, Now: func() time.Time { return at.Add(time.Minute) }}}
			wk, err := New(net, opts).VerifyWorker(context.Background(), r.addr, w.addr, testModel)
			if c.wantCheck == "" {
				if err != nil || wk.Attestation.TCBStatus != "UpToDate" {
					t.Fatalf("worker %+v, %v", wk, err)
				}
				return
			}
			if we := refusal(t, err); we.Check != c.wantCheck {
				t.Fatalf("refused by %s: %v; want %s", we.Check, we.Err, c.wantCheck)
			}
		})
	}
}

// tdxWorker is a TDX worker at time at, on a Root not in test mode that
// pins the weights it attests, serving coll (nil: nothing).
func tdxWorker(t *testing.T, f *tdxtest.Intel, at time.Time, svn [16]byte, coll *attest.Collateral) (*fakeNet, *fakeRoot, *fakeWorker) {
	t.Helper()
	net := newFakeNet(uint32(at.Unix()))
	r := newFakeRoot(t, net)
	r.testMode.Store(false)
	r.weights = sha256.Sum256([]byte("the weights"))
	w := newFakeWorker(t, r, "tdx", 1e9, 3e9)
	b := weightsBundle(f, w, at, svn, []attest.ModelWeights{{Model: testModel, Hash: r.weights[:]}})
	q, _ := tdx.ParseQuote(b.Evidence)
	w.serveBundle(t, r, b, bindings.TEETDX, q.Body.ImageHash(), coll)
	return net, r, w
}
