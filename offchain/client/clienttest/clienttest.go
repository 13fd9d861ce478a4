// Package clienttest runs a Cocoon network for tests of apps and of the
// client SDK: a devnet (the real TVM) with a Root in test mode, and
// workers that the test itself plays. A Worker registers a real Worker
// contract with dev attestation, serves the worker HTTP API (/evidence,
// /v1/jobs/{job}/request and /result) with httptest, and serves a job when
// the test says so: it opens the request with its HPKE key, answers with
// the deterministic reference engine, seals the answer to the client's
// per-job key and signs the receipt. Behaviour lets a test make it fail,
// move its result off chain, or serve a tampered result.
package clienttest

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/xssnick/tonutils-go/address"
	"github.com/xssnick/tonutils-go/tlb"

	"github.com/cocoon-network/cocoon/bindings"
	"github.com/cocoon-network/cocoon/offchain/attest"
	"github.com/cocoon-network/cocoon/offchain/attest/dev"
	"github.com/cocoon-network/cocoon/offchain/chain"
	"github.com/cocoon-network/cocoon/offchain/chain/readers"
	bt "github.com/cocoon-network/cocoon/offchain/contracttest"
	"github.com/cocoon-network/cocoon/offchain/inference"
	"github.com/cocoon-network/cocoon/offchain/inference/reference"
	"github.com/cocoon-network/cocoon/offchain/seal"
	"github.com/cocoon-network/cocoon/offchain/wallet"
	"github.com/cocoon-network/cocoon/offchain/wallet/wallettest"
)

// DevImage is the image name of the workers' dev attestation; Root's
// allow-list holds dev.Measurement(DevImage).
const DevImage = "cocoon-clienttest-worker"

// Root params of the test network.
const (
	FeeBps      = 250 // 2.5%
	SlashBps    = 1000
	MinDeadline = 60
	MaxDeadline = 86400
)

// MinStake is the minimum worker stake of the test network.
func MinStake() *big.Int { return bt.TON("10") }

// Net is a devnet with a Root in test mode that allows one model and
// dev attestation of DevImage.
type Net struct {
	Env      *bt.Env
	Owner    *bt.Wallet
	Treasury *bt.Wallet
	Root     *address.Address
	Model    string
	t        testing.TB
}

// NewNet deploys the Root. Blocks are produced only by the contracttest
// helpers until Run is called.
func NewNet(t testing.TB, model string) *Net {
	t.Helper()
	ctx := context.Background()
	n := &Net{Env: bt.NewT(t), Model: model, t: t}
	n.Owner = n.btWallet("owner", "1000")
	n.Treasury = n.btWallet("treasury", "1")
	params := bindings.RootParams{
		MinWorkerStake: MinStake(), UnbondingDelay: 86400, ProtocolFeeBps: FeeBps, Treasury: n.Treasury.Address,
		MinJobDeadline: MinDeadline, MaxJobDeadline: MaxDeadline, SlashBps: SlashBps, TestMode: true,
	}
	si, err := bindings.RootStateInit(n.Owner.Address, params, n.Env.Codes)
	if err != nil {
		t.Fatal(err)
	}
	n.Root = bindings.StateInitAddress(si)
	n.send(n.Owner, bt.Deploy(si, bt.TON("1"), nil))
	for _, op := range []bindings.Message{
		bindings.AddMeasurement{QueryID: 1, TEE: bindings.TEEDev, Measurement: dev.Measurement(DevImage)},
		bindings.AddModel{QueryID: 2, ModelID: bindings.ModelID(model), Info: bindings.ModelInfo{
			WeightsHash: sha256.Sum256([]byte("weights of " + model)), MinPriceIn: big.NewInt(1), MinPriceOut: big.NewInt(1)}},
	} {
		n.send(n.Owner, bt.Message(n.Root, bt.TON("0.05"), bt.Body(op)))
	}
	if st, err := n.Env.Status(ctx, n.Root); err != nil || st != chain.StatusActive {
		t.Fatalf("root is %s (%v) after deploy", st, err)
	}
	return n
}

func (n *Net) btWallet(name, ton string) *bt.Wallet {
	n.t.Helper()
	w, err := n.Env.NewWallet(context.Background(), name, bt.TON(ton))
	if err != nil {
		n.t.Fatal(err)
	}
	return w
}

// send sends msgs from w and fails the test unless every transaction succeeded.
func (n *Net) send(w *bt.Wallet, msgs ...*tlb.InternalMessage) *bt.Trace {
	n.t.Helper()
	tr, err := w.Send(context.Background(), msgs...)
	if err == nil {
		if fs := tr.Failures(); len(fs) > 0 {
			err = fmt.Errorf("%s failed with %s", fs[0].Tx.Account, fs[0].Code)
		}
	}
	if err != nil {
		if tr != nil {
			n.t.Logf("trace:\n%s", tr)
		}
		n.t.Fatal(err)
	}
	return tr
}

