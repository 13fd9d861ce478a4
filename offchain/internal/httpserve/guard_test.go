package httpserve

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"testing"
	"time"
)

// serveGuarded serves a handler that answers "ok" (or blocks on /slow
// until release is closed) behind l's caps on 127.0.0.1.
func serveGuarded(t *testing.T, l Limits, release chan struct{}, tune func(*connGuard)) (*Server, string) {
	t.Helper()
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			<-release
		}
		io.WriteString(w, "ok")
	})
	srv := l.Server(h, nil)
	if tune != nil {
		tune(srv.guard)
	}
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(srv.Listener(tcp))
	t.Cleanup(func() { srv.Close() })
	return srv, tcp.Addr().String()
}

// dialFrom connects from a loopback address of its own (127.0.0.0/8 is
// all local on Linux), so one test can play several clients.
func dialFrom(t *testing.T, from, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// get sends one keep-alive request on c and reads the answer; the error
// is what a client would see (a closed or refused connection).
func get(c net.Conn, path string) error {
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", path); err != nil {
		return err
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || string(body) != "ok" {
		return fmt.Errorf("HTTP %d %q", resp.StatusCode, body)
	}
	return nil
}

// isClosed reports whether the server closed c without answering.
func isClosed(c net.Conn) bool {
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := c.Read(make([]byte, 1))
	return n == 0 && err != nil && !errors.Is(err, os.ErrDeadlineExceeded)
}

// One address holds at most its share; others are still served.
func TestPerClientCap(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	srv, addr := serveGuarded(t, Limits{MaxConns: 16, MaxConnsPerClient: 3}, release, nil)
	for range 3 {
		c := dialFrom(t, "127.0.0.2", addr)
		go get(c, "/slow") // busy: never closed for room
	}
	for srv.GuardStats().Open < 3 {
		time.Sleep(10 * time.Millisecond)
	}
	if c := dialFrom(t, "127.0.0.2", addr); !isClosed(c) {
		t.Fatal("a fourth connection from the same address was kept open")
	}
	if err := get(dialFrom(t, "127.0.0.1", addr), "/"); err != nil {
		t.Fatalf("another address while the first holds its share: %v", err)
	}
	if st := srv.GuardStats(); st.Refused != 1 || st.Open != 4 {
		t.Errorf("stats %+v, want 1 refused and 4 open", st)
	}
}

// An address at its share that leaves a connection idle gets it replaced
// by its new one (a client's own pool), not refused.
func TestPerClientIdleMakesRoom(t *testing.T) {
	srv, addr := serveGuarded(t, Limits{MaxConns: 16, MaxConnsPerClient: 2}, nil, func(g *connGuard) { g.newGrace = 50 * time.Millisecond })
	for range 4 {
		if err := get(dialFrom(t, "127.0.0.2", addr), "/"); err != nil {
			t.Fatal(err)
		}
		time.Sleep(60 * time.Millisecond) // idle past the grace
	}
	if st := srv.GuardStats(); st.Refused != 0 || st.Open > 2 {
		t.Errorf("stats %+v, want none refused and at most 2 open", st)
	}
}

// Junk connections from many addresses fill the server: those idle after
// a request, and those silent past the grace, are closed for a new client.
func TestUnusedConnectionsMakeRoomAtTheCap(t *testing.T) {
	srv, addr := serveGuarded(t, Limits{MaxConns: 8, MaxConnsPerClient: 2}, nil, func(g *connGuard) { g.newGrace = 200 * time.Millisecond })
	var idle, silent []net.Conn
	for i := range 4 {
		c := dialFrom(t, fmt.Sprintf("127.0.0.%d", 10+i), addr)
		if err := get(c, "/"); err != nil {
			t.Fatal(err)
		}
		idle = append(idle, c) // kept alive, idle
		silent = append(silent, dialFrom(t, fmt.Sprintf("127.0.0.%d", 10+i), addr))
	}
	time.Sleep(300 * time.Millisecond) // the silent ones pass the grace
	for i := range 3 {
		if err := get(dialFrom(t, fmt.Sprintf("127.0.0.%d", 20+i), addr), "/"); err != nil {
			t.Fatalf("new client %d at the cap: %v", i, err)
		}
	}
	closed := 0
	for _, c := range append(idle, silent...) {
		if isClosed(c) {
			closed++
		}
	}
	// The new clients' own connections, idle after their answer, may go
	// the same way; every junk one must.
	if st := srv.GuardStats(); closed != 8 || st.Evicted < 8 {
		t.Errorf("%d of 8 junk connections closed, stats %+v", closed, st)
	}
}

// Connections in use are never closed for room: at the cap a new one
// waits, and is closed when no slot frees in time.
func TestBusyConnectionsAreKept(t *testing.T) {
	release := make(chan struct{})
	_, addr := serveGuarded(t, Limits{MaxConns: 2, MaxConnsPerClient: 2}, release, func(g *connGuard) {
		g.acceptFor, g.newGrace = 300*time.Millisecond, 100*time.Millisecond
	})
	busy := make(chan error, 2)
	for range 2 {
		c := dialFrom(t, "127.0.0.3", addr)
		go func() { busy <- get(c, "/slow") }()
	}
	time.Sleep(100 * time.Millisecond)
	if c := dialFrom(t, "127.0.0.1", addr); !isClosed(c) {
		t.Fatal("a connection over the cap was kept while every slot was busy")
	}
	close(release)
	for range 2 {
		if err := <-busy; err != nil {
			t.Fatalf("a busy connection was cut: %v", err)
		}
	}
	// Now idle, they give way once past the grace.
	if err := get(dialFrom(t, "127.0.0.1", addr), "/"); err != nil {
		t.Fatalf("after the busy ones finished: %v", err)
	}
}

// Closing the listener wakes an Accept that waits for a slot.
func TestCloseWakesAWaitingAccept(t *testing.T) {
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := Limits{MaxConns: 1}.Server(nil, nil)
	ln := srv.Listener(tcp)
	c1 := dialFrom(t, "127.0.0.1", tcp.Addr().String())
	_ = c1
	first, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	srv.guard.track(first, http.StateActive)
	dialFrom(t, "127.0.0.2", tcp.Addr().String())
	waiting := make(chan error, 1)
	go func() { _, err := ln.Accept(); waiting <- err }()
	time.Sleep(50 * time.Millisecond)
	ln.Close()
	if err := <-waiting; !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Accept on a closed listener: %v, want net.ErrClosed", err)
	}
}
