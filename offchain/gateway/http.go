package gateway

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/cocoon-network/cocoon/bindings"
	"github.com/cocoon-network/cocoon/offchain/internal/httpserve"
	"github.com/cocoon-network/cocoon/offchain/internal/sse"
	"github.com/cocoon-network/cocoon/offchain/onlineproto"
)

const userAgent = "cocoon-gateway"

// maxEventLine bounds one line of a worker's event stream.
const maxEventLine = 1 << 20

// Handler serves the app-facing API:
//
//	GET  /v1/models, /v1/models/{id}   the models offered (API key)
//	POST /v1/chat/completions          stream and non-stream (API key)
//	GET  /healthz                      workers per model, payment scheme, spend
//	GET  /metrics                      Prometheus
//	GET  /                             the dashboard (data: /api/dashboard)
func (g *Gateway) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", g.healthz)
	mux.Handle("GET /metrics", promhttp.HandlerFor(g.metrics.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /v1/models", g.auth(g.listModels))
	mux.HandleFunc("GET /v1/models/{id...}", g.auth(g.getModel))
	mux.HandleFunc("POST /v1/chat/completions", g.auth(g.chat))
	g.dash.Register(mux)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		(&APIError{Status: http.StatusNotFound, Type: "invalid_request_error", Code: "unknown_url",
			Message: "unknown request URL: " + r.Method + " " + clip(r.URL.Path, 100)}).write(w)
	})
	return mux
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

func (g *Gateway) auth(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !g.authorized(r) {
			(&APIError{Status: http.StatusUnauthorized, Type: "invalid_request_error", Code: "invalid_api_key",
				Message: "missing or unknown API key: send Authorization: Bearer <key>"}).write(w)
			return
		}
		h(w, r)
	}
}

func (g *Gateway) healthz(w http.ResponseWriter, _ *http.Request) {
	now := time.Now()
	g.mu.RLock()
	models := map[string]map[string]int{}
	for m, us := range g.pools {
		models[m] = map[string]int{}
		for _, u := range us {
			models[m][u.state(now)]++
		}
	}
	testMode := g.testMode
	g.mu.RUnlock()
	status := map[string]any{
		"status": "ok", "models": models, "payment": g.cfg.Payer.Scheme(),
		"spent_nanoton": g.Spent().String(), "unpaid_nanoton": g.payments.unpaid().String(), "test_mode": testMode,
	}
	if testMode {
		status["warning"] = "Root is in test mode: dev attestation and plain http workers are admitted (NOT SECURE)"
	}
	httpserve.WriteJSON(w, http.StatusOK, status)
}

func modelObject(id string) map[string]any {
	return map[string]any{"id": id, "object": "model", "created": 0, "owned_by": "cocoon"}
}

func (g *Gateway) listModels(w http.ResponseWriter, _ *http.Request) {
	data := make([]any, 0, len(g.cfg.Models))
	for _, m := range g.cfg.Models {
		data = append(data, modelObject(m))
	}
	httpserve.WriteJSON(w, http.StatusOK, map[string]any{"object": "list", "data": data})
}

func (g *Gateway) getModel(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if _, ok := g.workers(id); !ok {
		modelNotFound(id).write(w)
		return
	}
	httpserve.WriteJSON(w, http.StatusOK, modelObject(id))
}

func modelNotFound(id string) *APIError {
	return &APIError{Status: http.StatusNotFound, Type: "invalid_request_error", Param: "model", Code: "model_not_found",
		Message: "the model " + clip(id, 100) + " does not exist on this gateway"}
}

