package dashboard

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// CountersByLabel reads a counter family back from a registry and sums it
// by one label: the dashboard charts what /metrics already counts, so the
// two never disagree.
func CountersByLabel(g prometheus.Gatherer, name, label string) (map[string]float64, error) {
	families, err := g.Gather()
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	out := map[string]float64{}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == label {
					out[l.GetValue()] += m.GetCounter().GetValue()
				}
			}
		}
	}
	return out, nil
}
