package main

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/urfave/cli/v2"
	"github.com/xssnick/tonutils-go/address"

	"github.com/cocoon-network/cocoon/bindings"
	"github.com/cocoon-network/cocoon/offchain/attest/dev"
	"github.com/cocoon-network/cocoon/offchain/chain"
	"github.com/cocoon-network/cocoon/offchain/chain/readers"
	"github.com/cocoon-network/cocoon/offchain/inference/reference"
	"github.com/cocoon-network/cocoon/offchain/operator"
	"github.com/cocoon-network/cocoon/offchain/tonamount"
	"github.com/cocoon-network/cocoon/offchain/worker"
)

// Defaults for a new Root; every one can be changed later with set-params.
const (
	defaultMinStake       = "10"
	defaultUnbondingDelay = 7 * 24 * time.Hour
	defaultFeeBps         = 500 // 5%
	defaultMinDeadline    = time.Minute
	defaultMaxDeadline    = 24 * time.Hour
	defaultSlashBps       = 1000 // 10% of stake per missed job
)

func rootFlag() *cli.StringFlag {
	return &cli.StringFlag{Name: "root", Required: true, Usage: "the Root contract's address", EnvVars: []string{"COCOON_ROOT"}}
}

// paramFlags are the RootParams flags of deploy and set-params. In
// set-params an unset flag keeps Root's current value.
func paramFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "min-stake", Value: defaultMinStake, Usage: "minimum worker stake, TON"},
		&cli.DurationFlag{Name: "unbonding-delay", Value: defaultUnbondingDelay, Usage: "how long a worker's stake stays locked after it asks to unbond"},
		&cli.UintFlag{Name: "fee-bps", Value: defaultFeeBps, Usage: "protocol fee, basis points of each job's charge"},
		&cli.StringFlag{Name: "treasury", Usage: "address that receives protocol fees (default: the owner wallet)"},
		&cli.DurationFlag{Name: "min-deadline", Value: defaultMinDeadline, Usage: "shortest job deadline"},
		&cli.DurationFlag{Name: "max-deadline", Value: defaultMaxDeadline, Usage: "longest job deadline"},
		&cli.UintFlag{Name: "slash-bps", Value: defaultSlashBps, Usage: "share of stake slashed per job not served by its deadline, basis points"},
		&cli.BoolFlag{Name: "test-mode", Usage: "admit dev attestation (devnet and tests only: NOT SECURE); a switch, it takes no value"},
	}
}

