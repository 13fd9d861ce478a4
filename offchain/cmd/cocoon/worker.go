package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"
	"github.com/xssnick/tonutils-go/address"

	"github.com/cocoon-network/cocoon/bindings"
	"github.com/cocoon-network/cocoon/offchain/attest"
	"github.com/cocoon-network/cocoon/offchain/attest/keyseal"
	"github.com/cocoon-network/cocoon/offchain/chain"
	"github.com/cocoon-network/cocoon/offchain/chain/netflag"
	"github.com/cocoon-network/cocoon/offchain/chain/readers"
	"github.com/cocoon-network/cocoon/offchain/inference"
	"github.com/cocoon-network/cocoon/offchain/inference/gpu"
	"github.com/cocoon-network/cocoon/offchain/inference/openai"
	"github.com/cocoon-network/cocoon/offchain/inference/reference"
	"github.com/cocoon-network/cocoon/offchain/onlineproto"
	"github.com/cocoon-network/cocoon/offchain/owner"
	"github.com/cocoon-network/cocoon/offchain/seal"
	"github.com/cocoon-network/cocoon/offchain/tonamount"
	"github.com/cocoon-network/cocoon/offchain/wallet"
	"github.com/cocoon-network/cocoon/offchain/worker"
)

func workerCommand() *cli.Command {
	configFlag := &cli.StringFlag{Name: "config", Required: true, Usage: "worker config file (from cocoon worker init)", EnvVars: []string{"COCOON_WORKER_CONFIG"}}
	ownerWallet := &cli.StringFlag{Name: "owner-wallet", Required: true, Usage: "the owner's wallet file: used for this command only, never by the daemon"}
	return &cli.Command{
		Name:  "worker",
		Usage: "the miner's worker: keys, registration, the daemon, and its life cycle",
		Subcommands: []*cli.Command{
			{
				Name:  "init",
				Usage: "create worker keys, evidence (dev unless --type) and a commented config file",
				Description: "With --sealing the keys are sealed as they are made: they never reach the disk in clear (run it inside\n" +
					"the TEE; key-release needs --type tdx or sevsnp evidence and a key-release service Root allows).",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "out", Required: true, Usage: "directory to create"},
					&cli.StringFlag{Name: "network", Value: "http://127.0.0.1:8081", Usage: "network written into the config"},
					&cli.StringFlag{Name: "root", Usage: "Root contract address written into the config"},
					&cli.StringFlag{Name: "owner", Usage: "owner wallet address written into the config"},
					&cli.StringFlag{Name: "model", Value: "cocoon-reference", Usage: "model written into the config"},
					&cli.StringFlag{Name: "listen", Value: "127.0.0.1:8090", Usage: "HTTP address written into the config"},
					&cli.StringFlag{Name: "suite", Value: "x25519", Usage: "HPKE suite of the envelope key: x25519 or x25519-mlkem768"},
					&cli.StringFlag{Name: "type", Value: "dev", Usage: "evidence for the new keys: dev, tdx or sevsnp (tdx and sevsnp only inside that TEE)"},
					&cli.StringFlag{Name: "sealing", Usage: "seal the keys as they are made and write [sealing]: sevsnp, key-release or dev (insecure, tests)"},
					&cli.StringFlag{Name: "key-release-url", Usage: "with --sealing key-release: the key-release service"},
					&cli.StringFlag{Name: "key-release-image", Usage: "with --sealing key-release: TEE:hex image hash narrowing the service (Root's allow-list judges it)"},
				},
				Action: workerInit,
			},
			{
				Name:   "register",
				Usage:  "deploy the Worker contract with stake and wait for Root's answer",
				Flags:  []cli.Flag{configFlag, ownerWallet, &cli.StringFlag{Name: "stake", Required: true, Usage: "stake in TON"}, networkFlag()},
				Action: workerRegister,
			},
			{
				Name:   "run",
				Usage:  "run the worker daemon",
				Flags:  []cli.Flag{configFlag},
				Action: workerRun,
			},
			{
				Name:  "status",
				Usage: "print the Worker contract's state, unbonding, slashes, fees and job history",
				Flags: []cli.Flag{configFlag, walletJSONFlag(),
					&cli.IntFlag{Name: "jobs", Value: 10, Usage: "latest job events to list"},
					&cli.IntFlag{Name: "max-transactions", Value: 1000, Usage: "how much of the contract's history to read"}},
				Action: workerStatus,
			},
			{
				Name:   "attest",
				Usage:  "replace the worker's evidence with fresh evidence for the same keys (then run update)",
				Flags:  workerAttestFlags(configFlag),
				Action: workerAttest,
			},
			workerSealCommand(configFlag),
			{
				Name:  "update",
				Usage: "re-register the config's models, prices, endpoint and the current evidence",
				Description: "Root's owner cannot change a worker's terms (stake, slash rate, fees, treasury, deadlines, job code) unasked:\n" +
					"when Root's terms are not the ones the worker registered under, update shows the changes and stops; run it\n" +
					"again with --accept-terms to agree. With --accept-terms it also agrees in advance to a change Root announced,\n" +
					"so that the daemon's hourly renewal keeps the worker active when the change applies.",
				Flags: []cli.Flag{configFlag, ownerWallet,
					&cli.BoolFlag{Name: "accept-terms", Usage: "agree to Root's current terms and to a change it announced (shown first)"}},
				Action: workerOwnerOp("update"),
			},
			{
				Name:   "top-up",
				Usage:  "add stake",
				Flags:  []cli.Flag{configFlag, ownerWallet, &cli.StringFlag{Name: "amount", Required: true, Usage: "TON"}},
				Action: workerOwnerOp("top-up"),
			},
			{
				Name:   "unbond",
				Usage:  "stop taking jobs and start the unbonding delay",
				Flags:  []cli.Flag{configFlag, ownerWallet},
				Action: workerOwnerOp("unbond"),
			},
			{
				Name:  "withdraw",
				Usage: "after the unbonding delay: return stake and earnings to the owner (destroys the Worker contract)",
				Flags: []cli.Flag{configFlag, ownerWallet,
					&cli.BoolFlag{Name: "earnings", Usage: "withdraw only the earnings (any time)"}},
				Action: workerOwnerOp("withdraw"),
			},
		},
	}
}

