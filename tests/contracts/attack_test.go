package contracts_test

import (
	"bytes"
	"crypto/ed25519"
	"math/big"
	"testing"
	"time"

	"github.com/xssnick/tonutils-go/address"
	"github.com/xssnick/tonutils-go/tlb"
	"github.com/xssnick/tonutils-go/tvm/cell"

	"github.com/cocoon-network/cocoon/bindings"
	bt "github.com/cocoon-network/cocoon/offchain/contracttest"
)

// Each test here performs one attack of the contracts review (issue 9) and
// shows it now fails. They share the fixture of the other contract tests.

// TestAttackStaleAcceptOnRedeployedJob: in ONE wallet message the client
// creates a job with valid terms, cancels it, and creates the same job
// (same nonce, so the same address) again with terms the worker never saw:
// price 0, a model the worker does not serve, a deadline a second away.
// Messages between two accounts arrive in order, so the worker's Accept of
// the first offer reaches the second Job. It must be refused: an answer is
// bound to the exact offer (the offer's id, the Job's creation LT).
func TestAttackStaleAcceptOnRedeployedJob(t *testing.T) {
	f := newFixture(t)
	miner := f.wallet("miner", "100")
	client := f.wallet("client", "100")
	w := f.activeWorker("w", miner, bt.TON("20"))
	stake := f.workerState(w).Stake

	for round := range 3 {
		good := f.newJob(client, 1, f.terms(w.addr, "good"))
		evil := f.newJob(client, 1, f.terms(w.addr, "evil"))
		evil.terms.ModelID = otherModel
		evil.terms.PriceIn, evil.terms.PriceOut = big.NewInt(0), big.NewInt(0)
		evil.terms.Deadline = f.now() + 1
		escrow := new(big.Int).Add(bindings.MinEscrow(good.terms), bt.TON("0.1"))
		tr := f.send(client,
			good.createMsg(escrow),
			bt.Message(good.addr, opValue, bt.Body(bindings.Cancel{QueryID: 1})),
			evil.createMsg(new(big.Int).Add(bindings.MinEscrow(evil.terms), bt.TON("0.1"))),
		)
		// The stale Accept is refused by the second Job as an answer to
		// another offer; the worker's Decline of the second offer closes it.
		f.refused(tr, good.addr, bindings.ErrStaleAnswer)
		if st, ok := f.jobStatus(evil); ok && st == bindings.JobAccepted {
			t.Fatalf("round %d: the redeployed job is accepted with terms the worker never saw; trace:\n%s", round, tr)
		}
		f.gone(evil.addr)

		// Nothing is left to refund: the worker's stake is whole.
		if err := f.env.AdvanceTime(f.ctx, 2*time.Second); err != nil {
			t.Fatal(err)
		}
		tr = f.send(client, bt.Message(evil.addr, opValue, bt.Body(bindings.Refund{QueryID: 1})))
		none[bindings.Slash](f, tr)
		if got := f.workerState(w).Stake; got.Cmp(stake) != 0 {
			t.Fatalf("round %d: stake %s, want %s", round, got, stake)
		}
	}
	if st := f.workerState(w); st.JobsSlashed != 0 {
		t.Errorf("worker slashed %d times", st.JobsSlashed)
	}
}