func rootCommand() *cli.Command {
	common := func(extra ...cli.Flag) []cli.Flag {
		return append([]cli.Flag{rootFlag(), walletFileFlag(), networkFlag(), walletJSONFlag()}, extra...)
	}
	return &cli.Command{
		Name:  "root",
		Usage: "operator commands for the Root contract (registry, allow-lists, params)",
		Subcommands: []*cli.Command{
			{
				Name:  "deploy",
				Usage: "deploy a Root owned by the wallet",
				Flags: append([]cli.Flag{walletFileFlag(), networkFlag(), walletJSONFlag(),
					&cli.BoolFlag{Name: "job-code-library", Usage: "hold the Job code as a public library (about a fifth off every job's fees); on a devnet it is published first, elsewhere it must be published already"},
				}, paramFlags()...),
				Action: rootDeploy,
			},
			{
				Name:   "set-params",
				Usage:  "announce new Root params (unset flags keep their current values); they apply after the timelock (apply-change)",
				Flags:  common(paramFlags()...),
				Action: rootSetParams,
			},
			{
				Name:  "allow-measurement",
				Usage: "add (or with --remove, remove) an enclave measurement to Root's allow-list",
				Flags: common(
					&cli.StringFlag{Name: "tee", Required: true, Usage: "tdx, sevsnp, nvidia_cc or dev"},
					&cli.StringFlag{Name: "hash", Usage: "measurement hash, 64 hex digits (see docs/ATTESTATION.md); with --tee dev the default is the dev image of cocoon worker init"},
					&cli.BoolFlag{Name: "remove", Usage: "remove instead of add"},
				),
				Action: rootAllowMeasurement,
			},
			{
				Name:  "add-model",
				Usage: "register a model with its weights hash and minimum prices",
				Flags: common(
					&cli.StringFlag{Name: "name", Required: true, Usage: "model name; its id is sha256 of the name"},
					&cli.StringFlag{Name: "weights-hash", Usage: "sha256 of the weights, 64 hex digits (cocoon worker attest prints it); without it none is pinned, and a network not in test mode serves the model from no TEE worker"},
					&cli.StringFlag{Name: "min-price-in", Required: true, Usage: "minimum price per 1M input tokens, TON"},
					&cli.StringFlag{Name: "min-price-out", Required: true, Usage: "minimum price per 1M output tokens, TON"},
					&cli.BoolFlag{Name: "require-gpu", Usage: "the model is served only on attested GPUs in CC mode: every client then refuses workers without GPU evidence"},
				),
				Action: rootAddModel,
			},
			{
				Name:   "remove-model",
				Usage:  "remove a model",
				Flags:  common(&cli.StringFlag{Name: "name", Required: true, Usage: "model name"}),
				Action: rootRemoveModel,
			},
			{
				Name:   "set-treasury",
				Usage:  "announce a new address for protocol fees; it applies after the timelock (apply-change)",
				Flags:  common(&cli.StringFlag{Name: "address", Required: true, Usage: "treasury address"}),
				Action: rootSetTreasury,
			},
			{
				Name:   "propose-owner",
				Usage:  "first step of an ownership transfer: name the new owner",
				Flags:  common(&cli.StringFlag{Name: "new-owner", Required: true, Usage: "the proposed owner's address"}),
				Action: rootProposeOwner,
			},
			{
				Name:   "accept-ownership",
				Usage:  "second step: the proposed owner's wallet accepts",
				Flags:  common(),
				Action: rootAcceptOwnership,
			},
			{
				Name:   "upgrade",
				Usage:  "announce the contract codes compiled into this binary (Root keeps its state); they apply after the timelock (apply-change)",
				Flags:  common(&cli.BoolFlag{Name: "root-code", Usage: "also replace Root's own code"}),
				Action: rootUpgrade,
			},
			{
				Name:   "apply-change",
				Usage:  "apply the change announced by set-params, set-treasury or upgrade once its timelock has passed (any wallet may)",
				Flags:  common(),
				Action: rootApplyChange,
			},
			{
				Name:   "cancel-change",
				Usage:  "drop the announced change (owner)",
				Flags:  common(),
				Action: rootCancelChange,
			},
			{
				Name:  "show",
				Usage: "print Root's owner, version, params, allow-lists and code hashes",
				Flags: []cli.Flag{rootFlag(), networkFlag(), walletJSONFlag(),
					&cli.StringSliceFlag{Name: "model", Usage: "a model name to show by name (on chain models are known by id, sha256 of the name; the reference engine's is known)"}},
				Action: rootShow,
			},
		},
	}
}

