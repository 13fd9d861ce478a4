package worker

import (
	"context"
	"testing"
	"time"

	"github.com/xssnick/tonutils-go/address"

	"github.com/cocoon-network/cocoon/bindings"
	"github.com/cocoon-network/cocoon/offchain/chain/readers"
)

// The daemon is down while its Worker contract keeps accepting jobs, for
// longer than a job's deadline. When it comes back it serves the job it
// still can, refunds at once (a failure receipt: no slash) the one it can
// no longer serve in time, and leaves only the one already past its
// deadline to be refunded, and slashed, by its client.
func TestRestartAfterAnOutageLongerThanADeadline(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	n := setupNet(t, ctx)
	cfg, id, ln := registerWorker(t, ctx, n) // registered, daemon not running: the outage
	const outage = 100                       // seconds
	margin := uint32(receiptMargin / time.Second)
	missed, _, _ := submitDue(t, ctx, n, id, "due during the outage", 16, true, 40)
	tooLate, _, _ := submitDue(t, ctx, n, id, "due right after it", 16, true, outage+margin-5)
	alive, _, _ := submitDue(t, ctx, n, id, "due later", 16, true, 600)
	for _, job := range []*address.Address{missed, tooLate, alive} {
		waitAccepted(t, ctx, n, job)
	}
	if err := n.e.AdvanceTime(outage * time.Second); err != nil {
		t.Fatal(err)
	}

	d := runWorker(t, ctx, n, cfg, id, ln)
	if r := waitClosed(t, ctx, n, alive); r.Failed {
		t.Error("the job still in time was not served")
	}
	if r := waitClosed(t, ctx, n, tooLate); !r.Failed {
		t.Error("the job the worker could no longer serve in time was not refunded with a failure receipt")
	}
	for {
		r, err := d.Job(missed.StringRaw())
		if err == nil && r.State == StateDone {
			if r.Outcome != OutcomeExpired {
				t.Errorf("the missed job's record: %s, want %s", r.Outcome, OutcomeExpired)
			}
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the missed job's record: %+v, %v", r, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
	// Only the missed job is left, accepted, for its client to refund.
	if data, err := readers.NewJob(n.e, missed).JobData(ctx); err != nil || data.Status != bindings.JobAccepted {
		t.Fatalf("the missed job: %+v, %v", data, err)
	}
	st, err := readers.NewWorker(n.e, d.Address()).WorkerState(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.JobsCompleted != 1 || st.JobsFailed != 1 || st.JobsSlashed != 0 {
		t.Errorf("worker counters: %d completed, %d failed, %d slashed; want 1, 1, 0 before the client's refund", st.JobsCompleted, st.JobsFailed, st.JobsSlashed)
	}
}

// waitAccepted waits until the worker's contract accepted job.
func waitAccepted(t *testing.T, ctx context.Context, n *testNet, job *address.Address) {
	t.Helper()
	for {
		data, err := readers.NewJob(n.e, job).JobData(ctx)
		if err == nil && data.Status == bindings.JobAccepted {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("job %s not accepted: %+v, %v", job, data, err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}