// TestAttackStaleActivateOnRedeployedWorker: in ONE wallet message the
// owner deploys a Worker with a valid profile and 20 TON, asks to unbond,
// withdraws, and deploys it again with a bad profile (a dev TEE on a
// non-test Root, prices below the minimum) and almost no stake. Root's
// Activate of the first registration must not activate the second Worker:
// no unbond or withdrawal while a registration is in flight, and an
// Activate is bound to the exact registration it answers.
func TestAttackStaleActivateOnRedeployedWorker(t *testing.T) {
	f := newFixture(t)
	miner := f.wallet("miner", "100")
	w := f.newWorker("w", miner)
	bad := profile("w")
	bad.TEE, bad.Measurement = bindings.TEEDev, devMeas
	bad.Models = bindings.Models{modelID: {PriceIn: big.NewInt(1), PriceOut: big.NewInt(1)}}
	good := new(big.Int).Add(bt.TON("20"), big.NewInt(bindings.WorkerRegisterFee))
	tr := f.send(miner,
		bt.Deploy(w.si, good, bt.Body(bindings.WorkerRegister{QueryID: 1, Profile: profile("w"), Agreed: f.agreed()})),
		bt.Message(w.addr, opValue, bt.Body(bindings.RequestUnbond{QueryID: 2})),
		bt.Message(w.addr, opValue, bt.Body(bindings.Withdraw{QueryID: 3})),
		bt.Deploy(w.si, bt.TON("0.06"), bt.Body(bindings.WorkerRegister{QueryID: 4, Profile: bad, Agreed: f.agreed()})),
	)
	f.refused(tr, w.addr, bindings.ErrWrongStatus)
	if s := f.workerStatus(w); s == bindings.WorkerActive {
		st := f.workerState(w)
		if st.Stake.Cmp(minStake) < 0 || st.TEE != bindings.TEETDX {
			t.Fatalf("active with stake %s and TEE %s; trace:\n%s", st.Stake, st.TEE, tr)
		}
	}
	// The first registration stands: active with its whole stake.
	if s := f.workerStatus(w); s != bindings.WorkerActive {
		t.Fatalf("worker is %s, want active; trace:\n%s", s, tr)
	}
	if st := f.workerState(w); st.Stake.Cmp(bt.TON("20")) != 0 || st.TEE != bindings.TEETDX {
		t.Errorf("stake %s TEE %s, want the first registration's", st.Stake, st.TEE)
	}
	f.workerSolvent(w)
}

// TestAttackActivateAfterSlash: a Slash that lands while a WorkerUpdate is
// in flight takes the stake below the minimum; Root's Activate, computed
// before the slash, must not make the worker active below the minimum.
func TestAttackActivateAfterSlash(t *testing.T) {
	f := newFixture(t)
	miner := f.wallet("miner", "100")
	client := f.wallet("client", "100")
	w := f.activeWorker("w", miner, bt.TON("10.5"))
	j := f.newJob(client, 8, f.terms(w.addr, "8"))
	f.accepted(j)
	if err := f.env.AdvanceTime(f.ctx, time.Duration(j.terms.Deadline-f.now()+1)*time.Second); err != nil {
		t.Fatal(err)
	}
	// One wallet message: the update goes out first, the Refund's Slash
	// reaches the worker before Root's Activate.
	tr := f.send(miner,
		bt.Message(w.addr, opValue, bt.Body(bindings.WorkerUpdate{QueryID: 1, Profile: profile("w"), Agreed: f.agreed()})),
		bt.Message(j.addr, opValue, bt.Body(bindings.Refund{QueryID: 2})),
	)
	one[bindings.Slash](f, tr)
	one[bindings.Activate](f, tr)
	st := f.workerState(w)
	if st.Stake.Cmp(minStake) >= 0 {
		t.Fatalf("stake %s is not below the minimum: the test did not slash in time; trace:\n%s", st.Stake, tr)
	}
	if s := f.workerStatus(w); s != bindings.WorkerSlashed {
		t.Fatalf("worker is %s with stake %s below the minimum %s, want slashed; trace:\n%s", s, st.Stake, minStake, tr)
	}
	// Root hears of it: its last event for the worker is a deactivation.
	evs := tr.Events(f.root)
	if ev, ok := evs[len(evs)-1].(*bindings.WorkerDeactivatedEvent); !ok || ev.Reason != bindings.DeactivatedSlashed {
		t.Errorf("Root's last event %+v, want a deactivation", evs[len(evs)-1])
	}
	f.workerSolvent(w)
}

