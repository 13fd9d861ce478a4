// Package supervise keeps the long-running parts of one process (the
// devnet's block producer and API, workers) going: a part that stops with
// an error, returns while it should still run, or panics is reported at
// error level and started again after a backoff, so that one failing part
// costs its own service for a while, never the whole process, and never
// silently.
package supervise

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"time"

	"github.com/cocoon-network/cocoon/offchain/chain"
)

// Policy is how a part is restarted.
type Policy struct {
	// Base and Limit bound the wait before a restart: Base after the first
	// failure, doubled for each further one in a row, at most Limit.
	Base, Limit time.Duration
	// Healthy is how long a part must run for its failures to be
	// forgotten.
	Healthy time.Duration
}

// DefaultPolicy restarts after 1 s, then 2, 4, … up to 30 s; a minute of
// running forgives.
func DefaultPolicy() Policy {
	return Policy{Base: time.Second, Limit: 30 * time.Second, Healthy: time.Minute}
}

// Run runs part until ctx ends, restarting it as p says. It returns how
// many times the part stopped while ctx was live.
func Run(ctx context.Context, log *slog.Logger, name string, p Policy, part func(context.Context) error) (stops int) {
	failures := 0
	for ctx.Err() == nil {
		started := time.Now()
		err := runOnce(ctx, part)
		if ctx.Err() != nil {
			return stops
		}
		stops++
		if time.Since(started) >= p.Healthy {
			failures = 0
		}
		failures++
		if err == nil {
			err = errors.New("it returned while it should still run")
		}
		wait := chain.Backoff(p.Base, p.Limit, failures)
		log.Error("part stopped; restarting", "part", name, "error", err, "restart_in", wait, "stops", stops)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
		case <-t.C:
		}
	}
	return stops
}

// runOnce runs part, turning a panic into an error that carries the stack.
func runOnce(ctx context.Context, part func(context.Context) error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v\n%s", r, debug.Stack())
		}
	}()
	return part(ctx)
}
