package client

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/big"
	"time"

	"github.com/xssnick/tonutils-go/address"
	"github.com/xssnick/tonutils-go/tlb"
	tonwallet "github.com/xssnick/tonutils-go/ton/wallet"
	"github.com/xssnick/tonutils-go/tvm/cell"

	"github.com/cocoon-network/cocoon/bindings"
	"github.com/cocoon-network/cocoon/offchain/chain"
	"github.com/cocoon-network/cocoon/offchain/chain/readers"
	"github.com/cocoon-network/cocoon/offchain/inference"
	"github.com/cocoon-network/cocoon/offchain/seal"
	"github.com/cocoon-network/cocoon/offchain/tonamount"
	"github.com/cocoon-network/cocoon/offchain/wallet"
)

// Amounts and margins of a submission.
const (
	// EscrowMargin is added to max cost + JobGasReserve: it covers what a
	// job's own transactions can cost beyond the reserve (storage of an
	// inline request until the deadline, the import of a large inline
	// result) so that the deploy never fails by a hair. Whatever is not
	// spent comes back in the refund.
	EscrowMargin = 10_000_000 // 0.01 TON
	// deadlineSlack is kept between Root's minimum deadline and the one
	// asked for: the worker checks the deadline against its own clock when
	// the offer arrives, a few blocks after the client read the chain's.
	deadlineSlack = 60 * time.Second
	// createWait bounds the wait for the Job's deploy transaction after
	// the wallet's.
	createWait = 2 * time.Minute
	// postWindow bounds how long a request envelope is retried while the
	// worker does not take it (it may not have seen the job yet).
	postWindow = 2 * time.Minute
)

// Input token estimate (see EstimateInputTokens).
const (
	tokensPerMessage = 16  // role markers and separators a chat template adds per message
	templateTokens   = 256 // start tokens and a default system prompt some templates insert
)

// EstimateInputTokens is the default max input tokens for messages: an
// upper bound rather than a guess. Byte-level BPE tokenisers (Llama 3,
// Qwen, GPT, Mistral) never make more tokens than there are UTF-8 bytes,
// so the bound is the bytes of every role and content, plus 16 tokens per
// message and 256 for what chat templates add. A receipt over the job's
// maximum is refused by the Job (the worker could not be paid), so erring
// high is what keeps a job payable; the unused part of the escrow is
// refunded when the job closes.
func EstimateInputTokens(msgs []inference.Message) uint32 {
	n := uint64(templateTokens)
	for _, m := range msgs {
		n += uint64(len(m.Role)) + uint64(len(m.Content)) + tokensPerMessage
	}
	return uint32(min(n, math.MaxUint32))
}

// SubmitRequest is one job to submit.
type SubmitRequest struct {
	Wallet *wallet.Wallet   // pays the escrow and becomes the job's client
	Root   *address.Address // the network's Root
	Model  string           // model name, as Root and the worker know it
	// Messages is the chat; Prompt is a shorthand for one user message.
	// Exactly one of them is set.
	Messages []inference.Message
	Prompt   string
	// MaxOutputTokens bounds the answer; 0 means DefaultMaxOutputTokens.
	MaxOutputTokens uint32
	// MaxInputTokens bounds the prompt as the worker's tokeniser counts
	// it; 0 means EstimateInputTokens(messages).
	MaxInputTokens uint32
	// Deadline is how long the worker has, from the chain's time; 0 means
	// DefaultDeadline (raised to Root's minimum plus a minute when needed).
	Deadline time.Duration
	// Worker, when set, skips discovery: this worker is checked as
	// discovery would check it, and used.
	Worker *address.Address
	// Optional sampling parameters, passed to the engine.
	Temperature *float64
	TopP        *float64
	Seed        *int64
	// Callback, when set, receives the Job's JobCallback (the result's hash
	// and, when small, the sealed result) as the job completes: a contract
	// that acts on the answer (docs/ORACLE.md). Basechain or masterchain.
	Callback *address.Address
	// Public puts the prompt and the answer on chain IN CLEAR (the Job's
	// isPublic flag; nothing is sealed), for contracts that read the answer
	// themselves. NOT PRIVATE: anyone can read both.
	Public bool
}

