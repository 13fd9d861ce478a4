// Command cocoon is the one CLI of the Confidential Compute Open Network:
// the devnet, wallets, the operator's Root governance, the worker daemon and
// its owner's tooling, attestation, jobs, payment channels, the
// OpenAI-compatible gateway, `up` (a whole local Cocoon) and the demo.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/urfave/cli/v2"

	"github.com/cocoon-network/cocoon/offchain/chain"
	"github.com/cocoon-network/cocoon/offchain/chain/netflag"
)

// version is set at build time by the Makefile.
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := newApp().RunContext(ctx, os.Args); err != nil {
		fmt.Fprintln(os.Stderr, "cocoon:", err)
		os.Exit(exitCode(err))
	}
}

// exitCode is 2 for a usage error (docs/CLIENT.md): ours (usageErr) and
// urfave/cli's own, which it reports as plain errors (a required flag not
// set, an unknown flag, a value that does not parse); 1 for the rest.
func exitCode(err error) int {
	if err == nil {
		return 0
	}
	var ec cli.ExitCoder
	if errors.As(err, &ec) {
		return ec.ExitCode()
	}
	msg := err.Error()
	for _, usage := range []string{"Required flag", "flag provided but not defined", "invalid value", "invalid boolean", "flag needs an argument"} {
		if strings.Contains(msg, usage) {
			return 2
		}
	}
	return 1
}

func newApp() *cli.App {
	return &cli.App{
		Name:    "cocoon",
		Usage:   "Confidential Compute Open Network: private AI inference paid in Toncoin",
		Version: version,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "log-level", Value: "info", Usage: "debug, info, warn or error", EnvVars: []string{"COCOON_LOG_LEVEL"}},
		},
		Commands: []*cli.Command{
			demoCommand(),
			devnetCommand(),
			walletCommand(),
			rootCommand(),
			workerCommand(),
			attestCommand(),
			jobCommand(),
			gatewayCommand(),
			upCommand(),
			channelCommand(),
		},
		ExitErrHandler: func(*cli.Context, error) {}, // main prints errors once
	}
}

// logger builds the process logger from the global --log-level flag; logs go
// to stderr so that stdout stays parseable (--json).
func logger(c *cli.Context) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(c.String("log-level"))); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lvl})), nil
}

// networkFlag is the --network flag every command that talks to a chain has.
func networkFlag() *cli.StringFlag {
	return &cli.StringFlag{
		Name:    "network",
		Usage:   "a devnet or toncenter URL (http://127.0.0.1:8081), or testnet / mainnet",
		EnvVars: []string{"COCOON_NETWORK"},
	}
}

// openNetwork resolves the command's --network flag.
func openNetwork(c *cli.Context) (chain.Network, error) {
	spec := c.String("network")
	if spec == "" {
		return nil, usageErr(errors.New("--network is required (a devnet URL such as http://127.0.0.1:8081, or testnet / mainnet)"))
	}
	n, err := netflag.Open(c.Context, spec)
	if err != nil {
		return nil, fmt.Errorf("--network: %w", err)
	}
	return n, nil
}
