package collateral

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/cocoon-network/cocoon/offchain/attest"
)

// Refresh timing. Intel and AMD reissue collateral every few weeks (TCB
// info is valid about a month); refreshing a few times a day keeps a
// worker's collateral current well before it expires, and a TCB recovery
// reaches clients within hours.
const (
	DefaultRefresh = 6 * time.Hour
	firstRetry     = time.Minute
)

// Keeper keeps a worker's collateral current: Run fetches it, refreshes it
// every Refresh, and retries failures with exponential backoff while the
// last good copy is still served.
type Keeper struct {
	Fetcher *Fetcher
	Bundle  *attest.Bundle
	// Refresh is the refresh period; 0 means DefaultRefresh.
	Refresh time.Duration
	Logger  *slog.Logger

	mu      sync.Mutex
	current []byte
}

// Current returns the encoded collateral to serve, or nil before the first
// successful fetch.
func (k *Keeper) Current() []byte {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.current
}

// RefreshOnce fetches the collateral once; on failure the previous copy
// stays.
func (k *Keeper) RefreshOnce(ctx context.Context) error {
	c, err := k.Fetcher.Fetch(ctx, k.Bundle)
	if err != nil {
		return err
	}
	raw, err := c.Encode()
	if err != nil {
		return err
	}
	k.mu.Lock()
	k.current = raw
	k.mu.Unlock()
	return nil
}

// Run refreshes until ctx ends.
func (k *Keeper) Run(ctx context.Context) {
	period := k.Refresh
	if period <= 0 {
		period = DefaultRefresh
	}
	log := k.Logger
	if log == nil {
		log = slog.Default()
	}
	retry := firstRetry
	for {
		wait := period
		if err := k.RefreshOnce(ctx); err != nil {
			if ctx.Err() != nil {
				return
			}
			wait = min(retry, period)
			retry *= 2
			log.Warn("collateral refresh failed; serving the last good copy", "tee", k.Bundle.TEE, "retry_in", wait, "err", err)
		} else {
			retry = firstRetry
			log.Info("collateral refreshed", "tee", k.Bundle.TEE)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}
