package contracts_test

import (
	"bytes"
	"crypto/ed25519"
	"flag"
	"fmt"
	"math/big"
	"math/rand"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/xssnick/tonutils-go/address"
	"github.com/xssnick/tonutils-go/tlb"

	"github.com/cocoon-network/cocoon/bindings"
	"github.com/cocoon-network/cocoon/offchain/chain"
	bt "github.com/cocoon-network/cocoon/offchain/contracttest"
)

// The property test runs random operations; CI runs a short fixed
// sequence, `make fuzz` long ones with fresh seeds:
//
//	go test ./tests/contracts -run TestProperty -cocoon.seed=N -cocoon.steps=M
//
// (or COCOON_SEED / COCOON_STEPS in the environment).
var (
	propSeed  = flag.Int64("cocoon.seed", 1, "seed of the property test's random operations")
	propSteps = flag.Int("cocoon.steps", 80, "operations the property test runs")
)

func envInt(name string, def int64) int64 {
	if v := os.Getenv(name); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err == nil {
			return n
		}
	}
	return def
}

// pjob is the model of one job.
type pjob struct {
	j         *job
	w         *pworker // nil: an address without a worker
	escrow    *big.Int
	status    bindings.JobStatus
	opened    bool // JobCreate was accepted
	closed    bool
	completed bool
	paid      int // JobPaid messages seen
	closes    int // JobClosed messages seen
	lives     int // jobs deployed at the address (a Cancel and a second JobCreate: 2); 0 means 1
	refund    *big.Int
}

// pworker is the model of one worker.
type pworker struct {
	w        *worker
	stake    *big.Int
	earnings *big.Int
	status   bindings.WorkerStatus
	since    uint32
	gone     bool
	// job deadline → Slashes with it that took stake
	slashed    map[uint32]int
	validUntil uint32 // the registration lapses after it (RegistrationTTL from the last activation or renewal)
}

type prop struct {
	t       *testing.T
	f       *fixture
	rng     *rand.Rand
	clients []*bt.Wallet
	miners  []*bt.Wallet
	anyone  *bt.Wallet
	workers []*pworker
	ghost   *address.Address
	jobs    []*pjob
	byAddr  map[string]*pjob
	nonce   uint64

	accounts map[string]*address.Address // every account any trace touched
	total    *big.Int                    // what they held when the test started
	burnt    *big.Int                    // fees of every transaction since, plus forwarding fees
	fees     *big.Int                    // protocol fees the treasury was sent
	wantFees *big.Int                    // protocol fees of the completed jobs
	stranded *big.Int                    // value that reached an account after it closed
	attacks  map[string]int              // attack operations that found a case to run
	log      []string
}

func TestProperty(t *testing.T) {
	seed := envInt("COCOON_SEED", *propSeed)
	steps := int(envInt("COCOON_STEPS", int64(*propSteps)))
	t.Logf("seed %d, %d steps (rerun with -cocoon.seed=%d -cocoon.steps=%d)", seed, steps, seed, steps)
	f := newFixture(t)
	p := &prop{
		t: t, f: f, rng: rand.New(rand.NewSource(seed)), byAddr: map[string]*pjob{}, attacks: map[string]int{},
		accounts: map[string]*address.Address{}, burnt: new(big.Int), fees: new(big.Int),
		wantFees: new(big.Int), stranded: new(big.Int),
		ghost: address.NewAddress(0, 0, bytes.Repeat([]byte{0x9a}, 32)),
	}
	for i := 0; i < 3; i++ {
		p.clients = append(p.clients, f.wallet(fmt.Sprintf("client %d", i), "1000"))
		p.miners = append(p.miners, f.wallet(fmt.Sprintf("miner %d", i), "1000"))
	}
	p.anyone = f.wallet("anyone", "100")
	for i, m := range p.miners {
		stake := []string{"10.5", "15", "40"}[i] // the first is one slash from the minimum
		w := f.activeWorker(fmt.Sprintf("pw%d", i), m, bt.TON(stake))
		p.workers = append(p.workers, &pworker{w: w, stake: bt.TON(stake), earnings: new(big.Int), status: bindings.WorkerActive, validUntil: f.now() + bindings.RegistrationTTL})
	}
	for _, a := range []*address.Address{f.owner.Address, f.treasury.Address, f.root, p.anyone.Address, p.ghost} {
		p.track(a)
	}
	for _, w := range append(p.clients, p.miners...) {
		p.track(w.Address)
	}
	for _, w := range p.workers {
		p.track(w.w.addr)
	}
	p.total = p.sum()
	// A failure shows the operations that led to it.
	defer func() {
		if t.Failed() {
			for _, l := range p.log {
				t.Log(l)
			}
		}
	}()

	ops := []struct {
		weight int
		name   string
		run    func()
	}{
		{30, "create", p.opCreate},
		{25, "receipt", p.opReceipt},
		{8, "refund", p.opRefund},
		{8, "time", p.opTime},
		{5, "topup", p.opTopUp},
		{6, "withdraw earnings", p.opWithdrawEarnings},
		{5, "update", p.opUpdate},
		{6, "renew", p.opRenew},
		{1, "unbond", p.opUnbond},
		{3, "withdraw", p.opWithdraw},
		// the operations of the attacks in tests/contracts/attack_test.go
		{3, "recreate job", p.opRecreate},
		{2, "redeploy worker", p.opRedeployWorker},
		{3, "update during refund", p.opUpdateDuringRefund},
		{1, "announce change", p.opAnnounce},
	}
	sumW := 0
	for _, o := range ops {
		sumW += o.weight
	}
	ran := map[string]int{}
	for step := 0; step < steps && !t.Failed(); step++ {
		n := p.rng.Intn(sumW)
		for _, o := range ops {
			if n < o.weight {
				p.logf("step %d: %s", step, o.name)
				o.run()
				ran[o.name]++
				break
			}
			n -= o.weight
		}
		p.check()
	}
	t.Logf("operations run: %v; attack operations that found their case: recreate %d, redeploy %d, update during refund %d; %d jobs accepted, %d offered to an inactive or lapsed worker; refunds: %d slashed, %d capped, %d late (no slash)",
		ran, p.attacks["recreate"], p.attacks["redeploy"], p.attacks["update during refund"], p.attacks["accepted"], p.attacks["inactive"], p.attacks["slash"], p.attacks["slash capped"], p.attacks["late refund"])
	completed, closed := 0, 0
	for _, j := range p.jobs {
		if j.completed {
			completed++
		}
		if j.closed {
			closed++
		}
	}
	t.Logf("%d jobs (%d closed, %d completed), %s nanoton of fees to the treasury, %s stranded", len(p.jobs), closed, completed, p.fees, p.stranded)
}