// CreateError is a Job that refused its JobCreate: the escrow bounced back
// to the wallet (minus fees).
type CreateError struct {
	Job  *address.Address
	Code bindings.ExitCode
}

func (e *CreateError) Error() string {
	why := "with " + e.Code.String()
	if e.Code == 0 {
		why = "before running (its compute phase was skipped)"
	}
	return fmt.Sprintf("job %s refused its creation %s; the escrow bounced back to the wallet (minus fees)", e.Job, why)
}

// ErrRequestNotDelivered is wrapped by Submit's error when the job is on
// chain but its (off-chain) request did not reach the worker; the job
// handle is returned with it. Unless the worker gets it another way, the
// job expires unserved: Refund it after the deadline.
var ErrRequestNotDelivered = errors.New("the request did not reach the worker")

// Submit seals the request to a worker (the chosen one, or the best that
// Discover finds), deploys its Job with the escrow, and, when the request
// is too large to be stored in the Job, posts it to the worker. The job's
// record and key are saved before anything is sent, so that a job on chain
// can always be followed (Wait, Status) and refunded. On an error after the
// deploy the Job is returned with it.
func (c *Client) Submit(ctx context.Context, req SubmitRequest) (*Job, error) {
	msgs, err := req.messages()
	if err != nil {
		return nil, err
	}
	if req.Wallet == nil || req.Root == nil {
		return nil, errors.New("submitting a job: a wallet and a Root are required")
	}
	// The Job refuses (and bounces) a callback no message can reach.
	if cb := req.Callback; cb != nil && cb.Workchain() != 0 && cb.Workchain() != -1 {
		return nil, fmt.Errorf("submitting a job: callback %s is in workchain %d; it must be in the basechain or the masterchain", cb, cb.Workchain())
	}
	maxOut := req.MaxOutputTokens
	if maxOut == 0 {
		maxOut = DefaultMaxOutputTokens
	}
	if maxOut > math.MaxInt32 {
		return nil, fmt.Errorf("submitting a job: max output tokens %d is too large", maxOut)
	}
	maxIn := req.MaxInputTokens
	if maxIn == 0 {
		maxIn = EstimateInputTokens(msgs)
	}
	rootC := readers.NewRoot(c.net, req.Root)
	params, err := rootC.GetRootParams(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading Root %s: %w", req.Root, err)
	}
	life, err := jobLifetime(req.Deadline, params)
	if err != nil {
		return nil, err
	}

	w, err := c.pickWorker(ctx, req, maxIn, maxOut)
	if err != nil {
		return nil, err
	}
	jobCode, err := rootJobCode(ctx, c.net, req.Root)
	if err != nil {
		return nil, err
	}
	// The escrow goes into a contract running this code: only one this
	// build knows (an owner's upgrade is announced on chain; clients update).
	if !bindings.KnownJobCode([32]byte(jobCode.Hash())) {
		return nil, fmt.Errorf("root %s holds a job code (hash %x) this build does not know: not deploying a job with it", req.Root, jobCode.Hash())
	}
	client := req.Wallet.Address()
	nonce, err := randomNonce()
	if err != nil {
		return nil, err
	}
	si, err := bindings.JobStateInitWith(jobCode, req.Root, client, nonce)
	if err != nil {
		return nil, fmt.Errorf("building the job's state init: %w", err)
	}
	jobAddr := bindings.StateInitAddress(si)
	// Root computes the same address from the same code; asking costs one
	// get-method and would catch any drift before money moves.
	if onChain, err := rootC.JobAddressOnChain(ctx, client, nonce); err != nil {
		return nil, fmt.Errorf("asking Root for the job address: %w", err)
	} else if !onChain.Equals(jobAddr) {
		return nil, fmt.Errorf("internal error: Root derives job address %s, the client %s", onChain, jobAddr)
	}

	// The client's key uses the worker's suite: a post-quantum worker key
	// asks for a post-quantum answer too.
	key, err := seal.GenerateKey(w.HPKEKey.Suite())
	if err != nil {
		return nil, fmt.Errorf("creating the job's key: %w", err)
	}
	env, err := requestEnvelope(w, key, jobAddr, req, msgs, maxOut)
	if err != nil {
		return nil, err
	}
	info, err := c.net.MasterchainInfo(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading the chain's time: %w", err)
	}
	inline := len(env) <= bindings.InlineRequestLimit
	terms := bindings.JobTerms{
		ModelID:       bindings.ModelID(req.Model),
		Worker:        w.Address,
		PriceIn:       w.Price.PriceIn,
		PriceOut:      w.Price.PriceOut,
		MaxIn:         maxIn,
		MaxOut:        maxOut,
		Deadline:      info.Time + uint32(life/time.Second),
		ClientHPKEKey: seal.Commitment(key.Public()),
		RequestHash:   seal.CiphertextHash(env),
		Callback:      req.Callback,
		IsPublic:      req.Public,
	}
	var reqCell *cell.Cell
	if inline {
		if reqCell, err = bindings.BytesCell(env); err != nil {
			return nil, fmt.Errorf("encoding the request for the job: %w", err)
		}
	}
	body, err := bindings.Encode(bindings.JobCreate{QueryID: nonce, Terms: terms, Request: reqCell})
	if err != nil {
		return nil, fmt.Errorf("building JobCreate: %w", err)
	}
	escrow := Escrow(terms)
	job := &Job{
		Address: jobAddr, Root: req.Root, Client: client, Worker: w.Address, Endpoint: w.Endpoint, Attestation: w.AttestationHash,
		Nonce: nonce, Model: req.Model, RequestHash: terms.RequestHash, Deadline: terms.Deadline,
		MaxInputTokens: maxIn, MaxOutputTokens: maxOut, PriceIn: terms.PriceIn, PriceOut: terms.PriceOut,
		Escrow: escrow, InlineRequest: inline, Insecure: w.Insecure, CreatedAt: time.Unix(int64(info.Time), 0).UTC(),
		Public: req.Public, key: key,
	}

	acc, err := c.net.Account(ctx, client)
	if err != nil {
		return nil, fmt.Errorf("reading wallet %s: %w", client, err)
	}
	if acc.Balance.Cmp(escrow) < 0 {
		return nil, fmt.Errorf("wallet %s has %s TON; the job needs an escrow of %s TON (max cost %s + gas reserve %s + margin %s) plus the wallet's fee",
			client, tonamount.Format(acc.Balance), tonamount.Format(escrow), tonamount.Format(bindings.MaxCost(terms)),
			tonamount.Format(big.NewInt(bindings.JobGasReserve)), tonamount.Format(big.NewInt(EscrowMargin)))
	}
	if err := c.store.Save(job); err != nil {
		return nil, err
	}
	c.log.DebugContext(ctx, "submitting job", "job", jobAddr.String(), "worker", w.Address.String(), "model", req.Model,
		"max_in", maxIn, "max_out", maxOut, "escrow", escrow.String(), "inline_request", inline, "deadline", terms.Deadline)
	c.say("deploying job %s with an escrow of %s TON…", jobAddr, tonamount.Format(escrow))
	wtx, err := req.Wallet.Send(ctx, c.net, &tonwallet.Message{
		Mode: tonwallet.PayGasSeparately + tonwallet.IgnoreErrors,
		InternalMessage: &tlb.InternalMessage{
			IHRDisabled: true,
			Bounce:      true, // a refused JobCreate returns the escrow
			DstAddr:     jobAddr,
			Amount:      tlb.FromNanoTON(escrow),
			Body:        body,
			StateInit:   si,
		},
	})
	if err != nil {
		// The record stays: the message may still be included, and the
		// job is then followed and refunded like any other.
		return job, fmt.Errorf("deploying job %s: %w", jobAddr, err)
	}
	if err := c.waitCreated(ctx, job, wtx); err != nil {
		return job, err
	}
	if !inline {
		c.say("sending the %d-byte sealed request to the worker…", len(env))
		window := min(postWindow, time.Until(job.DeadlineTime()))
		err := retry(ctx, window, func(ctx context.Context) error {
			return (&workerHTTP{hc: c.http}).pinned(w.AttestationHash).postRequest(ctx, w.Endpoint, jobAddr, env)
		})
		if err != nil {
			return job, fmt.Errorf("job %s: %w: %v", jobAddr, ErrRequestNotDelivered, err)
		}
	}
	return job, nil
}

