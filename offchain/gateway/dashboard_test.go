package gateway

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cocoon-network/cocoon/offchain/dashboard"
	"github.com/cocoon-network/cocoon/offchain/dashboard/browsertest"
	"github.com/cocoon-network/cocoon/offchain/tonamount"
)

// The dashboard of a gateway that has served requests through a real
// worker: its data, then the page in headless chromium, which must show
// the status, the worker, the spend, the requests in the chart and the
// warnings (IOUs, test mode).
func TestDashboard(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	tg := newTestGateway(t, big.NewInt(1e12), newTestWorker(t, workerOpts{slots: 2}))
	// The chart's first sample, taken before any request, is its base.
	if _, err := tg.g.dash.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		resp := tg.do(t, "POST", "/v1/chat/completions", `{"model":"m1","messages":[{"role":"user","content":"one two"}],"max_tokens":20}`, nil)
		if resp.StatusCode != 200 {
			t.Fatalf("HTTP %d", resp.StatusCode)
		}
	}
	resp := tg.do(t, "POST", "/v1/chat/completions", `{"model":"nope","messages":[{"role":"user","content":"x"}]}`, nil)
	if resp.StatusCode != 404 {
		t.Fatalf("unknown model: HTTP %d", resp.StatusCode)
	}
	spent := tonamount.Format(tg.g.Spent()) + " TON"

	// The data, without a browser: no API key needed, like /healthz.
	req, _ := http.NewRequest("GET", tg.srv.URL+"/api/dashboard", nil)
	var v dashboard.View
	for {
		r, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		err = json.NewDecoder(r.Body).Decode(&v)
		r.Body.Close()
		if err != nil || r.StatusCode != 200 {
			t.Fatalf("GET /api/dashboard: HTTP %d, %v", r.StatusCode, err)
		}
		if field(v.Snapshot, "requests:ok") == "2" {
			break // a snapshot taken after the requests
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the dashboard never counted the 2 answered requests: %+v", v.Snapshot)
		case <-time.After(100 * time.Millisecond):
		}
	}
	s := v.Snapshot
	if s.Status != "serving" || s.Level != dashboard.LevelOK || field(s, "workers:m1") != "1 usable of 1" ||
		field(s, "spent") != spent || field(s, "requests:client_error") != "1" {
		t.Fatalf("snapshot %+v", s)
	}
	var texts []string
	for _, w := range s.Warnings {
		texts = append(texts, w.Text)
	}
	if len(texts) != 2 || !strings.Contains(texts[0], "IOUs") || !strings.Contains(texts[1], "test mode") {
		t.Fatalf("warnings %q, want the IOU and the test-mode ones", texts)
	}

	page := browsertest.Open(t, ctx, tg.srv.URL+"/")
	page.WaitFor(`document.querySelector('#legend [data-key="ok"]').textContent === "Answered: 2"`)
	checks := []struct{ what, got, want string }{
		{"status", page.Text("#status"), "serving"},
		{"workers", page.Field("workers:m1"), "1 usable of 1"},
		{"spent", page.Field("spent"), spent},
		{"scheme", page.Field("scheme"), tg.payer.Scheme()},
		{"answered", page.Field("requests:ok"), "2"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: the page shows %q, want %q", c.what, c.got, c.want)
		}
	}
	if w := page.Warnings(); !slices.Equal(w, texts) {
		t.Errorf("the page's warnings %q, want %q", w, texts)
	}
	if n := page.ChartPixels("#1f9d55"); n == 0 {
		t.Error("no answered request drawn in the chart")
	}
	page.Screenshot("gateway-dashboard.png")
}

// field is the value of a snapshot's field by key ("" when absent).
func field(s *dashboard.Snapshot, key string) string {
	if s == nil {
		return ""
	}
	for _, p := range s.Panels {
		for _, f := range p.Fields {
			if f.Key == key {
				return f.Value
			}
		}
	}
	return ""
}

// The gateway's status and warnings for the states that matter to the app
// running it: no worker for a model, a budget running out or spent.
func TestDashboardSnapshotStates(t *testing.T) {
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	cases := []struct {
		name     string
		models   []string
		workers  int // for the first model
		budget   *big.Int
		spent    int64
		status   string
		warnings []string
	}{
		{"serving", []string{testModel}, 1, nil, 0, "serving", nil},
		{"no workers", []string{testModel}, 0, nil, 0, "no workers", []string{"no usable worker for m1"}},
		{"one model of two", []string{testModel, "m2"}, 1, nil, 0, "degraded", []string{"no usable worker for m2"}},
		{"budget nearly spent", []string{testModel}, 1, big.NewInt(1000), 950, "serving", []string{"0.000000050 TON of the budget is left"}},
		{"budget spent", []string{testModel}, 1, big.NewInt(1000), 1000, "budget spent", []string{"the budget of 0.000001000 TON is spent"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g, err := New(Config{Source: &staticSource{}, Models: c.models, APIKeys: []string{testKey}, Payer: &IOUPayer{Key: key}, Budget: c.budget})
			if err != nil {
				t.Fatal(err)
			}
			for i := range c.workers {
				tw := newTestWorker(t, workerOpts{slots: 1})
				u, err := g.upstreamFor(tw.info, true)
				if err != nil {
					t.Fatal(err)
				}
				g.pools[testModel] = append(g.pools[testModel], u)
				g.byAddr[fmt.Sprint(i)] = u
			}
			g.payments.spent.SetInt64(c.spent)
			s, err := g.dashboardSnapshot(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if s.Status != c.status {
				t.Errorf("status %q, want %q", s.Status, c.status)
			}
			var got []string
			for _, w := range s.Warnings {
				if !strings.Contains(w.Text, "IOUs") { // every case pays with IOUs
					got = append(got, w.Text)
				}
			}
			if len(got) != len(c.warnings) {
				t.Fatalf("warnings %q, want %q", got, c.warnings)
			}
			for i, w := range c.warnings {
				if !strings.Contains(got[i], w) {
					t.Errorf("warning %q, want one about %q", got[i], w)
				}
			}
		})
	}
}
