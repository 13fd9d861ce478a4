package worker

import (
	"context"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/cocoon-network/cocoon/bindings"
)

// A top-up over the owner's balance is refused before anything is sent
// (no transaction, no gas paid), like wallet send; one within it goes
// through and raises the stake.
func TestOwnerTopUpChecksTheBalance(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	n := setupNet(t, ctx)
	_, id, ln := registerWorker(t, ctx, n)
	ln.Close()
	self := workerAddr(t, n, id)
	o := &Owner{Net: n.e, Wallet: n.owner, Worker: self}
	before, err := n.e.Account(ctx, n.owner.Address())
	if err != nil {
		t.Fatal(err)
	}
	tooMuch := new(big.Int).Mul(big.NewInt(99_999_999), big.NewInt(1e9))
	err = o.TopUp(ctx, tooMuch)
	if err == nil || !strings.Contains(err.Error(), "less than") {
		t.Fatalf("top-up over the balance: %v, want a balance error", err)
	}
	after, err := n.e.Account(ctx, n.owner.Address())
	if err != nil {
		t.Fatal(err)
	}
	if after.LastTx.LT != before.LastTx.LT || after.Balance.Cmp(before.Balance) != 0 {
		t.Fatalf("the refused top-up still sent a transaction: balance %s → %s", before.Balance, after.Balance)
	}
	st0, err := bindings.NewWorker(n.e, self).WorkerState(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := o.TopUp(ctx, big.NewInt(1e9)); err != nil {
		t.Fatalf("top-up within the balance: %v", err)
	}
	st1, err := bindings.NewWorker(n.e, self).WorkerState(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st1.Stake.Cmp(st0.Stake) <= 0 {
		t.Fatalf("stake %s → %s after a top-up", st0.Stake, st1.Stake)
	}
}
