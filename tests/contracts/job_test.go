package contracts_test

import (
	"bytes"
	"crypto/ed25519"
	"fmt"
	"math/big"
	"testing"
	"time"

	"github.com/xssnick/tonutils-go/address"
	"github.com/xssnick/tonutils-go/tlb"
	"github.com/xssnick/tonutils-go/tvm/cell"

	"github.com/cocoon-network/cocoon/bindings"
	"github.com/cocoon-network/cocoon/offchain/chain"
	bt "github.com/cocoon-network/cocoon/offchain/contracttest"
)

// ledger is an account's whole history in sums: the value it received,
// the value it sent by opcode (0xffffffff: bounces), and what it burnt
// (its transactions' fees and the forwarding fees of what it sent).
type ledger struct {
	in   *big.Int
	out  map[uint32]*big.Int
	cost *big.Int
}

func ledgerOf(f *fixture, addr *address.Address) ledger {
	f.t.Helper()
	l := ledger{in: new(big.Int), out: map[uint32]*big.Int{}, cost: new(big.Int)}
	txs, err := f.env.Chain.Transactions(f.ctx, addr, chain.TxID{}, 1000)
	if err != nil {
		f.t.Fatal(err)
	}
	for _, tx := range txs {
		l.in.Add(l.in, bt.InValue(tx))
		l.cost.Add(l.cost, tx.Tx.TotalFees.Coins.Nano())
		if tx.Tx.IO.Out == nil {
			continue
		}
		msgs, err := tx.Tx.IO.Out.ToSlice()
		if err != nil {
			f.t.Fatal(err)
		}
		for _, m := range msgs {
			if m.MsgType != tlb.MsgTypeInternal {
				continue
			}
			im := m.AsInternal()
			op := uint32(0)
			if im.Body != nil && im.Body.BitsSize() >= 32 {
				op = uint32(im.Body.BeginParse().MustLoadUInt(32))
			}
			if l.out[op] == nil {
				l.out[op] = new(big.Int)
			}
			l.out[op].Add(l.out[op], im.Amount.Nano())
			l.cost.Add(l.cost, im.FwdFee.Nano())
		}
	}
	return l
}

// refundCheck checks a closed job's money: it sent exactly the expected
// amounts (by opcode) besides the Offer and the final JobClosed, and the
// JobClosed refund is everything else it received less what it burnt.
func refundCheck(f *fixture, j *job, refund *big.Int, want map[uint32]*big.Int) {
	f.t.Helper()
	l := ledgerOf(f, j.addr)
	rest := new(big.Int).Sub(l.in, l.cost)
	for op, v := range l.out {
		switch op {
		case bindings.OpJobClosed:
			if v.Cmp(refund) != 0 {
				f.t.Errorf("JobClosed carried %s in all, the refund was %s", v, refund)
			}
			continue
		case bindings.OpOffer:
		default:
			w, ok := want[op]
			if !ok {
				f.t.Errorf("the job sent %s with opcode 0x%08x", v, op)
			} else if w != nil && v.Cmp(w) != 0 { // nil: any amount
				f.t.Errorf("the job sent %s with opcode 0x%08x, want %s", v, op, w)
			}
		}
		rest.Sub(rest, v)
	}
	for op, w := range want {
		if w != nil && l.out[op] == nil {
			f.t.Errorf("the job sent nothing with opcode 0x%08x", op)
		}
	}
	if rest.Cmp(refund) != 0 {
		f.t.Errorf("refund %s, but the job received %s, burnt %s and sent %v: %s should be left", refund, l.in, l.cost, l.out, rest)
	}
}

// nearBelow reports whether v is in (want - slack, want].
func nearBelow(v, want, slack *big.Int) bool {
	return v.Cmp(want) <= 0 && new(big.Int).Sub(want, v).Cmp(slack) < 0
}

