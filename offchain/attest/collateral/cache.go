package collateral

import (
	"context"
	"crypto/sha256"
	"sync"
	"time"

	"github.com/cocoon-network/cocoon/offchain/attest"
)

// DefaultCacheTTL is how long a verifier reuses collateral it fetched for
// one worker's evidence: a revocation Intel or AMD publishes reaches it
// within this time.
const DefaultCacheTTL = time.Hour

// Cache is the collateral a verifier (client, gateway) fetches itself from
// Intel's PCS and AMD's KDS for the evidence it judges, instead of taking
// what the worker chose to serve, reused for TTL per evidence. It fetches
// nothing for evidence without collateral (dev, GPU-only): Fetch returns
// ErrNotNeeded.
type Cache struct {
	Fetcher *Fetcher
	// TTL is how long one fetch is reused; 0 means DefaultCacheTTL.
	TTL time.Duration

	mu      sync.Mutex
	entries map[[32]byte]cached
}

type cached struct {
	c  *attest.Collateral
	at time.Time
}

// maxEntries bounds the cache: one entry per worker evidence judged.
const maxEntries = 4096

// Fetch returns the collateral for b, fetched at most TTL ago.
func (c *Cache) Fetch(ctx context.Context, b *attest.Bundle) (*attest.Collateral, error) {
	f := c.Fetcher
	if f == nil {
		f = &Fetcher{}
	}
	key := sha256.Sum256(b.Evidence)
	ttl := c.TTL
	if ttl <= 0 {
		ttl = DefaultCacheTTL
	}
	now := f.now()
	c.mu.Lock()
	if e, ok := c.entries[key]; ok && now.Sub(e.at) < ttl {
		c.mu.Unlock()
		return e.c, nil
	}
	c.mu.Unlock()
	coll, err := f.Fetch(ctx, b)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil || len(c.entries) >= maxEntries {
		c.entries = map[[32]byte]cached{}
	}
	c.entries[key] = cached{coll, now}
	return coll, nil
}
