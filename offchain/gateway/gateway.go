// Package gateway is the OpenAI-compatible front that apps point their SDKs
// at: it checks the app's API keys, strips everything that identifies the
// end user, sends each request to a free attested worker (discovered and
// verified through Root as the client SDK does), retries on another worker
// before the first token, breaks the circuit of failing workers, checks
// every signed usage receipt and pays it with a voucher. docs/GATEWAY.md
// describes it; prompts and answers are never logged or stored here.
package gateway

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/xssnick/tonutils-go/address"

	"github.com/cocoon-network/cocoon/offchain/attest/atls"
	"github.com/cocoon-network/cocoon/offchain/chain"
	"github.com/cocoon-network/cocoon/offchain/client"
	"github.com/cocoon-network/cocoon/offchain/dashboard"
	"github.com/cocoon-network/cocoon/offchain/internal/httpserve"
)

// Defaults of Config.
const (
	DefaultRefreshInterval   = 30 * time.Second
	DefaultPollInterval      = 2 * time.Second
	DefaultMaxAttempts       = 3
	DefaultFirstTokenTimeout = 60 * time.Second
	// After the first token an answer may pause at most
	// DefaultTokenGapTimeout between two events and take at most
	// FirstTokenTimeout plus DefaultPerTokenTimeout per allowed token in
	// all (a worker must average 4 tokens a second): a worker cannot hold
	// an app's request, and its slot, by trickling tokens.
	DefaultTokenGapTimeout = 30 * time.Second
	DefaultPerTokenTimeout = 250 * time.Millisecond
	DefaultMaxTokens       = 1024
	DefaultMaxTokensLimit  = 32768
	// MaxBody bounds an app's request body.
	MaxBody = 4 << 20
)

// Source finds the verified workers of a model.
type Source interface {
	Discover(ctx context.Context, model string) (workers []*client.Worker, testMode bool, err error)
}

// RootSource discovers workers through Root with client.Discover: every
// check the client SDK runs (chain state, evidence, allow-lists) applies.
type RootSource struct {
	Net     chain.Network
	Root    *address.Address
	Options client.DiscoverOptions
}

// Discover implements Source.
func (s *RootSource) Discover(ctx context.Context, model string) ([]*client.Worker, bool, error) {
	d, err := client.Discover(ctx, s.Net, s.Root, model, s.Options)
	if err != nil {
		return nil, false, err
	}
	return d.Workers, d.TestMode, nil
}

// Config configures a Gateway.
type Config struct {
	Source Source
	// Models the gateway offers.
	Models []string
	// APIKeys the app's users authenticate with (Authorization: Bearer).
	APIKeys []string
	Payer   Payer
	// Budget caps the total paid to workers (nanoton); nil: no cap.
	Budget *big.Int
	// MaxPrice caps a worker's input and output price (nanoton per 1M
	// tokens); dearer workers are not used. nil: no cap.
	MaxPrice *big.Int
	// Intervals of re-discovery and of capacity polls.
	RefreshInterval, PollInterval time.Duration
	// MaxAttempts is how many workers a request may try before its first token.
	MaxAttempts int
	// FirstTokenTimeout bounds one attempt up to its first token.
	FirstTokenTimeout time.Duration
	// TokenGapTimeout and PerTokenTimeout bound an answer after its first
	// token (DefaultTokenGapTimeout, DefaultPerTokenTimeout): a worker past
	// either is cut and paid what it sent.
	TokenGapTimeout, PerTokenTimeout time.Duration
	// Journal is a file where the gateway notes the requests it sent and
	// has not settled yet (journal.go), so that after a crash the next run
	// pays what the workers charged for them. Empty: no journal (a crash
	// leaves those charges unpaid). Only with a ResumingPayer.
	Journal string
	// DefaultMaxTokens applies when a request sets no limit; MaxTokens caps any.
	DefaultMaxTokens, MaxTokens int
	Logger                      *slog.Logger
}

