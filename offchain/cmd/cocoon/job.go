package main

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"
	"github.com/xssnick/tonutils-go/address"

	"github.com/cocoon-network/cocoon/offchain/chain"
	"github.com/cocoon-network/cocoon/offchain/client"
	"github.com/cocoon-network/cocoon/offchain/inference"
	"github.com/cocoon-network/cocoon/offchain/tonamount"
	"github.com/cocoon-network/cocoon/offchain/wallet"
)

// maxPromptFile bounds --prompt-file: a sealed request is at most 16 MiB.
const maxPromptFile = 15 << 20

func jobCommand() *cli.Command {
	clientDir := func() cli.Flag {
		return &cli.StringFlag{Name: "client-dir", Value: client.DefaultDir, EnvVars: []string{"COCOON_CLIENT_DIR"},
			Usage: "where per-job state is kept: the job's parameters and its private result key (mode 0600)"}
	}
	jobArgs := func(extra ...cli.Flag) []cli.Flag {
		return append([]cli.Flag{networkFlag(), clientDir(), walletJSONFlag()}, extra...)
	}
	// JOB comes first in these commands' documented form, and urfave/cli
	// checks required flags before flagsAfterArgs has read those after
	// JOB; walletLoad reports a missing --wallet instead.
	optionalWallet := func() cli.Flag {
		f := walletFileFlag()
		f.Required = false
		return f
	}
	return &cli.Command{
		Name:  "job",
		Usage: "run AI jobs on attested workers, paid from a wallet: submit, follow, refund, cancel",
		Subcommands: []*cli.Command{
			{
				Name:      "submit",
				Usage:     "seal a prompt to an attested worker, escrow the price in a Job, wait for the answer",
				UsageText: "cocoon job submit --network N --wallet W --root R --model NAME (--prompt TEXT | --prompt-file F) [options]",
				Flags: []cli.Flag{
					networkFlag(), walletFileFlag(), rootFlag(), clientDir(), walletJSONFlag(),
					&cli.StringFlag{Name: "model", Required: true, Usage: "model name, as registered in Root"},
					&cli.StringFlag{Name: "prompt", Usage: "the prompt (the user message)"},
					&cli.StringFlag{Name: "prompt-file", Usage: "read the prompt from a file (- for stdin)"},
					&cli.StringFlag{Name: "system", Usage: "a system message sent before the prompt"},
					&cli.StringFlag{Name: "worker", Usage: "use this worker (still checked) instead of the best one discovery finds"},
					&cli.StringFlag{Name: "callback", Usage: "a contract that receives the job's JobCallback (result hash and sealed result) when it completes (docs/ORACLE.md)"},
					&cli.BoolFlag{Name: "public", Usage: "put the prompt and the answer on chain IN CLEAR, for a contract that reads the answer (NOT PRIVATE)"},
					&cli.UintFlag{Name: "max-output-tokens", Value: client.DefaultMaxOutputTokens, Usage: "longest answer to pay for"},
					&cli.UintFlag{Name: "max-input-tokens", Usage: "largest prompt to pay for (default: an upper bound from the prompt's size; the unused part is refunded)"},
					&cli.DurationFlag{Name: "deadline", Value: client.DefaultDeadline, Usage: "how long the worker has to answer (chain time)"},
					&cli.DurationFlag{Name: "max-evidence-age", Value: client.DefaultMaxEvidenceAge, Usage: "refuse workers whose attestation evidence is older"},
					policyFlag(), collateralFromFlag(),
					&cli.BoolFlag{Name: "no-refund", Usage: "when the deadline passes unanswered, do not send the refund (cocoon job refund does it later)"},
				},
				Action: jobSubmit,
			},
			{
				Name:      "status",
				Usage:     "show where a job stands; for a completed job submitted here, its answer",
				ArgsUsage: "JOB",
				Flags:     jobArgs(),
				Action:    flagsAfterArgs(jobStatus),
			},
			{
				Name:      "refund",
				Usage:     "close a job whose deadline passed unanswered: the escrow goes back to its client (anyone may send this)",
				ArgsUsage: "JOB",
				Flags:     jobArgs(optionalWallet()),
				Action:    flagsAfterArgs(func(c *cli.Context) error { return jobClose(c, true) }),
			},
			{
				Name:      "cancel",
				Usage:     "close a job its worker has not accepted yet (client only)",
				ArgsUsage: "JOB",
				Flags:     jobArgs(optionalWallet()),
				Action:    flagsAfterArgs(func(c *cli.Context) error { return jobClose(c, false) }),
			},
			{
				Name:   "workers",
				Usage:  "list the workers discovery accepts for a model, and those it refuses with the reason",
				Flags:  []cli.Flag{networkFlag(), rootFlag(), walletJSONFlag(), &cli.StringFlag{Name: "model", Required: true, Usage: "model name"}, &cli.DurationFlag{Name: "max-evidence-age", Value: client.DefaultMaxEvidenceAge, Usage: "refuse workers whose attestation evidence is older"}, policyFlag(), collateralFromFlag()},
				Action: jobWorkers,
			},
		},
	}
}