// Escrow is the value a job with terms is deployed with: its max cost,
// the Job's gas reserve and EscrowMargin.
func Escrow(t bindings.JobTerms) *big.Int {
	e := bindings.MinEscrow(t)
	return e.Add(e, big.NewInt(EscrowMargin))
}

func (r *SubmitRequest) messages() ([]inference.Message, error) {
	switch {
	case r.Prompt != "" && len(r.Messages) > 0:
		return nil, errors.New("submitting a job: set either Prompt or Messages, not both")
	case r.Prompt != "":
		return []inference.Message{{Role: "user", Content: r.Prompt}}, nil
	case len(r.Messages) > 0:
		return r.Messages, nil
	}
	return nil, errors.New("submitting a job: no prompt")
}

// jobLifetime checks (or picks) the deadline against Root's bounds.
func jobLifetime(d time.Duration, p *bindings.RootParams) (time.Duration, error) {
	lo := time.Duration(p.MinJobDeadline)*time.Second + deadlineSlack
	hi := time.Duration(p.MaxJobDeadline) * time.Second
	if d == 0 {
		d = max(DefaultDeadline, lo)
		if d > hi {
			d = hi
		}
	}
	d = d.Truncate(time.Second)
	if d < lo || d > hi {
		return 0, fmt.Errorf("deadline %s is outside what this network allows: %s to %s (Root's bounds, with %s for the offer to arrive)",
			d, lo, hi, deadlineSlack)
	}
	return d, nil
}

