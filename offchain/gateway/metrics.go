package gateway

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// metrics are one gateway's Prometheus metrics, on its own registry (two
// gateways in one process, as in tests, do not collide).
type metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	ttft     *prometheus.HistogramVec
	spend    *prometheus.CounterVec
	workers  *prometheus.GaugeVec
	dropped  *prometheus.CounterVec
	// collected counts receipts fetched after an answer stopped early.
	collected prometheus.Counter
}

// Outcomes of cocoon_gateway_requests_total. "retried" counts an attempt
// that failed before the first token and went to another worker.
const (
	outcomeOK         = "ok"
	outcomeRetried    = "retried"
	outcomeBusy       = "busy"
	outcomeFailed     = "failed"      // failed after the first token
	outcomeBadReceipt = "bad_receipt" // served, but the usage receipt was refused
	outcomeNoWorker   = "no_worker"
	outcomeClientErr  = "client_error"
	outcomeCancelled  = "cancelled"
)

func newMetrics() *metrics {
	latency := []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120}
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cocoon_gateway_requests_total",
			Help: "Chat completion attempts by worker (raw address, \"none\" when none was chosen), model and outcome.",
		}, []string{"worker", "model", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "cocoon_gateway_request_duration_seconds", Help: "Time from an app's request to the end of its answer.", Buckets: latency,
		}, []string{"model"}),
		ttft: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "cocoon_gateway_time_to_first_token_seconds", Help: "Time from an app's request to the first token.", Buckets: latency,
		}, []string{"model"}),
		spend: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cocoon_gateway_spend_nanoton_total", Help: "Usage paid to workers with vouchers, in nanoton.",
		}, []string{"worker"}),
		workers: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "cocoon_gateway_workers", Help: "Verified workers by model and routing state (healthy, probing, cooling_off: its circuit breaker open after failures, dropped).",
		}, []string{"model", "state"}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cocoon_gateway_workers_dropped_total", Help: "Workers dropped for misbehaviour, by reason.",
		}, []string{"reason"}),
		collected: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cocoon_gateway_receipts_collected_total",
			Help: "Usage receipts fetched from workers (and paid) for answers that stopped before theirs arrived: the app left or the stream broke.",
		}),
	}
	m.reg.MustRegister(m.requests, m.duration, m.ttft, m.spend, m.workers, m.dropped, m.collected,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}
