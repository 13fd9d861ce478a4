package gateway

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cocoon-network/cocoon/bindings"
	"github.com/cocoon-network/cocoon/offchain/attest"
	"github.com/cocoon-network/cocoon/offchain/attest/nvgpu"
	"github.com/cocoon-network/cocoon/offchain/attest/tdx"
	"github.com/cocoon-network/cocoon/offchain/attest/tdx/tdxtest"
	"github.com/cocoon-network/cocoon/offchain/client"
	"github.com/cocoon-network/cocoon/offchain/devnet"
	"github.com/cocoon-network/cocoon/offchain/operator"
	"github.com/cocoon-network/cocoon/offchain/owner"
	"github.com/cocoon-network/cocoon/offchain/seal"
	"github.com/cocoon-network/cocoon/offchain/wallet/wallettest"
)

// TestRootSourceFailsClosed: the gateway's discovery (RootSource on a
// devnet Root not in test mode, real Worker contracts) refuses each way a
// worker could talk its way around attestation (issue 22), and accepts the
// honest TDX worker beside them: the worker's collateral without CRLs, of
// a superseded Intel TCB recovery, and a GPU-only bundle.
func TestRootSourceFailsClosed(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	e, err := devnet.Open(ctx, devnet.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	go e.Run(ctx, 20*time.Millisecond)
	ton := func(n int64) *big.Int { return new(big.Int).Mul(big.NewInt(n), big.NewInt(1e9)) }
	fund := wallettest.Faucet(e)
	op := wallettest.Funded(t, ctx, fund, ton(10))
	o, _, err := operator.Deploy(ctx, e, op, bindings.RootParams{
		MinWorkerStake: ton(1), UnbondingDelay: bindings.MinUnbondingDelay(86400), ProtocolFeeBps: 500, Treasury: op.Address(),
		MinJobDeadline: 30, MaxJobDeadline: 86400, SlashBps: 1000,
	})
	if err != nil {
		t.Fatal(err)
	}
	weights := sha256.Sum256([]byte("the weights"))
	if _, err := o.Do(ctx, bindings.AddModel{ModelID: bindings.ModelID(testModel), Info: bindings.ModelInfo{WeightsHash: weights, MinPriceIn: big.NewInt(1e8), MinPriceOut: big.NewInt(1e8)}}); err != nil {
		t.Fatal(err)
	}

	f := tdxtest.New(t)
	var svn [16]byte
	svn[0] = 2
	now := time.Now()
	from := now.AddDate(0, -1, 0)
	// register serves b (and coll) at a fresh endpoint and registers a
	// Worker contract for it, its image allowed by Root.
	register := func(name string, b *attest.Bundle, tee bindings.TEE, image [32]byte, coll *attest.Collateral, sign ed25519.PrivateKey, hpke *seal.PublicKey) {
		t.Helper()
		raw, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rawColl, err := json.Marshal(coll)
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch {
			case r.URL.Path == "/evidence":
				_, _ = w.Write(raw)
			case r.URL.Path == "/collateral" && coll != nil:
				_, _ = w.Write(rawColl)
			default:
				http.NotFound(w, r)
			}
		}))
		t.Cleanup(srv.Close)
		if _, err := o.Do(ctx, bindings.AddMeasurement{TEE: tee, Measurement: image}); err != nil {
			t.Fatal(err)
		}
		ownerW := wallettest.Funded(t, ctx, fund, ton(10))
		reg := owner.Registration{Root: o.Root, Owner: ownerW.Address(), SignKey: sign.Public().(ed25519.PublicKey), Profile: bindings.WorkerProfile{
			HPKEKey: seal.Commitment(hpke), AttestationHash: sha256.Sum256(raw), TEE: tee, Measurement: image,
			Models:   bindings.Models{bindings.ModelID(testModel): {PriceIn: big.NewInt(1e9), PriceOut: big.NewInt(1e9)}},
			Endpoint: srv.URL,
		}}
		if v, err := owner.Register(ctx, e, ownerW, reg, ton(2)); err != nil || v.Status != bindings.WorkerActive {
			t.Fatalf("registering %s: %+v, %v", name, v, err)
		}
	}
	keysFor := func() (ed25519.PrivateKey, *seal.PublicKey, []attest.Key) {
		_, sign, _ := ed25519.GenerateKey(rand.Reader)
		hk, err := seal.GenerateKey(seal.SuiteX25519)
		if err != nil {
			t.Fatal(err)
		}
		return sign, hk.Public(), attest.SortKeys([]attest.Key{{Name: attest.KeyEd25519, Public: sign.Public().(ed25519.PublicKey)}, {Name: attest.KeyHPKE, Public: hk.Public().Marshal()}})
	}
	tdxWorker := func(name string, coll *attest.Collateral) {
		sign, hpke, keys := keysFor()
		b := f.Bundle(keys, nil, now, svn)
		b.Weights = []attest.ModelWeights{{Model: testModel, Hash: weights[:]}}
		rd, _ := b.ReportData()
		b.Evidence = f.Quote(4, tdxtest.BodyTD10, svn, rd, false)
		q, _ := tdx.ParseQuote(b.Evidence)
		register(name, b, bindings.TEETDX, q.Body.ImageHash(), coll, sign, hpke)
	}
	tdxWorker("honest", f.ServedCollateral("UpToDate", svn, from))
	noCRLs := f.ServedCollateral("UpToDate", svn, from)
	noCRLs.TDX.RootCACRL, noCRLs.TDX.PCKCRL, noCRLs.TDX.PCKCRLChain = nil, nil, nil
	tdxWorker("no CRLs", noCRLs)
	f.EvaluationDataNumber = attest.DefaultMinTCBEvaluationDataNumber - 1
	tdxWorker("superseded recovery", f.ServedCollateral("UpToDate", svn, from))
	f.EvaluationDataNumber = 0

	// A GPU-only bundle: NVIDIA's real report, no CPU TEE.
	gpuReport, err := os.ReadFile(filepath.Join("..", "attest", "testdata", "nvidia", "report.bin"))
	if err != nil {
		t.Fatal(err)
	}
	chainPEM, err := os.ReadFile(filepath.Join("..", "attest", "testdata", "nvidia", "cert_chain.pem"))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := nvgpu.ParseReport(gpuReport)
	if err != nil {
		t.Fatal(err)
	}
	sign, hpke, keys := keysFor()
	gpuOnly := &attest.Bundle{Version: 1, TEE: attest.TEENVIDIA, Evidence: gpuReport, Certs: []attest.Blob{{Name: attest.CertGPUChain, Data: chainPEM}}, Keys: keys, CreatedAt: now.Unix()}
	register("GPU only", gpuOnly, bindings.TEENvidiaCC, rep.MeasurementHash(), nil, sign, hpke)

	src := &RootSource{Net: e, Root: o.Root, Options: client.DiscoverOptions{Verifier: &attest.Verifier{TDX: tdx.Verifier{Roots: f.Roots()}}}}
	workers, testMode, err := src.Discover(ctx, testModel)
	if err != nil {
		t.Fatal(err)
	}
	if testMode || len(workers) != 1 || workers[0].TEE != bindings.TEETDX || workers[0].Attestation.TCBStatus != "UpToDate" {
		t.Fatalf("discovered %d workers (test mode %v), want only the honest TDX one: %+v", len(workers), testMode, workers)
	}
	// The refusals, by check, as the gateway's discovery logs them.
	d, err := client.Discover(ctx, e, o.Root, testModel, src.Options)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range d.Refused {
		got = append(got, r.Check)
	}
	want := map[string]bool{client.CheckCollateralFmt: true, attest.CheckTCBStatus: true, attest.CheckTestMode: true}
	if len(got) != 3 {
		t.Fatalf("refused by %v, want %v", got, want)
	}
	for _, c := range got {
		if !want[c] {
			t.Errorf("refused by %v, want one each of %v", got, want)
		}
	}
	for _, r := range d.Refused {
		if r.Check == attest.CheckTestMode && !strings.Contains(r.Err.Error(), "GPU-only bundle") {
			t.Errorf("GPU-only refusal: %v", r.Err)
		}
	}
}
