package dashboard

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
)

// fakeDaemon is a provider whose counters and failures the test sets.
type fakeDaemon struct {
	mu       sync.Mutex
	calls    int
	done     float64
	failed   float64
	err      error
	snapshot func() *Snapshot // overrides the default snapshot when set
}

func (f *fakeDaemon) Snapshot(context.Context) (*Snapshot, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.err != nil {
		return nil, f.err
	}
	if f.snapshot != nil {
		return f.snapshot(), nil
	}
	return &Snapshot{
		Title: "Cocoon test", Subject: "EQ-test", Status: "active", Level: LevelOK,
		Panels: []Panel{{Title: "Stake", Fields: []Field{{Key: "stake", Label: "Stake", Value: "10.000000000 TON"}}}},
		Counters: []Counter{
			{Key: "completed", Label: "Completed", Level: LevelOK, Value: f.done},
			{Key: "failed", Label: "Failed", Level: LevelBad, Value: f.failed},
		},
	}, nil
}

func (f *fakeDaemon) set(done, failed float64, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.done, f.failed, f.err = done, failed, err
}

func (f *fakeDaemon) callCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

// clock is a settable time source.
type clock struct{ t time.Time }

func (c *clock) now() time.Time             { return c.t }
func (c *clock) advance(d time.Duration)    { c.t = c.t.Add(d) }
func newClock() *clock                      { return &clock{t: time.Date(2026, 12, 2, 6, 0, 0, 0, time.UTC)} }
func quiet() Options                        { return Options{Logger: discard()} }
func withClock(o Options, c *clock) Options { o.Now = c.now; return o }
func values(b Bar) []float64                { return b.Values }
func ms(t time.Time) int64                  { return t.UnixMilli() }
func mustNew(t *testing.T, p Provider, o Options) *Dashboard {
	t.Helper()
	d, err := New(p, o)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestNewRefusesBadOptions(t *testing.T) {
	cases := []struct {
		name string
		p    Provider
		opts Options
	}{
		{"no provider", nil, Options{}},
		{"negative interval", &fakeDaemon{}, Options{Interval: -time.Second}},
		{"negative timeout", &fakeDaemon{}, Options{Timeout: -1}},
		{"one sample", &fakeDaemon{}, Options{Samples: 1}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := New(c.p, c.opts); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

func TestRingSampleIsDue(t *testing.T) {
	r := newRing(4)
	base := time.Unix(1000, 0)
	cases := []struct {
		after time.Duration
		due   bool
	}{
		{0, true}, // the first sample
		{30 * time.Second, false},
		{57 * time.Second, true}, // a tick a little early
		{53 * time.Second, false},
	}
	at := base
	for i, c := range cases {
		at = at.Add(c.after)
		if got := r.due(at, time.Minute); got != c.due {
			t.Fatalf("case %d (+%s): due %v, want %v", i, c.after, got, c.due)
		}
		if c.due {
			r.add(sample{at: at})
		}
	}
}

// A page that goes away while the provider is called does not leave its
// cancellation in the snapshot every other page sees.
func TestRefreshOutlivesItsCaller(t *testing.T) {
	d := mustNew(t, ProviderFunc(func(ctx context.Context) (*Snapshot, error) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		return &Snapshot{Title: "ok"}, nil
	}), quiet())
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	v, err := d.Refresh(ctx)
	if err != nil || v.Snapshot == nil {
		t.Fatalf("a cancelled caller broke the snapshot: %v, %+v", err, v)
	}
}

func TestRingKeepsTheNewestInOrder(t *testing.T) {
	r := newRing(3)
	base := time.Unix(0, 0)
	for i := range 5 {
		r.add(sample{at: base.Add(time.Duration(i) * time.Second)})
	}
	var got []int64
	for _, s := range r.all() {
		got = append(got, s.at.Unix())
	}
	if diff := cmp.Diff([]int64{2, 3, 4}, got); diff != "" {
		t.Fatalf("samples (-want +got):\n%s", diff)
	}
	if len(r.buf) != 3 {
		t.Fatalf("the ring grew to %d", len(r.buf))
	}
}

// The chart shows each counter's growth per interval, a live bar up to
// the latest snapshot, and a restarted counter's new value as its growth.
func TestChartIsGrowthBetweenSamples(t *testing.T) {
	c := newClock()
	f := &fakeDaemon{}
	d := mustNew(t, f, withClock(Options{Interval: time.Minute, MaxAge: time.Second, Logger: discard()}, c))
	ctx := context.Background()
	t0 := c.t

	steps := []struct {
		after        time.Duration
		done, failed float64
	}{
		{0, 5, 1},                 // first sample: the base, no bar
		{time.Minute, 8, 1},       // +3 completed
		{2 * time.Minute, 8, 3},   // +2 failed
		{30 * time.Second, 10, 3}, // not due: a live bar only
	}
	for _, s := range steps {
		c.advance(s.after)
		f.set(s.done, s.failed, nil)
		if _, err := d.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
	}
	v, err := d.Refresh(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []Bar{
		{Start: ms(t0), End: ms(t0.Add(time.Minute)), Values: []float64{3, 0}},
		{Start: ms(t0.Add(time.Minute)), End: ms(t0.Add(3 * time.Minute)), Values: []float64{0, 2}},
		{Start: ms(t0.Add(3 * time.Minute)), End: ms(t0.Add(3*time.Minute + 30*time.Second)), Values: []float64{2, 0}},
	}
	if diff := cmp.Diff(want, v.Chart.Bars); diff != "" {
		t.Fatalf("bars (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]Series{{"completed", "Completed", LevelOK}, {"failed", "Failed", LevelBad}}, v.Chart.Series); diff != "" {
		t.Fatalf("series (-want +got):\n%s", diff)
	}

	// The daemon restarted: its counters start again from zero.
	c.advance(time.Minute)
	f.set(1, 0, nil)
	v, err = d.Refresh(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := values(v.Chart.Bars[len(v.Chart.Bars)-1]); !cmp.Equal(got, []float64{1, 0}) {
		t.Fatalf("after a restart the last bar is %v, want [1 0]", got)
	}
}

// Many page loads within MaxAge cost one call of the provider; a failure
// is not retried sooner, and leaves the last good snapshot in view.
func TestRefreshIsBoundedAndSurvivesFailures(t *testing.T) {
	c := newClock()
	f := &fakeDaemon{}
	f.set(1, 0, nil)
	d := mustNew(t, f, withClock(Options{MaxAge: 2 * time.Second, Logger: discard()}, c))
	ctx := context.Background()
	for range 10 {
		if _, err := d.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if n := f.callCount(); n != 1 {
		t.Fatalf("%d provider calls for 10 refreshes within MaxAge, want 1", n)
	}

	c.advance(3 * time.Second)
	f.set(0, 0, errors.New("chain unreachable"))
	v, err := d.Refresh(ctx)
	if err == nil {
		t.Fatal("the provider's failure was not reported")
	}
	if v.Snapshot == nil || v.Snapshot.Counters[0].Value != 1 || !strings.Contains(v.Error, "chain unreachable") {
		t.Fatalf("view after a failure: snapshot %+v, error %q", v.Snapshot, v.Error)
	}
	for range 5 {
		_, _ = d.Refresh(ctx)
	}
	if n := f.callCount(); n != 2 {
		t.Fatalf("%d provider calls, want 2: a failure must not be retried within MaxAge", n)
	}

	c.advance(3 * time.Second)
	f.set(4, 0, nil)
	v, err = d.Refresh(ctx)
	if err != nil || v.Error != "" || v.Snapshot.Counters[0].Value != 4 {
		t.Fatalf("after recovery: err %v, view error %q, snapshot %+v", err, v.Error, v.Snapshot)
	}
}

func TestSnapshotsThePageCannotShowAreRefused(t *testing.T) {
	field := func(k string) Field { return Field{Key: k, Label: k, Value: "v"} }
	cases := []struct {
		name string
		s    *Snapshot
	}{
		{"nil", nil},
		{"empty field key", &Snapshot{Panels: []Panel{{Fields: []Field{field("")}}}}},
		{"field key twice", &Snapshot{Panels: []Panel{{Fields: []Field{field("a")}}, {Fields: []Field{field("a")}}}}},
		{"counter key twice", &Snapshot{Counters: []Counter{{Key: "a"}, {Key: "a"}}}},
		{"NaN counter", &Snapshot{Counters: []Counter{{Key: "a", Value: math.NaN()}}}},
		{"infinite counter", &Snapshot{Counters: []Counter{{Key: "a", Value: math.Inf(1)}}}},
		{"negative counter", &Snapshot{Counters: []Counter{{Key: "a", Value: -1}}}},
		{"history without key", &Snapshot{Histories: []History{{IntervalSeconds: 1, Slots: 1}}}},
		{"history key twice", &Snapshot{Histories: []History{{Key: "h", IntervalSeconds: 1, Slots: 1}, {Key: "h", IntervalSeconds: 1, Slots: 1}}}},
		{"history without interval", &Snapshot{Histories: []History{{Key: "h", Slots: 1}}}},
		{"history without slots", &Snapshot{Histories: []History{{Key: "h", IntervalSeconds: 1}}}},
		{"history bar short of values", &Snapshot{Histories: []History{{Key: "h", IntervalSeconds: 1, Slots: 1,
			Series: []Series{{Key: "a"}, {Key: "b"}}, Bars: []Bar{{Start: 0, End: 1, Values: []float64{1}}}}}}},
		{"history bar ending before it starts", &Snapshot{Histories: []History{{Key: "h", IntervalSeconds: 1, Slots: 1,
			Series: []Series{{Key: "a"}}, Bars: []Bar{{Start: 5, End: 5, Values: []float64{1}}}}}}},
		{"history NaN", &Snapshot{Histories: []History{{Key: "h", IntervalSeconds: 1, Slots: 1,
			Series: []Series{{Key: "a"}}, Bars: []Bar{{Start: 0, End: 1, Values: []float64{math.NaN()}}}}}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := mustNew(t, ProviderFunc(func(context.Context) (*Snapshot, error) { return c.s, nil }), quiet())
			v, err := d.Refresh(context.Background())
			if err == nil || v.Snapshot != nil {
				t.Fatalf("accepted: err %v, view %+v", err, v)
			}
		})
	}
}

// The routes: the page at exactly /, its assets, its data; a daemon's
// other routes, its own catch-all included, are left alone.
func TestRoutes(t *testing.T) {
	f := &fakeDaemon{}
	f.set(2, 1, nil)
	d := mustNew(t, f, quiet())
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "healthy") })
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "daemon's own 404", http.StatusNotFound) })
	d.Register(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	cases := []struct {
		method, path string
		status       int
		ctype        string
		body         string
	}{
		{"GET", "/", 200, "text/html", `<canvas id="chart"`},
		{"HEAD", "/", 200, "text/html", ""},
		{"GET", "/dashboard/app.js", 200, "text/javascript", "/api/dashboard"},
		{"GET", "/dashboard/style.css", 200, "text/css", "--ok"},
		{"GET", "/dashboard/missing.js", 404, "", ""},
		{"GET", "/api/dashboard", 200, "application/json", `"subject":"EQ-test"`},
		{"POST", "/", 404, "", "daemon's own 404"},
		{"POST", "/api/dashboard", 404, "", "daemon's own 404"},
		{"GET", "/healthz", 200, "", "healthy"},
		{"GET", "/index.html", 404, "", "daemon's own 404"},
		{"GET", "/nothing/here", 404, "", "daemon's own 404"},
	}
	for _, c := range cases {
		t.Run(c.method+" "+c.path, func(t *testing.T) {
			req, _ := http.NewRequest(c.method, srv.URL+c.path, nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != c.status {
				t.Fatalf("status %d, want %d (%s)", resp.StatusCode, c.status, body)
			}
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, c.ctype) {
				t.Fatalf("content type %q, want %q", ct, c.ctype)
			}
			if !strings.Contains(string(body), c.body) {
				t.Fatalf("body lacks %q:\n%s", c.body, body)
			}
			if c.status == 200 && c.path != "/healthz" && resp.Header.Get("X-Content-Type-Options") != "nosniff" {
				t.Fatal("no X-Content-Type-Options: nosniff")
			}
			if c.path == "/" && c.status == 200 && !strings.Contains(resp.Header.Get("Content-Security-Policy"), "default-src 'self'") {
				t.Fatalf("the page's CSP is %q", resp.Header.Get("Content-Security-Policy"))
			}
		})
	}
}

// On its own, the dashboard answers other methods with 405.
func TestOnlyGET(t *testing.T) {
	d := mustNew(t, &fakeDaemon{}, quiet())
	for _, path := range []string{"/", "/api/dashboard", "/dashboard/app.js"} {
		rec := httptest.NewRecorder()
		d.Handler().ServeHTTP(rec, httptest.NewRequest("POST", path, strings.NewReader("x")))
		if rec.Code != http.StatusMethodNotAllowed {
			t.Errorf("POST %s: %d, want 405", path, rec.Code)
		}
	}
}

// Before the first good snapshot the data endpoint says 503, with why.
func TestAPIBeforeTheFirstSnapshot(t *testing.T) {
	f := &fakeDaemon{}
	f.set(0, 0, errors.New("state not open yet"))
	d := mustNew(t, f, quiet())
	rec := httptest.NewRecorder()
	d.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/api/dashboard", nil))
	var v View
	if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
		t.Fatalf("not JSON: %v: %s", err, rec.Body)
	}
	if rec.Code != http.StatusServiceUnavailable || v.Snapshot != nil || !strings.Contains(v.Error, "state not open yet") {
		t.Fatalf("status %d, view %+v", rec.Code, v)
	}
}

// Run samples on its own; it stops with its context.
func TestRunSamplesUntilCancelled(t *testing.T) {
	f := &fakeDaemon{}
	f.set(1, 0, nil)
	d := mustNew(t, f, Options{Interval: time.Millisecond, MaxAge: time.Nanosecond, Logger: discard()})
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() { d.Run(ctx); close(stopped) }()
	for f.callCount() < 3 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	<-stopped
	d.mu.Lock()
	n := d.ring.count
	d.mu.Unlock()
	if n < 2 {
		t.Fatalf("%d samples kept after 3 calls an interval apart", n)
	}
}

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

func TestCountersByLabel(t *testing.T) {
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "requests_total", Help: "h"}, []string{"worker", "outcome"})
	other := prometheus.NewCounter(prometheus.CounterOpts{Name: "other_total", Help: "h"})
	reg.MustRegister(c, other)
	c.WithLabelValues("a", "ok").Add(2)
	c.WithLabelValues("b", "ok").Add(3)
	c.WithLabelValues("b", "failed").Inc()
	other.Add(7)
	got, err := CountersByLabel(reg, "requests_total", "outcome")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]float64{"ok": 5, "failed": 1}, got); diff != "" {
		t.Fatalf("(-want +got):\n%s", diff)
	}
}
