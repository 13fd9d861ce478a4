package client

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestJobURL(t *testing.T) {
	job := testAddr("job")
	tests := []struct {
		endpoint, want string
		wantErr        bool
	}{
		{"https://w.example", "https://w.example/v1/jobs/" + job.StringRaw() + "/result", false},
		{"https://w.example/", "https://w.example/v1/jobs/" + job.StringRaw() + "/result", false},
		{"http://10.0.0.1:8080/cocoon", "http://10.0.0.1:8080/cocoon/v1/jobs/" + job.StringRaw() + "/result", false},
		{"https://w.example/?q=1#f", "https://w.example/v1/jobs/" + job.StringRaw() + "/result", false},
		{"ftp://w.example", "", true},
		{"w.example", "", true},
		{"http://", "", true},
	}
	for _, tc := range tests {
		got, err := jobURL(tc.endpoint, job, "result")
		if got != tc.want || (err != nil) != tc.wantErr {
			t.Errorf("jobURL(%q) = %q, %v", tc.endpoint, got, err)
		}
	}
}

func TestErrorMessage(t *testing.T) {
	tests := map[string]string{
		`{"error":"job unknown"}`:                      "job unknown",
		`{"error":"line\nbreak\u001b[31m"}`:            "line break [31m",
		`not json`:                                     "",
		`{"error":"` + strings.Repeat("x", 300) + `"}`: strings.Repeat("x", maxErrorText) + "…",
	}
	for in, want := range tests {
		if got := errorMessage([]byte(in)); got != want {
			t.Errorf("errorMessage(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRetry(t *testing.T) {
	tests := []struct {
		name      string
		statuses  []int // answers in order; 200 ends
		wantCalls int32
		wantErr   bool
	}{
		{"busy", []int{503, 200}, 2, false},
		{"the worker cannot reach the chain", []int{503, 503, 200}, 3, false},
		{"a proxy in front of the worker", []int{502, 504, 200}, 3, false},
		{"404 (no such job) is final", []int{404, 200}, 1, true},
		{"400 (not a job address) is final", []int{400, 200}, 1, true},
		{"409 is final", []int{409, 200}, 1, true},
		{"413 is final", []int{413}, 1, true},
		{"429 is final", []int{429, 200}, 1, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var calls atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				i := calls.Add(1) - 1
				st := tc.statuses[min(int(i), len(tc.statuses)-1)]
				if st != 200 {
					w.WriteHeader(st)
					_, _ = w.Write([]byte(`{"error":"status"}`))
					return
				}
				_, _ = w.Write([]byte(`{"ok":true}`))
			}))
			defer srv.Close()
			hc := &workerHTTP{hc: srv.Client()}
			err := retry(context.Background(), 10*time.Second, func(ctx context.Context) error {
				return hc.postRequest(ctx, srv.URL, testAddr("job"), []byte("envelope"))
			})
			if (err != nil) != tc.wantErr || calls.Load() != tc.wantCalls {
				t.Fatalf("err %v after %d calls", err, calls.Load())
			}
			var he *HTTPError
			if err != nil && (!errors.As(err, &he) || he.Message != "status") {
				t.Errorf("error %v", err)
			}
		})
	}
	// The window bounds the retries: waits of 250 ms and 500 ms fit in
	// 600 ms at most once each.
	var calls int
	err := retry(context.Background(), 600*time.Millisecond, func(context.Context) error {
		calls++
		return &HTTPError{Status: 503}
	})
	if err == nil || calls > 2 {
		t.Errorf("retry past its window: %v after %d calls", err, calls)
	}
}

func TestResultSizeBound(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write(make([]byte, 1024))
	}))
	defer srv.Close()
	hc := &workerHTTP{hc: srv.Client()}
	if _, err := hc.get(context.Background(), "GET", srv.URL, 1000, time.Second); err == nil {
		t.Fatal("an answer over the limit was read")
	}
	if b, err := hc.get(context.Background(), "GET", srv.URL, 1024, time.Second); err != nil || len(b) != 1024 {
		t.Fatalf("an answer at the limit: %d bytes, %v", len(b), err)
	}
}
