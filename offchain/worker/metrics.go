package worker

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"sync"
)

// Metrics is the worker's Prometheus exposition: a handful of counters,
// gauges and histograms, written in the text format by hand to keep the
// dependency tree small.
type Metrics struct {
	mu       sync.Mutex
	counters map[string]map[string]float64 // name -> label set -> value
	gauges   map[string]float64
	hists    map[string]*histogram
	help     map[string]string
}

type histogram struct {
	bounds []float64
	counts []uint64
	sum    float64
	count  uint64
}

// Latency buckets in seconds: from a fast reference-engine job to a long
// generation on a busy GPU.
var latencyBuckets = []float64{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300}

// NewMetrics returns the worker's metric set.
func NewMetrics() *Metrics {
	m := &Metrics{
		counters: map[string]map[string]float64{},
		gauges:   map[string]float64{},
		hists:    map[string]*histogram{},
		help: map[string]string{
			"cocoon_worker_jobs_total":                  "Jobs closed, by outcome (completed, failed, expired, busy).",
			"cocoon_worker_tokens_total":                "Tokens processed, by direction (input, output).",
			"cocoon_worker_earnings_nanoton_total":      "Worker pay credited by completed jobs, in nanoton.",
			"cocoon_worker_job_seconds":                 "Time from acceptance to the receipt on chain.",
			"cocoon_worker_inference_seconds":           "Time the inference engine took per job.",
			"cocoon_worker_chain_lag_seconds":           "Wall time minus the latest block's time.",
			"cocoon_worker_jobs_in_flight":              "Accepted jobs not yet closed.",
			"cocoon_worker_receipt_send_failures_total": "Receipt submissions the chain refused or that failed to reach it.",
		},
	}
	m.hists["cocoon_worker_job_seconds"] = newHistogram(latencyBuckets)
	m.hists["cocoon_worker_inference_seconds"] = newHistogram(latencyBuckets)
	return m
}

func newHistogram(bounds []float64) *histogram {
	return &histogram{bounds: bounds, counts: make([]uint64, len(bounds))}
}

// Add increases a counter; labels are name=value pairs.
func (m *Metrics) Add(name string, v float64, labels ...string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	set, ok := m.counters[name]
	if !ok {
		set = map[string]float64{}
		m.counters[name] = set
	}
	set[labelString(labels)] += v
}

// Set sets a gauge.
func (m *Metrics) Set(name string, v float64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.gauges[name] = v
}

// Observe records a histogram sample.
func (m *Metrics) Observe(name string, v float64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	h, ok := m.hists[name]
	if !ok {
		h = newHistogram(latencyBuckets)
		m.hists[name] = h
	}
	for i, b := range h.bounds {
		if v <= b {
			h.counts[i]++
		}
	}
	h.sum += v
	h.count++
}

func labelString(kv []string) string {
	if len(kv) == 0 {
		return ""
	}
	parts := make([]string, 0, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		parts = append(parts, fmt.Sprintf("%s=%q", kv[i], kv[i+1]))
	}
	return "{" + strings.Join(parts, ",") + "}"
}

// WriteTo writes the Prometheus text exposition.
func (m *Metrics) WriteTo(w io.Writer) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var b strings.Builder
	for _, name := range sortedKeys(m.counters) {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s counter\n", name, m.help[name], name)
		set := m.counters[name]
		for _, ls := range sortedKeys(set) {
			fmt.Fprintf(&b, "%s%s %s\n", name, ls, num(set[ls]))
		}
	}
	for _, name := range sortedKeys(m.gauges) {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s gauge\n%s %s\n", name, m.help[name], name, name, num(m.gauges[name]))
	}
	for _, name := range sortedKeys(m.hists) {
		h := m.hists[name]
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s histogram\n", name, m.help[name], name)
		for i, bound := range h.bounds {
			fmt.Fprintf(&b, "%s_bucket{le=%q} %d\n", name, num(bound), h.counts[i])
		}
		fmt.Fprintf(&b, "%s_bucket{le=\"+Inf\"} %d\n%s_sum %s\n%s_count %d\n", name, h.count, name, num(h.sum), name, h.count)
	}
	n, err := io.WriteString(w, b.String())
	return int64(n), err
}

func num(v float64) string {
	if v == math.Trunc(v) && math.Abs(v) < 1e15 {
		return fmt.Sprintf("%d", int64(v))
	}
	return fmt.Sprintf("%g", v)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
