package contracts_test

import (
	"math/big"
	"testing"
	"time"

	"github.com/cocoon-network/cocoon/bindings"
	bt "github.com/cocoon-network/cocoon/offchain/contracttest"
	"github.com/cocoon-network/cocoon/offchain/tonamount"
)

// Each test here performs one finding of the contracts v3 review (issue 20)
// and shows it now fails; with the v2 contracts each of them passes the
// attacker's way (the numbers are in the issue and in docs/CONTRACTS.md).

// advanceTo moves the devnet's clock to unix time at (never back).
func (f *fixture) advanceTo(at uint32) {
	f.t.Helper()
	if now := f.now(); at > now {
		if err := f.env.AdvanceTime(f.ctx, time.Duration(at-now)*time.Second); err != nil {
			f.t.Fatal(err)
		}
	}
}

// outageJobs has client create n one-token jobs on w whose deadlines fall
// within spread seconds of each other, all accepted (the contract answers
// offers while the daemon is down).
func (f *fixture) outageJobs(client *bt.Wallet, w *worker, first uint64, n int, spread uint32) []*job {
	f.t.Helper()
	var jobs []*job
	base := f.now() + minDeadline
	for i := range n {
		terms := f.terms(w.addr, "outage")
		terms.MaxIn, terms.MaxOut = 0, 1
		terms.Deadline = base + uint32(i)*spread/uint32(max(n-1, 1))
		j := f.newJob(client, first+uint64(i), terms)
		f.accepted(j)
		jobs = append(jobs, j)
	}
	return jobs
}

// refund sends a Refund of j from client and reports whether its Slash took
// stake (a SlashForfeit goes to the treasury only then).
func (f *fixture) refundTook(client *bt.Wallet, j *job) bool {
	f.t.Helper()
	tr := f.send(client, bt.Message(j.addr, opValue, bt.Body(bindings.Refund{QueryID: 1})))
	f.noFailures(tr)
	forfeits, _ := all[bindings.SlashForfeit](tr)
	return len(forfeits) > 0
}

// Finding 1: ten one-token jobs expire during one 61-second outage; the
// client refunds three an hour, hoping for a fresh cap each window (v2:
// stake 20 → 6.97 TON). Slashes are keyed to the jobs' deadlines, and a
// refund slashes only within RefundWindow of the deadline: the outage costs
// at most MaxSlashesPerWindow slashes, 20 → 14.58 TON as documented.
func TestAttackRefundsSpreadOverTime(t *testing.T) {
	f := newFixture(t)
	miner := f.wallet("miner", "100")
	client := f.wallet("client", "100")
	stake := bt.TON("20")
	w := f.activeWorker("w", miner, stake)
	jobs := f.outageJobs(client, w, 100, 10, 61)
	last := jobs[len(jobs)-1].terms.Deadline

	took := 0
	f.advanceTo(last + 1)
	for hour := 0; len(jobs) > 0; hour++ {
		for range min(3, len(jobs)) {
			if f.refundTook(client, jobs[0]) {
				took++
			}
			jobs = jobs[1:]
		}
		f.advanceTo(f.now() + 3600)
	}
	want := new(big.Int).Set(stake)
	for range bindings.MaxSlashesPerWindow {
		amount := bindings.SlashAmount(want, slashBps)
		want.Sub(want, amount)
	}
	st := f.workerState(w)
	t.Logf("ten jobs of a 61 s outage refunded three an hour: %d slashes took stake, stake 20 → %s TON", took, tonamount.Format(st.Stake))
	if took != bindings.MaxSlashesPerWindow || st.Stake.Cmp(want) != 0 || st.JobsSlashed != 3 {
		t.Fatalf("%d slashes took stake (%d counted), stake %s; want %d, %s (only the first hour's refunds, in the refund window, slash)",
			took, st.JobsSlashed, st.Stake, bindings.MaxSlashesPerWindow, want)
	}
	if s := f.workerStatus(w); s != bindings.WorkerActive {
		t.Errorf("a minute's outage left the worker %s", s)
	}
}

