package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode"

	"github.com/xssnick/tonutils-go/address"

	"github.com/cocoon-network/cocoon/offchain/attest"
	"github.com/cocoon-network/cocoon/offchain/attest/atls"
)

// Limits and timeouts of the calls to a worker's HTTP API.
const (
	// MaxEnvelopeSize bounds a request envelope sent to a worker (the
	// worker daemon refuses larger ones) and a result envelope read from
	// one.
	MaxEnvelopeSize = 16 << 20
	// EvidenceTimeout bounds one GET /evidence.
	EvidenceTimeout = 10 * time.Second
	// TransferTimeout bounds one POST of a request or GET of a result.
	TransferTimeout = 2 * time.Minute
	// maxErrorText bounds how much of a worker's error message is kept.
	maxErrorText = 200
)

// endpointURL parses a worker's on-chain endpoint. Only http and https are
// used: what travels (evidence, sealed envelopes) is verified or
// encrypted end to end, so the transport needs no secrecy of its own.
func endpointURL(endpoint string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSpace(endpoint))
	if err != nil {
		return nil, fmt.Errorf("endpoint %q: %w", endpoint, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("endpoint %q: scheme %q (want http or https)", endpoint, u.Scheme)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("endpoint %q has no host", endpoint)
	}
	u.RawQuery, u.Fragment = "", ""
	return u, nil
}

// jobURL is {endpoint}/v1/jobs/{raw job address}/{what}.
func jobURL(endpoint string, job *address.Address, what string) (string, error) {
	u, err := endpointURL(endpoint)
	if err != nil {
		return "", err
	}
	return u.JoinPath("v1", "jobs", job.StringRaw(), what).String(), nil
}

// HTTPError is a worker's HTTP answer other than success.
type HTTPError struct {
	Op      string // "GET /evidence", ...
	Status  int
	Message string // the worker's {"error": ...}, shortened and printable
}

func (e *HTTPError) Error() string {
	if e.Message == "" {
		return fmt.Sprintf("%s: HTTP %d", e.Op, e.Status)
	}
	return fmt.Sprintf("%s: HTTP %d: %s", e.Op, e.Status, e.Message)
}

// errorMessage extracts {"error": "..."} from a worker's error body and
// makes it safe to print (one line, bounded, printable): it is the
// worker's text, shown to the app's user.
func errorMessage(body []byte) string {
	var v struct {
		Error string `json:"error"`
	}
	msg := ""
	if json.Unmarshal(body, &v) == nil {
		msg = v.Error
	}
	msg = strings.Map(func(r rune) rune {
		if unicode.IsPrint(r) {
			return r
		}
		return ' '
	}, msg)
	if len(msg) > maxErrorText {
		msg = msg[:maxErrorText] + "…"
	}
	return strings.TrimSpace(msg)
}

// get fetches url's body, at most limit bytes, expecting 200.
func (c *workerHTTP) get(ctx context.Context, op, u string, limit int64, timeout time.Duration) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	resp, err := c.do(req)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("%s: reading the answer: %w", op, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, &HTTPError{Op: op, Status: resp.StatusCode, Message: errorMessage(body)}
	}
	if int64(len(body)) > limit {
		return nil, fmt.Errorf("%s: answer over %d bytes", op, limit)
	}
	return body, nil
}

// workerHTTP calls one worker's HTTP API.
type workerHTTP struct {
	hc *http.Client
	// tls, when set, is the client for the worker's https endpoint: it
	// accepts only a certificate carrying the worker's registered evidence.
	tls *http.Client
}

// pinned returns the caller for a worker whose evidence bundle has the
// given sha256 (its contract's attestation hash). An https endpoint is then
// reached over attested TLS pinned to that evidence; http stays plain,
// since what travels is verified or sealed end to end anyway.
func (c *workerHTTP) pinned(attestation [32]byte) *workerHTTP {
	tr := &http.Transport{TLSClientConfig: atls.PinnedConfig(attestation)}
	return &workerHTTP{hc: c.hc, tls: &http.Client{Transport: tr, Timeout: c.hc.Timeout}}
}

func (c *workerHTTP) do(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme == "https" {
		if c.tls == nil {
			return nil, errors.New("an https worker endpoint needs the worker's attestation to verify its certificate")
		}
		return c.tls.Do(req)
	}
	return c.hc.Do(req)
}

// evidence is GET {endpoint}/evidence, bounded by attest's bundle limit.
func (c *workerHTTP) evidence(ctx context.Context, endpoint string) ([]byte, error) {
	u, err := endpointURL(endpoint)
	if err != nil {
		return nil, err
	}
	return c.get(ctx, "GET /evidence", u.JoinPath("evidence").String(), attest.MaxBundleSize, EvidenceTimeout)
}

// collateral is GET {endpoint}/collateral, bounded by attest's limit.
func (c *workerHTTP) collateral(ctx context.Context, endpoint string) ([]byte, error) {
	u, err := endpointURL(endpoint)
	if err != nil {
		return nil, err
	}
	return c.get(ctx, "GET /collateral", u.JoinPath("collateral").String(), attest.MaxCollateralSize, EvidenceTimeout)
}

// result is GET {endpoint}/v1/jobs/{job}/result.
func (c *workerHTTP) result(ctx context.Context, endpoint string, job *address.Address) ([]byte, error) {
	u, err := jobURL(endpoint, job, "result")
	if err != nil {
		return nil, err
	}
	return c.get(ctx, "GET /v1/jobs/{job}/result", u, MaxEnvelopeSize, TransferTimeout)
}

// postRequest is POST {endpoint}/v1/jobs/{job}/request with the envelope.
func (c *workerHTTP) postRequest(ctx context.Context, endpoint string, job *address.Address, env []byte) error {
	const op = "POST /v1/jobs/{job}/request"
	u, err := jobURL(endpoint, job, "request")
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, TransferTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(env))
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := c.do(req)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		return &HTTPError{Op: op, Status: resp.StatusCode, Message: errorMessage(body)}
	}
	return nil
}

// retryable reports whether a failed call to a worker may succeed later:
// the network failed or the worker answered 5xx (busy, cannot reach the
// chain right now). A 4xx says the request itself is wrong — no such job,
// a hash mismatch, too large, a result pruned — and is never retried:
// asking again would only load the worker for the same answer.
func retryable(err error) bool {
	var he *HTTPError
	if errors.As(err, &he) {
		return he.Status >= 500
	}
	return true
}

// retry calls f until it succeeds, fails for good, ctx ends or window
// passes, waiting between attempts with exponential backoff.
func retry(ctx context.Context, window time.Duration, f func(context.Context) error) error {
	deadline := time.Now().Add(window)
	wait := 250 * time.Millisecond
	for {
		err := f(ctx)
		if err == nil || !retryable(err) || time.Now().Add(wait).After(deadline) {
			return err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%w (last attempt: %v)", ctx.Err(), err)
		case <-t.C:
		}
		wait = min(2*wait, 5*time.Second)
	}
}