// newClient builds the SDK client from the command's flags; progress
// lines go to stderr, keeping stdout for the answer (or JSON).
func newClient(c *cli.Context, net chain.Network) (*client.Client, error) {
	log, err := logger(c)
	if err != nil {
		return nil, err
	}
	errw := c.App.ErrWriter
	if errw == nil {
		errw = os.Stderr
	}
	opts := client.Options{
		Dir: c.String("client-dir"), Logger: log,
		Progress: func(m string) { fmt.Fprintln(errw, m) },
	}
	// Commands without the flag read 0: the default.
	opts.MaxEvidenceAge = c.Duration("max-evidence-age")
	if opts.Policy, err = loadPolicyFlag(c); err != nil {
		return nil, err
	}
	if opts.Collateral, err = loadCollateralFlag(c); err != nil {
		return nil, err
	}
	return client.New(net, opts), nil
}

func openWallet(c *cli.Context) (*wallet.Wallet, error) {
	f, err := walletLoad(c)
	if err != nil {
		return nil, err
	}
	log, err := logger(c)
	if err != nil {
		return nil, err
	}
	w, err := f.Open(wallet.WithLogger(log))
	if err != nil {
		return nil, fmt.Errorf("--wallet: %w", err)
	}
	return w, nil
}

func readPrompt(c *cli.Context) (string, error) {
	p, file := c.String("prompt"), c.String("prompt-file")
	switch {
	case p != "" && file != "":
		return "", usageErr(errors.New("give --prompt or --prompt-file, not both"))
	case p != "":
		return p, nil
	case file == "":
		return "", usageErr(errors.New("a prompt is required: --prompt TEXT or --prompt-file FILE"))
	}
	var r io.Reader
	if file == "-" {
		r = c.App.Reader
		if r == nil {
			r = os.Stdin
		}
	} else {
		f, err := os.Open(file)
		if err != nil {
			return "", fmt.Errorf("--prompt-file: %w", err)
		}
		defer f.Close()
		r = f
	}
	b, err := io.ReadAll(io.LimitReader(r, maxPromptFile+1))
	if err != nil {
		return "", fmt.Errorf("--prompt-file: %w", err)
	}
	if len(b) > maxPromptFile {
		return "", fmt.Errorf("--prompt-file: over %d bytes", maxPromptFile)
	}
	if len(strings.TrimSpace(string(b))) == 0 {
		return "", errors.New("--prompt-file: the prompt is empty")
	}
	return string(b), nil
}

func tokensFlag(c *cli.Context, name string) (uint32, error) {
	v := c.Uint(name)
	if v > math.MaxInt32 {
		return 0, usageErr(fmt.Errorf("--%s: %d is too large", name, v))
	}
	return uint32(v), nil
}

