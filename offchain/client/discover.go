package client

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"sync"
	"time"

	"github.com/xssnick/tonutils-go/address"

	"github.com/cocoon-network/cocoon/bindings"
	"github.com/cocoon-network/cocoon/offchain/attest"
	"github.com/cocoon-network/cocoon/offchain/attest/check"
	"github.com/cocoon-network/cocoon/offchain/chain"
	"github.com/cocoon-network/cocoon/offchain/chain/readers"
	"github.com/cocoon-network/cocoon/offchain/seal"
)

// DefaultMaxRootTransactions is how many of Root's transactions discovery
// reads (newest first) when told nothing else: every registration and
// deactivation is one, so this covers a network of hundreds of workers.
const DefaultMaxRootTransactions = 1000

// defaultConcurrency is how many workers are checked at once.
const defaultConcurrency = 8

// Names of the checks Discover runs besides attest.Verify's own (a
// refusal by attest.Verify carries its check name, e.g. "freshness").
const (
	CheckChainRead      = "chain_read"             // the Worker's state could not be read
	CheckDeployed       = "worker_deployed"        // no Worker contract at the address
	CheckRoot           = "worker_root"            // the Worker belongs to another Root
	CheckActive         = "worker_active"          // the Worker is not active
	CheckRegistration   = "registration_current"   // the Worker's registration has lapsed: it declines offers until renewed
	CheckGenuine        = "worker_genuine"         // the address is not Root's worker_address(owner, key)
	CheckModel          = "model_served"           // the Worker does not serve the model
	CheckEndpoint       = "endpoint"               // the endpoint is not an http(s) URL
	CheckEvidenceFetch  = "evidence_fetch"         // GET /evidence failed
	CheckEvidenceHash   = "evidence_hash"          // sha256(evidence) ≠ the Worker's attestationHash
	CheckEvidenceFormat = "evidence_format"        // not a canonical bundle
	CheckCollateralFmt  = "collateral_format"      // GET /collateral answered something that is not collateral
	CheckTEE            = "tee_matches_chain"      // the bundle's TEE type ≠ the Worker's
	CheckImage          = "image_matches_chain"    // the verified image hash ≠ the Worker's measurement
	CheckHPKEKey        = "hpke_key_matches"       // no hpke key whose commitment is the Worker's hpkeKey
	CheckReceiptKey     = attest.CheckExpectedKeys // the bundle does not vouch for the on-chain worker key
)

// Worker is a worker that passed every check: it is active on chain,
// serves the model at Price, and its evidence (whose hash the chain holds)
// shows an allowed TEE image holding both its receipt key and the HPKE key
// a request is sealed to.
type Worker struct {
	Address  *address.Address
	Owner    *address.Address
	Endpoint string
	// AttestationHash is sha256 of the worker's evidence bundle, as its
	// contract registered it; an https endpoint must present it in its
	// certificate.
	AttestationHash [32]byte
	WorkerKey       ed25519.PublicKey // signs receipts; the Job checks them against it
	HPKEKey         *seal.PublicKey   // requests are sealed to it
	TEE             bindings.TEE
	Measurement     [32]byte // the image hash Root's allow-list holds
	Price           bindings.ModelPrice
	Stake           *big.Int
	Completed       uint64
	Failed          uint64
	Slashed         uint64
	// Insecure is set for dev evidence or a debuggable TEE (admitted only
	// while Root is in test mode); Warnings says why.
	Insecure    bool
	Warnings    []string
	Attestation *attest.Result
}

// MaxCost is what a job of at most in input and out output tokens can cost
// at this worker's price.
func (w *Worker) MaxCost(in, out uint32) *big.Int {
	return bindings.Charge(w.Price.PriceIn, w.Price.PriceOut, in, out)
}

// WorkerError is a worker that discovery did not accept, and why.
type WorkerError struct {
	Worker   *address.Address
	Endpoint string
	Check    string // CheckDeployed, ..., or attest's check name
	Err      error
}

