package dashboard_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cocoon-network/cocoon/offchain/dashboard"
	"github.com/cocoon-network/cocoon/offchain/dashboard/browsertest"
)

// Colours of the chart (style.css / app.js) by level.
const (
	green = "#1f9d55"
	red   = "#d64545"
)

// daemon is a provider the test drives.
type daemon struct {
	mu        sync.Mutex
	completed float64
	failed    float64
	stake     string
	warnings  []dashboard.Warning
}

func (d *daemon) Snapshot(context.Context) (*dashboard.Snapshot, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return &dashboard.Snapshot{
		Title: "Cocoon worker", Subject: "EQ-browser-test", Status: "active", Level: dashboard.LevelOK,
		Panels: []dashboard.Panel{
			{Title: "Stake", Fields: []dashboard.Field{
				{Key: "stake", Label: "Stake", Value: d.stake},
				// Markup in a value is shown as text, never run.
				{Key: "endpoint", Label: "Endpoint", Value: `<img src=x onerror="document.body.dataset.pwned=1">`},
			}},
		},
		Counters: []dashboard.Counter{
			{Key: "completed", Label: "Completed", Level: dashboard.LevelOK, Value: d.completed},
			{Key: "failed", Label: "Failed", Level: dashboard.LevelBad, Value: d.failed},
		},
		ChartTitle: "Jobs by outcome",
		Histories: []dashboard.History{{
			Key: "pay", Title: "Pay per day", Unit: "TON", IntervalSeconds: 86400, Slots: 7,
			Series: []dashboard.Series{{Key: "earned", Label: "Earned", Level: dashboard.LevelOK}},
			Bars: []dashboard.Bar{
				{Start: day(-2).UnixMilli(), End: day(-1).UnixMilli(), Values: []float64{0.25}},
				{Start: day(-1).UnixMilli(), End: day(0).UnixMilli(), Values: []float64{1.5}},
			},
		}},
		Warnings: append([]dashboard.Warning(nil), d.warnings...),
	}, nil
}

// day is the start of a UTC day relative to today's.
func day(n int) time.Time { return time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, n) }

func (d *daemon) update(f func(d *daemon)) {
	d.mu.Lock()
	defer d.mu.Unlock()
	f(d)
}

// The page in headless chromium shows what the provider says, draws the
// chart, follows changes as it polls, and never runs a value as markup.
func TestPageInBrowser(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	d := &daemon{stake: "12.500000000 TON", completed: 3, warnings: []dashboard.Warning{
		{Level: dashboard.LevelBad, Text: "INSECURE: dev attestation"},
	}}
	dash, err := dashboard.New(d, dashboard.Options{
		Interval: time.Minute, MaxAge: time.Nanosecond, Poll: 100 * time.Millisecond,
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(dash.Handler())
	defer srv.Close()
	// The first sample is the base; what the daemon does next is growth.
	if _, err := dash.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	d.update(func(d *daemon) { d.completed, d.failed = 7, 2 })

	page := browsertest.Open(t, ctx, srv.URL+"/")
	checks := []struct{ what, got, want string }{
		{"title", page.Text("#title"), "Cocoon worker"},
		{"subject", page.Text("#subject"), "EQ-browser-test"},
		{"status", page.Text("#status"), "active"},
		{"stake", page.Field("stake"), "12.500000000 TON"},
		{"markup as text", page.Field("endpoint"), `<img src=x onerror="document.body.dataset.pwned=1">`},
		{"chart title", browsertest.Eval[string](page, `document.getElementById("chart-title").textContent`), "Jobs by outcome"},
		{"completed in the legend", page.Text(`#legend [data-key="completed"]`), "Completed: 4"},
		{"failed in the legend", page.Text(`#legend [data-key="failed"]`), "Failed: 2"},
		{"pay in the history's legend", page.Text(`#histories [data-key="pay"] .legend [data-key="earned"]`), "Earned: 1.75 TON"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: the page shows %q, want %q", c.what, c.got, c.want)
		}
	}
	if diff := cmp.Diff([]string{"INSECURE: dev attestation"}, page.Warnings()); diff != "" {
		t.Errorf("warnings (-want +got):\n%s", diff)
	}
	if browsertest.Eval[bool](page, `document.body.dataset.pwned === "1"`) {
		t.Error("a value was run as markup")
	}
	if g, r := page.ChartPixels(green), page.ChartPixels(red); g == 0 || r == 0 || g <= r {
		t.Errorf("chart pixels: %d green (4 completed), %d red (2 failed): want both drawn, green taller", g, r)
	}
	if n := page.HistoryPixels("pay", green); n == 0 {
		t.Error("the pay history has no bar drawn")
	}
	page.Screenshot("dashboard.png")

	// A poll that brings nothing new leaves the page's nodes alone: a
	// value being selected (an address being copied) stays selected.
	browsertest.Eval[bool](page, `(window.kept = document.querySelector('dd[data-key="stake"]'), true)`)
	before := page.Text("#updated")
	page.WaitFor(fmt.Sprintf(`document.getElementById("updated").textContent !== %q`, before))
	if !browsertest.Eval[bool](page, `window.kept.isConnected`) {
		t.Error("a poll with the same values rebuilt the panels")
	}

	// The daemon moves on: the open page follows without a reload.
	d.update(func(d *daemon) {
		d.completed, d.stake, d.warnings = 9, "2.000000000 TON", []dashboard.Warning{{Level: dashboard.LevelWarn, Text: "stake below the minimum"}}
	})
	page.WaitFor(`document.querySelector('dd[data-key="stake"] .value').textContent === "2.000000000 TON"`)
	page.WaitFor(`document.querySelector('#legend [data-key="completed"]').textContent === "Completed: 6"`)
	if w := page.Warnings(); len(w) != 1 || !strings.Contains(w[0], "below the minimum") {
		t.Errorf("warnings after the change: %q", w)
	}
}
