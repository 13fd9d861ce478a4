package httpserve

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

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
	if ln := srv.Listener(nil); ln != nil {
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