// Gateway serves apps. Create it with New, serve Handler, and Run it for
// discovery, capacity polls and payments.
type Gateway struct {
	cfg     Config
	log     *slog.Logger
	metrics *metrics
	keys    [][32]byte

	mu       sync.RWMutex
	pools    map[string][]*upstream // model → workers
	byAddr   map[string]*upstream
	testMode bool
	found    chan struct{} // closed after the first discovery that found a worker

	payments *payments
	journal  *journal             // nil without Config.Journal
	orphans  []journalEntry       // attempts an earlier run left open
	dash     *dashboard.Dashboard // the page at /
	// collecting counts receipts being fetched for answers that stopped
	// before theirs arrived (collectReceipt); Run waits for them.
	collecting sync.WaitGroup
}

// New checks cfg and returns a Gateway.
func New(cfg Config) (*Gateway, error) {
	switch {
	case cfg.Source == nil:
		return nil, errors.New("gateway: no worker source")
	case len(cfg.Models) == 0:
		return nil, errors.New("gateway: no models")
	case len(cfg.APIKeys) == 0:
		return nil, errors.New("gateway: no API keys: apps must authenticate")
	case cfg.Payer == nil:
		return nil, errors.New("gateway: no payer")
	}
	if cfg.RefreshInterval <= 0 {
		cfg.RefreshInterval = DefaultRefreshInterval
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = DefaultPollInterval
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = DefaultMaxAttempts
	}
	if cfg.FirstTokenTimeout <= 0 {
		cfg.FirstTokenTimeout = DefaultFirstTokenTimeout
	}
	if cfg.TokenGapTimeout <= 0 {
		cfg.TokenGapTimeout = DefaultTokenGapTimeout
	}
	if cfg.PerTokenTimeout <= 0 {
		cfg.PerTokenTimeout = DefaultPerTokenTimeout
	}
	if cfg.MaxTokens <= 0 {
		cfg.MaxTokens = DefaultMaxTokensLimit
	}
	if cfg.DefaultMaxTokens <= 0 {
		cfg.DefaultMaxTokens = min(DefaultMaxTokens, cfg.MaxTokens)
	}
	if cfg.DefaultMaxTokens > cfg.MaxTokens {
		return nil, fmt.Errorf("gateway: default max tokens %d above the limit %d", cfg.DefaultMaxTokens, cfg.MaxTokens)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	g := &Gateway{
		cfg: cfg, log: log, metrics: newMetrics(),
		pools: map[string][]*upstream{}, byAddr: map[string]*upstream{}, found: make(chan struct{}),
	}
	for _, k := range cfg.APIKeys {
		if len(k) < 16 {
			return nil, errors.New("gateway: an API key is shorter than 16 characters")
		}
		g.keys = append(g.keys, sha256.Sum256([]byte(k)))
	}
	var err error
	if cfg.Journal != "" {
		if _, ok := cfg.Payer.(ResumingPayer); !ok {
			return nil, errors.New("gateway: a journal needs a payer that resumes across restarts (payment channels)")
		}
		if g.journal, g.orphans, err = openJournal(cfg.Journal); err != nil {
			return nil, err
		}
		if dp, ok := cfg.Payer.(DurablePayer); ok {
			g.journal.durable = dp.Durable
		}
	}
	if g.payments, err = newPayments(cfg.Payer, cfg.Budget, g.metrics, log); err != nil {
		return nil, err
	}
	g.payments.journal = g.journal
	if g.dash, err = newDashboard(g); err != nil {
		return nil, err
	}
	return g, nil
}

// Registry is the gateway's Prometheus registry (served at /metrics).
func (g *Gateway) Registry() *prometheus.Registry { return g.metrics.reg }

// Found is closed once discovery has found at least one worker.
func (g *Gateway) Found() <-chan struct{} { return g.found }

// Spent is what the gateway has paid workers so far (nanoton); with a
// ResumingPayer (channels), earlier runs on the same store included.
func (g *Gateway) Spent() *big.Int { return g.payments.spentTotal() }

// Run discovers workers, polls their capacity and delivers vouchers until
// ctx ends; then it delivers the last vouchers and closes the payer.
func (g *Gateway) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	wg.Add(2)
	wg.Go(func() {
		g.journal.settleLoop(ctx, func(err error) {
			g.log.Warn("vouchers not made durable yet; retrying", "error", err)
		})
	})
	go func() { defer wg.Done(); g.refreshLoop(ctx) }()
	go func() { defer wg.Done(); g.pollLoop(ctx) }()
	wg.Go(func() { g.dash.Run(ctx) })
	if len(g.orphans) > 0 {
		g.collecting.Go(func() { g.recoverOrphans(ctx) })
	}
	wg.Wait()
	g.collecting.Wait() // bounded: each gives up after receiptWait
	defer g.journal.close()
	defer func() {
		if err := g.journal.settlePaid(); err != nil {
			g.log.Warn("could not write the journal's last settled requests; the next run checks them again", "error", err)
		}
	}()
	// Delivering the last vouchers and closing channels waits for the chain.
	shut, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	g.payments.flush(shut, g.upstreamByAddr)
	return g.cfg.Payer.Close(shut)
}

