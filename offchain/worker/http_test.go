package worker

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xssnick/tonutils-go/address"

	"github.com/cocoon-network/cocoon/offchain/chain"
	"github.com/cocoon-network/cocoon/offchain/chain/readers"
	"github.com/cocoon-network/cocoon/offchain/devnet"
	"github.com/cocoon-network/cocoon/offchain/inference/reference"
	"github.com/cocoon-network/cocoon/offchain/seal"
)

// countingBody is a request body of n bytes that counts what is read of it
// without holding the bytes.
type countingBody struct {
	left int64
	read *atomic.Int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		return 0, io.EOF
	}
	n := int(min(int64(len(p)), b.left))
	clear(p[:n])
	b.left -= int64(n)
	b.read.Add(int64(n))
	return n, nil
}

// unreachableNet fails every chain read, as a partitioned network does.
type unreachableNet struct{ chain.Network }

func (unreachableNet) RunGetMethod(context.Context, *address.Address, string, ...any) ([]any, error) {
	return nil, errors.New("test: network partition")
}

func (unreachableNet) Account(context.Context, *address.Address) (*chain.Account, error) {
	return nil, errors.New("test: network partition")
}

// bareDaemon is a daemon on a devnet without a Root: enough for the HTTP
// checks made before a job's terms are found.
func bareDaemon(t *testing.T, ctx context.Context, wrap func(chain.Network) chain.Network) (*Daemon, *devnet.Engine) {
	t.Helper()
	e, err := devnet.Open(ctx, devnet.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	id, err := InitIdentity(ctx, filepath.Join(t.TempDir(), "keys"), seal.SuiteX25519)
	if err != nil {
		t.Fatal(err)
	}
	cfg := &Config{Network: "devnet", Root: testAddrN(1).String(), Owner: testAddrN(2).String(), dir: t.TempDir(),
		Models: []ModelConfig{{Name: testModel, PriceIn: "1", PriceOut: "1"}}}
	cfg.applyDefaults()
	var n chain.Network = e
	if wrap != nil {
		n = wrap(e)
	}
	d, err := New(cfg, id, Options{Network: n, Engine: reference.New(reference.Config{})})
	if err != nil {
		t.Fatal(err)
	}
	return d, e
}

func testAddrN(i byte) *address.Address {
	data := make([]byte, 32)
	data[31] = i
	return address.NewAddress(0, 0, data)
}

// Posts for jobs that do not exist, or that are not this worker's, are
// answered before a byte of the body is read: 120 posts of 16 MiB, 40 at
// a time, read nothing and hold no memory.
func TestPostRequestChecksTheJobBeforeTheBody(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	d, e := bareDaemon(t, ctx, nil)
	h := d.Handler()
	tests := []struct {
		name   string
		job    string
		length int64
		status int
	}{
		{"no contract at the address", testAddrN(9).StringRaw(), MaxRequestBody, http.StatusNotFound},
		{"an account that is not a job", e.GenesisAddress().StringRaw(), MaxRequestBody, http.StatusNotFound},
		{"not an address", "nope", MaxRequestBody, http.StatusBadRequest},
		{"workchain 5", "5:" + strings.Repeat("ab", 32), MaxRequestBody, http.StatusBadRequest},
		{"a 60,000-character job", strings.Repeat("a", 60_000), MaxRequestBody, http.StatusBadRequest},
		{"announced over the limit", testAddrN(9).StringRaw(), MaxRequestBody + 1, http.StatusRequestEntityTooLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var read atomic.Int64
			const posts, parallel = 120, 40
			sem := make(chan struct{}, parallel)
			var wg sync.WaitGroup
			statuses := make(chan int, posts)
			for range posts {
				sem <- struct{}{}
				wg.Add(1)
				go func() {
					defer func() { <-sem; wg.Done() }()
					req := httptest.NewRequest(http.MethodPost, "/v1/jobs/"+tc.job+"/request", &countingBody{left: tc.length, read: &read})
					req.ContentLength = tc.length
					rec := httptest.NewRecorder()
					h.ServeHTTP(rec, req)
					statuses <- rec.Code
				}()
			}
			wg.Wait()
			close(statuses)
			for st := range statuses {
				if st != tc.status {
					t.Fatalf("status %d, want %d", st, tc.status)
				}
			}
			if n := read.Load(); n != 0 {
				t.Fatalf("%d body bytes read for requests that could not be kept", n)
			}
		})
	}
	// An overlong job is refused in a short answer (issue 24: it came back
	// twice, 120 KB).
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/v1/jobs/"+strings.Repeat("a", 60_000)+"/result", nil))
	if rec.Code != http.StatusBadRequest || rec.Body.Len() > 200 {
		t.Fatalf("GET result of a 60,000-character job: %d, %d bytes", rec.Code, rec.Body.Len())
	}
}

// A worker that cannot read the chain says so with 503 and Retry-After
// (worth retrying), not with a 4xx that a client would give up on.
func TestPostRequestWhileTheChainIsUnreachable(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d, _ := bareDaemon(t, ctx, func(n chain.Network) chain.Network { return unreachableNet{n} })
	req := httptest.NewRequest(http.MethodPost, "/v1/jobs/"+testAddrN(9).StringRaw()+"/request", strings.NewReader("x"))
	rec := httptest.NewRecorder()
	d.Handler().ServeHTTP(rec, req)
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" {
		t.Fatalf("status %d, Retry-After %q; want 503 with Retry-After", rec.Code, rec.Header().Get("Retry-After"))
	}
}

