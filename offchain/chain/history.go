package chain

import (
	"context"
	"errors"
	"iter"
	"slices"

	"github.com/xssnick/tonutils-go/address"
)

// DefaultHistoryPage is how many transactions one history request asks for
// when HistoryOptions.Page is not set.
const DefaultHistoryPage = 16

// HistoryOptions bound a walk through an account's history.
type HistoryOptions struct {
	// AfterLT ends the walk before the first transaction at or below this
	// lt: the caller has seen those already (0: walk to the beginning).
	AfterLT uint64
	// Limit is the most transactions the walk yields (0 or less: no limit).
	Limit int
	// Page is how many transactions one request asks for (default
	// DefaultHistoryPage); a request never asks for more than Limit leaves.
	Page int
	// MissingIsEmpty makes an account the network has no history for (an
	// ErrNotFound on the first request) an empty history, not an error.
	MissingIsEmpty bool
}

// History walks addr's transactions newest first, following each page's
// last prev id, until the beginning of the history, AfterLT or Limit. A
// failed request is yielded once, unwrapped so that each caller says what
// it was doing, and ends the walk.
func History(ctx context.Context, n Network, addr *address.Address, o HistoryOptions) iter.Seq2[*Transaction, error] {
	page := o.Page
	if page <= 0 {
		page = DefaultHistoryPage
	}
	return func(yield func(*Transaction, error) bool) {
		var from TxID
		seen := 0
		for o.Limit <= 0 || seen < o.Limit {
			ask := page
			if o.Limit > 0 {
				ask = min(page, o.Limit-seen)
			}
			txs, err := n.Transactions(ctx, addr, from, ask)
			if err != nil {
				if o.MissingIsEmpty && from.IsZero() && errors.Is(err, ErrNotFound) {
					return
				}
				yield(nil, err)
				return
			}
			for _, tx := range txs {
				if tx.ID.LT <= o.AfterLT {
					return
				}
				if !yield(tx, nil) {
					return
				}
			}
			seen += len(txs)
			if len(txs) == 0 || txs[len(txs)-1].PrevID.IsZero() {
				return
			}
			from = txs[len(txs)-1].PrevID
		}
	}
}

// HistoryOldestFirst collects the walk History makes and returns it oldest
// first, the order in which the transactions happened.
func HistoryOldestFirst(ctx context.Context, n Network, addr *address.Address, o HistoryOptions) ([]*Transaction, error) {
	var txs []*Transaction
	for tx, err := range History(ctx, n, addr, o) {
		if err != nil {
			return nil, err
		}
		txs = append(txs, tx)
	}
	slices.Reverse(txs)
	return txs, nil
}
