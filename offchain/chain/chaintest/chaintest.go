// Package chaintest gives tests the money checks they make on an account's
// history: what it sent an address, and whether its history accounts for
// its balance to the nanoton.
package chaintest

import (
	"context"
	"math/big"
	"testing"

	"github.com/xssnick/tonutils-go/address"
	"github.com/xssnick/tonutils-go/tlb"

	"github.com/cocoon-network/cocoon/offchain/chain"
)

// SentTo sums what the account at from sent dst over its whole history
// (chain.SentTo of each transaction).
func SentTo(t testing.TB, ctx context.Context, n chain.Network, from, dst *address.Address) *big.Int {
	t.Helper()
	sum := new(big.Int)
	for tx, err := range chain.History(ctx, n, from, chain.HistoryOptions{}) {
		if err != nil {
			t.Fatalf("reading the history of %s: %v", from, err)
		}
		v, err := chain.SentTo(tx, dst)
		if err != nil {
			t.Fatal(err)
		}
		sum.Add(sum, v)
	}
	return sum
}

// Conserved replays the history of the account at addr, oldest first: the
// balance after each transaction is the one before, plus what came in,
// minus what went out (values and forwarding fees) and the transaction's
// fees. It fails the test if the balance ever goes negative or ends other
// than the chain shows, and returns it.
func Conserved(t testing.TB, ctx context.Context, n chain.Network, addr *address.Address) *big.Int {
	t.Helper()
	txs, err := chain.HistoryOldestFirst(ctx, n, addr, chain.HistoryOptions{})
	if err != nil {
		t.Fatalf("reading the history of %s: %v", addr, err)
	}
	bal := new(big.Int)
	for _, t0 := range txs {
		tx := t0.Tx
		if in := tx.IO.In; in != nil && in.MsgType == tlb.MsgTypeInternal {
			bal.Add(bal, in.AsInternal().Amount.Nano())
		}
		bal.Sub(bal, tx.TotalFees.Coins.Nano())
		if tx.IO.Out != nil {
			outs, err := tx.IO.Out.ToSlice()
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range outs {
				if m.MsgType == tlb.MsgTypeInternal {
					bal.Sub(bal, m.AsInternal().Amount.Nano())
					bal.Sub(bal, m.AsInternal().FwdFee.Nano())
				}
			}
		}
		if bal.Sign() < 0 {
			t.Fatalf("%s: balance negative (%s) after transaction %d", addr, bal, tx.LT)
		}
	}
	acc, err := n.Account(ctx, addr)
	if err != nil {
		t.Fatal(err)
	}
	if acc.Balance.Cmp(bal) != 0 {
		t.Fatalf("%s holds %s, its history accounts for %s", addr, acc.Balance, bal)
	}
	return bal
}
