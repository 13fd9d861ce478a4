package worker

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Job outcomes as the jobs_total metric and the job records name them.
const (
	OutcomeCompleted = "completed" // the receipt was accepted: the worker was paid
	OutcomeFailed    = "failed"    // a failure receipt was accepted: full refund, no slash
	OutcomeExpired   = "expired"   // refunded after the deadline without a receipt: slashed
	OutcomeClosed    = "closed"    // closed otherwise (cancelled, or the close reason was unreadable)
	OutcomeNotOurs   = "not_ours"  // the job names another worker (never expected)
)

// Latency buckets in seconds: from a fast reference-engine job to a long
// generation on a busy GPU.
var latencyBuckets = []float64{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300}

// Metrics is one daemon's Prometheus metrics, in a registry of its own so
// that two daemons in one process (tests, a demo) never share counters.
type Metrics struct {
	reg *prometheus.Registry

	Jobs             *prometheus.CounterVec // by outcome
	Tokens           *prometheus.CounterVec // by direction
	Earnings         prometheus.Counter
	Slashes          prometheus.Counter
	JobSeconds       prometheus.Histogram
	InferenceSeconds prometheus.Histogram
	ChainLag         prometheus.Gauge
	InFlight         prometheus.Gauge
	ReceiptFailures  prometheus.Counter
	ChainErrors      prometheus.Counter
	UploadsRefused   prometheus.Counter
	Pruned           *prometheus.CounterVec // by what

	Renewals               *prometheus.CounterVec // registration renewals, by result
	RegistrationValidUntil prometheus.Gauge

	OnlineRequests *prometheus.CounterVec // online (gateway) requests, by outcome
	OnlineCharged  prometheus.Counter
	OnlinePaid     prometheus.Counter
}

// NewMetrics returns a fresh metric set with Go runtime and process
// metrics (memory, file descriptors) alongside the worker's own.
func NewMetrics() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		Jobs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cocoon_worker_jobs_total",
			Help: "Jobs closed, by outcome (completed, failed, expired, closed). Each job is counted once.",
		}, []string{"outcome"}),
		Tokens: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cocoon_worker_tokens_total",
			Help: "Tokens billed, by direction (input, output).",
		}, []string{"direction"}),
		Earnings: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cocoon_worker_earnings_nanoton_total",
			Help: "Worker pay credited by completed jobs, in nanoton.",
		}),
		Slashes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cocoon_worker_slashes_total",
			Help: "Slashes of this worker's stake (a job passed its deadline without a receipt).",
		}),
		JobSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "cocoon_worker_job_seconds", Help: "Time from acceptance to the job's close on chain.", Buckets: latencyBuckets,
		}),
		InferenceSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "cocoon_worker_inference_seconds", Help: "Time the inference engine took per job.", Buckets: latencyBuckets,
		}),
		ChainLag: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "cocoon_worker_chain_lag_seconds", Help: "Wall time minus the latest block's time.",
		}),
		InFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "cocoon_worker_jobs_in_flight", Help: "Accepted jobs the worker is working on (not yet closed).",
		}),
		ReceiptFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cocoon_worker_receipt_send_failures_total",
			Help: "Receipt submissions the chain refused or that failed to reach it.",
		}),
		ChainErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cocoon_worker_chain_read_errors_total",
			Help: "Failed reads of the Worker contract's history; the watcher retries with backoff.",
		}),
		UploadsRefused: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cocoon_worker_uploads_refused_total",
			Help: "Request uploads answered 503 because max_uploads were already being read.",
		}),
		Pruned: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cocoon_worker_pruned_total",
			Help: "Stored payloads dropped after the retention, by kind (result, posted).",
		}, []string{"kind"}),
		Renewals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cocoon_worker_renewals_total",
			Help: "Registration renewals, by result: renewed; refused (Root rejected it: the worker is no longer active); terms_changed (Root's terms are not the ones the owner agreed to: not renewed); error (retried).",
		}, []string{"result"}),
		RegistrationValidUntil: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "cocoon_worker_registration_valid_until_seconds",
			Help: "Unix time the registration lapses at (offers are declined after it unless renewed); 0 when the worker is not active. Alert when it comes within 5 minutes (the daemon renews 10 minutes ahead).",
		}),
		OnlineRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cocoon_worker_online_requests_total",
			Help: "Online (gateway) requests, by outcome.",
		}, []string{"outcome"}),
		OnlineCharged: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cocoon_worker_online_charged_nanoton_total",
			Help: "Usage charged to online payers, in nanoton.",
		}),
		OnlinePaid: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cocoon_worker_online_paid_nanoton_total",
			Help: "Usage paid to this worker by verified vouchers since it started, all payers together, in nanoton (each voucher counts what it adds to its payer's held one); with cocoon_worker_online_charged_nanoton_total it shows what payers owe.",
		}),
	}
	m.reg.MustRegister(m.Jobs, m.Tokens, m.Earnings, m.Slashes, m.JobSeconds, m.InferenceSeconds,
		m.ChainLag, m.InFlight, m.ReceiptFailures, m.ChainErrors, m.UploadsRefused, m.Pruned,
		m.Renewals, m.RegistrationValidUntil,
		m.OnlineRequests, m.OnlineCharged, m.OnlinePaid,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Registry is the registry the metrics are in.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the metrics in the Prometheus exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}