func workerInit(c *cli.Context) error {
	dir := c.String("out")
	suite, err := seal.ParseSuite(c.String("suite"))
	if err != nil {
		return fmt.Errorf("--suite: %w", err)
	}
	vals, err := initValues(c)
	if err != nil {
		return err
	}
	vals.GasWallet = "gas.wallet"
	text, err := worker.RenderConfig(vals)
	if err != nil {
		return err
	}
	cfgPath := filepath.Join(dir, "config.toml")
	if _, err := os.Stat(cfgPath); err == nil {
		return fmt.Errorf("%s already exists: refusing to overwrite a worker", cfgPath)
	}
	var src attest.Source
	switch c.String("type") {
	case "dev":
	case "tdx":
		src = &attest.TDXSource{}
	case "sevsnp":
		src = &attest.SNPSource{}
	default:
		return usageErr(fmt.Errorf("--type %q: want dev, tdx or sevsnp", c.String("type")))
	}
	kind := c.String("sealing")
	switch kind {
	case "", "dev", "sevsnp":
	case "key-release":
		if c.String("key-release-url") == "" {
			return usageErr(errors.New("--sealing key-release needs --key-release-url"))
		}
	default:
		return usageErr(fmt.Errorf("--sealing %q: want sevsnp, key-release or dev", kind))
	}
	if kind != "" && (vals.Root == "" || vals.Owner == "") {
		return usageErr(errors.New("--sealing needs --root and --owner: sealing reads the complete config (key release asks Root about the service)"))
	}
	section, err := worker.SealingSection(kind, c.String("key-release-url"), c.String("key-release-image"))
	if err != nil {
		return err
	}
	text += section
	opts := worker.InitOptions{Source: src}
	if kind != "" {
		// The sealer reads the config (keys dir, Root, network): it is
		// written first, and removed again should the keys not be made.
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return err
		}
		if err := os.WriteFile(cfgPath, []byte(text), 0o600); err != nil {
			return fmt.Errorf("writing config: %w", err)
		}
		cfg, err := worker.LoadConfig(cfgPath)
		if err != nil {
			os.Remove(cfgPath)
			return err
		}
		opts.Holding = worker.HoldingOf(kind)
		opts.Sealer = func(b *attest.Bundle) (keyseal.Sealer, error) {
			s, err := worker.SourceFor(cfg.Path(cfg.KeysDir), b.TEE)
			if err != nil {
				return nil, err
			}
			return worker.NewSealer(c.Context, cfg, s, b)
		}
	}
	id, err := worker.InitIdentityWith(c.Context, filepath.Join(dir, "keys"), suite, opts)
	if err != nil {
		if kind != "" {
			os.Remove(cfgPath)
		}
		return err
	}
	gas, err := wallet.New(wallet.V5R1)
	if err != nil {
		return err
	}
	if err := gas.Save(filepath.Join(dir, vals.GasWallet), false); err != nil {
		return fmt.Errorf("writing the gas wallet: %w", err)
	}
	gasAddr, err := gas.Address()
	if err != nil {
		return err
	}
	if err := os.WriteFile(cfgPath, []byte(text), 0o600); err != nil {
		return fmt.Errorf("writing config: %w", err)
	}
	meas, _ := id.Measurement()
	eh := id.EvidenceHash()
	fmt.Printf("worker created in %s\n", dir)
	fmt.Printf("  worker key      %x (signs receipts and channel approvals: the payee key of payment channels)\n", id.SignKey.Public())
	fmt.Printf("  HPKE key        %s, commitment %x\n", suite, seal.Commitment(id.HPKE.Public()))
	fmt.Printf("  evidence        %s (sha256 %x)\n", id.Bundle.TEE, eh)
	if id.Bundle.TEE == attest.TEEDev {
		fmt.Printf("  measurement     %x (dev image %q)\n", meas, worker.DevImage)
	} else {
		fmt.Printf("  measurement     %x\n", meas)
	}
	if kind != "" {
		fmt.Printf("  keys            sealed (%s) as they were made: never written in clear\n", kind)
	}
	// Funding a wallet that is not deployed yet wants the non-bounceable
	// form (a bounceable transfer to it would come back).
	fmt.Printf("  gas wallet      %s (%s: fund it: it pays the registration's renewals, about 0.5 TON a day, and payment-channel commits and closes)\n",
		gasAddr.Bounce(false).String(), vals.GasWallet)
	if id.Bundle.TEE == attest.TEEDev {
		fmt.Println("  INSECURE: dev attestation, not hardware-backed; only a Root in test mode accepts it")
	}
	var missing []string
	if vals.Root == "" {
		missing = append(missing, "root")
	}
	if vals.Owner == "" {
		missing = append(missing, "owner")
	}
	if len(missing) > 0 {
		fmt.Printf("next: set %s in %s (and check models and prices), then cocoon worker register\n", strings.Join(missing, " and "), cfgPath)
	} else {
		fmt.Printf("next: check models and prices in %s, then cocoon worker register\n", cfgPath)
	}
	return nil
}

