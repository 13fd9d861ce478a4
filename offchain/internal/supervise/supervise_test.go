package supervise

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// A part that fails, returns early or panics is restarted and each stop is
// logged at error level with its cause; ending ctx ends the loop.
func TestRestartsAndReports(t *testing.T) {
	var logs bytes.Buffer // Run logs on the caller's goroutine
	log := slog.New(slog.NewTextHandler(&logs, nil))
	ctx, cancel := context.WithCancel(context.Background())
	runs := 0
	p := Policy{Base: time.Millisecond, Limit: 4 * time.Millisecond, Healthy: time.Hour}
	stops := Run(ctx, log, "flaky", p, func(ctx context.Context) error {
		runs++
		switch runs {
		case 1:
			return errors.New("boom")
		case 2:
			return nil
		case 3:
			panic("kaboom")
		}
		cancel()
		<-ctx.Done()
		return ctx.Err()
	})
	if runs != 4 || stops != 3 {
		t.Fatalf("runs %d, stops %d; want 4 and 3", runs, stops)
	}
	out := logs.String()
	for _, want := range []string{"level=ERROR", "part=flaky", "boom", "returned while it should still run", "panic: kaboom", "stops=3"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
}

func TestStopsWhenContextEnds(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	called := false
	if n := Run(ctx, slog.Default(), "x", DefaultPolicy(), func(context.Context) error { called = true; return nil }); n != 0 || called {
		t.Fatalf("ran %v, stops %d after ctx ended", called, n)
	}
}