// TestRegistrationBounced: when Root refuses to answer a registration (here
// after an upgrade of the worker code it no longer knows the Worker), the
// bounce ends the registration as a Reject would: the worker is not left
// pending with its stake locked.
func TestRegistrationBounced(t *testing.T) {
	f := newFixture(t)
	miner := f.wallet("miner", "100")
	w := f.activeWorker("w", miner, bt.TON("20"))
	other := cell.BeginCell().MustStoreUInt(1, 8).EndCell() // any other code: Root no longer derives this Worker's address
	f.ownerOps(bindings.UpgradeCode{QueryID: 9, WorkerCode: other})
	f.applyChange()
	tr := f.send(miner, bt.Message(w.addr, opValue, bt.Body(bindings.WorkerUpdate{QueryID: 1, Profile: profile("w"), Agreed: f.agreed()})))
	f.refused(tr, f.root, bindings.ErrNotAWorker)
	if s := f.workerStatus(w); s != bindings.WorkerInactive {
		t.Fatalf("worker is %s after its registration bounced, want inactive; trace:\n%s", s, tr)
	}
	// Not locked: the owner can unbond (Root refuses to hear of it too).
	f.send(miner, bt.Message(w.addr, opValue, bt.Body(bindings.RequestUnbond{QueryID: 2})))
	if s := f.workerStatus(w); s != bindings.WorkerUnbonding {
		t.Fatalf("worker is %s after RequestUnbond, want unbonding", s)
	}
}

// TestAttackResultSizeBoundary: the Job and the encoders of receipts (the
// worker daemon and the SDK's test worker both use bindings.InlineResult)
// agree on one limit. A result of exactly InlineResultLimit bytes is taken
// inline; one byte more goes off chain (hash only), and the receipt is
// accepted either way. 1,024 bytes inline, what the encoders once produced,
// is refused.
func TestAttackResultSizeBoundary(t *testing.T) {
	f := newFixture(t)
	miner := f.wallet("miner", "100")
	client := f.wallet("client", "100")
	w := f.activeWorker("w", miner, bt.TON("20"))
	for i, n := range []int{bindings.InlineResultLimit, bindings.InlineResultLimit + 1, 1024} {
		j := f.newJob(client, uint64(10+i), f.terms(w.addr, "boundary"))
		f.accepted(j)
		env := make([]byte, n)
		r := j.receipt(10, 10)
		c, err := bindings.InlineResult(env)
		if err != nil {
			t.Fatal(err)
		}
		if (c != nil) != (n <= bindings.InlineResultLimit) {
			t.Fatalf("%d bytes: inline %v", n, c != nil)
		}
		r.Result = c
		tr, err := f.receipt(w.key, r)
		if err != nil {
			t.Fatalf("%d bytes (inline %v): the job refused the receipt: %v", n, c != nil, err)
		}
		f.noFailures(tr)
		cb, _ := one[bindings.JobClosed](f, tr)
		if cb.Reason != bindings.ClosedCompleted {
			t.Fatalf("%d bytes: closed %d", n, cb.Reason)
		}
	}
	// The old encoders' 1,024 bytes inline: refused, the job unchanged.
	j := f.newJob(client, 20, f.terms(w.addr, "old"))
	f.accepted(j)
	r := j.receipt(10, 10)
	r.Result = bindings.MustCell(bindings.BytesCell(make([]byte, 1024)))
	_, err := f.receipt(w.key, r)
	if code, ok := bt.RefusalCode(err); !ok || code != bindings.ErrResultTooLarge {
		t.Fatalf("1,024 bytes inline: %v, want %s", err, bindings.ErrResultTooLarge)
	}
}

