package httpserve

import (
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// The listener hands out at most MaxConns connections; closing one lets
// the next in, and closing the listener wakes an Accept waiting for a slot.
func TestListenerLimitsConnections(t *testing.T) {
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := Limits{MaxConns: 1}.Listener(tcp)
	defer ln.Close()
	for range 3 {
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
	second := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			t.Error(err)
		}
		second <- c
	}()
	// While the only slot is held, no second connection is accepted (this
	// check can only pass wrongly on a very slow machine, never fail wrongly).
	select {
	case c := <-second:
		c.Close()
		t.Fatal("a second connection was accepted while the only slot was held")
	case <-time.After(100 * time.Millisecond):
	}
	first.Close()
	held := <-second
	defer held.Close()

	waiting := make(chan error, 1)
	go func() { _, err := ln.Accept(); waiting <- err }()
	ln.Close()
	if err := <-waiting; !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Accept on a closed listener: %v, want net.ErrClosed", err)
	}
}

func TestServerCarriesTheLimits(t *testing.T) {
	l := Limits{ReadHeaderTimeout: time.Second, ReadTimeout: 2 * time.Second, WriteTimeout: 3 * time.Second, IdleTimeout: 4 * time.Second}
	srv := l.Server(nil, nil)
	got := [4]time.Duration{srv.ReadHeaderTimeout, srv.ReadTimeout, srv.WriteTimeout, srv.IdleTimeout}
	if want := [4]time.Duration{time.Second, 2 * time.Second, 3 * time.Second, 4 * time.Second}; got != want {
		t.Fatalf("timeouts %v, want %v", got, want)
	}
	if srv.MaxHeaderBytes != MaxHeaderBytes || srv.ErrorLog != nil {
		t.Fatalf("MaxHeaderBytes %d, ErrorLog %v", srv.MaxHeaderBytes, srv.ErrorLog)
	}
	if ln := (Limits{}).Listener(nil); ln != nil {
		t.Fatal("no MaxConns must leave the listener as it is")
	}
}

func TestWriteJSON(t *testing.T) {
	rec := httptest.NewRecorder()
	WriteJSON(rec, http.StatusTeapot, map[string]string{"error": "a <b>"})
	if rec.Code != http.StatusTeapot || rec.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("status %d, Content-Type %q", rec.Code, rec.Header().Get("Content-Type"))
	}
	if got, want := rec.Body.String(), `{"error":"a \u003cb\u003e"}`+"\n"; got != want {
		t.Errorf("body %q, want %q", got, want)
	}
}