func (p *prop) logf(format string, args ...any) { p.log = append(p.log, fmt.Sprintf(format, args...)) }

func (p *prop) track(a *address.Address) { p.accounts[a.StringRaw()] = a }

func (p *prop) sum() *big.Int {
	s := new(big.Int)
	for _, a := range p.accounts {
		s.Add(s, p.f.balance(a))
	}
	return s
}

// record takes in a trace: the accounts it touched, what it burnt, and
// the messages the invariants count.
func (p *prop) record(tr *bt.Trace) {
	if tr == nil {
		return
	}
	p.burnt.Add(p.burnt, tr.Cost())
	for _, tx := range tr.Txs {
		p.track(tx.Account)
	}
	for _, m := range tr.Msgs {
		p.track(m.To)
		j := p.byAddr[m.From.StringRaw()]
		switch m.Decoded().(type) {
		case *bindings.JobPaid:
			if j == nil {
				p.t.Errorf("JobPaid from %s, which is not a job", m.From)
				continue
			}
			j.paid++
			if j.paid > 1 {
				p.t.Errorf("job %d paid its worker %d times", j.j.nonce, j.paid)
			}
		case *bindings.JobClosed:
			if j == nil {
				p.t.Errorf("JobClosed from %s, which is not a job", m.From)
				continue
			}
			j.closes++
			j.refund = m.Value
			if !m.To.Equals(j.j.client.Address) {
				p.t.Errorf("job %d refunded %s, not its client", j.j.nonce, m.To)
			}
		case *bindings.ProtocolFees:
			p.fees.Add(p.fees, m.Value)
			if !m.To.Equals(p.f.treasury.Address) {
				p.t.Errorf("protocol fees sent to %s", m.To)
			}
		}
		// Value that cannot bounce arriving at a job that closed before (a
		// bounce of its Offer after a Cancel) stays at the dead address.
		if j2 := p.byAddr[m.To.StringRaw()]; j2 != nil && j2.closed && !m.Deploys && (m.Bounced || !m.Bounce) {
			p.stranded.Add(p.stranded, m.Value)
			p.logf("  %s arrived at closed job %d (bounced %v)", m.Value, j2.j.nonce, m.Bounced)
		}
	}
}

func (p *prop) send(w *bt.Wallet, msgs ...*tlb.InternalMessage) *bt.Trace {
	p.t.Helper()
	tr, err := w.Send(p.f.ctx, msgs...)
	if err != nil {
		p.t.Fatalf("sending from %s: %v", w.Name, err)
	}
	p.record(tr)
	return tr
}

func (p *prop) pick(n int) int { return p.rng.Intn(n) }

// ---- operations ------------------------------------------------------------