// TestAttackSlashFarming: while a worker is down, a client creates ten
// one-token jobs with the shortest deadline allowed and refunds each after
// it. The client must not profit (each compensation is at most the job's
// max cost; the rest of the slash goes to the treasury), and only
// MaxSlashesPerWindow of the slashes take stake, so the outage is survivable.
func TestAttackSlashFarming(t *testing.T) {
	f := newFixture(t)
	miner := f.wallet("miner", "100")
	client := f.wallet("client", "100")
	stake := bt.TON("20")
	w := f.activeWorker("w", miner, stake)
	clientBefore := f.balance(client.Address)
	treasuryBefore := f.balance(f.treasury.Address)

	var jobs []*job
	for i := range 10 {
		terms := f.terms(w.addr, "farm")
		terms.MaxIn, terms.MaxOut = 0, 1
		terms.Deadline = f.now() + minDeadline
		j := f.newJob(client, uint64(100+i), terms)
		f.accepted(j)
		jobs = append(jobs, j)
	}
	if err := f.env.AdvanceTime(f.ctx, (minDeadline+1)*time.Second); err != nil {
		t.Fatal(err)
	}
	want := new(big.Int).Set(stake)
	forfeits := new(big.Int)
	for i, j := range jobs {
		tr := f.send(client, bt.Message(j.addr, opValue, bt.Body(bindings.Refund{QueryID: 1})))
		f.noFailures(tr)
		one[bindings.Slash](f, tr)
		if i < bindings.MaxSlashesPerWindow {
			amount, _, forfeit := bindings.SlashSplit(want, slashBps, bindings.MaxCost(j.terms))
			want.Sub(want, amount)
			forfeits.Add(forfeits, forfeit)
			one[bindings.SlashForfeit](f, tr)
		} else {
			none[bindings.SlashForfeit](f, tr)
		}
	}
	st := f.workerState(w)
	if st.Stake.Cmp(want) != 0 || st.JobsSlashed != 10 {
		t.Fatalf("stake %s after %d slashes, want %s (only %d take stake)", st.Stake, st.JobsSlashed, want, bindings.MaxSlashesPerWindow)
	}
	if s := f.workerStatus(w); s != bindings.WorkerActive {
		t.Errorf("a minute's outage left the worker %s", s)
	}
	gain := new(big.Int).Sub(f.balance(client.Address), clientBefore)
	t.Logf("ten farmed jobs: the client gained %s nanoton, the treasury %s", gain, new(big.Int).Sub(f.balance(f.treasury.Address), treasuryBefore))
	if gain.Sign() >= 0 {
		t.Errorf("the client gained %s from the worker's failure", gain)
	}
	// The treasury got the forfeits less their forwarding fees.
	got := new(big.Int).Sub(f.balance(f.treasury.Address), treasuryBefore)
	if !nearBelow(got, forfeits, bt.TON("0.01")) {
		t.Errorf("the treasury got %s, the forfeits were %s", got, forfeits)
	}
	f.workerSolvent(w)

	// Deadlines a window later: slashes take stake again (the daemon
	// renewed the registration meanwhile).
	if err := f.env.AdvanceTime(f.ctx, bindings.SlashWindow*time.Second); err != nil {
		t.Fatal(err)
	}
	f.noFailures(f.renew(w, miner))
	j := f.newJob(client, 200, f.terms(w.addr, "later"))
	j.terms.Deadline = f.now() + minDeadline
	f.accepted(j)
	if err := f.env.AdvanceTime(f.ctx, (minDeadline+1)*time.Second); err != nil {
		t.Fatal(err)
	}
	f.noFailures(f.send(client, bt.Message(j.addr, opValue, bt.Body(bindings.Refund{QueryID: 1}))))
	amount, _, _ := bindings.SlashSplit(want, slashBps, bindings.MaxCost(j.terms))
	if st := f.workerState(w); st.Stake.Cmp(new(big.Int).Sub(want, amount)) != 0 {
		t.Errorf("stake %s after a slash in a new window, want %s", st.Stake, new(big.Int).Sub(want, amount))
	}
}