func (e *WorkerError) Error() string {
	return fmt.Sprintf("worker %s refused (%s): %v", e.Worker, e.Check, e.Err)
}

func (e *WorkerError) Unwrap() error { return e.Err }

// Discovery is the outcome of Discover.
type Discovery struct {
	Root     *address.Address
	Model    string
	TestMode bool
	// Workers passed every check, in the order Root announced them
	// (newest activation first); Choose picks one.
	Workers []*Worker
	// Refused lists the workers that failed a check, with the reason.
	Refused []*WorkerError
}

// Warnings are the warnings of the accepted workers, each once.
func (d *Discovery) Warnings() []string {
	seen := map[string]bool{}
	var out []string
	for _, w := range d.Workers {
		for _, s := range w.Warnings {
			if !seen[s] {
				seen[s] = true
				out = append(out, s)
			}
		}
	}
	return out
}

// DiscoverOptions configure Discover.
type DiscoverOptions struct {
	// HTTPClient fetches evidence; nil means http.DefaultClient's settings.
	HTTPClient *http.Client
	// Verifier verifies evidence (roots, clock); nil: defaults.
	Verifier *attest.Verifier
	// Collateral is where TDX and SEV-SNP workers' TCB collateral comes
	// from; nil: each worker's own (GET /collateral), which must carry
	// both CRLs.
	Collateral CollateralSource
	// Policy is what evidence must satisfy; nil means
	// attest.DefaultPolicy. Its allow-list and test mode are always Root's
	// (whatever it holds), and its per-model requirements apply to the
	// model asked for.
	Policy *attest.Policy
	// MaxEvidenceAge bounds evidence age; 0 means the policy's MaxAge, or
	// DefaultMaxEvidenceAge when that is 0 too.
	MaxEvidenceAge time.Duration
	// MaxRootTransactions bounds the history read; 0: DefaultMaxRootTransactions.
	MaxRootTransactions int
	// Workers, when set, are checked instead of those Root announced.
	Workers []*address.Address
	// Logger receives one line per refused worker; nil discards.
	Logger *slog.Logger
}