func (p *prop) opCreate() {
	client := p.clients[p.pick(len(p.clients))]
	var pw *pworker
	addr := p.ghost
	if p.pick(10) > 0 {
		pw = p.workers[p.pick(len(p.workers))]
		addr = pw.w.addr
	}
	now := p.f.now()
	p.nonce++
	terms := p.f.terms(addr, fmt.Sprint(p.nonce))
	terms.MaxIn, terms.MaxOut = uint32(1+p.pick(100_000)), uint32(p.pick(20_000))
	terms.Deadline = now + minDeadline + uint32(p.pick(4*3600))
	if p.pick(2) == 0 { // deadlines close together: slashes that meet the cap
		terms.Deadline = now + minDeadline + uint32(p.pick(900))
	}
	if p.pick(3) == 0 {
		terms.Callback = p.anyone.Address
	}
	variant := p.pick(12)
	declined := false
	switch variant {
	case 0:
		terms.ModelID = otherModel
		declined = true
	case 1:
		terms.PriceOut = new(big.Int).Sub(priceOut, big.NewInt(1))
		declined = true
	case 2:
		terms.Deadline = now + maxDeadline + 1 + uint32(p.pick(1000))
		declined = true
	case 3:
		terms.PriceIn = new(big.Int).Add(priceIn, big.NewInt(int64(p.pick(1e9)))) // a generous client
	case 6:
		terms.Callback = unreachable
	}
	j := p.f.newJob(client, p.nonce, terms)
	escrow := new(big.Int).Add(bindings.MinEscrow(terms), big.NewInt(int64(p.pick(1e8))))
	short := variant == 4
	if short {
		escrow.Sub(bindings.MinEscrow(terms), big.NewInt(1+int64(p.pick(1e6))))
	}
	cancel := variant == 5
	pj := &pjob{j: j, w: pw, escrow: escrow}
	p.jobs = append(p.jobs, pj)
	p.byAddr[j.addr.StringRaw()] = pj
	p.track(j.addr)
	msgs := []*tlb.InternalMessage{j.createMsg(escrow)}
	if cancel {
		msgs = append(msgs, bt.Message(j.addr, opValue, bt.Body(bindings.Cancel{QueryID: p.nonce})))
	}
	p.logf("  job %d on %s: escrow %s, max %d/%d, variant %d", p.nonce, addr, escrow, terms.MaxIn, terms.MaxOut, variant)
	tr := p.send(client, msgs...)

	active := pw != nil && !pw.gone && pw.status == bindings.WorkerActive && now <= pw.validUntil
	switch {
	case short:
		p.f.refused(tr, j.addr, bindings.ErrEscrowTooLow)
		pj.closed = true // never opened
		return
	case variant == 6:
		p.f.refused(tr, j.addr, bindings.ErrBadTerms)
		pj.closed = true
		return
	}
	pj.opened = true
	switch {
	case cancel:
		p.expectClosed(tr, pj, bindings.ClosedCancelled)
	case pw == nil || pw.gone:
		p.expectClosed(tr, pj, bindings.ClosedOfferBounced)
	case declined || !active:
		p.expectClosed(tr, pj, bindings.ClosedDeclined)
		if !active {
			p.attacks["inactive"]++
		}
	default:
		pj.status = bindings.JobAccepted
		p.attacks["accepted"]++
		if st, ok := p.f.jobStatus(j); !ok || st != bindings.JobAccepted {
			p.t.Fatalf("job %d is %s, want accepted; trace:\n%s", p.nonce, st, tr)
		}
	}
}

// expectClosed requires the trace to close pj with reason and refund its client.
func (p *prop) expectClosed(tr *bt.Trace, pj *pjob, reason uint16) {
	p.t.Helper()
	ms, _ := all[bindings.JobClosed](tr)
	if len(ms) != 1 || ms[0].Reason != reason {
		p.t.Fatalf("job %d: JobClosed %v, want reason %d; trace:\n%s", pj.j.nonce, ms, reason, tr)
	}
	pj.closed = true
	pj.completed = reason == bindings.ClosedCompleted
}

func (p *prop) openJobs() []*pjob {
	var out []*pjob
	for _, j := range p.jobs {
		if !j.closed && j.status == bindings.JobAccepted {
			out = append(out, j)
		}
	}
	return out
}