// initValues checks worker init's flags before anything is created: an
// address that does not parse, a network the CLI cannot open or a listen
// address without a port is refused, naming the flag.
func initValues(c *cli.Context) (worker.InitValues, error) {
	v := worker.InitValues{
		Network: strings.TrimSpace(c.String("network")), Root: strings.TrimSpace(c.String("root")),
		Owner: strings.TrimSpace(c.String("owner")), Listen: strings.TrimSpace(c.String("listen")),
		Model: strings.TrimSpace(c.String("model")),
	}
	if _, err := netflag.Open(c.Context, v.Network); err != nil {
		return v, fmt.Errorf("--network: %w", err)
	}
	// Root and owner may be left out and filled in later; given, they must
	// be addresses.
	for flag, a := range map[string]string{"root": v.Root, "owner": v.Owner} {
		if a == "" {
			continue
		}
		if _, err := chain.ParseAddress(a); err != nil {
			return v, fmt.Errorf("--%s: %w", flag, err)
		}
	}
	host, port, err := net.SplitHostPort(v.Listen)
	if err != nil {
		return v, fmt.Errorf("--listen: %q is not HOST:PORT: %w", v.Listen, err)
	}
	if p, err := strconv.ParseUint(port, 10, 16); err != nil || (p == 0 && port != "0") {
		return v, fmt.Errorf("--listen: port %q is not a number from 0 to 65535", port)
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		// Clients need a host they can reach; the config's public_url can
		// be edited when the worker listens on every interface.
		host = "127.0.0.1"
	}
	v.PublicURL = "http://" + net.JoinHostPort(host, port)
	if v.Model == "" {
		return v, errors.New("--model: empty")
	}
	return v, nil
}