// TestJobLifecycle: create → offer → accept → receipt → payouts, with every
// amount checked to the nanoton.
func TestJobLifecycle(t *testing.T) {
	f := newFixture(t)
	miner := f.wallet("miner", "100")
	client := f.wallet("client", "100")
	callback := f.wallet("callback", "1")
	w := f.activeWorker("w", miner, bt.TON("20"))
	j := f.newJob(client, 1, f.terms(w.addr, "1"))
	j.terms.Callback = callback.Address
	j.terms.IsPublic = true
	createdAt := f.now()

	create, escrow := f.accepted(j)
	offer, sent := one[bindings.Offer](f, create)
	// Sent with mode 0: the forwarding fee comes out of OFFER_VALUE.
	if !sent.To.Equals(w.addr) || !nearBelow(sent.Value, big.NewInt(bindings.OfferValue), bt.TON("0.002")) || !offer.Client.Equals(client.Address) || offer.Nonce != 1 ||
		offer.ModelID != modelID || offer.PriceIn.Cmp(priceIn) != 0 || offer.PriceOut.Cmp(priceOut) != 0 || offer.Deadline != j.terms.Deadline {
		t.Errorf("Offer %+v with %s to %s", offer, sent.Value, sent.To)
	}
	acc, acceptMsg := one[bindings.Accept](f, create)
	if acc.WorkerKey != w.pub() || acc.FeeBps != feeBps || !acc.Treasury.Equals(f.treasury.Address) || !acceptMsg.To.Equals(j.addr) {
		t.Errorf("Accept %+v", acc)
	}
	d, err := j.c.JobData(f.ctx)
	if err != nil || !d.Root.Equals(f.root) || !d.Client.Equals(client.Address) || d.Nonce != 1 || d.Status != bindings.JobAccepted {
		t.Errorf("job_data %+v %v", d, err)
	}
	terms, err := j.c.JobTerms(f.ctx)
	if err != nil {
		t.Fatal(err)
	}
	tt := terms.Terms()
	if tt.ModelID != modelID || !tt.Worker.Equals(w.addr) || tt.PriceIn.Cmp(priceIn) != 0 || tt.PriceOut.Cmp(priceOut) != 0 ||
		tt.MaxIn != 4096 || tt.MaxOut != 1024 || tt.Deadline != j.terms.Deadline || tt.ClientHPKEKey != j.terms.ClientHPKEKey ||
		tt.RequestHash != j.terms.RequestHash || !tt.Callback.Equals(callback.Address) || !tt.IsPublic ||
		terms.WorkerKey != w.pub() || terms.FeeBps != feeBps || terms.CreatedAt != createdAt {
		t.Errorf("job_terms %+v", terms)
	}
	if mc, err := j.c.MaxCost(f.ctx); err != nil || mc.Cmp(bindings.MaxCost(j.terms)) != 0 {
		t.Errorf("max_cost() = %v, %v; bindings say %s", mc, err, bindings.MaxCost(j.terms))
	}
	if req, err := j.c.Request(f.ctx); err != nil || req == nil || !bytes.Equal(req.Hash(), requestCell(1).Hash()) {
		t.Errorf("request() = %v, %v", req, err)
	}

	// The receipt pays out and closes the job.
	r := j.receipt(1234, 567)
	r.Result = cell.BeginCell().MustStoreStringSnake("the answer").EndCell()
	tr, err := f.receipt(w.key, r)
	if err != nil {
		t.Fatal(err)
	}
	f.noFailures(tr)
	charge := bindings.Charge(priceIn, priceOut, 1234, 567)
	fee := bindings.Fee(charge, feeBps)
	pay := new(big.Int).Sub(charge, fee)

	// The charge goes to the Worker in one message; the fee of it is owed
	// to the treasury (sent in batches), not sent by the job.
	paid, paidMsg := one[bindings.JobPaid](f, tr)
	if !paidMsg.To.Equals(w.addr) || paidMsg.Value.Cmp(new(big.Int).Add(charge, big.NewInt(bindings.NotifyGas))) != 0 || paid.Nonce != 1 || !paid.Client.Equals(client.Address) || paid.Fee.Cmp(fee) != 0 {
		t.Errorf("JobPaid %+v with %s, want %s + NOTIFY_GAS and fee %s", paid, paidMsg.Value, charge, fee)
	}
	none[bindings.ProtocolFees](f, tr)
	cb, cbMsg := one[bindings.JobCallback](f, tr)
	if !cbMsg.To.Equals(callback.Address) || !cb.Job.Equals(j.addr) || cb.ResultHash != r.ResultHash || cb.Result == nil || !bytes.Equal(cb.Result.Hash(), r.Result.Hash()) {
		t.Errorf("JobCallback %+v to %s", cb, cbMsg.To)
	}
	// JobClosed tells watchers the outcome (there is no event to pay for).
	closed, closedMsg := one[bindings.JobClosed](f, tr)
	if closed.Reason != bindings.ClosedCompleted || !closedMsg.To.Equals(client.Address) || closed.Charge.Cmp(charge) != 0 || closed.Fee.Cmp(fee) != 0 || closed.ResultHash != r.ResultHash {
		t.Errorf("JobClosed %+v to %s, want charge %s fee %s", closed, closedMsg.To, charge, fee)
	}
	if evs := tr.Events(j.addr); len(evs) != 0 {
		t.Errorf("%d job events, want none", len(evs))
	}
	if txs := tr.On(j.addr); len(txs) != 1 {
		t.Errorf("%d job transactions in the receipt's trace", len(txs))
	} else if c, ok := bindings.JobClosedIn(txs[0].Tx); !ok || c.Reason != bindings.ClosedCompleted || c.Charge.Cmp(charge) != 0 {
		t.Errorf("JobClosedIn(the receipt's transaction) = %+v, %v", c, ok)
	}
	for _, tx := range create.On(j.addr) {
		if c, ok := bindings.JobClosedIn(tx.Tx); ok {
			t.Errorf("JobClosedIn(a transaction of the job's creation) = %+v", c)
		}
	}

	// The worker is paid exactly its share; the job is gone.
	st := f.workerState(w)
	if st.Earnings.Cmp(pay) != 0 || st.TotalEarned.Cmp(pay) != 0 || st.JobsCompleted != 1 || st.JobsFailed != 0 || st.JobsSlashed != 0 || st.Stake.Cmp(bt.TON("20")) != 0 {
		t.Errorf("worker after the job: %+v (pay %s)", st, pay)
	}
	if owed := f.feesOwed(w); owed.Cmp(fee) != 0 {
		t.Errorf("the worker owes the treasury %s, want the fee %s", owed, fee)
	}
	f.workerSolvent(w)
	f.gone(j.addr)
	if d, err := j.c.JobData(f.ctx); err != nil || d.Deployed {
		t.Errorf("job_data of a closed job: %+v %v", d, err)
	}

	// The job paid exactly charge + NOTIFY_GAS to the worker, NOTIFY_GAS
	// to the callback, and everything else back to the client: the escrow
	// less the charge and the gas.
	refund := closedMsg.Value
	refundCheck(f, j, refund, map[uint32]*big.Int{
		bindings.OpJobPaid:     new(big.Int).Add(charge, big.NewInt(bindings.NotifyGas)),
		bindings.OpJobCallback: big.NewInt(bindings.NotifyGas),
	})
	spent := new(big.Int).Sub(escrow, refund)
	if limit := new(big.Int).Add(charge, big.NewInt(bindings.JobGasReserve)); spent.Cmp(limit) > 0 {
		t.Errorf("the client paid %s, more than charge + JOB_GAS_RESERVE = %s", spent, limit)
	}
	t.Logf("escrow %s, charge %s (fee %s), refund %s: the job's gas and notifications cost %s", escrow, charge, fee, refund, new(big.Int).Sub(spent, charge))

	// Replays and a second receipt find no contract.
	before := f.workerState(w)
	if _, err := f.receipt(w.key, r); err == nil {
		t.Error("a replayed receipt was accepted")
	}
	r2 := j.receipt(1, 1)
	if _, err := f.receipt(w.key, r2); err == nil {
		t.Error("a second receipt was accepted")
	}
	if after := f.workerState(w); after.Earnings.Cmp(before.Earnings) != 0 || after.JobsCompleted != before.JobsCompleted {
		t.Error("a refused receipt changed the worker")
	}

	// The worker withdraws its earnings.
	tr = f.send(miner, bt.Message(w.addr, opValue, bt.Body(bindings.WithdrawEarnings{QueryID: 9})))
	f.noFailures(tr)
	ep, epMsg := one[bindings.EarningsPaid](f, tr)
	if ep.QueryID != 9 || !epMsg.To.Equals(miner.Address) || epMsg.Value.Cmp(pay) < 0 || epMsg.Value.Cmp(new(big.Int).Add(pay, opValue)) > 0 {
		t.Errorf("EarningsPaid %+v with %s, want %s plus change", ep, epMsg.Value, pay)
	}
	if st := f.workerState(w); st.Earnings.Sign() != 0 || st.TotalEarned.Cmp(pay) != 0 || st.Stake.Cmp(bt.TON("20")) != 0 {
		t.Errorf("worker after withdrawing earnings: %+v", st)
	}
	f.workerSolvent(w)
}

