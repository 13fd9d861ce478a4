// Package demo runs the whole of Cocoon in one process on an embedded
// devnet: an operator deploys Root, a miner registers a worker with the
// reference engine, an app submits jobs and reads sealed answers, and the
// same app then streams OpenAI requests through its gateway, paying the
// worker over a payment channel: the two ways to pay, and what each cost.
// It is what `cocoon demo` (the README's main command) runs.
package demo

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/xssnick/tonutils-go/address"

	"github.com/cocoon-network/cocoon/bindings"
	"github.com/cocoon-network/cocoon/offchain/attest/dev"
	"github.com/cocoon-network/cocoon/offchain/channel"
	"github.com/cocoon-network/cocoon/offchain/client"
	"github.com/cocoon-network/cocoon/offchain/devnet"
	"github.com/cocoon-network/cocoon/offchain/gateway"
	"github.com/cocoon-network/cocoon/offchain/inference/reference"
	"github.com/cocoon-network/cocoon/offchain/internal/keyfile"
	"github.com/cocoon-network/cocoon/offchain/operator"
	"github.com/cocoon-network/cocoon/offchain/owner"
	"github.com/cocoon-network/cocoon/offchain/seal"
	"github.com/cocoon-network/cocoon/offchain/tonamount"
	"github.com/cocoon-network/cocoon/offchain/wallet"
	"github.com/cocoon-network/cocoon/offchain/worker"
)

// Model is the model the demo registers and serves.
const Model = "cocoon-reference"

// defaultPrompts are the demo's three jobs.
var defaultPrompts = [...]string{
	"What does a trusted execution environment protect?",
	"Why should only the app be able to read the answer?",
	"How is a worker paid for a job on TON?",
}

// Options configure a demo run.
type Options struct {
	// Dir receives devnet/, worker/ and client/; it must not hold an
	// earlier demo.
	Dir string
	// Prompt, when set, replaces the default prompts (every job asks it).
	Prompt string
	// Jobs is how many jobs to submit (default 3).
	Jobs int
	// Out receives the demo's narration.
	Out io.Writer
	// Logger receives the components' logs (nil: discarded).
	Logger *slog.Logger
}

// Summary is what the demo's jobs and channel requests cost and paid.
type Summary struct {
	Jobs         int
	WorkerEarned *big.Int // worker pay over all jobs
	Refunded     *big.Int // returned to the client
	Fees         *big.Int // protocol fees + network gas
	// The requests through the gateway, paid over one channel.
	Requests    int
	ChannelPaid *big.Int // to the worker, by its last voucher
	ChannelFees *big.Int // the channel's open and close, all chain fees
}

// Env is a running Cocoon: an embedded devnet, a test-mode Root, one
// registered worker with the reference engine, and funded client wallets.
type Env struct {
	Chain   *devnet.Engine
	Root    *address.Address
	Worker  *worker.Daemon
	Clients []*wallet.Wallet
	// Client is an SDK client keeping per-job state under Dir/client/jobs.
	Client *client.Client

	cancel     context.CancelFunc
	daemonDone chan error
}

// SetupOptions configure Setup.
type SetupOptions struct {
	Dir           string
	BlockInterval time.Duration // default 100ms
	Clients       int           // funded client wallets, default 1
	MaxConcurrent int           // the worker's concurrency limit, default 16
	Logger        *slog.Logger
	Say           func(format string, a ...any)
}

