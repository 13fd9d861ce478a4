package dashboard

import "time"

// sample is the counters' values at one moment.
type sample struct {
	at     time.Time
	values map[string]float64
}

// ring keeps the newest samples, at most its capacity: the dashboard's
// memory does not grow with uptime.
type ring struct {
	buf   []sample
	next  int // where the next sample goes
	count int
}

func newRing(capacity int) ring { return ring{buf: make([]sample, capacity)} }

// due says whether a sample taken at now should be kept: the first one,
// and then one per interval. A tick that comes a little early still
// counts, or a late sample before it would push every later one back by
// a whole interval.
func (r *ring) due(now time.Time, interval time.Duration) bool {
	if r.count == 0 {
		return true
	}
	return now.Sub(r.newest().at) >= interval-interval/10
}

func (r *ring) add(s sample) {
	r.buf[r.next] = s
	r.next = (r.next + 1) % len(r.buf)
	r.count = min(r.count+1, len(r.buf))
}

func (r *ring) newest() sample { return r.buf[(r.next-1+len(r.buf))%len(r.buf)] }

// all returns the kept samples, oldest first, in a new slice.
func (r *ring) all() []sample {
	out := make([]sample, 0, r.count)
	start := (r.next - r.count + len(r.buf)) % len(r.buf)
	for i := range r.count {
		out = append(out, r.buf[(start+i)%len(r.buf)])
	}
	return out
}
