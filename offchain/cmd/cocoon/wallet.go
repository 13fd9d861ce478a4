package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/cocoon-network/cocoon/offchain/chain"
	"github.com/cocoon-network/cocoon/offchain/tonamount"
	"github.com/cocoon-network/cocoon/offchain/wallet"
)

func walletCommand() *cli.Command {
	return &cli.Command{
		Name:  "wallet",
		Usage: "create a TON wallet file, show its address and balance, send TON from it",
		Subcommands: []*cli.Command{
			{
				Name:  "new",
				Usage: "create a wallet with a fresh 24-word mnemonic and save it (mode 0600)",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "out", Required: true, Usage: "file to write the wallet to"},
					&cli.StringFlag{Name: "version", Value: string(wallet.DefaultVersion), Usage: "wallet contract: v5r1 or v4r2"},
					&cli.IntFlag{Name: "network-global-id", Value: int(wallet.MainnetGlobalID), Usage: "v5r1 only: -239 for mainnet and devnet, -3 for testnet (it changes the address)"},
					&cli.BoolFlag{Name: "force", Usage: "replace an existing wallet file (its funds are lost unless its mnemonic is kept elsewhere)"},
					&cli.BoolFlag{Name: "show-mnemonic", Usage: "also print the mnemonic, e.g. to write it down"},
					walletJSONFlag(),
				},
				Action: walletNew,
			},
			{
				Name:   "address",
				Usage:  "print the wallet's address in raw, bounceable and non-bounceable forms",
				Flags:  []cli.Flag{walletFileFlag(), walletJSONFlag()},
				Action: walletAddress,
			},
			{
				Name:   "balance",
				Usage:  "print the wallet's balance and account status",
				Flags:  []cli.Flag{walletFileFlag(), networkFlag(), walletJSONFlag()},
				Action: walletBalance,
			},
			{
				Name:  "send",
				Usage: "send TON and wait until the wallet's transaction is on chain",
				Flags: []cli.Flag{
					walletFileFlag(),
					networkFlag(),
					&cli.StringFlag{Name: "to", Required: true, Usage: "destination address (EQ…/UQ… or 0:<hex>)"},
					&cli.StringFlag{Name: "amount", Required: true, Usage: "amount in TON, up to 9 decimals (e.g. 1.5)"},
					&cli.StringFlag{Name: "comment", Usage: "text comment attached to the transfer"},
					&cli.StringFlag{Name: "bounce", Value: "auto", Usage: "auto, true or false; auto bounces only to a deployed destination given in bounceable or raw form"},
					&cli.DurationFlag{Name: "timeout", Value: wallet.DefaultWaitTimeout, Usage: "how long to wait for the transaction"},
					walletJSONFlag(),
				},
				Action: walletSend,
			},
		},
	}
}

func walletFileFlag() *cli.StringFlag {
	return &cli.StringFlag{Name: "wallet", Required: true, Usage: "wallet file (created by cocoon wallet new)", EnvVars: []string{"COCOON_WALLET"}}
}

func walletJSONFlag() *cli.BoolFlag {
	return &cli.BoolFlag{Name: "json", Usage: "print the result as JSON"}
}

func walletPrintJSON(w io.Writer, v any) error {
	if err := json.NewEncoder(w).Encode(v); err != nil {
		return fmt.Errorf("writing JSON output: %w", err)
	}
	return nil
}

func walletLoad(c *cli.Context) (*wallet.File, error) {
	if c.String("wallet") == "" {
		return nil, errors.New("--wallet is required: the wallet file (or set COCOON_WALLET)")
	}
	return loadWalletFile(c, "wallet")
}

func walletNew(c *cli.Context) error {
	version, err := wallet.ParseVersion(c.String("version"))
	if err != nil {
		return fmt.Errorf("--version: %w", err)
	}
	gid := c.Int("network-global-id")
	if gid < math.MinInt32 || gid > math.MaxInt32 || gid == 0 {
		return fmt.Errorf("--network-global-id: %d is not a network id (-239 mainnet and devnet, -3 testnet)", gid)
	}
	if version != wallet.V5R1 && c.IsSet("network-global-id") {
		return fmt.Errorf("--network-global-id applies to %s wallets only", wallet.V5R1)
	}
	f, err := wallet.New(version)
	if err != nil {
		return err
	}
	if version == wallet.V5R1 {
		f.NetworkGlobalID = int32(gid)
	}
	out := c.String("out")
	if err := f.Save(out, c.Bool("force")); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("--out: %w (pass --force to replace it)", err)
		}
		return fmt.Errorf("--out: %w", err)
	}
	addr, err := f.Address()
	if err != nil {
		return err
	}
	addrs := wallet.FormatAddresses(addr)
	w := c.App.Writer
	if c.Bool("json") {
		res := map[string]any{"file": out, "version": f.Version, "workchain": f.Workchain, "address": addrs}
		if f.NetworkGlobalID != 0 {
			res["network_global_id"] = f.NetworkGlobalID
		}
		if c.Bool("show-mnemonic") {
			res["mnemonic"] = f.Mnemonic
		}
		return walletPrintJSON(w, res)
	}
	fmt.Fprintf(w, "created %s wallet %s\n", f.Version, out)
	fmt.Fprintf(w, "address (bounceable):     %s\n", addrs.Bounceable)
	fmt.Fprintf(w, "address (non-bounceable): %s  <- send the first funds here\n", addrs.NonBounceable)
	fmt.Fprintf(w, "address (raw):            %s\n", addrs.Raw)
	if c.Bool("show-mnemonic") {
		fmt.Fprintf(w, "mnemonic: %s\n", f.Mnemonic)
		fmt.Fprintln(w, "anyone who sees the mnemonic can take the wallet's funds; store it offline")
	}
	return nil
}

