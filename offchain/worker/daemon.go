// Package worker is the miner's daemon: it watches its Worker contract for
// jobs it accepted, opens each sealed request inside the enclave, runs the
// inference engine, seals the answer to the client, and posts a signed
// receipt to the Job contract — exactly once per job, across crashes.
package worker

import (
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/xssnick/tonutils-go/address"
	"github.com/xssnick/tonutils-go/tlb"
	"github.com/xssnick/tonutils-go/tvm/cell"

	"github.com/cocoon-network/cocoon/bindings"
	"github.com/cocoon-network/cocoon/offchain/attest/atls"
	"github.com/cocoon-network/cocoon/offchain/attest/collateral"
	"github.com/cocoon-network/cocoon/offchain/chain"
	"github.com/cocoon-network/cocoon/offchain/inference"
	"github.com/cocoon-network/cocoon/offchain/wallet"
)

// Daemon is one running worker.
type Daemon struct {
	cfg     *Config
	net     chain.Network
	id      *Identity
	engine  inference.Engine
	log     *slog.Logger
	metrics *Metrics
	store   *JobStore

	root, owner, self *address.Address
	models            map[[32]byte]ModelConfig

	// sem bounds the jobs running at once.
	sem chan struct{}
	// uploads bounds the request bodies read at once.
	uploads chan struct{}

	mu      sync.Mutex
	running map[string]bool          // jobs with a goroutine
	posted  map[string]chan struct{} // wakes a job waiting for its request
	gpu     string                   // GPU discovery summary for /healthz

	online     *online        // the OpenAI-compatible endpoint for gateways (online.go)
	gas        *wallet.Wallet // online.gas_wallet: pays renewals and channel commits; nil when not set
	renewal    *renewal       // keeps the registration alive (renewal.go)
	chainAhead atomic.Int64   // nanoseconds the chain's clock is ahead of this machine's (readChainClock)
	dash       dashboardCache
	collateral *collateral.Keeper // nil for evidence without TCB collateral
}

// Options are the parts of a daemon that are not in its config file.
type Options struct {
	Network chain.Network
	Engine  inference.Engine
	Logger  *slog.Logger
	// GPU is the GPU discovery summary shown by /healthz.
	GPU string
	// Vouchers verifies online payers' vouchers; nil means IOUVerifier.
	Vouchers VoucherVerifier
}

