// Package toncenter implements chain.Network over the toncenter v2 HTTP API
// (its JSON-RPC endpoint), as served by toncenter.com, testnet.toncenter.com
// and any server that speaks the same protocol.
//
// toncenter is a trusted source: nothing it returns is proven. Use it where
// that trust is acceptable (tests, devnets, tools), not where funds depend on
// an honest server.
package toncenter

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/cocoon-network/cocoon/offchain/chain"
)

// Defaults of a Client; each can be changed with an Option.
const (
	DefaultTimeout      = 30 * time.Second
	DefaultRetries      = 5
	DefaultRetryBackoff = 500 * time.Millisecond
	// maxRetryDelay bounds one wait between attempts, whatever the server's
	// Retry-After says, so a misbehaving server cannot stall a caller for long.
	maxRetryDelay = 10 * time.Second
	// maxResponseBytes bounds what is read of one response; the largest
	// legitimate answers (transaction lists with big BOCs) stay far below it.
	maxResponseBytes = 64 << 20
)

// Client is a chain.Network over a toncenter v2 endpoint. It is safe for
// concurrent use.
type Client struct {
	endpoint     string // full URL of the jsonRPC endpoint
	apiKey       string
	http         *http.Client
	timeout      time.Duration
	retries      int
	retryBackoff time.Duration
	log          *slog.Logger
	nextID       atomic.Uint64
}

var _ chain.Network = (*Client)(nil)

// Option configures a Client.
type Option func(*Client)

// WithAPIKey sends key in the X-API-Key header of every request. An empty key
// sends none (toncenter then applies its anonymous rate limit).
func WithAPIKey(key string) Option { return func(c *Client) { c.apiKey = key } }

// WithHTTPClient makes the Client use hc for its requests.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) {
		if hc != nil {
			c.http = hc
		}
	}
}

// WithTimeout bounds each HTTP attempt; zero or negative means no bound
// beyond the caller's context.
func WithTimeout(d time.Duration) Option { return func(c *Client) { c.timeout = d } }

// WithRetry sets how many times a request that may succeed later is
// retried (see retryable) and the first wait between attempts (doubled
// after each one).
func WithRetry(retries int, backoff time.Duration) Option {
	return func(c *Client) {
		c.retries = max(retries, 0)
		c.retryBackoff = max(backoff, 0)
	}
}

// WithLogger sets the logger for debug messages (retries); by default the
// slog default logger at construction time.
func WithLogger(l *slog.Logger) Option {
	return func(c *Client) {
		if l != nil {
			c.log = l
		}
	}
}

// New returns a Client for the toncenter server at baseURL, e.g.
// "https://toncenter.com". A baseURL that already ends in /api/v2 or
// /api/v2/jsonRPC is accepted as well.
func New(baseURL string, opts ...Option) *Client {
	c := &Client{
		endpoint:     EndpointURL(baseURL),
		http:         http.DefaultClient,
		timeout:      DefaultTimeout,
		retries:      DefaultRetries,
		retryBackoff: DefaultRetryBackoff,
		log:          slog.Default(),
	}
	for _, o := range opts {
		o(c)
	}
	return c
}

// Endpoint returns the URL of the JSON-RPC endpoint the client posts to.
func (c *Client) Endpoint() string { return c.endpoint }

// BaseURL strips a trailing slash, /jsonRPC and /api/v2 from u, so that the
// base URL, the API root and the JSON-RPC endpoint all name the same server.
func BaseURL(u string) string {
	u = strings.TrimRight(strings.TrimSpace(u), "/")
	u = strings.TrimSuffix(u, "/jsonRPC")
	u = strings.TrimRight(u, "/")
	u = strings.TrimSuffix(u, "/api/v2")
	return strings.TrimRight(u, "/")
}

// EndpointURL returns the JSON-RPC endpoint of the server at u (see BaseURL).
func EndpointURL(u string) string { return BaseURL(u) + "/api/v2/jsonRPC" }

// Error is a request toncenter answered with an error, or with something
// that is not a toncenter answer.
type Error struct {
	Method     string
	HTTPStatus int    // 0 if no HTTP response was received
	Code       int    // toncenter's error code, 0 if none was given
	Message    string // toncenter's error text, or a snippet of a non-JSON body
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "toncenter %s", e.Method)
	if e.HTTPStatus != 0 {
		fmt.Fprintf(&b, ": HTTP %d", e.HTTPStatus)
	}
	if e.Code != 0 && e.Code != e.HTTPStatus {
		fmt.Fprintf(&b, ": code %d", e.Code)
	}
	if e.Message != "" {
		fmt.Fprintf(&b, ": %s", e.Message)
	}
	return b.String()
}

// Unwrap lets errors.Is(err, chain.ErrNotFound) match a 404 answer.
func (e *Error) Unwrap() error {
	if e.Code == http.StatusNotFound || e.HTTPStatus == http.StatusNotFound {
		return chain.ErrNotFound
	}
	return nil
}

func (e *Error) rateLimited() bool {
	return e.HTTPStatus == http.StatusTooManyRequests || e.Code == http.StatusTooManyRequests
}

// retryable reports whether a failed attempt may succeed if made again:
// rate limiting, a server or gateway that is down or restarting (502, 503,
// 504), a transport failure before any answer, and a 500 from a read.
// Toncenter answers 500 to a message the chain refuses ("cannot apply
// external message"), which no retry changes, so the sending methods do
// not retry a 500. Resending an external message is safe in any case: the
// chain applies one message once.
func retryable(method string, err error) bool {
	var te *Error
	if !errors.As(err, &te) {
		return true // no answer at all: connection refused or reset, timeout
	}
	switch {
	case te.rateLimited():
		return true
	case te.HTTPStatus == http.StatusBadGateway, te.HTTPStatus == http.StatusServiceUnavailable, te.HTTPStatus == http.StatusGatewayTimeout:
		return true
	case te.HTTPStatus >= 500:
		return !sendsMessage(method)
	}
	return false
}