func (g *Gateway) upstreamByAddr(addr string) *upstream {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return g.byAddr[addr]
}

func (g *Gateway) refreshLoop(ctx context.Context) {
	wait := g.cfg.RefreshInterval
	for {
		err := g.refresh(ctx)
		next := g.cfg.RefreshInterval
		if err != nil && ctx.Err() == nil {
			// The chain or Root could not be read: keep the workers we
			// have and try again sooner, backing off.
			g.log.Warn("worker discovery failed; keeping the known workers", "error", err)
			wait = min(max(2*wait/3, time.Second), g.cfg.RefreshInterval)
			next = wait
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(next):
		}
	}
}

// refresh re-discovers every model's workers. A worker seen before keeps
// its routing state; one whose evidence changed (re-attested) gets a new
// attested connection; one gone from Root's list gets no new requests.
func (g *Gateway) refresh(ctx context.Context) error {
	pools := map[string][]*upstream{}
	testMode := false
	var errs []error
	for _, model := range g.cfg.Models {
		ws, tm, err := g.cfg.Source.Discover(ctx, model)
		if err != nil {
			errs = append(errs, fmt.Errorf("model %s: %w", model, err))
			g.mu.RLock()
			pools[model] = g.pools[model]
			g.mu.RUnlock()
			continue
		}
		testMode = testMode || tm
		for _, w := range ws {
			if g.cfg.MaxPrice != nil && (w.Price.PriceIn.Cmp(g.cfg.MaxPrice) > 0 || w.Price.PriceOut.Cmp(g.cfg.MaxPrice) > 0) {
				continue
			}
			u, err := g.upstreamFor(w, tm)
			if err != nil {
				g.log.Warn("worker not used", "worker", w.Address.String(), "error", err)
				continue
			}
			pools[model] = append(pools[model], u)
		}
	}
	byAddr := map[string]*upstream{}
	n := 0
	for _, us := range pools {
		for _, u := range us {
			byAddr[u.key()] = u
		}
		n += len(us)
	}
	g.mu.Lock()
	g.pools, g.byAddr, g.testMode = pools, byAddr, testMode
	g.mu.Unlock()
	if kp, ok := g.cfg.Payer.(KeepingPayer); ok {
		for _, u := range byAddr {
			if !u.resumed.Swap(true) {
				go kp.Resume(ctx, u.w, u.hc)
			}
		}
	}
	g.updateWorkerGauges()
	if n > 0 {
		select {
		case <-g.found:
		default:
			close(g.found)
		}
	}
	return errors.Join(errs...)
}