func TestJobFailureReceipt(t *testing.T) {
	f := newFixture(t)
	miner := f.wallet("miner", "100")
	client := f.wallet("client", "100")
	w := f.activeWorker("w", miner, bt.TON("20"))
	j := f.newJob(client, 2, f.terms(w.addr, "2"))
	_, escrow := f.accepted(j)

	r := j.receipt(0, 0)
	r.Failed = true
	tr, err := f.receipt(w.key, r)
	if err != nil {
		t.Fatal(err)
	}
	f.noFailures(tr)
	_, failedMsg := one[bindings.JobFailed](f, tr)
	if !failedMsg.To.Equals(w.addr) || failedMsg.Value.Int64() != bindings.NotifyGas {
		t.Errorf("JobFailed with %s to %s", failedMsg.Value, failedMsg.To)
	}
	none[bindings.JobPaid](f, tr)
	none[bindings.ProtocolFees](f, tr)
	none[bindings.Slash](f, tr)
	closed, closedMsg := one[bindings.JobClosed](f, tr)
	if closed.Reason != bindings.ClosedFailed || !closedMsg.To.Equals(client.Address) {
		t.Errorf("JobClosed %+v to %s", closed, closedMsg.To)
	}
	// Full refund: only gas is spent.
	refundCheck(f, j, closedMsg.Value, map[uint32]*big.Int{bindings.OpJobFailed: big.NewInt(bindings.NotifyGas)})
	if spent := new(big.Int).Sub(escrow, closedMsg.Value); spent.Cmp(big.NewInt(bindings.JobGasReserve)) > 0 {
		t.Errorf("a failed job cost the client %s", spent)
	}
	st := f.workerState(w)
	if st.JobsFailed != 1 || st.JobsCompleted != 0 || st.JobsSlashed != 0 || st.Earnings.Sign() != 0 || st.Stake.Cmp(bt.TON("20")) != 0 {
		t.Errorf("worker after a failure receipt: %+v", st)
	}
	f.gone(j.addr)
}

// TestReceiptRefusals: every invalid receipt is refused before the job
// pays for it (SendExternal fails with the named code) and changes nothing.
func TestReceiptRefusals(t *testing.T) {
	f := newFixture(t)
	miner := f.wallet("miner", "100")
	client := f.wallet("client", "100")
	w := f.activeWorker("w", miner, bt.TON("20"))
	j := f.newJob(client, 3, f.terms(w.addr, "3"))
	other := f.newJob(client, 4, f.terms(w.addr, "4"))
	f.accepted(j)
	impostor := bt.KeyFor("impostor")

	cases := []struct {
		name   string
		key    ed25519.PrivateKey
		adjust func(r *bindings.Receipt)
		code   bindings.ExitCode
	}{
		{"signed by another key", impostor, func(*bindings.Receipt) {}, bindings.ErrBadSignature},
		{"naming another job", w.key, func(r *bindings.Receipt) { r.Job = other.addr }, bindings.ErrWrongJob},
		{"another request", w.key, func(r *bindings.Receipt) { r.RequestHash = hash("other request") }, bindings.ErrRequestMismatch},
		{"too many input tokens", w.key, func(r *bindings.Receipt) { r.InputTokens = j.terms.MaxIn + 1 }, bindings.ErrTooManyTokens},
		{"too many output tokens", w.key, func(r *bindings.Receipt) { r.OutputTokens = j.terms.MaxOut + 1 }, bindings.ErrTooManyTokens},
		{"failure with too many tokens", w.key, func(r *bindings.Receipt) { r.Failed, r.OutputTokens = true, 1<<31 }, bindings.ErrTooManyTokens},
		{"inline result one byte over the limit", w.key, func(r *bindings.Receipt) {
			r.Result = bindings.MustCell(bindings.BytesCell(make([]byte, bindings.InlineResultLimit+1)))
		}, bindings.ErrResultTooLarge},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f.t = t
			before := jobState(f, j)
			r := j.receipt(100, 100)
			tc.adjust(&r)
			_, err := f.receiptTo(j.addr, tc.key, r)
			if code, ok := bt.RefusalCode(err); !ok || code != tc.code {
				t.Fatalf("receipt refused with %v (code %s), want %s", err, code, tc.code)
			}
			if after := jobState(f, j); after != before {
				t.Errorf("the job changed: %s → %s", before, after)
			}
		})
	}
	f.t = t

	// A signature over something else than the receipt's hash.
	rc := bindings.MustCell(bindings.Encode(j.receipt(1, 1)))
	body, err := bindings.ReceiptBody(ed25519.Sign(w.key, rc.ToBOC()), rc)
	if err != nil {
		t.Fatal(err)
	}
	boc, _ := bindings.ExternalMessage(j.addr, body)
	if _, err := f.env.SendExternal(f.ctx, boc); err == nil {
		t.Error("a signature over the BOC instead of the hash was accepted")
	} else if code, ok := bt.RefusalCode(err); !ok || code != bindings.ErrBadSignature {
		t.Errorf("refused with %v, want %s", err, bindings.ErrBadSignature)
	}

	// After the deadline the receipt is late; the job can only be refunded.
	if err := f.env.AdvanceTime(f.ctx, time.Duration(j.terms.Deadline-f.now()+1)*time.Second); err != nil {
		t.Fatal(err)
	}
	_, err = f.receipt(w.key, j.receipt(100, 100))
	if code, ok := bt.RefusalCode(err); !ok || code != bindings.ErrDeadlinePassed {
		t.Fatalf("late receipt refused with %v, want %s", err, bindings.ErrDeadlinePassed)
	}
	if st, ok := f.jobStatus(j); !ok || st != bindings.JobAccepted {
		t.Fatalf("job %s after a late receipt", st)
	}
}