// Finding 2: the v2 window was fixed and began at a refund: one refund at
// t, two at t+3599, three at t+3600 took six slashes, five within a second.
// Now, of the jobs whose deadlines lie less than SlashWindow apart, at most
// MaxSlashesPerWindow take stake, in whatever order their refunds come.
func TestAttackSlashWindowEdge(t *testing.T) {
	f := newFixture(t)
	miner := f.wallet("miner", "100")
	client := f.wallet("client", "100")
	w := f.activeWorker("w", miner, bt.TON("20"))
	// Six jobs: one due at d, two at d+3599, three at d+3600 (kept
	// accepted by renewing the registration as the daemon does).
	d := f.now() + minDeadline + 10
	var jobs []*job
	for i, at := range []uint32{d, d + 3599, d + 3599, d + 3600, d + 3600, d + 3600} {
		f.advanceTo(at - minDeadline - 1)
		f.noFailures(f.renew(w, miner))
		terms := f.terms(w.addr, "edge")
		terms.MaxIn, terms.MaxOut = 0, 1
		terms.Deadline = at
		j := f.newJob(client, uint64(10+i), terms)
		f.accepted(j)
		jobs = append(jobs, j)
	}
	// Refunds as in the finding: one just after d, then the rest.
	f.advanceTo(d + 1)
	var took []uint32
	if f.refundTook(client, jobs[0]) {
		took = append(took, jobs[0].terms.Deadline)
	}
	f.advanceTo(d + 3601)
	for _, j := range jobs[1:] {
		if f.refundTook(client, j) {
			took = append(took, j.terms.Deadline)
		}
	}
	t.Logf("deadlines of the slashes that took stake: %v (d = %d)", took, d)
	// No SlashWindow-long span of deadlines holds more than the cap.
	for _, a := range took {
		in := 0
		for _, b := range took {
			if b >= a && b-a < bindings.SlashWindow {
				in++
			}
		}
		if in > bindings.MaxSlashesPerWindow {
			t.Fatalf("%d slashes took stake for deadlines within %ds from %d: %v", in, bindings.SlashWindow, a, took)
		}
	}
	// d, d+3599, d+3599 fill the cap; of the jobs due at d+3600 one more
	// may take stake (d is 3600 s away), the rest are only counted.
	if len(took) != 4 {
		t.Errorf("%d slashes took stake, want 4", len(took))
	}
	if st := f.workerState(w); st.JobsSlashed != 6 {
		t.Errorf("%d slashes counted, want 6", st.JobsSlashed)
	}
}

// Finding 3: a hostile Root owner announces slash 100%, a 1-second minimum
// deadline and itself as treasury; 48 hours later it applies. The daemon's
// routine renewal cannot agree to it (Renew re-confirms the terms already
// agreed): the worker stops taking jobs instead of taking them under the new
// terms, and a 1-second job cannot take its stake. An owner who agreed in
// advance (AgreeTerms) renews straight into the new terms.
func TestAttackRenewalCannotAgreeToWorseTerms(t *testing.T) {
	f := newFixture(t)
	miner := f.wallet("miner", "100")
	client := f.wallet("client", "100")
	gas := f.wallet("daemon gas", "10")
	w := f.activeWorker("w", miner, bt.TON("20"))
	consenting := f.activeWorker("consenting", miner, bt.TON("20"))
	evil := f.params
	evil.SlashBps, evil.MinJobDeadline, evil.Treasury = 10000, 1, f.owner.Address
	f.noFailures(f.send(f.owner, bt.Message(f.root, opValue, bt.Body(bindings.SetParams{QueryID: 1, Params: evil}))))
	evilTerms, err := bindings.TermsOf(evil, [32]byte(f.env.Codes.Job.Hash())).Hash()
	if err != nil {
		t.Fatal(err)
	}
	f.noFailures(f.send(miner, bt.Message(consenting.addr, opValue, bt.Body(bindings.AgreeTerms{QueryID: 2, Next: evilTerms}))))
	f.applyChange()

	// The daemon renews as every hour: Root's Activate carries terms the
	// owner did not agree to, so the worker becomes inactive.
	tr := f.renew(w, gas)
	f.noFailures(tr)
	one[bindings.Activate](f, tr)
	if s := f.workerStatus(w); s != bindings.WorkerInactive {
		t.Fatalf("worker %s after a renewal under terms its owner did not agree to", s)
	}
	terms := f.terms(w.addr, "one second")
	terms.MaxIn, terms.MaxOut, terms.Deadline = 0, 1, f.now()+1
	j := f.newJob(client, 1, terms)
	tr, _ = f.create(j, big.NewInt(0))
	if dec, _ := one[bindings.Decline](f, tr); bindings.ExitCode(dec.Reason) != bindings.ErrWorkerNotActive {
		t.Fatalf("Decline %s, want %s", bindings.ExitCode(dec.Reason), bindings.ErrWorkerNotActive)
	}
	if st := f.workerState(w); st.Stake.Cmp(bt.TON("20")) != 0 {
		t.Fatalf("stake %s after the change", st.Stake)
	}
	// A renewal of an inactive worker is refused: only the owner can agree.
	f.refused(f.renew(w, gas), w.addr, bindings.ErrWrongStatus)

	// The owner who agreed in advance keeps serving, under the new terms.
	f.noFailures(f.renew(consenting, gas))
	if s := f.workerStatus(consenting); s != bindings.WorkerActive {
		t.Fatalf("consenting worker %s after its renewal", s)
	}
	reg, err := consenting.c.Registration(f.ctx)
	if err != nil || reg.Agreed != evilTerms {
		t.Fatalf("consenting worker's registration %+v, %v: want the terms it agreed to in advance", reg, err)
	}
}