// max500Retries bounds the retries of plain HTTP 500 answers (see call).
const max500Retries = 2

func isServerError(err error) bool {
	var te *Error
	return errors.As(err, &te) && te.HTTPStatus == http.StatusInternalServerError
}

func sendsMessage(method string) bool {
	return strings.HasPrefix(method, "sendBoc") || method == "estimateFee"
}

type rpcRequest struct {
	ID      uint64 `json:"id"`
	JSONRPC string `json:"jsonrpc"`
	Method  string `json:"method"`
	Params  any    `json:"params"`
}

// rpcResponse covers both toncenter's own shape ({"ok":..,"result":..,
// "error":"..","code":N}) and plain JSON-RPC ({"jsonrpc":"2.0","id":..,
// "result":..} or "error":{"code":N,"message":".."}).
type rpcResponse struct {
	OK     *bool           `json:"ok"`
	Result json.RawMessage `json:"result"`
	Error  json.RawMessage `json:"error"`
	Code   int             `json:"code"`
}

// call posts one JSON-RPC request and decodes its result into out,
// retrying with backoff what may succeed later (see retryable).
func (c *Client) call(ctx context.Context, method string, params, out any) error {
	body, err := json.Marshal(rpcRequest{ID: c.nextID.Add(1), JSONRPC: "2.0", Method: method, Params: params})
	if err != nil {
		return fmt.Errorf("encoding toncenter %s request: %w", method, err)
	}
	delay := c.retryBackoff
	serverErrors := 0
	for attempt := 0; ; attempt++ {
		result, retryAfter, err := c.post(ctx, method, body)
		if err == nil {
			if out == nil {
				return nil
			}
			if err := json.Unmarshal(result, out); err != nil {
				return fmt.Errorf("decoding toncenter %s result: %w", method, err)
			}
			return nil
		}
		if ctx.Err() != nil || !retryable(method, err) || attempt >= c.retries {
			return err
		}
		// A plain 500 is as often a deterministic refusal (a get-method on
		// an account that does not exist, on some servers) as a passing
		// fault: it gets fewer retries, so that a caller learns of a real
		// error in about a second rather than after the whole budget.
		if isServerError(err) {
			if serverErrors++; serverErrors > max500Retries {
				return err
			}
		}
		wait := delay
		if retryAfter > 0 {
			wait = retryAfter
		}
		wait = min(wait, maxRetryDelay)
		c.log.DebugContext(ctx, "toncenter request failed, retrying",
			"method", method, "attempt", attempt+1, "wait", wait, "error", err)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("waiting to retry toncenter %s after %v: %w", method, err, ctx.Err())
		case <-t.C:
		}
		delay = min(delay*2, maxRetryDelay)
	}
}

// post makes one HTTP attempt and returns the result field of a successful
// answer, or an error; for a 429 it also returns the server's Retry-After.
func (c *Client) post(ctx context.Context, method string, body []byte) (json.RawMessage, time.Duration, error) {
	if c.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint, bytes.NewReader(body))
	if err != nil {
		return nil, 0, fmt.Errorf("building toncenter %s request: %w", method, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if c.apiKey != "" {
		req.Header.Set("X-API-Key", c.apiKey)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, 0, fmt.Errorf("calling toncenter %s: %w", method, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return nil, 0, fmt.Errorf("reading toncenter %s response (HTTP %d): %w", method, resp.StatusCode, err)
	}
	var retryAfter time.Duration
	if resp.StatusCode == http.StatusTooManyRequests {
		if s, err := strconv.Atoi(strings.TrimSpace(resp.Header.Get("Retry-After"))); err == nil && s > 0 {
			retryAfter = time.Duration(s) * time.Second
		}
	}
	result, err := decodeResponse(method, resp.StatusCode, raw)
	return result, retryAfter, err
}

func decodeResponse(method string, status int, raw []byte) (json.RawMessage, error) {
	var r rpcResponse
	if err := json.Unmarshal(raw, &r); err != nil {
		return nil, &Error{Method: method, HTTPStatus: status, Message: "non-JSON response: " + snippet(raw)}
	}
	failed := (r.OK != nil && !*r.OK) || hasValue(r.Error) || status != http.StatusOK
	if !failed {
		if !hasValue(r.Result) {
			return nil, &Error{Method: method, HTTPStatus: status, Message: "response has no result: " + snippet(raw)}
		}
		return r.Result, nil
	}
	e := &Error{Method: method, HTTPStatus: status, Code: r.Code}
	if hasValue(r.Error) {
		var s string
		var obj struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		}
		switch {
		case json.Unmarshal(r.Error, &s) == nil:
			e.Message = s
		case json.Unmarshal(r.Error, &obj) == nil:
			e.Message = obj.Message
			if e.Code == 0 {
				e.Code = obj.Code
			}
		default:
			e.Message = snippet(r.Error)
		}
	}
	if e.Message == "" && status != http.StatusOK {
		e.Message = snippet(raw)
	}
	return nil, e
}

func hasValue(m json.RawMessage) bool {
	s := bytes.TrimSpace(m)
	return len(s) > 0 && !bytes.Equal(s, []byte("null"))
}

// snippet keeps error messages readable when a proxy answers with an HTML page.
func snippet(b []byte) string {
	s := strings.TrimSpace(string(b))
	const limit = 200
	if len(s) > limit {
		s = strings.ToValidUTF8(s[:limit], "") + "…"
	}
	if s == "" {
		return "(empty body)"
	}
	return s
}