func readParams(c *cli.Context, base *bindings.RootParams, owner *address.Address) (bindings.RootParams, error) {
	p := bindings.RootParams{Treasury: owner}
	if base != nil {
		p = *base
	}
	isSet := func(name string) bool { return base == nil || c.IsSet(name) }
	if isSet("min-stake") {
		v, err := tonamount.Parse(c.String("min-stake"))
		if err != nil {
			return p, fmt.Errorf("--min-stake: %w", err)
		}
		p.MinWorkerStake = v
	}
	seconds := func(name string) (uint32, error) {
		d := c.Duration(name)
		if d < 0 || d > time.Duration(1<<32-1)*time.Second {
			return 0, fmt.Errorf("--%s %s is out of range", name, d)
		}
		return uint32(d / time.Second), nil
	}
	var err error
	if isSet("unbonding-delay") {
		if p.UnbondingDelay, err = seconds("unbonding-delay"); err != nil {
			return p, err
		}
	}
	if isSet("min-deadline") {
		if p.MinJobDeadline, err = seconds("min-deadline"); err != nil {
			return p, err
		}
	}
	if isSet("max-deadline") {
		if p.MaxJobDeadline, err = seconds("max-deadline"); err != nil {
			return p, err
		}
	}
	for _, f := range []struct {
		name string
		dst  *uint16
	}{{"fee-bps", &p.ProtocolFeeBps}, {"slash-bps", &p.SlashBps}} {
		if isSet(f.name) {
			v := c.Uint(f.name)
			if v > 10000 {
				return p, fmt.Errorf("--%s %d is over 10000 (100%%)", f.name, v)
			}
			*f.dst = uint16(v)
		}
	}
	if c.IsSet("treasury") {
		a, err := chain.ParseAddress(c.String("treasury"))
		if err != nil {
			return p, fmt.Errorf("--treasury: %w", err)
		}
		p.Treasury = a
	}
	if isSet("test-mode") {
		p.TestMode = c.Bool("test-mode")
	}
	if p.MinJobDeadline > p.MaxJobDeadline {
		return p, fmt.Errorf("--min-deadline (%ds) is longer than --max-deadline (%ds)", p.MinJobDeadline, p.MaxJobDeadline)
	}
	if min := bindings.MinUnbondingDelay(p.MaxJobDeadline); p.UnbondingDelay < min {
		return p, fmt.Errorf("--unbonding-delay (%ds) must be at least --max-deadline + %ds of refund window + %ds of margin = %ds: a worker's stake must stay until every job it accepted is past its refund window",
			p.UnbondingDelay, bindings.RefundWindow, bindings.UnbondMargin, min)
	}
	return p, nil
}

// openOperator loads the wallet and network for an owner operation.
func openOperator(c *cli.Context) (*operator.Operator, error) {
	net, err := openNetwork(c)
	if err != nil {
		return nil, err
	}
	f, err := walletLoad(c)
	if err != nil {
		return nil, err
	}
	w, err := f.Open()
	if err != nil {
		return nil, err
	}
	root, err := chain.ParseAddress(c.String("root"))
	if err != nil {
		return nil, fmt.Errorf("--root: %w", err)
	}
	return &operator.Operator{Net: net, Wallet: w, Root: root}, nil
}

func queryID() uint64 {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return binary.BigEndian.Uint64(b[:])
}

func rootDeploy(c *cli.Context) error {
	if c.NArg() > 0 {
		// `--test-mode dev` reads as the switch and a stray argument.
		return usageErr(fmt.Errorf("unexpected argument %q: root deploy takes flags only (--test-mode is a switch and takes no value)", c.Args().First()))
	}
	net, err := openNetwork(c)
	if err != nil {
		return err
	}
	f, err := walletLoad(c)
	if err != nil {
		return err
	}
	w, err := f.Open()
	if err != nil {
		return err
	}
	params, err := readParams(c, nil, w.Address())
	if err != nil {
		return err
	}
	codes, err := bindings.EmbeddedCodes()
	if err != nil {
		return err
	}
	if c.Bool("job-code-library") {
		if spec := c.String("network"); spec == "testnet" || spec == "mainnet" {
			return fmt.Errorf("--job-code-library on %s: publish the Job code (hash %x) as a public library from a masterchain account first; this CLI publishes libraries only on a devnet", spec, codes.Job.Hash())
		}
		var pub struct {
			Hash string `json:"hash"`
		}
		if err := devnetPost(c.Context, c.String("network"), "/devnet/library", map[string]string{"boc": base64.StdEncoding.EncodeToString(codes.Job.ToBOC())}, &pub); err != nil {
			return fmt.Errorf("publishing the Job code as a library: %w", err)
		}
		codes = codes.WithJobLibrary()
	}
	if !c.Bool("json") {
		fmt.Fprintf(c.App.ErrWriter, "deploying Root owned by %s ...\n", w.Address())
	}
	op, res, err := operator.DeployCodes(c.Context, net, w, params, codes)
	if err != nil {
		return err
	}
	return report(c, "Root deployed at "+op.Root.String(), op.Root, res, map[string]any{"root": op.Root.String(), "test_mode": params.TestMode})
}