func jobSubmit(c *cli.Context) error {
	prompt, err := readPrompt(c)
	if err != nil {
		return err
	}
	root, err := chain.ParseAddress(c.String("root"))
	if err != nil {
		return usageErr(fmt.Errorf("--root: %w", err))
	}
	req := client.SubmitRequest{Root: root, Model: c.String("model")}
	if c.IsSet("deadline") {
		// Unset, the SDK picks the default within Root's bounds.
		if req.Deadline = c.Duration("deadline"); req.Deadline <= 0 {
			return usageErr(fmt.Errorf("--deadline %s is not positive", req.Deadline))
		}
	}
	if s := c.String("system"); s != "" {
		req.Messages = []inference.Message{{Role: "system", Content: s}, {Role: "user", Content: prompt}}
	} else {
		req.Prompt = prompt
	}
	if req.MaxOutputTokens, err = tokensFlag(c, "max-output-tokens"); err != nil {
		return err
	}
	if req.MaxOutputTokens == 0 {
		return usageErr(errors.New("--max-output-tokens must be positive"))
	}
	if req.MaxInputTokens, err = tokensFlag(c, "max-input-tokens"); err != nil {
		return err
	}
	if s := c.String("worker"); s != "" {
		if req.Worker, err = chain.ParseAddress(s); err != nil {
			return usageErr(fmt.Errorf("--worker: %w", err))
		}
	}
	if s := c.String("callback"); s != "" {
		if req.Callback, err = chain.ParseAddress(s); err != nil {
			return usageErr(fmt.Errorf("--callback: %w", err))
		}
	}
	req.Public = c.Bool("public")
	net, err := openNetwork(c)
	if err != nil {
		return err
	}
	if req.Wallet, err = openWallet(c); err != nil {
		return err
	}
	cl, err := newClient(c, net)
	if err != nil {
		return err
	}
	job, err := cl.Submit(c.Context, req)
	if err != nil {
		if job != nil {
			return fmt.Errorf("%w\n(job %s: `cocoon job status %s` shows where it stands)", err, job.Address, job.Address)
		}
		return err
	}
	out, err := cl.Wait(c.Context, job)
	if errors.Is(err, client.ErrDeadlinePassed) && !c.Bool("no-refund") {
		fmt.Fprintln(c.App.ErrWriter, "the deadline passed without an answer; refunding…")
		if rout, rerr := cl.Refund(c.Context, req.Wallet, job); rerr == nil {
			out, err = rout, fmt.Errorf("job %s expired unanswered: %s", job.Address, rout.Reason)
		} else {
			err = fmt.Errorf("%w; the refund failed: %v (retry with cocoon job refund %s)", err, rerr, job.Address)
		}
	}
	if errors.Is(err, context.Canceled) {
		err = fmt.Errorf("%w; the job goes on: `cocoon job status %s` shows it later", err, job.Address)
	}
	return printOutcome(c, job, out, err)
}

func jobArg(c *cli.Context) (*address.Address, error) {
	if c.NArg() != 1 {
		return nil, usageErr(fmt.Errorf("%s: give exactly one JOB address", c.Command.Name))
	}
	a, err := chain.ParseAddress(c.Args().First())
	if err != nil {
		return nil, usageErr(fmt.Errorf("JOB: %w", err))
	}
	return a, nil
}

// loadJob opens the network and the client and loads the JOB argument.
func loadJob(c *cli.Context) (*client.Client, *client.Job, error) {
	addr, err := jobArg(c)
	if err != nil {
		return nil, nil, err
	}
	net, err := openNetwork(c)
	if err != nil {
		return nil, nil, err
	}
	cl, err := newClient(c, net)
	if err != nil {
		return nil, nil, err
	}
	job, err := cl.Load(c.Context, addr)
	if err != nil {
		return nil, nil, err
	}
	return cl, job, nil
}

func jobStatus(c *cli.Context) error {
	cl, job, err := loadJob(c)
	if err != nil {
		return err
	}
	out, err := cl.Status(c.Context, job)
	if out != nil && !out.State.Closed() && err == nil {
		// An open job is not an error: it is waiting.
		return printOutcome(c, job, out, nil)
	}
	return printOutcome(c, job, out, err)
}

func jobClose(c *cli.Context, refund bool) error {
	w, err := openWallet(c)
	if err != nil {
		return err
	}
	cl, job, err := loadJob(c)
	if err != nil {
		return err
	}
	var out *client.Outcome
	if refund {
		out, err = cl.Refund(c.Context, w, job)
	} else {
		out, err = cl.Cancel(c.Context, w, job)
	}
	if err != nil {
		return err
	}
	return printOutcome(c, job, out, nil)
}

