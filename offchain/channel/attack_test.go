package channel

import (
	"errors"
	"math/big"
	"testing"
	"time"

	"github.com/xssnick/tonutils-go/address"
	"github.com/xssnick/tonutils-go/tlb"
	"github.com/xssnick/tonutils-go/tvm/cell"

	"github.com/cocoon-network/cocoon/offchain/devnet"
	"github.com/cocoon-network/cocoon/offchain/wallet"
)

// Attacks on contracts/channel.tolk, each against a live channel on the
// devnet: the contract refuses with the named exit code, and a refused
// message changes neither the channel nor what the payee was paid.

// sendFrom sends m from w and returns the contract's refusal, if any.
func (env *testEnv) sendFrom(w *wallet.Wallet, addr *address.Address, m *tlb.InternalMessage) error {
	_, err := send(env.ctx, env.e, w, addr, "attack", 5*time.Millisecond, walletMsgs(m)...)
	return err
}

// unchanged fails unless the channel still shows deposit and paid.
func (env *testEnv) unchanged(terms Terms, what string, deposit, paid *big.Int) {
	env.t.Helper()
	oc := env.onChain(terms)
	if oc.Deposit.Cmp(deposit) != 0 || oc.Paid.Cmp(paid) != 0 {
		env.t.Fatalf("%s changed the channel: deposit %s, paid %s; want %s, %s", what, oc.Deposit, oc.Paid, deposit, paid)
	}
	if got := env.paidToPayee(terms); got.Cmp(paid) != 0 {
		env.t.Fatalf("%s: the payee was paid %s, want %s", what, got, paid)
	}
}