// gatedBody gives the first part of a body, waits for release, then the rest.
type gatedBody struct {
	head, tail []byte
	started    chan struct{}
	release    chan struct{}
	once       sync.Once
}

func (b *gatedBody) Read(p []byte) (int, error) {
	if len(b.head) > 0 {
		n := copy(p, b.head)
		b.head = b.head[n:]
		return n, nil
	}
	b.once.Do(func() { close(b.started) })
	<-b.release
	if len(b.tail) == 0 {
		return 0, io.EOF
	}
	n := copy(p, b.tail)
	b.tail = b.tail[n:]
	return n, nil
}

// Uploads for a real job of this worker: a body that does not match the
// commitment is refused with 409, at most max_uploads bodies are read at
// once (more get 503 with Retry-After), a post repeated once the job holds
// its request is answered without reading it, and a client that announces
// a body and stalls is dropped by the read timeout.
func TestUploadLimits(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	n := setupNet(t, ctx)
	cfg, id, ln := registerWorker(t, ctx, n)
	cfg.HTTP.MaxUploads = 1
	cfg.HTTP.ReadTimeout.Duration = 300 * time.Millisecond
	d, err := New(cfg, id, Options{Network: n.e, Engine: blockingEngine{release: make(chan struct{})}})
	if err != nil {
		t.Fatal(err)
	}
	dctx, stop := context.WithCancel(ctx)
	defer stop()
	go func() { _ = d.Run(dctx, ln) }()
	// The test calls the handler directly below, so it first waits for Run
	// to have opened the job store and started serving.
	waitServing(t, ctx, cfg.PublicURL)
	job, env := submitPosted(t, ctx, n, id)
	url := cfg.PublicURL + "/v1/jobs/" + job.StringRaw() + "/request"

	// A body that does not match the commitment is refused.
	rec := httptest.NewRecorder()
	d.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodPost, url, strings.NewReader("not the envelope")))
	if rec.Code != http.StatusConflict {
		t.Fatalf("a body that does not match the commitment: %d %s; want 409", rec.Code, rec.Body.String())
	}

	// One upload in progress takes the only slot.
	first := &gatedBody{head: env[:10], tail: env[10:], started: make(chan struct{}), release: make(chan struct{})}
	firstDone := make(chan int, 1)
	go func() {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, first)
		req.ContentLength = int64(len(env))
		rec := httptest.NewRecorder()
		d.Handler().ServeHTTP(rec, req) // straight to the handler: no read timeout
		firstDone <- rec.Code
	}()
	<-first.started
	req := httptest.NewRequest(http.MethodPost, url, strings.NewReader(string(env)))
	rec = httptest.NewRecorder()
	d.Handler().ServeHTTP(rec, req)
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" {
		t.Fatalf("a second upload while one is read: %d %q; want 503 with Retry-After", rec.Code, rec.Body.String())
	}
	close(first.release)
	if code := <-firstDone; code != http.StatusOK {
		t.Fatalf("the upload that held the slot: %d; want 200", code)
	}

	// Once the job holds its request, a repeated post (a client retrying
	// one that went through) is answered without reading the body.
	eventually(t, ctx, "the job holding its request", func() bool {
		r, err := d.Job(job.StringRaw())
		return err == nil && r.State >= StateRequest
	})
	var read atomic.Int64
	again := httptest.NewRequest(http.MethodPost, url, &countingBody{left: int64(len(env)), read: &read})
	again.ContentLength = int64(len(env))
	rec = httptest.NewRecorder()
	d.Handler().ServeHTTP(rec, again)
	if rec.Code != http.StatusOK || read.Load() != 0 {
		t.Fatalf("a repeated post: %d, %d bytes read; want 200 without reading", rec.Code, read.Load())
	}

	// Over the network, a client that announces a body and sends nothing
	// is dropped by the read timeout: the connection ends.
	for _, tc := range []struct{ name, send string }{
		{"stalled body", fmt.Sprintf("POST /v1/jobs/%s/request HTTP/1.1\r\nHost: w\r\nContent-Length: 1000000\r\n\r\n", job.StringRaw())},
		{"stalled headers", "POST /v1/jobs/" + job.StringRaw() + "/request HTTP/1.1\r\nHost: w\r\n"},
		{"silent connection", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := net.Dial("tcp", strings.TrimPrefix(cfg.PublicURL, "http://"))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if _, err := io.WriteString(c, tc.send); err != nil {
				t.Fatal(err)
			}
			// Bounded only so that a broken server fails the test instead of hanging it.
			_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
			_, err = io.Copy(io.Discard, bufio.NewReader(c))
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatal("the server still holds a stalled connection")
			}
		})
	}
}

// submitPosted deploys a job whose request is not inline: the client must
// post it to the worker. It returns the job and the envelope to post.
func submitPosted(t *testing.T, ctx context.Context, n *testNet, id *Identity) (*address.Address, []byte) {
	t.Helper()
	job, _, env := submitWith(t, ctx, n, id, "posted request", 16, false)
	for {
		if _, err := readers.NewJob(n.e, job).JobTerms(ctx); err == nil {
			return job, env
		}
		select {
		case <-ctx.Done():
			t.Fatal("the job was never deployed")
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// waitServing waits until the daemon at base answers /healthz.
func waitServing(t *testing.T, ctx context.Context, base string) {
	t.Helper()
	for {
		resp, err := http.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the daemon at %s never served /healthz: %v", base, err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}
