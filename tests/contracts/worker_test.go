package contracts_test

import (
	"bytes"
	"errors"
	"fmt"
	"math/big"
	"testing"
	"time"

	"github.com/xssnick/tonutils-go/tvm/cell"

	"github.com/cocoon-network/cocoon/bindings"
	"github.com/cocoon-network/cocoon/offchain/chain"
	"github.com/cocoon-network/cocoon/offchain/chain/readers"
	"github.com/cocoon-network/cocoon/offchain/client"
	bt "github.com/cocoon-network/cocoon/offchain/contracttest"
)

func TestWorkerRegisterActivates(t *testing.T) {
	f := newFixture(t)
	miner := f.wallet("miner", "100")
	w := f.newWorker("w1", miner)
	p := profile("w1")
	stake := bt.TON("20")
	tr := f.register(w, p, new(big.Int).Add(stake, big.NewInt(bindings.WorkerRegisterFee)))
	f.noFailures(tr)

	reg, sent := one[bindings.RegisterWorker](f, tr)
	// Sent with mode 0: the forwarding fee comes out of REGISTER_FORWARD.
	if !sent.To.Equals(f.root) || !nearBelow(sent.Value, big.NewInt(bindings.RegisterForward), bt.TON("0.002")) {
		t.Errorf("RegisterWorker to %s with %s, want Root with REGISTER_FORWARD less forwarding", sent.To, sent.Value)
	}
	if !reg.Owner.Equals(miner.Address) || reg.WorkerKey != w.pub() || reg.Stake.Cmp(stake) != 0 ||
		reg.TEE != p.TEE || reg.Measurement != p.Measurement || len(reg.Models) != 1 {
		t.Errorf("RegisterWorker %+v", reg)
	}
	act, sent := one[bindings.Activate](f, tr)
	if !sent.To.Equals(w.addr) {
		t.Errorf("Activate sent to %s", sent.To)
	}
	s := act.Snapshot
	if s.MinStake.Cmp(minStake) != 0 || s.UnbondingDelay != unbondingDelay || s.SlashBps != slashBps || s.FeeBps != feeBps ||
		!s.Treasury.Equals(f.treasury.Address) || s.MinJobDeadline != minDeadline || s.MaxJobDeadline != maxDeadline ||
		!bytes.Equal(s.JobCode.Hash(), f.env.Codes.Job.Hash()) {
		t.Errorf("snapshot %+v", s)
	}

	// The event a client discovers the worker by.
	evs := tr.Events(f.root)
	if len(evs) != 1 {
		t.Fatalf("Root logged %d events, want 1", len(evs))
	}
	ev, ok := evs[0].(*bindings.WorkerActivatedEvent)
	if !ok || !ev.Worker.Equals(w.addr) || ev.WorkerKey != w.pub() || ev.TEE != bindings.TEETDX || ev.Measurement != tdxMeas || ev.Version != f.version() {
		t.Errorf("event %+v", evs[0])
	}
	read, err := client.ReadRootEvents(f.ctx, f.env.Chain, f.root, 10)
	if err != nil || len(read) != 1 {
		t.Fatalf("ReadRootEvents: %d events, %v", len(read), err)
	}
	if e, ok := read[0].Event.(*bindings.WorkerActivatedEvent); !ok || !e.Worker.Equals(w.addr) {
		t.Errorf("ReadRootEvents gave %+v", read[0].Event)
	}

	d, err := w.c.WorkerData(f.ctx)
	if err != nil || !d.Deployed || !d.Root.Equals(f.root) || !d.Owner.Equals(miner.Address) || d.WorkerKey != w.pub() || d.Status != bindings.WorkerActive {
		t.Fatalf("worker_data %+v %v", d, err)
	}
	st := f.workerState(w)
	if st.Stake.Cmp(stake) != 0 || st.Earnings.Sign() != 0 || st.UnbondingSince != 0 || st.HPKEKey != p.HPKEKey ||
		st.AttestationHash != p.AttestationHash || st.TEE != p.TEE || st.Measurement != p.Measurement || st.Endpoint != p.Endpoint ||
		st.JobsCompleted != 0 || st.JobsFailed != 0 || st.JobsSlashed != 0 || st.TotalEarned.Sign() != 0 {
		t.Errorf("worker_state %+v", st)
	}
	models, err := w.c.Models(f.ctx)
	if err != nil || len(models) != 1 || models[modelID].PriceIn.Cmp(priceIn) != 0 || models[modelID].PriceOut.Cmp(priceOut) != 0 {
		t.Errorf("models() = %v, %v", models, err)
	}
	if mp, found, err := w.c.ModelPrice(f.ctx, modelID); err != nil || !found || mp.PriceOut.Cmp(priceOut) != 0 {
		t.Errorf("model_price = %+v %v %v", mp, found, err)
	}
	if _, found, err := w.c.ModelPrice(f.ctx, otherModel); err != nil || found {
		t.Errorf("model_price(other) found %v %v", found, err)
	}
	f.workerSolvent(w)
}

