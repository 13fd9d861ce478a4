package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cocoon-network/cocoon/bindings"
	"github.com/cocoon-network/cocoon/offchain/chain"
	"github.com/cocoon-network/cocoon/offchain/chain/readers"
	"github.com/cocoon-network/cocoon/offchain/client/clienttest"
	bt "github.com/cocoon-network/cocoon/offchain/contracttest"
	"github.com/cocoon-network/cocoon/offchain/devnet/httpapi"
	"github.com/cocoon-network/cocoon/offchain/inference/enginetest"
	"github.com/cocoon-network/cocoon/offchain/wallet"
	"github.com/cocoon-network/cocoon/offchain/worker"
)

// syncBuffer is a bytes.Buffer safe for the progress lines a command
// writes while a test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// runJob runs `cocoon job ...` and returns stdout, stderr and the error.
func runJob(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return runJobCtx(ctx, args...)
}

func runJobCtx(ctx context.Context, args ...string) (string, string, error) {
	app := newApp()
	var out, errOut syncBuffer
	app.Writer, app.ErrWriter = &out, &errOut
	err := app.RunContext(ctx, append([]string{"cocoon", "job"}, args...))
	return out.String(), errOut.String(), err
}

func isolateJobEnv(t *testing.T) {
	isolateEnv(t)
	for _, k := range []string{"COCOON_ROOT", "COCOON_CLIENT_DIR"} {
		t.Setenv(k, "")
		if err := os.Unsetenv(k); err != nil {
			t.Fatal(err)
		}
	}
}

func TestJobUsageErrors(t *testing.T) {
	isolateJobEnv(t)
	dir := t.TempDir()
	walletPath := filepath.Join(dir, "w.json")
	f, err := wallet.New(wallet.V5R1)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Save(walletPath, false); err != nil {
		t.Fatal(err)
	}
	root := "0:" + strings.Repeat("ab", 32)
	base := []string{"submit", "--network", "http://127.0.0.1:1", "--wallet", walletPath, "--root", root, "--model", "m"}
	tests := []struct {
		name string
		args []string
		want string
		code int
	}{
		{"no prompt", base, "a prompt is required", 2},
		{"two prompts", append(base, "--prompt", "a", "--prompt-file", "x"), "not both", 2},
		{"empty prompt file", append(base, "--prompt-file", os.DevNull), "empty", 1},
		{"missing prompt file", append(base, "--prompt-file", filepath.Join(dir, "none")), "--prompt-file", 1},
		{"bad root", []string{"submit", "--network", "http://127.0.0.1:1", "--wallet", walletPath, "--root", "nope", "--model", "m", "--prompt", "p"}, "--root", 2},
		{"bad worker", append(base, "--prompt", "p", "--worker", "nope"), "--worker", 2},
		{"bad callback", append(base, "--prompt", "p", "--callback", "nope"), "--callback", 2},
		{"zero output tokens", append(base, "--prompt", "p", "--max-output-tokens", "0"), "must be positive", 2},
		{"negative deadline", append(base, "--prompt", "p", "--deadline", "-1m"), "not positive", 2},
		{"no network", []string{"submit", "--wallet", walletPath, "--root", root, "--model", "m", "--prompt", "p"}, "--network is required", 2},
		{"no root", []string{"submit", "--network", "http://127.0.0.1:1", "--wallet", walletPath, "--model", "m", "--prompt", "p"}, "Required flag", 2},
		{"unknown flag", append(base, "--prompt", "p", "--bogus"), "not defined", 2},
		{"status without a job", []string{"status", "--network", "http://127.0.0.1:1"}, "exactly one JOB", 2},
		{"status of a bad address", []string{"status", "--network", "http://127.0.0.1:1", "zz"}, "JOB", 2},
		{"refund without a wallet", []string{"refund", "--network", "http://127.0.0.1:1", root}, "wallet", 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := runJob(t, tc.args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) || exitCode(err) != tc.code {
				t.Fatalf("err %v (exit %d), want %q with exit %d", err, exitCode(err), tc.want, tc.code)
			}
		})
	}
}

