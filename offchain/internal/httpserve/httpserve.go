// Package httpserve is how every Cocoon server (devnet, worker, gateway,
// key-release service) bounds what one client can hold: header, body,
// answer and idle timeouts on the http.Server, and caps on open
// connections, per client address and in all, on its listener; and how
// they write a JSON answer.
package httpserve

import (
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// MaxHeaderBytes bounds a request's headers on every server.
const MaxHeaderBytes = 64 << 10

// Limits bound what one client can hold of a server.
type Limits struct {
	// ReadHeaderTimeout bounds reading a request's headers.
	ReadHeaderTimeout time.Duration
	// ReadTimeout bounds reading a whole request, body included: a client
	// that announces a body and sends nothing is dropped after it.
	ReadTimeout time.Duration
	// WriteTimeout bounds a request from the end of its headers to the end
	// of the answer (a stream that keeps flowing extends its own deadline).
	WriteTimeout time.Duration
	// IdleTimeout bounds how long a kept-alive connection waits for the
	// next request.
	IdleTimeout time.Duration
	// MaxConns is how many connections are open at once. Near it, unused
	// connections (idle between requests, or silent after connecting, for
	// a second) are closed to make room; at it, a new connection waits up
	// to two seconds for a slot, then is closed. Zero means no limit.
	MaxConns int
	// MaxConnsPerClient is how many of those one address may hold; more
	// are closed at once. Zero means a quarter of MaxConns (at least 4).
	MaxConnsPerClient int
}

// Server is an http.Server with the limits' timeouts, and the connection
// guard that Listener puts in front of a listener.
type Server struct {
	*http.Server
	guard *connGuard
}

// Listener wraps ln with the connection caps; serve on what it returns.
// Without MaxConns it returns ln.
func (s *Server) Listener(ln net.Listener) net.Listener {
	if s.guard == nil {
		return ln
	}
	return &guardedListener{Listener: ln, g: s.guard}
}

// GuardStats reports what the connection guard did; zero without MaxConns.
func (s *Server) GuardStats() GuardStats {
	if s.guard == nil {
		return GuardStats{}
	}
	return s.guard.snapshot()
}

// Server returns a server for h with l's timeouts; its own errors (bad TLS
// handshakes, broken connections) go to log at warning level when log is
// not nil. Serve it on its Listener(ln), which applies the connection caps.
func (l Limits) Server(h http.Handler, log *slog.Logger) *Server {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: l.ReadHeaderTimeout,
		ReadTimeout:       l.ReadTimeout,
		WriteTimeout:      l.WriteTimeout,
		IdleTimeout:       l.IdleTimeout,
		MaxHeaderBytes:    MaxHeaderBytes,
	}
	if log != nil {
		srv.ErrorLog = slog.NewLogLogger(log.Handler(), slog.LevelWarn)
	}
	out := &Server{Server: srv}
	if l.MaxConns > 0 {
		out.guard = newConnGuard(l.MaxConns, l.MaxConnsPerClient)
		srv.ConnState = out.guard.track
	}
	return out
}

// WriteJSON answers with status and v encoded as JSON. The status is gone
// once the encoding starts, so an encoding failure (never expected for the
// wire types passed here) cannot be reported to the client.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