func jobState(f *fixture, j *job) string {
	acc, err := f.env.Chain.Account(f.ctx, j.addr)
	if err != nil {
		f.t.Fatal(err)
	}
	if acc.Status != chain.StatusActive {
		return string(acc.Status)
	}
	return acc.Balance.String() + "/" + string(acc.Data.Hash())
}

// TestJobDeclined: each reason a worker declines an offer closes the job
// and refunds the client.
func TestJobDeclined(t *testing.T) {
	f := newFixture(t)
	miner := f.wallet("miner", "1000")
	client := f.wallet("client", "100")
	w := f.activeWorker("w", miner, bt.TON("20"))
	unbonding := f.activeWorker("unbonding", miner, bt.TON("20"))
	f.noFailures(f.send(miner, bt.Message(unbonding.addr, opValue, bt.Body(bindings.RequestUnbond{}))))

	cases := []struct {
		name   string
		adjust func(t *bindings.JobTerms, now uint32)
		reason bindings.ExitCode
	}{
		{"worker not active", func(t *bindings.JobTerms, _ uint32) { t.Worker = unbonding.addr }, bindings.ErrWorkerNotActive},
		{"model not served", func(t *bindings.JobTerms, _ uint32) { t.ModelID = otherModel }, bindings.ErrModelNotServed},
		{"input price too low", func(t *bindings.JobTerms, _ uint32) { t.PriceIn = new(big.Int).Sub(priceIn, big.NewInt(1)) }, bindings.ErrPriceTooLow},
		{"output price too low", func(t *bindings.JobTerms, _ uint32) { t.PriceOut = new(big.Int).Sub(priceOut, big.NewInt(1)) }, bindings.ErrPriceTooLow},
		{"deadline too soon", func(t *bindings.JobTerms, now uint32) { t.Deadline = now + minDeadline - 1 }, bindings.ErrDeadlineOutOfRange},
		{"deadline too far", func(t *bindings.JobTerms, now uint32) { t.Deadline = now + maxDeadline + 1 }, bindings.ErrDeadlineOutOfRange},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f.t = t
			terms := f.terms(w.addr, tc.name)
			tc.adjust(&terms, f.now())
			j := f.newJob(client, uint64(100+i), terms)
			tr, escrow := f.create(j, big.NewInt(0))
			f.noFailures(tr)
			dec, sent := one[bindings.Decline](f, tr)
			if bindings.ExitCode(dec.Reason) != tc.reason || !sent.To.Equals(j.addr) {
				t.Fatalf("Decline %s, want %s", bindings.ExitCode(dec.Reason), tc.reason)
			}
			none[bindings.Accept](f, tr)
			closed, closedMsg := one[bindings.JobClosed](f, tr)
			if closed.Reason != bindings.ClosedDeclined || !closedMsg.To.Equals(client.Address) {
				t.Errorf("JobClosed %+v to %s", closed, closedMsg.To)
			}
			if spent := new(big.Int).Sub(escrow, closedMsg.Value); spent.Sign() <= 0 || spent.Cmp(big.NewInt(bindings.JobGasReserve)) > 0 {
				t.Errorf("a declined job cost the client %s", spent)
			}
			f.gone(j.addr)
		})
	}
}

func TestJobCancel(t *testing.T) {
	f := newFixture(t)
	miner := f.wallet("miner", "100")
	client := f.wallet("client", "100")
	stranger := f.wallet("stranger", "100")
	w := f.activeWorker("w", miner, bt.TON("20"))
	workerBefore := f.workerState(w)

	// Cancel right behind the JobCreate reaches the job while the Offer is
	// still on its way: the job closes; the worker's late Accept bounces
	// off the destroyed job and changes nothing.
	j := f.newJob(client, 5, f.terms(w.addr, "5"))
	escrow := bindings.MinEscrow(j.terms)
	tr := f.send(client, j.createMsg(escrow), bt.Message(j.addr, opValue, bt.Body(bindings.Cancel{QueryID: 5})))
	closed, closedMsg := one[bindings.JobClosed](f, tr)
	if closed.Reason != bindings.ClosedCancelled || !closedMsg.To.Equals(client.Address) {
		t.Errorf("JobClosed %+v", closed)
	}
	if spent := new(big.Int).Sub(new(big.Int).Add(escrow, opValue), closedMsg.Value); spent.Cmp(big.NewInt(bindings.JobGasReserve)) > 0 {
		t.Errorf("a cancelled job cost the client %s", spent)
	}
	f.gone(j.addr)
	for _, fl := range tr.Failures() {
		if fl.Tx.Account.Equals(w.addr) {
			t.Errorf("the worker failed with %s", fl.Code)
		}
	}
	if after := f.workerState(w); after.Stake.Cmp(workerBefore.Stake) != 0 || after.Earnings.Sign() != 0 {
		t.Errorf("worker changed: %+v", after)
	}

	// With the Offer on its way to an address without a worker, the Offer
	// bounces back after the job closed: its value stays at the job's dead
	// address. Redeploying the job (same nonce) picks it up, and its
	// refund returns it to the client.
	ghost := address.NewAddress(0, 0, bytes.Repeat([]byte{0x67}, 32))
	jg := f.newJob(client, 15, f.terms(ghost, "15"))
	tr = f.send(client, jg.createMsg(bindings.MinEscrow(jg.terms)), bt.Message(jg.addr, opValue, bt.Body(bindings.Cancel{})))
	closed, closedMsg = one[bindings.JobClosed](f, tr)
	if closed.Reason != bindings.ClosedCancelled {
		t.Fatalf("JobClosed %+v", closed)
	}
	first := closedMsg.Value
	stranded := f.balance(jg.addr)
	if st := f.status(jg.addr); st == chain.StatusActive || stranded.Sign() <= 0 || stranded.Cmp(big.NewInt(bindings.OfferValue)) > 0 {
		t.Fatalf("after the late bounce the job address is %s with %s", st, stranded)
	}
	jg.terms.Worker = w.addr
	tr = f.send(client, jg.createMsg(bindings.MinEscrow(jg.terms)), bt.Message(jg.addr, opValue, bt.Body(bindings.Cancel{})))
	closed, closedMsg = one[bindings.JobClosed](f, tr)
	if closed.Reason != bindings.ClosedCancelled {
		t.Fatalf("JobClosed %+v", closed)
	}
	f.gone(jg.addr)
	// The same escrow and Cancel, now with what the first life left behind.
	recovered := new(big.Int).Sub(closedMsg.Value, first)
	if recovered.Cmp(stranded) > 0 || recovered.Cmp(new(big.Int).Div(stranded, big.NewInt(2))) < 0 {
		t.Errorf("the redeployed job refunded %s more than the first, %s was stranded", recovered, stranded)
	}
	t.Logf("a late Offer bounce left %s at the job address; redeploying recovered %s of it", stranded, recovered)

	// On an accepted job: a stranger is not the client; the client is too late.
	j2 := f.newJob(client, 6, f.terms(w.addr, "6"))
	f.accepted(j2)
	tr = f.send(stranger, bt.Message(j2.addr, opValue, bt.Body(bindings.Cancel{})))
	f.refused(tr, j2.addr, bindings.ErrNotClient)
	f.bouncedTo(tr, stranger.Address, opValue)
	tr = f.send(client, bt.Message(j2.addr, opValue, bt.Body(bindings.Cancel{})))
	f.refused(tr, j2.addr, bindings.ErrJobWrongStatus)
	f.bouncedTo(tr, client.Address, opValue)
	if st, ok := f.jobStatus(j2); !ok || st != bindings.JobAccepted {
		t.Errorf("job %s after refused cancels", st)
	}
}