// Discover finds the workers of root that serve model and pass every
// check (see CheckDeployed … and attest.Verify): Root's events give the
// candidates (each worker's newest event must be an activation), each
// Worker's state is read from the chain, and its evidence is fetched from
// its endpoint and verified against Root's allow-list.
func Discover(ctx context.Context, net chain.Network, root *address.Address, model string, opts DiscoverOptions) (*Discovery, error) {
	rootC := readers.NewRoot(net, root)
	params, err := rootC.GetRootParams(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading Root %s: %w", root, err)
	}
	cands := opts.Workers
	if len(cands) == 0 {
		limit := opts.MaxRootTransactions
		if limit <= 0 {
			limit = DefaultMaxRootTransactions
		}
		events, err := ReadRootEvents(ctx, net, root, limit)
		if err != nil {
			return nil, fmt.Errorf("reading Root %s events: %w", root, err)
		}
		cands = activeWorkers(events)
	}
	d := &Discovery{Root: root, Model: model, TestMode: params.TestMode}
	// The weights Root pins for the model, against which each worker's
	// attested weights are judged.
	var pinned [32]byte
	info, found, err := rootC.Model(ctx, bindings.ModelID(model))
	if err != nil {
		return nil, fmt.Errorf("reading Root %s model %q: %w", root, model, err)
	}
	policy := discoveryPolicy(opts, fixedTestMode{ChainAllowList: ChainAllowList{Root: rootC}, testMode: params.TestMode}, model)
	if found {
		pinned = info.WeightsHash
		// Root's word that the model runs only on attested GPUs binds
		// every client, whatever its own policy says.
		if info.RequireGPU {
			policy.RequireGPU = true
		}
	}
	chk := &checker{
		net:        net,
		root:       rootC,
		model:      model,
		modelID:    bindings.ModelID(model),
		pinned:     pinned,
		testMode:   params.TestMode,
		http:       &workerHTTP{hc: httpClient(opts.HTTPClient)},
		collateral: opts.Collateral,
		verifier:   opts.Verifier,
		policy:     policy,
	}
	type outcome struct {
		w   *Worker
		err *WorkerError
	}
	res := make([]outcome, len(cands))
	sem := make(chan struct{}, defaultConcurrency)
	var wg sync.WaitGroup
	for i, a := range cands {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			res[i].w, res[i].err = chk.worker(ctx, a)
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("discovering workers: %w", err)
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	for _, r := range res {
		if r.err != nil {
			log.InfoContext(ctx, "worker refused", "worker", r.err.Worker.String(), "check", r.err.Check, "err", r.err.Err)
			d.Refused = append(d.Refused, r.err)
			continue
		}
		d.Workers = append(d.Workers, r.w)
	}
	return d, nil
}

// VerifyWorker runs Discover's checks on one worker the app chose itself.
// A refusal is a *WorkerError.
func VerifyWorker(ctx context.Context, net chain.Network, root, worker *address.Address, model string, opts DiscoverOptions) (*Worker, error) {
	opts.Workers = []*address.Address{worker}
	d, err := Discover(ctx, net, root, model, opts)
	if err != nil {
		return nil, err
	}
	if len(d.Refused) > 0 {
		return nil, d.Refused[0]
	}
	return d.Workers[0], nil
}

// Discover is the package Discover with the client's settings.
func (c *Client) Discover(ctx context.Context, root *address.Address, model string) (*Discovery, error) {
	return Discover(ctx, c.net, root, model, c.discover)
}

// VerifyWorker is the package VerifyWorker with the client's settings.
func (c *Client) VerifyWorker(ctx context.Context, root, worker *address.Address, model string) (*Worker, error) {
	return VerifyWorker(ctx, c.net, root, worker, model, c.discover)
}

func httpClient(hc *http.Client) *http.Client {
	if hc == nil {
		return &http.Client{}
	}
	return hc
}

// discoveryPolicy is the policy one discovery applies: the app's (or the
// default) with Root's allow-list and the model's requirements.
func discoveryPolicy(opts DiscoverOptions, al attest.AllowList, model string) *attest.Policy {
	base := opts.Policy
	if base == nil {
		base = attest.DefaultPolicy(nil)
	}
	p := base.ForModel(model)
	p.AllowList = al
	switch {
	case opts.MaxEvidenceAge > 0:
		p.MaxAge = opts.MaxEvidenceAge
	case p.MaxAge <= 0:
		p.MaxAge = DefaultMaxEvidenceAge
	}
	return p
}

// activeWorkers returns the workers whose newest event (events are newest
// first) is an activation, newest first. A re-registration (WorkerUpdate)
// is a new activation; an unbonding or slashing is a deactivation.
func activeWorkers(events []RootEvent) []*address.Address {
	seen := map[string]bool{}
	var out []*address.Address
	for _, e := range events {
		var a *address.Address
		active := false
		switch ev := e.Event.(type) {
		case *bindings.WorkerActivatedEvent:
			a, active = ev.Worker, true
		case *bindings.WorkerDeactivatedEvent:
			a = ev.Worker
		default:
			continue
		}
		if a == nil || seen[a.StringRaw()] {
			continue
		}
		seen[a.StringRaw()] = true
		if active {
			out = append(out, a)
		}
	}
	return out
}

// checker runs the checks on one worker.
type checker struct {
	net      chain.Network
	root     *readers.Root
	model    string
	modelID  [32]byte
	pinned   [32]byte // Root's weights hash for the model
	testMode bool     // Root's
	http     *workerHTTP
	// collateral is the verifier's own source; nil: the worker's
	collateral CollateralSource
	verifier   *attest.Verifier
	policy     *attest.Policy
}

// onChain is what the chain says about a worker.
type onChain struct {
	addr  *address.Address
	data  *readers.WorkerDataView
	state *readers.WorkerStateView
	price *bindings.ModelPrice
}

func (k *checker) worker(ctx context.Context, addr *address.Address) (*Worker, *WorkerError) {
	oc, werr := k.readChain(ctx, addr)
	if werr != nil {
		return nil, werr
	}
	return k.checkEvidence(ctx, oc)
}

func (k *checker) readChain(ctx context.Context, addr *address.Address) (*onChain, *WorkerError) {
	refuse := func(name string, err error) *WorkerError {
		return &WorkerError{Worker: addr, Check: name, Err: err}
	}
	wc := readers.NewWorker(k.net, addr)
	data, err := wc.WorkerData(ctx)
	if err != nil {
		return nil, refuse(CheckChainRead, err)
	}
	if !data.Deployed {
		return nil, refuse(CheckDeployed, fmt.Errorf("no Worker contract (account %s): withdrawn, rejected or never registered", data.AccountStatus))
	}
	if data.Root == nil || !data.Root.Equals(k.root.Address) {
		return nil, refuse(CheckRoot, fmt.Errorf("the Worker belongs to Root %s, not %s", data.Root, k.root.Address))
	}
	if data.Status != bindings.WorkerActive {
		return nil, refuse(CheckActive, fmt.Errorf("the Worker is %s", data.Status))
	}
	// A lapsed registration declines every offer (a revocation in Root
	// reaches the worker when it renews): the job would only cost gas.
	reg, err := wc.Registration(ctx)
	if err != nil {
		return nil, refuse(CheckChainRead, err)
	}
	info, err := k.net.MasterchainInfo(ctx)
	if err != nil {
		return nil, refuse(CheckChainRead, err)
	}
	if info.Time > reg.ValidUntil {
		return nil, refuse(CheckRegistration, fmt.Errorf("the Worker's registration lapsed at %s; its owner must renew it", time.Unix(int64(reg.ValidUntil), 0).UTC().Format(time.RFC3339)))
	}
	// A contract that answers worker_data() like a Worker need not be one;
	// only the address Root derives from (owner, key) and its own Worker
	// code is. A fake could accept jobs and be paid for nothing.
	want, err := k.root.WorkerAddressOnChain(ctx, data.Owner, data.WorkerKey)
	if err != nil {
		return nil, refuse(CheckChainRead, err)
	}
	if want == nil || !want.Equals(addr) {
		return nil, refuse(CheckGenuine, fmt.Errorf("the Root derives %s for this owner and key: not a Worker of this Root", want))
	}
	price, found, err := wc.ModelPrice(ctx, k.modelID)
	if err != nil {
		return nil, refuse(CheckChainRead, err)
	}
	if !found {
		return nil, refuse(CheckModel, errors.New("the Worker does not serve the model"))
	}
	state, err := wc.WorkerState(ctx)
	if err != nil {
		return nil, refuse(CheckChainRead, err)
	}
	return &onChain{addr: addr, data: data, state: state, price: price}, nil
}

// checkEvidence fetches the worker's evidence and checks it against the
// chain: its hash, its verification under Root's allow-list, and that it
// vouches for the worker's on-chain keys, TEE type and image.
func (k *checker) checkEvidence(ctx context.Context, oc *onChain) (*Worker, *WorkerError) {
	st := oc.state
	refuse := func(name string, err error) *WorkerError {
		return &WorkerError{Worker: oc.addr, Endpoint: st.Endpoint, Check: name, Err: err}
	}
	if _, err := endpointURL(st.Endpoint); err != nil {
		return nil, refuse(CheckEndpoint, err)
	}
	wh := k.http.pinned(st.AttestationHash)
	raw, err := wh.evidence(ctx, st.Endpoint)
	if err != nil {
		return nil, refuse(CheckEvidenceFetch, err)
	}
	if got := sha256.Sum256(raw); got != st.AttestationHash {
		return nil, refuse(CheckEvidenceHash, fmt.Errorf("sha256 of the served evidence is %x, the Worker registered %x", got, st.AttestationHash))
	}
	b, err := attest.Decode(raw)
	if err != nil {
		return nil, refuse(CheckEvidenceFormat, err)
	}
	if tee, err := bindings.ParseTEE(b.TEE); err != nil || tee != st.TEE {
		return nil, refuse(CheckTEE, fmt.Errorf("the evidence is %s, the Worker registered %s", b.TEE, st.TEE))
	}
	wkey := ed25519.PublicKey(bytes.Clone(oc.data.WorkerKey[:]))
	v := k.verifier
	if v == nil {
		v = &attest.Verifier{}
	}
	// The collateral that tells a TDX or SEV-SNP worker's TCB status:
	// fetched by this verifier itself when it has a source (the worker
	// cannot choose which CRLs it is judged by), else what the worker
	// serves; without it the policy decides (the default refuses).
	var coll *attest.Collateral
	var collErr error
	switch {
	case b.TEE != attest.TEETDX && b.TEE != attest.TEESEVSNP:
	case k.collateral != nil:
		if coll, collErr = k.collateral.Fetch(ctx, b); collErr != nil {
			collErr = fmt.Errorf("fetching the collateral from Intel's PCS or AMD's KDS: %w", collErr)
		}
	default:
		var rawColl []byte
		if rawColl, collErr = wh.collateral(ctx, st.Endpoint); collErr == nil {
			if coll, err = attest.DecodeCollateral(rawColl); err != nil {
				return nil, refuse(CheckCollateralFmt, err)
			}
		}
	}
	res, err := v.VerifyWithCollateral(ctx, b, coll, []attest.Key{{Name: attest.KeyEd25519, Public: wkey}}, nil, k.policy)
	if err != nil {
		name := check.Name(err)
		if name == "" {
			name = "attestation"
		}
		if name == attest.CheckTCBStatus && collErr != nil {
			err = fmt.Errorf("%w (%v)", err, collErr)
		}
		return nil, refuse(name, err)
	}
	if err := k.policy.CheckModelWeights(b, k.model, k.pinned, k.testMode); err != nil {
		return nil, refuse(attest.CheckWeights, err)
	}
	// The report data binds every key of the bundle, so a key found here
	// is one the attested image holds.
	var hpke *seal.PublicKey
	for _, key := range b.Keys {
		if key.Name != attest.KeyHPKE {
			continue
		}
		pub, err := seal.ParsePublicKey(key.Public)
		if err != nil {
			return nil, refuse(CheckHPKEKey, fmt.Errorf("the evidence's hpke key: %w", err))
		}
		if seal.Commitment(pub) != st.HPKEKey {
			return nil, refuse(CheckHPKEKey, fmt.Errorf("the evidence's hpke key has commitment %x, the Worker registered %x", seal.Commitment(pub), st.HPKEKey))
		}
		hpke = pub
	}
	if hpke == nil {
		return nil, refuse(CheckHPKEKey, errors.New("the evidence vouches for no hpke key"))
	}
	if !bytes.Equal(res.ImageHash, st.Measurement[:]) {
		return nil, refuse(CheckImage, fmt.Errorf("the evidence shows image %x, the Worker registered %x", []byte(res.ImageHash), st.Measurement))
	}
	return &Worker{
		Address:         oc.addr,
		Owner:           oc.data.Owner,
		Endpoint:        st.Endpoint,
		AttestationHash: st.AttestationHash,
		WorkerKey:       wkey,
		HPKEKey:         hpke,
		TEE:             st.TEE,
		Measurement:     st.Measurement,
		Price:           *oc.price,
		Stake:           st.Stake,
		Completed:       st.JobsCompleted,
		Failed:          st.JobsFailed,
		Slashed:         st.JobsSlashed,
		Insecure:        res.Insecure,
		Warnings:        res.Warnings,
		Attestation:     res,
	}, nil
}
