package httpapi

import (
	"net/http"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/cocoon-network/cocoon/offchain/devnet"
)

// metrics are the devnet's Prometheus metrics, on a registry of the
// server's own (several servers in one process do not collide).
type metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	known    map[string]bool
}

func newMetrics(e *devnet.Engine, methods map[string]method) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cocoon_devnet_requests_total",
			Help: "toncenter API requests by method and HTTP status.",
		}, []string{"method", "code"}),
		known: map[string]bool{},
	}
	for name := range methods {
		m.known[name] = true
	}
	stat := func(f func(devnet.Stats) float64) func() float64 {
		return func() float64 { return f(e.Stats()) }
	}
	m.reg.MustRegister(
		m.requests,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "cocoon_devnet_transactions_total",
			Help: "Transactions included in blocks since the devnet started.",
		}, stat(func(s devnet.Stats) float64 { return float64(s.Transactions) })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "cocoon_devnet_blocks_total",
			Help: "Blocks produced since the devnet started.",
		}, stat(func(s devnet.Stats) float64 { return float64(s.Blocks) })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "cocoon_devnet_dropped_messages_total",
			Help: "Queued messages that made no transaction (externals no longer accepted) since the devnet started.",
		}, stat(func(s devnet.Stats) float64 { return float64(s.Dropped) })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "cocoon_devnet_emulator_crashes_total",
			Help: "Emulator child processes that died on an input (each refused one request with 400; the devnet went on).",
		}, stat(func(s devnet.Stats) float64 { return float64(s.EmulatorCrashes) })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "cocoon_devnet_block_seqno",
			Help: "Sequence number of the last block.",
		}, stat(func(s devnet.Stats) float64 { return float64(s.Seqno) })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "cocoon_devnet_chain_time_seconds",
			Help: "Unix time of the last block (moves ahead of the wall clock with /devnet/advance).",
		}, stat(func(s devnet.Stats) float64 { return float64(s.Time) })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "cocoon_devnet_queued_messages",
			Help: "Messages waiting for the next block.",
		}, stat(func(s devnet.Stats) float64 { return float64(s.Queued) })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "cocoon_devnet_libraries",
			Help: "Public libraries published on the devnet.",
		}, stat(func(s devnet.Stats) float64 { return float64(s.Libraries) })),
	)
	return m
}

// request counts one toncenter API call; names the devnet does not serve
// count as "other", so that clients cannot grow the label set.
func (m *metrics) request(method string, err error) {
	if !m.known[method] {
		method = "other"
	}
	m.requests.WithLabelValues(method, strconv.Itoa(statusOf(err))).Inc()
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}
