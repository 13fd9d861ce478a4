package client

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/xssnick/tonutils-go/address"
	"github.com/xssnick/tonutils-go/tlb"

	"github.com/cocoon-network/cocoon/bindings"
	"github.com/cocoon-network/cocoon/offchain/chain"
	"github.com/cocoon-network/cocoon/offchain/chain/readers"
	"github.com/cocoon-network/cocoon/offchain/inference"
	"github.com/cocoon-network/cocoon/offchain/seal"
	"github.com/cocoon-network/cocoon/offchain/tonamount"
)

// Bounds of the steps after a job closed.
const (
	// resultWait bounds how long a result envelope is retried at the
	// worker's endpoint (it may still be storing it, or restarting).
	resultWait = time.Minute
	// compensationWait bounds the wait for the slash compensation that
	// follows an expired job the worker had accepted (two messages later).
	compensationWait = 30 * time.Second
)

// Outcome is a job as the chain (and, for its answer, the worker) shows it.
type Outcome struct {
	Job      *address.Address
	State    State
	Reason   string // the close reason in words, when closed
	Deadline uint32
	// CreateExit is the exit code of a refused JobCreate; DeclineReason
	// the worker's reason for a Decline.
	CreateExit    bindings.ExitCode
	DeclineReason bindings.ExitCode
	// Receipt is the worker's signed receipt (tokens, result hash), when
	// the job closed on one.
	Receipt *bindings.Receipt
	// Answer is the opened result. A failure receipt's result carries the
	// worker's error; a completed job's may too (a partial answer it
	// charged for).
	Answer *inference.ChatResult
	Costs  Costs
	// SlashCompensation is what the worker's stake paid the client for an
	// accepted job it let expire (nil when none was seen).
	SlashCompensation *big.Int
	CloseTx           *chain.Transaction
	// DeadlinePassed is set by Status (and Wait) for a job still open
	// after its deadline: Refund applies.
	DeadlinePassed bool
}

// ErrDeadlinePassed is wrapped by Wait's error when the chain's time
// passed the job's deadline with the job still open: no receipt can be
// accepted any more, and Refund gives the escrow back.
var ErrDeadlinePassed = errors.New("the deadline passed without a receipt")

// ErrNoKey is wrapped when a result cannot be opened because the per-job
// key is not in this client's directory (a job submitted elsewhere).
var ErrNoKey = errors.New("the job's key is not in this client directory, so its result cannot be opened")

// ErrResultMismatch is wrapped when a result envelope is not the one the
// worker's receipt commits to: it is refused unopened.
var ErrResultMismatch = errors.New("the result does not match the hash in the worker's receipt")

// FailedError is a job that closed on the worker's failure receipt. Code
// is the sealed result's error code (empty when no result was attached);
// Message is the worker's text for the app's user — it may quote the
// engine, so it is not part of Error().
type FailedError struct {
	Job     *address.Address
	Code    inference.ErrorCode
	Message string
	Refund  *big.Int
}

func (e *FailedError) Error() string {
	why := "the worker could not serve"
	if e.Code != "" {
		why = "the worker reported " + string(e.Code)
	}
	return fmt.Sprintf("job %s failed: %s; %s TON was refunded", e.Job, why, tonamount.Format(e.Refund))
}

// ClosedError is a job that closed without an answer: declined,
// cancelled, expired, or its offer bounced.
type ClosedError struct {
	Job    *address.Address
	State  State
	Reason string
	Refund *big.Int
}

func (e *ClosedError) Error() string {
	return fmt.Sprintf("job %s %s; %s TON was refunded", e.Job, e.Reason, tonamount.Format(e.Refund))
}

// Load returns a job: from the client's store when it submitted it (with
// the key that opens its result), else as far as the chain tells (no key).
func (c *Client) Load(ctx context.Context, addr *address.Address) (*Job, error) {
	j, err := c.store.Load(addr)
	if err == nil || !errors.Is(err, ErrUnknownJob) {
		return j, err
	}
	h, err := c.history(ctx, addr, newHistory(addr), 0)
	if err != nil {
		return nil, err
	}
	if h.createTx == nil {
		return nil, fmt.Errorf("job %s: no record here and no transaction on chain", addr)
	}
	j = &Job{Address: addr, Client: h.client, Escrow: h.escrow}
	if t := h.terms; t != nil {
		j.Worker, j.Deadline, j.RequestHash = t.Worker, t.Deadline, t.RequestHash
		j.MaxInputTokens, j.MaxOutputTokens, j.PriceIn, j.PriceOut = t.MaxIn, t.MaxOut, t.PriceIn, t.PriceOut
		j.Public = t.IsPublic
	}
	if d, err := readers.NewJob(c.net, addr).JobData(ctx); err == nil && d.Deployed {
		j.Root, j.Nonce = d.Root, d.Nonce
	}
	if j.Worker != nil {
		if st, err := readers.NewWorker(c.net, j.Worker).WorkerState(ctx); err == nil {
			j.Endpoint = st.Endpoint
		}
	}
	return j, nil
}