func randomID(prefix string) string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// chat is POST /v1/chat/completions.
func (g *Gateway) chat(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			(&APIError{Status: http.StatusRequestEntityTooLarge, Type: "invalid_request_error", Code: "request_too_large",
				Message: "the request body is over 4 MiB"}).write(w)
			return
		}
		badRequest("", "bad_body", "reading the request body: %v", err).write(w)
		return
	}
	req, aerr := parseChat(raw, g.cfg.DefaultMaxTokens, g.cfg.MaxTokens)
	if aerr != nil {
		g.metrics.requests.WithLabelValues("none", "", outcomeClientErr).Inc()
		aerr.write(w)
		return
	}
	us, ok := g.workers(req.model)
	if !ok {
		g.metrics.requests.WithLabelValues("none", "", outcomeClientErr).Inc()
		modelNotFound(req.model).write(w)
		return
	}
	if len(us) == 0 {
		g.metrics.requests.WithLabelValues("none", req.model, outcomeNoWorker).Inc()
		(&APIError{Status: http.StatusServiceUnavailable, Type: "server_error", Code: "no_worker",
			Message: "no verified worker serves " + req.model + " right now", RetryAfter: 5 * time.Second}).write(w)
		return
	}
	ans := &answer{id: randomID("chatcmpl-"), model: req.model, created: start.Unix()}
	reqID := randomID("req-")
	tried := map[string]bool{}
	var last *APIError
	for range g.cfg.MaxAttempts {
		u := pick(us, tried, time.Now())
		if u == nil {
			break
		}
		tried[u.key()] = true
		done, aerr := g.serveFrom(w, r, u, req, reqID, ans, start)
		if done {
			return
		}
		last = aerr
		if r.Context().Err() != nil {
			return
		}
	}
	if last == nil || last.Status == http.StatusTooManyRequests {
		g.metrics.requests.WithLabelValues("none", req.model, outcomeBusy).Inc()
		(&APIError{Status: http.StatusTooManyRequests, Type: "rate_limit_error", Code: "no_capacity",
			Message: "no worker for " + req.model + " has a free slot; retry shortly", RetryAfter: time.Second}).write(w)
		return
	}
	last.write(w)
}

// workerEvent is one event of a worker's stream.
type workerEvent struct {
	content string
	finish  *string
	usage   *onlineproto.SignedUsage
	failure *APIError // an error event
	done    bool      // [DONE]
}

type workerChunk struct {
	Choices []struct {
		Delta struct {
			Content string `json:"content"`
		} `json:"delta"`
		FinishReason *string `json:"finish_reason"`
	} `json:"choices"`
	Error  *onlineproto.ErrorObject     `json:"error"`
	Cocoon *onlineproto.CocoonExtension `json:"cocoon"`
}

// eventReader reads a worker's stream of events, each "data: <json>".
type eventReader struct {
	*sse.Reader
	// progress, when set, is called after each event read (the answer's
	// gap watchdog).
	progress func()
}

func newEventReader(r io.Reader) *eventReader {
	return &eventReader{Reader: sse.NewReader(r, maxEventLine)}
}

// next returns the next event; io.EOF when the stream ended without [DONE].
func (er *eventReader) next() (*workerEvent, error) {
	raw, err := er.Next()
	if err != nil {
		return nil, err
	}
	if er.progress != nil {
		er.progress()
	}
	data := bytes.TrimSpace(raw.Data)
	if string(data) == "[DONE]" {
		return &workerEvent{done: true}, nil
	}
	if content, finish, ok := fastChunk(data); ok {
		return &workerEvent{content: content, finish: finish}, nil
	}
	var c workerChunk
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, errors.New("the worker sent a malformed event")
	}
	ev := &workerEvent{}
	if c.Cocoon != nil {
		ev.usage = c.Cocoon.Usage
	}
	if c.Error != nil {
		ev.failure = &APIError{Status: http.StatusBadGateway, Type: "server_error", Code: "worker_failed",
			Message: "the worker failed mid-answer (" + clip(c.Error.Code, 40) + ")"}
		return ev, nil
	}
	if len(c.Choices) > 0 {
		ev.content = c.Choices[0].Delta.Content
		ev.finish = c.Choices[0].FinishReason
	}
	return ev, nil
}

// fastChunk reads a content chunk in the layout onlineproto.Completion writes
// (`"delta":{…},"finish_reason":…`) without a full JSON decode, which was
// a third of the relay's CPU. Anything else — errors, the usage chunk with
// the receipt, other layouts — is left to encoding/json (ok false). Inside
// JSON strings quotes are escaped, so the markers searched for cannot
// appear in a value.
func fastChunk(data []byte) (content string, finish *string, ok bool) {
	if bytes.Contains(data, []byte(`"cocoon":`)) || bytes.Contains(data, []byte(`"error":`)) {
		return "", nil, false
	}
	_, rest, found := bytes.Cut(data, []byte(`"delta":{`))
	if !found {
		return "", nil, false
	}
	delta, tail, found := bytes.Cut(rest, []byte(`},"finish_reason":`))
	if !found {
		return "", nil, false
	}
	if _, v, found := bytes.Cut(delta, []byte(`"content":`)); found {
		if content, ok = jsonString(v); !ok {
			return "", nil, false
		}
	}
	switch {
	case bytes.HasPrefix(tail, []byte("null")):
	case len(tail) > 0 && tail[0] == '"':
		f, ok := jsonString(tail)
		if !ok {
			return "", nil, false
		}
		finish = &f
	default:
		return "", nil, false
	}
	return content, finish, true
}

