package worker

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cocoon-network/cocoon/offchain/dashboard"
	"github.com/cocoon-network/cocoon/offchain/dashboard/browsertest"
	"github.com/cocoon-network/cocoon/offchain/inference/reference"
)

// The dashboard of a worker that has served a job on the devnet: its data,
// then the page in headless Debian chromium, which must show the contract's
// status and stake, the job on chain and in the store, the warnings, and
// bars in the charts. The screenshot goes to $COCOON_TEST_ARTIFACTS (or the
// test's artifact directory: go test -artifacts keeps it).
func TestDashboard(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	n := setupNet(t, ctx)
	cfg, id, ln := registerWorker(t, ctx, n)
	d, err := New(cfg, id, Options{Network: n.e, Engine: reference.New(reference.Config{}), GPU: "no GPU (test)"})
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = d.Run(ctx, ln) }()
	job, _ := submit(t, ctx, n, id, "dashboard", 16)
	waitGone(t, ctx, n, job)
	eventually(t, ctx, "the job recorded as done", func() bool {
		r, err := d.Job(job.StringRaw())
		return err == nil && r.State == StateDone
	})

	// The chain part is reused for dashboardChainTTL: wait for a read
	// taken after the job closed.
	var dash *Dashboard
	eventually(t, ctx, "the dashboard reading the job on chain", func() bool {
		dash, err = d.Dashboard(ctx)
		return err == nil && dash.Chain != nil && dash.Chain.JobsCompleted == 1
	})
	raw, _ := json.Marshal(dash)
	if dash.Status != "ok" || dash.Chain == nil || dash.Chain.ContractStatus != "active" || dash.Chain.JobsCompleted != 1 ||
		!dash.Chain.AttestationMatches || dash.Totals[OutcomeCompleted] != 1 || len(dash.Chain.Days) != 1 || dash.Chain.Days[0].Paid != 1 {
		t.Fatalf("dashboard data: %s", raw)
	}
	if last := dash.Hours[len(dash.Hours)-1]; len(dash.Hours) != 24 || last.Outcomes[OutcomeCompleted] != 1 {
		t.Fatalf("hours: %+v", dash.Hours)
	}
	if len(dash.Warnings) != 1 || dash.Warnings[0].Level != dashboard.LevelBad || !strings.Contains(dash.Warnings[0].Text, "INSECURE") {
		t.Fatalf("warnings %+v, want only the dev-attestation one", dash.Warnings)
	}

	// The data the page polls.
	resp, err := http.Get(cfg.PublicURL + "/api/dashboard")
	if err != nil {
		t.Fatal(err)
	}
	var view dashboard.View
	err = json.NewDecoder(resp.Body).Decode(&view)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || view.Snapshot == nil || view.Snapshot.Status != "active" {
		t.Fatalf("GET /api/dashboard: %s, %v, %+v", resp.Status, err, view.Snapshot)
	}

	page := browsertest.Open(t, ctx, cfg.PublicURL+"/")
	// The page shows a snapshot at most dashboard.DefaultMaxAge old.
	page.WaitFor(`document.querySelector('dd[data-key="chain-jobs"] .value')?.textContent.startsWith("1 completed")`)
	checks := []struct{ what, got, want string }{
		{"status", page.Text("#status"), "active"},
		{"subject", page.Text("#subject"), d.Address().String()},
		{"contract status", page.Field("contract-status"), "active"},
		{"stake as on chain", page.Field("stake"), dash.Chain.Stake + " TON"},
		{"unbonding", page.Field("unbonding"), "no"},
		{"the job on chain", page.Field("chain-jobs"), "1 completed · 0 failed · 0 slashed"},
		{"the job in the store", page.Field("totals"), "1 completed · 0 failed · 0 expired · 0 closed"},
		{"withdrawable earnings", page.Field("earnings"), dash.Chain.Earnings + " TON"},
		{"attestation type", page.Field("tee"), "dev"},
		{"jobs in flight", page.Field("jobs-in-flight"), fmt.Sprintf("0 of %d", cfg.MaxConcurrent)},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: the page shows %q, want %q", c.what, c.got, c.want)
		}
	}
	if w := page.Warnings(); len(w) != 1 || !strings.Contains(w[0], "INSECURE") {
		t.Errorf("the page's warnings %q, want only the dev-attestation one", w)
	}
	const green = "#1f9d55" // LevelOK in the page's palette
	if n := page.HistoryPixels("jobs-per-hour", green); n == 0 {
		t.Error("the completed job is not drawn in the jobs-per-hour chart")
	}
	if n := page.HistoryPixels("pay-per-day", green); n == 0 {
		t.Error("the job's pay is not drawn in the pay-per-day chart")
	}
	page.Screenshot("worker-dashboard.png")
}
