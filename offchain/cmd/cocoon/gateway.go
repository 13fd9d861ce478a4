package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/cocoon-network/cocoon/offchain/chain"
	"github.com/cocoon-network/cocoon/offchain/channel"
	"github.com/cocoon-network/cocoon/offchain/client"
	"github.com/cocoon-network/cocoon/offchain/gateway"
	"github.com/cocoon-network/cocoon/offchain/internal/keyfile"
	"github.com/cocoon-network/cocoon/offchain/tonamount"
	"github.com/cocoon-network/cocoon/offchain/wallet"
)

func gatewayCommand() *cli.Command {
	return &cli.Command{
		Name:  "gateway",
		Usage: "serve an OpenAI-compatible API for apps, routed to attested workers and paid per request",
		UsageText: "cocoon gateway --network URL --root ADDR --wallet FILE --listen HOST:PORT --model NAME " +
			"(--api-key KEY | --api-keys-file FILE) [--budget TON] [--max-price TON] [--deposit TON]",
		Flags: []cli.Flag{
			networkFlag(),
			&cli.StringFlag{Name: "root", Required: true, Usage: "the Cocoon Root contract whose workers serve", EnvVars: []string{"COCOON_ROOT"}},
			walletFileFlag(),
			&cli.StringFlag{Name: "listen", Value: "127.0.0.1:8080", Usage: "address to serve the OpenAI API on"},
			&cli.StringSliceFlag{Name: "model", Required: true, Usage: "a model to offer (repeat for several)"},
			&cli.StringSliceFlag{Name: "api-key", Usage: "an API key apps send as Authorization: Bearer KEY (repeat for several; at least 16 characters)", EnvVars: []string{"COCOON_GATEWAY_API_KEYS"}},
			&cli.StringFlag{Name: "api-keys-file", Usage: "a file with one API key per line (# comments)"},
			&cli.StringFlag{Name: "budget", Usage: "the most this gateway pays workers in total, in TON (default: no cap)"},
			&cli.StringFlag{Name: "max-price", Usage: "skip workers charging more than this per 1M input or output tokens, in TON"},
			&cli.StringFlag{Name: "deposit", Value: "1", Usage: "deposit per payment channel, in TON (channels open on demand)"},
			&cli.StringFlag{Name: "data", Value: ".cocoon/gateway", Usage: "directory for the payment channels' store and the voucher key"},
			&cli.StringFlag{Name: "payments", Value: gatewayPaymentsChannels, Usage: "channels (TON payment channels) or iou (signed IOUs without a deposit: only for workers set to payments = \"iou\")"},
			&cli.BoolFlag{Name: "close-channels-on-exit", Usage: "close every payment channel cooperatively when the gateway stops"},
			&cli.DurationFlag{Name: "refresh", Value: gateway.DefaultRefreshInterval, Usage: "how often workers are re-discovered through Root"},
			&cli.IntFlag{Name: "max-attempts", Value: gateway.DefaultMaxAttempts, Usage: "workers a request may try before its first token"},
			policyFlag(), collateralFromFlag(),
		},
		Action: gatewayRun,
	}
}

// gatewaySettings are the parts of a gateway's configuration `cocoon up`
// shares with `cocoon gateway`.
type gatewaySettings struct {
	models    []string
	keys      []string
	budget    *big.Int
	maxPrice  *big.Int
	refresh   time.Duration
	attempts  int
	deposit   *big.Int
	listen    string
	journal   string           // the gateway.Config.Journal file; "" for none
	announced func(url string) // called once the API serves and has workers
}

func gatewayRun(c *cli.Context) error {
	log, err := logger(c)
	if err != nil {
		return err
	}
	net, err := openNetwork(c)
	if err != nil {
		return err
	}
	root, err := chain.ParseAddress(c.String("root"))
	if err != nil {
		return fmt.Errorf("--root: %w", err)
	}
	w, err := openWallet(c)
	if err != nil {
		return err
	}
	s := gatewaySettings{models: c.StringSlice("model"), listen: c.String("listen"), refresh: c.Duration("refresh"), attempts: c.Int("max-attempts")}
	if c.String("payments") == gatewayPaymentsChannels {
		// Requests in flight when the process dies are paid by the next run.
		s.journal = filepath.Join(c.String("data"), "inflight.journal")
	}
	if s.keys, err = apiKeys(c.StringSlice("api-key"), c.String("api-keys-file")); err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		dst  **big.Int
	}{{"budget", &s.budget}, {"max-price", &s.maxPrice}, {"deposit", &s.deposit}} {
		if v := c.String(f.name); v != "" {
			if *f.dst, err = tonamount.Parse(v); err != nil {
				return fmt.Errorf("--%s: %w", f.name, err)
			}
		}
	}
	// On-chain prices are nanoton per 1M tokens, so --max-price in TON per
	// 1M tokens parses straight into the same unit.
	f, err := walletLoad(c)
	if err != nil {
		return err
	}
	payer, closeStore, err := newGatewayPayer(c.Context, payerOptions{net: net, file: f, wallet: w, deposit: s.deposit, dir: c.String("data"),
		scheme: c.String("payments"), closeOnExit: c.Bool("close-channels-on-exit")}, log)
	if err != nil {
		return err
	}
	defer closeStore()
	policy, err := loadPolicyFlag(c)
	if err != nil {
		return err
	}
	coll, err := loadCollateralFlag(c)
	if err != nil {
		return err
	}
	return serveGateway(c.Context, &gateway.RootSource{Net: net, Root: root, Options: client.DiscoverOptions{Logger: log, Policy: policy, Collateral: coll}}, payer, s, log)
}