// Setup starts the devnet, deploys Root, registers and starts a worker, and
// funds client wallets. Close stops it.
func Setup(ctx context.Context, o SetupOptions) (*Env, error) {
	if o.BlockInterval <= 0 {
		o.BlockInterval = 100 * time.Millisecond
	}
	if o.Clients <= 0 {
		o.Clients = 1
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	say := o.Say
	if say == nil {
		say = func(string, ...any) {}
	}
	if entries, err := os.ReadDir(o.Dir); err == nil && len(entries) > 0 {
		return nil, fmt.Errorf("%s is not empty: the demo needs a fresh directory (remove it or pass another --data)", o.Dir)
	}
	ctx, cancel := context.WithCancel(ctx)
	env := &Env{cancel: cancel}
	ok := false
	defer func() {
		if !ok {
			env.Close()
		}
	}()

	// 1. The network.
	say("devnet: starting an emulated TON chain on the real TVM (mainnet config) in %s", filepath.Join(o.Dir, "devnet"))
	e, err := devnet.Open(ctx, devnet.Options{Dir: filepath.Join(o.Dir, "devnet"), Logger: log})
	if err != nil {
		return nil, err
	}
	env.Chain = e
	go func() { _ = e.Run(ctx, o.BlockInterval) }()

	newWallet := func(path string, ton int64) (*wallet.Wallet, error) {
		f, err := wallet.New(wallet.V5R1)
		if err != nil {
			return nil, err
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, err
		}
		if err := f.Save(path, false); err != nil {
			return nil, err
		}
		w, err := f.Open(wallet.WithPollInterval(o.BlockInterval/2), wallet.WithLogger(log))
		if err != nil {
			return nil, err
		}
		if _, err := e.Faucet(ctx, w.Address(), new(big.Int).Mul(big.NewInt(ton), big.NewInt(1e9))); err != nil {
			return nil, fmt.Errorf("funding %s: %w", path, err)
		}
		return w, nil
	}

	// 2. The operator deploys Root in test mode and allows the dev worker
	// image and the model.
	opWallet, err := newWallet(filepath.Join(o.Dir, "devnet", "operator.wallet"), 10)
	if err != nil {
		return nil, err
	}
	// The Job code is a public library: each client's deploy then carries a
	// 33-byte reference instead of the code (about a fifth off a job's fees).
	codes, err := bindings.EmbeddedCodes()
	if err != nil {
		return nil, err
	}
	if err := e.PublishLibrary(codes.Job); err != nil {
		return nil, err
	}
	op, _, err := operator.DeployCodes(ctx, e, opWallet, bindings.RootParams{
		MinWorkerStake: big.NewInt(5e9), UnbondingDelay: bindings.MinUnbondingDelay(86400), ProtocolFeeBps: 500, Treasury: opWallet.Address(),
		MinJobDeadline: 30, MaxJobDeadline: 86400, SlashBps: 1000, TestMode: true,
	}, codes.WithJobLibrary())
	if err != nil {
		return nil, err
	}
	env.Root = op.Root
	say("operator: Root deployed at %s (test mode: dev attestation admitted, NOT SECURE)", op.Root)
	if _, err := op.Do(ctx, bindings.AddMeasurement{QueryID: 1, TEE: bindings.TEEDev, Measurement: dev.Measurement(worker.DevImage)}); err != nil {
		return nil, fmt.Errorf("allowing the dev measurement: %w", err)
	}
	if _, err := op.Do(ctx, bindings.AddModel{QueryID: 2, ModelID: bindings.ModelID(Model), Info: bindings.ModelInfo{MinPriceIn: big.NewInt(1e8), MinPriceOut: big.NewInt(1e8)}}); err != nil {
		return nil, fmt.Errorf("adding the model: %w", err)
	}
	say("operator: allowed the dev worker image %q and the model %q", worker.DevImage, Model)

	// 3. The miner creates keys and evidence, registers with stake, and
	// starts the daemon with the reference engine.
	wdir := filepath.Join(o.Dir, "worker")
	ownerWallet, err := newWallet(filepath.Join(wdir, "owner.wallet"), 50)
	if err != nil {
		return nil, err
	}
	id, err := worker.InitIdentity(ctx, filepath.Join(wdir, "keys"), seal.SuiteX25519)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	cfgPath := filepath.Join(wdir, "config.toml")
	cfgText, err := worker.RenderConfig(worker.InitValues{Network: "devnet (in-process)", Root: op.Root.String(), Owner: ownerWallet.Address().String(),
		Listen: ln.Addr().String(), PublicURL: "http://" + ln.Addr().String(), Model: Model})
	if err != nil {
		ln.Close()
		return nil, err
	}
	if err := os.WriteFile(cfgPath, []byte(cfgText), 0o600); err != nil {
		ln.Close()
		return nil, err
	}
	cfg, err := worker.LoadConfig(cfgPath)
	if err != nil {
		ln.Close()
		return nil, err
	}
	cfg.PollInterval.Duration = o.BlockInterval
	cfg.MaxConcurrent = max(o.MaxConcurrent, 16)
	// A small wallet pays the gas of the worker's channel commits and
	// closes (the earnings go to the owner).
	if _, err := newWallet(filepath.Join(wdir, "gas.wallet"), 2); err != nil {
		ln.Close()
		return nil, err
	}
	cfg.Online.GasWallet = "gas.wallet"
	reg, err := worker.Registration(cfg, id)
	if err != nil {
		ln.Close()
		return nil, err
	}
	v, err := owner.Register(ctx, e, ownerWallet, reg, big.NewInt(10e9))
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("registering the worker: %w", err)
	}
	d, err := worker.New(cfg, id, worker.Options{Network: e, Engine: reference.New(reference.Config{}), Logger: log, GPU: "none (demo)"})
	if err != nil {
		ln.Close()
		return nil, err
	}
	env.Worker = d
	env.daemonDone = make(chan error, 1)
	go func() { env.daemonDone <- d.Run(ctx, ln) }()
	say("miner: worker %s registered with 10 TON stake (%s), serving %q with the %s engine: %s", d.Address(), v.Status, Model, reference.Name, reference.Description)

	for i := 0; i < o.Clients; i++ {
		name := "client.wallet"
		if i > 0 {
			name = fmt.Sprintf("client-%d.wallet", i+1)
		}
		cw, err := newWallet(filepath.Join(o.Dir, "client", name), 20)
		if err != nil {
			return nil, err
		}
		env.Clients = append(env.Clients, cw)
	}
	env.Client = client.New(e, client.Options{Dir: filepath.Join(o.Dir, "client", "jobs"), Logger: log, PollInterval: o.BlockInterval})
	ok = true
	return env, nil
}