// cliNet is a devnet served over its toncenter-compatible HTTP API, as
// `cocoon devnet start` serves it, with a Root and workers.
type cliNet struct {
	net       *clienttest.Net
	url       string
	walletArg string
	dir       string
}

func newCLINet(t *testing.T) *cliNet {
	t.Helper()
	isolateJobEnv(t)
	n := clienttest.NewNet(t, "llama-3.1-8b")
	srv := httptest.NewServer(httpapi.New(n.Env.Chain, nil).Handler())
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	f, err := wallet.New(wallet.V5R1)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "app-wallet.json")
	if err := f.Save(path, false); err != nil {
		t.Fatal(err)
	}
	addr, err := f.Address()
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Env.Fund(context.Background(), addr, bt.TON("50")); err != nil {
		t.Fatal(err)
	}
	return &cliNet{net: n, url: srv.URL, walletArg: path, dir: filepath.Join(dir, "jobs")}
}

func (c *cliNet) submitArgs(extra ...string) []string {
	return append([]string{"submit", "--network", c.url, "--wallet", c.walletArg, "--root", c.net.Root.String(),
		"--model", c.net.Model, "--client-dir", c.dir}, extra...)
}

// workerDone waits until w's daemon has finished job and checks how it ended.
func (c *cliNet) workerDone(t *testing.T, w *clienttest.Worker, job, want string) {
	t.Helper()
	a, err := chain.ParseAddress(job)
	if err != nil {
		t.Fatalf("job %q: %v", job, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	r, err := w.Done(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	if r.Outcome != want {
		t.Fatalf("worker ended job %s as %q (fail reason %q), want %q", job, r.Outcome, r.FailReason, want)
	}
}

var tonAmount = regexp.MustCompile(`^\d+\.\d{9}$`)

func TestJobSubmitStatusOnDevnet(t *testing.T) {
	c := newCLINet(t)
	w := c.net.NewWorker("w", 1_000_000_000_000, 3_000_000_000_000)
	c.net.Run(20 * time.Millisecond)

	// The workers list, as an app would check before paying.
	out, _, err := runJob(t, "workers", "--network", c.url, "--root", c.net.Root.String(), "--model", c.net.Model, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var workers struct {
		TestMode bool `json:"test_mode"`
		Workers  []struct {
			Worker   string `json:"worker"`
			Insecure bool   `json:"insecure"`
		} `json:"workers"`
	}
	if err := json.Unmarshal([]byte(out), &workers); err != nil || !workers.TestMode || len(workers.Workers) != 1 || !workers.Workers[0].Insecure {
		t.Fatalf("workers: %s (%v)", out, err)
	}

	// An app's own policy reaches discovery: requiring GPU evidence for the
	// model refuses this dev worker, by name of the check.
	policy := filepath.Join(t.TempDir(), "policy.json")
	if err := os.WriteFile(policy, []byte(`{"models":{"`+c.net.Model+`":{"require_gpu":true}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	out, _, err = runJob(t, "workers", "--network", c.url, "--root", c.net.Root.String(), "--model", c.net.Model, "--policy", policy, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var refused struct {
		Workers []json.RawMessage `json:"workers"`
		Refused []struct {
			Check  string `json:"check"`
			Reason string `json:"reason"`
		} `json:"refused"`
	}
	if err := json.Unmarshal([]byte(out), &refused); err != nil || len(refused.Workers) != 0 || len(refused.Refused) != 1 ||
		!strings.Contains(strings.ToLower(refused.Refused[0].Reason+refused.Refused[0].Check), "gpu") {
		t.Fatalf("workers --policy (GPU required): %s (%v)", out, err)
	}
	if _, _, err := runJob(t, "workers", "--network", c.url, "--root", c.net.Root.String(), "--model", c.net.Model, "--policy", policy+".missing"); err == nil || !strings.Contains(err.Error(), "--policy") {
		t.Fatalf("a missing policy file: %v, want an error naming --policy", err)
	}

	out, stderr, err := runJob(t, c.submitArgs("--prompt", "What is TON?", "--json")...)
	if err != nil {
		t.Fatalf("submit: %v\nstderr:\n%s", err, stderr)
	}
	var res struct {
		Job      string              `json:"job"`
		State    string              `json:"state"`
		Answer   *string             `json:"answer"`
		Tokens   struct{ Input int } `json:"tokens"`
		Costs    map[string]string   `json:"costs"`
		Insecure bool                `json:"insecure_attestation"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("submit --json printed %q: %v", out, err)
	}
	c.workerDone(t, w, res.Job, worker.OutcomeCompleted)
	if res.State != "completed" || res.Answer == nil || !strings.Contains(*res.Answer, "echo: What is TON?") || res.Tokens.Input != 3 || !res.Insecure {
		t.Fatalf("submit: %s", out)
	}
	for _, k := range []string{"escrow", "worker_pay", "protocol_fee", "gas", "refund", "spent"} {
		if !tonAmount.MatchString(res.Costs[k]) {
			t.Errorf("cost %s = %q, want TON with 9 decimals", k, res.Costs[k])
		}
	}
	for _, want := range []string{"discovering workers", "INSECURE", "deploying job"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("progress lacks %q:\n%s", want, stderr)
		}
	}

	// Text status of the finished job: the answer, then the split.
	out, _, err = runJob(t, "status", res.Job, "--network", c.url, "--client-dir", c.dir)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out, *res.Answer+"\n") {
		t.Errorf("status does not start with the answer:\n%s", out)
	}
	for _, want := range []string{"state", "completed", "tokens", "3 in", "escrow", "worker pay", "protocol fee", "gas", "refund", res.Costs["refund"] + " TON"} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}
	// Refund of a closed job is refused.
	if _, _, err := runJob(t, "refund", res.Job, "--network", c.url, "--wallet", c.walletArg, "--client-dir", c.dir); err == nil || !strings.Contains(err.Error(), "not open") {
		t.Errorf("refund of a completed job: %v", err)
	}
}

func TestJobSubmitExpiresAndRefunds(t *testing.T) {
	c := newCLINet(t)
	// The worker's engine holds every job: it never answers.
	c.net.NewWorkerWith("w", clienttest.WorkerOptions{PriceIn: 1_000_000_000_000, PriceOut: 3_000_000_000_000, Engine: enginetest.NewGated()})
	c.net.Run(20 * time.Millisecond)

	// Move the clock past the deadline once the worker has accepted.
	advanced := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		for {
			if job := acceptedJob(ctx, c); job != "" {
				advanced <- c.net.Env.AdvanceTime(ctx, 3*time.Minute)
				return
			}
			select {
			case <-ctx.Done():
				advanced <- ctx.Err()
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, stderr, err := runJobCtx(ctx, c.submitArgs("--prompt", "hello", "--deadline", "2m")...)
	if aerr := <-advanced; aerr != nil {
		t.Fatal(aerr)
	}
	if err == nil || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("submit: %v\n%s\n%s", err, out, stderr)
	}
	if !strings.Contains(stderr, "refunding") || !strings.Contains(out, "state") || !strings.Contains(out, "expired") ||
		!strings.Contains(out, "slash compensation  1.000000000 TON") {
		t.Fatalf("expired job output:\n%s\nstderr:\n%s", out, stderr)
	}
}

// acceptedJob returns the job recorded in the client dir once its worker
// has accepted it ("" before).
func acceptedJob(ctx context.Context, c *cliNet) string {
	entries, _ := os.ReadDir(c.dir)
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".json") || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		raw, err := os.ReadFile(filepath.Join(c.dir, e.Name()))
		if err != nil {
			continue
		}
		var rec struct {
			Job string `json:"job"`
		}
		if json.Unmarshal(raw, &rec) != nil {
			continue
		}
		a, err := chain.ParseAddress(rec.Job)
		if err != nil {
			continue
		}
		d, err := readers.NewJob(c.net.Env.Chain, a).JobData(ctx)
		if err == nil && d.Deployed && d.Status == bindings.JobAccepted {
			return rec.Job
		}
	}
	return ""
}
