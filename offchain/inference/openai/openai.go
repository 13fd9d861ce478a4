// Package openai is an inference engine that talks to any server with an
// OpenAI-compatible streaming chat completions API: vLLM, SGLang,
// llama.cpp's llama-server and Ollama's /v1. docs/SEALING.md lists the
// quirks of each that this package handles.
package openai

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/cocoon-network/cocoon/offchain/inference"
	"github.com/cocoon-network/cocoon/offchain/internal/sse"
)

// ErrUnavailable wraps failures to send the request at all (connection
// refused, reset, DNS): the backend is down or restarting.
var ErrUnavailable = errors.New("openai: backend unavailable")

// Config configures an Engine. Zero durations and counts take the defaults.
type Config struct {
	// BaseURL is the server's root, e.g. http://127.0.0.1:8000; a trailing
	// /v1 (as Ollama's docs write it) is accepted and not doubled.
	BaseURL string
	// APIKey, when set, is sent as "Authorization: Bearer <key>".
	APIKey string
	// HTTPClient replaces the built-in client; ConnectTimeout then does
	// not apply. It must not set Client.Timeout, which would cut streams.
	HTTPClient *http.Client
	// ConnectTimeout bounds TCP connect and TLS handshake (default 5s).
	ConnectTimeout time.Duration
	// FirstTokenTimeout bounds the time from sending the request to the
	// first text delta, prompt processing included (default 120s).
	FirstTokenTimeout time.Duration
	// IdleTimeout bounds the silence between deltas once text flows
	// (default 30s). Time the caller spends between Next calls is not
	// counted.
	IdleTimeout time.Duration
	// MaxAttempts bounds tries per Chat, the first included (default 3).
	// Retries happen only before the first delta is delivered.
	MaxAttempts int
	// Backoff is the wait before the first retry, doubled per retry up
	// to MaxBackoff, with jitter (defaults 500ms and 5s). A Retry-After
	// header lengthens the wait, up to 30s.
	Backoff, MaxBackoff time.Duration
	// Logger receives retry warnings; never request or answer content.
	Logger *slog.Logger
}

const (
	defaultConnectTimeout    = 5 * time.Second
	defaultFirstTokenTimeout = 120 * time.Second
	defaultIdleTimeout       = 30 * time.Second
	defaultMaxAttempts       = 3
	defaultBackoff           = 500 * time.Millisecond
	defaultMaxBackoff        = 5 * time.Second
	maxRetryAfter            = 30 * time.Second
	maxErrorBody             = 64 << 10
	// maxLine bounds one SSE line. A chunk carries a few tokens; a line
	// this long means the peer is not an inference server.
	maxLine = 1 << 20
)

// Engine is an OpenAI-compatible HTTP engine. It is safe for concurrent use.
type Engine struct {
	endpoint   string
	display    string
	apiKey     string
	client     *http.Client
	firstToken time.Duration
	idle       time.Duration
	attempts   int
	backoff    time.Duration
	maxBackoff time.Duration
	log        *slog.Logger
}

