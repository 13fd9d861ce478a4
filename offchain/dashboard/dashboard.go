// Package dashboard is the status page a Cocoon daemon (the worker, the
// gateway) serves at `/`: one HTML page whose script, style and chart are
// embedded in the binary, and the JSON it polls at /api/dashboard.
//
// A daemon describes itself through a Provider: a Snapshot of its status,
// panels of labelled values, warnings, and cumulative counters (jobs or
// requests by outcome). The dashboard keeps a bounded ring of counter
// samples in memory and charts their increase over time, so the daemon
// needs no history of its own. Nothing is loaded from anywhere but the
// daemon itself (no CDN, no external fonts), and every value is put into
// the page as text, never as markup.
package dashboard

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math"
	"net/http"
	"sync"
	"time"
)

//go:embed assets
var assets embed.FS

// Level is how a status, value, counter or warning reads.
type Level string

// Levels. A counter's level picks its colour in the chart; "" is neutral.
const (
	LevelOK   Level = "ok"
	LevelWarn Level = "warn"
	LevelBad  Level = "bad"
)

// Snapshot is what a daemon shows at one moment.
type Snapshot struct {
	// Title names the kind of daemon ("Cocoon worker").
	Title string `json:"title"`
	// Subject names this one (its contract or wallet address).
	Subject string `json:"subject"`
	// Status is one word or a few ("active", "unbonding", "no workers").
	Status string  `json:"status"`
	Level  Level   `json:"level"`
	Panels []Panel `json:"panels"`
	// Counters are cumulative totals; the chart shows how much each grew
	// between samples. A counter that goes down is taken as restarted.
	Counters []Counter `json:"counters"`
	// ChartTitle says what the counters count ("Jobs by outcome").
	ChartTitle string `json:"chart_title"`
	// Histories are charts the daemon draws from its own records, which
	// outlive a restart (the worker's jobs per hour, its pay per day).
	Histories []History `json:"histories,omitempty"`
	Warnings  []Warning `json:"warnings"`
}

// History is a chart of bars the daemon supplies.
type History struct {
	Key   string `json:"key"`
	Title string `json:"title"`
	// Series name the values of each bar, in order.
	Series []Series `json:"series"`
	Bars   []Bar    `json:"bars"`
	// IntervalSeconds is one bar's usual span; Slots how many of them the
	// chart shows, up to the newest bar or now.
	IntervalSeconds float64 `json:"interval_seconds"`
	Slots           int     `json:"slots"`
	// Unit follows the totals in the legend ("TON").
	Unit string `json:"unit,omitempty"`
}

// Panel is a titled group of values.
type Panel struct {
	Title  string  `json:"title"`
	Fields []Field `json:"fields"`
}

// Field is one labelled value. Key is stable (the page marks the value
// with it as data-key), Label and Value are what a person reads.
type Field struct {
	Key   string `json:"key"`
	Label string `json:"label"`
	Value string `json:"value"`
	// Note is a short explanation shown under the value.
	Note  string `json:"note,omitempty"`
	Level Level  `json:"level,omitempty"`
}

// Counter is one cumulative total.
type Counter struct {
	Key   string  `json:"key"`
	Label string  `json:"label"`
	Level Level   `json:"level,omitempty"`
	Value float64 `json:"value"`
}

// Warning is something the operator should act on.
type Warning struct {
	Level Level  `json:"level"`
	Text  string `json:"text"`
}

// Provider describes the daemon. Snapshot is called at most once at a time
// and at most every Options.MaxAge, whatever the number of open pages.
type Provider interface {
	Snapshot(ctx context.Context) (*Snapshot, error)
}

// ProviderFunc adapts a function to Provider.
type ProviderFunc func(ctx context.Context) (*Snapshot, error)

// Snapshot implements Provider.
func (f ProviderFunc) Snapshot(ctx context.Context) (*Snapshot, error) { return f(ctx) }

// Defaults of Options.
const (
	DefaultInterval = time.Minute
	DefaultSamples  = 360 // six hours at one a minute
	DefaultMaxAge   = 2 * time.Second
	DefaultTimeout  = 10 * time.Second
	DefaultPoll     = 5 * time.Second
)

// Options tune a Dashboard; zero values take the defaults.
type Options struct {
	// Interval between two kept samples of the counters.
	Interval time.Duration
	// Samples bounds the ring: the chart spans Interval × Samples at most.
	Samples int
	// MaxAge is how long a snapshot is reused before the provider is asked again.
	MaxAge time.Duration
	// Timeout bounds one call of the provider.
	Timeout time.Duration
	// Poll is how often an open page asks for new data.
	Poll   time.Duration
	Logger *slog.Logger
	// Now is the clock (tests); nil means time.Now.
	Now func() time.Time
}

// Dashboard serves the page and its data for one Provider.
type Dashboard struct {
	p    Provider
	opts Options

	// refreshing serialises calls of the provider.
	refreshing sync.Mutex

	mu      sync.Mutex
	last    *Snapshot
	lastAt  time.Time
	triedAt time.Time // the last call of the provider, failed or not
	lastErr error
	ring    ring
}