// Run produces a block every interval until the test ends, so that
// messages sent through the chain.Network interface (offchain/wallet, a
// worker's receipt) are included as on a live network.
func (n *Net) Run(interval time.Duration) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = n.Env.Chain.Run(ctx, interval)
	}()
	n.t.Cleanup(func() { cancel(); <-done })
}

// Advance moves the devnet clock forward (deadlines, unbonding).
func (n *Net) Advance(d time.Duration) {
	n.t.Helper()
	if err := n.Env.AdvanceTime(context.Background(), d); err != nil {
		n.t.Fatal(err)
	}
}

// ClientWallet is a funded offchain/wallet, as an app holds one.
func (n *Net) ClientWallet(ton string) *wallet.Wallet {
	n.t.Helper()
	return wallettest.Funded(n.t, context.Background(), n.Env.Fund, bt.TON(ton))
}

// Behaviour is how a Worker serves a job.
type Behaviour struct {
	// Fail sends a failure receipt; the sealed result carries FailCode
	// (none when empty: no result at all).
	Fail     bool
	FailCode inference.ErrorCode
	// OffChain serves the result at GET /v1/jobs/{job}/result even when it
	// would fit in the receipt.
	OffChain bool
	// Tamper serves an altered result envelope (the receipt commits to
	// the genuine one).
	Tamper bool
}

// Worker is a worker the test plays.
type Worker struct {
	Name     string
	Address  *address.Address
	Owner    *bt.Wallet
	Sign     ed25519.PrivateKey
	HPKE     *seal.PrivateKey
	Evidence []byte
	Server   *httptest.Server
	Price    bindings.ModelPrice
	net      *Net

	mu      sync.Mutex
	posted  map[string][]byte // raw job address → request envelope
	results map[string][]byte // raw job address → served result envelope
}

// NewWorker registers a worker serving the network's model at the given
// prices (nanoton per 1M tokens), staking MinStake, with dev evidence
// served by an httptest server.
func (n *Net) NewWorker(name string, priceIn, priceOut int64) *Worker {
	n.t.Helper()
	ctx := context.Background()
	w := &Worker{
		Name: name, Owner: n.btWallet("worker owner "+name, "100"), Sign: bt.KeyFor("worker " + name),
		Price: bindings.ModelPrice{PriceIn: big.NewInt(priceIn), PriceOut: big.NewInt(priceOut)},
		net:   n, posted: map[string][]byte{}, results: map[string][]byte{},
	}
	var err error
	if w.HPKE, err = seal.GenerateKey(seal.SuiteX25519); err != nil {
		n.t.Fatal(err)
	}
	devKey := bt.KeyFor("dev attestation " + name)
	keys := []attest.Key{
		{Name: attest.KeyEd25519, Public: w.Sign.Public().(ed25519.PublicKey)},
		{Name: attest.KeyHPKE, Public: w.HPKE.Public().Marshal()},
	}
	b, err := attest.NewBundle(ctx, &attest.DevSource{Key: devKey, Image: DevImage}, nil, keys, nil, time.Now())
	if err != nil {
		n.t.Fatal(err)
	}
	if w.Evidence, err = b.Encode(); err != nil {
		n.t.Fatal(err)
	}
	w.Server = httptest.NewServer(w.handler())
	n.t.Cleanup(w.Server.Close)

	key := bindings.PublicKey256(w.Sign.Public().(ed25519.PublicKey))
	si, err := bindings.WorkerStateInitWith(n.Env.Codes.Worker, n.Root, w.Owner.Address, key)
	if err != nil {
		n.t.Fatal(err)
	}
	w.Address = bindings.StateInitAddress(si)
	profile := bindings.WorkerProfile{
		HPKEKey:         seal.Commitment(w.HPKE.Public()),
		AttestationHash: sha256.Sum256(w.Evidence),
		TEE:             bindings.TEEDev,
		Measurement:     dev.Measurement(DevImage),
		Models:          bindings.Models{bindings.ModelID(n.Model): w.Price},
		Endpoint:        w.Server.URL,
	}
	value := new(big.Int).Add(MinStake(), big.NewInt(bindings.WorkerRegisterFee))
	agreed, err := readers.NewRoot(n.Env.Chain, n.Root).AgreedTermsHash(ctx)
	if err != nil {
		n.t.Fatal(err)
	}
	n.send(w.Owner, bt.Deploy(si, value, bt.Body(bindings.WorkerRegister{QueryID: 1, Profile: profile, Agreed: agreed})))
	d, err := readers.NewWorker(n.Env.Chain, w.Address).WorkerData(ctx)
	if err != nil || d.Status != bindings.WorkerActive {
		n.t.Fatalf("worker %s is not active after registration: %+v, %v", name, d, err)
	}
	return w
}

