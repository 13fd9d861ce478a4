package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/cocoon-network/cocoon/bindings"
	"github.com/cocoon-network/cocoon/offchain/attest/dev"
	"github.com/cocoon-network/cocoon/offchain/client"
	"github.com/cocoon-network/cocoon/offchain/devnet"
	"github.com/cocoon-network/cocoon/offchain/devnet/httpapi"
	"github.com/cocoon-network/cocoon/offchain/gateway"
	"github.com/cocoon-network/cocoon/offchain/inference"
	"github.com/cocoon-network/cocoon/offchain/inference/openai"
	"github.com/cocoon-network/cocoon/offchain/inference/reference"
	"github.com/cocoon-network/cocoon/offchain/internal/httpserve"
	"github.com/cocoon-network/cocoon/offchain/internal/supervise"
	"github.com/cocoon-network/cocoon/offchain/operator"
	"github.com/cocoon-network/cocoon/offchain/owner"
	"github.com/cocoon-network/cocoon/offchain/seal"
	"github.com/cocoon-network/cocoon/offchain/wallet"
	"github.com/cocoon-network/cocoon/offchain/worker"
)

func upCommand() *cli.Command {
	return &cli.Command{
		Name:  "up",
		Usage: "run a whole Cocoon on this machine (devnet, test-mode Root, workers, gateway) and print OPENAI_BASE_URL",
		UsageText: "cocoon up [--data DIR] [--workers N] [--listen HOST:PORT] [--engine-url URL --model NAME]\n\n" +
			"Prints OPENAI_BASE_URL=…, OPENAI_API_KEY=…, COCOON_NETWORK=… and COCOON_ROOT=… on stdout, one per line, once\n" +
			"the gateway serves, and keeps them in DIR/env; stays up until interrupted. Root runs in test mode (dev\n" +
			"attestation): NOT SECURE.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "data", Usage: "directory for the devnet, workers and gateway (must be empty; default: a new temporary directory)"},
			&cli.IntFlag{Name: "workers", Value: 2, Usage: "how many workers to register"},
			&cli.StringFlag{Name: "listen", Value: "127.0.0.1:8080", Usage: "address of the OpenAI API"},
			&cli.StringFlag{Name: "devnet-listen", Value: "127.0.0.1:0", Usage: "address of the devnet's toncenter API"},
			&cli.StringFlag{Name: "engine-url", Usage: "an OpenAI-compatible engine (vLLM, llama.cpp server, Ollama /v1); default: the built-in reference engine"},
			&cli.StringFlag{Name: "engine-api-key-env", Usage: "environment variable holding the engine's API key"},
			&cli.StringFlag{Name: "model", Value: "cocoon-reference", Usage: "the model to register and serve (the engine's model name)"},
			&cli.StringFlag{Name: "api-key", Usage: "the API key to accept (default: a random one, printed)"},
			&cli.DurationFlag{Name: "block-interval", Value: 100 * time.Millisecond, Usage: "devnet time between blocks"},
		},
		Action: upRun,
	}
}