// Finding 4: Root accepted an unbonding delay of max deadline + 1 s, which
// left a client one second to refund before the stake could leave. Root now
// requires max deadline + RefundWindow + UnbondMargin (and the Worker waits
// that long whatever Root holds: TestAttackUnbondEscapeAtDeadline).
func TestAttackUnbondingDelayTooShort(t *testing.T) {
	f := newFixture(t)
	short := f.params
	short.UnbondingDelay = short.MaxJobDeadline + 1
	f.refused(f.send(f.owner, bt.Message(f.root, opValue, bt.Body(bindings.SetParams{QueryID: 1, Params: short}))), f.root, bindings.ErrBadArgument)
	short.UnbondingDelay = bindings.MinUnbondingDelay(short.MaxJobDeadline) - 1
	f.refused(f.send(f.owner, bt.Message(f.root, opValue, bt.Body(bindings.SetParams{QueryID: 2, Params: short}))), f.root, bindings.ErrBadArgument)
	if err := short.Validate(); err == nil {
		t.Error("bindings.RootParams.Validate accepts what Root refuses")
	}
	short.UnbondingDelay++
	f.noFailures(f.send(f.owner, bt.Message(f.root, opValue, bt.Body(bindings.SetParams{QueryID: 3, Params: short}))))
	if err := short.Validate(); err != nil {
		t.Errorf("bindings.RootParams.Validate refuses what Root accepts: %v", err)
	}
}

// Finding 5: revocation took up to 24 hours. A registration now lasts
// RegistrationTTL (one hour): after RemoveMeasurement the worker's next
// renewal is rejected at once, and a worker that does not renew declines
// new jobs within the hour.
func TestAttackRevocationWithinAnHour(t *testing.T) {
	f := newFixture(t)
	miner := f.wallet("miner", "100")
	client := f.wallet("client", "100")
	gas := f.wallet("daemon gas", "10")
	renewing := f.activeWorker("renewing", miner, bt.TON("20"))
	silent := f.activeWorker("silent", miner, bt.TON("20"))
	if bindings.RegistrationTTL > 3600 {
		t.Fatalf("RegistrationTTL %ds: revocation would take longer than an hour", bindings.RegistrationTTL)
	}
	f.ownerOps(bindings.RemoveMeasurement{QueryID: 1, TEE: bindings.TEETDX, Measurement: tdxMeas})

	tr := f.renew(renewing, gas)
	if rej, _ := one[bindings.Reject](f, tr); bindings.ExitCode(rej.Reason) != bindings.ErrMeasurementNotAllowed {
		t.Errorf("renewal rejected with %s", bindings.ExitCode(rej.Reason))
	}
	if s := f.workerStatus(renewing); s != bindings.WorkerInactive {
		t.Fatalf("renewing worker %s after a rejected renewal", s)
	}
	f.advanceTo(f.now() + bindings.RegistrationTTL + 1)
	j := f.newJob(client, 1, f.terms(silent.addr, "after revocation"))
	tr, _ = f.create(j, big.NewInt(0))
	if dec, _ := one[bindings.Decline](f, tr); bindings.ExitCode(dec.Reason) != bindings.ErrRegistrationExpired {
		t.Fatalf("Decline %s, want %s", bindings.ExitCode(dec.Reason), bindings.ErrRegistrationExpired)
	}
}

