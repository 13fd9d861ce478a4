package channel

import (
	"errors"
	"math/big"
	"testing"
	"time"

	"github.com/xssnick/tonutils-go/address"
	"github.com/xssnick/tonutils-go/tlb"

	"github.com/cocoon-network/cocoon/offchain/chain"
)

// Attack tests for the money rules of contracts/channel.tolk (issue 18):
// each failed against the contract before them.

// lastTx is the channel's latest transaction.
func (env *testEnv) lastTx(terms Terms) *chain.Transaction {
	env.t.Helper()
	addr, _ := terms.Address()
	txs, err := env.e.Transactions(env.ctx, addr, chain.TxID{}, 1)
	if err != nil || len(txs) == 0 {
		env.t.Fatalf("reading the channel's last transaction: %v", err)
	}
	return txs[0]
}

// storageFees is what tx's storage phase collected.
func storageFees(t *testing.T, tx *chain.Transaction) *big.Int {
	t.Helper()
	d, ok := tx.Tx.Description.(tlb.TransactionDescriptionOrdinary)
	if !ok {
		t.Fatal("a channel transaction that is not ordinary")
	}
	if d.StoragePhase == nil {
		return new(big.Int)
	}
	return d.StoragePhase.StorageFeesCollected.Nano()
}

// spent is what w's balance went down by since before.
func (env *testEnv) spent(w *address.Address, before *big.Int) *big.Int {
	return new(big.Int).Sub(before, env.balance(w))
}

// Dues of any size are paid exactly, by every way of paying: the old
// contract paid a close in mode 0 with the due as the value, so a due
// below the forwarding fee (300,000 nanoton failed) failed the action
// phase and nothing was paid, ever.
func TestSmallDuesArePaidExactly(t *testing.T) {
	for _, due := range []int64{1, 300_000, 1_000_000} {
		for _, way := range []string{"cooperative close", "payee's close", "commit"} {
			t.Run(way+"/"+big.NewInt(due).String(), func(t *testing.T) {
				env := newTestEnv(t)
				terms := env.open(ton("1"))
				v, err := env.payer.SignVoucher(terms.ID, big.NewInt(due))
				if err != nil {
					t.Fatal(err)
				}
				if _, err := env.payee.Receive(env.ctx, v); err != nil {
					t.Fatal(err)
				}
				want := StatusClosed
				switch way {
				case "cooperative close":
					_, err = env.payer.Close(env.ctx, terms.ID, env.payee)
				case "payee's close":
					_, err = env.payee.Close(env.ctx, terms.ID)
				case "commit":
					_, err = env.payee.Commit(env.ctx, terms.ID)
					want = StatusOpen
				}
				if err != nil {
					t.Fatal(err)
				}
				if oc := env.onChain(terms); oc.Status != want || oc.Paid.Cmp(big.NewInt(due)) != 0 {
					t.Fatalf("after the %s the channel is %s, paid %s; want %s, %d", way, oc.Status, oc.Paid, want, due)
				}
				if got := env.paidToPayee(terms); got.Cmp(big.NewInt(due)) != 0 {
					t.Fatalf("the payee was paid %s, want exactly %d", got, due)
				}
				env.checkHistory(terms)
			})
		}
	}
}

// checkHistory is checkConservation for a channel that may still be open.
func (env *testEnv) checkHistory(terms Terms) {
	env.t.Helper()
	if env.onChain(terms).Status == StatusClosed {
		env.checkConservation(terms)
	}
}