func (p *prop) opReceipt() {
	open := p.openJobs()
	if len(open) == 0 {
		return
	}
	now := p.f.now()
	// Mostly a job still in time: a receipt is what workers send.
	if p.pick(5) > 0 {
		var live []*pjob
		for _, j := range open {
			// a third of the jobs their worker never serves: an outage
			if now <= j.j.terms.Deadline && j.j.nonce%3 != 0 {
				live = append(live, j)
			}
		}
		if len(live) > 0 {
			open = live
		}
	}
	pj := open[p.pick(len(open))]
	j := pj.j
	in, out := uint32(p.pick(int(j.terms.MaxIn)+1)), uint32(p.pick(int(j.terms.MaxOut)+1))
	r := j.receipt(in, out)
	key := pj.w.w.key
	var want bindings.ExitCode
	wrapped := false
	switch p.pick(11) {
	case 0:
		r.Failed = true
	case 1:
		r.InputTokens = j.terms.MaxIn + 1
		want = bindings.ErrTooManyTokens
	case 2:
		key = bt.KeyFor("impostor")
		want = bindings.ErrBadSignature
	case 3: // a result near the inline limit, encoded as the worker does
		c, err := bindings.InlineResult(make([]byte, bindings.InlineResultLimit-16+p.pick(33)))
		if err != nil {
			p.t.Fatal(err)
		}
		r.Result = c
	case 4: // an inline result over the Job's limit
		r.Result = bindings.MustCell(bindings.BytesCell(make([]byte, bindings.InlineResultLimit+1+p.pick(100))))
		want = bindings.ErrResultTooLarge
	case 5: // relayed with the Job's StateInit (import-fee inflation)
		wrapped = true
	}
	if now > j.terms.Deadline && want != bindings.ErrBadSignature {
		want = bindings.ErrDeadlinePassed
	}
	if wrapped {
		want = bindings.ErrReceiptStateInit
	}
	p.logf("  receipt for job %d: %d/%d failed %v wrapped %v, expect %v", j.nonce, r.InputTokens, r.OutputTokens, r.Failed, wrapped, want)
	var tr *bt.Trace
	var err error
	if wrapped {
		tr, err = p.wrappedReceipt(pj, key, r)
	} else {
		tr, err = p.f.receipt(key, r)
	}
	if want != 0 {
		if code, ok := bt.RefusalCode(err); !ok || code != want {
			p.t.Fatalf("receipt for job %d: %v, want %s", j.nonce, err, want)
		}
		return
	}
	if err != nil {
		p.t.Fatalf("receipt for job %d: %v", j.nonce, err)
	}
	p.record(tr)
	if r.Failed {
		p.expectClosed(tr, pj, bindings.ClosedFailed)
		return
	}
	p.expectClosed(tr, pj, bindings.ClosedCompleted)
	charge := bindings.Charge(j.terms.PriceIn, j.terms.PriceOut, in, out)
	fee := bindings.Fee(charge, feeBps)
	p.wantFees.Add(p.wantFees, fee)
	if !pj.w.gone {
		pj.w.earnings.Add(pj.w.earnings, new(big.Int).Sub(charge, fee))
	}
}

// wrappedReceipt sends the receipt in an external message that also
// carries the Job's StateInit.
func (p *prop) wrappedReceipt(pj *pjob, key ed25519.PrivateKey, r bindings.Receipt) (*bt.Trace, error) {
	body, err := bindings.SignReceipt(key, r)
	if err != nil {
		p.t.Fatal(err)
	}
	c, err := tlb.ToCell(&tlb.ExternalMessage{DstAddr: pj.j.addr, StateInit: pj.j.si, Body: body})
	if err != nil {
		p.t.Fatal(err)
	}
	return p.f.env.SendExternal(p.f.ctx, c.ToBOC())
}

func (p *prop) opRefund() {
	var cands []*pjob
	now := p.f.now()
	expired := p.pick(2) == 0 // half the time an accepted job past its deadline, if any
	for _, j := range p.jobs {
		if expired && (j.closed || j.status != bindings.JobAccepted || now <= j.j.terms.Deadline) {
			continue
		}
		if !j.closed || p.pick(4) == 0 { // now and then a closed one
			cands = append(cands, j)
		}
	}
	if len(cands) == 0 {
		return
	}
	pj := cands[p.pick(len(cands))]
	p.logf("  refund job %d (closed %v, deadline %d, now %d)", pj.j.nonce, pj.closed, pj.j.terms.Deadline, now)
	tr := p.send(p.anyone, bt.Message(pj.j.addr, opValue, bt.Body(bindings.Refund{})))
	switch {
	case pj.closed:
		if len(tr.Bounces()) != 1 {
			p.t.Fatalf("a refund of closed job %d did not bounce:\n%s", pj.j.nonce, tr)
		}
	case now <= pj.j.terms.Deadline:
		p.f.refused(tr, pj.j.addr, bindings.ErrDeadlineNotReached)
	default:
		p.expectClosed(tr, pj, bindings.ClosedExpired)
		p.slash(tr, pj, now)
		if pj.w.status == bindings.WorkerActive && pj.w.stake.Cmp(minStake) < 0 {
			pj.w.status = bindings.WorkerSlashed
		}
	}
}