func TestJobRefundAfterDeadline(t *testing.T) {
	f := newFixture(t)
	miner := f.wallet("miner", "100")
	client := f.wallet("client", "100")
	anyone := f.wallet("anyone", "100")
	stake := bt.TON("20")
	w := f.activeWorker("w", miner, stake)
	j := f.newJob(client, 7, f.terms(w.addr, "7"))
	_, escrow := f.accepted(j)

	tr := f.send(anyone, bt.Message(j.addr, opValue, bt.Body(bindings.Refund{QueryID: 1})))
	f.refused(tr, j.addr, bindings.ErrDeadlineNotReached)
	f.bouncedTo(tr, anyone.Address, opValue)

	// At the deadline itself the worker may still deliver.
	if err := f.env.AdvanceTime(f.ctx, time.Duration(j.terms.Deadline-f.now())*time.Second); err != nil {
		t.Fatal(err)
	}
	tr = f.send(anyone, bt.Message(j.addr, opValue, bt.Body(bindings.Refund{QueryID: 1})))
	f.refused(tr, j.addr, bindings.ErrDeadlineNotReached)
	if err := f.env.AdvanceTime(f.ctx, time.Second); err != nil {
		t.Fatal(err)
	}

	tr = f.send(anyone, bt.Message(j.addr, opValue, bt.Body(bindings.Refund{QueryID: 2})))
	f.noFailures(tr)
	slash, slashMsg := one[bindings.Slash](f, tr)
	maxCost := bindings.MaxCost(j.terms)
	if !slashMsg.To.Equals(w.addr) || slashMsg.Value.Int64() != bindings.NotifyGas || !slash.Client.Equals(client.Address) || slash.Nonce != 7 || slash.MaxCost.Cmp(maxCost) != 0 {
		t.Errorf("Slash %+v with %s", slash, slashMsg.Value)
	}
	// The client gets the job's max cost, the treasury the rest of the slash.
	amount, paid, forfeit := bindings.SlashSplit(stake, slashBps, maxCost)
	if paid.Cmp(maxCost) != 0 || forfeit.Sign() <= 0 {
		t.Fatalf("split %s into %s + %s", amount, paid, forfeit)
	}
	comp, compMsg := one[bindings.SlashCompensation](f, tr)
	if !compMsg.To.Equals(client.Address) || !comp.Job.Equals(j.addr) || compMsg.Value.Cmp(paid) < 0 ||
		compMsg.Value.Cmp(new(big.Int).Add(paid, big.NewInt(bindings.NotifyGas))) > 0 {
		t.Errorf("SlashCompensation %+v with %s to %s, want %s (+ change of NOTIFY_GAS)", comp, compMsg.Value, compMsg.To, paid)
	}
	ff, ffMsg := one[bindings.SlashForfeit](f, tr)
	// Sent with mode 0: the forwarding fee comes out of the forfeit.
	if !ffMsg.To.Equals(f.treasury.Address) || !ff.Job.Equals(j.addr) || !nearBelow(ffMsg.Value, forfeit, bt.TON("0.001")) {
		t.Errorf("SlashForfeit %+v with %s to %s, want %s to the treasury", ff, ffMsg.Value, ffMsg.To, forfeit)
	}
	closed, closedMsg := one[bindings.JobClosed](f, tr)
	if closed.Reason != bindings.ClosedExpired || !closedMsg.To.Equals(client.Address) {
		t.Errorf("JobClosed %+v", closed)
	}
	// The job's escrow comes back whole but for gas: no charge.
	refundCheck(f, j, closedMsg.Value, map[uint32]*big.Int{bindings.OpSlash: big.NewInt(bindings.NotifyGas), 0xffffffff: nil})
	if spent := new(big.Int).Sub(escrow, closedMsg.Value); spent.Cmp(big.NewInt(bindings.JobGasReserve)) > 0 {
		t.Errorf("an expired job cost the client %s", spent)
	}
	f.gone(j.addr)
	st := f.workerState(w)
	if st.Stake.Cmp(new(big.Int).Sub(stake, amount)) != 0 || st.JobsSlashed != 1 || st.JobsCompleted != 0 {
		t.Errorf("worker after slash: %+v, want stake %s - %s", st, stake, amount)
	}
	if s := f.workerStatus(w); s != bindings.WorkerActive {
		t.Errorf("worker %s after a slash that leaves it above the minimum", s)
	}
	f.workerSolvent(w)
	if evs := tr.Events(f.root); len(evs) != 0 {
		t.Errorf("Root logged %v", evs)
	}
	// A refund of a closed job finds nothing.
	tr = f.send(anyone, bt.Message(j.addr, opValue, bt.Body(bindings.Refund{QueryID: 3})))
	if len(tr.Bounces()) != 1 {
		t.Errorf("a refund to a closed job did not bounce:\n%s", tr)
	}
	f.gone(j.addr)
}