func loadWorker(c *cli.Context) (*worker.Config, *worker.Identity, chain.Network, error) {
	cfg, err := worker.LoadConfig(c.String("config"))
	if err != nil {
		return nil, nil, nil, err
	}
	id, err := worker.OpenConfiguredIdentity(c.Context, cfg, nil)
	if err != nil {
		return nil, nil, nil, err
	}
	spec := cfg.Network
	if c.IsSet("network") {
		spec = c.String("network")
	}
	net, err := netflag.Open(c.Context, spec)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("network: %w", err)
	}
	return cfg, id, net, nil
}

func workerRegister(c *cli.Context) error {
	cfg, id, net, err := loadWorker(c)
	if err != nil {
		return err
	}
	stake, err := tonamount.Parse(c.String("stake"))
	if err != nil {
		return fmt.Errorf("--stake: %w", err)
	}
	f, err := loadWalletFile(c, "owner-wallet")
	if err != nil {
		return err
	}
	w, err := f.Open()
	if err != nil {
		return err
	}
	addr, err := worker.WorkerAddressFor(cfg, id)
	if err != nil {
		return err
	}
	reg, err := worker.Registration(cfg, id)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "registering worker %s with %s TON stake ...\n", addr, tonamount.Format(stake))
	v, err := owner.Register(c.Context, net, w, reg, stake)
	if err != nil {
		return err
	}
	fmt.Printf("worker %s is %s\n", addr, v.Status)
	return nil
}

func workerRun(c *cli.Context) error {
	log, err := logger(c)
	if err != nil {
		return err
	}
	cfg, id, net, err := loadWorker(c)
	if err != nil {
		return err
	}
	engine, err := newEngine(cfg)
	if err != nil {
		return err
	}
	gpuSummary := "none"
	if rep, err := gpu.Discover(c.Context); err != nil {
		gpuSummary = err.Error()
		log.Info("GPU discovery", "result", err.Error())
	} else {
		gpuSummary = fmt.Sprintf("%d GPU(s), driver %s", len(rep.GPUs), rep.DriverVersion)
		log.Info("GPU discovery", "report", rep)
		if len(rep.GPUs) > 0 && len(id.Bundle.GPUs) == 0 && id.Bundle.TEE != attest.TEEDev {
			log.Warn("the evidence carries no GPU reports though this machine has GPUs: clients that require GPU evidence refuse this worker; run cocoon worker attest (it adds them) and update",
				"gpus", len(rep.GPUs))
		}
	}
	if engine.Name() == reference.Name {
		log.Warn("engine: " + engine.Description())
	}
	d, err := worker.New(cfg, id, worker.Options{Network: net, Engine: engine, Logger: log, GPU: gpuSummary})
	if err != nil {
		return err
	}
	return d.Run(c.Context, nil)
}

func newEngine(cfg *worker.Config) (inference.Engine, error) {
	switch cfg.Engine.Kind {
	case "reference":
		return reference.New(reference.Config{TokenDelay: cfg.Engine.TokenDelay.Duration}), nil
	case "openai":
		key := ""
		if cfg.Engine.APIKeyEnv != "" {
			key = os.Getenv(cfg.Engine.APIKeyEnv)
		}
		return openai.New(openai.Config{BaseURL: cfg.Engine.BaseURL, APIKey: key})
	}
	return nil, fmt.Errorf("engine.kind %q", cfg.Engine.Kind)
}