// slash is the model of the Slash an expired accepted job pj sends its
// worker when refunded at time now: none after RefundWindow; of the jobs
// whose deadlines lie less than SlashWindow apart at most
// MaxSlashesPerWindow take stake; the client gets at most the job's value.
func (p *prop) slash(tr *bt.Trace, pj *pjob, now uint32) {
	w := pj.w
	if w.gone {
		return
	}
	comp, sent := all[bindings.SlashCompensation](tr)
	if now > pj.j.terms.Deadline+bindings.RefundWindow {
		// a late refund returns the escrow and slashes nothing
		p.attacks["late refund"]++
		if len(comp) != 0 {
			p.t.Fatalf("expired job %d refunded %ds after its deadline: %d compensations, want none", pj.j.nonce, now-pj.j.terms.Deadline, len(comp))
		}
		return
	}
	if len(comp) != 1 {
		p.t.Fatalf("expired job %d: %d compensations", pj.j.nonce, len(comp))
	}
	// Of the jobs whose deadlines lie less than SlashWindow apart, at most
	// MaxSlashesPerWindow take stake, whenever their refunds come.
	deadline, near := pj.j.terms.Deadline, 0
	for d, n := range w.slashed {
		if max(d, deadline)-min(d, deadline) < bindings.SlashWindow {
			near += n
		}
	}
	paid := new(big.Int)
	if near < bindings.MaxSlashesPerWindow {
		if w.slashed == nil {
			w.slashed = map[uint32]int{}
		}
		w.slashed[deadline]++
		p.attacks["slash"]++
		var amount *big.Int
		amount, paid, _ = bindings.SlashSplit(w.stake, slashBps, bindings.MaxCost(pj.j.terms))
		w.stake.Sub(w.stake, amount)
	} else {
		p.attacks["slash capped"]++
	}
	if sent[0].Value.Cmp(new(big.Int).Add(paid, big.NewInt(bindings.NotifyGas))) > 0 {
		p.t.Fatalf("expired job %d: compensation %s, want at most %s + NOTIFY_GAS", pj.j.nonce, sent[0].Value, paid)
	}
}

func (p *prop) opTime() {
	d := time.Duration(60+p.pick(3*3600)) * time.Second
	if p.pick(2) == 0 { // short steps: refunds inside the refund window
		d = time.Duration(30+p.pick(1200)) * time.Second
	}
	if p.pick(10) == 0 {
		d = unbondingDelay * time.Second
	}
	p.logf("  +%s", d)
	if err := p.f.env.AdvanceTime(p.f.ctx, d); err != nil {
		p.t.Fatal(err)
	}
	// Most daemons renew as they should; the others' registrations lapse.
	for _, w := range p.workers {
		if !w.gone && w.status == bindings.WorkerActive && p.pick(4) > 0 {
			p.renew(w, false)
		}
	}
}

func (p *prop) someWorker() *pworker { return p.workers[p.pick(len(p.workers))] }

func (p *prop) opTopUp() {
	w := p.someWorker()
	value := bt.TON(fmt.Sprint(1 + p.pick(5)))
	tr := p.send(w.w.owner, bt.Message(w.w.addr, value, bt.Body(bindings.TopUp{})))
	switch {
	case w.gone:
		if len(tr.Bounces()) != 1 {
			p.t.Fatalf("a top-up of a withdrawn worker did not bounce:\n%s", tr)
		}
	case w.status == bindings.WorkerUnbonding:
		p.f.refused(tr, w.w.addr, bindings.ErrWrongStatus)
	default:
		p.f.noFailures(tr)
		w.stake.Add(w.stake, new(big.Int).Sub(value, big.NewInt(bindings.NotifyGas)))
	}
}

func (p *prop) opWithdrawEarnings() {
	w := p.someWorker()
	tr := p.send(w.w.owner, bt.Message(w.w.addr, opValue, bt.Body(bindings.WithdrawEarnings{})))
	switch {
	case w.gone:
		if len(tr.Bounces()) != 1 {
			p.t.Fatalf("withdrawing from a withdrawn worker did not bounce:\n%s", tr)
		}
	case w.earnings.Sign() == 0 && len(tr.Bounces()) == 1:
		// nothing beyond the stake, the fees owed and the reserve
		p.f.refused(tr, w.w.addr, bindings.ErrNothingToWithdraw)
	default:
		_, m := one[bindings.EarningsPaid](p.f, tr)
		if m.Value.Cmp(w.earnings) < 0 {
			p.t.Fatalf("EarningsPaid %s, earnings were %s", m.Value, w.earnings)
		}
		// What stays is the stake, the fees owed and the storage reserve.
		keep := new(big.Int).Add(w.stake, p.f.feesOwed(w.w))
		keep.Add(keep, big.NewInt(bindings.WorkerStorageReserve))
		if bal := p.f.balance(w.w.addr); bal.Cmp(keep) > 0 {
			p.t.Fatalf("worker %s holds %s after WithdrawEarnings, more than stake + fees owed + reserve = %s", w.w.name, bal, keep)
		}
		w.earnings.SetInt64(0)
	}
}