// TestSlashBelowMinimum: a slash that takes the stake below Root's minimum
// deactivates the worker; TopUp and WorkerUpdate bring it back.
func TestSlashBelowMinimum(t *testing.T) {
	f := newFixture(t)
	miner := f.wallet("miner", "100")
	client := f.wallet("client", "100")
	stake := bt.TON("10.5")
	w := f.activeWorker("w", miner, stake)
	j := f.newJob(client, 8, f.terms(w.addr, "8"))
	f.accepted(j)
	if err := f.env.AdvanceTime(f.ctx, 2*time.Hour); err != nil {
		t.Fatal(err)
	}
	tr := f.send(client, bt.Message(j.addr, opValue, bt.Body(bindings.Refund{})))
	f.noFailures(tr)
	_, paid, _ := bindings.SlashSplit(stake, slashBps, bindings.MaxCost(j.terms))
	if _, m := one[bindings.SlashCompensation](f, tr); m.Value.Cmp(paid) != 0 {
		// With the worker deactivated the rest of the Slash's value pays Root's gas.
		t.Errorf("compensation %s, want exactly %s", m.Value, paid)
	}
	deact, _ := one[bindings.WorkerDeactivated](f, tr)
	if deact.Reason != bindings.DeactivatedSlashed {
		t.Errorf("WorkerDeactivated reason %d", deact.Reason)
	}
	evs := tr.Events(f.root)
	if len(evs) != 1 {
		t.Fatalf("Root logged %d events", len(evs))
	}
	if ev, ok := evs[0].(*bindings.WorkerDeactivatedEvent); !ok || ev.Reason != bindings.DeactivatedSlashed || !ev.Worker.Equals(w.addr) {
		t.Errorf("event %+v", evs[0])
	}
	if s := f.workerStatus(w); s != bindings.WorkerSlashed {
		t.Fatalf("worker %s, want slashed", s)
	}
	f.workerSolvent(w)

	// A slashed worker declines offers.
	j2 := f.newJob(client, 9, f.terms(w.addr, "9"))
	tr, _ = f.create(j2, big.NewInt(0))
	if dec, _ := one[bindings.Decline](f, tr); bindings.ExitCode(dec.Reason) != bindings.ErrWorkerNotActive {
		t.Errorf("Decline %s", bindings.ExitCode(dec.Reason))
	}

	// TopUp above the minimum, then re-register.
	f.noFailures(f.send(miner, bt.Message(w.addr, bt.TON("1"), bt.Body(bindings.TopUp{}))))
	f.noFailures(f.send(miner, bt.Message(w.addr, opValue, bt.Body(bindings.WorkerUpdate{Profile: profile("w"), Agreed: f.agreed()}))))
	if s := f.workerStatus(w); s != bindings.WorkerActive {
		t.Fatalf("worker %s after top-up and update", s)
	}
}

// TestJobCreateRefusals: a refused JobCreate bounces the escrow (less fees)
// and deploys nothing.
func TestJobCreateRefusals(t *testing.T) {
	f := newFixture(t)
	miner := f.wallet("miner", "100")
	client := f.wallet("client", "100")
	stranger := f.wallet("stranger", "100")
	w := f.activeWorker("w", miner, bt.TON("20"))
	cases := []struct {
		name   string
		from   *bt.Wallet
		adjust func(t *bindings.JobTerms, now uint32)
		short  bool // escrow one nanoton short
		code   bindings.ExitCode
	}{
		{"escrow too low", client, func(*bindings.JobTerms, uint32) {}, true, bindings.ErrEscrowTooLow},
		{"no tokens", client, func(t *bindings.JobTerms, _ uint32) { t.MaxIn, t.MaxOut = 0, 0 }, false, bindings.ErrBadTerms},
		{"deadline now", client, func(t *bindings.JobTerms, now uint32) { t.Deadline = now }, false, bindings.ErrBadTerms},
		{"deadline past", client, func(t *bindings.JobTerms, now uint32) { t.Deadline = now - 1 }, false, bindings.ErrBadTerms},
		{"not the client", stranger, func(*bindings.JobTerms, uint32) {}, false, bindings.ErrNotClient},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f.t = t
			terms := f.terms(w.addr, tc.name)
			tc.adjust(&terms, f.now())
			j := f.newJob(client, uint64(200+i), terms)
			escrow := bindings.MinEscrow(terms)
			if tc.short {
				escrow.Sub(escrow, big.NewInt(1))
			}
			tr := f.send(tc.from, j.createMsg(escrow))
			f.refused(tr, j.addr, tc.code)
			f.bouncedTo(tr, tc.from.Address, escrow)
			none[bindings.Offer](f, tr)
			f.unused(j.addr, j.si.Data)
		})
	}
	// Exactly the minimum escrow is enough.
	f.t = t
	j := f.newJob(client, 299, f.terms(w.addr, "exact"))
	tr := f.send(client, j.createMsg(bindings.MinEscrow(j.terms)))
	f.noFailures(tr)
	if st, ok := f.jobStatus(j); !ok || st != bindings.JobAccepted {
		t.Errorf("job with the exact minimum escrow is %s", st)
	}
}

