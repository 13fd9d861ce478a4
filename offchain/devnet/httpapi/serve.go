package httpapi

import (
	"time"

	"github.com/cocoon-network/cocoon/offchain/internal/httpserve"
)

// DefaultLimits suit a devnet on a developer's machine or in CI. The write
// timeout exceeds the server's FaucetTimeout.
func DefaultLimits() httpserve.Limits {
	return httpserve.Limits{
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      90 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxConns:          512,
		// Every client of a local devnet comes from 127.0.0.1 (tools,
		// workers, a benchmark's 255 parallel faucet calls): one address
		// may hold three quarters, never all.
		MaxConnsPerClient: 384,
	}
}

// HTTPServer returns a server for the API with the limits' timeouts. Serve
// it on its Listener(ln), which applies the connection caps.
func (s *Server) HTTPServer(l httpserve.Limits) *httpserve.Server {
	return l.Server(s.Handler(), nil)
}
