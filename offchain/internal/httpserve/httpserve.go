// Package httpserve is how every Cocoon server (devnet, worker, gateway,
// key-release service) bounds what one client can hold: header, body,
// answer and idle timeouts on the http.Server, and a cap on open
// connections on its listener; and how they write a JSON answer.
package httpserve

import (
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"time"

	"golang.org/x/net/netutil"
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
	// MaxConns is how many connections are open at once; more wait in the
	// kernel's backlog until one closes. Zero means no limit.
	MaxConns int
}

// Server returns an http.Server for h with l's timeouts; its own errors
// (bad TLS handshakes, broken connections) go to log at warning level when
// log is not nil. Serve it on l.Listener(ln).
func (l Limits) Server(h http.Handler, log *slog.Logger) *http.Server {
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
	return srv
}

// Listener wraps ln so that at most l.MaxConns connections are open at
// once. Closing it also wakes an Accept that waits for a free slot.
func (l Limits) Listener(ln net.Listener) net.Listener {
	if l.MaxConns <= 0 {
		return ln
	}
	return netutil.LimitListener(ln, l.MaxConns)
}

// WriteJSON answers with status and v encoded as JSON. The status is gone
// once the encoding starts, so an encoding failure (never expected for the
// wire types passed here) cannot be reported to the client.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