// TestOfferBounced: a job whose worker address has no contract gets its
// Offer back and refunds the client.
func TestOfferBounced(t *testing.T) {
	f := newFixture(t)
	client := f.wallet("client", "100")
	ghost := address.NewAddress(0, 0, bytes.Repeat([]byte{0x66}, 32))
	j := f.newJob(client, 10, f.terms(ghost, "10"))
	tr, escrow := f.create(j, big.NewInt(0))
	if b := tr.Bounces(); len(b) != 1 || !b[0].To.Equals(j.addr) {
		t.Fatalf("want the Offer bounced to the job:\n%s", tr)
	}
	closed, closedMsg := one[bindings.JobClosed](f, tr)
	if closed.Reason != bindings.ClosedOfferBounced || !closedMsg.To.Equals(client.Address) {
		t.Errorf("JobClosed %+v", closed)
	}
	if spent := new(big.Int).Sub(escrow, closedMsg.Value); spent.Cmp(big.NewInt(bindings.JobGasReserve)) > 0 {
		t.Errorf("a bounced offer cost the client %s", spent)
	}
	f.gone(j.addr)
	f.gone(ghost)

	// A worker that exists but was never activated cannot take jobs either.
	miner := f.wallet("miner", "100")
	pending := f.newWorker("rejected", miner)
	p := profile("rejected")
	p.Models = nil
	f.register(pending, p, bt.TON("20.05")) // rejected: destroyed
	j2 := f.newJob(client, 11, f.terms(pending.addr, "11"))
	tr, _ = f.create(j2, big.NewInt(0))
	if closed, _ := one[bindings.JobClosed](f, tr); closed.Reason != bindings.ClosedOfferBounced {
		t.Errorf("job on a destroyed worker closed with %d", closed.Reason)
	}
	f.gone(j2.addr)
}

// TestForgedMessagesToJob: only the chosen worker answers an offer, and
// nothing answers a job that is no longer offered.
func TestForgedMessagesToJob(t *testing.T) {
	f := newFixture(t)
	miner := f.wallet("miner", "100")
	client := f.wallet("client", "100")
	stranger := f.wallet("stranger", "100")
	w := f.activeWorker("w", miner, bt.TON("20"))

	// While the job is offered (the answer right behind JobCreate arrives
	// before the worker's), an Accept or Decline not from the worker is
	// refused: the job then takes the worker's Accept.
	forgedAccept := bt.Body(bindings.Accept{WorkerKey: hash("k"), FeeBps: 0, Treasury: client.Address})
	forgedDecline := bt.Body(bindings.Decline{Reason: 1})
	for i, body := range []*cell.Cell{forgedAccept, forgedDecline} {
		j := f.newJob(client, uint64(20+i), f.terms(w.addr, "forged offered"))
		tr := f.send(client, j.createMsg(bindings.MinEscrow(j.terms)), bt.Message(j.addr, opValue, body))
		f.refused(tr, j.addr, bindings.ErrNotChosenWorker)
		if st, ok := f.jobStatus(j); !ok || st != bindings.JobAccepted {
			t.Fatalf("job %s after a forged answer and the worker's Accept", st)
		}
		if terms, _ := j.c.JobTerms(f.ctx); terms.WorkerKey != w.pub() || terms.FeeBps != feeBps {
			t.Errorf("the forged Accept set worker key %x, fee %d", terms.WorkerKey[:4], terms.FeeBps)
		}
	}

	j := f.newJob(client, 12, f.terms(w.addr, "12"))
	f.accepted(j)
	// A Job checks the sender before the status (docs/CONTRACTS.md).
	notOffered := []bindings.ExitCode{bindings.ErrNotChosenWorker}
	cases := []struct {
		name  string
		from  *bt.Wallet
		body  *cell.Cell
		codes []bindings.ExitCode
	}{
		{"Accept from a stranger", stranger, forgedAccept, notOffered},
		{"Decline from a stranger", stranger, forgedDecline, notOffered},
		{"JobCreate again", client, bt.Body(bindings.JobCreate{Terms: j.terms}), []bindings.ExitCode{bindings.ErrJobWrongStatus}},
		{"unknown opcode", client, cell.BeginCell().MustStoreUInt(0x01020304, 32).EndCell(), []bindings.ExitCode{bindings.ErrUnknownOp}},
		{"empty body", client, nil, []bindings.ExitCode{bindings.ErrUnknownOp}},
		{"Cancel from a stranger", stranger, bt.Body(bindings.Cancel{}), []bindings.ExitCode{bindings.ErrNotClient}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f.t = t
			before := jobState(f, j)
			tr := f.send(tc.from, bt.Message(j.addr, opValue, tc.body))
			f.refusedWithAny(tr, j.addr, tc.codes)
			f.bouncedTo(tr, tc.from.Address, opValue)
			// The balance moved by the storage fee; the data did not.
			if after := jobState(f, j); after[len(after)-32:] != before[len(before)-32:] {
				t.Error("the job's data changed")
			}
		})
	}
}

