// Package client is the SDK an app ("client") uses to buy inference on
// Cocoon: find attested workers for a model through Root, seal a prompt so
// that only the chosen worker's enclave can read it, escrow the maximum
// price in a Job contract, and get back an answer only the app can read,
// with the cost split read from the chain.
//
//	c := client.New(net, client.Options{})
//	job, err := c.Submit(ctx, client.SubmitRequest{Wallet: w, Root: root, Model: "llama-3.1-8b", Prompt: "What is TON?"})
//	out, err := c.Wait(ctx, job)
//	fmt.Println(out.Answer.Content, tonamount.Format(out.Costs.Refund))
//
// Nothing here logs, stores or puts into an error a prompt or an answer in
// clear. What is stored per job (under Options.Dir) is the job's public
// parameters and the per-job HPKE private key (mode 0600) that opens its
// result, so that a later process (`cocoon job status`) can read it.
// docs/CLIENT.md describes the flow, the checks and the costs.
package client

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/cocoon-network/cocoon/offchain/attest"
	"github.com/cocoon-network/cocoon/offchain/chain"
)

// Defaults; each can be changed through Options or SubmitRequest.
const (
	// DefaultDir is where per-job state is kept, relative to the working
	// directory, like a project's own .git.
	DefaultDir = ".cocoon/client/jobs"
	// DefaultDeadline is how long a worker gets to answer, from the chain's
	// time at submission.
	DefaultDeadline = 10 * time.Minute
	// DefaultMaxOutputTokens bounds the answer when the app does not.
	DefaultMaxOutputTokens = 1024
	// DefaultMaxEvidenceAge is how old a worker's evidence may be. The
	// evidence is pinned on chain by its hash and vouches for keys created
	// inside the enclave, so its age matters only for platform fixes
	// (TCB recoveries) published after it was made; a worker refreshes it
	// with a WorkerUpdate. attest's own default (24 h) suits evidence
	// fetched fresh, not evidence registered once.
	DefaultMaxEvidenceAge = 30 * 24 * time.Hour
	// DefaultPollInterval is how often the chain is read while waiting
	// (networks that announce blocks wake the waiter sooner).
	DefaultPollInterval = time.Second
)

// Options configure a Client. The zero value is usable.
type Options struct {
	// Dir holds per-job state; "" means DefaultDir.
	Dir string
	// HTTPClient talks to workers' endpoints; nil means a client without
	// an overall timeout (each call sets its own through its context).
	HTTPClient *http.Client
	// Logger receives debug and info lines (never prompts or answers);
	// nil discards.
	Logger *slog.Logger
	// Progress, when set, receives one human line per step that can take
	// a while ("deploying job…"); the CLI prints them on stderr.
	Progress func(msg string)
	// PollInterval is how often the chain is read while waiting; 0 means
	// DefaultPollInterval.
	PollInterval time.Duration
	// Verifier verifies workers' evidence (trust roots, TDX collateral,
	// clock); nil means attest's defaults.
	Verifier *attest.Verifier
	// MaxEvidenceAge bounds the age of a worker's evidence; 0 means
	// DefaultMaxEvidenceAge.
	MaxEvidenceAge time.Duration
	// Policy is what workers' evidence must satisfy (TCB statuses, GPU
	// requirements per model, GPU reference values); nil means
	// attest.DefaultPolicy with Root's allow-list.
	Policy *attest.Policy
	// MaxRootTransactions bounds how much of Root's history discovery
	// reads; 0 means DefaultMaxRootTransactions.
	MaxRootTransactions int
	// Collateral, when set, is where the TCB collateral of TDX and SEV-SNP
	// workers comes from (e.g. a collateral.Cache fetching from Intel's
	// PCS and AMD's KDS); nil: what each worker serves (GET /collateral).
	Collateral CollateralSource
}

// CollateralSource gives the TCB collateral a worker's evidence is judged
// by, fetched by the verifier itself (collateral.Cache implements it).
type CollateralSource interface {
	Fetch(ctx context.Context, b *attest.Bundle) (*attest.Collateral, error)
}

// Client submits and follows jobs on one network. It holds no mutable
// state of its own and is safe for concurrent use; concurrent Submits from
// one wallet race for its seqno (see wallet.Wallet).
type Client struct {
	net      chain.Network
	store    *Store
	http     *http.Client
	log      *slog.Logger
	progress func(string)
	poll     time.Duration
	discover DiscoverOptions
}

// New returns a Client for net.
func New(net chain.Network, opts Options) *Client {
	c := &Client{
		net:      net,
		store:    &Store{Dir: opts.Dir},
		http:     opts.HTTPClient,
		log:      opts.Logger,
		progress: opts.Progress,
		poll:     opts.PollInterval,
	}
	if c.store.Dir == "" {
		c.store.Dir = DefaultDir
	}
	if c.http == nil {
		c.http = &http.Client{}
	}
	if c.log == nil {
		c.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if c.poll <= 0 {
		c.poll = DefaultPollInterval
	}
	c.discover = DiscoverOptions{
		HTTPClient:          c.http,
		Verifier:            opts.Verifier,
		Policy:              opts.Policy,
		MaxEvidenceAge:      opts.MaxEvidenceAge,
		MaxRootTransactions: opts.MaxRootTransactions,
		Logger:              c.log,
		Collateral:          opts.Collateral,
	}
	return c
}

// Network is the network the client reads and sends through.
func (c *Client) Network() chain.Network { return c.net }

// Store is where the client keeps per-job state.
func (c *Client) Store() *Store { return c.store }

func (c *Client) say(format string, args ...any) {
	if c.progress != nil {
		c.progress(fmt.Sprintf(format, args...))
	}
}