func walletAddress(c *cli.Context) error {
	f, err := walletLoad(c)
	if err != nil {
		return err
	}
	addr, err := f.Address()
	if err != nil {
		return err
	}
	addrs := wallet.FormatAddresses(addr)
	w := c.App.Writer
	if c.Bool("json") {
		return walletPrintJSON(w, map[string]any{"version": f.Version, "address": addrs})
	}
	fmt.Fprintf(w, "bounceable:     %s\n", addrs.Bounceable)
	fmt.Fprintf(w, "non-bounceable: %s\n", addrs.NonBounceable)
	fmt.Fprintf(w, "raw:            %s\n", addrs.Raw)
	return nil
}

func walletBalance(c *cli.Context) error {
	f, err := walletLoad(c)
	if err != nil {
		return err
	}
	addr, err := f.Address()
	if err != nil {
		return err
	}
	net, err := openNetwork(c)
	if err != nil {
		return err
	}
	acc, err := net.Account(c.Context, addr)
	if err != nil {
		return err
	}
	w := c.App.Writer
	if c.Bool("json") {
		return walletPrintJSON(w, map[string]any{
			"address":         wallet.FormatAddresses(addr),
			"status":          acc.Status,
			"balance":         tonamount.Format(acc.Balance),
			"balance_nanoton": acc.Balance.String(),
		})
	}
	fmt.Fprintf(w, "address: %s\n", addr.Bounce(acc.Status == chain.StatusActive))
	fmt.Fprintf(w, "balance: %s TON\n", tonamount.Format(acc.Balance))
	fmt.Fprintf(w, "status:  %s\n", acc.Status)
	return nil
}

func walletSend(c *cli.Context) error {
	f, err := walletLoad(c)
	if err != nil {
		return err
	}
	toArg := c.String("to")
	to, err := chain.ParseAddress(toArg)
	if err != nil {
		return fmt.Errorf("--to: %w", err)
	}
	amount, err := tonamount.Parse(c.String("amount"))
	if err != nil {
		return fmt.Errorf("--amount: %w", err)
	}
	if amount.Sign() == 0 {
		return errors.New("--amount: must be more than 0")
	}
	bounceMode := strings.ToLower(strings.TrimSpace(c.String("bounce")))
	switch bounceMode {
	case "auto", "true", "false":
	default:
		return fmt.Errorf("--bounce: %q is not auto, true or false", c.String("bounce"))
	}
	if c.Duration("timeout") <= 0 {
		return fmt.Errorf("--timeout: %s is not positive", c.Duration("timeout"))
	}
	log, err := logger(c)
	if err != nil {
		return err
	}
	net, err := openNetwork(c)
	if err != nil {
		return err
	}
	w, err := f.Open(wallet.WithLogger(log), wallet.WithWaitTimeout(c.Duration("timeout")))
	if err != nil {
		return fmt.Errorf("--wallet: %w", err)
	}

	bounce := bounceMode == "true"
	if bounceMode == "auto" {
		// A bounceable transfer to an undeployed account only comes back
		// minus fees, so auto bounces just when that cannot happen by
		// accident; the UQ… form asks explicitly for no bounce.
		dest, err := net.Account(c.Context, to)
		if err != nil {
			return fmt.Errorf("checking destination %s: %w", toArg, err)
		}
		rawForm := strings.Contains(toArg, ":")
		bounce = dest.Status == chain.StatusActive && (rawForm || to.IsBounceable())
	}

	tx, err := w.Transfer(c.Context, net, to, amount, c.String("comment"), bounce)
	if tx == nil {
		return err
	}
	out := c.App.Writer
	if c.Bool("json") {
		res := map[string]any{
			"from":           wallet.FormatAddresses(w.Address()),
			"to":             to.String(),
			"amount":         tonamount.Format(amount),
			"amount_nanoton": amount.String(),
			"bounce":         bounce,
			"lt":             fmt.Sprint(tx.ID.LT),
			"hash":           fmt.Sprintf("%x", tx.ID.Hash),
			"utime":          tx.Now,
			"success":        err == nil,
		}
		if jerr := walletPrintJSON(out, res); jerr != nil {
			return jerr
		}
		return err
	}
	if err != nil {
		fmt.Fprintf(out, "transaction lt %d hash %x at %s\n", tx.ID.LT, tx.ID.Hash, time.Unix(int64(tx.Now), 0).UTC().Format(time.RFC3339))
		return err
	}
	fmt.Fprintf(out, "sent %s TON to %s (bounce %v)\n", tonamount.Format(amount), to, bounce)
	fmt.Fprintf(out, "transaction lt %d hash %x at %s\n", tx.ID.LT, tx.ID.Hash, time.Unix(int64(tx.Now), 0).UTC().Format(time.RFC3339))
	return nil
}
