package worker

import (
	"context"
	"encoding/json"
	"io"
	"math/big"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/cocoon-network/cocoon/offchain/channel"
	"github.com/cocoon-network/cocoon/offchain/inference/reference"
)

// chromium finds Debian's chromium (apt-get install -y chromium). Without
// it the browser check is skipped, unless COCOON_REQUIRE_BROWSER is set
// (as CI sets it), which makes a missing browser a failure.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("COCOON_REQUIRE_BROWSER") != "" {
		t.Fatal("no chromium found and COCOON_REQUIRE_BROWSER is set: apt-get install -y chromium")
	}
	t.Skip("no chromium found: apt-get install -y chromium to run the dashboard's browser test")
	return ""
}

// The dashboard of a worker that has served a job: its data over the API,
// then the page in a real headless browser, which must show the contract,
// the stake, the warnings and the job in the chart. A screenshot is kept
// in $COCOON_TEST_ARTIFACTS (or the test's temporary directory).
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

	resp, err := http.Get(cfg.PublicURL + "/api/dashboard")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var dash Dashboard
	if err := json.Unmarshal(raw, &dash); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /api/dashboard: %s %s (%v)", resp.Status, raw, err)
	}
	if dash.Status != "ok" || dash.Chain == nil || dash.Chain.ContractStatus != "active" || dash.Chain.JobsCompleted != 1 ||
		!dash.Chain.AttestationMatches || dash.Totals[OutcomeCompleted] != 1 || len(dash.Chain.Days) != 1 || dash.Chain.Days[0].Paid != 1 {
		t.Fatalf("dashboard data: %s", raw)
	}
	if dash.Channels == nil || dash.Channels.Open != 0 || dash.Channels.Received != "0.000000000" {
		t.Fatalf("channel earnings of a worker without channels: %s", raw)
	}
	if last := dash.Hours[len(dash.Hours)-1]; len(dash.Hours) != 24 || last.Outcomes[OutcomeCompleted] != 1 {
		t.Fatalf("hours: %+v", dash.Hours)
	}
	if len(dash.Warnings) != 1 || !strings.Contains(dash.Warnings[0], "INSECURE") {
		t.Fatalf("warnings %q, want only the dev-attestation one", dash.Warnings)
	}

	t.Run("in a browser", func(t *testing.T) {
		exe := chromium(t)
		opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(exe), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.WindowSize(1280, 1000))
		actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
		defer cancelAlloc()
		bctx, cancelBrowser := chromedp.NewContext(actx)
		defer cancelBrowser()
		if err := chromedp.Do(bctx, chromedp.Navigate(cfg.PublicURL+"/"),
			chromedp.WaitVisible(chromedp.CSS(`body[data-loaded="true"]`))); err != nil {
			t.Fatalf("loading the page: %v", err)
		}
		text := func(sel string) string {
			t.Helper()
			s, err := chromedp.Run(bctx, chromedp.Text(chromedp.CSS(sel)))
			if err != nil {
				t.Fatalf("reading %s: %v", sel, err)
			}
			return strings.TrimSpace(s)
		}
		count := func(sel string) int {
			t.Helper()
			n, err := chromedp.Run(bctx, chromedp.Evaluate[int](`document.querySelectorAll(`+"`"+sel+"`"+`).length`))
			if err != nil {
				t.Fatalf("counting %s: %v", sel, err)
			}
			return n
		}
		status, contract, stake := text("#status"), text("#contract-status"), text("#stake")
		warnings, totals, chainJobs := text("#warnings"), text("#totals"), text("#chain-jobs")
		completedBars, earnedBars := count("#jobs-chart rect.completed"), count("#earnings-chart rect.earned")
		shot, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot: %v", err)
		}
		dir := os.Getenv("COCOON_TEST_ARTIFACTS")
		if dir == "" {
			dir = t.TempDir()
		}
		if err := os.MkdirAll(dir, 0o755); err == nil {
			p := filepath.Join(dir, "worker-dashboard.png")
			if err := os.WriteFile(p, shot, 0o644); err == nil {
				t.Logf("screenshot: %s", p)
			}
		}
		checks := []struct {
			what string
			ok   bool
		}{
			{"status ok: " + status, status == "ok"},
			{"contract active: " + contract, contract == "active"},
			{"stake as on chain: " + stake + " vs " + dash.Chain.Stake, stake == dash.Chain.Stake},
			{"the dev-attestation warning: " + warnings, strings.Contains(warnings, "INSECURE")},
			{"the job kept on this worker: " + totals, strings.Contains(totals, "1 completed")},
			{"the job on chain: " + chainJobs, strings.HasPrefix(chainJobs, "1 completed")},
			{"a completed bar in the jobs chart", completedBars == 1},
			{"an earnings bar", earnedBars == 1},
			{"a screenshot", len(shot) > 1000},
		}
		for _, c := range checks {
			if !c.ok {
				t.Errorf("the page lacks %s", c.what)
			}
		}
	})
}

// The dashboard sums the payee side of the payment channels: what vouchers
// paid, what is already on chain, and what is still only in vouchers.
func TestDashboardChannelEarnings(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d, e := bareDaemon(t, ctx, nil)
	store, err := channel.OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	ton := func(n int64) *big.Int { return new(big.Int).Mul(big.NewInt(n), big.NewInt(1e9)) }
	for i, r := range []*channel.Record{
		{Role: channel.RolePayee, Phase: channel.PhaseOpen, Voucher: &channel.SignedState{Sent: ton(3)}, Withdrawn: ton(1)},
		{Role: channel.RolePayee, Phase: channel.PhaseClosed, Voucher: &channel.SignedState{Sent: ton(2)}, Withdrawn: ton(2)},
		{Role: channel.RolePayee, Phase: channel.PhaseOpening},                                            // no payment yet
		{Role: channel.RolePayer, Phase: channel.PhaseOpen, Voucher: &channel.SignedState{Sent: ton(50)}}, // not the worker's side
	} {
		r.Terms.ID[0] = byte(i + 1)
		r.Address, r.Terms.PayerAddress, r.Terms.PayeeAddress = testAddrN(byte(10+i)), testAddrN(3), d.owner
		if r.Voucher != nil { // the sums do not check signatures; the store wants their shape
			r.Voucher.Channel, r.Voucher.Seqno, r.Voucher.Signature = r.Terms.ID, 1, make([]byte, 64)
		}
		if err := store.Put(r); err != nil {
			t.Fatal(err)
		}
	}
	payee, err := channel.NewPayee(channel.PayeeConfig{Net: e, Key: d.id.SignKey, Payout: d.owner, Store: store})
	if err != nil {
		t.Fatal(err)
	}
	d.online.setPayee(payee, nil)
	got, err := d.channelEarnings()
	if err != nil {
		t.Fatal(err)
	}
	want := &ChannelEarnings{Open: 2, Closed: 1, Received: "5.000000000", Withdrawn: "3.000000000", Pending: "2.000000000"}
	if *got != *want {
		t.Fatalf("channel earnings %+v, want %+v", got, want)
	}
}