// New checks cfg and returns an Engine. It does not contact the server.
func New(cfg Config) (*Engine, error) {
	u, err := url.Parse(strings.TrimSpace(cfg.BaseURL))
	if err != nil {
		return nil, fmt.Errorf("openai: base URL: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("openai: base URL %q: want http(s)://host[:port][/path]", u.Redacted())
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("openai: base URL %q: must not have a query or fragment", u.Redacted())
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	u.RawPath = ""
	display := u.Redacted()
	if !strings.HasSuffix(u.Path, "/v1") {
		u.Path += "/v1"
	}
	u.Path += "/chat/completions"

	e := &Engine{
		endpoint:   u.String(),
		display:    display,
		apiKey:     cfg.APIKey,
		client:     cfg.HTTPClient,
		firstToken: orDefault(cfg.FirstTokenTimeout, defaultFirstTokenTimeout),
		idle:       orDefault(cfg.IdleTimeout, defaultIdleTimeout),
		attempts:   cfg.MaxAttempts,
		backoff:    orDefault(cfg.Backoff, defaultBackoff),
		maxBackoff: orDefault(cfg.MaxBackoff, defaultMaxBackoff),
		log:        cfg.Logger,
	}
	if e.attempts <= 0 {
		e.attempts = defaultMaxAttempts
	}
	if e.client == nil {
		e.client = defaultClient(orDefault(cfg.ConnectTimeout, defaultConnectTimeout))
	}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	return e, nil
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// defaultClient has per-phase timeouts only: an overall Client.Timeout
// would cut long answers, which the first-token and idle timeouts bound
// instead.
func defaultClient(connect time.Duration) *http.Client {
	d := &net.Dialer{Timeout: connect, KeepAlive: 30 * time.Second}
	return &http.Client{Transport: &http.Transport{
		// Never an environment proxy: requests carry prompts in clear, and
		// the engine is meant to sit next to the worker inside the TEE.
		Proxy:               nil,
		DialContext:         d.DialContext,
		TLSHandshakeTimeout: connect,
		MaxIdleConns:        64,
		MaxIdleConnsPerHost: 64,
		IdleConnTimeout:     90 * time.Second,
		// Compression makes some servers and proxies buffer the stream.
		DisableCompression: true,
		ForceAttemptHTTP2:  true,
	}}
}

// Name implements inference.Engine.
func (e *Engine) Name() string { return "openai" }

// Description implements inference.Engine.
func (e *Engine) Description() string {
	return "OpenAI-compatible HTTP engine at " + e.display
}

// Chat sends req and returns once the first text delta has arrived (or
// the answer ended without any). Until then, failures that may pass —
// connection errors, HTTP 408/429/5xx, a stream that breaks, the
// first-token timeout — are retried up to MaxAttempts with backoff. After
// it, nothing is retried: the caller has text, and a second generation
// would differ from it.
func (e *Engine) Chat(ctx context.Context, req inference.Request) (inference.Stream, error) {
	if err := req.Validate(); err != nil {
		return nil, err
	}
	body, err := encodeRequest(req)
	if err != nil {
		return nil, fmt.Errorf("openai: encoding request: %w", err)
	}
	for attempt := 1; ; attempt++ {
		s, err := e.attempt(ctx, body)
		if err == nil {
			return s, nil
		}
		if ctx.Err() != nil || !retryable(err) {
			return nil, err
		}
		if attempt >= e.attempts {
			return nil, fmt.Errorf("openai: giving up after %d attempts: %w", attempt, err)
		}
		wait := e.wait(attempt, err)
		e.log.LogAttrs(ctx, slog.LevelWarn, "inference backend failed before the first token; retrying",
			slog.String("engine", e.display), slog.Int("attempt", attempt), slog.Int("max_attempts", e.attempts),
			slog.Duration("wait", wait), slog.String("error", err.Error()))
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("openai: waiting to retry: %w", context.Cause(ctx))
		case <-t.C:
		}
	}
}

func retryable(err error) bool {
	var se *StatusError
	if errors.As(err, &se) {
		return se.retryable()
	}
	return errors.Is(err, ErrUnavailable) || errors.Is(err, ErrStreamBroken) || errors.Is(err, ErrFirstTokenTimeout)
}

// wait is exponential backoff with jitter in [d/2, d], stretched to a
// server's Retry-After when that is longer.
func (e *Engine) wait(attempt int, err error) time.Duration {
	d := e.backoff
	for i := 1; i < attempt && d < e.maxBackoff; i++ {
		d *= 2
	}
	d = min(d, e.maxBackoff)
	d = d/2 + rand.N(d/2+1)
	var se *StatusError
	if errors.As(err, &se) && se.RetryAfter > d {
		d = min(se.RetryAfter, maxRetryAfter)
	}
	return d
}

// attempt makes one request and reads up to the first delta.
func (e *Engine) attempt(ctx context.Context, body []byte) (*stream, error) {
	reqCtx, cancel := context.WithCancelCause(ctx)
	s := &stream{reqCtx: reqCtx, cancel: cancel, firstToken: e.firstToken, idle: e.idle}
	s.firstTimer = time.AfterFunc(e.firstToken, func() { cancel(ErrFirstTokenTimeout) })

	hreq, err := http.NewRequestWithContext(reqCtx, http.MethodPost, e.endpoint, bytes.NewReader(body))
	if err != nil {
		s.release()
		return nil, fmt.Errorf("openai: building request: %w", err)
	}
	hreq.Header.Set("Content-Type", "application/json")
	hreq.Header.Set("Accept", "text/event-stream")
	if e.apiKey != "" {
		hreq.Header.Set("Authorization", "Bearer "+e.apiKey)
	}
	resp, err := e.client.Do(hreq)
	if err != nil {
		// Read the cause before release, which cancels with its own.
		cause := s.cancelCause()
		s.release()
		if cause != nil {
			return nil, cause
		}
		return nil, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	s.body = resp.Body
	if resp.StatusCode != http.StatusOK {
		defer s.release()
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		return nil, &StatusError{
			StatusCode: resp.StatusCode,
			Message:    errorMessage(msg),
			RetryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()),
		}
	}
	if ct := resp.Header.Get("Content-Type"); ct != "" {
		// A missing Content-Type is tolerated and parsed as a stream.
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "text/event-stream" {
			defer s.release()
			msg, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
			if m := errorMessage(msg); m != "" {
				return nil, &BackendError{Message: m}
			}
			return nil, fmt.Errorf("%w (Content-Type %q)", ErrNotStreaming, ct)
		}
	}
	s.events = sse.NewReader(activityReader{r: resp.Body, touch: s.touch}, maxLine)
	if err := s.prime(); err != nil {
		s.release()
		return nil, err
	}
	return s, nil
}

// parseRetryAfter reads delay-seconds or an HTTP date; 0 when absent or bad.
func parseRetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && n >= 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// activityReader reports every read that returns data, so that the idle
// timer measures backend silence rather than stream length.
type activityReader struct {
	r     io.Reader
	touch func()
}

func (a activityReader) Read(p []byte) (int, error) {
	n, err := a.r.Read(p)
	if n > 0 {
		a.touch()
	}
	return n, err
}
