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
	srv := &http.Server{Handler: httpapi.New(e, log).Handler(), ReadHeaderTimeout: 10 * time.Second}
	errs := make(chan error, 2)
	go func() { errs <- srv.Serve(ln) }()
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
	base := strings.TrimSuffix(c.String("network"), "/")
	if base == "" {
		return errors.New("--network is required: the devnet's URL, e.g. http://127.0.0.1:8081")
	}
	base = strings.TrimSuffix(strings.TrimSuffix(base, "/api/v2/jsonRPC"), "/api/v2")
	body, _ := json.Marshal(map[string]string{"address": addr.String(), "amount": amount.String()})
	ctx, cancel := context.WithTimeout(c.Context, 90*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/devnet/faucet", bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("--network: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("asking the devnet faucet: %w", err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	var out struct {
		OK     bool   `json:"ok"`
		Error  string `json:"error"`
		Result struct {
			Address string `json:"address"`
			TxID    struct {
				LT   string `json:"lt"`
				Hash string `json:"hash"`
			} `json:"transaction_id"`
		} `json:"result"`
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		return fmt.Errorf("the faucet answered HTTP %d without JSON (is %s a cocoon devnet?)", resp.StatusCode, base)
	}
	if !out.OK {
		return fmt.Errorf("faucet: %s", out.Error)
	}
	if c.Bool("json") {
		return json.NewEncoder(os.Stdout).Encode(map[string]any{
			"address": out.Result.Address, "amount_nanoton": amount.String(),
			"lt": out.Result.TxID.LT, "hash": out.Result.TxID.Hash,
		})
	}
	fmt.Printf("funded %s with %s TON (transaction lt %s, hash %s)\n", out.Result.Address, tonamount.Format(amount), out.Result.TxID.LT, out.Result.TxID.Hash)
	return nil
}
