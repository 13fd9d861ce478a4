// Package enginetest holds inference engines for tests that need a worker
// to fail or to hold a job: behaviour an engine shows when it is down or
// slow, which a test cannot get from the reference engine alone.
package enginetest

import (
	"context"
	"errors"
	"sync"

	"github.com/cocoon-network/cocoon/offchain/inference"
	"github.com/cocoon-network/cocoon/offchain/inference/reference"
)

// Failing fails every generation before any output, as an engine that is
// down does: a worker answers with a failure receipt whose sealed result
// carries inference.CodeEngineUnavailable.
type Failing struct{}

// Name implements inference.Engine.
func (Failing) Name() string { return "enginetest-failing" }

// Description implements inference.Engine.
func (Failing) Description() string { return "test engine that is always down" }

// Chat implements inference.Engine.
func (Failing) Chat(context.Context, inference.Request) (inference.Stream, error) {
	return nil, errors.New("enginetest: the engine is down")
}

// Gated is the reference engine holding every generation until Release:
// a job stays in the engine (accepted, no receipt) for as long as a test
// needs, e.g. past its deadline or to fill the worker's slots.
type Gated struct {
	inference.Engine
	entered chan struct{}
	release chan struct{}
	once    sync.Once
}

// NewGated returns a held reference engine.
func NewGated() *Gated {
	return &Gated{Engine: reference.New(reference.Config{}), entered: make(chan struct{}, 64), release: make(chan struct{})}
}

// Chat implements inference.Engine: it signals Entered, then waits for
// Release (or the caller's context).
func (g *Gated) Chat(ctx context.Context, req inference.Request) (inference.Stream, error) {
	select {
	case g.entered <- struct{}{}:
	default:
	}
	select {
	case <-g.release:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return g.Engine.Chat(ctx, req)
}

// Entered receives once per generation that has reached the engine.
func (g *Gated) Entered() <-chan struct{} { return g.entered }

// Release lets every held and later generation run.
func (g *Gated) Release() { g.once.Do(func() { close(g.release) }) }
