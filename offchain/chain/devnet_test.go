package chain_test

import (
	"context"
	"math/big"
	"testing"
	"time"

	"github.com/xssnick/tonutils-go/address"

	"github.com/cocoon-network/cocoon/offchain/devnet"
)

// openDevnet starts an in-process devnet whose clock stands still, so that
// transactions are the same on every run; the caller closes it.
func openDevnet(ctx context.Context, t *testing.T) *devnet.Engine {
	t.Helper()
	e, err := devnet.Open(ctx, devnet.Options{Dir: t.TempDir(), Clock: devnet.FixedClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// fundEach sends n faucet transfers to a, one per block, so that each
// becomes a transaction of its own.
func fundEach(ctx context.Context, t *testing.T, e *devnet.Engine, a *address.Address, n int) {
	t.Helper()
	for i := range n {
		if _, err := e.FaucetAsync(a, big.NewInt(int64(1000+i))); err != nil {
			t.Fatal(err)
		}
		if err := e.Settle(ctx, 3); err != nil {
			t.Fatal(err)
		}
	}
}