// history reads the job's transactions newer than afterLT into h, oldest
// first, and returns h.
func (c *Client) history(ctx context.Context, addr *address.Address, h *history, afterLT uint64) (*history, error) {
	txs, err := newTransactions(ctx, c.net, addr, afterLT)
	if err != nil {
		return nil, err
	}
	for _, tx := range txs {
		if err := h.add(tx); err != nil {
			return nil, err
		}
	}
	return h, nil
}

// newTransactions lists addr's transactions newer than afterLT, oldest first.
func newTransactions(ctx context.Context, net chain.Network, addr *address.Address, afterLT uint64) ([]*chain.Transaction, error) {
	txs, err := chain.HistoryOldestFirst(ctx, net, addr, chain.HistoryOptions{AfterLT: afterLT, MissingIsEmpty: true})
	if err != nil {
		return nil, fmt.Errorf("reading the transactions of %s: %w", addr, err)
	}
	return txs, nil
}

// Wait follows the job until it closes, then reads the worker's receipt,
// fetches and opens the answer, and splits the costs. A failure receipt
// is a *FailedError, a close without an answer a *ClosedError, a JobCreate
// refusal a *CreateError, and a deadline that passed with the job open
// wraps ErrDeadlinePassed (Refund then returns the escrow). The Outcome is
// returned with those errors too.
func (c *Client) Wait(ctx context.Context, job *Job) (*Outcome, error) {
	h := newHistory(job.Address)
	var (
		after     uint64
		lastErr   error
		announced bool
		accepted  bool
	)
	notifier, _ := c.net.(chain.BlockNotifier)
	for {
		var wake <-chan struct{}
		if notifier != nil {
			wake = notifier.Blocks()
		}
		// The time is read before the transactions: a receipt in a block up
		// to that time is then among them, so an open job past its
		// deadline by that time can no longer get one.
		info, err := c.net.MasterchainInfo(ctx)
		if err == nil {
			var txs []*chain.Transaction
			if txs, err = newTransactions(ctx, c.net, job.Address, after); err == nil {
				for _, tx := range txs {
					if err = h.add(tx); err != nil {
						return nil, err
					}
					after = tx.ID.LT
				}
			}
		}
		switch {
		case err != nil:
			// Reading the chain fails now and then (rate limits, a node
			// restarting); keep trying until the caller gives up.
			lastErr = err
			c.log.DebugContext(ctx, "reading the job failed; retrying", "job", job.Address.String(), "err", err)
		case h.closed != nil || h.createFailed:
			return c.finish(ctx, job, h)
		default:
			lastErr = nil
			left := time.Duration(int64(job.Deadline)-int64(info.Time)) * time.Second
			if !announced {
				announced = true
				if job.Deadline == 0 {
					c.say("waiting for the worker…")
				} else if left >= 0 {
					c.say("waiting for the worker (deadline in %s)…", left)
				}
			}
			if h.accepted && !accepted {
				accepted = true
				c.say("the worker accepted the job")
			}
			if job.Deadline != 0 && left < 0 {
				out := c.open(job, h)
				out.DeadlinePassed = true
				return out, fmt.Errorf("job %s: %w (%s); refund it to get the escrow back",
					job.Address, ErrDeadlinePassed, job.DeadlineTime().Format(time.RFC3339))
			}
		}
		t := time.NewTimer(c.poll)
		select {
		case <-ctx.Done():
			t.Stop()
			if lastErr != nil {
				return c.open(job, h), fmt.Errorf("waiting for job %s: %w (last error: %v)", job.Address, ctx.Err(), lastErr)
			}
			return c.open(job, h), fmt.Errorf("waiting for job %s: %w", job.Address, ctx.Err())
		case <-wake:
		case <-t.C:
		}
		t.Stop()
	}
}

// Status reads where the job stands now, without waiting. A closed job is
// reported as Wait reports it (answer opened when the key is here).
func (c *Client) Status(ctx context.Context, job *Job) (*Outcome, error) {
	h, err := c.history(ctx, job.Address, newHistory(job.Address), 0)
	if err != nil {
		return nil, err
	}
	if h.closed != nil || h.createFailed {
		return c.finish(ctx, job, h)
	}
	out := c.open(job, h)
	if info, err := c.net.MasterchainInfo(ctx); err == nil && job.Deadline != 0 && h.createTx != nil {
		out.DeadlinePassed = info.Time > job.Deadline
	}
	return out, nil
}

// open is the outcome of a job that has not closed.
func (c *Client) open(job *Job, h *history) *Outcome {
	return &Outcome{Job: job.Address, State: h.state(), Deadline: job.Deadline, Costs: h.costs()}
}

