// Package clienttest runs a Cocoon network for tests of apps and of the
// client SDK: a devnet (the real TVM) with a Root in test mode, and real
// worker daemons (package worker, in-process, dev attestation) registered
// on it. What an honest daemon never does comes from outside it: an engine
// that fails or holds its generation (package enginetest), and an HTTP
// proxy in front of each daemon that can serve a tampered result or another
// worker's evidence (Worker.TamperResults, Worker.ServeEvidence).
package clienttest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xssnick/tonutils-go/address"
	"github.com/xssnick/tonutils-go/tlb"

	"github.com/cocoon-network/cocoon/bindings"
	"github.com/cocoon-network/cocoon/offchain/attest/dev"
	"github.com/cocoon-network/cocoon/offchain/chain"
	"github.com/cocoon-network/cocoon/offchain/chain/readers"
	bt "github.com/cocoon-network/cocoon/offchain/contracttest"
	"github.com/cocoon-network/cocoon/offchain/inference"
	"github.com/cocoon-network/cocoon/offchain/inference/reference"
	"github.com/cocoon-network/cocoon/offchain/seal"
	"github.com/cocoon-network/cocoon/offchain/tonamount"
	"github.com/cocoon-network/cocoon/offchain/wallet"
	"github.com/cocoon-network/cocoon/offchain/wallet/wallettest"
	"github.com/cocoon-network/cocoon/offchain/worker"
)

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
// the dev attestation of worker daemons (worker.DevImage).
type Net struct {
	Env      *bt.Env
	Owner    *bt.Wallet
	Treasury *bt.Wallet
	Root     *address.Address
	Model    string
	t        testing.TB
}