func jobWorkers(c *cli.Context) error {
	root, err := chain.ParseAddress(c.String("root"))
	if err != nil {
		return usageErr(fmt.Errorf("--root: %w", err))
	}
	net, err := openNetwork(c)
	if err != nil {
		return err
	}
	cl, err := newClient(c, net)
	if err != nil {
		return err
	}
	d, err := cl.Discover(c.Context, root, c.String("model"))
	if err != nil {
		return err
	}
	w := c.App.Writer
	if c.Bool("json") {
		type wj struct {
			Worker    string   `json:"worker"`
			Endpoint  string   `json:"endpoint"`
			WorkerKey string   `json:"worker_key"` // signs receipts; a channel's payee key
			Owner     string   `json:"owner"`      // a channel's payout address
			TEE       string   `json:"tee"`
			PriceIn   string   `json:"price_in_per_1m"`
			PriceOut  string   `json:"price_out_per_1m"`
			Stake     string   `json:"stake"`
			Completed uint64   `json:"completed"`
			Failed    uint64   `json:"failed"`
			Slashed   uint64   `json:"slashed"`
			Insecure  bool     `json:"insecure"`
			Warnings  []string `json:"warnings,omitempty"`
		}
		type rj struct {
			Worker   string `json:"worker"`
			Endpoint string `json:"endpoint,omitempty"`
			Check    string `json:"check"`
			Reason   string `json:"reason"`
		}
		res := struct {
			Root     string `json:"root"`
			Model    string `json:"model"`
			TestMode bool   `json:"test_mode"`
			Workers  []wj   `json:"workers"`
			Refused  []rj   `json:"refused"`
		}{Root: root.String(), Model: d.Model, TestMode: d.TestMode, Workers: []wj{}, Refused: []rj{}}
		for _, x := range d.Workers {
			res.Workers = append(res.Workers, wj{x.Address.String(), x.Endpoint, hex.EncodeToString(x.WorkerKey), x.Owner.String(), x.TEE.String(), tonamount.Format(x.Price.PriceIn), tonamount.Format(x.Price.PriceOut),
				tonamount.Format(x.Stake), x.Completed, x.Failed, x.Slashed, x.Insecure, x.Warnings})
		}
		for _, x := range d.Refused {
			res.Refused = append(res.Refused, rj{x.Worker.String(), x.Endpoint, x.Check, x.Err.Error()})
		}
		return walletPrintJSON(w, res)
	}
	if d.TestMode {
		fmt.Fprintln(w, "Root is in TEST MODE: dev (insecure) attestation is accepted")
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "WORKER\tTEE\tIN/1M TON\tOUT/1M TON\tSTAKE TON\tDONE\tFAILED\tSLASHED\tENDPOINT")
	for _, x := range d.Workers {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t%s\n", x.Address, x.TEE, tonamount.Format(x.Price.PriceIn), tonamount.Format(x.Price.PriceOut),
			tonamount.Format(x.Stake), x.Completed, x.Failed, x.Slashed, x.Endpoint)
	}
	_ = tw.Flush()
	for _, x := range d.Refused {
		fmt.Fprintf(w, "refused %s (%s): %v\n", x.Worker, x.Check, x.Err)
	}
	return nil
}

// outcomeJSON is the --json form of a job's outcome.
type outcomeJSON struct {
	Job               string            `json:"job"`
	JobRaw            string            `json:"job_raw"`
	Worker            string            `json:"worker,omitempty"`
	State             string            `json:"state"`
	Reason            string            `json:"reason,omitempty"`
	Deadline          string            `json:"deadline,omitempty"`
	Insecure          bool              `json:"insecure_attestation,omitempty"`
	Public            bool              `json:"public"` // prompt and answer on chain in clear: not private
	Answer            *string           `json:"answer,omitempty"`
	FinishReason      string            `json:"finish_reason,omitempty"`
	WorkerError       *resultErrorJSON  `json:"worker_error,omitempty"`
	Tokens            *tokensJSON       `json:"tokens,omitempty"`
	Costs             map[string]string `json:"costs"`
	SlashCompensation string            `json:"slash_compensation,omitempty"`
	DeadlinePassed    bool              `json:"deadline_passed,omitempty"`
	Error             string            `json:"error,omitempty"`
}

type resultErrorJSON struct {
	Code    string `json:"code"`
	Message string `json:"message,omitempty"`
}

type tokensJSON struct {
	Input  uint32 `json:"input"`
	Output uint32 `json:"output"`
}

// costLines are the cost split in print order: JSON key, label.
var costLines = []struct{ key, label string }{
	{"escrow", "escrow"}, {"worker_pay", "worker pay"}, {"protocol_fee", "protocol fee"},
	{"gas", "gas"}, {"deposits", "other deposits"}, {"refund", "refund"}, {"spent", "spent"},
}

func costValues(c client.Costs) map[string]*big.Int {
	return map[string]*big.Int{
		"escrow": c.Escrow, "worker_pay": c.WorkerPay, "protocol_fee": c.ProtocolFee, "gas": c.Gas,
		"deposits": c.Deposits, "refund": c.Refund, "spent": c.Spent(),
	}
}

