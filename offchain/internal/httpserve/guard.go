package httpserve

import (
	"net"
	"net/http"
	"sync"
	"time"
)

// connGuard keeps one client from holding a server's connections: each
// address may hold at most perClient, and once the server is near its cap
// (three quarters of it) connections that hold a slot without using it —
// idle between requests, or connected and silent, for newGrace — are
// closed to make room. golang.org/x/net/netutil's LimitListener, used
// before, made every new client wait behind 256 idle sockets of one
// attacker (issue 24).
type connGuard struct {
	max       int
	perClient int
	newGrace  time.Duration
	acceptFor time.Duration // how long a new connection waits for a slot at the cap

	mu       sync.Mutex
	conns    map[string]*guardedConn // by remote address
	perIP    map[string]int
	freed    chan struct{}
	closed   chan struct{}
	isClosed bool
	stats    GuardStats
}

// GuardStats counts what a server's connection guard did.
type GuardStats struct {
	Open     int    // connections open now
	Refused  uint64 // closed at once: their address held its share, or no slot freed in time
	Evicted  uint64 // unused connections closed to make room near the cap
	Accepted uint64
}

// Defaults of the guard's timings.
const (
	newConnGrace  = time.Second
	acceptWaitMax = 2 * time.Second
)

func newConnGuard(capacity, perClient int) *connGuard {
	if perClient <= 0 {
		perClient = max(4, capacity/4)
	}
	return &connGuard{
		max:       capacity,
		perClient: min(perClient, capacity),
		newGrace:  newConnGrace,
		acceptFor: acceptWaitMax,
		conns:     map[string]*guardedConn{},
		perIP:     map[string]int{},
		freed:     make(chan struct{}, 1),
		closed:    make(chan struct{}),
	}
}

// guardedConn is one accepted connection and what the server did with it
// last.
type guardedConn struct {
	net.Conn
	g     *connGuard
	key   string
	ip    string
	state http.ConnState
	since time.Time
	once  sync.Once
}

func (c *guardedConn) Close() error {
	c.once.Do(func() { c.g.forget(c) })
	return c.Conn.Close()
}

type guardedListener struct {
	net.Listener
	g *connGuard
}

func (l *guardedListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if gc := l.g.admit(c); gc != nil {
			return gc, nil
		}
	}
}

func (l *guardedListener) Close() error {
	l.g.mu.Lock()
	if !l.g.isClosed {
		l.g.isClosed = true
		close(l.g.closed)
	}
	l.g.mu.Unlock()
	return l.Listener.Close()
}

func hostOf(a net.Addr) string {
	if h, _, err := net.SplitHostPort(a.String()); err == nil {
		return h
	}
	return a.String()
}

// admit registers c, or closes it when its address holds its share or no
// slot frees up in time.
func (g *connGuard) admit(c net.Conn) net.Conn {
	ip := hostOf(c.RemoteAddr())
	deadline := time.Now().Add(g.acceptFor)
	g.mu.Lock()
	for {
		if g.perIP[ip] >= g.perClient {
			// The address's own unused connections make room for its new
			// one; with none, it has its share.
			g.closeLocked(g.evictLocked(time.Now(), ip))
			if g.perIP[ip] >= g.perClient {
				g.mu.Unlock()
				g.refuse(c)
				return nil
			}
		}
		if len(g.conns) >= g.max*3/4 {
			g.closeLocked(g.evictLocked(time.Now(), ""))
		}
		if len(g.conns) < g.max {
			break
		}
		wait := time.Until(deadline)
		g.mu.Unlock()
		if wait <= 0 {
			g.refuse(c)
			return nil
		}
		t := time.NewTimer(min(wait, g.newGrace/4))
		select {
		case <-g.freed:
		case <-t.C: // a silent connection may have become evictable
		case <-g.closed:
			t.Stop()
			g.refuse(c)
			return nil
		}
		t.Stop()
		g.mu.Lock()
	}
	gc := &guardedConn{Conn: c, g: g, key: c.RemoteAddr().String(), ip: ip, state: http.StateNew, since: time.Now()}
	g.conns[gc.key] = gc
	g.perIP[ip]++
	g.stats.Accepted++
	g.mu.Unlock()
	return gc
}

func (g *connGuard) refuse(c net.Conn) {
	g.mu.Lock()
	g.stats.Refused++
	g.mu.Unlock()
	c.Close()
}

// closeLocked closes connections already forgotten, outside the lock
// (their Close would take it).
func (g *connGuard) closeLocked(victims []*guardedConn) {
	if len(victims) == 0 {
		return
	}
	g.mu.Unlock()
	for _, v := range victims {
		v.Conn.Close()
	}
	g.mu.Lock()
}

// evictLocked forgets the connections (of address ip, or of all when ip
// is "") that hold a slot without using it and returns them, for the
// caller to close.
func (g *connGuard) evictLocked(now time.Time, ip string) []*guardedConn {
	var out []*guardedConn
	for _, c := range g.conns {
		if ip != "" && c.ip != ip {
			continue
		}
		// A connection that just went idle is likely about to carry the
		// client's next request, which a client may not retry (a POST)
		// if the connection closes under it: only those unused for the
		// grace go.
		if (c.state == http.StateIdle || c.state == http.StateNew) && now.Sub(c.since) >= g.newGrace {
			out = append(out, c)
		}
	}
	for _, c := range out {
		g.forgetLocked(c)
		g.stats.Evicted++
	}
	return out
}

func (g *connGuard) forget(c *guardedConn) {
	g.mu.Lock()
	g.forgetLocked(c)
	g.mu.Unlock()
	select {
	case g.freed <- struct{}{}:
	default:
	}
}

func (g *connGuard) forgetLocked(c *guardedConn) {
	if g.conns[c.key] != c {
		return
	}
	delete(g.conns, c.key)
	if g.perIP[c.ip]--; g.perIP[c.ip] <= 0 {
		delete(g.perIP, c.ip)
	}
}

// track is the http.Server's ConnState hook: the conn it sees may wrap
// the guarded one (TLS), so connections are found by remote address.
func (g *connGuard) track(c net.Conn, s http.ConnState) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if gc := g.conns[c.RemoteAddr().String()]; gc != nil {
		gc.state, gc.since = s, time.Now()
	}
}

func (g *connGuard) snapshot() GuardStats {
	g.mu.Lock()
	defer g.mu.Unlock()
	st := g.stats
	st.Open = len(g.conns)
	return st
}