func TestContractRefusesAttacks(t *testing.T) {
	env := newTestEnv(t)
	terms := env.open(ton("1"))
	addr, _ := terms.Address()
	vs := env.pay(terms.ID, 4, ton("0.1"))
	if _, err := env.payee.Commit(env.ctx, terms.ID); err != nil {
		t.Fatal(err)
	}
	paid := vs[3].Sent

	// A replayed commit (the same voucher, or an older one) pays nothing.
	for _, v := range []SignedState{vs[3], vs[1]} {
		if err := env.submitCommit(addr, v); !IsRefused(err, ExitNotAbovePaid) {
			t.Fatalf("replayed commit of voucher %d: %v, want exit code %d", v.Seqno, err, ExitNotAbovePaid)
		}
	}
	env.unchanged(terms, "a replayed commit", ton("1"), paid)

	// A voucher of another channel between the same parties.
	other := env.open(ton("1"))
	theirs, err := SignState(env.payerKey, other.ID, 9, ton("0.5"))
	if err != nil {
		t.Fatal(err)
	}
	if err := env.submitCommit(addr, theirs); !IsRefused(err, ExitWrongChannel) {
		t.Fatalf("a voucher of another channel: %v, want exit code %d", err, ExitWrongChannel)
	}

	// The payee's approval passed off as the payer's voucher, and a close
	// approved by the payer's key instead of the payee's.
	v5, _ := SignState(env.payerKey, terms.ID, 5, ton("0.5"))
	s := &Settlement{Channel: terms.ID, Voucher: v5}
	if err := s.Approve(env.payeeKey); err != nil {
		t.Fatal(err)
	}
	swapped := *s
	swapped.Voucher.Signature = s.PayeeSig
	selfApproved := *s
	if err := selfApproved.Approve(env.payerKey); err != nil {
		t.Fatal(err)
	}
	for name, bad := range map[string]*Settlement{"approval as voucher": &swapped, "approved by the payer": &selfApproved} {
		m, err := CloseMessage(addr, bad)
		if err != nil {
			t.Fatal(err)
		}
		if err := env.sendFrom(env.payeeW, addr, m); !IsRefused(err, ExitBadSignature) {
			t.Fatalf("close %s: %v, want exit code %d", name, err, ExitBadSignature)
		}
	}
	// A close below what was paid.
	low, _ := SignState(env.payerKey, terms.ID, 6, ton("0.1"))
	lowClose := &Settlement{Channel: terms.ID, Voucher: low}
	if err := lowClose.Approve(env.payeeKey); err != nil {
		t.Fatal(err)
	}
	if m, _ := CloseMessage(addr, lowClose); !IsRefused(env.sendFrom(env.payerW, addr, m), ExitNotAbovePaid) {
		t.Fatal("a close below what was paid went through")
	}

	// Payer-only operations from the payee's wallet.
	top, _ := TopUpMessage(addr, ton("0.1"))
	if err := env.sendFrom(env.payeeW, addr, top); !IsRefused(err, ExitNotPayer) {
		t.Fatalf("a top-up from the payee: %v, want exit code %d", err, ExitNotPayer)
	}
	start, _ := StartCloseMessage(addr)
	if err := env.sendFrom(env.payeeW, addr, start); !IsRefused(err, ExitNotPayer) {
		t.Fatalf("a start-close from the payee: %v, want exit code %d", err, ExitNotPayer)
	}
	// A top-up that does not bring its amount.
	short, _ := TopUpMessage(addr, ton("0.1"))
	short.Amount = tlb.MustFromTON("0.05")
	if err := env.sendFrom(env.payerW, addr, short); !IsRefused(err, ExitLowValue) {
		t.Fatalf("a top-up short of its amount: %v, want exit code %d", err, ExitLowValue)
	}
	// A commit whose value does not cover its gas would spend the payer's
	// reserve: refused.
	cheap, _ := CommitMessage(addr, v5)
	cheap.Amount = tlb.MustFromTON("0.001")
	if err := env.sendFrom(env.payeeW, addr, cheap); !IsRefused(err, ExitLowValue) {
		t.Fatalf("a commit without gas: %v, want exit code %d", err, ExitLowValue)
	}
	// Finish with no close started; an unknown opcode.
	fin, _ := FinishMessage(addr)
	if err := env.sendFrom(env.payerW, addr, fin); !IsRefused(err, ExitNotClosing) {
		t.Fatalf("finish while open: %v, want exit code %d", err, ExitNotClosing)
	}
	unknown := internal(addr, ton("0.01"), cell.BeginCell().MustStoreUInt(0xdeadbeef, 32).EndCell(), nil)
	if err := env.sendFrom(env.payerW, addr, unknown); !IsRefused(err, ExitUnknownOp) {
		t.Fatalf("an unknown opcode: %v, want exit code %d", err, ExitUnknownOp)
	}
	env.unchanged(terms, "the refused messages", ton("1"), paid)

	// An external message is never accepted: it costs the channel nothing.
	before := env.balance(addr)
	ext, err := tlb.ToCell(&tlb.ExternalMessage{DstAddr: addr, Body: v5cell(t, v5)})
	if err != nil {
		t.Fatal(err)
	}
	var rej *devnet.RejectedError
	if _, err := env.e.SendExternal(env.ctx, ext.ToBOC()); !errors.As(err, &rej) {
		t.Fatalf("an external message: %v, want it rejected", err)
	}
	if after := env.balance(addr); after.Cmp(before) != 0 {
		t.Fatalf("an external message cost the channel %s", new(big.Int).Sub(before, after))
	}

	// The payer's close: no top-up, no commit, no second start, no
	// finish before the quarantine.
	if err := env.payer.ForceClose(env.ctx, terms.ID); err != nil {
		t.Fatal(err)
	}
	top, _ = TopUpMessage(addr, ton("0.1"))
	if err := env.sendFrom(env.payerW, addr, top); !IsRefused(err, ExitClosing) {
		t.Fatalf("a top-up during the close: %v, want exit code %d", err, ExitClosing)
	}
	if err := env.submitCommit(addr, v5); !IsRefused(err, ExitClosing) {
		t.Fatalf("a commit during the close: %v, want exit code %d", err, ExitClosing)
	}
	start, _ = StartCloseMessage(addr)
	if err := env.sendFrom(env.payerW, addr, start); !IsRefused(err, ExitClosing) {
		t.Fatalf("a second start: %v, want exit code %d", err, ExitClosing)
	}
	fin, _ = FinishMessage(addr)
	if err := env.sendFrom(env.payerW, addr, fin); !IsRefused(err, ExitTooEarly) {
		t.Fatalf("finish during the quarantine: %v, want exit code %d", err, ExitTooEarly)
	}
	env.unchanged(terms, "the refused messages during the close", ton("1"), paid)

	// The payee answers with its voucher; then a late voucher finds a
	// closed tombstone and its value comes back.
	if _, err := env.payee.Close(env.ctx, terms.ID); err != nil {
		t.Fatal(err)
	}
	late, _ := SignState(env.payerKey, terms.ID, 7, ton("0.6"))
	if err := env.submitCommit(addr, late); !IsRefused(err, ExitClosed) {
		t.Fatalf("a commit after the close: %v, want exit code %d", err, ExitClosed)
	}
	if got := env.paidToPayee(terms); got.Cmp(vs[3].Sent) != 0 {
		t.Fatalf("payee was paid %s in all, want %s", got, vs[3].Sent)
	}

	// Redeploying the closed channel at its address (issue 18: with the
	// old contract, which destroyed itself, anyone could re-activate the
	// public StateInit and the payee re-commit an old voucher against the
	// payer's top-up still in flight). The tombstone stays: a message
	// carrying the StateInit is refused, and so is the payer's late
	// top-up, whose value bounces back to the payer.
	si, err := terms.StateInit()
	if err != nil {
		t.Fatal(err)
	}
	replay, _ := CommitMessage(addr, vs[3])
	replay.StateInit = si
	if err := env.sendFrom(env.payeeW, addr, replay); !IsRefused(err, ExitClosed) {
		t.Fatalf("a redeploy with an old voucher: %v, want exit code %d", err, ExitClosed)
	}
	payerBefore := env.balance(env.payerW.Address())
	inFlight, _ := TopUpMessage(addr, ton("1"))
	inFlight.StateInit = si
	if err := env.sendFrom(env.payerW, addr, inFlight); !IsRefused(err, ExitClosed) {
		t.Fatalf("the payer's late top-up: %v, want exit code %d", err, ExitClosed)
	}
	if err := env.submitCommit(addr, vs[3]); !IsRefused(err, ExitClosed) {
		t.Fatalf("an old voucher after the late top-up: %v, want exit code %d", err, ExitClosed)
	}
	waitFor(t, func() bool {
		// What it cost: the wallet's fees, the forwarding of the
		// StateInit it carried, the refusal's gas and the bounce.
		lost := new(big.Int).Sub(payerBefore, env.balance(env.payerW.Address()))
		return lost.Cmp(ton("0.02")) < 0
	}, "the payer's late top-up to bounce back")
	if oc := env.onChain(terms); oc.Status != StatusClosed || oc.Balance.Sign() != 0 || oc.Paid.Cmp(vs[3].Sent) != 0 {
		t.Fatalf("after the attempts the channel is %s, balance %s, paid %s", oc.Status, oc.Balance, oc.Paid)
	}
	if _, err := env.payer.TopUp(env.ctx, terms.ID, ton("0.1")); !errors.Is(err, ErrNotOpen) {
		t.Fatalf("the payer topped up a closed channel: %v", err)
	}
	if got := env.paidToPayee(terms); got.Cmp(vs[3].Sent) != 0 {
		t.Fatalf("payee was paid %s in all after the redeploys, want %s", got, vs[3].Sent)
	}
}