// jsonString decodes the JSON string at the start of b.
func jsonString(b []byte) (string, bool) {
	if len(b) < 2 || b[0] != '"' {
		return "", false
	}
	escaped := false
	for i := 1; i < len(b); i++ {
		switch b[i] {
		case '\\':
			escaped = true
			i++
		case '"':
			raw := b[:i+1]
			if !escaped && utf8.Valid(raw) {
				return string(raw[1:i]), true
			}
			var s string
			if json.Unmarshal(raw, &s) != nil {
				return "", false
			}
			return s, true
		}
	}
	return "", false
}

var errWorkerGone = &APIError{Status: http.StatusBadGateway, Type: "server_error", Code: "worker_failed",
	Message: "the worker failed before answering; no other worker could take the request"}

// serveFrom tries one worker. done reports that the app has its answer
// (or an error it must see, such as its own bad request); otherwise the
// returned error says why this worker could not serve, and the caller may
// try another.
func (g *Gateway) serveFrom(w http.ResponseWriter, r *http.Request, u *upstream, req *request, reqID string, ans *answer, start time.Time) (bool, *APIError) {
	count := func(outcome string) { g.metrics.requests.WithLabelValues(u.key(), req.model, outcome).Inc() }
	maxCost := bindings.Charge(u.w.Price.PriceIn, u.w.Price.PriceOut, req.inBound, req.maxTokens)
	if err := g.payments.reserve(maxCost); err != nil {
		count(outcomeBusy)
		(&APIError{Status: http.StatusTooManyRequests, Type: "insufficient_quota", Code: "insufficient_quota",
			Message: "the gateway's budget cannot cover this request"}).write(w)
		return true, nil
	}
	defer g.payments.unreserve(maxCost)
	u.outstanding.Add(1)
	defer u.outstanding.Add(-1)
	payer, err := g.cfg.Payer.PayerID(r.Context(), u.w, u.hc)
	if err != nil {
		return g.attemptFailed(r, u, count, slog.LevelWarn, "cannot pay this worker; trying another", err)
	}

	// The attempt is journaled until settled: should the gateway die
	// meanwhile, the next run fetches its receipt and pays it.
	if err := g.journal.begin(reqID, u.key(), payer, req); err != nil {
		g.log.Warn("could not journal a request; a crash now would leave it unpaid", "error", err)
	}
	defer g.journal.end(reqID, u.key(), false)
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	firstTimer := time.AfterFunc(g.cfg.FirstTokenTimeout, cancel)
	defer firstTimer.Stop()
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, u.base+"/v1/chat/completions", bytes.NewReader(req.body))
	if err != nil {
		count(outcomeRetried)
		return false, errWorkerGone
	}
	// Only what the worker needs: no client headers, no client address.
	// Vouchers go on their own (payments.deliver), off the request path.
	hr.Header.Set("Content-Type", "application/json")
	hr.Header.Set("User-Agent", userAgent)
	hr.Header.Set(onlineproto.HeaderPayer, payer)
	hr.Header.Set(onlineproto.HeaderRequestID, reqID)
	// The worker's own time to first token counts from here: not the wait
	// for its payment channel to open (once, seconds) nor earlier
	// attempts, which would make a good worker look slow for a long time.
	sent := time.Now()
	resp, err := u.hc.Do(hr)
	if err != nil {
		return g.attemptFailed(r, u, count, slog.LevelInfo, "worker unreachable; trying another", err)
	}
	complete := false
	defer func() {
		// After a complete answer, read the stream's tail (the blank line
		// after [DONE], the chunked terminator) so the attested connection
		// is reused: a new TLS handshake per request cost more than the
		// rest of the relay. Otherwise stop the worker first.
		if !complete {
			cancel()
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
	}()
	g.noteCapacity(u, resp.Header.Get(onlineproto.HeaderCapacity))
	if resp.StatusCode != http.StatusOK {
		complete = true // a short error body: read it to the end
		return g.workerRefused(w, u, req, resp, count)
	}
	er := newEventReader(resp.Body)
	// Up to the first token nothing reaches the app, so the request can
	// still go to another worker.
	var first *workerEvent
	for first == nil {
		ev, err := er.next()
		switch {
		case err != nil:
			return g.attemptFailed(r, u, count, slog.LevelInfo, "worker stream failed before the first token; trying another", err)
		case ev.failure != nil:
			g.settle(u, payer, req, reqID, ev.usage, false)
			u.failed(time.Now())
			count(outcomeRetried)
			return false, ev.failure
		case ev.done:
			u.failed(time.Now())
			count(outcomeRetried)
			return false, errWorkerGone
		case ev.content != "" || ev.finish != nil || ev.usage != nil:
			first = ev
		}
	}
	firstTimer.Stop()
	// From here the answer's time is bounded too: a worker that pauses
	// too long or trickles its tokens is cut (its stream is cancelled) and
	// paid what it sent, like one whose stream broke.
	var slow atomic.Bool
	cut := func() { slow.Store(true); cancel() }
	whole := time.AfterFunc(g.cfg.FirstTokenTimeout+time.Duration(req.maxTokens)*g.cfg.PerTokenTimeout, cut)
	defer whole.Stop()
	gap := time.AfterFunc(g.cfg.TokenGapTimeout, cut)
	defer gap.Stop()
	er.progress = func() { gap.Reset(g.cfg.TokenGapTimeout) }
	defer func() {
		if slow.Load() {
			g.log.Warn("worker too slow after its first token; its answer was cut and it is paid what it sent",
				"worker", u.w.Address.String(), "max_tokens", req.maxTokens, "after", time.Since(start).Round(time.Millisecond))
		}
	}()
	ttft, workerTTFT := time.Since(start), time.Since(sent)
	g.metrics.ttft.WithLabelValues(req.model).Observe(ttft.Seconds())
	if req.stream {
		if complete = g.relayStream(w, u, payer, req, reqID, ans, er, first, count); !complete {
			return true, nil // the app has the error event (or has gone)
		}
	} else if complete = g.relayWhole(w, u, payer, req, reqID, ans, er, first, count); !complete {
		return false, errWorkerGone
	}
	u.succeeded(workerTTFT)
	g.metrics.duration.WithLabelValues(req.model).Observe(time.Since(start).Seconds())
	return true, nil
}

