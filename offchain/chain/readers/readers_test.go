package readers_test

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/xssnick/tonutils-go/address"
	"github.com/xssnick/tonutils-go/tvm/cell"

	"github.com/cocoon-network/cocoon/bindings"
	"github.com/cocoon-network/cocoon/offchain/chain"
	"github.com/cocoon-network/cocoon/offchain/chain/readers"
	"github.com/cocoon-network/cocoon/offchain/contracttest"
)

// TestReadersOnDevnet reads a deployed Root back, and checks that a Worker
// or Job that does not exist reads as not deployed while a get-method that
// fails on a live account stays an ordinary error.
func TestReadersOnDevnet(t *testing.T) {
	ctx := context.Background()
	env, err := contracttest.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer env.Close()
	owner, err := env.NewWallet(ctx, "owner", contracttest.TON("10"))
	if err != nil {
		t.Fatal(err)
	}
	params := bindings.RootParams{MinWorkerStake: big.NewInt(1e9), UnbondingDelay: bindings.MinUnbondingDelay(3600), ProtocolFeeBps: 100, Treasury: owner.Address, MinJobDeadline: 30, MaxJobDeadline: 3600, SlashBps: 100}
	rootAddr, _, err := env.DeployRoot(ctx, owner, params)
	if err != nil {
		t.Fatal(err)
	}
	root := readers.NewRoot(env.Chain, rootAddr)
	got, err := root.GetRootParams(ctx)
	if err != nil {
		t.Fatalf("params: %v", err)
	}
	if diff := cmp.Diff(params, *got, cmp.Comparer(func(a, b *big.Int) bool { return a.Cmp(b) == 0 }), cmp.Comparer(func(a, b *address.Address) bool { return a.Equals(b) })); diff != "" {
		t.Errorf("params read back (-deployed +read):\n%s", diff)
	}
	if o, err := root.Owner(ctx); err != nil || !o.Equals(owner.Address) {
		t.Errorf("owner = %v, %v; want %s", o, err, owner.Address)
	}

	missingWorker := bindings.WorkerAddress(rootAddr, owner.Address, [32]byte{1})
	wd, err := readers.NewWorker(env.Chain, missingWorker).WorkerData(ctx)
	if err != nil || wd.Deployed || wd.AccountStatus == chain.StatusActive {
		t.Errorf("worker_data of a missing worker = %+v, %v; want not deployed, no error", wd, err)
	}
	_, err = readers.NewWorker(env.Chain, missingWorker).WorkerState(ctx)
	var nd *readers.NotDeployedError
	if !errors.Is(err, readers.ErrNotDeployed) || !errors.As(err, &nd) || !nd.Address.Equals(missingWorker) {
		t.Errorf("worker_state of a missing worker: %v; want a NotDeployedError for %s", err, missingWorker)
	}
	jd, err := readers.NewJob(env.Chain, bindings.JobAddress(rootAddr, owner.Address, 7)).JobData(ctx)
	if err != nil || jd.Deployed {
		t.Errorf("job_data of a missing job = %+v, %v; want not deployed, no error", jd, err)
	}

	// Root is active but has no worker_data: that is a failure to report,
	// not a missing contract.
	if _, err := readers.NewWorker(env.Chain, rootAddr).WorkerData(ctx); err == nil || errors.Is(err, readers.ErrNotDeployed) {
		t.Errorf("worker_data on Root: %v; want an error that is not ErrNotDeployed", err)
	}
}

