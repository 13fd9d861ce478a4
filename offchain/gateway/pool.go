package gateway

import (
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cocoon-network/cocoon/offchain/client"
	"github.com/cocoon-network/cocoon/offchain/onlineproto"
)

// Circuit breaking: after breakerThreshold consecutive failures a worker
// gets no requests for a cool-down that starts at breakerBase and doubles
// per renewed failure up to breakerMax; then one probe request (or a
// successful capacity poll) decides whether it is back.
const (
	breakerThreshold = 3
	breakerBase      = 2 * time.Second
	breakerMax       = time.Minute
)

// upstream is one verified worker serving one or more models, with what the
// gateway learnt about it: load, latency, failures and payments.
type upstream struct {
	w  *client.Worker
	hc *http.Client
	// base is the worker's endpoint without a trailing slash.
	base string

	outstanding atomic.Int64
	// resumed: the payer was handed this worker after discovery
	// (KeepingPayer).
	resumed atomic.Bool

	mu        sync.Mutex
	ttft      float64 // EWMA of time to first token, ms; 0 = unknown
	capacity  *onlineproto.Capacity
	capHeader string // the last capacity header checked
	failures  int
	openUntil time.Time
	cooldown  time.Duration
	probing   bool
	dropped   string // why the worker is dropped for good ("" while not)
}

func (u *upstream) key() string { return u.w.Address.StringRaw() }

// A worker's routing states, as /healthz, the dashboard and
// cocoon_gateway_workers name them.
const (
	stateHealthy    = "healthy"     // takes requests
	stateProbing    = "probing"     // its circuit breaker is half-open: one request decides
	stateCoolingOff = "cooling_off" // its circuit breaker is open after failures: no requests until a probe
	stateDropped    = "dropped"     // misbehaved: never used again
)

// workerStates are the states in the order they are reported.
var workerStates = []string{stateHealthy, stateProbing, stateCoolingOff, stateDropped}

// state is the worker's routing state, for metrics and /healthz.
func (u *upstream) state(now time.Time) string {
	u.mu.Lock()
	defer u.mu.Unlock()
	switch {
	case u.dropped != "":
		return stateDropped
	case u.failures >= breakerThreshold && now.Before(u.openUntil):
		return stateCoolingOff
	case u.failures >= breakerThreshold:
		return stateProbing
	}
	return stateHealthy
}

// admit reports whether the worker may take a request now; for a
// half-open breaker it admits exactly one probe.
func (u *upstream) admit(now time.Time) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.dropped != "" {
		return false
	}
	if u.failures >= breakerThreshold {
		if now.Before(u.openUntil) || u.probing {
			return false
		}
	}
	if c := u.capacity; c != nil && int(u.outstanding.Load()) >= c.Slots+c.QueueLimit {
		return false // full by its own account
	}
	return true
}

// score is lower for a better choice: load per slot, weighted by measured
// latency. Price is a filter (MaxPrice), not a weight: among workers the
// app accepts, the free and fast one serves.
// claim takes the worker for one request: false when it stopped being
// admitted meanwhile, or when another request took a half-open breaker's
// one probe.
func (u *upstream) claim(now time.Time) bool {
	if !u.admit(now) {
		return false
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.failures >= breakerThreshold {
		if u.probing {
			return false
		}
		u.probing = true
	}
	return true
}

func (u *upstream) score() float64 {
	u.mu.Lock()
	defer u.mu.Unlock()
	slots := 1.0
	if u.capacity != nil && u.capacity.Slots > 0 {
		slots = float64(u.capacity.Slots)
	}
	lat := u.ttft
	if lat <= 0 {
		lat = 1 // unknown: as good as the best, so new workers get tried
	}
	return (float64(u.outstanding.Load()) + 1) / slots * (1 + lat/50)
}

func (u *upstream) succeeded(ttft time.Duration) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.failures, u.cooldown, u.probing = 0, 0, false
	ms := float64(ttft) / float64(time.Millisecond)
	if u.ttft == 0 {
		u.ttft = ms
	} else {
		u.ttft = 0.8*u.ttft + 0.2*ms
	}
}

func (u *upstream) failed(now time.Time) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.failures++
	u.probing = false
	if u.failures >= breakerThreshold {
		if u.cooldown == 0 {
			u.cooldown = breakerBase
		} else {
			u.cooldown = min(2*u.cooldown, breakerMax)
		}
		u.openUntil = now.Add(u.cooldown)
	}
}

// polled records a capacity poll: a worker whose breaker is open and that
// answers it (with a valid signature) gets one probe request at once.
func (u *upstream) polled(c *onlineproto.Capacity, now time.Time) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.capacity = c
	if u.failures >= breakerThreshold {
		u.openUntil = now // half-open: the next request is the probe
	}
}

func (u *upstream) drop(reason string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.dropped == "" {
		u.dropped = reason
	}
}

// pick chooses a worker among cands by the power of two random choices:
// two distinct admitted workers, the lower score wins (ties at random, so
// equal workers share the load). Workers in skip were tried already.
func pick(cands []*upstream, skip map[string]bool, now time.Time) *upstream {
	var ok []*upstream
	for _, u := range cands {
		if !skip[u.key()] && u.admit(now) {
			ok = append(ok, u)
		}
	}
	switch len(ok) {
	case 0:
		return nil
	case 1:
		if ok[0].claim(now) {
			return ok[0]
		}
		return nil
	}
	i := rand.IntN(len(ok))
	j := rand.IntN(len(ok) - 1)
	if j >= i {
		j++
	}
	a, b := ok[i], ok[j]
	if b.score() < a.score() {
		a, b = b, a
	}
	if a.claim(now) {
		return a
	}
	if b.claim(now) {
		return b
	}
	return nil
}

// capacitySnapshot is the latest capacity report (nil before the first).
func (u *upstream) capacitySnapshot() *onlineproto.Capacity {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.capacity
}