func upRun(c *cli.Context) error {
	log, err := logger(c)
	if err != nil {
		return err
	}
	n := c.Int("workers")
	if n < 1 || n > 32 {
		return fmt.Errorf("--workers %d: want 1 to 32", n)
	}
	interval := c.Duration("block-interval")
	if interval < 10*time.Millisecond {
		return fmt.Errorf("--block-interval %s is too short (at least 10ms)", interval)
	}
	model := c.String("model")
	var newEngine func() (inference.Engine, error)
	if u := c.String("engine-url"); u != "" {
		key := ""
		if env := c.String("engine-api-key-env"); env != "" {
			key = os.Getenv(env)
		}
		newEngine = func() (inference.Engine, error) { return openai.New(openai.Config{BaseURL: u, APIKey: key}) }
	} else {
		newEngine = func() (inference.Engine, error) { return reference.New(reference.Config{}), nil }
	}
	apiKey := c.String("api-key")
	if apiKey == "" {
		var b [24]byte
		_, _ = rand.Read(b[:])
		apiKey = "sk-cocoon-" + hex.EncodeToString(b[:])
	}
	dir := c.String("data")
	if dir == "" {
		if dir, err = os.MkdirTemp("", "cocoon-up-"); err != nil {
			return err
		}
	} else if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
		return fmt.Errorf("--data %s is not empty: cocoon up needs a fresh directory", dir)
	}
	// Addresses are checked before anything is deployed: a port in use
	// is an error now, not after the devnet, Root and workers are up.
	for _, flag := range []string{"listen", "devnet-listen"} {
		ln, err := net.Listen("tcp", c.String(flag))
		if err != nil {
			return fmt.Errorf("--%s %s: %w", flag, c.String(flag), err)
		}
		ln.Close()
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("--data: %w", err)
	}
	log.Info("cocoon up: starting", "data", dir, "workers", n, "model", model)

	ctx := c.Context
	// The devnet and the workers outlive the gateway's shutdown: it
	// delivers its last vouchers and closes its channels through them.
	infra, stopInfra := context.WithCancel(context.WithoutCancel(ctx))
	defer stopInfra()
	var wg sync.WaitGroup
	defer wg.Wait()
	defer stopInfra()

	// The network: an embedded devnet, served over HTTP for other tools.
	// The devnet logs a line per block; only its warnings unless debugging.
	devLog := log
	if !log.Enabled(ctx, slog.LevelDebug) {
		devLog = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	e, err := devnet.Open(ctx, devnet.Options{Dir: filepath.Join(dir, "devnet"), Logger: devLog})
	if err != nil {
		return err
	}
	defer e.Close()
	// Each part runs supervised: one that fails or panics is reported
	// and restarted, while the others go on serving.
	policy := supervise.DefaultPolicy()
	wg.Go(func() {
		supervise.Run(infra, log, "devnet blocks", policy, func(ctx context.Context) error { return e.Run(ctx, interval) })
	})
	dln, err := net.Listen("tcp", c.String("devnet-listen"))
	if err != nil {
		return fmt.Errorf("--devnet-listen: %w", err)
	}
	network := "http://" + dln.Addr().String()
	devnetLn := newPartListener(dln)
	wg.Go(func() {
		supervise.Run(infra, log, "devnet API", policy, func(ctx context.Context) error {
			return serveUntil(ctx, httpapi.New(e, devLog).HTTPServer(httpapi.DefaultLimits()), devnetLn)
		})
	})

	newWallet := func(name string, ton int64) (*wallet.File, *wallet.Wallet, error) {
		f, err := wallet.New(wallet.V5R1)
		if err != nil {
			return nil, nil, err
		}
		if err := f.Save(filepath.Join(dir, name), false); err != nil {
			return nil, nil, err
		}
		w, err := f.Open(wallet.WithPollInterval(interval/2), wallet.WithLogger(log))
		if err != nil {
			return nil, nil, err
		}
		if _, err := e.Faucet(ctx, w.Address(), new(big.Int).Mul(big.NewInt(ton), big.NewInt(1e9))); err != nil {
			return nil, nil, fmt.Errorf("funding %s: %w", name, err)
		}
		return f, w, nil
	}

	// Root in test mode, allowing the dev worker image and the model.
	_, opWallet, err := newWallet("operator.wallet", 10)
	if err != nil {
		return err
	}
	codes, err := bindings.EmbeddedCodes()
	if err != nil {
		return err
	}
	if err := e.PublishLibrary(codes.Job); err != nil {
		return err
	}
	op, _, err := operator.DeployCodes(ctx, e, opWallet, bindings.RootParams{
		MinWorkerStake: big.NewInt(5e9), UnbondingDelay: bindings.MinUnbondingDelay(86400), ProtocolFeeBps: 500, Treasury: opWallet.Address(),
		MinJobDeadline: 30, MaxJobDeadline: 86400, SlashBps: 1000, TestMode: true,
	}, codes.WithJobLibrary())
	if err != nil {
		return fmt.Errorf("deploying Root: %w", err)
	}
	if _, err := op.Do(ctx, bindings.AddMeasurement{QueryID: 1, TEE: bindings.TEEDev, Measurement: dev.Measurement(worker.DevImage)}); err != nil {
		return fmt.Errorf("allowing the dev measurement: %w", err)
	}
	if _, err := op.Do(ctx, bindings.AddModel{QueryID: 2, ModelID: bindings.ModelID(model), Info: bindings.ModelInfo{MinPriceIn: big.NewInt(1e8), MinPriceOut: big.NewInt(1e8)}}); err != nil {
		return fmt.Errorf("adding the model: %w", err)
	}
	log.Warn("cocoon up: Root is in test mode (dev attestation admitted): NOT SECURE", "root", op.Root.String())

	// The workers, each on an attested TLS endpoint.
	for i := 1; i <= n; i++ {
		if err := upWorker(ctx, infra, &wg, e, dir, i, op.Root.String(), model, newWallet, newEngine, interval, log); err != nil {
			return fmt.Errorf("worker %d: %w", i, err)
		}
	}

	// The gateway, paying from its own wallet.
	gf, gw, err := newWallet("gateway.wallet", 20)
	if err != nil {
		return err
	}
	payer, closeStore, err := newGatewayPayer(ctx, payerOptions{net: e, file: gf, wallet: gw, deposit: big.NewInt(2e9),
		dir: filepath.Join(dir, "gateway"), scheme: gatewayPaymentsChannels, closeOnExit: true}, log)
	if err != nil {
		return err
	}
	defer closeStore()
	s := gatewaySettings{
		models: []string{model}, keys: []string{apiKey}, listen: c.String("listen"),
		refresh: 5 * time.Second, attempts: gateway.DefaultMaxAttempts, journal: filepath.Join(dir, "gateway", "inflight.journal"),
		announced: func(url string) {
			env := fmt.Sprintf("OPENAI_BASE_URL=%s\nOPENAI_API_KEY=%s\nCOCOON_NETWORK=%s\nCOCOON_ROOT=%s\n", url, apiKey, network, op.Root.String())
			fmt.Print(env)
			// Kept in the data directory too (0600: it holds the API
			// key): a lost terminal loses nothing; `. DIR/env` reads it.
			envFile := filepath.Join(dir, "env")
			if err := os.WriteFile(envFile, []byte(env), 0o600); err != nil {
				log.Warn("cocoon up: could not keep the printed lines", "file", envFile, "error", err)
			}
			log.Info("cocoon up: ready; interrupt (Ctrl-C) to stop", "root", op.Root.String(), "data", dir, "env", envFile)
		},
	}
	err = serveGateway(ctx, &gateway.RootSource{Net: e, Root: op.Root, Options: client.DiscoverOptions{Logger: log}}, payer, s, log)
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	// The devnet is a throwaway: a channel left open on it is reported
	// plainly (which, and why), not a failure of the run.
	var se *settlementError
	if errors.As(err, &se) {
		log.Error("cocoon up: stopped, but some payment channels are not closed on chain", "data", dir, "error", se.err)
		err = nil
	}
	return err
}

