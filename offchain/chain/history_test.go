package chain_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/xssnick/tonutils-go/address"

	"github.com/cocoon-network/cocoon/offchain/chain"
)

// askingNet records the limit of each history request and can fail one
// request, as a node that drops out mid-walk or has no history does.
type askingNet struct {
	chain.Network
	mu     sync.Mutex
	asked  []int
	failAt int   // which request fails, counting from 1 (0: none)
	err    error // what it fails with (default errTestDown)
}

var errTestDown = errors.New("test: HTTP 502")

func (n *askingNet) Transactions(ctx context.Context, a *address.Address, from chain.TxID, limit int) ([]*chain.Transaction, error) {
	n.mu.Lock()
	n.asked = append(n.asked, limit)
	failed := len(n.asked) == n.failAt
	n.mu.Unlock()
	if failed {
		if n.err != nil {
			return nil, n.err
		}
		return nil, errTestDown
	}
	return n.Network.Transactions(ctx, a, from, limit)
}

func lts(txs []*chain.Transaction) []uint64 {
	out := []uint64{}
	for _, t := range txs {
		out = append(out, t.ID.LT)
	}
	return out
}

func TestHistory(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	e := openDevnet(ctx, t)
	defer e.Close()
	a := address.NewAddress(0, 0, make([]byte, 32))
	const total = 20
	fundEach(ctx, t, e, a, total)
	all, err := e.Transactions(ctx, a, chain.TxID{}, 100)
	if err != nil || len(all) != total {
		t.Fatalf("devnet history: %d transactions, %v", len(all), err)
	}
	newest := lts(all)
	missing := fmt.Errorf("test: no such account: %w", chain.ErrNotFound)

	tests := []struct {
		name    string
		opts    chain.HistoryOptions
		failAt  int
		failErr error
		stopAt  int // the consumer breaks after this many (0: never)
		want    []uint64
		asked   []int
		wantErr error
	}{
		{name: "whole history in default pages", opts: chain.HistoryOptions{}, want: newest, asked: []int{16, 16}},
		{name: "pages follow prev ids", opts: chain.HistoryOptions{Page: 7}, want: newest, asked: []int{7, 7, 7}},
		{name: "stops at AfterLT", opts: chain.HistoryOptions{AfterLT: newest[7], Page: 5}, want: newest[:7], asked: []int{5, 5}},
		{name: "AfterLT at the newest yields nothing", opts: chain.HistoryOptions{AfterLT: newest[0]}, want: []uint64{}, asked: []int{16}},
		{name: "limit asks for no more than it needs", opts: chain.HistoryOptions{Limit: 5, Page: 3}, want: newest[:5], asked: []int{3, 2}},
		{name: "limit beyond the history", opts: chain.HistoryOptions{Limit: 50, Page: 16}, want: newest, asked: []int{16, 16}},
		{name: "consumer stops early", opts: chain.HistoryOptions{Page: 4}, stopAt: 6, want: newest[:6], asked: []int{4, 4}},
		{name: "failed read ends the walk", opts: chain.HistoryOptions{Page: 4}, failAt: 2, want: newest[:4], asked: []int{4, 4}, wantErr: errTestDown},
		{name: "no history is an error", failAt: 1, failErr: missing, want: []uint64{}, asked: []int{16}, wantErr: chain.ErrNotFound},
		{name: "no history can be empty", opts: chain.HistoryOptions{MissingIsEmpty: true}, failAt: 1, failErr: missing, want: []uint64{}, asked: []int{16}},
		{name: "not found past the first page is an error", opts: chain.HistoryOptions{Page: 4, MissingIsEmpty: true}, failAt: 3, failErr: missing, want: newest[:8], asked: []int{4, 4, 4}, wantErr: chain.ErrNotFound},
		{name: "other failures are errors", opts: chain.HistoryOptions{MissingIsEmpty: true}, failAt: 1, want: []uint64{}, asked: []int{16}, wantErr: errTestDown},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n := &askingNet{Network: e, failAt: tc.failAt, err: tc.failErr}
			got := []uint64{}
			var gotErr error
			errs := 0
			for tx, err := range chain.History(ctx, n, a, tc.opts) {
				if err != nil {
					gotErr = err
					errs++
					continue
				}
				got = append(got, tx.ID.LT)
				if len(got) == tc.stopAt {
					break
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("transactions (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.asked, n.asked); diff != "" {
				t.Errorf("request limits (-want +got):\n%s", diff)
			}
			if tc.wantErr == nil && gotErr != nil || tc.wantErr != nil && !errors.Is(gotErr, tc.wantErr) {
				t.Errorf("error %v, want %v", gotErr, tc.wantErr)
			}
			if errs > 1 {
				t.Errorf("%d errors yielded, want at most one", errs)
			}
		})
	}

	t.Run("oldest first", func(t *testing.T) {
		got, err := chain.HistoryOldestFirst(ctx, e, a, chain.HistoryOptions{AfterLT: newest[3], Page: 2})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]uint64{newest[2], newest[1], newest[0]}, lts(got)); diff != "" {
			t.Errorf("transactions (-want +got):\n%s", diff)
		}
		if _, err := chain.HistoryOldestFirst(ctx, &askingNet{Network: e, failAt: 1}, a, chain.HistoryOptions{}); !errors.Is(err, errTestDown) {
			t.Errorf("failed read: %v, want %v", err, errTestDown)
		}
	})
}