// Close stops the worker and the devnet.
func (env *Env) Close() error {
	env.cancel()
	var err error
	if env.daemonDone != nil {
		if e := <-env.daemonDone; e != nil && !errors.Is(e, context.Canceled) {
			err = fmt.Errorf("worker daemon: %w", e)
		}
		env.daemonDone = nil
	}
	if env.Chain != nil {
		env.Chain.Close()
		env.Chain = nil
	}
	return err
}

// Run runs the demo.
func Run(ctx context.Context, opts Options) (*Summary, error) {
	if opts.Jobs <= 0 {
		opts.Jobs = 3
	}
	if opts.Out == nil {
		opts.Out = io.Discard
	}
	say := func(format string, a ...any) { fmt.Fprintf(opts.Out, format+"\n", a...) }
	env, err := Setup(ctx, SetupOptions{Dir: opts.Dir, Logger: opts.Logger, Say: say})
	if err != nil {
		return nil, err
	}
	defer env.Close()
	cl, cw, root := env.Client, env.Clients[0], env.Root

	// 4. The app submits jobs: it checks the worker's evidence against
	// Root, seals each prompt to the worker, escrows the price, and opens
	// the answer sealed to its own per-job key.
	sum := &Summary{WorkerEarned: new(big.Int), Refunded: new(big.Int), Fees: new(big.Int)}
	for i := 0; i < opts.Jobs; i++ {
		prompt := opts.Prompt
		if prompt == "" {
			prompt = defaultPrompts[i%len(defaultPrompts)]
		}
		job, err := cl.Submit(ctx, client.SubmitRequest{Wallet: cw, Root: root, Model: Model, Prompt: prompt, MaxOutputTokens: 128})
		if err != nil {
			return nil, fmt.Errorf("job %d: %w", i+1, err)
		}
		out, err := cl.Wait(ctx, job)
		if err != nil {
			return nil, fmt.Errorf("job %d (%s): %w", i+1, job.Address, err)
		}
		if out.Answer == nil || out.Receipt == nil {
			return nil, fmt.Errorf("job %d (%s) closed without an answer: %s", i+1, job.Address, out.Reason)
		}
		c := out.Costs
		fees := new(big.Int).Add(c.ProtocolFee, c.Gas)
		say("\njob %d  %s", i+1, job.Address)
		say("  prompt:   %s", prompt)
		say("  answer:   %s", out.Answer.Content)
		say("  receipt:  %d input + %d output tokens, result sha256 %x, signed by the worker's enclave key", out.Receipt.InputTokens, out.Receipt.OutputTokens, out.Receipt.ResultHash)
		say("  paid:     escrow %s TON = worker %s + protocol fee %s + gas %s + refund %s",
			tonamount.Format(c.Escrow), tonamount.Format(c.WorkerPay), tonamount.Format(c.ProtocolFee), tonamount.Format(c.Gas), tonamount.Format(c.Refund))
		sum.Jobs++
		sum.WorkerEarned.Add(sum.WorkerEarned, c.WorkerPay)
		sum.Refunded.Add(sum.Refunded, c.Refund)
		sum.Fees.Add(sum.Fees, fees)
	}
	// 5. The same app through its gateway: OpenAI requests, streamed,
	// paid with a voucher per answer over one payment channel.
	if err := streamThroughGateway(ctx, env, opts, say, sum); err != nil {
		return sum, fmt.Errorf("requests through the gateway: %w", err)
	}
	if err := env.Close(); err != nil {
		return sum, err
	}
	say("\ndemo: %d jobs completed, worker earned %s TON, client refunded %s TON, fees %s TON",
		sum.Jobs, tonamount.Format(sum.WorkerEarned), tonamount.Format(sum.Refunded), tonamount.Format(sum.Fees))
	perJob := new(big.Int).Quo(sum.Fees, big.NewInt(int64(max(sum.Jobs, 1))))
	perReq := new(big.Int).Quo(sum.ChannelFees, big.NewInt(int64(max(sum.Requests, 1))))
	say("demo: %d requests through the gateway, worker paid %s TON over a channel whose open and close cost %s TON in fees",
		sum.Requests, tonamount.Format(sum.ChannelPaid), tonamount.Format(sum.ChannelFees))
	say("demo: chain fees per answer: %s TON as a Job, %s TON over the channel (%d requests; it falls with every request more)",
		tonamount.Format(perJob), tonamount.Format(perReq), sum.Requests)
	return sum, nil
}