func (p *prop) opUpdate() {
	w := p.someWorker()
	if w.gone {
		// A withdrawn worker registers again at the same address, picking
		// up whatever was paid to it after it left.
		stake := bt.TON(fmt.Sprint(10 + p.pick(20)))
		tr := p.send(w.w.owner, bt.Deploy(w.w.si, new(big.Int).Add(stake, big.NewInt(bindings.WorkerRegisterFee)), bt.Body(bindings.WorkerRegister{Profile: profile(w.w.name), Agreed: p.f.agreed()})))
		p.f.noFailures(tr)
		w.gone, w.status, w.stake, w.earnings = false, bindings.WorkerActive, stake, new(big.Int)
		w.slashed = nil
		w.validUntil = tr.Txs[0].Now + bindings.RegistrationTTL
		return
	}
	tr := p.send(w.w.owner, bt.Message(w.w.addr, opValue, bt.Body(bindings.WorkerUpdate{Profile: profile(w.w.name), Agreed: p.f.agreed()})))
	switch {
	case w.status == bindings.WorkerUnbonding || w.status == bindings.WorkerPending:
		p.f.refused(tr, w.w.addr, bindings.ErrWrongStatus)
	case w.stake.Cmp(minStake) < 0:
		p.f.noFailures(tr)
		w.status = bindings.WorkerInactive
	default:
		p.f.noFailures(tr)
		w.status = bindings.WorkerActive
		w.validUntil = tr.Txs[0].Now + bindings.RegistrationTTL
	}
}

// opRenew is the daemon's renewal: signed with the worker key, sent by
// anyone; now and then with a signature of an earlier registration (a
// replay), which must be refused.
func (p *prop) opRenew() { p.renew(p.someWorker(), p.pick(5) == 0) }

func (p *prop) renew(w *pworker, replay bool) {
	if w.gone {
		return
	}
	validUntil := w.validUntil
	if replay {
		validUntil -= 1 + uint32(p.pick(3600))
	}
	renew, err := bindings.SignRenew(w.w.key, w.w.addr, validUntil, 1)
	if err != nil {
		p.t.Fatal(err)
	}
	p.logf("  renew %s (replay %v)", w.w.name, replay)
	tr := p.send(p.anyone, bt.Message(w.w.addr, big.NewInt(bindings.RenewValue), bt.Body(renew)))
	switch {
	case w.status != bindings.WorkerActive:
		p.f.refused(tr, w.w.addr, bindings.ErrWrongStatus)
	case replay:
		p.f.refused(tr, w.w.addr, bindings.ErrBadRenewSignature)
	default:
		p.f.noFailures(tr)
		w.validUntil = tr.Txs[0].Now + bindings.RegistrationTTL
	}
}

func (p *prop) opUnbond() {
	w := p.someWorker()
	tr := p.send(w.w.owner, bt.Message(w.w.addr, opValue, bt.Body(bindings.RequestUnbond{})))
	switch {
	case w.gone:
		if len(tr.Bounces()) != 1 {
			p.t.Fatalf("unbonding a withdrawn worker did not bounce:\n%s", tr)
		}
	case w.status == bindings.WorkerUnbonding:
		p.f.refused(tr, w.w.addr, bindings.ErrWrongStatus)
	default:
		p.f.noFailures(tr)
		w.status = bindings.WorkerUnbonding
		w.since = tr.Txs[0].Now
	}
}

func (p *prop) opWithdraw() {
	w := p.someWorker()
	if w.gone {
		return
	}
	now := p.f.now()
	tr := p.send(w.w.owner, bt.Message(w.w.addr, opValue, bt.Body(bindings.Withdraw{})))
	switch {
	case w.status != bindings.WorkerUnbonding:
		p.f.refused(tr, w.w.addr, bindings.ErrWrongStatus)
	case now <= w.since+unbondingDelay:
		p.f.refused(tr, w.w.addr, bindings.ErrUnbondingNotOver)
	default:
		_, m := one[bindings.StakeReturned](p.f, tr)
		if need := new(big.Int).Add(w.stake, w.earnings); m.Value.Cmp(need) < 0 {
			p.t.Fatalf("StakeReturned %s, stake + earnings were %s", m.Value, need)
		}
		w.gone = true
	}
}