// Unbond asks to stop serving (Root logs a deactivation).
func (w *Worker) Unbond() {
	w.net.t.Helper()
	w.net.send(w.Owner, bt.Message(w.Address, bt.TON("0.05"), bt.Body(bindings.RequestUnbond{QueryID: 2})))
}

// ServeEvidence replaces the evidence served (the chain keeps the hash of
// the registered one).
func (w *Worker) ServeEvidence(b []byte) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.Evidence = b
}

func (w *Worker) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /evidence", func(rw http.ResponseWriter, _ *http.Request) {
		w.mu.Lock()
		ev := w.Evidence
		w.mu.Unlock()
		rw.Header().Set("Content-Type", "application/octet-stream")
		_, _ = rw.Write(ev)
	})
	mux.HandleFunc("GET /healthz", func(rw http.ResponseWriter, _ *http.Request) {
		rw.Header().Set("Content-Type", "application/json")
		_, _ = rw.Write([]byte(`{"status":"ok","warning":"` + dev.Warning + `"}`))
	})
	mux.HandleFunc("POST /v1/jobs/{job}/request", func(rw http.ResponseWriter, r *http.Request) {
		job, err := chain.ParseAddress(r.PathValue("job"))
		if err != nil {
			httpError(rw, http.StatusBadRequest, "job: %v", err)
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, 16<<20+1))
		if err != nil || len(body) > 16<<20 {
			httpError(rw, http.StatusRequestEntityTooLarge, "request too large")
			return
		}
		terms, err := readers.NewJob(w.net.Env.Chain, job).JobTerms(r.Context())
		if err != nil {
			httpError(rw, http.StatusNotFound, "no job at %s", job)
			return
		}
		if !terms.Worker.Equals(w.Address) {
			httpError(rw, http.StatusNotFound, "job %s is for another worker", job)
			return
		}
		if sha256.Sum256(body) != terms.RequestHash {
			httpError(rw, http.StatusConflict, "request does not match the job's commitment (sha256)")
			return
		}
		w.mu.Lock()
		w.posted[job.StringRaw()] = body
		w.mu.Unlock()
		rw.Header().Set("Content-Type", "application/json")
		_, _ = rw.Write([]byte(`{"ok":true}` + "\n"))
	})
	mux.HandleFunc("GET /v1/jobs/{job}/result", func(rw http.ResponseWriter, r *http.Request) {
		job, err := chain.ParseAddress(r.PathValue("job"))
		if err != nil {
			httpError(rw, http.StatusBadRequest, "job: %v", err)
			return
		}
		w.mu.Lock()
		res, ok := w.results[job.StringRaw()]
		w.mu.Unlock()
		if !ok {
			httpError(rw, http.StatusNotFound, "no result for job %s (yet)", job)
			return
		}
		rw.Header().Set("Content-Type", "application/octet-stream")
		_, _ = rw.Write(res)
	})
	return mux
}

func httpError(rw http.ResponseWriter, status int, format string, a ...any) {
	rw.Header().Set("Content-Type", "application/json")
	rw.WriteHeader(status)
	_ = json.NewEncoder(rw).Encode(map[string]string{"error": fmt.Sprintf(format, a...)})
}

