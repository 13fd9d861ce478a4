package bindings

import (
	"context"
	"fmt"

	"github.com/xssnick/tonutils-go/address"
	"github.com/xssnick/tonutils-go/tlb"
	"github.com/xssnick/tonutils-go/tvm/cell"

	"github.com/cocoon-network/cocoon/offchain/chain"
)

// ParseRootEvent parses the body of one of Root's external-out messages:
// a *WorkerActivatedEvent or a *WorkerDeactivatedEvent.
func ParseRootEvent(body *cell.Cell) (any, error) {
	m, err := DecodeBody(body)
	if err != nil {
		return nil, fmt.Errorf("root event: %w", err)
	}
	switch m.(type) {
	case *WorkerActivatedEvent, *WorkerDeactivatedEvent:
		return m, nil
	}
	return nil, fmt.Errorf("root event: opcode 0x%08x is not a Root event", m.Opcode())
}

// JobClosedIn returns the JobClosed a Job sent in tx, if it sent one: the
// message that closes a job and says how it ended.
func JobClosedIn(tx *tlb.Transaction) (*JobClosed, bool) {
	if tx == nil || tx.IO.Out == nil {
		return nil, false
	}
	msgs, err := tx.IO.Out.ToSlice()
	if err != nil {
		return nil, false
	}
	for _, m := range msgs {
		if m.MsgType != tlb.MsgTypeInternal {
			continue
		}
		if c, err := Parse[JobClosed](m.AsInternal().Body); err == nil {
			return c, true
		}
	}
	return nil, false
}

// ExternalOutBodies returns the bodies of tx's external-out messages (the
// contracts' events), in the order they were sent.
func ExternalOutBodies(tx *tlb.Transaction) ([]*cell.Cell, error) {
	if tx == nil || tx.IO.Out == nil {
		return nil, nil
	}
	msgs, err := tx.IO.Out.ToSlice()
	if err != nil {
		return nil, fmt.Errorf("reading out messages: %w", err)
	}
	var out []*cell.Cell
	for _, m := range msgs {
		if m.MsgType != tlb.MsgTypeExternalOut {
			continue
		}
		out = append(out, m.AsExternalOut().Body)
	}
	return out, nil
}

// RootEvent is one event read from Root's history.
type RootEvent struct {
	Tx    *chain.Transaction
	Event any // *WorkerActivatedEvent or *WorkerDeactivatedEvent
}

// ReadRootEvents reads Root's events from its transactions, newest first,
// looking at no more than limit transactions. Clients discover workers this
// way: the newest event of a worker tells whether it serves.
func ReadRootEvents(ctx context.Context, net chain.Network, root *address.Address, limit int) ([]RootEvent, error) {
	var (
		events []RootEvent
		from   chain.TxID
	)
	for seen := 0; seen < limit; {
		page := min(limit-seen, 64)
		txs, err := net.Transactions(ctx, root, from, page)
		if err != nil {
			return nil, fmt.Errorf("reading transactions of root %s: %w", root, err)
		}
		for _, t := range txs {
			bodies, err := ExternalOutBodies(t.Tx)
			if err != nil {
				return nil, fmt.Errorf("transaction %x of root: %w", t.ID.Hash, err)
			}
			// A transaction's events are listed newest first too.
			for i := len(bodies) - 1; i >= 0; i-- {
				ev, err := ParseRootEvent(bodies[i])
				if err != nil {
					continue // not an event of ours: skip, as indexers do
				}
				events = append(events, RootEvent{Tx: t, Event: ev})
			}
		}
		seen += len(txs)
		if len(txs) < page || txs[len(txs)-1].PrevID.IsZero() {
			break
		}
		from = txs[len(txs)-1].PrevID
	}
	return events, nil
}