// TestViewsOnDevnet sets every field a get-method reports through the
// contracts themselves (Root's params and allow-lists, a registered Worker
// that is paid for one job, fails one and is slashed for one, then
// unbonds; an accepted Job; an announced change) and reads each view back:
// a Go view out of step with its Tolk struct would misplace a value and
// fail here, field by field.
func TestViewsOnDevnet(t *testing.T) {
	ctx := context.Background()
	env, err := contracttest.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer env.Close()
	wallet := func(name, ton string) *contracttest.Wallet {
		w, err := env.NewWallet(ctx, name, contracttest.TON(ton))
		if err != nil {
			t.Fatal(err)
		}
		return w
	}
	owner, treasury, client := wallet("owner", "100"), wallet("treasury", "1"), wallet("client", "100")
	succeed := func(what string, tr *contracttest.Trace, err error) {
		t.Helper()
		if err == nil {
			err = contracttest.Succeeded(tr)
		}
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	send := func(from *contracttest.Wallet, to *address.Address, m bindings.Message) {
		t.Helper()
		tr, err := from.Send(ctx, contracttest.Message(to, contracttest.TON("0.05"), contracttest.Body(m)))
		succeed(fmt.Sprintf("sending %T", m), tr, err)
	}
	hash := func(s string) [32]byte { return sha256.Sum256([]byte(s)) }

	modelID, measurement := bindings.ModelID("views-model"), hash("tdx image")
	info := bindings.ModelInfo{WeightsHash: hash("weights"), MinPriceIn: big.NewInt(1000), MinPriceOut: big.NewInt(3000)}
	params := bindings.RootParams{MinWorkerStake: contracttest.TON("2"), UnbondingDelay: bindings.MinUnbondingDelay(3600), ProtocolFeeBps: 250, Treasury: treasury.Address,
		MinJobDeadline: 60, MaxJobDeadline: 3600, SlashBps: 1000}
	rootAddr, _, err := env.DeployRoot(ctx, owner, params,
		bindings.AddMeasurement{QueryID: 1, TEE: bindings.TEETDX, Measurement: measurement},
		bindings.AddModel{QueryID: 2, ModelID: modelID, Info: info})
	if err != nil {
		t.Fatal(err)
	}
	root := readers.NewRoot(env.Chain, rootAddr)
	registeredAt, err := env.Now(ctx)
	if err != nil {
		t.Fatal(err)
	}

	key := contracttest.KeyFor("views worker")
	workerKey := bindings.PublicKey256(key.Public().(ed25519.PublicKey))
	price := bindings.ModelPrice{PriceIn: big.NewInt(1500), PriceOut: big.NewInt(4500)}
	profile := bindings.WorkerProfile{HPKEKey: hash("hpke"), AttestationHash: hash("evidence"), TEE: bindings.TEETDX, Measurement: measurement,
		Models: bindings.Models{modelID: price}, Endpoint: "https://views.workers.example:8443/" + strings.Repeat("long/", 40)}
	stake := contracttest.TON("3")
	workerAddr, _, err := env.RegisterWorker(ctx, owner, rootAddr, key, profile, stake)
	if err != nil {
		t.Fatal(err)
	}
	worker := readers.NewWorker(env.Chain, workerAddr)
	agreed, err := root.AgreedTermsHash(ctx)
	if err != nil {
		t.Fatal(err)
	}

	newJob := func(nonce uint64) (*readers.Job, bindings.JobTerms) {
		t.Helper()
		terms := bindings.JobTerms{ModelID: modelID, Worker: workerAddr, PriceIn: price.PriceIn, PriceOut: price.PriceOut, MaxIn: 2048, MaxOut: 512,
			Deadline: registeredAt + 600, ClientHPKEKey: hash(fmt.Sprint("client hpke ", nonce)), RequestHash: hash(fmt.Sprint("request ", nonce)),
			Callback: client.Address, IsPublic: true}
		addr, create, err := env.JobCreateMessage(rootAddr, client, nonce, terms, nil, new(big.Int).Add(bindings.MinEscrow(terms), contracttest.TON("0.1")))
		if err != nil {
			t.Fatal(err)
		}
		tr, err := client.Send(ctx, create)
		succeed(fmt.Sprint("creating job ", nonce), tr, err)
		return readers.NewJob(env.Chain, addr), terms
	}
	receipt := func(job *readers.Job, terms bindings.JobTerms, in, out uint32, failed bool) {
		t.Helper()
		body, err := bindings.SignReceipt(key, bindings.Receipt{Job: job.Address, RequestHash: terms.RequestHash, ResultHash: hash("result"),
			InputTokens: in, OutputTokens: out, Failed: failed})
		if err != nil {
			t.Fatal(err)
		}
		msg, err := bindings.ExternalMessage(job.Address, body)
		if err != nil {
			t.Fatal(err)
		}
		tr, err := env.SendExternal(ctx, msg)
		succeed("sending a receipt", tr, err)
	}
	paid, paidTerms := newJob(42)
	var more []*readers.Job // paid twice more, then failed twice
	var moreTerms []bindings.JobTerms
	for nonce := uint64(43); nonce < 47; nonce++ {
		j, terms := newJob(nonce)
		more, moreTerms = append(more, j), append(moreTerms, terms)
	}
	expired, expiredTerms := newJob(47)

	// A change announced after the registration: new params and three new
	// codes (announced only: they never run).
	code := func(n uint64) *cell.Cell { return cell.BeginCell().MustStoreUInt(n, 16).EndCell() }
	newRootCode, newWorkerCode, newJobCode := code(1), code(2), code(3)
	send(owner, rootAddr, bindings.SetParams{QueryID: 3, Params: params})
	send(owner, rootAddr, bindings.UpgradeCode{QueryID: 4, RootCode: newRootCode, WorkerCode: newWorkerCode, JobCode: newJobCode})

	opts := cmp.Options{
		cmp.Comparer(func(a, b *big.Int) bool { return a.Cmp(b) == 0 }),
		cmp.Comparer(func(a, b *address.Address) bool {
			return (a == nil && b == nil) || (a != nil && b != nil && a.Equals(b))
		}),
	}
	check := func(name string, want, got any, err error) {
		t.Helper()
		if err != nil {
			t.Errorf("%s: %v", name, err)
			return
		}
		if diff := cmp.Diff(want, got, opts); diff != "" {
			t.Errorf("%s (-set by the test +read):\n%s", name, diff)
		}
	}
	gotParams, err := root.GetRootParams(ctx)
	check("params", &params, gotParams, err)
	gotInfo, found, err := root.Model(ctx, modelID)
	check("model", &info, gotInfo, err)
	if _, found2, err := root.Model(ctx, hash("no such model")); err != nil || !found || found2 {
		t.Errorf("model found = %v for the allowed one, %v for another (%v); want true, false", found, found2, err)
	}
	wh, jh, err := root.ChildCodeHashes(ctx)
	check("child_code_hashes", [][32]byte{[32]byte(env.Codes.Worker.Hash()), [32]byte(env.Codes.Job.Hash())}, [][32]byte{wh, jh}, err)
	gotChange, err := root.PendingChange(ctx)
	check("pending_change", &readers.PendingChangeView{Announced: true, EffectiveAt: registeredAt + bindings.ChangeTimelock, Params: true,
		RootCode: [32]byte(newRootCode.Hash()), WorkerCode: [32]byte(newWorkerCode.Hash()), JobCode: [32]byte(newJobCode.Hash())}, gotChange, err)

	gotData, err := worker.WorkerData(ctx)
	check("worker_data", &readers.WorkerDataView{Deployed: true, AccountStatus: chain.StatusActive, Root: rootAddr, Owner: owner.Address,
		WorkerKey: workerKey, Status: bindings.WorkerActive}, gotData, err)
	gotReg, err := worker.Registration(ctx)
	check("registration", &readers.RegistrationView{ValidUntil: registeredAt + bindings.RegistrationTTL, Agreed: agreed}, gotReg, err)
	gotPrice, found, err := worker.ModelPrice(ctx, modelID)
	check("model_price", &price, gotPrice, err)
	if _, found2, err := worker.ModelPrice(ctx, hash("no such model")); err != nil || !found || found2 {
		t.Errorf("model_price found = %v for the served one, %v for another (%v); want true, false", found, found2, err)
	}

	gotJob, err := paid.JobData(ctx)
	check("job_data", &readers.JobDataView{Deployed: true, AccountStatus: chain.StatusActive, Root: rootAddr, Client: client.Address,
		Nonce: 42, Status: bindings.JobAccepted}, gotJob, err)
	gotTerms, err := paid.JobTerms(ctx)
	check("job_terms", &readers.JobTermsView{ModelID: paidTerms.ModelID, Worker: paidTerms.Worker, PriceIn: paidTerms.PriceIn,
		PriceOut: paidTerms.PriceOut, MaxIn: paidTerms.MaxIn, MaxOut: paidTerms.MaxOut, Deadline: paidTerms.Deadline,
		ClientHPKEKey: paidTerms.ClientHPKEKey, RequestHash: paidTerms.RequestHash, Callback: paidTerms.Callback, IsPublic: paidTerms.IsPublic,
		WorkerKey: workerKey, FeeBps: params.ProtocolFeeBps, CreatedAt: registeredAt}, gotTerms, err)
	if err == nil {
		check("job_terms' Terms()", paidTerms, gotTerms.Terms(), nil)
	}

	// The worker's record: three jobs paid, two failed, one refunded after
	// its deadline (a slash); the pay withdrawn (its total stays), then
	// unbonding. Every counter ends up different from the others.
	receipt(paid, paidTerms, 1000, 200, false)
	for i, j := range more {
		receipt(j, moreTerms[i], 1000, 200, i >= 2)
	}
	if err := env.AdvanceTime(ctx, 700*time.Second); err != nil {
		t.Fatal(err)
	}
	send(client, expired.Address, bindings.Refund{QueryID: 5})
	unbondingSince, err := env.Now(ctx)
	if err != nil {
		t.Fatal(err)
	}
	send(owner, workerAddr, bindings.WithdrawEarnings{QueryID: 6})
	send(owner, workerAddr, bindings.RequestUnbond{QueryID: 7})
	charge := bindings.Charge(price.PriceIn, price.PriceOut, 1000, 200)
	pay := new(big.Int).Sub(charge, bindings.Fee(charge, params.ProtocolFeeBps))
	totalEarned := new(big.Int).Mul(pay, big.NewInt(3))
	slashed, _, _ := bindings.SlashSplit(stake, params.SlashBps, bindings.MaxCost(expiredTerms))
	gotState, err := worker.WorkerState(ctx)
	check("worker_state", &readers.WorkerStateView{Stake: new(big.Int).Sub(stake, slashed), Earnings: new(big.Int), UnbondingSince: unbondingSince,
		HPKEKey: profile.HPKEKey, AttestationHash: profile.AttestationHash, TEE: profile.TEE, Measurement: profile.Measurement,
		Endpoint: profile.Endpoint, JobsCompleted: 3, JobsFailed: 2, JobsSlashed: 1, TotalEarned: totalEarned}, gotState, err)
}