// finish builds the outcome of a closed (or refused) job: for a receipt,
// the opened result; for an expiry with a slash, the compensation.
func (c *Client) finish(ctx context.Context, job *Job, h *history) (*Outcome, error) {
	out := &Outcome{
		Job: job.Address, State: h.state(), Deadline: job.Deadline, Costs: h.costs(),
		Receipt: h.receipt, CloseTx: h.closeTx,
	}
	if h.createFailed {
		out.CreateExit = bindings.ExitCode(h.createExit)
		out.Reason = "refused its creation with " + out.CreateExit.String()
		return out, &CreateError{Job: job.Address, Code: out.CreateExit}
	}
	out.Reason = CloseReasonText(h.closed.Reason)
	switch out.State {
	case StateCompleted:
		if h.receipt == nil {
			return out, fmt.Errorf("job %s completed but its receipt was not found in the closing transaction", job.Address)
		}
		res, err := c.openResult(ctx, job, h.receipt)
		if err != nil {
			return out, fmt.Errorf("job %s completed (the worker was paid) but its answer: %w", job.Address, err)
		}
		out.Answer = res
		return out, nil
	case StateFailed:
		fe := &FailedError{Job: job.Address, Refund: out.Costs.Refund}
		if r := h.receipt; r != nil && (r.Result != nil || r.ResultHash != [32]byte{}) {
			res, err := c.openResult(ctx, job, r)
			if err != nil {
				c.log.InfoContext(ctx, "the failure's result could not be read", "job", job.Address.String(), "err", err)
			} else {
				out.Answer = res
				if res.Error != nil {
					fe.Code, fe.Message = res.Error.Code, res.Error.Message
				}
			}
		}
		return out, fe
	case StateDeclined:
		out.DeclineReason = bindings.ExitCode(h.declineReason)
		out.Reason = fmt.Sprintf("declined: the worker refused the offer (%s); the escrow was refunded (minus gas)", out.DeclineReason.Name())
	case StateExpired:
		if h.slash != nil {
			comp, err := c.compensation(ctx, job, h)
			if err != nil {
				c.log.InfoContext(ctx, "slash compensation not seen", "job", job.Address.String(), "err", err)
			}
			out.SlashCompensation = comp
		}
	}
	return out, &ClosedError{Job: job.Address, State: out.State, Reason: out.Reason, Refund: out.Costs.Refund}
}

// openResult gets the result envelope (inline in the receipt, else from
// the worker's endpoint), checks it against the receipt's hash, opens it
// with the job's key and parses it.
func (c *Client) openResult(ctx context.Context, job *Job, r *bindings.Receipt) (*inference.ChatResult, error) {
	// A public job's answer is in clear: anyone reads it, no key needed.
	if job.key == nil && !job.Public {
		return nil, ErrNoKey
	}
	var env []byte
	if r.Result != nil {
		b, err := bindings.CellBytes(r.Result, MaxEnvelopeSize)
		if err != nil {
			return nil, fmt.Errorf("reading the receipt's inline result: %w", err)
		}
		env = b
	} else {
		if job.Endpoint == "" {
			return nil, errors.New("the result is off chain and the worker's endpoint is unknown")
		}
		c.say("fetching the sealed result from the worker…")
		hc := (&workerHTTP{hc: c.http}).pinned(job.Attestation)
		err := retry(ctx, resultWait, func(ctx context.Context) error {
			b, err := hc.result(ctx, job.Endpoint, job.Address)
			env = b
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("fetching the result: %w", err)
		}
	}
	if got := sha256.Sum256(env); got != r.ResultHash {
		return nil, fmt.Errorf("%w: sha256 %x, receipt %x", ErrResultMismatch, got, r.ResultHash)
	}
	pt := env
	if !job.Public {
		var err error
		if pt, err = seal.OpenResult(job.key, jobAddrOf(job.Address), env); err != nil {
			return nil, fmt.Errorf("opening the result: %w", err)
		}
		defer clear(pt)
	}
	res, err := inference.ParseChatResult(pt)
	if err != nil {
		return nil, fmt.Errorf("reading the opened result: %w", err)
	}
	return res, nil
}

// compensation follows the Slash the job sent to its worker to the
// SlashCompensation the worker sent the client.
func (c *Client) compensation(ctx context.Context, job *Job, h *history) (*big.Int, error) {
	ctx, cancel := context.WithTimeout(ctx, compensationWait)
	defer cancel()
	wtx, err := chain.WaitForInbound(ctx, c.net, h.slashTo, h.slash.Hash(), h.closeTx.ID.LT, c.poll)
	if err != nil {
		return nil, err
	}
	outs, err := outMessages(wtx.Tx)
	if err != nil {
		return nil, err
	}
	for _, om := range outs {
		if om.msg.MsgType != tlb.MsgTypeInternal {
			continue
		}
		im := om.msg.AsInternal()
		if m, err := bindings.Parse[bindings.SlashCompensation](im.Body); err == nil && equalAddr(m.Job, job.Address) {
			return im.Amount.Nano(), nil
		}
	}
	return new(big.Int), nil
}