// printOutcome prints the answer (stdout) and the cost split, or the
// JSON form, and returns err so that the exit status reflects it.
func printOutcome(c *cli.Context, job *client.Job, out *client.Outcome, err error) error {
	w := c.App.Writer
	if out == nil {
		return err
	}
	var fe *client.FailedError
	if c.Bool("json") {
		j := outcomeJSON{Job: job.Address.String(), JobRaw: job.Address.StringRaw(), State: string(out.State), Reason: out.Reason,
			Insecure: job.Insecure, Public: job.Public, Costs: map[string]string{}}
		if job.Worker != nil {
			j.Worker = job.Worker.String()
		}
		if out.Deadline != 0 {
			j.Deadline = time.Unix(int64(out.Deadline), 0).UTC().Format(time.RFC3339)
		}
		if a := out.Answer; a != nil {
			if out.State == client.StateCompleted || a.Content != "" {
				j.Answer = &a.Content
			}
			j.FinishReason = string(a.FinishReason)
			if a.Error != nil {
				j.WorkerError = &resultErrorJSON{Code: string(a.Error.Code), Message: a.Error.Message}
			}
		}
		if r := out.Receipt; r != nil {
			j.Tokens = &tokensJSON{Input: r.InputTokens, Output: r.OutputTokens}
		}
		vals := costValues(out.Costs)
		for _, l := range costLines {
			j.Costs[l.key] = tonamount.Format(vals[l.key])
		}
		if out.SlashCompensation != nil {
			j.SlashCompensation = tonamount.Format(out.SlashCompensation)
		}
		j.DeadlinePassed = out.DeadlinePassed
		if err != nil {
			j.Error = err.Error()
		}
		if jerr := walletPrintJSON(w, j); jerr != nil {
			return jerr
		}
		return err
	}
	if a := out.Answer; a != nil && (out.State == client.StateCompleted || a.Content != "") {
		fmt.Fprintln(w, a.Content)
		fmt.Fprintln(w)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "job\t%s\n", job.Address)
	if job.Public {
		fmt.Fprintf(tw, "privacy\tPUBLIC: the prompt and the answer are on chain in clear (not private)\n")
	}
	if job.Worker != nil {
		ins := ""
		if job.Insecure {
			ins = "  (INSECURE: dev or debuggable attestation, test mode)"
		}
		fmt.Fprintf(tw, "worker\t%s%s\n", job.Worker, ins)
	}
	fmt.Fprintf(tw, "state\t%s\n", out.State)
	if out.Reason != "" {
		fmt.Fprintf(tw, "\t%s\n", out.Reason)
	}
	if !out.State.Closed() && out.Deadline != 0 {
		fmt.Fprintf(tw, "deadline\t%s\n", time.Unix(int64(out.Deadline), 0).UTC().Format(time.RFC3339))
		if out.DeadlinePassed {
			fmt.Fprintf(tw, "\tpassed without a receipt: `cocoon job refund %s` returns the escrow\n", job.Address)
		}
	}
	switch {
	case errors.As(err, &fe) && fe.Code != "":
		fmt.Fprintf(tw, "worker's error\t%s: %s\n", fe.Code, fe.Message)
	case out.Answer != nil && out.Answer.Error != nil:
		// A completed job whose answer is partial: the worker charged for it.
		fmt.Fprintf(tw, "worker's error\t%s: %s\n", out.Answer.Error.Code, out.Answer.Error.Message)
	}
	if r := out.Receipt; r != nil {
		finish := ""
		if out.Answer != nil && out.Answer.FinishReason != "" {
			finish = fmt.Sprintf(" (finish: %s)", out.Answer.FinishReason)
		}
		fmt.Fprintf(tw, "tokens\t%d in, %d out%s\n", r.InputTokens, r.OutputTokens, finish)
	}
	vals := costValues(out.Costs)
	for _, l := range costLines {
		if l.key == "deposits" && vals[l.key].Sign() == 0 {
			continue
		}
		fmt.Fprintf(tw, "%s\t%s TON\n", l.label, tonamount.Format(vals[l.key]))
	}
	if out.SlashCompensation != nil {
		fmt.Fprintf(tw, "slash compensation\t%s TON (from the worker's stake)\n", tonamount.Format(out.SlashCompensation))
	}
	_ = tw.Flush()
	return err
}
