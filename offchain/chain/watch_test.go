package chain_test

import (
	"context"
	"errors"
	"math/big"
	"testing"
	"time"

	"github.com/xssnick/tonutils-go/address"

	"github.com/cocoon-network/cocoon/offchain/chain"
	"github.com/cocoon-network/cocoon/offchain/devnet"
)

func TestWatchSeesEveryTransactionOnce(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	e, err := devnet.Open(ctx, devnet.Options{Dir: t.TempDir(), Clock: devnet.FixedClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	a := address.NewAddress(0, 0, make([]byte, 32))
	fundN := func(n int) {
		t.Helper()
		for i := 0; i < n; i++ {
			if _, err := e.FaucetAsync(a, big.NewInt(int64(1000+i))); err != nil {
				t.Fatal(err)
			}
			// One transfer per block, so each has its own transaction.
			if err := e.Settle(ctx, 3); err != nil {
				t.Fatal(err)
			}
		}
	}
	// More than two history pages before the watcher starts.
	fundN(40)

	cur := chain.Cursor{}
	var seen []uint64
	stopAfter := func(n int) func(*chain.Transaction) error {
		// The callback fails on the (n+1)th transaction: it is not processed,
		// so the cursor stays before it and the next watcher gets it again.
		return func(tx *chain.Transaction) error {
			if len(seen) == n {
				return errStop
			}
			if len(seen) > 0 && tx.ID.LT <= seen[len(seen)-1] {
				t.Errorf("transaction %d after %d: not oldest first or seen twice", tx.ID.LT, seen[len(seen)-1])
			}
			seen = append(seen, tx.ID.LT)
			return nil
		}
	}
	// Stop after 25: the cursor says where a restarted watcher resumes.
	if err := chain.Watch(ctx, e, []*address.Address{a}, cur, time.Millisecond, stopAfter(25)); !errors.Is(err, errStop) {
		t.Fatalf("watch: %v", err)
	}
	if cur[a.StringRaw()] != seen[24] {
		t.Fatalf("cursor %d, want the 25th transaction %d", cur[a.StringRaw()], seen[24])
	}
	// Resume, with new transactions arriving while it watches.
	go func() {
		time.Sleep(20 * time.Millisecond)
		fundN(5)
	}()
	wctx, stop := context.WithCancel(ctx)
	collect := stopAfter(1 << 30)
	err = chain.Watch(wctx, e, []*address.Address{a}, cur, 5*time.Millisecond, func(tx *chain.Transaction) error {
		err := collect(tx)
		if len(seen) == 45 {
			stop()
		}
		return err
	})
	if !errors.Is(err, context.Canceled) || ctx.Err() != nil {
		t.Fatalf("resumed watch: %v (saw %d)", err, len(seen))
	}
	all, err := e.Transactions(ctx, a, chain.TxID{}, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 45 {
		t.Fatalf("account has %d transactions, want 45", len(all))
	}
	for i, tx := range all {
		if want := seen[len(seen)-1-i]; tx.ID.LT != want {
			t.Fatalf("watcher saw %v, history is different at %d", seen, i)
		}
	}
}

var errStop = errors.New("stop")