// NewNet deploys the Root. Blocks are produced only by the contracttest
// helpers until Run is called; the devnet's clock stands at the time
// NewNet was called until Advance moves it.
func NewNet(t testing.TB, model string) *Net {
	t.Helper()
	ctx := context.Background()
	n := &Net{Env: bt.NewT(t), Model: model, t: t}
	// The worker daemon times a job's deadline by its own clock, as on a
	// live network: the devnet's clock starts at the wall time, not at
	// contracttest's fixed genesis, and moves only by Advance.
	if err := n.Env.AdvanceTime(ctx, max(0, time.Since(bt.Genesis()).Truncate(time.Second))); err != nil {
		t.Fatal(err)
	}
	n.Owner = n.btWallet("owner", "1000")
	n.Treasury = n.btWallet("treasury", "1")
	params := bindings.RootParams{
		MinWorkerStake: MinStake(), UnbondingDelay: bindings.MinUnbondingDelay(MaxDeadline), ProtocolFeeBps: FeeBps, Treasury: n.Treasury.Address,
		MinJobDeadline: MinDeadline, MaxJobDeadline: MaxDeadline, SlashBps: SlashBps, TestMode: true,
	}
	si, err := bindings.RootStateInit(n.Owner.Address, params, n.Env.Codes)
	if err != nil {
		t.Fatal(err)
	}
	n.Root = bindings.StateInitAddress(si)
	n.send(n.Owner, bt.Deploy(si, bt.TON("1"), nil))
	for _, op := range []bindings.Message{
		bindings.AddMeasurement{QueryID: 1, TEE: bindings.TEEDev, Measurement: dev.Measurement(worker.DevImage)},
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

// WorkerOptions configure a worker beyond its prices.
type WorkerOptions struct {
	// PriceIn and PriceOut are nanoton per 1M tokens.
	PriceIn, PriceOut int64
	// Engine is the daemon's engine (default: the reference engine).
	Engine inference.Engine
	// MaxConcurrent is the daemon's max_concurrent (default 2).
	MaxConcurrent int
	// GasWallet gives the daemon a funded gas wallet (online.gas_wallet):
	// it then takes payment channels and renews its registration.
	GasWallet bool
}

// Worker is a real worker daemon registered on the network, reached by
// clients through a proxy (its registered endpoint).
type Worker struct {
	Name     string
	Address  *address.Address
	Owner    *bt.Wallet
	Identity *worker.Identity
	Daemon   *worker.Daemon
	// Proxy is the worker's public endpoint, in front of the daemon.
	Proxy *httptest.Server
	// Config is the path of the daemon's config.toml.
	Config string
	net    *Net

	mu       sync.Mutex
	tamper   bool
	evidence []byte // served instead of the daemon's when not nil
}

// NewWorker registers a worker serving the network's model at the given
// prices (nanoton per 1M tokens), staking MinStake, and runs its daemon
// with the reference engine.
func (n *Net) NewWorker(name string, priceIn, priceOut int64) *Worker {
	n.t.Helper()
	return n.NewWorkerWith(name, WorkerOptions{PriceIn: priceIn, PriceOut: priceOut})
}

// NewWorkerWith is NewWorker with options: the daemon is configured from
// a config file as `cocoon worker` reads one, its keys and dev evidence
// made by worker.InitIdentity, its profile by worker.Registration; the
// owner's registration goes through the contracttest wallet, so that it
// is on chain before Run starts the block loop.
func (n *Net) NewWorkerWith(name string, o WorkerOptions) *Worker {
	n.t.Helper()
	ctx := context.Background()
	if o.Engine == nil {
		o.Engine = reference.New(reference.Config{})
	}
	if o.MaxConcurrent == 0 {
		o.MaxConcurrent = 2
	}
	w := &Worker{Name: name, Owner: n.btWallet("worker owner "+name, "100"), net: n}
	dir := n.t.TempDir()
	id, err := worker.InitIdentity(ctx, filepath.Join(dir, "keys"), seal.SuiteX25519)
	if err != nil {
		n.t.Fatal(err)
	}
	w.Identity = id
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		n.t.Fatal(err)
	}
	n.t.Cleanup(func() { _ = ln.Close() }) // the daemon closes it too, once it runs
	daemonURL := &url.URL{Scheme: "http", Host: ln.Addr().String()}
	w.Proxy = httptest.NewServer(w.proxy(daemonURL))
	n.t.Cleanup(w.Proxy.Close)

	cfgText := strings.Join([]string{
		`network = "devnet"`,
		`root = "` + n.Root.String() + `"`,
		`owner = "` + w.Owner.Address.String() + `"`,
		`listen = "` + ln.Addr().String() + `"`,
		`public_url = "` + w.Proxy.URL + `"`,
		`poll_interval = "20ms"`,
		`max_concurrent = ` + strconv.Itoa(o.MaxConcurrent),
		`[[models]]`,
		`name = "` + n.Model + `"`,
		`price_in = "` + tonamount.Format(big.NewInt(o.PriceIn)) + `"`,
		`price_out = "` + tonamount.Format(big.NewInt(o.PriceOut)) + `"`,
	}, "\n")
	if o.GasWallet {
		f, err := wallet.New(wallet.V5R1)
		if err != nil {
			n.t.Fatal(err)
		}
		if err := f.Save(filepath.Join(dir, "gas.wallet"), false); err != nil {
			n.t.Fatal(err)
		}
		a, err := f.Address()
		if err != nil {
			n.t.Fatal(err)
		}
		if err := n.Env.Fund(ctx, a, bt.TON("2")); err != nil {
			n.t.Fatal(err)
		}
		cfgText += "\n[online]\ngas_wallet = \"gas.wallet\"\n"
	}
	cfgPath := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(cfgPath, []byte(cfgText), 0o600); err != nil {
		n.t.Fatal(err)
	}
	cfg, err := worker.LoadConfig(cfgPath)
	if err != nil {
		n.t.Fatal(err)
	}
	w.Config = cfgPath
	reg, err := worker.Registration(cfg, id)
	if err != nil {
		n.t.Fatal(err)
	}
	si, err := bindings.WorkerStateInit(reg.Root, reg.Owner, bindings.PublicKey256(reg.SignKey))
	if err != nil {
		n.t.Fatal(err)
	}
	w.Address = bindings.StateInitAddress(si)
	agreed, err := readers.NewRoot(n.Env.Chain, n.Root).AgreedTermsHash(ctx)
	if err != nil {
		n.t.Fatal(err)
	}
	value := new(big.Int).Add(MinStake(), big.NewInt(bindings.WorkerRegisterFee))
	n.send(w.Owner, bt.Deploy(si, value, bt.Body(bindings.WorkerRegister{QueryID: 1, Profile: reg.Profile, Agreed: agreed})))
	d, err := readers.NewWorker(n.Env.Chain, w.Address).WorkerData(ctx)
	if err != nil || d.Status != bindings.WorkerActive {
		n.t.Fatalf("worker %s is not active after registration: %+v, %v", name, d, err)
	}

	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	w.Daemon, err = worker.New(cfg, id, worker.Options{Network: n.Env.Chain, Engine: o.Engine, Logger: log, GPU: "none (clienttest)"})
	if err != nil {
		n.t.Fatal(err)
	}
	if !w.Daemon.Address().Equals(w.Address) {
		n.t.Fatalf("the daemon serves %s, the owner registered %s", w.Daemon.Address(), w.Address)
	}
	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Daemon.Run(runCtx, ln) }()
	n.t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			n.t.Errorf("worker %s daemon: %v", name, err)
		}
	})
	return w
}