// New returns a Dashboard for p.
func New(p Provider, opts Options) (*Dashboard, error) {
	if p == nil {
		return nil, errors.New("dashboard: no provider")
	}
	if opts.Interval < 0 || opts.Samples < 0 || opts.MaxAge < 0 || opts.Timeout < 0 || opts.Poll < 0 {
		return nil, errors.New("dashboard: negative interval, samples, max age, timeout or poll")
	}
	if opts.Interval == 0 {
		opts.Interval = DefaultInterval
	}
	if opts.Samples == 0 {
		opts.Samples = DefaultSamples
	}
	if opts.Samples < 2 {
		return nil, fmt.Errorf("dashboard: %d samples cannot make a chart (want at least 2)", opts.Samples)
	}
	if opts.MaxAge == 0 {
		opts.MaxAge = DefaultMaxAge
	}
	if opts.Timeout == 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.Poll == 0 {
		opts.Poll = DefaultPoll
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Dashboard{p: p, opts: opts, ring: newRing(opts.Samples)}, nil
}

// Run samples the provider every Interval until ctx ends, so that the
// chart has history from before anyone opened the page. A dashboard that
// is not Run samples only while its page is open.
func (d *Dashboard) Run(ctx context.Context) {
	t := time.NewTicker(d.opts.Interval)
	defer t.Stop()
	for {
		if _, err := d.Refresh(ctx); err != nil && ctx.Err() == nil {
			d.opts.Logger.Warn("dashboard: reading the daemon's state", "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Refresh asks the provider for a snapshot unless the last one is younger
// than MaxAge, records a sample when one is due, and returns the view the
// page is sent. A failing provider leaves the last good snapshot in the
// view, with the error beside it.
func (d *Dashboard) Refresh(ctx context.Context) (*View, error) {
	d.refreshing.Lock()
	defer d.refreshing.Unlock()
	now := d.opts.Now()
	d.mu.Lock()
	// A failure is not retried sooner than a success is: a page open on a
	// daemon whose chain is down must not hammer the chain.
	fresh := !d.triedAt.IsZero() && now.Sub(d.triedAt) < d.opts.MaxAge
	d.mu.Unlock()
	var err error
	if !fresh {
		err = d.take(ctx, now)
	}
	return d.view(now), err
}

// take calls the provider once and keeps what it said. The snapshot is
// shared by every page, so a page that goes away mid-call must not leave
// "context canceled" for the others: only Timeout bounds the call.
func (d *Dashboard) take(ctx context.Context, now time.Time) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), d.opts.Timeout)
	defer cancel()
	s, err := d.p.Snapshot(ctx)
	if err == nil {
		err = s.check()
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.triedAt = now
	if err != nil {
		d.lastErr = err
		return err
	}
	d.last, d.lastAt, d.lastErr = s, now, nil
	if d.ring.due(now, d.opts.Interval) {
		d.ring.add(sample{at: now, values: s.counterValues()})
	}
	return nil
}

// check refuses a snapshot the page could not show faithfully.
func (s *Snapshot) check() error {
	if s == nil {
		return errors.New("dashboard: the provider returned no snapshot")
	}
	keys := map[string]bool{}
	for _, p := range s.Panels {
		for _, f := range p.Fields {
			if f.Key == "" || keys[f.Key] {
				return fmt.Errorf("dashboard: field key %q is empty or used twice", f.Key)
			}
			keys[f.Key] = true
		}
	}
	counters := map[string]bool{}
	for _, c := range s.Counters {
		if c.Key == "" || counters[c.Key] {
			return fmt.Errorf("dashboard: counter key %q is empty or used twice", c.Key)
		}
		if math.IsNaN(c.Value) || math.IsInf(c.Value, 0) || c.Value < 0 {
			return fmt.Errorf("dashboard: counter %s is %v, not a count", c.Key, c.Value)
		}
		counters[c.Key] = true
	}
	histories := map[string]bool{}
	for _, h := range s.Histories {
		if err := h.check(); err != nil {
			return err
		}
		if histories[h.Key] {
			return fmt.Errorf("dashboard: history key %q used twice", h.Key)
		}
		histories[h.Key] = true
	}
	return nil
}

func (h *History) check() error {
	switch {
	case h.Key == "":
		return errors.New("dashboard: a history without a key")
	case !(h.IntervalSeconds > 0) || math.IsInf(h.IntervalSeconds, 0) || h.Slots < 1:
		return fmt.Errorf("dashboard: history %s: interval %v s and %d slots cannot make a chart", h.Key, h.IntervalSeconds, h.Slots)
	}
	for i, b := range h.Bars {
		if len(b.Values) != len(h.Series) || b.End <= b.Start {
			return fmt.Errorf("dashboard: history %s, bar %d: %d values for %d series over [%d, %d)", h.Key, i, len(b.Values), len(h.Series), b.Start, b.End)
		}
		for _, v := range b.Values {
			if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
				return fmt.Errorf("dashboard: history %s, bar %d: value %v", h.Key, i, v)
			}
		}
	}
	return nil
}

func (s *Snapshot) counterValues() map[string]float64 {
	m := make(map[string]float64, len(s.Counters))
	for _, c := range s.Counters {
		m[c.Key] = c.Value
	}
	return m
}

// View is what GET /api/dashboard returns.
type View struct {
	Time time.Time `json:"time"`
	// Snapshot is the latest good snapshot (nil before the first).
	Snapshot *Snapshot `json:"snapshot"`
	// SnapshotTime is when it was taken; Error is why a later one failed.
	SnapshotTime time.Time `json:"snapshot_time"`
	Error        string    `json:"error,omitempty"`
	Chart        Chart     `json:"chart"`
	// PollMillis is how often the page asks again.
	PollMillis int64 `json:"poll_ms"`
}

// Chart is the counters' increase between consecutive samples, oldest
// first; the last bar runs from the newest kept sample to the latest
// snapshot, so a job done a second ago shows at once.
type Chart struct {
	IntervalSeconds float64  `json:"interval_seconds"`
	Series          []Series `json:"series"`
	Bars            []Bar    `json:"bars"`
}

// Series is one counter as the chart draws it.
type Series struct {
	Key   string `json:"key"`
	Label string `json:"label"`
	Level Level  `json:"level,omitempty"`
}

// Bar is the growth of each series (in Series order) over [Start, End).
type Bar struct {
	Start  int64     `json:"start_ms"`
	End    int64     `json:"end_ms"`
	Values []float64 `json:"values"`
}

func (d *Dashboard) view(now time.Time) *View {
	d.mu.Lock()
	defer d.mu.Unlock()
	v := &View{Time: now.UTC(), Snapshot: d.last, PollMillis: d.opts.Poll.Milliseconds(),
		Chart: Chart{IntervalSeconds: d.opts.Interval.Seconds(), Series: []Series{}, Bars: []Bar{}}}
	if d.lastErr != nil {
		v.Error = d.lastErr.Error()
	}
	if d.last == nil {
		return v
	}
	v.SnapshotTime = d.lastAt.UTC()
	for _, c := range d.last.Counters {
		v.Chart.Series = append(v.Chart.Series, Series{Key: c.Key, Label: c.Label, Level: c.Level})
	}
	samples := d.ring.all()
	if len(samples) == 0 || d.lastAt.After(samples[len(samples)-1].at) {
		samples = append(samples, sample{at: d.lastAt, values: d.last.counterValues()})
	}
	for i := 1; i < len(samples); i++ {
		prev, cur := samples[i-1], samples[i]
		b := Bar{Start: prev.at.UnixMilli(), End: cur.at.UnixMilli(), Values: make([]float64, len(v.Chart.Series))}
		for j, s := range v.Chart.Series {
			b.Values[j] = growth(prev.values[s.Key], cur.values[s.Key])
		}
		v.Chart.Bars = append(v.Chart.Bars, b)
	}
	return v
}

// growth is how much a cumulative counter grew; one that went down was
// restarted (the daemon restarted) and grew by its whole new value.
func growth(prev, cur float64) float64 {
	if cur < prev {
		return cur
	}
	return cur - prev
}

// Register adds the dashboard's routes to mux: the page at exactly `/`,
// its assets under /dashboard/, and its data at /api/dashboard. Other
// routes of mux are left alone.
func (d *Dashboard) Register(mux *http.ServeMux) {
	static, err := fs.Sub(assets, "assets")
	if err != nil {
		panic(err) // the embedded directory is part of the binary
	}
	files := http.StripPrefix("/dashboard/", http.FileServerFS(static))
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		securityHeaders(w)
		w.Header().Set("Cache-Control", "no-cache")
		http.ServeFileFS(w, r, static, "index.html")
	})
	mux.HandleFunc("GET /dashboard/{file}", func(w http.ResponseWriter, r *http.Request) {
		securityHeaders(w)
		files.ServeHTTP(w, r)
	})
	mux.HandleFunc("GET /api/dashboard", d.serveAPI)
}

// Handler is a handler serving only the dashboard's routes.
func (d *Dashboard) Handler() http.Handler {
	mux := http.NewServeMux()
	d.Register(mux)
	return mux
}

// securityHeaders let the page run only what the daemon itself serves.
func securityHeaders(w http.ResponseWriter) {
	w.Header().Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Referrer-Policy", "no-referrer")
}

func (d *Dashboard) serveAPI(w http.ResponseWriter, r *http.Request) {
	v, err := d.Refresh(r.Context())
	if err != nil {
		d.opts.Logger.Warn("dashboard: reading the daemon's state", "error", err)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if v.Snapshot == nil {
		// Nothing to show yet: say so with a status the page and scripts
		// can tell from a healthy answer.
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	_ = json.NewEncoder(w).Encode(v)
}