// TestAttackUnbondEscapeAtDeadline: with a Root whose unbonding delay is
// only the longest job deadline (deployed around the check: SetParams and
// bindings.RootParams.Validate refuse it), a worker accepts a job with the
// longest deadline and unbonds at once. Withdraw must not beat the Refund
// that slashes it, however late in the refund window the client refunds:
// the Worker keeps the stake until max deadline + RefundWindow +
// UnbondMargin after the unbonding, whatever Root's delay.
func TestAttackUnbondEscapeAtDeadline(t *testing.T) {
	f := newFixture(t, func(p *bindings.RootParams) { p.MaxJobDeadline = p.UnbondingDelay })
	miner := f.wallet("miner", "100")
	client := f.wallet("client", "100")
	w := f.activeWorker("w", miner, bt.TON("20"))
	j := f.newJob(client, 1, f.terms(w.addr, "long"))
	j.terms.Deadline = f.now() + unbondingDelay
	f.accepted(j)
	f.noFailures(f.send(miner, bt.Message(w.addr, opValue, bt.Body(bindings.RequestUnbond{QueryID: 1}))))
	since := f.now()
	advanceTo := func(at uint32) {
		t.Helper()
		if err := f.env.AdvanceTime(f.ctx, time.Duration(at-f.now())*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	// At the deadline neither may go; at the last second of the refund
	// window the Refund still slashes, and the stake is still there.
	advanceTo(j.terms.Deadline)
	f.refused(f.send(miner, bt.Message(w.addr, opValue, bt.Body(bindings.Withdraw{QueryID: 2}))), w.addr, bindings.ErrUnbondingNotOver)
	f.refused(f.send(client, bt.Message(j.addr, opValue, bt.Body(bindings.Refund{QueryID: 3}))), j.addr, bindings.ErrDeadlineNotReached)
	advanceTo(j.terms.Deadline + bindings.RefundWindow)
	f.refused(f.send(miner, bt.Message(w.addr, opValue, bt.Body(bindings.Withdraw{QueryID: 4}))), w.addr, bindings.ErrUnbondingNotOver)
	tr := f.send(client, bt.Message(j.addr, opValue, bt.Body(bindings.Refund{QueryID: 5})))
	f.noFailures(tr)
	one[bindings.SlashCompensation](f, tr)
	if st := f.workerState(w); st.JobsSlashed != 1 || st.Stake.Cmp(bt.TON("20")) >= 0 {
		t.Fatalf("the expired job did not slash the unbonding worker: %+v", st)
	}
	// The stake goes strictly after max deadline + refund window + margin.
	advanceTo(since + bindings.MinUnbondingDelay(f.params.MaxJobDeadline))
	f.refused(f.send(miner, bt.Message(w.addr, opValue, bt.Body(bindings.Withdraw{QueryID: 6}))), w.addr, bindings.ErrUnbondingNotOver)
	advanceTo(since + bindings.MinUnbondingDelay(f.params.MaxJobDeadline) + 1)
	f.noFailures(f.send(miner, bt.Message(w.addr, opValue, bt.Body(bindings.Withdraw{QueryID: 7}))))
	f.gone(w.addr)
}

// TestAttackUnreachableAddresses: an address the contracts will send value
// to later is checked where it is set, so that no action can fail on it
// later (a failed action undoes the state but keeps the fees: a receipt
// would stay replayable and burn the escrow again and again).
func TestAttackUnreachableAddresses(t *testing.T) {
	f := newFixture(t)
	client := f.wallet("client", "100")
	rogue := f.wallet("rogue worker", "100") // a "worker" the client chose that is not a Cocoon Worker
	rogueKey := bt.KeyFor("rogue")

	// A rogue worker answers with a treasury no message can reach.
	j := f.newJob(client, 1, f.terms(rogue.Address, "rogue"))
	f.send(rogue, bt.Message(client.Address, bt.TON("0.01"), nil)) // deploys the rogue's wallet
	tr, _ := f.create(j, bt.TON("0.1"))
	offer, _ := one[bindings.Offer](f, tr)
	accept := bindings.Accept{QueryID: offer.QueryID, WorkerKey: bindings.PublicKey256(rogueKey.Public().(ed25519.PublicKey)), FeeBps: 250, Treasury: unreachable}
	tr = f.send(rogue, bt.Message(j.addr, opValue, bt.Body(accept)))
	f.refused(tr, j.addr, bindings.ErrBadArgument)
	if st, _ := f.jobStatus(j); st != bindings.JobOffered {
		t.Fatalf("job %s after an Accept with an unreachable treasury", st)
	}

	// A client's terms: the worker in the masterchain, a callback in workchain 5.
	for name, adjust := range map[string]func(*bindings.JobTerms){
		"worker outside the basechain": func(tt *bindings.JobTerms) { tt.Worker = address.NewAddress(0, 0xff, bytes.Repeat([]byte{1}, 32)) },
		"unreachable callback":         func(tt *bindings.JobTerms) { tt.Callback = unreachable },
	} {
		j := f.newJob(client, 2, f.terms(rogue.Address, name))
		adjust(&j.terms)
		tr, _ := f.create(j, big.NewInt(0))
		f.refused(tr, j.addr, bindings.ErrBadTerms)
	}
}

// TestAttackReceiptImportFee: anyone may relay a worker's receipt; wrapped
// with the Job's StateInit it would make the job pay for importing the
// code and data out of the client's refund. Such a message is refused
// before the job accepts it, and the plain receipt then goes through.
func TestAttackReceiptImportFee(t *testing.T) {
	f := newFixture(t)
	miner := f.wallet("miner", "100")
	client := f.wallet("client", "100")
	w := f.activeWorker("w", miner, bt.TON("20"))
	j := f.newJob(client, 1, f.terms(w.addr, "import"))
	f.accepted(j)
	body, err := bindings.SignReceipt(w.key, j.receipt(10, 10))
	if err != nil {
		t.Fatal(err)
	}
	wrapped, err := tlb.ToCell(&tlb.ExternalMessage{DstAddr: j.addr, StateInit: j.si, Body: body})
	if err != nil {
		t.Fatal(err)
	}
	before := jobState(f, j)
	_, err = f.env.SendExternal(f.ctx, wrapped.ToBOC())
	if code, ok := bt.RefusalCode(err); !ok || code != bindings.ErrReceiptStateInit {
		t.Fatalf("a receipt wrapped with the Job's StateInit: %v, want %s", err, bindings.ErrReceiptStateInit)
	}
	if after := jobState(f, j); after != before {
		t.Fatalf("the job paid for a refused receipt: %s → %s", before, after)
	}
	tr, err := f.receipt(w.key, j.receipt(10, 10))
	if err != nil {
		t.Fatal(err)
	}
	f.noFailures(tr)
	f.gone(j.addr)
}

// TestAttackOwnerChangesNeedAgreement: Root's owner upgrades the job code to
// a proxy (anyone could deploy it at a Job address and send Slash) and sets
// the slash rate to 100%. The change is announced on chain and applies only
// after the timelock; a worker that re-registers afterwards with the terms
// it agreed to is not activated under the new ones, and a new worker is
// refused and refunded. Workers and clients pin the job code they know.
func TestAttackOwnerChangesNeedAgreement(t *testing.T) {
	f := newFixture(t)
	miner := f.wallet("miner", "100")
	w := f.activeWorker("w", miner, bt.TON("20"))
	agreed := f.agreed()
	proxy := cell.BeginCell().MustStoreUInt(0xdead, 16).EndCell()
	evil := f.params
	evil.SlashBps = 10000

	tr := f.send(f.owner, bt.Message(f.root, opValue, bt.Body(bindings.UpgradeCode{QueryID: 1, JobCode: proxy})))
	f.noFailures(tr)
	f.noFailures(f.send(f.owner, bt.Message(f.root, opValue, bt.Body(bindings.SetParams{QueryID: 2, Params: evil}))))
	evs := tr.Events(f.root)
	if ann, ok := evs[len(evs)-1].(*bindings.ChangeAnnouncedEvent); !ok || ann.Change.JobCode == nil || !bytes.Equal(ann.Change.JobCode.Hash(), proxy.Hash()) {
		t.Fatalf("the upgrade was not announced: %+v", evs)
	}
	if _, jh, _ := f.rootC.ChildCodeHashes(f.ctx); !bytes.Equal(jh[:], f.env.Codes.Job.Hash()) {
		t.Fatal("the job code changed before the timelock")
	}
	f.applyChange()
	if _, jh, _ := f.rootC.ChildCodeHashes(f.ctx); !bytes.Equal(jh[:], proxy.Hash()) || bindings.KnownJobCode(jh) {
		t.Fatalf("job code %x after the change (known to this build: %v)", jh, bindings.KnownJobCode(jh))
	}

	// The worker renews under the terms it agreed to: Root's Activate
	// carries others, so the worker stays with its old snapshot, inactive.
	tr = f.send(miner, bt.Message(w.addr, opValue, bt.Body(bindings.WorkerUpdate{QueryID: 3, Profile: profile("w"), Agreed: agreed})))
	f.noFailures(tr)
	one[bindings.Activate](f, tr)
	if s := f.workerStatus(w); s != bindings.WorkerInactive {
		t.Fatalf("worker %s after an Activate under terms it did not agree to", s)
	}
	// A Slash from a proxy-code "Job" is not from a genuine Job.
	stranger := f.wallet("stranger", "10")
	tr = f.send(stranger, bt.Message(w.addr, opValue, bt.Body(bindings.Slash{QueryID: 1, Client: stranger.Address, Nonce: 1, MaxCost: bt.TON("100")})))
	f.refused(tr, w.addr, bindings.ErrNotAJob)
	if st := f.workerState(w); st.Stake.Cmp(bt.TON("20")) != 0 {
		t.Fatalf("stake %s", st.Stake)
	}

	// A new worker agreeing to the old terms is refused and refunded.
	w2 := f.newWorker("w2", miner)
	tr = f.send(miner, bt.Deploy(w2.si, bt.TON("20.05"), bt.Body(bindings.WorkerRegister{QueryID: 4, Profile: profile("w2"), Agreed: agreed})))
	rej, _ := one[bindings.RegistrationRejected](f, tr)
	if bindings.ExitCode(rej.Reason) != bindings.ErrTermsNotAgreed {
		t.Errorf("RegistrationRejected %s, want %s", bindings.ExitCode(rej.Reason), bindings.ErrTermsNotAgreed)
	}
	f.gone(w2.addr)
}

// TestAttackRevocationReachesActiveWorkers: after Root's owner removes the
// worker's measurement, the worker (active, registered before) declines
// offers once its registration lapses (RegistrationTTL), and its renewal
// is rejected: a revocation reaches every active worker within the TTL.
func TestAttackRevocationReachesActiveWorkers(t *testing.T) {
	f := newFixture(t)
	miner := f.wallet("miner", "100")
	client := f.wallet("client", "100")
	w := f.activeWorker("w", miner, bt.TON("20"))
	reg, err := w.c.Registration(f.ctx)
	if err != nil || reg.ValidUntil != f.now()+bindings.RegistrationTTL || reg.Agreed != f.agreed() {
		t.Fatalf("registration() = %+v, %v", reg, err)
	}
	f.ownerOps(bindings.RemoveMeasurement{QueryID: 1, TEE: bindings.TEETDX, Measurement: tdxMeas})
	if err := f.env.AdvanceTime(f.ctx, (bindings.RegistrationTTL+1)*time.Second); err != nil {
		t.Fatal(err)
	}
	j := f.newJob(client, 1, f.terms(w.addr, "after revocation"))
	tr, _ := f.create(j, big.NewInt(0))
	if dec, _ := one[bindings.Decline](f, tr); bindings.ExitCode(dec.Reason) != bindings.ErrRegistrationExpired {
		t.Fatalf("Decline %s, want %s", bindings.ExitCode(dec.Reason), bindings.ErrRegistrationExpired)
	}
	f.gone(j.addr)
	tr = f.send(miner, bt.Message(w.addr, opValue, bt.Body(bindings.WorkerUpdate{QueryID: 2, Profile: profile("w"), Agreed: f.agreed()})))
	if rej, _ := one[bindings.Reject](f, tr); bindings.ExitCode(rej.Reason) != bindings.ErrMeasurementNotAllowed {
		t.Errorf("renewal rejected with %s", bindings.ExitCode(rej.Reason))
	}
	if s := f.workerStatus(w); s != bindings.WorkerInactive {
		t.Fatalf("worker %s after a rejected renewal", s)
	}
}
