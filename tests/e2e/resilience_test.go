package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cocoon-network/cocoon/bindings"
	"github.com/cocoon-network/cocoon/offchain/chain/readers"
	"github.com/cocoon-network/cocoon/offchain/client"
)

// The devnet is killed and restarted under a running worker with jobs in
// flight: the worker does not exit, logs that it is retrying, and every
// job still ends completed with exactly one receipt.
func TestWorkerRidesOutADevnetRestart(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	c := newCluster(t)
	a := newApp(t, c)
	// Slow generation keeps the jobs in flight across the restart.
	c.worker.kill()
	c.editWorkerConfig(t, map[string]string{"token_delay": `"30ms"`})
	c.startWorker(t)

	const jobs = 3
	var submitted []*client.Job
	for i := range jobs {
		job, err := a.sdk.Submit(ctx, client.SubmitRequest{Wallet: a.wallet, Root: a.root, Model: model,
			Prompt: fmt.Sprintf("restart-%d repeat 120 words", i), MaxOutputTokens: 160})
		if err != nil {
			t.Fatal(err)
		}
		submitted = append(submitted, job)
	}
	for _, job := range submitted {
		waitJobStatus(t, ctx, a.net, job.Address, bindings.JobAccepted)
	}

	for _, job := range submitted {
		if d, err := readers.NewJob(a.net, job.Address).JobData(ctx); err != nil || !d.Deployed || d.Status != bindings.JobAccepted {
			t.Fatalf("job %s was not in flight before the restart: %+v %v", job.Address, d, err)
		}
	}

	// Crash the devnet, keep it down until the worker has failed to read
	// the chain, and bring it back on the same data and address.
	c.devnet.kill()
	for !strings.Contains(c.worker.out.String(), "reading the chain failed; retrying") {
		select {
		case <-ctx.Done():
			t.Fatal("the worker never reported a failed chain read")
		case <-c.worker.done:
			t.Fatal("the worker exited when the devnet went away")
		case <-time.After(50 * time.Millisecond):
		}
	}
	addr := strings.TrimPrefix(c.network, "http://")
	c.devnet = start(t, "devnet", "devnet", "start", "--data", filepath.Join(c.dir, "devnet"), "--listen", addr, "--block-interval", "100ms")
	waitHTTP(t, c.network+"/healthz", 30*time.Second)

	for _, job := range submitted {
		out, err := a.sdk.Wait(ctx, job)
		if err != nil {
			t.Fatalf("job %s: %v", job.Address, err)
		}
		if out.State != client.StateCompleted || len(strings.Fields(out.Answer.Content)) < 120 {
			t.Fatalf("job %s after the restart: %s, %d words", job.Address, out.State, len(strings.Fields(out.Answer.Content)))
		}
		if n := receipts(t, ctx, a.net, job.Address); n != 1 {
			t.Fatalf("job %s: %d receipts, want exactly 1", job.Address, n)
		}
	}
	select {
	case <-c.worker.done:
		t.Fatal("the worker exited")
	default:
	}
	if !strings.Contains(c.worker.out.String(), "chain reads recovered") {
		t.Error("the worker never logged that chain reads recovered")
	}

	// worker status reads the same story from the chain.
	var st struct {
		Days []struct {
			Paid    int `json:"paid"`
			Slashed int `json:"slashed"`
		} `json:"days"`
		Jobs []struct {
			Event string `json:"event"`
			Job   string `json:"job"`
		} `json:"jobs"`
		FeesPaid string `json:"fees_paid_ton"`
		Channels *struct {
			Scheme    string `json:"scheme"`
			Unclaimed string `json:"unclaimed_ton"`
		} `json:"channels"` // asked of the running daemon
	}
	cliJSON(t, &st, "worker", "status", "--config", c.workerConfig())
	paid := 0
	for _, j := range st.Jobs {
		if j.Event == "paid" {
			paid++
		}
	}
	if paid != jobs || len(st.Days) != 1 || st.Days[0].Paid != jobs || st.Days[0].Slashed != 0 || st.FeesPaid == "" ||
		st.Channels == nil || st.Channels.Scheme != "channel" || st.Channels.Unclaimed != "0.000000000" {
		t.Errorf("worker status: %+v", st)
	}
}