// New prepares a daemon; Run starts it.
func New(cfg *Config, id *Identity, opts Options) (*Daemon, error) {
	cfg.applyServingDefaults()
	root, err := chain.ParseAddress(cfg.Root)
	if err != nil {
		return nil, fmt.Errorf("config root: %w", err)
	}
	owner, err := chain.ParseAddress(cfg.Owner)
	if err != nil {
		return nil, fmt.Errorf("config owner: %w", err)
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	d := &Daemon{
		cfg: cfg, net: opts.Network, id: id, engine: opts.Engine, log: log,
		metrics: NewMetrics(),
		root:    root, owner: owner,
		self:    bindings.WorkerAddress(root, owner, bindings.PublicKey256(id.SignKey.Public().(ed25519.PublicKey))),
		models:  map[[32]byte]ModelConfig{},
		sem:     make(chan struct{}, cfg.MaxConcurrent),
		uploads: make(chan struct{}, cfg.HTTP.MaxUploads),
		running: map[string]bool{},
		posted:  map[string]chan struct{}{},
		gpu:     opts.GPU,
	}
	for _, m := range cfg.Models {
		d.models[bindings.ModelID(m.Name)] = m
	}
	if d.online, err = newOnline(d, opts.Vouchers); err != nil {
		return nil, err
	}
	d.collateral = newCollateralKeeper(cfg.Collateral, id.Bundle, log)
	d.renewal = &renewal{d: d}
	return d, nil
}

// Address is the Worker contract's address.
func (d *Daemon) Address() *address.Address { return d.self }

// Job returns the stored record of a job, for status tools and tests; it
// fails before Run has opened the state.
func (d *Daemon) Job(job string) (*JobRecord, error) {
	d.mu.Lock()
	store := d.store
	d.mu.Unlock()
	if store == nil {
		return nil, errors.New("the worker's state is not open")
	}
	return store.Get(job)
}

// Metrics is the daemon's metric set.
func (d *Daemon) Metrics() *Metrics { return d.metrics }

// Run serves HTTP on ln (or cfg.Listen when ln is nil) and processes jobs
// until ctx ends.
func (d *Daemon) Run(ctx context.Context, ln net.Listener) error {
	// The weights served must be the ones Root pins and the evidence
	// attests; a mismatch is not something to serve around.
	if err := d.checkWeights(ctx); err != nil {
		if ln != nil {
			ln.Close()
		}
		return err
	}
	if d.collateral != nil {
		go d.collateral.Run(ctx)
	}
	store, err := OpenJobStore(d.cfg.Path(d.cfg.StateDir))
	if err != nil {
		return err
	}
	d.mu.Lock()
	d.store = store
	d.mu.Unlock()
	defer store.Close()
	if ln == nil {
		if ln, err = net.Listen("tcp", d.cfg.Listen); err != nil {
			return fmt.Errorf("listen %s: %w", d.cfg.Listen, err)
		}
	}
	srv := d.httpLimits().Server(d.Handler(), d.log)
	ln = srv.Listener(ln)
	if d.gas, err = d.openGasWallet(ctx); err != nil {
		ln.Close()
		return err
	}
	d.renewal.gas = d.gas
	stopPayments, err := d.online.startPayments(ctx)
	if err != nil {
		ln.Close()
		return err
	}
	defer stopPayments()
	if strings.HasPrefix(d.cfg.PublicURL, "https://") {
		// Attested TLS: clients check the evidence in the certificate
		// before they send anything.
		tid, err := d.id.TLSIdentity(time.Now())
		if err != nil {
			ln.Close()
			return fmt.Errorf("attested TLS certificate: %w", err)
		}
		ln = tls.NewListener(ln, atls.ServerOnlyConfig(tid))
	}
	// A server that stops serving leaves clients unable to post requests
	// or fetch results: the daemon stops with the reason, and resumes every
	// job where it was when it is started again.
	ctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	go func() {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			d.log.Error("the HTTP server stopped; stopping the worker", "error", err)
			stop(fmt.Errorf("serving HTTP on %s: %w", ln.Addr(), err))
		}
	}()
	defer func() {
		shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shut)
	}()
	d.log.Info("worker started", "worker", d.self.String(), "root", d.root.String(), "http", ln.Addr().String(),
		"dashboard", strings.TrimSuffix(d.cfg.PublicURL, "/")+"/ (a browser page; its data at /api/dashboard)",
		"engine", d.engine.Name(), "tee", d.id.Bundle.TEE, "max_concurrent", d.cfg.MaxConcurrent)
	if d.id.Bundle.TEE == "dev" {
		d.log.Warn("INSECURE: dev attestation, not hardware-backed; only test-mode networks accept this worker")
	}

	var wg sync.WaitGroup
	defer wg.Wait()
	pending, err := store.Pending()
	if err != nil {
		return err
	}
	d.readChainClock(ctx)
	for _, r := range pending {
		d.log.Info("resuming job", "job", r.Job, "state", r.State.String())
		d.start(ctx, &wg, r)
	}
	go d.trackChainLag(ctx)
	go d.renewal.run(ctx)
	go d.dashboardPage().Run(ctx)
	go d.prune(ctx, store)

	cursors, err := store.Cursors()
	if err != nil {
		return err
	}
	cur := chain.Cursor(cursors)
	err = chain.WatchWith(ctx, d.net, []*address.Address{d.self}, cur, chain.WatchOptions{
		Poll: d.cfg.PollInterval.Duration, MaxBackoff: maxRetryWait, Logger: d.log,
		OnReadError: func(error) { d.metrics.ChainErrors.Inc() },
	}, func(tx *chain.Transaction) error {
		return d.onWorkerTx(ctx, &wg, tx)
	})
	if cause := context.Cause(ctx); ctx.Err() != nil && !errors.Is(cause, context.Canceled) && !errors.Is(cause, context.DeadlineExceeded) {
		return cause
	}
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// start runs a job's pipeline in its own goroutine, once per job.
func (d *Daemon) start(ctx context.Context, wg *sync.WaitGroup, r *JobRecord) {
	d.mu.Lock()
	if d.running[r.Job] {
		d.mu.Unlock()
		return
	}
	d.running[r.Job] = true
	d.mu.Unlock()
	d.metrics.InFlight.Inc()
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer func() {
			d.mu.Lock()
			delete(d.running, r.Job)
			d.mu.Unlock()
			d.metrics.InFlight.Dec()
		}()
		if err := d.process(ctx, r); err != nil && ctx.Err() == nil {
			d.log.Error("job stopped", "job", r.Job, "error", err)
		}
	}()
}

