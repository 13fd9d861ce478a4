package bindings

import (
	"fmt"

	"github.com/xssnick/tonutils-go/tlb"
	"github.com/xssnick/tonutils-go/tvm/cell"
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
	op, _ := OpcodeOf(m)
	return nil, fmt.Errorf("root event: %s (opcode 0x%08x) is not a Root event", OpcodeName(op), op)
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

// RootEventsIn returns the Root events tx emitted, newest first like the
// history they are read from. Bodies that are not Root events are skipped,
// as indexers do.
func RootEventsIn(tx *tlb.Transaction) ([]any, error) {
	bodies, err := ExternalOutBodies(tx)
	if err != nil {
		return nil, err
	}
	var events []any
	for i := len(bodies) - 1; i >= 0; i-- {
		ev, err := ParseRootEvent(bodies[i])
		if err != nil {
			continue
		}
		events = append(events, ev)
	}
	return events, nil
}