// Serve serves the job as b says: waits until the job is accepted and its
// request is at hand (inline or posted), checks and opens it, answers with
// the reference engine, seals the answer and sends the signed receipt. It
// returns the receipt once the Job has taken it.
func (w *Worker) Serve(ctx context.Context, jobAddr *address.Address, b Behaviour) (*bindings.Receipt, error) {
	net := w.net.Env.Chain
	job := readers.NewJob(net, jobAddr)
	var (
		terms *readers.JobTermsView
		env   []byte
	)
	for {
		d, err := job.JobData(ctx)
		if err != nil {
			return nil, err
		}
		if !d.Deployed {
			return nil, fmt.Errorf("job %s does not exist", jobAddr)
		}
		if d.Status == bindings.JobAccepted {
			if terms, err = job.JobTerms(ctx); err != nil {
				return nil, err
			}
			rc, err := job.Request(ctx)
			if err != nil {
				return nil, err
			}
			if rc != nil {
				if env, err = bindings.CellBytes(rc, 1<<20); err != nil {
					return nil, err
				}
			} else {
				w.mu.Lock()
				env = w.posted[jobAddr.StringRaw()]
				w.mu.Unlock()
			}
			if env != nil {
				break
			}
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("job %s: waiting for acceptance and the request: %w", jobAddr, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
	if sha256.Sum256(env) != terms.RequestHash {
		return nil, errors.New("the request does not match the job's commitment")
	}
	ja := seal.NewJobAddr(jobAddr.Workchain(), [32]byte(jobAddr.Data()))
	pt := env // a public job's request is in clear
	if !terms.IsPublic {
		var err error
		if pt, err = seal.OpenRequest(w.HPKE, ja, env); err != nil {
			return nil, fmt.Errorf("opening the request: %w", err)
		}
	}
	req, err := inference.ParseChatRequest(pt)
	if err != nil {
		return nil, err
	}
	resultKey, err := seal.ParsePublicKey(req.ResultKey)
	if err != nil {
		return nil, err
	}
	if seal.Commitment(resultKey) != terms.ClientHPKEKey {
		return nil, errors.New("the result key is not the one the job commits to")
	}
	if req.MaxTokens > int(terms.MaxOut) || bindings.ModelID(req.Model) != terms.ModelID {
		return nil, errors.New("the request asks for more than the job pays for")
	}

	res := inference.ChatResult{V: inference.PlaintextVersion}
	var in, out uint32
	if b.Fail {
		if b.FailCode != "" {
			res.Error = &inference.ResultError{Code: b.FailCode, Message: "the test worker was told to fail"}
		}
	} else {
		s, err := reference.New(reference.Config{}).Chat(ctx, req.Request())
		if err != nil {
			return nil, err
		}
		text, r, err := inference.Collect(s)
		if err != nil {
			return nil, err
		}
		res.Content, res.FinishReason, res.Usage = text, r.FinishReason, r.Usage
		in, out = uint32(r.Usage.InputTokens), uint32(r.Usage.OutputTokens)
	}
	rcpt := bindings.Receipt{Job: jobAddr, RequestHash: terms.RequestHash, InputTokens: in, OutputTokens: out, Failed: b.Fail}
	if !b.Fail || b.FailCode != "" {
		rpt, err := res.Marshal()
		if err != nil {
			return nil, err
		}
		renv := rpt // a public job's answer is in clear
		if !terms.IsPublic {
			if renv, err = seal.SealResult(resultKey, ja, rpt); err != nil {
				return nil, err
			}
		}
		rcpt.ResultHash = sha256.Sum256(renv)
		if !b.OffChain && !b.Tamper {
			if rcpt.Result, err = bindings.InlineResult(renv); err != nil {
				return nil, err
			}
		}
		if rcpt.Result == nil {
			served := renv
			if b.Tamper {
				served = bytes.Clone(renv)
				served[len(served)/2] ^= 0x01
			}
			w.mu.Lock()
			w.results[jobAddr.StringRaw()] = served
			w.mu.Unlock()
		}
	}
	boc, err := bindings.ReceiptMessage(w.Sign, rcpt)
	if err != nil {
		return nil, err
	}
	if _, err := net.SendExternal(ctx, boc); err != nil {
		return nil, fmt.Errorf("sending the receipt: %w", err)
	}
	// The block loop (Net.Run) includes it; wait until the job is gone.
	for {
		d, err := job.JobData(ctx)
		if err != nil {
			return nil, err
		}
		if !d.Deployed {
			return &rcpt, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("job %s: waiting for the receipt to be taken: %w", jobAddr, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// AutoServe serves, as b says, every job offered to the worker from now
// until the test ends (for tests that do not learn the job's address, such
// as the CLI's). Each served job's outcome (nil or the error) is sent on
// the returned channel.
func (w *Worker) AutoServe(b Behaviour) <-chan error {
	ctx, cancel := context.WithCancel(context.Background())
	net := w.net.Env.Chain
	results := make(chan error, 16)
	acc, err := net.Account(ctx, w.Address)
	if err != nil {
		cancel()
		w.net.t.Fatal(err)
	}
	cur := chain.Cursor{w.Address.StringRaw(): acc.LastTx.LT}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		_ = chain.Watch(ctx, net, []*address.Address{w.Address}, cur, 20*time.Millisecond, func(tx *chain.Transaction) error {
			in := tx.Tx.IO.In
			if in == nil || in.MsgType != tlb.MsgTypeInternal {
				return nil
			}
			im := in.AsInternal()
			if _, err := bindings.Parse[bindings.Offer](im.Body); err != nil || im.Bounced {
				return nil
			}
			wg.Add(1)
			go func(job *address.Address) {
				defer wg.Done()
				_, err := w.Serve(ctx, job, b)
				select {
				case results <- err:
				default:
				}
			}(im.SrcAddr)
			return nil
		})
	}()
	w.net.t.Cleanup(func() { cancel(); wg.Wait() })
	return results
}