// opRecreate is attack 1: JobCreate, Cancel and a JobCreate of the same
// nonce with terms the worker never saw, in one wallet message. The second
// job must never be accepted (the first offer's Accept is stale).
func (p *prop) opRecreate() {
	pw := p.someWorker()
	client := p.clients[p.pick(len(p.clients))]
	now := p.f.now()
	p.nonce++
	good := p.f.terms(pw.w.addr, fmt.Sprint(p.nonce))
	evil := good
	evil.ModelID, evil.PriceIn, evil.PriceOut, evil.Deadline = otherModel, big.NewInt(0), big.NewInt(0), now+1
	evil.RequestHash = hash(fmt.Sprint("evil ", p.nonce))
	first, second := p.f.newJob(client, p.nonce, good), p.f.newJob(client, p.nonce, evil)
	escrow := new(big.Int).Add(bindings.MinEscrow(evil), bt.TON("0.1"))
	pj := &pjob{j: second, w: pw, escrow: escrow, lives: 2, opened: true}
	p.jobs = append(p.jobs, pj)
	p.byAddr[second.addr.StringRaw()] = pj
	p.track(second.addr)
	p.logf("  recreate job %d on %s", p.nonce, pw.w.addr)
	p.attacks["recreate"]++
	tr := p.send(client,
		first.createMsg(new(big.Int).Add(bindings.MinEscrow(good), bt.TON("0.1"))),
		bt.Message(first.addr, opValue, bt.Body(bindings.Cancel{QueryID: p.nonce})),
		second.createMsg(escrow))
	if st, ok := p.f.jobStatus(second); ok && st == bindings.JobAccepted {
		p.t.Fatalf("job %d was accepted with terms the worker never saw; trace:\n%s", p.nonce, tr)
	}
	closed, _ := all[bindings.JobClosed](tr)
	want := uint16(bindings.ClosedDeclined)
	if pw.gone {
		want = bindings.ClosedOfferBounced
	}
	if len(closed) != 2 || closed[0].Reason != bindings.ClosedCancelled || closed[1].Reason != want {
		p.t.Fatalf("job %d: closes %v, want cancelled then %d; trace:\n%s", p.nonce, closed, want, tr)
	}
	pj.closed = true
}

// opRedeployWorker is attack 2 on a withdrawn worker: in one wallet message
// register with 20 TON, unbond, withdraw, register again with a bad
// profile and no stake. Only the first registration stands.
func (p *prop) opRedeployWorker() {
	w := p.someWorker()
	if !w.gone {
		// A worker not deployed yet: the attack's first registration is its first.
		if len(p.workers) >= 6 {
			return
		}
		name := fmt.Sprintf("pw%d", len(p.workers))
		w = &pworker{w: p.f.newWorker(name, p.miners[p.pick(len(p.miners))]), stake: new(big.Int), earnings: new(big.Int), gone: true}
		p.workers = append(p.workers, w)
		p.track(w.w.addr)
	}
	bad := profile(w.w.name)
	bad.TEE, bad.Measurement = bindings.TEEDev, devMeas
	stake := bt.TON("20")
	agreed := p.f.agreed()
	p.logf("  redeploy worker %s", w.w.name)
	p.attacks["redeploy"]++
	tr := p.send(w.w.owner,
		bt.Deploy(w.w.si, new(big.Int).Add(stake, big.NewInt(bindings.WorkerRegisterFee)), bt.Body(bindings.WorkerRegister{QueryID: 1, Profile: profile(w.w.name), Agreed: agreed})),
		bt.Message(w.w.addr, opValue, bt.Body(bindings.RequestUnbond{QueryID: 2})),
		bt.Message(w.w.addr, opValue, bt.Body(bindings.Withdraw{QueryID: 3})),
		bt.Deploy(w.w.si, bt.TON("0.06"), bt.Body(bindings.WorkerRegister{QueryID: 4, Profile: bad, Agreed: agreed})),
	)
	p.f.refused(tr, w.w.addr, bindings.ErrWrongStatus)
	w.gone, w.status, w.stake, w.earnings = false, bindings.WorkerActive, stake, new(big.Int)
	w.slashed = nil
	w.validUntil = tr.Txs[0].Now + bindings.RegistrationTTL
}

// opUpdateDuringRefund is attack 9: the owner re-registers while an expired
// job's Refund slashes the worker; Root's Activate, computed before the
// slash, must not leave the worker active below the minimum.
func (p *prop) opUpdateDuringRefund() {
	now := p.f.now()
	var cands []*pjob
	for _, j := range p.jobs {
		if !j.closed && j.status == bindings.JobAccepted && now > j.j.terms.Deadline && !j.w.gone &&
			(j.w.status == bindings.WorkerActive || j.w.status == bindings.WorkerInactive || j.w.status == bindings.WorkerSlashed) {
			cands = append(cands, j)
		}
	}
	if len(cands) == 0 {
		return
	}
	pj := cands[p.pick(len(cands))]
	w := pj.w
	p.logf("  update %s while refunding job %d", w.w.name, pj.j.nonce)
	p.attacks["update during refund"]++
	before := new(big.Int).Set(w.stake)
	tr := p.send(w.w.owner,
		bt.Message(w.w.addr, opValue, bt.Body(bindings.WorkerUpdate{QueryID: 1, Profile: profile(w.w.name), Agreed: p.f.agreed()})),
		bt.Message(pj.j.addr, opValue, bt.Body(bindings.Refund{QueryID: 2})),
	)
	p.expectClosed(tr, pj, bindings.ClosedExpired)
	p.slash(tr, pj, now)
	switch {
	case before.Cmp(minStake) < 0: // Root rejects the stake it was told
		w.status = bindings.WorkerInactive
	case w.stake.Cmp(minStake) < 0: // the Activate finds the stake slashed below
		w.status = bindings.WorkerSlashed
	default:
		w.status = bindings.WorkerActive
		w.validUntil = now + bindings.RegistrationTTL
	}
}