// Finding 6: renewal needed the owner's cold wallet every day. Renew is
// authorised by the worker key and paid by anyone (the daemon's gas
// wallet); it cannot be forged, replayed or used on a worker that is not
// active, and the worker keeps taking jobs while Root answers.
func TestRenewWithoutTheColdWallet(t *testing.T) {
	f := newFixture(t)
	miner := f.wallet("miner", "100")
	client := f.wallet("client", "100")
	gas := f.wallet("daemon gas", "10")
	w := f.activeWorker("w", miner, bt.TON("20"))
	before, err := w.c.Registration(f.ctx)
	if err != nil {
		t.Fatal(err)
	}
	f.advanceTo(f.now() + 1800)

	// Forged (another key), short of value, and the real one.
	forged, err := bindings.SignRenew(bt.KeyFor("not the worker"), w.addr, before.ValidUntil, 1)
	if err != nil {
		t.Fatal(err)
	}
	f.refused(f.send(gas, bt.Message(w.addr, big.NewInt(bindings.RenewValue), bt.Body(forged))), w.addr, bindings.ErrBadRenewSignature)
	real, err := bindings.SignRenew(w.key, w.addr, before.ValidUntil, 2)
	if err != nil {
		t.Fatal(err)
	}
	f.refused(f.send(gas, bt.Message(w.addr, big.NewInt(bindings.RenewValue-1), bt.Body(real))), w.addr, bindings.ErrInsufficientValue)
	// The renewal and an offer in one wallet message: the offer is accepted
	// while the registration is in flight.
	j := f.newJob(client, 1, f.terms(w.addr, "during renewal"))
	escrow := new(big.Int).Add(bindings.MinEscrow(j.terms), bt.TON("0.1"))
	balBefore, gasBefore := f.balance(w.addr), f.balance(gas.Address)
	tr := f.send(gas, bt.Message(w.addr, big.NewInt(bindings.RenewValue), bt.Body(real)))
	f.noFailures(tr)
	// What the round trip did not spend goes back to the gas wallet; the
	// Worker keeps nothing of it (and loses nothing but storage).
	one[bindings.Excesses](f, tr)
	spent := new(big.Int).Sub(gasBefore, f.balance(gas.Address))
	kept := new(big.Int).Sub(f.balance(w.addr), balBefore)
	t.Logf("a renewal cost the gas wallet %s TON (fees of its transactions %s TON):\n%s", tonamount.Format(spent), tonamount.Format(tr.Cost()), tr)
	if spent.Cmp(bt.TON("0.03")) > 0 || kept.Sign() > 0 || kept.Cmp(bt.TON("-0.001")) < 0 {
		t.Errorf("renewal: the gas wallet spent %s, the Worker's balance moved by %s", spent, kept)
	}
	f.noFailures(f.send(client, j.createMsg(escrow)))
	if st, ok := f.jobStatus(j); !ok || st != bindings.JobAccepted {
		t.Fatalf("job %s after the renewal, want accepted", st)
	}
	after, err := w.c.Registration(f.ctx)
	if err != nil || after.ValidUntil != f.now()+bindings.RegistrationTTL || after.Agreed != before.Agreed || after.PendingQuery != 0 {
		t.Fatalf("registration after renewal %+v (%v), before %+v", after, err, before)
	}
	// The same signature again: it named the old valid-until.
	f.refused(f.send(gas, bt.Message(w.addr, big.NewInt(bindings.RenewValue), bt.Body(real))), w.addr, bindings.ErrBadRenewSignature)
	// What registrations (here three updates) leave of their gas stays with
	// the Worker; WithdrawEarnings pays it out with the earnings.
	for i := range 3 {
		f.noFailures(f.send(miner, bt.Message(w.addr, opValue, bt.Body(bindings.WorkerUpdate{QueryID: uint64(10 + i), Profile: profile("w"), Agreed: f.agreed()}))))
	}
	f.workerSolvent(w)
	keep := new(big.Int).Add(f.workerState(w).Stake, big.NewInt(bindings.WorkerStorageReserve))
	keep.Add(keep, f.feesOwed(w))
	surplus := new(big.Int).Sub(f.balance(w.addr), keep)
	tr = f.send(miner, bt.Message(w.addr, opValue, bt.Body(bindings.WithdrawEarnings{QueryID: 3})))
	_, paid := one[bindings.EarningsPaid](f, tr)
	if bal := f.balance(w.addr); bal.Cmp(keep) > 0 {
		t.Errorf("the Worker holds %s after WithdrawEarnings, want at most stake + fees owed + reserve = %s", bal, keep)
	}
	if paid.Value.Cmp(surplus) < 0 {
		t.Errorf("WithdrawEarnings paid %s, less than the %s the Worker held beyond stake, fees owed and reserve", paid.Value, surplus)
	}
	t.Logf("after three updates WithdrawEarnings paid the owner %s TON (%s TON beyond stake, fees owed and reserve)", tonamount.Format(paid.Value), tonamount.Format(surplus))
	// Unbonding: no renewal.
	f.noFailures(f.send(miner, bt.Message(w.addr, opValue, bt.Body(bindings.RequestUnbond{QueryID: 4}))))
	f.refused(f.renew(w, gas), w.addr, bindings.ErrWrongStatus)
}
