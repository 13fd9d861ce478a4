package worker

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/xssnick/tonutils-go/address"

	"github.com/cocoon-network/cocoon/bindings"
	"github.com/cocoon-network/cocoon/offchain/chain"
	"github.com/cocoon-network/cocoon/offchain/chain/readers"
	"github.com/cocoon-network/cocoon/offchain/inference"
	"github.com/cocoon-network/cocoon/offchain/seal"
)

// maxRetryWait caps the backoff between retries of a failed chain read or
// job step: long enough not to hammer a node that is down, short enough to
// resume within seconds of it coming back.
const maxRetryWait = 15 * time.Second

// receiptMargin is the time before a job's deadline by which the worker
// stops generating and posts its receipt, so that the receipt lands
// before the Job refuses it as late.
const receiptMargin = 15 * time.Second

// Reasons for a failure receipt. They go into logs and metrics; the
// client learns them from the sealed result when one can be sealed.
const (
	failBusy          = "busy"
	failUndecryptable = "undecryptable_request"
	failBadRequest    = "bad_request"
	failResultKey     = "result_key_mismatch"
	failModel         = "model_not_served"
	failEngine        = "engine_failed"
	failNoRequest     = "request_never_arrived"
	failTooLate       = "deadline_too_close"
)

// minServeTime is the least time before receiptMargin that a job is still
// worth starting the engine for; with less, the worker refunds it at once.
const minServeTime = 2 * time.Second