// opAnnounce is attack 5's first step: the owner announces a 100% slash
// rate; it cannot be applied before the timelock, and is cancelled.
func (p *prop) opAnnounce() {
	evil := p.f.params
	evil.SlashBps = 10000
	p.logf("  announce a 100%% slash rate, apply early, cancel")
	p.f.noFailures(p.send(p.f.owner, bt.Message(p.f.root, opValue, bt.Body(bindings.SetParams{QueryID: 1, Params: evil}))))
	p.f.refused(p.send(p.anyone, bt.Message(p.f.root, opValue, bt.Body(bindings.ApplyChange{QueryID: 2}))), p.f.root, bindings.ErrTimelockNotOver)
	p.f.noFailures(p.send(p.f.owner, bt.Message(p.f.root, opValue, bt.Body(bindings.CancelChange{QueryID: 3}))))
}

// ---- invariants --------------------------------------------------------------

func (p *prop) check() {
	p.t.Helper()
	f := p.f
	// No Toncoin created or lost: what the accounts hold now plus what all
	// transactions burnt is what they held at the start.
	now := p.sum()
	if got := new(big.Int).Add(now, p.burnt); got.Cmp(p.total) != 0 {
		p.t.Fatalf("balances %s + burnt %s = %s, but the accounts started with %s (diff %s)",
			now, p.burnt, got, p.total, new(big.Int).Sub(got, p.total))
	}
	// Every fee of a completed job reached the treasury or is still owed
	// by a live Worker (which sends it in a batch or at Withdraw).
	owed := new(big.Int)
	for _, w := range p.workers {
		if !w.gone {
			owed.Add(owed, f.feesOwed(w.w))
		}
	}
	if got := new(big.Int).Add(p.fees, owed); got.Cmp(p.wantFees) != 0 {
		p.t.Fatalf("the treasury was sent %s in fees and the workers owe %s, but the completed jobs owe %s", p.fees, owed, p.wantFees)
	}
	for _, j := range p.jobs {
		acc, err := f.env.Chain.Account(f.ctx, j.j.addr)
		if err != nil {
			p.t.Fatal(err)
		}
		if j.paid > 0 && !j.completed {
			p.t.Fatalf("job %d paid its worker but did not complete", j.j.nonce)
		}
		if !j.closed {
			if acc.Status != chain.StatusActive {
				p.t.Fatalf("open job %d is %s", j.j.nonce, acc.Status)
			}
			continue
		}
		// A closed job keeps nothing (but what arrived after it closed).
		if acc.Status == chain.StatusActive && acc.Balance.Sign() != 0 {
			p.t.Fatalf("closed job %d is active with %s", j.j.nonce, acc.Balance)
		}
		if j.opened && (j.closes != max(j.lives, 1) || j.refund == nil) {
			p.t.Fatalf("closed job %d refunded its client %d times", j.j.nonce, j.closes)
		}
		// A job not completed gives the client all but gas back.
		if !j.completed && j.refund != nil {
			if spent := new(big.Int).Sub(j.escrow, j.refund); spent.Cmp(big.NewInt(bindings.JobGasReserve)) > 0 {
				p.t.Fatalf("job %d (not completed) kept %s of the client's escrow", j.j.nonce, spent)
			}
		}
	}
	if p.stranded.Cmp(new(big.Int).Mul(big.NewInt(bindings.OfferValue), big.NewInt(int64(len(p.jobs))))) > 0 {
		p.t.Fatalf("%s stranded at closed jobs", p.stranded)
	}
	for _, w := range p.workers {
		d, err := w.w.c.WorkerData(f.ctx)
		if err != nil {
			p.t.Fatal(err)
		}
		if w.gone {
			if d.Deployed {
				p.t.Fatalf("withdrawn worker %s still exists", w.w.name)
			}
			continue
		}
		st := f.workerState(w.w)
		if d.Status != w.status || st.Stake.Cmp(w.stake) != 0 || st.Earnings.Cmp(w.earnings) != 0 {
			p.t.Fatalf("worker %s: %s, stake %s, earnings %s; the model says %s, %s, %s",
				w.w.name, d.Status, st.Stake, st.Earnings, w.status, w.stake, w.earnings)
		}
		f.workerSolvent(w.w)
	}
}
