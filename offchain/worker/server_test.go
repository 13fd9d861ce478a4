package worker

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"
)

// brokenListener fails Accept with a permanent error, as a listener whose
// socket went away does.
type brokenListener struct{ net.Listener }

func (brokenListener) Accept() (net.Conn, error) { return nil, errors.New("test: listener broken") }

// A daemon whose HTTP server stops serving does not carry on without an
// endpoint: Run returns the reason.
func TestRunStopsWhenServingFails(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d, _ := bareDaemon(t, ctx, nil)
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer tcp.Close()
	err = d.Run(ctx, brokenListener{tcp})
	if err == nil || !strings.Contains(err.Error(), "serving HTTP") || ctx.Err() != nil {
		t.Fatalf("Run: %v, want the serving error", err)
	}
}