func (c *Client) pickWorker(ctx context.Context, req SubmitRequest, maxIn, maxOut uint32) (*Worker, error) {
	if req.Worker != nil {
		c.say("checking worker %s…", req.Worker)
		w, err := c.VerifyWorker(ctx, req.Root, req.Worker, req.Model)
		if err != nil {
			return nil, err
		}
		for _, s := range w.Warnings {
			c.say("%s", s)
		}
		return w, nil
	}
	c.say("discovering workers for %s…", req.Model)
	d, err := c.Discover(ctx, req.Root, req.Model)
	if err != nil {
		return nil, err
	}
	w, err := Choose(d.Workers, maxIn, maxOut)
	if err != nil {
		if _, found, merr := readers.NewRoot(c.net, req.Root).Model(ctx, bindings.ModelID(req.Model)); merr == nil && !found {
			return nil, fmt.Errorf("model %q is not registered in Root %s", req.Model, req.Root)
		}
		return nil, &NoWorkerError{Model: req.Model, Refused: d.Refused}
	}
	c.say("chose worker %s (%d completed, %d failed, %d slashed; max cost %s TON)", w.Address, w.Completed, w.Failed, w.Slashed, tonamount.Format(w.MaxCost(maxIn, maxOut)))
	for _, s := range w.Warnings {
		c.say("%s", s)
	}
	return w, nil
}

// NoWorkerError is a discovery that found no usable worker.
type NoWorkerError struct {
	Model   string
	Refused []*WorkerError
}