// Evidence is the evidence the worker registered (its hash is on chain).
func (w *Worker) Evidence() []byte { return w.Identity.Evidence }

// Unbond asks to stop serving (Root logs a deactivation).
func (w *Worker) Unbond() {
	w.net.t.Helper()
	w.net.send(w.Owner, bt.Message(w.Address, bt.TON("0.05"), bt.Body(bindings.RequestUnbond{QueryID: 2})))
}

// ServeEvidence makes the worker's endpoint serve b as its evidence (the
// chain keeps the hash of the registered one).
func (w *Worker) ServeEvidence(b []byte) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.evidence = bytes.Clone(b)
}

// TamperResults makes the worker's endpoint serve altered result envelopes
// (the receipt commits to the genuine ones) while on is true.
func (w *Worker) TamperResults(on bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.tamper = on
}

// proxy forwards everything to the daemon and alters what the test asked
// it to alter.
func (w *Worker) proxy(daemon *url.URL) http.Handler {
	rp := httputil.NewSingleHostReverseProxy(daemon)
	rp.ModifyResponse = func(resp *http.Response) error {
		w.mu.Lock()
		tamper, evidence := w.tamper, w.evidence
		w.mu.Unlock()
		path := resp.Request.URL.Path
		switch {
		case path == "/evidence" && evidence != nil:
			replaceBody(resp, evidence)
		case tamper && resp.StatusCode == http.StatusOK && strings.HasPrefix(path, "/v1/jobs/") && strings.HasSuffix(path, "/result"):
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				return err
			}
			if len(body) > 0 {
				body[len(body)/2] ^= 0x01
			}
			replaceBody(resp, body)
		}
		return nil
	}
	return rp
}

func replaceBody(resp *http.Response, b []byte) {
	if resp.Body != nil {
		resp.Body.Close()
	}
	resp.Body = io.NopCloser(bytes.NewReader(b))
	resp.ContentLength = int64(len(b))
	resp.Header.Set("Content-Length", strconv.Itoa(len(b)))
}

// Done waits until the daemon has finished the job (seen it closed on
// chain) and returns its record: Outcome says how it ended
// (worker.OutcomeCompleted, OutcomeFailed, OutcomeExpired, ...).
func (w *Worker) Done(ctx context.Context, job *address.Address) (*worker.JobRecord, error) {
	for {
		r, err := w.Daemon.Job(job.StringRaw())
		if err == nil && r.State == worker.StateDone {
			return r, nil
		}
		select {
		case <-ctx.Done():
			if err == nil {
				err = fmt.Errorf("in state %s", r.State)
			}
			return nil, fmt.Errorf("worker %s never finished job %s: %w", w.Name, job, errors.Join(err, ctx.Err()))
		case <-time.After(20 * time.Millisecond):
		}
	}
}