// Payment schemes of --payments.
const (
	gatewayPaymentsChannels = "channels"
	gatewayPaymentsIOU      = "iou"
)

type payerOptions struct {
	net         chain.Network
	file        *wallet.File
	wallet      *wallet.Wallet
	deposit     *big.Int
	dir         string
	scheme      string
	closeOnExit bool
}

// newGatewayPayer is the gateway's payment scheme: payment channels opened
// on demand from the wallet (the store and the voucher key under dir), or
// unsecured signed IOUs for workers that take them.
func newGatewayPayer(_ context.Context, o payerOptions, log *slog.Logger) (gateway.Payer, func(), error) {
	switch o.scheme {
	case gatewayPaymentsIOU:
		key, err := o.file.PrivateKey()
		if err != nil {
			return nil, nil, fmt.Errorf("--wallet: %w", err)
		}
		log.Warn("payments: signed IOUs, NOT backed by a deposit (only workers set to payments = \"iou\" take them)")
		return &gateway.IOUPayer{Key: key}, func() {}, nil
	case gatewayPaymentsChannels:
	default:
		return nil, nil, fmt.Errorf("--payments %q: want %s or %s", o.scheme, gatewayPaymentsChannels, gatewayPaymentsIOU)
	}
	if o.deposit == nil || o.deposit.Sign() <= 0 {
		return nil, nil, errors.New("--deposit must be positive")
	}
	if err := os.MkdirAll(o.dir, 0o700); err != nil {
		return nil, nil, fmt.Errorf("--data: %w", err)
	}
	key, _, err := keyfile.LoadOrCreate(filepath.Join(o.dir, "payer.key"), "channel voucher key")
	if err != nil {
		return nil, nil, err
	}
	store, err := channel.OpenStore(o.dir)
	if err != nil {
		return nil, nil, err
	}
	cp, err := channel.NewPayer(channel.PayerConfig{Net: o.net, Wallet: o.wallet, Key: key, Store: store, Logger: log})
	if err != nil {
		store.Close()
		return nil, nil, err
	}
	return &gateway.ChannelPayer{Payer: cp, Store: store, Deposit: o.deposit, CloseOnShutdown: o.closeOnExit, Logger: log},
		func() { store.Close() }, nil
}

// apiKeys gathers keys from flags and a file.
func apiKeys(flagKeys []string, file string) ([]string, error) {
	var keys []string
	for _, k := range flagKeys {
		for _, part := range strings.Split(k, ",") {
			if part = strings.TrimSpace(part); part != "" {
				keys = append(keys, part)
			}
		}
	}
	if file != "" {
		f, err := os.Open(file)
		if err != nil {
			return nil, fmt.Errorf("--api-keys-file: %w", err)
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			if line != "" && !strings.HasPrefix(line, "#") {
				keys = append(keys, line)
			}
		}
		if err := sc.Err(); err != nil {
			return nil, fmt.Errorf("--api-keys-file: %w", err)
		}
	}
	if len(keys) == 0 {
		return nil, errors.New("no API keys: pass --api-key KEY or --api-keys-file FILE (apps authenticate with Authorization: Bearer KEY)")
	}
	for _, k := range keys {
		if len(k) < 16 {
			return nil, errors.New("an API key is shorter than 16 characters")
		}
	}
	return keys, nil
}

// serveGateway runs a gateway until ctx ends.
// settlementError is a failure to settle payments at shutdown: a channel
// the chain did not close, a voucher not delivered. The gateway stops all
// the same; what is left is named in the error.
type settlementError struct{ err error }

func (e *settlementError) Error() string { return "settling payments at shutdown: " + e.err.Error() }

func (e *settlementError) Unwrap() error { return e.err }

func serveGateway(ctx context.Context, src gateway.Source, payer gateway.Payer, s gatewaySettings, log *slog.Logger) error {
	g, err := gateway.New(gateway.Config{
		Source: src, Models: s.models, APIKeys: s.keys, Payer: payer,
		Budget: s.budget, MaxPrice: s.maxPrice, RefreshInterval: s.refresh, MaxAttempts: s.attempts, Logger: log,
		Journal: s.journal,
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", s.listen)
	if err != nil {
		return fmt.Errorf("--listen: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	runDone := make(chan error, 1)
	go func() { runDone <- g.Run(ctx) }()
	srv, serveErr := g.Serve(ln)
	url := "http://" + ln.Addr().String() + "/v1"
	log.Info("gateway started", "api", url, "dashboard", "http://"+ln.Addr().String()+"/ (a browser page; its data at /api/dashboard)",
		"models", strings.Join(s.models, ","), "payment", payer.Scheme())
	go func() {
		select {
		case <-g.Found():
			log.Info("gateway: workers found; serving")
			if s.announced != nil {
				s.announced(url)
			}
		case <-ctx.Done():
		}
	}()
	select {
	case <-ctx.Done():
	case err = <-serveErr:
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
	}
	cancel()
	shut, stop := context.WithTimeout(context.Background(), 10*time.Second)
	defer stop()
	_ = srv.Shutdown(shut)
	if rerr := <-runDone; rerr != nil && err == nil {
		err = &settlementError{err: rerr}
	}
	log.Info("gateway stopped", "spent_ton", tonamount.Format(g.Spent()))
	return err
}
