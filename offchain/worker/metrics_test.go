package worker

import (
	"strings"
	"testing"
)

func TestMetricsExposition(t *testing.T) {
	m := NewMetrics()
	m.Add("cocoon_worker_jobs_total", 1, "outcome", "completed")
	m.Add("cocoon_worker_jobs_total", 2, "outcome", "completed")
	m.Add("cocoon_worker_jobs_total", 1, "outcome", "failed")
	m.Set("cocoon_worker_chain_lag_seconds", 1.5)
	m.Observe("cocoon_worker_job_seconds", 0.3)
	m.Observe("cocoon_worker_job_seconds", 7)
	var b strings.Builder
	if _, err := m.WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
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
	} {
		if !strings.Contains(out, want) {
			t.Errorf("exposition lacks %q:\n%s", want, out)
		}
	}
}