// attemptFailed ends an attempt that failed before anything reached the
// app: when the app has left, that is why, and there is nothing more to do
// (done); otherwise the worker is marked failed and the caller may try
// another.
func (g *Gateway) attemptFailed(r *http.Request, u *upstream, count func(string), level slog.Level, msg string, err error) (bool, *APIError) {
	if r.Context().Err() != nil {
		count(outcomeCancelled)
		return true, nil
	}
	u.failed(time.Now())
	count(outcomeRetried)
	g.log.Log(r.Context(), level, msg, "worker", u.w.Address.String(), "error", err)
	return false, errWorkerGone
}

// workerRefused handles a non-200 answer from a worker.
func (g *Gateway) workerRefused(w http.ResponseWriter, u *upstream, req *request, resp *http.Response, count func(string)) (bool, *APIError) {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var e onlineproto.ErrorAnswer
	_ = json.Unmarshal(body, &e)
	switch resp.StatusCode {
	case http.StatusTooManyRequests:
		count(outcomeBusy)
		return false, &APIError{Status: http.StatusTooManyRequests, Type: "rate_limit_error", Code: "no_capacity",
			Message: "no worker has a free slot", RetryAfter: time.Second}
	case http.StatusPaymentRequired:
		if tp, ok := g.payments.payer.(DepositToppingPayer); ok && e.Error.Code == onlineproto.CodeInsufficientDeposit {
			// The channel's deposit cannot cover this request on top of
			// what the worker charged: add to it; meanwhile another worker
			// may serve.
			go g.topUp(tp, u)
			count(outcomeRetried)
			return false, &APIError{Status: http.StatusServiceUnavailable, Type: "server_error", Code: "payment_pending",
				Message: "the gateway is adding to its deposit with the worker; retry shortly", RetryAfter: time.Second}
		}
		// Our latest voucher has not reached it: send it now; meanwhile
		// another worker may serve.
		go g.payments.deliver(u)
		count(outcomeRetried)
		return false, &APIError{Status: http.StatusServiceUnavailable, Type: "server_error", Code: "payment_pending",
			Message: "the worker is waiting for a payment to arrive; retry shortly", RetryAfter: time.Second}
	case http.StatusBadRequest, http.StatusRequestEntityTooLarge:
		// The request itself: every worker would refuse it.
		count(outcomeClientErr)
		(&APIError{Status: resp.StatusCode, Type: "invalid_request_error", Code: clip(e.Error.Code, 64),
			Message: clip(e.Error.Message, 300)}).write(w)
		return true, nil
	}
	u.failed(time.Now())
	count(outcomeRetried)
	g.log.Info("worker failed; trying another", "worker", u.w.Address.String(), "status", resp.StatusCode, "code", clip(e.Error.Code, 64))
	return false, errWorkerGone
}