// What a message's sender attached and the contract did not spend goes
// back to the sender: the old contract gave a close's unspent value to the
// payer (0.997 of 1 TON the payee's gas wallet attached) and a commit's to
// the payout address, draining the worker's gas wallet.
func TestUnusedValueReturnsToSender(t *testing.T) {
	env := newTestEnv(t)
	terms := env.open(ton("1"))
	addr, _ := terms.Address()
	vs := env.pay(terms.ID, 2, ton("0.1"))
	gas := env.payeeW.Address()

	commit, _ := CommitMessage(addr, vs[0])
	commit.Amount = tlb.MustFromTON("1")
	before := env.balance(gas)
	if err := env.sendFrom(env.payeeW, addr, commit); err != nil {
		t.Fatal(err)
	}
	// Of the 1 TON attached, all but the fees (about 0.01 TON with the
	// wallet's own) comes back.
	waitFor(t, func() bool { return env.spent(gas, before).Cmp(ton("0.02")) < 0 }, "the commit's unspent value to come back")
	if got := env.paidToPayee(terms); got.Cmp(vs[0].Sent) != 0 {
		t.Fatalf("after the commit the payee was paid %s, want exactly %s", got, vs[0].Sent)
	}

	s := &Settlement{Channel: terms.ID, Voucher: vs[1]}
	if err := s.Approve(env.payeeKey); err != nil {
		t.Fatal(err)
	}
	closeMsg, _ := CloseMessage(addr, s)
	closeMsg.Amount = tlb.MustFromTON("1")
	held := env.balance(addr)
	payerBefore := env.balance(env.payerW.Address())
	before = env.balance(gas)
	if err := env.sendFrom(env.payeeW, addr, closeMsg); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return env.spent(gas, before).Cmp(ton("0.02")) < 0 }, "the close's unspent value to come back")
	if got := env.paidToPayee(terms); got.Cmp(vs[1].Sent) != 0 {
		t.Fatalf("after the close the payee was paid %s, want exactly %s", got, vs[1].Sent)
	}
	// The payer gets what the channel held beyond the payee's due (less
	// the close's storage fees and its payout's forwarding fee), none of
	// the sender's value.
	due := new(big.Int).Sub(vs[1].Sent, vs[0].Sent)
	want := new(big.Int).Sub(held, due)
	want.Sub(want, storageFees(t, env.lastTx(terms)))
	env.payerGot(terms, want)
	waitFor(t, func() bool { return env.balance(env.payerW.Address()).Cmp(payerBefore) > 0 }, "the payer's payout")
	env.checkConservation(terms)
}

// A payer's close alone costs the payer, not the payee: the start carries
// a bond that pays the payee's answer. Before it, answering cost the
// payee's gas wallet about 0.005 TON, so vouchers under ~0.01 TON were not
// worth defending and a payer could make small sessions free.
func TestLoneCloseCostsThePayer(t *testing.T) {
	env := newTestEnv(t)
	terms := env.open(ton("1"))
	addr, _ := terms.Address()
	vs := env.pay(terms.ID, 2, big.NewInt(500_000)) // 0.001 TON in all

	// A start without the bond is refused.
	start, _ := StartCloseMessage(addr)
	start.Amount = tlb.FromNanoTON(big.NewInt(opValue))
	if err := env.sendFrom(env.payerW, addr, start); !IsRefused(err, ExitLowValue) {
		t.Fatalf("a start-close without the bond: %v, want exit code %d", err, ExitLowValue)
	}

	if err := env.payer.ForceClose(env.ctx, terms.ID); err != nil {
		t.Fatal(err)
	}
	gas := env.payeeW.Address()
	before := env.balance(gas)
	acts, err := env.payee.CheckOnce(env.ctx)
	if err != nil || len(acts) != 1 || acts[0].Did != "challenged" || acts[0].Err != nil {
		t.Fatalf("watcher: %+v, %v", acts, err)
	}
	var cost *big.Int
	waitFor(t, func() bool { cost = env.spent(gas, before); return cost.Cmp(big.NewInt(opValue+closeBond)) < 0 }, "the answer's unspent value to come back")
	want := new(big.Int).Add(vs[1].Sent, big.NewInt(closeBond))
	if got := env.paidToPayee(terms); got.Cmp(want) != 0 {
		t.Fatalf("the payee was paid %s, want its voucher and the bond, %s", got, want)
	}
	if cost.Cmp(big.NewInt(closeBond)) >= 0 {
		t.Fatalf("answering cost the payee's gas wallet %s, not covered by the %d bond", cost, closeBond)
	}
	t.Logf("answering a 0.001 TON voucher: gas wallet spent %s, owner paid %s", cost, want)
	env.checkConservation(terms)
}

// With nothing to claim the payee does not answer, and the bond goes back
// to the payer with the rest at Finish.
func TestUnansweredLoneCloseReturnsTheBond(t *testing.T) {
	env := newTestEnv(t)
	terms := env.open(ton("1"))
	vs := env.pay(terms.ID, 1, ton("0.1"))
	if _, err := env.payee.Commit(env.ctx, terms.ID); err != nil {
		t.Fatal(err)
	}
	if err := env.payer.ForceClose(env.ctx, terms.ID); err != nil {
		t.Fatal(err)
	}
	env.passQuarantine()
	held := env.balance(mustAddress(t, terms))
	if acts, err := env.payee.CheckOnce(env.ctx); err != nil || len(acts) != 1 || acts[0].Did != "finished" || acts[0].Err != nil {
		t.Fatalf("watcher after the quarantine: %+v, %v", acts, err)
	}
	env.payerGot(terms, new(big.Int).Sub(held, storageFees(t, env.lastTx(terms))))
	if held.Cmp(new(big.Int).Add(new(big.Int).Sub(ton("1"), vs[0].Sent), big.NewInt(reserve+closeBond))) < 0 {
		t.Fatalf("the channel held %s before the finish: less than the unspent deposit, reserve and bond", held)
	}
	if got := env.paidToPayee(terms); got.Cmp(vs[0].Sent) != 0 {
		t.Fatalf("the payee was paid %s, want %s", got, vs[0].Sent)
	}
	env.checkConservation(terms)
}