func report(c *cli.Context, words string, root *address.Address, res *operator.Result, extra map[string]any) error {
	if c.Bool("json") {
		out := map[string]any{"ok": true, "root": root.String(), "version": res.Version}
		if res.RootTx != nil {
			out["root_tx"] = map[string]any{"lt": res.RootTx.ID.LT, "hash": hex.EncodeToString(res.RootTx.ID.Hash)}
		}
		for k, v := range extra {
			out[k] = v
		}
		return walletPrintJSON(c.App.Writer, out)
	}
	fmt.Fprintln(c.App.Writer, words)
	if res.RootTx != nil {
		fmt.Fprintf(c.App.Writer, "  Root version %d, transaction lt %d hash %x\n", res.Version, res.RootTx.ID.LT, res.RootTx.ID.Hash)
	}
	return nil
}

func rootOp(c *cli.Context, m bindings.Message, words string) error {
	op, err := openOperator(c)
	if err != nil {
		return err
	}
	res, err := op.Do(c.Context, m)
	if err != nil {
		return err
	}
	return report(c, words, op.Root, res, nil)
}

func rootSetParams(c *cli.Context) error {
	op, err := openOperator(c)
	if err != nil {
		return err
	}
	cur, err := readers.NewRoot(op.Net, op.Root).GetRootParams(c.Context)
	if err != nil {
		return fmt.Errorf("reading Root's current params: %w", err)
	}
	p, err := readParams(c, cur, op.Wallet.Address())
	if err != nil {
		return err
	}
	res, err := op.Do(c.Context, bindings.SetParams{QueryID: queryID(), Params: p})
	if err != nil {
		return err
	}
	return report(c, announced("Root params"), op.Root, res, nil)
}

func parseHash(flag, s string) ([32]byte, error) {
	var h [32]byte
	b, err := hex.DecodeString(strings.TrimPrefix(strings.TrimSpace(s), "0x"))
	if err != nil || len(b) != 32 {
		return h, fmt.Errorf("--%s: want 64 hex digits (32 bytes), got %q", flag, s)
	}
	copy(h[:], b)
	return h, nil
}

func rootAllowMeasurement(c *cli.Context) error {
	tee, err := bindings.ParseTEE(c.String("tee"))
	if err != nil {
		return fmt.Errorf("--tee: %w", err)
	}
	var h [32]byte
	switch {
	case c.String("hash") == "" && tee == bindings.TEEDev:
		// The dev image of cocoon worker init: a devnet's operator need
		// not run a worker first to learn it.
		h = dev.Measurement(worker.DevImage)
		fmt.Fprintf(c.App.ErrWriter, "--hash: the dev image %q of cocoon worker init, %x\n", worker.DevImage, h)
	case c.String("hash") == "":
		return usageErr(fmt.Errorf("--hash is required for --tee %s: the image hash cocoon attest verify --json prints", tee))
	default:
		if h, err = parseHash("hash", c.String("hash")); err != nil {
			return err
		}
	}
	if c.Bool("remove") {
		return rootOp(c, bindings.RemoveMeasurement{QueryID: queryID(), TEE: tee, Measurement: h}, fmt.Sprintf("measurement %x (%s) removed from the allow-list", h, tee))
	}
	return rootOp(c, bindings.AddMeasurement{QueryID: queryID(), TEE: tee, Measurement: h}, fmt.Sprintf("measurement %x (%s) allowed", h, tee))
}

func rootAddModel(c *cli.Context) error {
	name := strings.TrimSpace(c.String("name"))
	if name == "" {
		return errors.New("--name must not be empty")
	}
	var wh [32]byte
	var err error
	if c.String("weights-hash") == "" {
		fmt.Fprintln(c.App.ErrWriter, "--weights-hash not given: no weights pinned; fine for a test network (the reference engine has none), but clients on a network not in test mode refuse every TEE worker of this model")
	} else if wh, err = parseHash("weights-hash", c.String("weights-hash")); err != nil {
		return err
	}
	in, err := tonamount.Parse(c.String("min-price-in"))
	if err != nil {
		return fmt.Errorf("--min-price-in: %w", err)
	}
	out, err := tonamount.Parse(c.String("min-price-out"))
	if err != nil {
		return fmt.Errorf("--min-price-out: %w", err)
	}
	id := bindings.ModelID(name)
	return rootOp(c, bindings.AddModel{QueryID: queryID(), ModelID: id, Info: bindings.ModelInfo{WeightsHash: wh, MinPriceIn: in, MinPriceOut: out, RequireGPU: c.Bool("require-gpu")}},
		fmt.Sprintf("model %q registered (id %x)", name, id))
}