// TestOfferedJob holds a job in the offered state by naming as its worker
// a contract that takes the Offer and never answers (a relay), and checks
// what the offered state allows.
func TestOfferedJob(t *testing.T) {
	f := newFixture(t)
	client := f.wallet("client", "100")
	stranger := f.wallet("stranger", "100")
	si := bindings.RelayStateInit(1, nil)
	silent := bindings.StateInitAddress(si)
	f.noFailures(f.send(stranger, bt.Deploy(si, bt.TON("1"), nil)))

	j := f.newJob(client, 30, f.terms(silent, "30"))
	tr, escrow := f.create(j, big.NewInt(0))
	f.noFailures(tr)
	if st, ok := f.jobStatus(j); !ok || st != bindings.JobOffered {
		t.Fatalf("job %s, want offered", st)
	}
	// No receipt before an Accept: there is no worker key to check.
	_, err := f.receipt(bt.KeyFor("anyone"), j.receipt(1, 1))
	if code, ok := bt.RefusalCode(err); !ok || code != bindings.ErrJobWrongStatus {
		t.Errorf("receipt to an offered job: %v, want %s", err, bindings.ErrJobWrongStatus)
	}
	tr = f.send(stranger, bt.Message(j.addr, opValue, bt.Body(bindings.Cancel{})))
	f.refused(tr, j.addr, bindings.ErrNotClient)
	tr = f.send(stranger, bt.Message(j.addr, opValue, bt.Body(bindings.Refund{})))
	f.refused(tr, j.addr, bindings.ErrDeadlineNotReached)

	// After the deadline anyone closes it: no Slash, since nobody accepted.
	if err := f.env.AdvanceTime(f.ctx, time.Duration(j.terms.Deadline-f.now()+1)*time.Second); err != nil {
		t.Fatal(err)
	}
	tr = f.send(stranger, bt.Message(j.addr, opValue, bt.Body(bindings.Refund{})))
	f.noFailures(tr)
	none[bindings.Slash](f, tr)
	closed, closedMsg := one[bindings.JobClosed](f, tr)
	if closed.Reason != bindings.ClosedExpired || !closedMsg.To.Equals(client.Address) {
		t.Errorf("JobClosed %+v to %s", closed, closedMsg.To)
	}
	// The Offer's value went to the silent contract; the rest comes back.
	refundCheck(f, j, closedMsg.Value, map[uint32]*big.Int{0xffffffff: nil})
	if spent := new(big.Int).Sub(new(big.Int).Add(escrow, opValue), closedMsg.Value); spent.Cmp(big.NewInt(bindings.JobGasReserve)) > 0 {
		t.Errorf("an expired offered job cost the client %s", spent)
	}
	f.gone(j.addr)

	// The client cancels an offered job.
	j2 := f.newJob(client, 31, f.terms(silent, "31"))
	f.noFailures(func() *bt.Trace { tr, _ := f.create(j2, big.NewInt(0)); return tr }())
	tr = f.send(client, bt.Message(j2.addr, opValue, bt.Body(bindings.Cancel{QueryID: 31})))
	f.noFailures(tr)
	if closed, _ := one[bindings.JobClosed](f, tr); closed.Reason != bindings.ClosedCancelled || closed.QueryID != 31 {
		t.Errorf("JobClosed %+v", closed)
	}
	f.gone(j2.addr)
}

// TestProtocolFeesBatched: a completed job's fee stays with its Worker,
// which sends the fees it owes to the treasury once they reach
// PROTOCOL_FEE_BATCH, and the rest at Withdraw, so that no fee is lost and
// no job pays for a message to the treasury.
func TestProtocolFeesBatched(t *testing.T) {
	f := newFixture(t)
	miner := f.wallet("miner", "100")
	client := f.wallet("client", "100")
	w := f.activeWorker("w", miner, bt.TON("20"))

	// 1,200 input tokens at 1,000 TON per 1M: a charge of 1.2 TON, a fee
	// of 0.03 TON, under the batch of 0.05.
	complete := func(nonce uint64) (*bt.Trace, *big.Int) {
		t.Helper()
		terms := f.terms(w.addr, fmt.Sprint("batch ", nonce))
		terms.PriceIn = bt.TON("1000")
		j := f.newJob(client, nonce, terms)
		f.accepted(j)
		tr, err := f.receipt(w.key, j.receipt(1200, 0))
		if err != nil {
			t.Fatal(err)
		}
		f.noFailures(tr)
		return tr, bindings.Fee(bindings.Charge(terms.PriceIn, terms.PriceOut, 1200, 0), feeBps)
	}
	tr, fee := complete(1)
	if fee.Cmp(bt.TON("0.03")) != 0 {
		t.Fatalf("fee %s, want 0.03 TON", fee)
	}
	none[bindings.ProtocolFees](f, tr)
	if owed := f.feesOwed(w); owed.Cmp(fee) != 0 {
		t.Fatalf("owed %s after one job, want %s", owed, fee)
	}
	f.workerSolvent(w)

	// The second fee brings the debt to 0.06 TON: all of it goes at once.
	tr, _ = complete(2)
	batch, batchMsg := one[bindings.ProtocolFees](f, tr)
	if want := new(big.Int).Mul(fee, big.NewInt(2)); !batchMsg.To.Equals(f.treasury.Address) || batchMsg.Value.Cmp(want) != 0 || batch.QueryID != 2 {
		t.Errorf("ProtocolFees %+v with %s to %s, want %s to the treasury", batch, batchMsg.Value, batchMsg.To, want)
	}
	if owed := f.feesOwed(w); owed.Sign() != 0 {
		t.Errorf("owed %s after the batch, want 0", owed)
	}
	st := f.workerState(w)
	pay := new(big.Int).Sub(bindings.Charge(bt.TON("1000"), priceOut, 1200, 0), fee)
	if want := new(big.Int).Mul(pay, big.NewInt(2)); st.Earnings.Cmp(want) != 0 {
		t.Errorf("earnings %s, want %s", st.Earnings, want)
	}
	f.workerSolvent(w)

	// A third fee is owed when the worker leaves: Withdraw sends it to the
	// treasury before the rest goes to the owner.
	complete(3)
	f.noFailures(f.send(miner, bt.Message(w.addr, opValue, bt.Body(bindings.RequestUnbond{QueryID: 4}))))
	if err := f.env.AdvanceTime(f.ctx, (max(unbondingDelay, maxDeadline+1)+1)*time.Second); err != nil {
		t.Fatal(err)
	}
	tr = f.send(miner, bt.Message(w.addr, opValue, bt.Body(bindings.Withdraw{QueryID: 5})))
	f.noFailures(tr)
	last, lastMsg := one[bindings.ProtocolFees](f, tr)
	if !lastMsg.To.Equals(f.treasury.Address) || lastMsg.Value.Cmp(fee) != 0 || last.QueryID != 5 {
		t.Errorf("ProtocolFees %+v with %s to %s at Withdraw, want %s to the treasury", last, lastMsg.Value, lastMsg.To, fee)
	}
	one[bindings.StakeReturned](f, tr)
	f.gone(w.addr)
}