// onWorkerTx handles one transaction of the Worker contract, in order.
// Each record it writes moves the chain cursor in the same commit.
func (d *Daemon) onWorkerTx(ctx context.Context, wg *sync.WaitGroup, tx *chain.Transaction) error {
	key := d.self.StringRaw()
	in := tx.Tx.IO.In
	if in == nil || in.MsgType != tlb.MsgTypeInternal {
		return d.store.SetCursor(key, tx.ID.LT)
	}
	im := in.AsInternal()
	msg, err := bindings.DecodeBody(im.Body)
	if err != nil || im.Bounced {
		return d.store.SetCursor(key, tx.ID.LT)
	}
	switch m := msg.(type) {
	case *bindings.Offer:
		accepted, reason := offerAnswer(tx)
		if !accepted {
			d.log.Info("offer declined by the Worker contract", "job", im.SrcAddr.String(), "reason", bindings.ErrorName(int(reason)))
			return d.store.SetCursor(key, tx.ID.LT)
		}
		r := &JobRecord{
			Job: im.SrcAddr.StringRaw(), Client: m.Client.StringRaw(), Nonce: m.Nonce,
			State: StateAccepted, Deadline: m.Deadline, AcceptedLT: tx.ID.LT, AcceptedAt: time.Now(),
		}
		added, err := d.store.AddAccepted(r, key, tx.ID.LT)
		if err != nil {
			return err
		}
		if added {
			d.log.Info("job accepted", "job", im.SrcAddr.String(), "deadline", time.Unix(int64(m.Deadline), 0).UTC().Format(time.RFC3339))
			d.start(ctx, wg, r)
		}
	case *bindings.JobPaid:
		// The Worker keeps the value less the gas it was sent for its own
		// transaction and the protocol fee it owes (as ReadHistory counts it).
		pay := m.Pay(im.Amount.Nano())
		if pay.Sign() > 0 {
			d.metrics.Earnings.Add(float64(pay.Int64()))
		}
	case *bindings.Slash:
		// The job itself is counted (as expired) once, when its pipeline
		// sees it closed.
		d.log.Warn("slashed: a job passed its deadline without a receipt", "job", im.SrcAddr.String())
		d.metrics.Slashes.Inc()
	}
	return d.store.SetCursor(key, tx.ID.LT)
}

// offerAnswer reads whether the Worker contract accepted the offer in tx.
func offerAnswer(tx *chain.Transaction) (accepted bool, declineReason uint16) {
	if tx.Tx.IO.Out == nil {
		return false, 0
	}
	outs, err := tx.Tx.IO.Out.ToSlice()
	if err != nil {
		return false, 0
	}
	for _, o := range outs {
		if o.MsgType != tlb.MsgTypeInternal {
			continue
		}
		switch m := decodeQuiet(o.AsInternal().Body).(type) {
		case *bindings.Accept:
			return true, 0
		case *bindings.Decline:
			return false, m.Reason
		}
	}
	return false, 0
}

func decodeQuiet(body *cell.Cell) bindings.Message {
	m, err := bindings.DecodeBody(body)
	if err != nil {
		return nil
	}
	return m
}

// trackChainLag keeps the chain-lag gauge current.
func (d *Daemon) trackChainLag(ctx context.Context) {
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	for {
		d.readChainClock(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// readChainClock measures how far the chain's clock runs ahead of this
// machine's (a slow local clock, a devnet moved forward): deadlines are
// the chain's, and a worker that misjudged them would be slashed.
func (d *Daemon) readChainClock(ctx context.Context) {
	info, err := d.net.MasterchainInfo(ctx)
	if err != nil {
		return
	}
	chainTime := time.Unix(int64(info.Time), 0)
	d.metrics.ChainLag.Set(time.Since(chainTime).Seconds())
	// A chain behind the wall clock (its latest block a few seconds old)
	// leaves the wall clock: the earlier of the two for a deadline.
	d.chainAhead.Store(int64(max(time.Until(chainTime), 0)))
}

// chainNow is the chain's time as the daemon judges deadlines by.
func (d *Daemon) chainNow() time.Time {
	return time.Now().Add(time.Duration(d.chainAhead.Load()))
}

// untilDeadline is how long until the chain reaches unix time deadline.
func (d *Daemon) untilDeadline(deadline uint32) time.Duration {
	return time.Unix(int64(deadline), 0).Sub(d.chainNow())
}

// prune drops what finished jobs no longer need once the retention has
// passed (see JobStore.Prune), checking a few times per retention period.
func (d *Daemon) prune(ctx context.Context, store *JobStore) {
	every := min(max(d.cfg.Retention.Duration/4, time.Second), 10*time.Minute)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		p, err := store.Prune(time.Now(), d.cfg.Retention.Duration)
		switch {
		case err != nil:
			d.log.Warn("pruning finished jobs", "error", err)
		case p.Results > 0 || p.Posted > 0:
			d.log.Info("pruned finished jobs", "results", p.Results, "posted_requests", p.Posted, "retention", d.cfg.Retention.Duration)
			d.metrics.Pruned.WithLabelValues("result").Add(float64(p.Results))
			d.metrics.Pruned.WithLabelValues("posted").Add(float64(p.Posted))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
