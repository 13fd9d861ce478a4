package worker

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestMetricsExposition(t *testing.T) {
	m := NewMetrics()
	m.Jobs.WithLabelValues(OutcomeCompleted).Add(3)
	m.Jobs.WithLabelValues(OutcomeFailed).Inc()
	m.ChainLag.Set(1.5)
	m.JobSeconds.Observe(0.3)
	m.JobSeconds.Observe(7)
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	out := string(body)
	for _, want := range []string{
		"# TYPE cocoon_worker_jobs_total counter",
		`cocoon_worker_jobs_total{outcome="completed"} 3`,
		`cocoon_worker_jobs_total{outcome="failed"} 1`,
		"cocoon_worker_chain_lag_seconds 1.5",
		`cocoon_worker_job_seconds_bucket{le="0.25"} 0`,
		`cocoon_worker_job_seconds_bucket{le="0.5"} 1`,
		`cocoon_worker_job_seconds_bucket{le="10"} 2`,
		`cocoon_worker_job_seconds_bucket{le="+Inf"} 2`,
		"cocoon_worker_job_seconds_sum 7.3",
		"cocoon_worker_job_seconds_count 2",
		"# TYPE cocoon_worker_inference_seconds histogram",
		"# TYPE cocoon_worker_jobs_in_flight gauge",
		"go_memstats_heap_inuse_bytes",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("exposition lacks %q:\n%s", want, out)
		}
	}
}

// Two daemons in one process keep their own counts.
func TestMetricsArePerDaemon(t *testing.T) {
	a, b := NewMetrics(), NewMetrics()
	a.Jobs.WithLabelValues(OutcomeCompleted).Inc()
	a.InFlight.Inc()
	if got := testutil.ToFloat64(b.Jobs.WithLabelValues(OutcomeCompleted)); got != 0 {
		t.Errorf("second daemon's completed jobs = %v, want 0", got)
	}
	if got := testutil.ToFloat64(b.InFlight); got != 0 {
		t.Errorf("second daemon's in-flight jobs = %v, want 0", got)
	}
}