func workerStatus(c *cli.Context) error {
	if c.Int("jobs") < 0 {
		return fmt.Errorf("--jobs: %d is negative", c.Int("jobs"))
	}
	if c.Int("max-transactions") < 1 {
		return fmt.Errorf("--max-transactions: %d, must be at least 1", c.Int("max-transactions"))
	}
	cfg, id, net, err := loadWorker(c)
	if err != nil {
		return err
	}
	addr, err := worker.WorkerAddressFor(cfg, id)
	if err != nil {
		return err
	}
	w := readers.NewWorker(net, addr)
	data, err := w.WorkerData(c.Context)
	if err != nil {
		return err
	}
	out := map[string]any{"worker": addr.String(), "deployed": data.Deployed}
	if !data.Deployed {
		if c.Bool("json") {
			return walletPrintJSON(os.Stdout, out)
		}
		fmt.Printf("worker %s: no contract (not registered, rejected, or withdrawn)\n", addr)
		return nil
	}
	st, err := w.WorkerState(c.Context)
	if err != nil {
		return err
	}
	out["status"] = data.Status.String()
	out["stake_ton"] = tonamount.Format(st.Stake)
	out["earnings_ton"] = tonamount.Format(st.Earnings)
	out["jobs_completed"], out["jobs_failed"], out["jobs_slashed"] = st.JobsCompleted, st.JobsFailed, st.JobsSlashed
	out["total_earned_ton"] = tonamount.Format(st.TotalEarned)
	out["endpoint"] = st.Endpoint
	out["dashboard"] = strings.TrimSuffix(st.Endpoint, "/") + "/"
	out["tee"] = st.TEE.String()
	out["attestation_hash"] = hex.EncodeToString(st.AttestationHash[:])
	reg, err := w.Registration(c.Context)
	if err != nil {
		return err
	}
	terms, err := w.RegisteredTerms(c.Context)
	if err != nil {
		return err
	}
	var validUntil time.Time
	if reg.ValidUntil != 0 {
		validUntil = time.Unix(int64(reg.ValidUntil), 0).UTC()
		out["registration_valid_until"] = validUntil.Format(time.RFC3339)
	}
	var termsChanged []string
	if terms != nil {
		if current, err := readers.NewRoot(net, data.Root).AgreedTerms(c.Context); err == nil {
			termsChanged = terms.Changes(current)
			out["root_terms_changed"] = termsChanged
		}
	}
	var unbondingEnds time.Time
	if data.Status == bindings.WorkerUnbonding && terms != nil {
		unbondingEnds = time.Unix(int64(st.UnbondingSince)+int64(terms.WithdrawDelay())+1, 0).UTC()
		out["unbonding_since"] = time.Unix(int64(st.UnbondingSince), 0).UTC().Format(time.RFC3339)
		out["unbonding_ends"] = unbondingEnds.Format(time.RFC3339)
	}
	h, err := worker.ReadHistory(c.Context, net, addr, c.Int("max-transactions"))
	if err != nil {
		return err
	}
	out["slashed_ton"] = tonamount.Format(h.Slashed)
	out["fees_paid_ton"] = tonamount.Format(h.Fees)
	out["history_complete"] = h.Complete
	days := h.Days()
	jsonDays := make([]map[string]any, 0, len(days))
	for _, d := range days {
		jsonDays = append(jsonDays, map[string]any{"day": d.Day, "paid": d.Paid, "failed": d.Failed, "slashed": d.SlashedJobs,
			"earned_ton": tonamount.Format(d.Earned), "slashed_ton": tonamount.Format(d.Slashed)})
	}
	out["days"] = jsonDays
	recent := h.Entries[:min(len(h.Entries), c.Int("jobs"))]
	jsonJobs := make([]map[string]any, 0, len(recent))
	for _, e := range recent {
		jsonJobs = append(jsonJobs, map[string]any{"time": e.Time.Format(time.RFC3339), "job": e.Job.String(), "event": e.Kind, "amount_ton": tonamount.Format(e.Amount)})
	}
	out["jobs"] = jsonJobs
	// Payment-channel earnings live in the running daemon's channel store:
	// ask the daemon.
	channels, chErr := daemonChannels(c.Context, cfg)
	if chErr == nil && channels != nil {
		out["channels"] = channels
	}
	if c.Bool("json") {
		return walletPrintJSON(os.Stdout, out)
	}
	fmt.Printf("worker %s: %s\n  stake %s TON, earnings %s TON (total earned %s TON)\n  jobs: %d completed, %d failed, %d slashed\n  endpoint %s, TEE %s\n  dashboard %s (a browser page; JSON at /api/dashboard)\n",
		addr, data.Status, out["stake_ton"], out["earnings_ton"], out["total_earned_ton"], st.JobsCompleted, st.JobsFailed, st.JobsSlashed, st.Endpoint, st.TEE, out["dashboard"])
	switch {
	case validUntil.IsZero():
	case data.Status != bindings.WorkerActive:
	case time.Until(validUntil) > 0:
		fmt.Printf("  registration valid until %s (the daemon renews it 10 minutes ahead)\n", validUntil.Format(time.RFC3339))
	default:
		fmt.Printf("  registration LAPSED at %s: offers are declined until the daemon renews it (is it running, with a funded gas wallet?)\n", validUntil.Format(time.RFC3339))
	}
	if len(termsChanged) > 0 {
		fmt.Printf("  Root's terms are not the ones this worker registered under; the daemon does not renew under them:\n    %s\n  review and agree with cocoon worker update --accept-terms\n",
			strings.Join(termsChanged, "\n    "))
	}
	if !unbondingEnds.IsZero() {
		if left := time.Until(unbondingEnds); left > 0 {
			fmt.Printf("  unbonding: withdraw after %s (in %s)\n", unbondingEnds.Format(time.RFC3339), left.Round(time.Second))
		} else {
			fmt.Printf("  unbonding: over since %s; withdraw now\n", unbondingEnds.Format(time.RFC3339))
		}
	}
	scope := "all history"
	if !h.Complete {
		scope = fmt.Sprintf("latest %d transactions", c.Int("max-transactions"))
	}
	fmt.Printf("  slashed %s TON to clients; contract fees paid %s TON (%s)\n", out["slashed_ton"], out["fees_paid_ton"], scope)
	if len(days) > 0 {
		fmt.Println("  per day (UTC):")
		for _, d := range days {
			fmt.Printf("    %s  %d paid (%s TON), %d failed, %d slashed (%s TON)\n", d.Day, d.Paid, tonamount.Format(d.Earned), d.Failed, d.SlashedJobs, tonamount.Format(d.Slashed))
		}
	}
	if len(recent) > 0 {
		fmt.Println("  latest jobs:")
		for _, e := range recent {
			fmt.Printf("    %s  %-7s %s TON  %s\n", e.Time.Format(time.RFC3339), e.Kind, tonamount.Format(e.Amount), e.Job)
		}
	}
	switch {
	case chErr != nil:
		fmt.Printf("  channels: unknown (%v)\n", chErr)
	case channels.Scheme != onlineproto.ChannelScheme:
		fmt.Printf("  channels: the worker takes no channel payments (scheme: %q)\n", channels.Scheme)
	default:
		fmt.Printf("  channels: %d open, %s TON owed by vouchers and not yet on chain, %s TON deposited by payers\n",
			channels.Channels, channels.Unclaimed, channels.Deposits)
	}
	return nil
}