func (e *NoWorkerError) Error() string {
	msg := fmt.Sprintf("no worker for %q passed the checks", e.Model)
	if len(e.Refused) == 0 {
		return msg + " (none is active for it)"
	}
	msg += fmt.Sprintf("; %d refused:", len(e.Refused))
	for _, r := range e.Refused {
		msg += "\n  " + r.Error()
	}
	return msg
}

func (e *NoWorkerError) Unwrap() error { return ErrNoWorkers }

// rootJobCode reads the Job code Root holds: the code Root's job_address
// and the Workers' genuineness checks use, even after an upgrade that
// this build's embedded artifacts have not caught up with.
func rootJobCode(ctx context.Context, net chain.Network, root *address.Address) (*cell.Cell, error) {
	acc, err := net.Account(ctx, root)
	if err != nil {
		return nil, fmt.Errorf("reading Root %s: %w", root, err)
	}
	if acc.Status != chain.StatusActive || acc.Data == nil {
		return nil, fmt.Errorf("root %s is %s, not an active contract", root, acc.Status)
	}
	st, err := bindings.Parse[bindings.RootStorage](acc.Data)
	if err != nil {
		return nil, fmt.Errorf("reading Root %s storage: %w", root, err)
	}
	return st.Codes.JobCode, nil
}

func randomNonce() (uint64, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return 0, fmt.Errorf("drawing a job nonce: %w", err)
	}
	return binary.BigEndian.Uint64(b[:]), nil
}

// requestEnvelope builds the ChatRequest and seals it to the worker with the
// job's address as associated data. The plaintext is wiped once sealed
// (the caller's strings are theirs to keep or drop). A public job's
// envelope is the plaintext itself.
func requestEnvelope(w *Worker, key *seal.PrivateKey, job *address.Address, req SubmitRequest, msgs []inference.Message, maxOut uint32) ([]byte, error) {
	cr := inference.ChatRequest{
		V: inference.PlaintextVersion, Model: req.Model, Messages: msgs, MaxTokens: int(maxOut),
		Temperature: req.Temperature, TopP: req.TopP, Seed: req.Seed,
		ResultKey: key.Public().Marshal(),
	}
	pt, err := cr.Marshal()
	if err != nil {
		return nil, fmt.Errorf("building the request: %w", err)
	}
	if req.Public {
		if len(pt) > MaxEnvelopeSize {
			return nil, fmt.Errorf("the request is %d bytes, more than the %d a job carries", len(pt), MaxEnvelopeSize)
		}
		return pt, nil
	}
	defer clear(pt)
	env, err := seal.SealRequest(w.HPKEKey, jobAddrOf(job), pt)
	if err != nil {
		return nil, fmt.Errorf("sealing the request: %w", err)
	}
	if len(env) > MaxEnvelopeSize {
		return nil, fmt.Errorf("the sealed request is %d bytes; workers take at most %d", len(env), MaxEnvelopeSize)
	}
	return env, nil
}

func jobAddrOf(a *address.Address) seal.JobAddr {
	return seal.NewJobAddr(a.Workchain(), [32]byte(a.Data()))
}

// waitCreated waits for the Job's transaction of the wallet's JobCreate
// and reports a refusal.
func (c *Client) waitCreated(ctx context.Context, job *Job, wtx *chain.Transaction) error {
	tx, err := c.waitInbound(ctx, job.Address, wtx)
	if err != nil {
		return fmt.Errorf("job %s: waiting for its deployment: %w", job.Address, err)
	}
	if o := outcomeOf(tx); !o.ok {
		return &CreateError{Job: job.Address, Code: bindings.ExitCode(o.exit)}
	}
	return nil
}

// equalAddr compares possibly nil addresses.
func equalAddr(a, b *address.Address) bool {
	if a == nil || b == nil {
		return a == b
	}
	return bytes.Equal(a.Data(), b.Data()) && a.Workchain() == b.Workchain()
}