// workerSolvent checks the Worker's invariant: balance ≥ stake + earnings.
func (f *fixture) workerSolvent(w *worker) {
	f.t.Helper()
	st := f.workerState(w)
	owed := f.feesOwed(w)
	need := new(big.Int).Add(st.Stake, st.Earnings)
	need.Add(need, owed)
	if bal := f.balance(w.addr); bal.Cmp(need) < 0 {
		f.t.Fatalf("worker %s holds %s, less than stake %s + earnings %s + fees owed %s", w.name, bal, st.Stake, st.Earnings, owed)
	}
}

// feesOwed is the protocol fees w holds for the treasury.
func (f *fixture) feesOwed(w *worker) *big.Int {
	f.t.Helper()
	owed, err := w.c.FeesOwed(f.ctx)
	if err != nil {
		f.t.Fatal(err)
	}
	return owed
}

func TestWorkerRegisterRejected(t *testing.T) {
	f := newFixture(t)
	miner := f.wallet("miner", "1000")
	stake := bt.TON("20")
	cases := []struct {
		name   string
		adjust func(p *bindings.WorkerProfile)
		stake  *big.Int
		reason bindings.ExitCode
	}{
		{"unknown TEE type", func(p *bindings.WorkerProfile) { p.TEE = 7 }, stake, bindings.ErrBadTEE},
		{"TEE type 0", func(p *bindings.WorkerProfile) { p.TEE = 0 }, stake, bindings.ErrBadTEE},
		{"dev TEE outside test mode", func(p *bindings.WorkerProfile) { p.TEE, p.Measurement = bindings.TEEDev, devMeas }, stake, bindings.ErrDevTEENotAllowed},
		{"measurement not allowed", func(p *bindings.WorkerProfile) { p.TEE, p.Measurement = bindings.TEESEVSNP, snpMeas }, stake, bindings.ErrMeasurementNotAllowed},
		{"measurement of another TEE", func(p *bindings.WorkerProfile) { p.TEE = bindings.TEESEVSNP }, stake, bindings.ErrMeasurementNotAllowed},
		{"no models", func(p *bindings.WorkerProfile) { p.Models = nil }, stake, bindings.ErrNoModels},
		{"model not allowed", func(p *bindings.WorkerProfile) {
			p.Models[otherModel] = bindings.ModelPrice{PriceIn: priceIn, PriceOut: priceOut}
		}, stake, bindings.ErrModelNotAllowed},
		{"input price below minimum", func(p *bindings.WorkerProfile) {
			p.Models[modelID] = bindings.ModelPrice{PriceIn: new(big.Int).Sub(minPriceIn, big.NewInt(1)), PriceOut: priceOut}
		}, stake, bindings.ErrPriceBelowMin},
		{"output price below minimum", func(p *bindings.WorkerProfile) {
			p.Models[modelID] = bindings.ModelPrice{PriceIn: priceIn, PriceOut: new(big.Int).Sub(minPriceOut, big.NewInt(1))}
		}, stake, bindings.ErrPriceBelowMin},
		{"stake below minimum", func(*bindings.WorkerProfile) {}, new(big.Int).Sub(minStake, big.NewInt(1)), bindings.ErrStakeTooLow},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f.t = t
			w := f.newWorker("rejected "+tc.name, miner)
			p := profile(w.name)
			tc.adjust(&p)
			value := new(big.Int).Add(tc.stake, big.NewInt(bindings.WorkerRegisterFee))
			before := f.balance(miner.Address)
			tr := f.register(w, p, value)
			if fs := tr.Failures(); len(fs) > 0 {
				t.Fatalf("a rejection should not fail a transaction:\n%s", tr)
			}
			rej, sent := one[bindings.Reject](f, tr)
			if bindings.ExitCode(rej.Reason) != tc.reason || !sent.To.Equals(w.addr) {
				t.Fatalf("Reject reason %s to %s, want %s", bindings.ExitCode(rej.Reason), sent.To, tc.reason)
			}
			back, sent := one[bindings.RegistrationRejected](f, tr)
			if bindings.ExitCode(back.Reason) != tc.reason || !sent.To.Equals(miner.Address) {
				t.Errorf("RegistrationRejected %+v to %s", back, sent.To)
			}
			none[bindings.Activate](f, tr)
			if evs := tr.Events(f.root); len(evs) != 0 {
				t.Errorf("Root logged %v for a rejected worker", evs)
			}
			f.gone(w.addr)
			d, err := w.c.WorkerData(f.ctx)
			if err != nil || d.Deployed {
				t.Errorf("worker_data of a rejected worker: %+v, %v", d, err)
			}
			// All funds came back; the owner paid only the gas and forwarding.
			lost := new(big.Int).Sub(before, f.balance(miner.Address))
			if lost.Cmp(tr.Cost()) > 0 || lost.Cmp(bt.TON("0.05")) > 0 {
				t.Errorf("owner lost %s to a rejected registration (trace cost %s)", lost, tr.Cost())
			}
		})
	}
}