// daemonChannels asks the running daemon (GET /api/worker) what its
// payment channels hold; the channel store is the daemon's while it runs.
func daemonChannels(ctx context.Context, cfg *worker.Config) (*worker.DashboardOnline, error) {
	if strings.HasPrefix(cfg.PublicURL, "https://") {
		return nil, errors.New("the daemon serves attested TLS; open its dashboard for channel earnings")
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+cfg.Listen+"/api/worker", nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("the daemon is not answering at %s", cfg.Listen)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("the daemon at %s answered %s", cfg.Listen, resp.Status)
	}
	var dash worker.Dashboard
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&dash); err != nil {
		return nil, fmt.Errorf("reading the daemon's state: %w", err)
	}
	return &dash.Online, nil
}

func workerOwnerOp(op string) cli.ActionFunc {
	return func(c *cli.Context) error {
		cfg, id, net, err := loadWorker(c)
		if err != nil {
			return err
		}
		f, err := loadWalletFile(c, "owner-wallet")
		if err != nil {
			return err
		}
		w, err := f.Open()
		if err != nil {
			return err
		}
		addr, err := worker.WorkerAddressFor(cfg, id)
		if err != nil {
			return err
		}
		o := &owner.Worker{Net: net, Wallet: w, Address: addr}
		switch op {
		case "update":
			p, err := worker.Profile(cfg, id)
			if err != nil {
				return err
			}
			root, err := chain.ParseAddress(cfg.Root)
			if err != nil {
				return fmt.Errorf("config root: %w", err)
			}
			accept := c.Bool("accept-terms")
			if accept {
				changes, err := o.TermsChanges(c.Context, root)
				if err != nil {
					return err
				}
				if len(changes) > 0 {
					fmt.Printf("agreeing to Root's current terms:\n  %s\n", strings.Join(changes, "\n  "))
				}
			}
			v, err := o.Update(c.Context, p, accept)
			if err != nil {
				return err
			}
			fmt.Printf("worker %s re-registered: %s\n", addr, v.Status)
			return announcedTerms(c, o, root, accept)
		case "top-up":
			amt, err := tonamount.Parse(c.String("amount"))
			if err != nil {
				return fmt.Errorf("--amount: %w", err)
			}
			if err := o.TopUp(c.Context, amt); err != nil {
				return err
			}
			fmt.Printf("added %s TON to the stake of %s\n", tonamount.Format(amt), addr)
		case "unbond":
			if err := o.RequestUnbond(c.Context); err != nil {
				return err
			}
			fmt.Printf("worker %s is unbonding: withdraw after Root's unbonding delay\n", addr)
		case "withdraw":
			// What the contract holds before, so the words say how much
			// moved (the chain confirmed the operation when it returns).
			before, rerr := readers.NewWorker(net, addr).WorkerState(c.Context)
			if c.Bool("earnings") {
				if err := o.WithdrawEarnings(c.Context); err != nil {
					return err
				}
				if rerr != nil {
					fmt.Printf("earnings of %s sent to the owner %s\n", addr, cfg.Owner)
					return nil
				}
				fmt.Printf("%s TON of earnings of %s sent to the owner %s\n", tonamount.Format(before.Earnings), addr, cfg.Owner)
				return nil
			}
			if err := o.Withdraw(c.Context); err != nil {
				return err
			}
			if rerr != nil {
				fmt.Printf("stake and earnings of %s returned to the owner %s; the contract is closed\n", addr, cfg.Owner)
				return nil
			}
			fmt.Printf("%s TON of stake and %s TON of earnings of %s returned to the owner %s; the contract is closed\n",
				tonamount.Format(before.Stake), tonamount.Format(before.Earnings), addr, cfg.Owner)
		default:
			return errors.New("unknown operation " + op)
		}
		return nil
	}
}