// demoRequests is how many requests the demo streams through the gateway.
const demoRequests = 5

// streamThroughGateway runs the app's gateway over env (the worker found
// through Root, a payment channel opened on first use), streams a few
// chat requests through it as an OpenAI SDK would, then stops it, which
// closes the channel; it adds what the requests paid and cost to sum.
func streamThroughGateway(ctx context.Context, env *Env, opts Options, say func(string, ...any), sum *Summary) error {
	dir := filepath.Join(opts.Dir, "gateway")
	wf, err := wallet.New(wallet.V5R1)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if err := wf.Save(filepath.Join(dir, "app.wallet"), false); err != nil {
		return err
	}
	gw, err := wf.Open(wallet.WithPollInterval(50 * time.Millisecond))
	if err != nil {
		return err
	}
	if _, err := env.Chain.Faucet(ctx, gw.Address(), big.NewInt(5e9)); err != nil {
		return err
	}
	before, err := balance(ctx, env.Chain, gw.Address())
	if err != nil {
		return err
	}
	store, err := channel.OpenStore(dir)
	if err != nil {
		return err
	}
	defer store.Close()
	key, _, err := keyfile.LoadOrCreate(filepath.Join(dir, "payer.key"), "channel voucher key")
	if err != nil {
		return err
	}
	cp, err := channel.NewPayer(channel.PayerConfig{Net: env.Chain, Wallet: gw, Key: key, Store: store, Poll: 50 * time.Millisecond, Logger: opts.Logger})
	if err != nil {
		return err
	}
	apiKey := "sk-demo-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	g, err := gateway.New(gateway.Config{
		Source: &gateway.RootSource{Net: env.Chain, Root: env.Root}, Models: []string{Model}, APIKeys: []string{apiKey},
		Payer:   &gateway.ChannelPayer{Payer: cp, Store: store, Deposit: big.NewInt(1e9), CloseOnShutdown: true, Logger: opts.Logger},
		Journal: filepath.Join(dir, "inflight.journal"), Logger: opts.Logger,
	})
	if err != nil {
		return err
	}
	gctx, stop := context.WithCancel(ctx)
	defer stop()
	ran := make(chan error, 1)
	go func() { ran <- g.Run(gctx) }()
	select {
	case <-g.Found():
	case <-ctx.Done():
		return ctx.Err()
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv, _ := g.Serve(ln)
	defer srv.Close()
	base := "http://" + ln.Addr().String() + "/v1"
	say("\napp: gateway at %s (OPENAI_BASE_URL for any OpenAI SDK); its first request opens a payment channel with the worker", base)
	for i := range demoRequests {
		prompt := defaultPrompts[i%len(defaultPrompts)]
		text, in, out, err := streamChat(ctx, base, apiKey, prompt)
		if err != nil {
			return fmt.Errorf("request %d: %w", i+1, err)
		}
		say("  request %d, streamed: %q … (%d input + %d output tokens)", i+1, clip(text, 60), in, out)
		sum.Requests++
	}
	// Stopping the gateway delivers its last voucher and closes the
	// channel cooperatively: the worker is paid its last voucher exactly.
	srv.Close()
	stop()
	if err := <-ran; err != nil {
		return fmt.Errorf("closing the channel: %w", err)
	}
	sum.ChannelPaid = g.Spent()
	// The channel's rest comes back to the app's wallet a block later.
	after := before
	for range 50 {
		if after, err = balance(ctx, env.Chain, gw.Address()); err != nil {
			return err
		}
		if cost := new(big.Int).Sub(before, after); cost.Cmp(big.NewInt(5e8)) < 0 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	sum.ChannelFees = new(big.Int).Sub(new(big.Int).Sub(before, after), sum.ChannelPaid)
	say("  channel closed: the app's wallet paid %s TON = the worker's last voucher %s + chain fees %s (open, close, wallet)",
		tonamount.Format(new(big.Int).Sub(before, after)), tonamount.Format(sum.ChannelPaid), tonamount.Format(sum.ChannelFees))
	return nil
}

func balance(ctx context.Context, e *devnet.Engine, a *address.Address) (*big.Int, error) {
	acc, err := e.Account(ctx, a)
	if err != nil {
		return nil, err
	}
	return acc.Balance, nil
}

func clip(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n])
	}
	return s
}