// topUp adds to the deposit of the channel with u's worker.
func (g *Gateway) topUp(tp DepositToppingPayer, u *upstream) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := tp.TopUpFor(ctx, u.w); err != nil {
		g.log.Warn("top-up asked by a worker failed", "worker", u.w.Address.String(), "error", err)
	}
}

// relay reads the worker's events from first to [DONE], hands each one
// with content or a finish reason to deliver, and settles the attempt. A
// worker failure counts failOutcome and returns the error the worker
// sent (or errWorkerMidStream when its stream broke); deliver returning
// false means the app has gone. complete is true only after [DONE].
func (g *Gateway) relay(u *upstream, payer string, req *request, reqID string, er *eventReader, first *workerEvent, count func(string),
	failOutcome string, deliver func(*workerEvent) bool) (in, out uint32, workerErr *APIError, complete bool) {
	var usage *onlineproto.SignedUsage
	deltas, size := 0, 0
	ev := first
	for {
		if ev.usage != nil {
			usage = ev.usage
		}
		if ev.content != "" {
			// Each delta carries at least one token, and no token is
			// longer than maxTokenBytes: a worker past either bound for
			// max_tokens is cut, dropped and paid what its receipt
			// proves, which checkReceipt caps at max_tokens.
			deltas, size = deltas+1, size+len(ev.content)
			if deltas > int(req.maxTokens) || size > int(req.maxTokens)*maxTokenBytes {
				u.drop("overlong")
				g.metrics.dropped.WithLabelValues("overlong").Inc()
				g.log.Warn("worker dropped: it sent more than max_tokens allows; cut and paid only what its receipt proves",
					"worker", u.w.Address.String(), "deltas", deltas, "bytes", size, "max_tokens", req.maxTokens)
				g.settleOrCollect(u, payer, req, reqID, usage)
				count(failOutcome)
				return 0, 0, errWorkerOverlong, false
			}
		}
		if ev.failure != nil {
			g.settle(u, payer, req, reqID, usage, false)
			u.failed(time.Now())
			count(failOutcome)
			return 0, 0, ev.failure, false
		}
		if ev.done {
			break
		}
		if (ev.content != "" || ev.finish != nil) && !deliver(ev) {
			g.settleOrCollect(u, payer, req, reqID, usage)
			count(outcomeCancelled)
			return 0, 0, nil, false
		}
		var err error
		if ev, err = er.next(); err != nil {
			g.settleOrCollect(u, payer, req, reqID, usage)
			u.failed(time.Now())
			count(failOutcome)
			return 0, 0, errWorkerMidStream, false
		}
	}
	in, out, ok := g.settle(u, payer, req, reqID, usage, true)
	if ok {
		count(outcomeOK)
	} else {
		count(outcomeBadReceipt)
	}
	return in, out, nil, true
}

// maxTokenBytes bounds the text of one token: the longest pieces of real
// vocabularies are well under it.
const maxTokenBytes = 256

var errWorkerOverlong = &APIError{Status: http.StatusBadGateway, Type: "server_error", Code: "worker_failed",
	Message: "the worker sent more than max_tokens allows; its answer was cut"}

var errWorkerMidStream = &APIError{Status: http.StatusBadGateway, Type: "server_error", Code: "worker_failed",
	Message: "the worker failed in the middle of the answer"}

