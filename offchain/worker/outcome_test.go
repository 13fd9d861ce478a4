package worker

import (
	"context"
	"io"
	"math/big"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/xssnick/tonutils-go/tlb"
	tonwallet "github.com/xssnick/tonutils-go/ton/wallet"

	"github.com/cocoon-network/cocoon/bindings"
	"github.com/cocoon-network/cocoon/offchain/chain/readers"
	"github.com/cocoon-network/cocoon/offchain/client"
	"github.com/cocoon-network/cocoon/offchain/inference/enginetest"
	"github.com/cocoon-network/cocoon/offchain/inference/reference"
)

// eventually polls cond until it holds; the test's context bounds it.
func eventually(t *testing.T, ctx context.Context, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("never: %s", what)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// A job refunded after its deadline while the worker was still generating
// is counted once, as expired (not also as completed when the worker's
// pipeline later finds it closed), the slash is counted as a slash, and
// the in-flight gauge comes back to zero.
func TestExpiredJobIsCountedOnce(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	n := setupNet(t, ctx)
	cfg, id, ln := registerWorker(t, ctx, n)
	eng := enginetest.NewGated()
	d, err := New(cfg, id, Options{Network: n.e, Engine: eng})
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = d.Run(ctx, ln) }()
	job, _ := submit(t, ctx, n, id, "too slow", 16)
	select {
	case <-eng.Entered():
	case <-ctx.Done():
		t.Fatal("the engine was never called")
	}
	if got := testutil.ToFloat64(d.metrics.InFlight); got != 1 {
		t.Fatalf("jobs in flight while generating = %v, want 1", got)
	}

	// The deadline passes on chain and the client takes its refund.
	if err := n.e.AdvanceTime(700 * time.Second); err != nil {
		t.Fatal(err)
	}
	t0, _ := n.e.MasterchainInfo(ctx)
	eventually(t, ctx, "chain time past the deadline", func() bool {
		info, err := n.e.MasterchainInfo(ctx)
		return err == nil && info.Time > t0.Time
	})
	body, err := bindings.Encode(bindings.Refund{QueryID: 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.client.Send(ctx, n.e, &tonwallet.Message{Mode: tonwallet.PayGasSeparately + tonwallet.IgnoreErrors, InternalMessage: &tlb.InternalMessage{
		IHRDisabled: true, Bounce: true, DstAddr: job, Amount: tlb.FromNanoTON(big.NewInt(client.CloseValue)), Body: body,
	}}); err != nil {
		t.Fatalf("refunding: %v", err)
	}
	waitGone(t, ctx, n, job)
	eventually(t, ctx, "the slash seen by the worker", func() bool { return testutil.ToFloat64(d.metrics.Slashes) == 1 })

	// The engine finishes now: the worker has a result, but the job is gone.
	eng.Release()
	eventually(t, ctx, "the job recorded as done", func() bool {
		r, err := d.Job(job.StringRaw())
		return err == nil && r.State == StateDone
	})
	r, _ := d.Job(job.StringRaw())
	if r.Outcome != OutcomeExpired {
		t.Errorf("outcome %q, want %q", r.Outcome, OutcomeExpired)
	}
	eventually(t, ctx, "no job in flight", func() bool { return testutil.ToFloat64(d.metrics.InFlight) == 0 })
	for outcome, want := range map[string]float64{OutcomeExpired: 1, OutcomeCompleted: 0, OutcomeFailed: 0} {
		if got := testutil.ToFloat64(d.metrics.Jobs.WithLabelValues(outcome)); got != want {
			t.Errorf("jobs_total{outcome=%q} = %v, want %v", outcome, got, want)
		}
	}

	// The chain history shows the slash, with the stake that went to the client.
	h, err := ReadHistory(ctx, n.e, d.Address(), 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Entries) != 1 || h.Entries[0].Kind != EventSlashed || !h.Entries[0].Job.Equals(job) || h.Slashed.Sign() <= 0 || !h.Complete {
		t.Fatalf("history %+v", h)
	}
	st, err := readers.NewWorker(n.e, d.Address()).WorkerState(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if days := h.Days(); len(days) != 1 || days[0].SlashedJobs != 1 || days[0].Slashed.Cmp(h.Slashed) != 0 {
		t.Fatalf("days %+v", days)
	}
	if st.JobsSlashed != 1 {
		t.Fatalf("contract counts %d slashed jobs", st.JobsSlashed)
	}
}

// A served job is counted once as completed; its posted request goes as
// soon as the job holds it, and its sealed result after the retention,
// after which the result endpoint says it was deleted.
func TestFinishedJobIsPruned(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	n := setupNet(t, ctx)
	cfg, id, ln := registerWorker(t, ctx, n)
	cfg.Retention.Duration = time.Millisecond
	d, err := New(cfg, id, Options{Network: n.e, Engine: reference.New(reference.Config{})})
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = d.Run(ctx, ln) }()
	job, env := submitPosted(t, ctx, n, id)
	resp, err := http.Post(cfg.PublicURL+"/v1/jobs/"+job.StringRaw()+"/request", "application/octet-stream", strings.NewReader(string(env)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("posting the request: %s", resp.Status)
	}
	waitGone(t, ctx, n, job)
	eventually(t, ctx, "the finished job pruned", func() bool {
		r, err := d.Job(job.StringRaw())
		return err == nil && r.Pruned
	})
	r, _ := d.Job(job.StringRaw())
	if r.Outcome != OutcomeCompleted || r.Request != nil || r.Result != nil || r.Receipt != nil || r.OutputTokens == 0 {
		t.Errorf("pruned record: outcome %q, request %d, result %d, receipt %d bytes, %d output tokens",
			r.Outcome, len(r.Request), len(r.Result), len(r.Receipt), r.OutputTokens)
	}
	if env, err := d.store.Posted(job.StringRaw()); err != nil || env != nil {
		t.Errorf("the posted request is still stored (%d bytes, %v)", len(env), err)
	}
	resp, err = http.Get(cfg.PublicURL + "/v1/jobs/" + job.StringRaw() + "/result")
	if err != nil {
		t.Fatal(err)
	}
	msg, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound || !strings.Contains(string(msg), "deleted") {
		t.Errorf("result after pruning: %s %s", resp.Status, msg)
	}
	if got := testutil.ToFloat64(d.metrics.Jobs.WithLabelValues(OutcomeCompleted)); got != 1 {
		t.Errorf("jobs_total{outcome=completed} = %v, want 1", got)
	}
	eventually(t, ctx, "no job in flight", func() bool { return testutil.ToFloat64(d.metrics.InFlight) == 0 })

	// The worker's pay, as the contract counts it, the history reads it
	// and the earnings metric adds it up, is one amount.
	st, err := readers.NewWorker(n.e, d.Address()).WorkerState(ctx)
	if err != nil {
		t.Fatal(err)
	}
	h, err := ReadHistory(ctx, n.e, d.Address(), 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Entries) != 1 || h.Entries[0].Kind != EventPaid || h.Earned.Cmp(st.TotalEarned) != 0 || h.Fees.Sign() <= 0 {
		t.Fatalf("history %+v (earned %s), contract total earned %s", h.Entries, h.Earned, st.TotalEarned)
	}
	eventually(t, ctx, "the pay counted in the earnings metric", func() bool {
		return testutil.ToFloat64(d.metrics.Earnings) == float64(st.TotalEarned.Int64())
	})
}