// announcedTerms tells the owner about a change of terms Root announced,
// and with accept agrees to it in advance.
func announcedTerms(c *cli.Context, o *owner.Worker, root *address.Address, accept bool) error {
	if !accept {
		announced, at, err := readers.NewRoot(o.Net, root).AnnouncedTerms(c.Context)
		if err != nil || announced == nil {
			return err
		}
		current, err := readers.NewRoot(o.Net, root).AgreedTerms(c.Context)
		if err != nil {
			return err
		}
		fmt.Printf("WARNING: Root announced new terms, effective %s:\n  %s\n"+
			"the worker stops taking jobs then unless you agree in advance: cocoon worker update --accept-terms\n",
			at.UTC().Format(time.RFC3339), strings.Join(current.Changes(*announced), "\n  "))
		return nil
	}
	changes, at, err := o.AgreeAnnounced(c.Context, root)
	if err != nil {
		return err
	}
	if changes != nil {
		fmt.Printf("agreed in advance to the terms Root announced, effective %s:\n  %s\n", at.UTC().Format(time.RFC3339), strings.Join(changes, "\n  "))
	}
	return nil
}

// loadWalletFile loads the wallet named by a flag other than --wallet.
func loadWalletFile(c *cli.Context, flag string) (*wallet.File, error) {
	path := strings.TrimSpace(c.String(flag))
	if path == "" {
		return nil, fmt.Errorf("--%s is required", flag)
	}
	f, err := wallet.Load(path)
	if err != nil {
		return nil, fmt.Errorf("--%s: %w", flag, err)
	}
	return f, nil
}