// payerGot fails unless the channel paid the payer want less one
// forwarding fee, which its payout pays out of itself.
func (env *testEnv) payerGot(terms Terms, want *big.Int) {
	env.t.Helper()
	got := env.paidTo(terms, env.payerW.Address())
	if fee := new(big.Int).Sub(want, got); fee.Sign() <= 0 || fee.Cmp(big.NewInt(1_000_000)) > 0 {
		env.t.Fatalf("the payer was paid %s, want %s less its payout's forwarding fee", got, want)
	}
}

func mustAddress(t *testing.T, terms Terms) *address.Address {
	t.Helper()
	a, err := terms.Address()
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// Storage fees cannot eat the payee's due: after three idle years they
// took the reserve and part of a full-deposit voucher, and the old
// contract's commit of it failed for good. The contract now pays the due
// in full out of the claim's value, which the payee's tools attach; a
// claim without it is refused whole (its action phase), never paid short.
func TestStorageCannotEatTheDue(t *testing.T) {
	env := newTestEnv(t)
	terms := env.open(ton("1"))
	addr := mustAddress(t, terms)
	v, err := env.payer.SignVoucher(terms.ID, ton("1"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := env.payee.Receive(env.ctx, v); err != nil {
		t.Fatal(err)
	}
	if err := env.e.AdvanceTime(3 * 365 * 24 * time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, err := env.e.ProduceBlock(env.ctx); err != nil {
		t.Fatal(err)
	}
	// Anyone's commit with the usual value: storage took more than the
	// reserve, so the payout cannot be made; nothing changes.
	bare, _ := CommitMessage(addr, v)
	var re *RefusedError
	if err := env.sendFrom(env.payerW, addr, bare); !errors.As(err, &re) || !re.Action {
		t.Fatalf("a commit without the storage shortfall: %v, want an action-phase failure", err)
	}
	oc := env.onChain(terms)
	if oc.Balance.Cmp(ton("1")) >= 0 || oc.Paid.Sign() != 0 {
		t.Fatalf("after three years the channel holds %s, paid %s; the test needs storage to have eaten into the due", oc.Balance, oc.Paid)
	}
	if _, err := env.payee.Commit(env.ctx, terms.ID); err != nil {
		t.Fatal(err)
	}
	if got := env.paidToPayee(terms); got.Cmp(ton("1")) != 0 {
		t.Fatalf("the payee was paid %s, want exactly 1 TON", got)
	}
}

// The watcher commits a held voucher of any size once the channel has
// been idle for PayeePolicy.IdleCommit, before storage reaches the due.
func TestIdleChannelIsCommitted(t *testing.T) {
	env := newTestEnv(t)
	terms := env.open(ton("1"))
	vs := env.pay(terms.ID, 1, ton("0.01")) // far below CommitAbove
	idle := DefaultPayeePolicy().IdleCommit
	if err := env.e.AdvanceTime(idle - time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, err := env.e.ProduceBlock(env.ctx); err != nil {
		t.Fatal(err)
	}
	if acts, err := env.payee.CheckOnce(env.ctx); err != nil || len(acts) != 0 {
		t.Fatalf("watcher before the idle limit: %+v, %v", acts, err)
	}
	if err := env.e.AdvanceTime(2 * time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, err := env.e.ProduceBlock(env.ctx); err != nil {
		t.Fatal(err)
	}
	acts, err := env.payee.CheckOnce(env.ctx)
	if err != nil || len(acts) != 1 || acts[0].Did != "committed" || acts[0].Err != nil {
		t.Fatalf("watcher past the idle limit: %+v, %v", acts, err)
	}
	if got := env.paidToPayee(terms); got.Cmp(vs[0].Sent) != 0 {
		t.Fatalf("the payee was paid %s, want %s", got, vs[0].Sent)
	}
}
