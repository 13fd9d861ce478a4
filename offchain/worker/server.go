package worker

import (
	"time"

	"github.com/cocoon-network/cocoon/offchain/internal/httpserve"
)

// readHeaderTimeout bounds the request line and headers; the body has the
// configured read timeout.
const readHeaderTimeout = 10 * time.Second

// httpLimits are the worker's HTTP bounds from its config, so that no
// client can hold a connection or a goroutine for long.
func (d *Daemon) httpLimits() httpserve.Limits {
	h := d.cfg.HTTP
	return httpserve.Limits{
		ReadHeaderTimeout: min(readHeaderTimeout, h.ReadTimeout.Duration),
		ReadTimeout:       h.ReadTimeout.Duration,
		WriteTimeout:      h.WriteTimeout.Duration,
		IdleTimeout:       h.IdleTimeout.Duration,
		MaxConns:          h.MaxConnections,
	}
}