// streamChat sends one streamed chat request as an OpenAI SDK does and
// returns the text and the usage of its last chunk.
func streamChat(ctx context.Context, base, key, prompt string) (text string, in, out int, err error) {
	body, _ := json.Marshal(map[string]any{"model": Model, "stream": true, "stream_options": map[string]bool{"include_usage": true},
		"max_tokens": 48, "messages": []any{map[string]string{"role": "user", "content": prompt}}})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/chat/completions", bytes.NewReader(body))
	if err != nil {
		return "", 0, 0, err
	}
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", 0, 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		return "", 0, 0, fmt.Errorf("HTTP %d: %s", resp.StatusCode, b)
	}
	var sb strings.Builder
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		d, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok || d == "[DONE]" {
			continue
		}
		var ch struct {
			Choices []struct {
				Delta struct{ Content string } `json:"delta"`
			} `json:"choices"`
			Usage *struct {
				Prompt     int `json:"prompt_tokens"`
				Completion int `json:"completion_tokens"`
			} `json:"usage"`
			Error *struct{ Message string } `json:"error"`
		}
		if err := json.Unmarshal([]byte(d), &ch); err != nil {
			return "", 0, 0, fmt.Errorf("a chunk: %w", err)
		}
		if ch.Error != nil {
			return "", 0, 0, errors.New(ch.Error.Message)
		}
		for _, c := range ch.Choices {
			sb.WriteString(c.Delta.Content)
		}
		if ch.Usage != nil {
			in, out = ch.Usage.Prompt, ch.Usage.Completion
		}
	}
	return sb.String(), in, out, sc.Err()
}