// relayStream sends the worker's answer to the app as it comes; false
// means it did not end with [DONE] (the worker failed or the app left).
func (g *Gateway) relayStream(w http.ResponseWriter, u *upstream, payer string, req *request, reqID string, ans *answer, er *eventReader, first *workerEvent, count func(string)) bool {
	// A burst of the worker's stream goes out in one write, a trickle at once.
	sw := sse.New(w, er)
	buf := make([]byte, 0, 512)
	cc := &onlineproto.Completion{ID: ans.id, Model: ans.model, Created: ans.created}
	role := true
	in, out, workerErr, complete := g.relay(u, payer, req, reqID, er, first, count, outcomeFailed, func(ev *workerEvent) bool {
		finish := ""
		if ev.finish != nil {
			finish = *ev.finish
		}
		buf = cc.AppendChunk(buf[:0], ev.content, role, finish)
		role = false
		return sw.Send(buf) == nil
	})
	if !complete {
		if workerErr != nil {
			_ = sw.JSON(workerErr.body())
		}
		return false
	}
	if req.includeUsage {
		_ = sw.Write(cc.AppendUsageChunk(buf[:0], in, out, nil))
	}
	_ = sw.Close()
	return true
}

// relayWhole collects the answer and sends it at once; false means the
// worker failed before the end (nothing was sent: the caller may retry).
func (g *Gateway) relayWhole(w http.ResponseWriter, u *upstream, payer string, req *request, reqID string, ans *answer, er *eventReader, first *workerEvent, count func(string)) bool {
	var text strings.Builder
	finish := "stop"
	in, out, _, complete := g.relay(u, payer, req, reqID, er, first, count, outcomeRetried, func(ev *workerEvent) bool {
		text.WriteString(ev.content)
		if ev.finish != nil {
			finish = *ev.finish
		}
		return true
	})
	if !complete {
		return false
	}
	httpserve.WriteJSON(w, http.StatusOK, ans.completion(text.String(), finish, wireUsage{PromptTokens: in, CompletionTokens: out, TotalTokens: in + out}))
	return true
}

// settleOrCollect settles an answer that stopped early: with the receipt
// if it came, else after fetching it from the worker (collectReceipt).
func (g *Gateway) settleOrCollect(u *upstream, payer string, req *request, reqID string, su *onlineproto.SignedUsage) {
	if su != nil {
		g.settle(u, payer, req, reqID, su, false)
		return
	}
	g.journal.hold(reqID, u.key())
	g.collecting.Go(func() {
		defer g.journal.end(reqID, u.key(), true)
		g.collectReceipt(u, payer, req, reqID)
	})
}

// receiptWait bounds how long the gateway keeps asking a worker for the
// receipt of an answer that stopped early (after 100 ms, doubling: 7 tries).
const receiptWait = 13 * time.Second

// collectReceipt fetches the receipt of an answer that stopped before its
// receipt arrived (the app left, the stream broke): the worker charged
// the tokens it sent and keeps the receipt a while (GET /v1/receipts/{id}),
// and the gateway pays exactly what it proves, so that what it paid stays
// equal to what the worker charged and the worker's credit for it unspent
// (issue 18: three abandoned streams used up the credit for good).
func (g *Gateway) collectReceipt(u *upstream, payer string, req *request, reqID string) {
	deadline := time.Now().Add(receiptWait)
	for wait := 100 * time.Millisecond; time.Now().Add(wait).Before(deadline); wait *= 2 {
		// The worker notices the hang-up at its next write, then signs.
		time.Sleep(wait)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		su, err := g.fetchReceipt(ctx, u, payer, reqID)
		cancel()
		if err != nil {
			continue
		}
		g.settle(u, payer, req, reqID, su, false)
		g.metrics.collected.Inc()
		return
	}
	g.log.Warn("no receipt for an answer that stopped early; what the worker charged for it stays unpaid",
		"worker", u.w.Address.String(), "request", reqID)
	// What the worker says it charged shows in the gateway's unpaid.
	g.payments.askReport(context.Background(), g.payments.acct(u.key()), u, payer)
}

// errNoReceipt: the worker holds no receipt of the request (it charged
// nothing, or forgot the receipt after receiptBoxTTL).
var errNoReceipt = errors.New("the worker holds no receipt of this request")

