package chain

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
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

// DefaultMaxBackoff caps the wait between failed chain reads in Watch.
const DefaultMaxBackoff = 30 * time.Second

// WatchOptions tune WatchWith.
type WatchOptions struct {
	// Poll is the wait between rounds when nothing failed (default 1 s).
	Poll time.Duration
	// MaxBackoff caps the wait after failed reads, which doubles from
	// Poll with each failure in a row (default DefaultMaxBackoff).
	MaxBackoff time.Duration
	// Logger gets a line for each failed read and one when reads recover
	// (default: slog's default logger).
	Logger *slog.Logger
	// OnReadError, when set, is told of each failed read (for metrics).
	OnReadError func(error)
}

// WatchWith calls fn for every transaction of the addresses that is newer
// than the cursor, oldest first per account, and advances the cursor after
// each successful call. A failed read of the chain (a node restarting, a
// partition, a run of 5xx answers) is logged and retried with capped
// exponential backoff from where the cursor stands, so nothing is missed
// or seen twice; WatchWith returns only when ctx ends or fn fails. A caller
// that persists the cursor after each fn (or inside fn's own commit) and
// passes it back after a crash sees every transaction once.
func WatchWith(ctx context.Context, n Network, addrs []*address.Address, cur Cursor, o WatchOptions, fn func(*Transaction) error) error {
	if o.Poll <= 0 {
		o.Poll = time.Second
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = DefaultMaxBackoff
	}
	log := o.Logger
	if log == nil {
		log = slog.Default()
	}
	notifier, _ := n.(BlockNotifier)
	failures := 0
	for {
		var wake <-chan struct{}
		if notifier != nil {
			// Take the channel before scanning so that a block committed
			// during the scan still wakes the next round.
			wake = notifier.Blocks()
		}
		var readErr error
		for _, a := range addrs {
			err := catchUp(ctx, n, a, cur, fn)
			var re *readError
			if errors.As(err, &re) {
				readErr = err
				break
			}
			if err != nil {
				return err
			}
		}
		wait := o.Poll
		switch {
		case readErr != nil && ctx.Err() == nil:
			failures++
			wait = Backoff(o.Poll, o.MaxBackoff, failures)
			log.WarnContext(ctx, "reading the chain failed; retrying", "failures_in_a_row", failures, "retry_in", wait, "error", readErr)
			if o.OnReadError != nil {
				o.OnReadError(readErr)
			}
			wake = nil // wait out the backoff, not the next block
		case readErr == nil && failures > 0:
			log.InfoContext(ctx, "chain reads recovered", "after_failures", failures)
			failures = 0
		}
		timer := time.NewTimer(wait)
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

// Backoff is the wait after the given number of failures in a row: base,
// doubled for each further failure, at most limit.
func Backoff(base, limit time.Duration, failures int) time.Duration {
	d := base
	for i := 1; i < failures && d < limit; i++ {
		d *= 2
	}
	return min(d, limit)
}

// readError is a failed read of the chain, as opposed to a failure of the
// caller's callback.
type readError struct{ err error }

func (e *readError) Error() string { return e.err.Error() }
func (e *readError) Unwrap() error { return e.err }

func catchUp(ctx context.Context, n Network, a *address.Address, cur Cursor, fn func(*Transaction) error) error {
	key := a.StringRaw()
	fresh, err := HistoryOldestFirst(ctx, n, a, HistoryOptions{AfterLT: cur[key]})
	if err != nil {
		return &readError{fmt.Errorf("reading the history of %s: %w", a, err)}
	}
	for _, t := range fresh {
		if err := fn(t); err != nil {
			return err
		}
		cur[key] = t.ID.LT
	}
	return nil
}
