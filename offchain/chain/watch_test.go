package chain_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xssnick/tonutils-go/address"

	"github.com/cocoon-network/cocoon/offchain/chain"
	"github.com/cocoon-network/cocoon/offchain/devnet"
)

func TestWatchSeesEveryTransactionOnce(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	e := openDevnet(ctx, t)
	defer e.Close()
	a := address.NewAddress(0, 0, make([]byte, 32))
	fundN := func(n int) { fundEach(ctx, t, e, a, n) }
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
	if err := chain.WatchWith(ctx, e, []*address.Address{a}, cur, chain.WatchOptions{Poll: time.Millisecond}, stopAfter(25)); !errors.Is(err, errStop) {
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
	err := chain.WatchWith(wctx, e, []*address.Address{a}, cur, chain.WatchOptions{Poll: 5 * time.Millisecond}, func(tx *chain.Transaction) error {
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

// flakyNet fails every history read while down is set, as a node that
// restarts or a partitioned network does.
type flakyNet struct {
	chain.Network
	down  atomic.Bool
	fails atomic.Int32
}

func (f *flakyNet) Transactions(ctx context.Context, a *address.Address, from chain.TxID, limit int) ([]*chain.Transaction, error) {
	if f.down.Load() {
		f.fails.Add(1)
		return nil, errors.New("test: HTTP 500")
	}
	return f.Network.Transactions(ctx, a, from, limit)
}

// A watcher rides out failed reads: it keeps retrying (with backoff, with a
// line in the log) instead of returning, and then delivers every
// transaction exactly once.
func TestWatchRetriesFailedReads(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	e, err := devnet.Open(ctx, devnet.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	a := address.NewAddress(0, 0, make([]byte, 32))
	fund := func(n int) { fundEach(ctx, t, e, a, n) }
	fund(3)
	net := &flakyNet{Network: e}
	net.down.Store(true)
	var logs strings.Builder
	var logMu sync.Mutex
	logger := slog.New(slog.NewTextHandler(lockedWriter{&logMu, &logs}, nil))
	var readErrors atomic.Int32
	seen := map[uint64]int{}
	wctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- chain.WatchWith(wctx, net, []*address.Address{a}, chain.Cursor{}, chain.WatchOptions{
			Poll: time.Millisecond, MaxBackoff: 4 * time.Millisecond, Logger: logger,
			OnReadError: func(error) { readErrors.Add(1) },
		}, func(tx *chain.Transaction) error {
			seen[tx.ID.LT]++
			if len(seen) == 5 {
				stop()
			}
			return nil
		})
	}()
	// Let it fail a number of times, then bring the network back with
	// more transactions waiting.
	for net.fails.Load() < 5 {
		select {
		case err := <-done:
			t.Fatalf("the watcher returned on a read error: %v", err)
		case <-time.After(time.Millisecond):
		}
	}
	fund(2)
	net.down.Store(false)
	if err := <-done; !errors.Is(err, context.Canceled) || ctx.Err() != nil {
		t.Fatalf("watch: %v (saw %d)", err, len(seen))
	}
	for lt, n := range seen {
		if n != 1 {
			t.Errorf("transaction %d seen %d times", lt, n)
		}
	}
	if readErrors.Load() < 5 {
		t.Errorf("%d read errors reported, want at least 5", readErrors.Load())
	}
	logMu.Lock()
	defer logMu.Unlock()
	if !strings.Contains(logs.String(), "reading the chain failed; retrying") || !strings.Contains(logs.String(), "chain reads recovered") {
		t.Errorf("log lacks the retry and recovery lines:\n%s", logs.String())
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func TestBackoff(t *testing.T) {
	for _, tc := range []struct {
		failures int
		want     time.Duration
	}{{1, time.Second}, {2, 2 * time.Second}, {3, 4 * time.Second}, {6, 30 * time.Second}, {1000, 30 * time.Second}} {
		if got := chain.Backoff(time.Second, 30*time.Second, tc.failures); got != tc.want {
			t.Errorf("Backoff after %d failures = %s, want %s", tc.failures, got, tc.want)
		}
	}
}