// TestRegisterTooManyModels: Root stops checking a registration whose
// models would cost more gas than the RegisterWorker carries, and rejects
// it with ERR_INSUFFICIENT_VALUE; a worker with fewer models passes.
func TestRegisterTooManyModels(t *testing.T) {
	f := newFixture(t)
	miner := f.wallet("miner", "100")
	var ops []bindings.Message
	many := bindings.Models{}
	for i := 0; i < 40; i++ {
		id := hash(fmt.Sprint("model ", i))
		ops = append(ops, bindings.AddModel{QueryID: uint64(i), ModelID: id, Info: bindings.ModelInfo{MinPriceIn: big.NewInt(0), MinPriceOut: big.NewInt(0)}})
		many[id] = bindings.ModelPrice{PriceIn: priceIn, PriceOut: priceOut}
	}
	f.ownerOps(ops...)
	cases := []struct {
		models int
		reject bool
	}{{10, false}, {40, true}}
	for _, tc := range cases {
		p := profile(fmt.Sprint("models ", tc.models))
		p.Models = bindings.Models{}
		for id, price := range many {
			if len(p.Models) == tc.models {
				break
			}
			p.Models[id] = price
		}
		w := f.newWorker(fmt.Sprint("models ", tc.models), miner)
		tr := f.register(w, p, bt.TON("20.05"))
		rej, _ := all[bindings.Reject](tr)
		switch {
		case tc.reject && (len(rej) != 1 || bindings.ExitCode(rej[0].Reason) != bindings.ErrInsufficientValue):
			t.Fatalf("%d models: want Reject %s:\n%s", tc.models, bindings.ErrInsufficientValue, tr)
		case tc.reject:
			f.gone(w.addr)
		case len(rej) != 0 || f.workerStatus(w) != bindings.WorkerActive:
			t.Fatalf("%d models: not activated:\n%s", tc.models, tr)
		}
	}
}

func TestDevTEEInTestMode(t *testing.T) {
	f := newFixture(t, func(p *bindings.RootParams) { p.TestMode = true })
	miner := f.wallet("miner", "100")
	w := f.newWorker("dev", miner)
	p := profile("dev")
	p.TEE, p.Measurement = bindings.TEEDev, devMeas
	f.noFailures(f.register(w, p, bt.TON("20.05")))
	if st := f.workerStatus(w); st != bindings.WorkerActive {
		t.Fatalf("dev worker in test mode is %s", st)
	}
}