func v5cell(t *testing.T, v SignedState) *cell.Cell {
	t.Helper()
	c, err := commitCell(v)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Someone activates the channel's address before the payer deposits (a
// refused message carrying its StateInit leaves an empty contract): the
// payer's Open still deposits, and the channel works.
func TestOpenAfterSomeoneElseActivatedTheAddress(t *testing.T) {
	env := newTestEnv(t)
	terms, err := env.payer.NewTerms(env.payee.PublicKey(), env.payout)
	if err != nil {
		t.Fatal(err)
	}
	terms.Closing = env.closing
	acceptance, err := env.payee.Accept(env.ctx, terms, "test")
	if err != nil {
		t.Fatal(err)
	}
	addr, _ := terms.Address()
	si, _ := terms.StateInit()
	v, _ := SignState(env.payerKey, terms.ID, 1, ton("0.1"))
	grief, _ := CommitMessage(addr, v)
	grief.StateInit = si
	if err := env.sendFrom(env.payeeW, addr, grief); !IsRefused(err, ExitOverDeposit) {
		t.Fatalf("a commit deploying the channel: %v, want exit code %d", err, ExitOverDeposit)
	}
	if oc := env.onChain(terms); oc.Status != StatusUnfunded {
		t.Fatalf("after the refused deploy the channel is %s, want unfunded", oc.Status)
	}
	// The payee gives no credit and takes no voucher on an unfunded channel.
	if _, err := env.payee.Receive(env.ctx, v); !errors.Is(err, ErrNotOpen) {
		t.Fatalf("a voucher on an unfunded channel: %v", err)
	}
	if r := env.record(env.payeeStore, terms.ID); r.Phase != PhaseOpening {
		t.Fatalf("the payee's record is %s on an unfunded channel", r.Phase)
	}
	if _, err := env.payer.Open(env.ctx, terms, acceptance, ton("1")); err != nil {
		t.Fatal(err)
	}
	if oc := env.onChain(terms); oc.Status != StatusOpen || oc.Deposit.Cmp(ton("1")) != 0 {
		t.Fatalf("after open: %s, deposit %s", oc.Status, oc.Deposit)
	}
	vs := env.pay(terms.ID, 2, ton("0.1"))
	if _, err := env.payee.Close(env.ctx, terms.ID); err != nil {
		t.Fatal(err)
	}
	if got := env.paidToPayee(terms); got.Cmp(vs[1].Sent) != 0 {
		t.Fatalf("payee was paid %s, want %s", got, vs[1].Sent)
	}
}
