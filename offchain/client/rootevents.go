package client

import (
	"context"
	"fmt"

	"github.com/xssnick/tonutils-go/address"

	"github.com/cocoon-network/cocoon/bindings"
	"github.com/cocoon-network/cocoon/offchain/chain"
)

// rootEventsPage is how many of Root's transactions one request asks for.
const rootEventsPage = 64

// RootEvent is one event read from Root's history.
type RootEvent struct {
	Tx    *chain.Transaction
	Event any // *bindings.WorkerActivatedEvent or *bindings.WorkerDeactivatedEvent
}

// ReadRootEvents reads Root's events from its transactions, newest first,
// looking at no more than limit transactions. Clients discover workers this
// way: the newest event of a worker tells whether it serves.
func ReadRootEvents(ctx context.Context, net chain.Network, root *address.Address, limit int) ([]RootEvent, error) {
	if limit <= 0 {
		return nil, nil
	}
	var events []RootEvent
	for t, err := range chain.History(ctx, net, root, chain.HistoryOptions{Limit: limit, Page: rootEventsPage}) {
		if err != nil {
			return nil, fmt.Errorf("reading transactions of root %s: %w", root, err)
		}
		evs, err := bindings.RootEventsIn(t.Tx)
		if err != nil {
			return nil, fmt.Errorf("transaction %x of root: %w", t.ID.Hash, err)
		}
		for _, ev := range evs {
			events = append(events, RootEvent{Tx: t, Event: ev})
		}
	}
	return events, nil
}
