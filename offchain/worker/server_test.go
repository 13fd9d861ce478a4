package worker

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"
)

// The listener hands out at most n connections; closing one lets the next
// in, and closing the listener wakes an Accept waiting for a slot.
func TestLimitListener(t *testing.T) {
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := newLimitListener(tcp, 1)
	defer ln.Close()
	for range 2 {
		c, err := net.Dial("tcp", tcp.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	first, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	if l := ln.(*limitListener); len(l.slots) != cap(l.slots) {
		t.Fatalf("%d of %d slots taken after one Accept", len(l.slots), cap(l.slots))
	}
	second := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			c.Close()
		}
		second <- err
	}()
	first.Close()
	first.Close() // a second Close frees nothing more
	if err := <-second; err != nil {
		t.Fatalf("Accept after a connection closed: %v", err)
	}

	// Take the slot again, then close the listener under a waiting Accept.
	c, err := net.Dial("tcp", tcp.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	held, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	waiting := make(chan error, 1)
	go func() { _, err := ln.Accept(); waiting <- err }()
	ln.Close()
	if err := <-waiting; !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Accept on a closed listener: %v, want net.ErrClosed", err)
	}
}

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
