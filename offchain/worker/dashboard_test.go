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
	"github.com/cocoon-network/cocoon/offchain/onlineproto"
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
	// The typed state tools read (cocoon worker status).
	resp, err = http.Get(cfg.PublicURL + "/api/worker")
	if err != nil {
		t.Fatal(err)
	}
	var state Dashboard
	err = json.NewDecoder(resp.Body).Decode(&state)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || state.Worker != d.Address().String() || state.Chain == nil ||
		state.Online.Scheme != onlineproto.ChannelScheme || state.Online.Channels != 0 || state.Online.Unclaimed != "0.000000000" {
		t.Fatalf("GET /api/worker: %s, %v, %+v", resp.Status, err, state)
	}

	page := browsertest.Open(t, ctx, cfg.PublicURL+"/")
	// The page shows a snapshot at most dashboard.DefaultMaxAge old.
	// The chain shows the job closed before the daemon's store records it:
	// wait for both.
	page.WaitFor(`document.querySelector('dd[data-key="chain-jobs"] .value')?.textContent.startsWith("1 completed") && ` +
		`document.querySelector('dd[data-key="totals"] .value')?.textContent.startsWith("1 completed")`)
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

// What the page shows for each state the worker and its contract can be in.
func TestDashboardSnapshot(t *testing.T) {
	ends := time.Date(2026, 12, 9, 6, 0, 0, 0, time.UTC)
	base := func() *Dashboard {
		return &Dashboard{
			Worker: "EQ-worker", Owner: "EQ-owner", Engine: "cocoon-reference", TEE: "tdx",
			EvidenceCreated: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), EvidenceAgeSec: 86400,
			Capacity: DashboardCapacity{MaxConcurrent: 4, InFlight: 1, MaxUploads: 8},
			Totals:   map[string]int{OutcomeCompleted: 3, OutcomeExpired: 1},
			Online: DashboardOnline{Scheme: onlineproto.ChannelScheme, Slots: 2, Requests: map[string]float64{"completed": 5, "busy": 2},
				Channels: 1, Unclaimed: "0.500000000", Deposits: "2.000000000"},
			Chain: &DashboardChain{Registered: true, ContractStatus: "active", Stake: "10.000000000", MinStake: "1.000000000",
				Earnings: "1.000000000", TotalEarned: "2.000000000", Slashed: "0.000000000", FeesPaid: "0.010000000",
				JobsCompleted: 3, JobsSlashed: 1, AttestationMatches: true},
		}
	}
	cases := []struct {
		name   string
		change func(w *Dashboard)
		status string
		level  dashboard.Level
		fields map[string]string
		levels map[string]dashboard.Level
	}{
		{"active", func(*Dashboard) {}, "active", dashboard.LevelOK,
			map[string]string{"stake": "10.000000000 TON", "unbonding": "no", "channel-earnings": "0.500000000 TON",
				"chain-jobs": "3 completed · 0 failed · 1 slashed", "totals": "3 completed · 0 failed · 1 expired · 0 closed",
				"online-requests": "5 answered · 2 not", "jobs-in-flight": "1 of 4", "evidence-age": "24 h", "tee": "tdx",
				"evidence-on-chain": "this worker's"},
			map[string]dashboard.Level{"contract-status": dashboard.LevelOK, "tee": ""}},
		{"unbonding", func(w *Dashboard) { w.Chain.ContractStatus, w.Chain.UnbondingEnds = "unbonding", &ends },
			"unbonding", dashboard.LevelWarn, map[string]string{"unbonding": "2026-12-09 06:00 UTC"},
			map[string]dashboard.Level{"unbonding": dashboard.LevelWarn}},
		{"slashed below the minimum", func(w *Dashboard) { w.Chain.ContractStatus, w.Chain.minStake = "slashed", true },
			"slashed", dashboard.LevelBad, nil, map[string]dashboard.Level{"stake": dashboard.LevelBad}},
		{"not registered", func(w *Dashboard) { w.Chain = &DashboardChain{} },
			"not registered", dashboard.LevelBad, map[string]string{"contract-status": "not registered"}, nil},
		{"chain unreachable", func(w *Dashboard) { w.Chain, w.ChainError = nil, "connection refused" },
			"chain unreachable", dashboard.LevelBad, map[string]string{"contract-status": "unknown"}, nil},
		{"dev attestation, old evidence, full", func(w *Dashboard) {
			w.TEE, w.EvidenceAgeSec, w.Capacity.InFlight = "dev", int64((26 * 24 * time.Hour).Seconds()), 4
		}, "active", dashboard.LevelOK, map[string]string{"evidence-age": "26 days"},
			map[string]dashboard.Level{"tee": dashboard.LevelBad, "evidence-age": dashboard.LevelWarn, "jobs-in-flight": dashboard.LevelWarn}},
		{"other evidence on chain", func(w *Dashboard) { w.Chain.AttestationMatches = false },
			"active", dashboard.LevelOK, map[string]string{"evidence-on-chain": "another"},
			map[string]dashboard.Level{"evidence-on-chain": dashboard.LevelBad}},
		{"IOU payments", func(w *Dashboard) { w.Online.Scheme = onlineproto.IOUScheme }, "active", dashboard.LevelOK, nil, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := base()
			c.change(w)
			s := w.Snapshot()
			if s.Status != c.status || s.Level != c.level {
				t.Fatalf("status %q (%s), want %q (%s)", s.Status, s.Level, c.status, c.level)
			}
			got := map[string]dashboard.Field{}
			for _, p := range s.Panels {
				for _, f := range p.Fields {
					if _, dup := got[f.Key]; dup {
						t.Fatalf("field %s twice", f.Key)
					}
					got[f.Key] = f
				}
			}
			for k, v := range c.fields {
				if got[k].Value != v {
					t.Errorf("%s = %q, want %q", k, got[k].Value, v)
				}
			}
			for k, lv := range c.levels {
				if got[k].Level != lv {
					t.Errorf("%s level %q, want %q", k, got[k].Level, lv)
				}
			}
			dash, err := dashboard.New(dashboard.ProviderFunc(func(context.Context) (*dashboard.Snapshot, error) { return s, nil }), dashboard.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := dash.Refresh(context.Background()); err != nil {
				t.Fatalf("the page refuses the snapshot: %v", err)
			}
		})
	}
}
