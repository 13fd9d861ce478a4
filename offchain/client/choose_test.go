package client

import (
	"errors"
	"math/big"
	"testing"

	"github.com/cocoon-network/cocoon/bindings"
)

func TestChoose(t *testing.T) {
	w := func(name string, in, out int64, completed, failed, slashed uint64) *Worker {
		return &Worker{Address: testAddr(name), Price: bindings.ModelPrice{PriceIn: big.NewInt(in), PriceOut: big.NewInt(out)},
			Completed: completed, Failed: failed, Slashed: slashed}
	}
	tests := []struct {
		name     string
		workers  []*Worker
		in, out  uint32
		wantRank []string
	}{
		{"cheapest first", []*Worker{w("a", 2e9, 2e9, 0, 0, 0), w("b", 1e9, 1e9, 0, 0, 0)}, 1000, 1000, []string{"b", "a"}},
		{"total price for this request, not the per-token prices", []*Worker{
			w("cheap-in", 1e9, 9e9, 0, 0, 0),  // 1000 in, 10 out: 1000 + 90 = 1090 nanoton
			w("cheap-out", 2e9, 1e9, 0, 0, 0), // 2000 + 10 = 2010
		}, 1000, 10, []string{"cheap-in", "cheap-out"}},
		{"same price for this request (rounding up), then record", []*Worker{
			w("flaky", 999_999, 0, 100, 50, 0), w("solid", 1_000_000, 0, 100, 0, 0),
		}, 1, 0, []string{"solid", "flaky"}},
		{"a slash weighs more than a failure", []*Worker{
			w("slashed", 1e9, 1e9, 100, 0, 2), w("failed", 1e9, 1e9, 100, 5, 0),
		}, 10, 10, []string{"failed", "slashed"}},
		{"a new worker ranks between good and bad records", []*Worker{
			w("bad", 1e9, 1e9, 1, 9, 0), w("new", 1e9, 1e9, 0, 0, 0), w("good", 1e9, 1e9, 9, 1, 0),
		}, 10, 10, []string{"good", "new", "bad"}},
		{"equal records: more completed jobs", []*Worker{
			w("young", 1e9, 1e9, 1, 1, 0), w("old", 1e9, 1e9, 1000, 1000, 0),
		}, 10, 10, []string{"old", "young"}},
		{"all equal: by address, whatever the input order", []*Worker{
			w("x", 1e9, 1e9, 3, 0, 0), w("y", 1e9, 1e9, 3, 0, 0), w("z", 1e9, 1e9, 3, 0, 0),
		}, 10, 10, nil},
		{"huge counters do not overflow", []*Worker{
			w("max", 1, 1, ^uint64(0), 0, 0), w("max-failed", 1, 1, ^uint64(0), ^uint64(0), ^uint64(0)),
		}, 10, 10, []string{"max", "max-failed"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Rank(tc.workers, tc.in, tc.out)
			if tc.wantRank == nil {
				// Deterministic: any permutation of the input ranks the same.
				rev := make([]*Worker, len(tc.workers))
				for i, x := range tc.workers {
					rev[len(rev)-1-i] = x
				}
				again := Rank(rev, tc.in, tc.out)
				for i := range got {
					if !got[i].Address.Equals(again[i].Address) {
						t.Fatalf("rank depends on input order: %s vs %s at %d", got[i].Address, again[i].Address, i)
					}
					if i > 0 && got[i-1].Address.StringRaw() > got[i].Address.StringRaw() {
						t.Fatalf("ties not ordered by address")
					}
				}
				return
			}
			for i, name := range tc.wantRank {
				if !got[i].Address.Equals(testAddr(name)) {
					t.Fatalf("rank %d is %s, want %s", i, got[i].Address, name)
				}
			}
			c, err := Choose(tc.workers, tc.in, tc.out)
			if err != nil || !c.Address.Equals(testAddr(tc.wantRank[0])) {
				t.Fatalf("Choose = %v, %v", c, err)
			}
		})
	}
	if _, err := Choose(nil, 1, 1); !errors.Is(err, ErrNoWorkers) {
		t.Errorf("Choose(nil) = %v", err)
	}
}
