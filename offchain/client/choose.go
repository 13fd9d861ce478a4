package client

import (
	"errors"
	"math/big"
	"slices"
)

// ErrNoWorkers is returned by Choose for an empty list.
var ErrNoWorkers = errors.New("no worker passed the checks")

// slashWeight is how many failures one slash counts as in a worker's
// record: a failure is refunded in full at once, a slash means the job
// sat until its deadline and the client had to ask for the refund.
const slashWeight = 5

// Choose picks the worker for a job of at most in input and out output
// tokens: the lowest maximum cost, then the best record, then the most
// completed jobs, then the lowest address, so that the same inputs always
// give the same worker.
func Choose(workers []*Worker, in, out uint32) (*Worker, error) {
	r := Rank(workers, in, out)
	if len(r) == 0 {
		return nil, ErrNoWorkers
	}
	return r[0], nil
}

// Rank returns the workers in Choose's order of preference (a new slice).
func Rank(workers []*Worker, in, out uint32) []*Worker {
	type ranked struct {
		w    *Worker
		cost *big.Int
	}
	rs := make([]ranked, len(workers))
	for i, w := range workers {
		rs[i] = ranked{w, w.MaxCost(in, out)}
	}
	slices.SortStableFunc(rs, func(a, b ranked) int {
		if c := a.cost.Cmp(b.cost); c != 0 {
			return c
		}
		if c := compareRecords(b.w, a.w); c != 0 { // better record first
			return c
		}
		if a.w.Completed != b.w.Completed {
			if a.w.Completed > b.w.Completed {
				return -1
			}
			return 1
		}
		ra, rb := a.w.Address.StringRaw(), b.w.Address.StringRaw()
		switch {
		case ra < rb:
			return -1
		case ra > rb:
			return 1
		}
		return 0
	})
	out2 := make([]*Worker, len(rs))
	for i, r := range rs {
		out2[i] = r.w
	}
	return out2
}

// compareRecords compares two workers' records by
// (completed + 1) / (completed + failed + 5·slashed + 2): the share of
// jobs served, smoothed so that a new worker starts at ½ rather than at
// either extreme. It returns 1 when a's record is better. The fractions
// are compared by cross-multiplying in big integers: exact, no overflow.
func compareRecords(a, b *Worker) int {
	num := func(w *Worker) *big.Int { return new(big.Int).Add(new(big.Int).SetUint64(w.Completed), big.NewInt(1)) }
	den := func(w *Worker) *big.Int {
		d := new(big.Int).SetUint64(w.Completed)
		d.Add(d, new(big.Int).SetUint64(w.Failed))
		d.Add(d, new(big.Int).Mul(new(big.Int).SetUint64(w.Slashed), big.NewInt(slashWeight)))
		return d.Add(d, big.NewInt(2))
	}
	l := new(big.Int).Mul(num(a), den(b))
	r := new(big.Int).Mul(num(b), den(a))
	return l.Cmp(r)
}