// upstreamFor reuses the known upstream of w or makes one: https endpoints
// are reached over attested TLS pinned to the evidence hash on chain;
// plain http only while Root is in test mode.
func (g *Gateway) upstreamFor(w *client.Worker, testMode bool) (*upstream, error) {
	g.mu.RLock()
	old := g.byAddr[w.Address.StringRaw()]
	g.mu.RUnlock()
	if old != nil && old.w.AttestationHash == w.AttestationHash && old.w.Endpoint == w.Endpoint &&
		old.w.Price.PriceIn.Cmp(w.Price.PriceIn) == 0 && old.w.Price.PriceOut.Cmp(w.Price.PriceOut) == 0 &&
		ed25519.PublicKey(old.w.WorkerKey).Equal(w.WorkerKey) {
		return old, nil
	}
	base := strings.TrimSuffix(strings.TrimSpace(w.Endpoint), "/")
	tr := &http.Transport{
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:   5 * time.Second,
		ResponseHeaderTimeout: g.cfg.FirstTokenTimeout,
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   256,
		IdleConnTimeout:       90 * time.Second,
	}
	switch {
	case strings.HasPrefix(base, "https://"):
		tr.TLSClientConfig = atls.PinnedConfig(w.AttestationHash)
	case strings.HasPrefix(base, "http://") && testMode:
		g.log.Warn("NOT SECURE: plain http to a worker (Root is in test mode)", "worker", w.Address.String())
	default:
		return nil, fmt.Errorf("endpoint %q: only https (attested TLS) outside test mode", w.Endpoint)
	}
	u := &upstream{w: w, base: base, hc: &http.Client{Transport: tr}}
	if old != nil {
		old.mu.Lock()
		u.dropped = old.dropped // misbehaviour is not forgiven by re-attesting
		old.mu.Unlock()
	}
	return u, nil
}

func (g *Gateway) updateWorkerGauges() {
	now := time.Now()
	g.mu.RLock()
	defer g.mu.RUnlock()
	g.metrics.workers.Reset()
	for model, us := range g.pools {
		for _, s := range workerStates {
			g.metrics.workers.WithLabelValues(model, s).Set(0)
		}
		for _, u := range us {
			g.metrics.workers.WithLabelValues(model, u.state(now)).Inc()
		}
	}
}

func (g *Gateway) pollLoop(ctx context.Context) {
	t := time.NewTicker(g.cfg.PollInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		g.mu.RLock()
		us := make([]*upstream, 0, len(g.byAddr))
		for _, u := range g.byAddr {
			us = append(us, u)
		}
		g.mu.RUnlock()
		var wg sync.WaitGroup
		for _, u := range us {
			wg.Add(1)
			go func() { defer wg.Done(); g.poll(ctx, u) }()
		}
		wg.Wait()
		g.updateWorkerGauges()
		g.payments.catchUp(ctx)
	}
}

// workers returns the model's workers (nil for an unknown model).
func (g *Gateway) workers(model string) ([]*upstream, bool) {
	g.mu.RLock()
	defer g.mu.RUnlock()
	us, ok := g.pools[model]
	if !ok && slices.Contains(g.cfg.Models, model) {
		return nil, true
	}
	return us, ok
}

// authorized checks the Bearer key in constant time per configured key.
func (g *Gateway) authorized(r *http.Request) bool {
	key, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return false
	}
	h := sha256.Sum256([]byte(strings.TrimSpace(key)))
	found := 0
	for _, k := range g.keys {
		found |= subtle.ConstantTimeCompare(h[:], k[:])
	}
	return found == 1
}

// Limits are the gateway's HTTP bounds. A stream extends its own write
// deadline per chunk, so WriteTimeout bounds a non-stream answer and a
// stalled stream, not a long one that keeps flowing.
func Limits() httpserve.Limits {
	return httpserve.Limits{
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      10 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		MaxConns:          1024,
	}
}

// Serve serves Handler on ln within Limits (timeouts and connection cap)
// until srv is shut down; the server is returned at once for Shutdown.
func (g *Gateway) Serve(ln net.Listener) (srv *http.Server, done <-chan error) {
	l := Limits()
	s := l.Server(g.Handler(), g.log)
	errs := make(chan error, 1)
	go func() { errs <- s.Serve(s.Listener(ln)) }()
	return s.Server, errs
}