func (g *Gateway) fetchReceipt(ctx context.Context, u *upstream, payer, reqID string) (*onlineproto.SignedUsage, error) {
	hr, err := http.NewRequestWithContext(ctx, http.MethodGet, u.base+"/v1/receipts/"+url.PathEscape(reqID), http.NoBody)
	if err != nil {
		return nil, err
	}
	hr.Header.Set("User-Agent", userAgent)
	hr.Header.Set(onlineproto.HeaderPayer, payer)
	resp, err := u.hc.Do(hr)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		if resp.StatusCode == http.StatusNotFound {
			return nil, fmt.Errorf("GET /v1/receipts: %w", errNoReceipt)
		}
		return nil, fmt.Errorf("GET /v1/receipts: HTTP %d", resp.StatusCode)
	}
	var ext onlineproto.CocoonExtension
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&ext); err != nil {
		return nil, err
	}
	if ext.Usage == nil {
		return nil, errors.New("GET /v1/receipts: no receipt in the answer")
	}
	return ext.Usage, nil
}

// settle checks the receipt of an attempt and pays what it proves. A
// complete answer without a valid receipt, or with an overclaiming one,
// drops the worker; an interrupted one is paid what its receipt (if any)
// proves. It returns the token counts the app is told and whether the
// receipt was good.
func (g *Gateway) settle(u *upstream, payer string, req *request, reqID string, su *onlineproto.SignedUsage, complete bool) (in, out uint32, ok bool) {
	if su == nil && !complete {
		return 0, 0, false
	}
	rc := checkReceipt(su, u, payer, reqID, req)
	if rc.reason != "" {
		u.drop(rc.reason)
		g.metrics.dropped.WithLabelValues(rc.reason).Inc()
		g.log.Warn("worker dropped: its usage receipt was refused; paid only what it proves",
			"worker", u.w.Address.String(), "reason", rc.reason, "paid_nanoton", rc.pay.String())
	}
	if rc.pay.Sign() > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := g.payments.pay(ctx, u, payer, reqID, rc.pay); err != nil {
			g.log.Error("payment failed", "worker", u.w.Address.String(), "error", err)
		}
	}
	return rc.in, rc.out, rc.reason == ""
}

// noteCapacity records a capacity report from a response header.
func (g *Gateway) noteCapacity(u *upstream, h string) {
	u.mu.Lock()
	seen := h == u.capHeader
	u.mu.Unlock()
	if h == "" || seen {
		return // a worker repeats a report for a few ms: checked already
	}
	sc, err := onlineproto.ParseCapacityHeader(h)
	if err != nil {
		return
	}
	g.acceptCapacity(u, sc, false)
}

// acceptCapacity checks a signed report; a bad signature or a report
// for another worker drops the worker.
func (g *Gateway) acceptCapacity(u *upstream, sc *onlineproto.SignedCapacity, fromPoll bool) {
	c, err := sc.Open(ed25519.PublicKey(u.w.WorkerKey))
	if err == nil && c.Worker != u.key() {
		err = errors.New("report for another worker")
	}
	if err != nil {
		u.drop("bad_capacity")
		g.metrics.dropped.WithLabelValues("bad_capacity").Inc()
		g.log.Warn("worker dropped: bad capacity report", "worker", u.w.Address.String(), "error", err)
		return
	}
	now := time.Now()
	if fromPoll {
		u.polled(c, now)
		return
	}
	u.mu.Lock()
	if u.capacity == nil || c.Seq > u.capacity.Seq || c.Time > u.capacity.Time {
		u.capacity = c
	}
	u.capHeader = sc.Header()
	u.mu.Unlock()
}

// poll fetches a worker's capacity report. A worker that does not answer
// counts a failure while its breaker is closed (so a dead worker stops
// getting requests without costing one); one that answers after its
// breaker opened gets a probe request at once.
func (g *Gateway) poll(ctx context.Context, u *upstream) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	fail := func() {
		if ctx.Err() == nil || errors.Is(ctx.Err(), context.DeadlineExceeded) {
			if u.state(time.Now()) == stateHealthy {
				u.failed(time.Now())
			}
		}
	}
	hr, err := http.NewRequestWithContext(ctx, http.MethodGet, u.base+"/v1/capacity", nil)
	if err != nil {
		return
	}
	hr.Header.Set("User-Agent", userAgent)
	resp, err := u.hc.Do(hr)
	if err != nil {
		fail()
		return
	}
	defer func() {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
	}()
	if resp.StatusCode != http.StatusOK {
		fail()
		return
	}
	var sc onlineproto.SignedCapacity
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&sc); err != nil {
		fail()
		return
	}
	g.acceptCapacity(u, &sc, true)
}