func TestWorkerRegisterRefusals(t *testing.T) {
	f := newFixture(t)
	miner := f.wallet("miner", "100")
	stranger := f.wallet("stranger", "100")

	// Not enough for the registration fee: refused, bounced, nothing deployed.
	w := f.newWorker("poor", miner)
	value := big.NewInt(bindings.WorkerRegisterFee)
	tr := f.register(w, profile("poor"), value)
	f.refused(tr, w.addr, bindings.ErrInsufficientValue)
	f.bouncedTo(tr, miner.Address, value)
	f.unused(w.addr, w.si.Data)

	// Someone else deploying the owner's worker.
	tr = f.send(stranger, bt.Deploy(w.si, bt.TON("20.05"), bt.Body(bindings.WorkerRegister{Profile: profile("poor"), Agreed: f.agreed()})))
	f.refused(tr, w.addr, bindings.ErrNotOwner)
	f.bouncedTo(tr, stranger.Address, bt.TON("20.05"))
	f.unused(w.addr, w.si.Data)
	// The shell a refused deploy may leave does not stop the real owner.
	f.noFailures(f.register(w, profile("poor"), bt.TON("20.05")))
	if st := f.workerStatus(w); st != bindings.WorkerActive {
		t.Fatalf("worker %s after registering over a refused deploy", st)
	}

	// Registering twice.
	active := f.activeWorker("twice", miner, bt.TON("20"))
	tr = f.send(miner, bt.Message(active.addr, bt.TON("20.05"), bt.Body(bindings.WorkerRegister{Profile: profile("twice"), Agreed: f.agreed()})))
	f.refused(tr, active.addr, bindings.ErrWrongStatus)
	f.bouncedTo(tr, miner.Address, bt.TON("20.05"))
	if st := f.workerState(active); st.Stake.Cmp(bt.TON("20")) != 0 {
		t.Errorf("stake %s after a refused second registration", st.Stake)
	}
}