// upWorker creates, registers and starts worker i.
func upWorker(ctx, infra context.Context, wg *sync.WaitGroup, e *devnet.Engine, dir string, i int, root, model string,
	newWallet func(string, int64) (*wallet.File, *wallet.Wallet, error), newEngine func() (inference.Engine, error),
	interval time.Duration, log *slog.Logger) error {
	wdir := filepath.Join(dir, fmt.Sprintf("worker-%d", i))
	if err := os.MkdirAll(wdir, 0o700); err != nil {
		return err
	}
	_, ownerWallet, err := newWallet(filepath.Join(fmt.Sprintf("worker-%d", i), "owner.wallet"), 30)
	if err != nil {
		return err
	}
	id, err := worker.InitIdentity(ctx, filepath.Join(wdir, "keys"), seal.SuiteX25519)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	cfgText, err := worker.RenderConfig(worker.InitValues{Network: "devnet (in-process)", Root: root, Owner: ownerWallet.Address().String(),
		Listen: ln.Addr().String(), PublicURL: "https://" + ln.Addr().String(), Model: model})
	if err != nil {
		ln.Close()
		return err
	}
	cfgPath := filepath.Join(wdir, "config.toml")
	if err := os.WriteFile(cfgPath, []byte(cfgText), 0o600); err != nil {
		ln.Close()
		return err
	}
	cfg, err := worker.LoadConfig(cfgPath)
	if err != nil {
		ln.Close()
		return err
	}
	cfg.PollInterval.Duration = interval
	cfg.MaxConcurrent = 16
	cfg.Online.MaxConcurrent, cfg.Online.Queue = 16, 64
	// A small wallet pays the gas of the channel watcher's commits and closes.
	if _, _, err := newWallet(filepath.Join(fmt.Sprintf("worker-%d", i), "gas.wallet"), 2); err != nil {
		ln.Close()
		return err
	}
	cfg.Online.GasWallet = "gas.wallet"
	reg, err := worker.Registration(cfg, id)
	if err != nil {
		ln.Close()
		return err
	}
	if _, err := owner.Register(ctx, e, ownerWallet, reg, big.NewInt(10e9)); err != nil {
		ln.Close()
		return fmt.Errorf("registering: %w", err)
	}
	engine, err := newEngine()
	if err != nil {
		ln.Close()
		return err
	}
	d, err := worker.New(cfg, id, worker.Options{Network: e, Engine: engine, Logger: log.With("worker", i), GPU: "none (cocoon up)"})
	if err != nil {
		ln.Close()
		return err
	}
	pl := newPartListener(ln)
	wg.Go(func() {
		supervise.Run(infra, log, fmt.Sprintf("worker %d", i), supervise.DefaultPolicy(), func(ctx context.Context) error {
			if d == nil {
				// A restart: a fresh daemon resumes every job where it was.
				nd, err := worker.New(cfg, id, worker.Options{Network: e, Engine: engine, Logger: log.With("worker", i), GPU: "none (cocoon up)"})
				if err != nil {
					return err
				}
				d = nd
			}
			defer func() { d = nil }()
			l, err := pl.next()
			if err != nil {
				return err
			}
			return d.Run(ctx, l)
		})
	})
	log.Info("cocoon up: worker registered", "worker", i, "address", d.Address().String(), "endpoint", cfg.PublicURL, "engine", engine.Name())
	return nil
}

// partListener hands a supervised part its listener: the one opened at
// start, then, after a restart (the stopped part closed it), a new one on
// the same address.
type partListener struct {
	addr  string
	first net.Listener
}

func newPartListener(ln net.Listener) *partListener {
	return &partListener{addr: ln.Addr().String(), first: ln}
}

func (p *partListener) next() (net.Listener, error) {
	if l := p.first; l != nil {
		p.first = nil
		return l, nil
	}
	return net.Listen("tcp", p.addr)
}

// serveUntil serves srv on the part's listener until ctx ends (nil) or the
// server fails (its error).
func serveUntil(ctx context.Context, srv *httpserve.Server, pl *partListener) error {
	ln, err := pl.next()
	if err != nil {
		return err
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(srv.Listener(ln)) }()
	select {
	case <-ctx.Done():
		srv.Close()
		<-errc
		return nil
	case err := <-errc:
		return fmt.Errorf("serving on %s: %w", pl.addr, err)
	}
}
