package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/cocoon-network/cocoon/offchain/chain"
	"github.com/cocoon-network/cocoon/offchain/devnet"
	"github.com/cocoon-network/cocoon/offchain/devnet/httpapi"
	"github.com/cocoon-network/cocoon/offchain/devnet/netconfig"
	"github.com/cocoon-network/cocoon/offchain/tonamount"
)

func devnetCommand() *cli.Command {
	return &cli.Command{
		Name:  "devnet",
		Usage: "run an emulated TON chain on the real TVM, served as a toncenter v2 API",
		Subcommands: []*cli.Command{
			{
				Name:  "start",
				Usage: "start the devnet server in the foreground",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "data", Value: ".cocoon/devnet", Usage: "directory that keeps the chain between runs"},
					&cli.StringFlag{Name: "listen", Value: "127.0.0.1:8081", Usage: "address to serve the API on"},
					&cli.DurationFlag{Name: "block-interval", Value: time.Second, Usage: "time between blocks"},
				},
				Action: devnetStart,
			},
			{
				Name:      "faucet",
				Usage:     "fund an address from the devnet's genesis wallet and wait until it is on chain",
				ArgsUsage: "ADDRESS AMOUNT_TON",
				Flags:     []cli.Flag{networkFlag(), &cli.BoolFlag{Name: "json", Usage: "print the result as JSON"}},
				Action:    devnetFaucet,
			},
		},
	}
}

func devnetStart(c *cli.Context) error {
	log, err := logger(c)
	if err != nil {
		return err
	}
	interval := c.Duration("block-interval")
	if interval < 10*time.Millisecond {
		return fmt.Errorf("--block-interval %s is too short (at least 10ms)", interval)
	}
	ctx := c.Context
	e, err := devnet.Open(ctx, devnet.Options{Dir: c.String("data"), Logger: log})
	if err != nil {
		return err
	}
	defer e.Close()
	ln, err := net.Listen("tcp", c.String("listen"))
	if err != nil {
		return fmt.Errorf("--listen: %w", err)
	}
	limits := httpapi.DefaultLimits()
	srv := httpapi.New(e, log).HTTPServer(limits)
	errs := make(chan error, 2)
	go func() { errs <- srv.Serve(srv.Listener(ln)) }()
	go func() { errs <- e.Run(ctx, interval) }()
	info, _ := e.MasterchainInfo(ctx)
	log.Info("devnet started",
		"api", "http://"+ln.Addr().String()+"/api/v2/jsonRPC",
		"data", c.String("data"),
		"seqno", info.Seqno,
		"faucet", e.GenesisAddress().String(),
		"config", netconfig.Source)
	select {
	case <-ctx.Done():
	case err = <-errs:
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(shutdown)
	log.Info("devnet stopped")
	return err
}

func devnetFaucet(c *cli.Context) error {
	if c.NArg() != 2 {
		return errors.New("usage: cocoon devnet faucet --network URL ADDRESS AMOUNT_TON")
	}
	addr, err := chain.ParseAddress(c.Args().Get(0))
	if err != nil {
		return err
	}
	amount, err := tonamount.Parse(c.Args().Get(1))
	if err != nil {
		return fmt.Errorf("AMOUNT_TON: %w", err)
	}
	var out struct {
		Address string `json:"address"`
		TxID    struct {
			LT   string `json:"lt"`
			Hash string `json:"hash"`
		} `json:"transaction_id"`
	}
	if err := devnetPost(c.Context, c.String("network"), "/devnet/faucet", map[string]string{"address": addr.String(), "amount": amount.String()}, &out); err != nil {
		return fmt.Errorf("faucet: %w", err)
	}
	if c.Bool("json") {
		return json.NewEncoder(os.Stdout).Encode(map[string]any{
			"address": out.Address, "amount_nanoton": amount.String(),
			"lt": out.TxID.LT, "hash": out.TxID.Hash,
		})
	}
	fmt.Printf("funded %s with %s TON (transaction lt %s, hash %s)\n", out.Address, tonamount.Format(amount), out.TxID.LT, out.TxID.Hash)
	return nil
}

// devnetPost calls one of a devnet server's /devnet/ endpoints (faucet,
// library, time control) and decodes its result into out.
func devnetPost(ctx context.Context, network, path string, body, out any) error {
	base := strings.TrimSuffix(network, "/")
	if !strings.HasPrefix(base, "http://") && !strings.HasPrefix(base, "https://") {
		return fmt.Errorf("--network %q: a devnet's URL is needed, e.g. http://127.0.0.1:8081", network)
	}
	base = strings.TrimSuffix(strings.TrimSuffix(base, "/api/v2/jsonRPC"), "/api/v2")
	raw, _ := json.Marshal(body)
	ctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+path, bytes.NewReader(raw))
	if err != nil {
		return fmt.Errorf("--network: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	var env struct {
		OK     bool            `json:"ok"`
		Error  string          `json:"error"`
		Result json.RawMessage `json:"result"`
	}
	if err := json.Unmarshal(answer, &env); err != nil {
		return fmt.Errorf("%s answered HTTP %d without JSON (is it a cocoon devnet?)", base+path, resp.StatusCode)
	}
	if !env.OK {
		return errors.New(env.Error)
	}
	return json.Unmarshal(env.Result, out)
}