// TestWorkerLifecycle walks one worker through every owner operation.
func TestWorkerLifecycle(t *testing.T) {
	f := newFixture(t)
	miner := f.wallet("miner", "1000")
	stranger := f.wallet("stranger", "100")
	w := f.activeWorker("w", miner, bt.TON("20"))
	stake := bt.TON("20")
	send := func(value string, m bindings.Message) *bt.Trace {
		t.Helper()
		return f.send(miner, bt.Message(w.addr, bt.TON(value), bt.Body(m)))
	}
	wantStake := func(want *big.Int) {
		t.Helper()
		if st := f.workerState(w); st.Stake.Cmp(want) != 0 {
			t.Fatalf("stake %s, want %s", st.Stake, want)
		}
		f.workerSolvent(w)
	}

	// TopUp: stake += value - NOTIFY_GAS; an empty body from the owner too.
	f.noFailures(send("5", bindings.TopUp{QueryID: 1}))
	stake.Add(stake, new(big.Int).Sub(bt.TON("5"), big.NewInt(bindings.NotifyGas)))
	wantStake(stake)
	f.noFailures(f.send(miner, bt.Message(w.addr, bt.TON("1"), nil)))
	stake.Add(stake, new(big.Int).Sub(bt.TON("1"), big.NewInt(bindings.NotifyGas)))
	wantStake(stake)

	// Owner operations from someone else, and nothing to withdraw yet.
	for _, m := range []bindings.Message{bindings.TopUp{}, bindings.WorkerUpdate{Profile: profile("x"), Agreed: f.agreed()}, bindings.RequestUnbond{}, bindings.Withdraw{}, bindings.WithdrawEarnings{}} {
		tr := f.send(stranger, bt.Message(w.addr, opValue, bt.Body(m)))
		f.refused(tr, w.addr, bindings.ErrNotOwner)
		f.bouncedTo(tr, stranger.Address, opValue)
	}
	tr := send("0.05", bindings.WithdrawEarnings{QueryID: 2})
	f.refused(tr, w.addr, bindings.ErrNothingToWithdraw)
	tr = send("0.05", bindings.Withdraw{QueryID: 2})
	f.refused(tr, w.addr, bindings.ErrWrongStatus)
	wantStake(stake)

	// WorkerUpdate: a new profile, validated again by Root.
	p2 := profile("w")
	p2.Endpoint = "https://moved.example"
	p2.Models[modelID] = bindings.ModelPrice{PriceIn: minPriceIn, PriceOut: minPriceOut}
	tr = send("0.05", bindings.WorkerUpdate{QueryID: 3, Profile: p2, Agreed: f.agreed()})
	f.noFailures(tr)
	one[bindings.Activate](f, tr)
	if evs := tr.Events(f.root); len(evs) != 1 {
		t.Errorf("update logged %d events", len(evs))
	}
	if st := f.workerState(w); st.Endpoint != p2.Endpoint {
		t.Errorf("endpoint %q after update", st.Endpoint)
	}
	if mp, _, _ := w.c.ModelPrice(f.ctx, modelID); mp.PriceIn.Cmp(minPriceIn) != 0 {
		t.Errorf("price after update %s", mp.PriceIn)
	}
	if s := f.workerStatus(w); s != bindings.WorkerActive {
		t.Fatalf("status %s after update", s)
	}
	wantStake(stake)

	// An update Root rejects leaves the worker inactive, funds in place.
	bad := profile("w")
	bad.TEE, bad.Measurement = bindings.TEESEVSNP, snpMeas
	tr = send("0.05", bindings.WorkerUpdate{QueryID: 4, Profile: bad, Agreed: f.agreed()})
	if rej, _ := one[bindings.Reject](f, tr); bindings.ExitCode(rej.Reason) != bindings.ErrMeasurementNotAllowed {
		t.Errorf("Reject reason %s", bindings.ExitCode(rej.Reason))
	}
	none[bindings.RegistrationRejected](f, tr)
	if s := f.workerStatus(w); s != bindings.WorkerInactive {
		t.Fatalf("status %s after a rejected update, want inactive", s)
	}
	wantStake(stake)
	// ... until a good one.
	f.noFailures(send("0.05", bindings.WorkerUpdate{QueryID: 5, Profile: profile("w"), Agreed: f.agreed()}))
	if s := f.workerStatus(w); s != bindings.WorkerActive {
		t.Fatalf("status %s after a good update", s)
	}

	// RequestUnbond: Root logs the deactivation and returns the gas change.
	unbondAt := f.now()
	tr = send("0.05", bindings.RequestUnbond{QueryID: 6})
	f.noFailures(tr)
	deact, sent := one[bindings.WorkerDeactivated](f, tr)
	if deact.Reason != bindings.DeactivatedUnbonding || !sent.To.Equals(f.root) || deact.WorkerKey != w.pub() {
		t.Errorf("WorkerDeactivated %+v to %s", deact, sent.To)
	}
	evs := tr.Events(f.root)
	if len(evs) != 1 {
		t.Fatalf("Root logged %d events", len(evs))
	}
	if ev, ok := evs[0].(*bindings.WorkerDeactivatedEvent); !ok || !ev.Worker.Equals(w.addr) || ev.Reason != bindings.DeactivatedUnbonding {
		t.Errorf("event %+v", evs[0])
	}
	if _, sent := one[bindings.Excesses](f, tr); !sent.To.Equals(miner.Address) {
		t.Errorf("Excesses to %s", sent.To)
	}
	st := f.workerState(w)
	if s := f.workerStatus(w); s != bindings.WorkerUnbonding || st.UnbondingSince != unbondAt {
		t.Fatalf("status %s since %d, want unbonding since %d", s, st.UnbondingSince, unbondAt)
	}
	wantStake(stake)
	for _, m := range []bindings.Message{bindings.TopUp{}, bindings.WorkerUpdate{Profile: profile("w"), Agreed: f.agreed()}, bindings.RequestUnbond{}} {
		tr := send("0.05", m)
		f.refused(tr, w.addr, bindings.ErrWrongStatus)
	}

	// Withdraw: not before the delay; then everything goes to the owner.
	tr = send("0.05", bindings.Withdraw{QueryID: 7})
	f.refused(tr, w.addr, bindings.ErrUnbondingNotOver)
	if err := f.env.AdvanceTime(f.ctx, (unbondingDelay-10)*time.Second); err != nil {
		t.Fatal(err)
	}
	tr = send("0.05", bindings.Withdraw{QueryID: 7})
	f.refused(tr, w.addr, bindings.ErrUnbondingNotOver)
	// At since + delay exactly, still refused: a job accepted before the
	// unbonding may be refunded (and slash the stake) until then.
	if err := f.env.AdvanceTime(f.ctx, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if now := f.now(); now != unbondAt+unbondingDelay {
		t.Fatalf("now %d, want since + delay %d", now, unbondAt+unbondingDelay)
	}
	tr = send("0.05", bindings.Withdraw{QueryID: 7})
	f.refused(tr, w.addr, bindings.ErrUnbondingNotOver)
	if err := f.env.AdvanceTime(f.ctx, time.Second); err != nil {
		t.Fatal(err)
	}
	held := f.balance(w.addr)
	tr = send("0.05", bindings.Withdraw{QueryID: 8})
	f.noFailures(tr)
	ret, sent := one[bindings.StakeReturned](f, tr)
	if ret.QueryID != 8 || !sent.To.Equals(miner.Address) || sent.Value.Cmp(stake) < 0 || sent.Value.Cmp(new(big.Int).Add(held, bt.TON("0.05"))) > 0 {
		t.Errorf("StakeReturned %+v with %s (stake %s, held %s)", ret, sent.Value, stake, held)
	}
	f.gone(w.addr)
	d, err := w.c.WorkerData(f.ctx)
	if err != nil || d.Deployed {
		t.Errorf("worker_data after withdrawal: %+v %v", d, err)
	}
	if _, err := w.c.WorkerState(f.ctx); !errors.Is(err, readers.ErrNotDeployed) {
		t.Errorf("worker_state after withdrawal: %v, want ErrNotDeployed", err)
	}
	var nd *readers.NotDeployedError
	if _, err := w.c.Models(f.ctx); !errors.As(err, &nd) || nd.Status == chain.StatusActive {
		t.Errorf("models after withdrawal: %v", err)
	}
}

// TestForgedMessagesToWorker sends the messages only Root or a genuine Job
// may send, from a wallet: each is refused and changes nothing.
func TestForgedMessagesToWorker(t *testing.T) {
	f := newFixture(t)
	miner := f.wallet("miner", "100")
	stranger := f.wallet("stranger", "100")
	w := f.activeWorker("w", miner, bt.TON("20"))
	snap := bindings.ParamsSnapshot{MinStake: big.NewInt(0), Treasury: stranger.Address, JobCode: f.env.Codes.Job}
	cases := []struct {
		name string
		body *cell.Cell
		code bindings.ExitCode
	}{
		{"Activate", bt.Body(bindings.Activate{Snapshot: snap}), bindings.ErrNotRoot},
		{"Reject", bt.Body(bindings.Reject{Reason: 1}), bindings.ErrNotRoot},
		{"Offer", bt.Body(bindings.Offer{Client: stranger.Address, Nonce: 1, ModelID: modelID, PriceIn: priceIn, PriceOut: priceOut, Deadline: f.now() + 3600}), bindings.ErrNotAJob},
		{"JobPaid", bt.Body(bindings.JobPaid{Client: stranger.Address, Nonce: 1}), bindings.ErrNotAJob},
		{"JobFailed", bt.Body(bindings.JobFailed{Client: stranger.Address, Nonce: 1}), bindings.ErrNotAJob},
		{"Slash", bt.Body(bindings.Slash{Client: stranger.Address, Nonce: 1}), bindings.ErrNotAJob},
		{"unknown opcode", cell.BeginCell().MustStoreUInt(0xabcdef01, 32).MustStoreUInt(0, 64).EndCell(), bindings.ErrUnknownOp},
		{"empty body from a stranger", nil, bindings.ErrUnknownOp},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f.t = t
			before := workerData(f, w)
			value := bt.TON("1")
			tr := f.send(stranger, bt.Message(w.addr, value, tc.body))
			f.refused(tr, w.addr, tc.code)
			f.bouncedTo(tr, stranger.Address, value)
			if !bytes.Equal(workerData(f, w), before) {
				t.Error("the worker's data changed")
			}
		})
	}
}

func workerData(f *fixture, w *worker) []byte {
	acc, err := f.env.Chain.Account(f.ctx, w.addr)
	if err != nil {
		f.t.Fatal(err)
	}
	return acc.Data.Hash()
}