func rootRemoveModel(c *cli.Context) error {
	id := bindings.ModelID(c.String("name"))
	return rootOp(c, bindings.RemoveModel{QueryID: queryID(), ModelID: id}, fmt.Sprintf("model %q removed", c.String("name")))
}

func rootSetTreasury(c *cli.Context) error {
	a, err := chain.ParseAddress(c.String("address"))
	if err != nil {
		return fmt.Errorf("--address: %w", err)
	}
	return rootOp(c, bindings.SetTreasury{QueryID: queryID(), Treasury: a}, announced("treasury "+a.String()))
}

func rootProposeOwner(c *cli.Context) error {
	a, err := chain.ParseAddress(c.String("new-owner"))
	if err != nil {
		return fmt.Errorf("--new-owner: %w", err)
	}
	return rootOp(c, bindings.ProposeOwner{QueryID: queryID(), NewOwner: a}, a.String()+" proposed as owner; it must run accept-ownership")
}

func rootAcceptOwnership(c *cli.Context) error {
	return rootOp(c, bindings.AcceptOwnership{QueryID: queryID()}, "ownership accepted")
}

func rootUpgrade(c *cli.Context) error {
	codes, err := bindings.EmbeddedCodes()
	if err != nil {
		return err
	}
	m := bindings.UpgradeCode{QueryID: queryID(), WorkerCode: codes.Worker, JobCode: codes.Job}
	if c.Bool("root-code") {
		m.RootCode = codes.Root
	}
	return rootOp(c, m, announced("contract codes")+"; workers registered under the old worker code must then re-register")
}

// announced is the report of an owner change that waits for the timelock.
func announced(what string) string {
	return fmt.Sprintf("%s announced: it takes effect %s from now, with `cocoon root apply-change`", what, time.Duration(bindings.ChangeTimelock)*time.Second)
}

func rootApplyChange(c *cli.Context) error {
	return rootOp(c, bindings.ApplyChange{QueryID: queryID()}, "the announced change is applied")
}

func rootCancelChange(c *cli.Context) error {
	return rootOp(c, bindings.CancelChange{QueryID: queryID()}, "the announced change is cancelled")
}

