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
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/cocoon-network/cocoon/offchain/chain"
	"github.com/cocoon-network/cocoon/offchain/client"
	"github.com/cocoon-network/cocoon/offchain/gateway"
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
			&cli.DurationFlag{Name: "refresh", Value: gateway.DefaultRefreshInterval, Usage: "how often workers are re-discovered through Root"},
			&cli.IntFlag{Name: "max-attempts", Value: gateway.DefaultMaxAttempts, Usage: "workers a request may try before its first token"},
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
	payer, err := newGatewayPayer(c.Context, net, f, w, s.deposit, log)
	if err != nil {
		return err
	}
	return serveGateway(c.Context, &gateway.RootSource{Net: net, Root: root, Options: client.DiscoverOptions{Logger: log}}, payer, s, log)
}

// newGatewayPayer is the gateway's payment scheme: signed IOUs from the
// wallet's key until payment channels are wired in (docs/GATEWAY.md).
func newGatewayPayer(_ context.Context, _ chain.Network, f *wallet.File, _ *wallet.Wallet, _ *big.Int, log *slog.Logger) (gateway.Payer, error) {
	key, err := f.PrivateKey()
	if err != nil {
		return nil, fmt.Errorf("--wallet: %w", err)
	}
	log.Warn("payments: signed IOUs, not backed by a deposit, until payment channels are wired in")
	return &gateway.IOUPayer{Key: key}, nil
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
func serveGateway(ctx context.Context, src gateway.Source, payer gateway.Payer, s gatewaySettings, log *slog.Logger) error {
	g, err := gateway.New(gateway.Config{
		Source: src, Models: s.models, APIKeys: s.keys, Payer: payer,
		Budget: s.budget, MaxPrice: s.maxPrice, RefreshInterval: s.refresh, MaxAttempts: s.attempts, Logger: log,
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", s.listen)
	if err != nil {
		return fmt.Errorf("--listen: %w", err)
	}
	srv := g.Server()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	runDone := make(chan error, 1)
	go func() { runDone <- g.Run(ctx) }()
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	url := "http://" + ln.Addr().String() + "/v1"
	log.Info("gateway started", "api", url, "models", strings.Join(s.models, ","), "payment", payer.Scheme())
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
		err = fmt.Errorf("settling payments at shutdown: %w", rerr)
	}
	log.Info("gateway stopped", "spent_ton", tonamount.Format(g.Spent()))
	return err
}
