package chain

import (
	"context"
	"fmt"
	"time"

	"github.com/xssnick/tonutils-go/address"
)

// BlockNotifier is implemented by networks that can say when a new block
// arrived (the in-process devnet); Watch then wakes on blocks instead of
// polling on a timer.
type BlockNotifier interface {
	Blocks() <-chan struct{}
}

// Cursor is how far a watcher has processed one account's history: the lt
// of the last transaction handed to the callback (0: from the beginning).
type Cursor map[string]uint64 // key: raw address

// Watch calls fn for every transaction of the addresses that is newer than
// the cursor, oldest first per account, and advances the cursor after each
// successful call. It returns when ctx ends or fn fails. A caller that
// persists the cursor after each fn (or inside fn's own commit) and passes it
// back after a crash sees every transaction once: none missed, none twice.
func Watch(ctx context.Context, n Network, addrs []*address.Address, cur Cursor, poll time.Duration, fn func(*Transaction) error) error {
	if poll <= 0 {
		poll = time.Second
	}
	notifier, _ := n.(BlockNotifier)
	for {
		var wake <-chan struct{}
		if notifier != nil {
			// Take the channel before scanning so that a block committed
			// during the scan still wakes the next round.
			wake = notifier.Blocks()
		}
		for _, a := range addrs {
			if err := catchUp(ctx, n, a, cur, fn); err != nil {
				return err
			}
		}
		timer := time.NewTimer(poll)
		select {
		case <-ctx.Done():
			timer.Stop()
			return ctx.Err()
		case <-wake:
		case <-timer.C:
		}
		timer.Stop()
	}
}

// watchPage is how many transactions one history request asks for.
const watchPage = 16

func catchUp(ctx context.Context, n Network, a *address.Address, cur Cursor, fn func(*Transaction) error) error {
	key := a.StringRaw()
	after := cur[key]
	var fresh []*Transaction
	from := TxID{}
	for {
		page, err := n.Transactions(ctx, a, from, watchPage)
		if err != nil {
			return fmt.Errorf("watching %s: %w", a, err)
		}
		done := len(page) < watchPage
		for _, t := range page {
			if t.ID.LT <= after {
				done = true
				break
			}
			fresh = append(fresh, t)
		}
		if done || len(fresh) == 0 {
			break
		}
		last := fresh[len(fresh)-1]
		if last.PrevID.IsZero() {
			break
		}
		from = last.PrevID
	}
	for i := len(fresh) - 1; i >= 0; i-- {
		if err := fn(fresh[i]); err != nil {
			return err
		}
		cur[key] = fresh[i].ID.LT
	}
	return nil
}