func rootShow(c *cli.Context) error {
	w := c.App.Writer
	net, err := openNetwork(c)
	if err != nil {
		return err
	}
	root, err := chain.ParseAddress(c.String("root"))
	if err != nil {
		return fmt.Errorf("--root: %w", err)
	}
	acc, err := net.Account(c.Context, root)
	if err != nil {
		return err
	}
	if acc.Status != chain.StatusActive {
		return fmt.Errorf("no Root at %s: the account is %s", root, acc.Status)
	}
	st, err := bindings.Parse[bindings.RootStorage](acc.Data)
	if err != nil {
		return fmt.Errorf("%s does not hold a Cocoon Root: %w", root, err)
	}
	codes, _ := bindings.EmbeddedCodes()
	type meas struct {
		TEE  string `json:"tee"`
		Hash string `json:"hash"`
	}
	type model struct {
		ID          string `json:"id"`
		Name        string `json:"name,omitempty"` // when known (--model, the reference engine's)
		WeightsHash string `json:"weights_hash"`
		MinPriceIn  string `json:"min_price_in_ton"`
		MinPriceOut string `json:"min_price_out_ton"`
	}
	var ms []meas
	for h, t := range st.Measurements {
		ms = append(ms, meas{TEE: t.String(), Hash: hex.EncodeToString(h[:])})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].TEE+ms[i].Hash < ms[j].TEE+ms[j].Hash })
	names := map[[32]byte]string{bindings.ModelID(reference.Name): reference.Name}
	for _, n := range c.StringSlice("model") {
		names[bindings.ModelID(n)] = n
	}
	var mods []model
	for id, m := range st.Models {
		mods = append(mods, model{ID: hex.EncodeToString(id[:]), Name: names[id], WeightsHash: hex.EncodeToString(m.WeightsHash[:]), MinPriceIn: tonamount.Format(m.MinPriceIn), MinPriceOut: tonamount.Format(m.MinPriceOut)})
	}
	sort.Slice(mods, func(i, j int) bool { return mods[i].Name+mods[i].ID < mods[j].Name+mods[j].ID })
	p := st.Params
	out := map[string]any{
		"root":               root.String(),
		"balance_ton":        tonamount.Format(acc.Balance),
		"owner":              st.Owner.String(),
		"version":            st.Version,
		"min_worker_stake":   tonamount.Format(p.MinWorkerStake),
		"unbonding_delay_s":  p.UnbondingDelay,
		"protocol_fee_bps":   p.ProtocolFeeBps,
		"treasury":           p.Treasury.String(),
		"min_job_deadline_s": p.MinJobDeadline,
		"max_job_deadline_s": p.MaxJobDeadline,
		"slash_bps":          p.SlashBps,
		"test_mode":          p.TestMode,
		"measurements":       ms,
		"models":             mods,
		"worker_code_hash":   hex.EncodeToString(st.Codes.WorkerCode.Hash()),
		"job_code_hash":      hex.EncodeToString(st.Codes.JobCode.Hash()),
		"codes_match_binary": codes.Worker != nil && string(codes.Worker.Hash()) == string(st.Codes.WorkerCode.Hash()) && string(codes.Job.Hash()) == string(st.Codes.JobCode.Hash()),
	}
	if st.PendingOwner != nil {
		out["pending_owner"] = st.PendingOwner.String()
	}
	if pc := st.Codes.Pending; pc != nil {
		out["pending_change_effective_at"] = time.Unix(int64(pc.EffectiveAt), 0).UTC().Format(time.RFC3339)
	}
	if c.Bool("json") {
		return walletPrintJSON(c.App.Writer, out)
	}
	fmt.Fprintf(w, "Root %s (version %d, balance %s TON)\n", root, st.Version, tonamount.Format(acc.Balance))
	fmt.Fprintf(w, "  owner             %s\n", st.Owner)
	if st.PendingOwner != nil {
		fmt.Fprintf(w, "  pending owner     %s\n", st.PendingOwner)
	}
	fmt.Fprintf(w, "  min worker stake  %s TON\n  unbonding delay   %s\n  protocol fee      %.2f%% to %s\n  job deadline      %s .. %s\n  slash             %.2f%% of stake per missed job\n",
		tonamount.Format(p.MinWorkerStake), time.Duration(p.UnbondingDelay)*time.Second, float64(p.ProtocolFeeBps)/100, p.Treasury,
		time.Duration(p.MinJobDeadline)*time.Second, time.Duration(p.MaxJobDeadline)*time.Second, float64(p.SlashBps)/100)
	if p.TestMode {
		fmt.Fprintln(w, "  test mode         ON: dev attestation admitted (NOT SECURE)")
	}
	if pc := st.Codes.Pending; pc != nil {
		fmt.Fprintf(w, "  announced change  effective at %s (params %v, root code %v, worker code %v, job code %v)\n",
			out["pending_change_effective_at"], pc.Params != nil, pc.RootCode != nil, pc.WorkerCode != nil, pc.JobCode != nil)
	}
	fmt.Fprintf(w, "  measurements      %d\n", len(ms))
	for _, m := range ms {
		fmt.Fprintf(w, "    %-9s %s\n", m.TEE, m.Hash)
	}
	fmt.Fprintf(w, "  models            %d\n", len(mods))
	for _, m := range mods {
		name := m.Name
		if name == "" {
			name = "(name unknown: root show --model NAME labels it)"
		}
		weights := m.WeightsHash
		if weights == strings.Repeat("0", 64) {
			weights = "none pinned"
		}
		fmt.Fprintf(w, "    %s  id %s\n      weights %s, min %s / %s TON per 1M tokens in/out\n", name, m.ID, weights, m.MinPriceIn, m.MinPriceOut)
	}
	fmt.Fprintf(w, "  worker code       %s\n  job code          %s\n", out["worker_code_hash"], out["job_code_hash"])
	if !out["codes_match_binary"].(bool) {
		fmt.Fprintln(w, "  (child codes differ from the ones compiled into this binary)")
	}
	return nil
}
