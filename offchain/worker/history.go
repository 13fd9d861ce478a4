package worker

import (
	"context"
	"fmt"
	"math/big"
	"sort"
	"time"

	"github.com/xssnick/tonutils-go/address"
	"github.com/xssnick/tonutils-go/tlb"

	"github.com/cocoon-network/cocoon/bindings"
	"github.com/cocoon-network/cocoon/offchain/chain"
)

// Kinds of HistoryEntry.
const (
	EventPaid    = "paid"    // a job's receipt paid the worker (JobPaid)
	EventFailed  = "failed"  // a failure receipt closed a job (JobFailed): no pay, no slash
	EventSlashed = "slashed" // a job expired: part of the stake went to its client
)

// HistoryEntry is one job event in the Worker contract's history.
type HistoryEntry struct {
	Time   time.Time
	Kind   string
	Job    *address.Address
	Amount *big.Int // paid: the worker's pay; slashed: the stake sent to the client
}

// History is what the Worker contract's transactions say about its jobs
// and money, read from the chain (nothing from the daemon's own store).
type History struct {
	Entries []HistoryEntry // newest first
	Earned  *big.Int       // worker pay over the entries
	Slashed *big.Int       // stake sent to clients over the entries
	Fees    *big.Int       // the contract's transaction fees (gas, storage, forwarding)
	// Complete is false when the history was longer than the limit read.
	Complete bool
}

// DaySummary is one UTC day of a History.
type DaySummary struct {
	Day                       string // 2006-01-02
	Paid, Failed, SlashedJobs int
	Earned, Slashed           *big.Int
}

// ReadHistory reads up to limit of the Worker contract's latest
// transactions.
func ReadHistory(ctx context.Context, n chain.Network, worker *address.Address, limit int) (*History, error) {
	h := &History{Earned: new(big.Int), Slashed: new(big.Int), Fees: new(big.Int)}
	if limit <= 0 {
		return h, nil
	}
	read := 0
	var last *chain.Transaction
	for tx, err := range chain.History(ctx, n, worker, chain.HistoryOptions{Limit: limit}) {
		if err != nil {
			return nil, fmt.Errorf("reading the history of %s: %w", worker, err)
		}
		h.add(tx)
		read++
		last = tx
	}
	// The walk stopped short of limit only at the beginning of the history;
	// at the limit, it is complete when the last one read was the first.
	h.Complete = read < limit || last.PrevID.IsZero()
	return h, nil
}

func (h *History) add(tx *chain.Transaction) {
	if tx.Tx == nil {
		return
	}
	h.Fees.Add(h.Fees, tx.Tx.TotalFees.Coins.Nano())
	in := tx.Tx.IO.In
	if in == nil || in.MsgType != tlb.MsgTypeInternal {
		return
	}
	im := in.AsInternal()
	if im.Bounced {
		return
	}
	if code, ran := chain.ComputeExitCode(tx); !ran || (code != 0 && code != 1) {
		return // refused (a forged JobPaid, say): nothing happened
	}
	e := HistoryEntry{Time: time.Unix(int64(tx.Now), 0).UTC(), Job: im.SrcAddr, Amount: new(big.Int)}
	switch m := decodeQuiet(im.Body).(type) {
	case *bindings.JobPaid:
		e.Kind = EventPaid
		e.Amount = m.Pay(im.Amount.Nano())
		h.Earned.Add(h.Earned, e.Amount)
	case *bindings.JobFailed:
		e.Kind = EventFailed
	case *bindings.Slash:
		e.Kind = EventSlashed
		if tx.Tx.IO.Out != nil {
			if outs, err := tx.Tx.IO.Out.ToSlice(); err == nil {
				for _, o := range outs {
					if o.MsgType == tlb.MsgTypeInternal {
						e.Amount.Add(e.Amount, o.AsInternal().Amount.Nano())
					}
				}
			}
		}
		h.Slashed.Add(h.Slashed, e.Amount)
	default:
		return
	}
	h.Entries = append(h.Entries, e)
}

// Days sums the entries per UTC day, newest day first.
func (h *History) Days() []DaySummary {
	byDay := map[string]*DaySummary{}
	for _, e := range h.Entries {
		day := e.Time.Format(time.DateOnly)
		d, ok := byDay[day]
		if !ok {
			d = &DaySummary{Day: day, Earned: new(big.Int), Slashed: new(big.Int)}
			byDay[day] = d
		}
		switch e.Kind {
		case EventPaid:
			d.Paid++
			d.Earned.Add(d.Earned, e.Amount)
		case EventFailed:
			d.Failed++
		case EventSlashed:
			d.SlashedJobs++
			d.Slashed.Add(d.Slashed, e.Amount)
		}
	}
	out := make([]DaySummary, 0, len(byDay))
	for _, d := range byDay {
		out = append(out, *d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Day > out[j].Day })
	return out
}