// process drives one job from wherever it stands to done. Every step
// commits its outcome before the next starts; a restart re-enters here
// and continues from the stored state.
func (d *Daemon) process(ctx context.Context, r *JobRecord) error {
	job, err := chain.ParseAddress(r.Job)
	if err != nil {
		return err
	}
	log := d.log.With("job", job.String())
	// A job too close to its deadline to serve takes no engine slot: it
	// ends with a failure receipt (run), and must not crowd out a job that
	// can still be served (after an outage, both wait at once).
	if r.State < StateSealed && d.untilDeadline(r.Deadline)-receiptMargin >= minServeTime {
		select {
		case d.sem <- struct{}{}:
			defer func() { <-d.sem }()
		default:
			// Over the concurrency limit: refuse honestly and early, with a
			// failure receipt (full refund, no slash), instead of missing the
			// deadline.
			log.Warn("over the concurrency limit: declining with a failure receipt", "max_concurrent", d.cfg.MaxConcurrent)
			if err := d.fail(r, nil, failBusy); err != nil {
				return err
			}
		}
	}
	failures := 0
	for r.State != StateDone {
		var err error
		switch r.State {
		case StateAccepted:
			err = d.fetchRequest(ctx, job, r)
		case StateRequest:
			err = d.serve(ctx, job, r)
		case StateSealed:
			err = d.sign(ctx, job, r)
		case StateSigned:
			err = d.submit(ctx, job, r)
		default:
			return fmt.Errorf("job %s in unknown state %s", r.Job, r.State)
		}
		if err == nil {
			failures = 0
			continue
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		// A step fails when the chain or the disk does; every step starts
		// again from the stored state, so it is retried with backoff until
		// it goes through (a deadline that passes meanwhile ends the job
		// like any other: a refused late receipt is recorded as expired).
		failures++
		wait := chain.Backoff(d.cfg.PollInterval.Duration, maxRetryWait, failures)
		log.Warn("job step failed; retrying", "state", r.State.String(), "failures_in_a_row", failures, "retry_in", wait, "error", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
	log.Info("job done", "outcome", r.Outcome, "input_tokens", r.InputTokens, "output_tokens", r.OutputTokens)
	return nil
}

// terms reads the job's terms; a job that no longer exists has closed
// (cancelled, refunded, or already completed).
func (d *Daemon) terms(ctx context.Context, job *address.Address) (*readers.JobTermsView, error) {
	return readers.NewJob(d.net, job).JobTerms(ctx)
}

// fetchRequest gets the request envelope (inline on chain, or posted by the
// client) and checks it against the job's commitment.
func (d *Daemon) fetchRequest(ctx context.Context, job *address.Address, r *JobRecord) error {
	t, err := d.terms(ctx, job)
	if err != nil {
		if errors.Is(err, readers.ErrNotDeployed) {
			return d.closed(ctx, job, r)
		}
		return fmt.Errorf("reading job terms: %w", err)
	}
	if !t.Worker.Equals(d.self) {
		return d.done(r, OutcomeNotOurs)
	}
	// A Job cancelled and created again at the same address is another job:
	// the Worker contract's Accept of the first offer does not bind it (the
	// Job refuses it as stale), so its terms are not ours to serve.
	if t.Deadline != r.Deadline {
		return d.done(r, "stale_offer")
	}
	r.RequestHash = t.RequestHash
	var env []byte
	if c, err := readers.NewJob(d.net, job).Request(ctx); err != nil {
		return fmt.Errorf("reading the inline request: %w", err)
	} else if c != nil {
		if env, err = bindings.CellBytes(c, bindings.InlineRequestLimit); err != nil {
			return d.fail(r, nil, failBadRequest)
		}
	}
	wait := d.untilDeadline(t.Deadline) - receiptMargin
	for env == nil {
		if env, err = d.store.Posted(r.Job); err != nil {
			return err
		}
		if env != nil {
			break
		}
		if wait <= 0 {
			return d.fail(r, nil, failNoRequest)
		}
		ch := d.postedSignal(r.Job)
		step := min(wait, 2*time.Second)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ch:
		case <-time.After(step):
		}
		wait -= step
	}
	if sha256.Sum256(env) != r.RequestHash {
		// Inline bytes are the client's own commitment; a mismatch means the
		// client broke its job: refuse it with a failure receipt.
		return d.fail(r, nil, failBadRequest)
	}
	r.Request = env
	r.State = StateRequest
	return d.store.PutTakingPosted(r)
}

func (d *Daemon) postedSignal(job string) chan struct{} {
	d.mu.Lock()
	defer d.mu.Unlock()
	ch, ok := d.posted[job]
	if !ok {
		ch = make(chan struct{})
		d.posted[job] = ch
	}
	return ch
}

func (d *Daemon) notifyPosted(job string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if ch, ok := d.posted[job]; ok {
		close(ch)
		delete(d.posted, job)
	}
}

// serve opens the request inside the enclave, runs the engine and seals the
// answer to the client's key. Plaintexts live only in memory here.
func (d *Daemon) serve(ctx context.Context, job *address.Address, r *JobRecord) error {
	t, err := d.terms(ctx, job)
	if err != nil {
		if errors.Is(err, readers.ErrNotDeployed) {
			return d.closed(ctx, job, r)
		}
		return fmt.Errorf("reading job terms: %w", err)
	}
	terms := t.Terms()
	return d.run(ctx, job, &terms, r)
}

// run is the off-chain part of serving a job: open, generate, seal, commit.
// A public job (terms.isPublic, docs/ORACLE.md) carries its request and gets
// its answer in clear: nothing to open or seal.
func (d *Daemon) run(ctx context.Context, job *address.Address, t *bindings.JobTerms, r *JobRecord) error {
	ja := jobAddr(job)
	plain := r.Request
	if !t.IsPublic {
		var err error
		if plain, err = seal.OpenRequest(d.id.HPKE, ja, r.Request); err != nil {
			return d.fail(r, nil, failUndecryptable)
		}
	}
	chat, err := inference.ParseChatRequest(plain)
	if err != nil {
		return d.fail(r, nil, failBadRequest)
	}
	clientKey, err := seal.ParsePublicKey(chat.ResultKey)
	if err != nil || seal.Commitment(clientKey) != t.ClientHPKEKey {
		// Sealing to a key the job did not commit to could hand the answer
		// to someone other than the paying client.
		return d.fail(r, nil, failResultKey)
	}
	sealResult := func(res *inference.ChatResult) ([]byte, error) {
		pt, err := res.Marshal()
		if err != nil || t.IsPublic {
			return pt, err
		}
		return seal.SealResult(clientKey, ja, pt)
	}
	model, ok := d.models[t.ModelID]
	if !ok || bindings.ModelID(chat.Model) != t.ModelID {
		env, err := sealResult(&inference.ChatResult{V: inference.PlaintextVersion, Error: &inference.ResultError{Code: inference.CodeModelNotServed}})
		if err != nil {
			return err
		}
		return d.fail(r, env, failModel)
	}
	req := chat.Request()
	req.Model = model.EngineModel
	req.MaxTokens = min(req.MaxTokens, int(t.MaxOut))
	// A job the worker can no longer serve in time (it was down, or busy)
	// ends now with a failure receipt: a full refund, no slash.
	left := d.untilDeadline(t.Deadline) - receiptMargin
	if left < minServeTime {
		env, err := sealResult(&inference.ChatResult{V: inference.PlaintextVersion, Error: &inference.ResultError{Code: inference.CodeEngineUnavailable,
			Message: fmt.Sprintf("the worker could not start this job in time (%s before the deadline); refunded in full", (left + receiptMargin).Round(time.Second))}})
		if err != nil {
			return err
		}
		return d.fail(r, env, failTooLate)
	}
	genCtx, cancel := context.WithTimeout(ctx, left)
	defer cancel()
	start := time.Now()
	content, res, genErr := d.generate(genCtx, req)
	d.metrics.InferenceSeconds.Observe(time.Since(start).Seconds())
	if ctx.Err() != nil {
		return ctx.Err() // shutting down: the job resumes on restart
	}
	if genErr != nil && content == "" {
		env, err := sealResult(&inference.ChatResult{V: inference.PlaintextVersion, Error: &inference.ResultError{Code: inference.CodeEngineUnavailable, Message: genErr.Error()}})
		if err != nil {
			return err
		}
		return d.fail(r, env, failEngine)
	}
	out := &inference.ChatResult{V: inference.PlaintextVersion, Content: content, FinishReason: res.FinishReason, Usage: res.Usage}
	if genErr != nil {
		out.Error = &inference.ResultError{Code: inference.CodeEngineFailed, Message: genErr.Error()}
	}
	in, outTok := tokens(res, content)
	env, err := sealResult(out)
	if err != nil {
		return err
	}
	// The Job refuses a receipt over its maximums; the client agreed to pay
	// at most that, so a longer prompt is billed at the maximum.
	r.InputTokens, r.OutputTokens = min(in, t.MaxIn), min(outTok, t.MaxOut)
	r.Result = env
	r.Request = nil // served: the result is all a restart needs
	r.State = StateSealed
	d.metrics.Tokens.WithLabelValues("input").Add(float64(r.InputTokens))
	d.metrics.Tokens.WithLabelValues("output").Add(float64(r.OutputTokens))
	return d.store.Put(r)
}

func (d *Daemon) generate(ctx context.Context, req inference.Request) (string, inference.Result, error) {
	s, err := d.engine.Chat(ctx, req)
	if err != nil {
		return "", inference.Result{}, err
	}
	return inference.Collect(s)
}

// tokens is the usage to bill. An engine that does not report usage is
// billed for output only, one token per streamed word: never more than
// was delivered, and no guess at the prompt.
func tokens(res inference.Result, content string) (in, out uint32) {
	if res.Usage != nil {
		return uint32(max(res.Usage.InputTokens, 0)), uint32(max(res.Usage.OutputTokens, 0))
	}
	return 0, uint32(len(strings.Fields(content)))
}

// fail records a failure outcome: a receipt that refunds the client in
// full without a slash. env, when not nil, is a sealed result explaining
// the failure to the client.
func (d *Daemon) fail(r *JobRecord, env []byte, reason string) error {
	d.log.Warn("job cannot be served", "job", r.Job, "reason", reason)
	r.Failed, r.FailReason = true, reason
	r.Result = env
	r.Request = nil
	r.InputTokens, r.OutputTokens = 0, 0
	r.State = StateSealed
	return d.store.Put(r)
}

// sign builds and signs the receipt once; from here on only these exact
// bytes are ever sent, so a restart cannot produce a second receipt.
func (d *Daemon) sign(ctx context.Context, job *address.Address, r *JobRecord) error {
	if r.RequestHash == ([32]byte{}) {
		// A job failed before its terms were read (over the concurrency
		// limit): the receipt must still carry the job's commitment.
		t, err := d.terms(ctx, job)
		if err != nil {
			if errors.Is(err, readers.ErrNotDeployed) {
				return d.closed(ctx, job, r)
			}
			return fmt.Errorf("reading job terms: %w", err)
		}
		r.RequestHash = t.RequestHash
	}
	rc := bindings.Receipt{Job: job, RequestHash: r.RequestHash, InputTokens: r.InputTokens, OutputTokens: r.OutputTokens, Failed: r.Failed}
	if r.Result != nil {
		rc.ResultHash = seal.CiphertextHash(r.Result)
		c, err := bindings.InlineResult(r.Result)
		if err != nil {
			return err
		}
		rc.Result = c
	}
	boc, err := bindings.ReceiptMessage(d.id.SignKey, rc)
	if err != nil {
		return fmt.Errorf("signing receipt: %w", err)
	}
	r.Receipt = boc
	r.State = StateSigned
	return d.store.Put(r)
}

// submit sends the stored receipt until the job closes on chain.
func (d *Daemon) submit(ctx context.Context, job *address.Address, r *JobRecord) error {
	for attempt := 0; ; attempt++ {
		acc, err := d.net.Account(ctx, job)
		if err != nil {
			return fmt.Errorf("reading job account: %w", err)
		}
		if acc.Status != chain.StatusActive {
			return d.closed(ctx, job, r)
		}
		if _, err := d.net.SendExternal(ctx, r.Receipt); err != nil {
			d.metrics.ReceiptFailures.Inc()
			if d.untilDeadline(r.Deadline) < 0 {
				// Too late: the Job refuses a late receipt and will be
				// refunded (and this worker slashed).
				d.log.Error("receipt refused after the deadline", "job", r.Job, "error", err)
				return d.done(r, OutcomeExpired)
			}
			d.log.Warn("receipt not accepted yet", "job", r.Job, "attempt", attempt, "error", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(d.cfg.PollInterval.Duration):
		}
	}
}

// closed records a job that is gone from the chain, with the outcome its
// Job contract logged when it closed: a job refunded after its deadline is
// "expired" even when this worker had a receipt ready.
func (d *Daemon) closed(ctx context.Context, job *address.Address, r *JobRecord) error {
	outcome, err := closeOutcome(ctx, d.net, job)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		d.log.Warn("the job closed but its close reason is unreadable", "job", r.Job, "error", err)
		outcome = OutcomeClosed
	}
	return d.done(r, outcome)
}

// closeOutcome reads the reason a closed Job gave in its JobClosed.
func closeOutcome(ctx context.Context, n chain.Network, job *address.Address) (string, error) {
	txs, err := n.Transactions(ctx, job, chain.TxID{}, 16)
	if err != nil {
		return "", fmt.Errorf("reading the job's transactions: %w", err)
	}
	for _, tx := range txs { // newest first: the close is the last one
		closed, ok := bindings.JobClosedIn(tx.Tx)
		if !ok {
			continue
		}
		switch closed.Reason {
		case bindings.ClosedCompleted:
			return OutcomeCompleted, nil
		case bindings.ClosedFailed:
			return OutcomeFailed, nil
		case bindings.ClosedExpired:
			return OutcomeExpired, nil
		}
		return OutcomeClosed, nil
	}
	return "", errors.New("no JobClosed among the job's latest transactions")
}

// done records a job's final outcome, once: a job already done is never
// counted again.
func (d *Daemon) done(r *JobRecord, outcome string) error {
	r.State = StateDone
	r.Outcome = outcome
	r.DoneAt = time.Now()
	if err := d.store.Put(r); err != nil {
		return err
	}
	d.metrics.Jobs.WithLabelValues(outcome).Inc()
	if !r.AcceptedAt.IsZero() {
		d.metrics.JobSeconds.Observe(time.Since(r.AcceptedAt).Seconds())
	}
	return nil
}

// jobAddr is the job's address as the envelopes bind it.
func jobAddr(job *address.Address) seal.JobAddr {
	var h [32]byte
	copy(h[:], job.Data())
	return seal.NewJobAddr(int32(job.Workchain()), h)
}
