package worker

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/cocoon-network/cocoon/bindings"
	"github.com/cocoon-network/cocoon/offchain/channel"
	"github.com/cocoon-network/cocoon/offchain/inference"
	"github.com/cocoon-network/cocoon/offchain/internal/httpserve"
	"github.com/cocoon-network/cocoon/offchain/internal/sse"
	"github.com/cocoon-network/cocoon/offchain/onlineproto"
	"github.com/cocoon-network/cocoon/offchain/tonamount"
)

// MaxOnlineBody bounds a posted chat completions request.
const MaxOnlineBody = 4 << 20

// online serves OpenAI-compatible chat completions to paying gateways:
//
//	POST /v1/chat/completions  stream and non-stream, paid by voucher
//	GET  /v1/capacity          the signed capacity report
//	POST /v1/vouchers          a voucher on its own (Cocoon-Payer, Cocoon-Voucher)
//	POST /v1/channel/accept    a payer's channel terms → the worker's signed acceptance
//	POST /v1/channel/cosign    the payer's close (its last voucher) for the worker to approve
//
// The worker commits its channel earnings by itself (the payee's watcher,
// online_channel.go): the payer's voucher is all the contract needs.
//
// Prompts and answers pass through here in clear inside the enclave; they
// are never logged, stored or put into an error.
type online struct {
	d      *Daemon
	cfg    OnlineConfig
	ledger *Ledger
	// fixed is set when Options gave the verifier (no channels are started).
	fixed  bool
	prices map[string]onlineproto.CapacityPrice
	price  map[string]bindings.ModelPrice // by public model name

	slots chan struct{}
	// receipts keeps every answer's receipt for a while, for the payer
	// whose answer did not reach it (GET /v1/receipts/{id}).
	receipts receiptBox

	mu       sync.Mutex
	vouchers VoucherVerifier // nil until payments run (startPayments)
	payee    *channel.Payee
	queued   int
	ttft     float64 // EWMA, milliseconds
	tokens   []tokenEvent
	seq      uint64
	created  time.Time
	// header is the latest signed report as a header, reused for
	// headerTTL: signing one per answer was a tenth of the endpoint's CPU.
	header   string
	headerAt time.Time
}

// headerTTL is how long a capacity header is reused.
const headerTTL = 50 * time.Millisecond

type tokenEvent struct {
	at time.Time
	n  int
}

// rateWindow is how far back tokens per second looks.
const rateWindow = 10 * time.Second

func newOnline(d *Daemon, v VoucherVerifier) (*online, error) {
	cfg := d.cfg.Online
	if cfg.MaxConcurrent == 0 { // a Config built in code, not loaded
		cfg.applyDefaults(d.cfg.MaxConcurrent)
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	credit, _ := cfg.creditNano()
	fixed := v != nil
	if v == nil && cfg.Payments == PaymentsIOU {
		v = &IOUVerifier{Worker: d.self}
	}
	o := &online{
		d: d, cfg: cfg, vouchers: v, fixed: fixed, ledger: NewLedger(credit),
		prices: map[string]onlineproto.CapacityPrice{}, price: map[string]bindings.ModelPrice{},
		slots: make(chan struct{}, cfg.MaxConcurrent), created: time.Now(),
	}
	for _, m := range d.cfg.Models {
		in, err := tonamount.Parse(m.PriceIn)
		if err != nil {
			return nil, fmt.Errorf("models %s price_in: %w", m.Name, err)
		}
		out, err := tonamount.Parse(m.PriceOut)
		if err != nil {
			return nil, fmt.Errorf("models %s price_out: %w", m.Name, err)
		}
		o.price[m.Name] = bindings.ModelPrice{PriceIn: in, PriceOut: out}
		o.prices[m.Name] = onlineproto.CapacityPrice{In: in.String(), Out: out.String()}
	}
	return o, nil
}

func (o *online) register(mux *http.ServeMux) {
	mux.HandleFunc("POST /v1/chat/completions", o.chat)
	mux.HandleFunc("GET /v1/capacity", o.capacity)
	mux.HandleFunc("POST /v1/vouchers", o.voucher)
	mux.HandleFunc("GET /v1/receipts/{id}", o.receipt)
	mux.HandleFunc("POST "+channel.PathAccept, o.channelHandler(func(p *channel.Payee) http.Handler {
		if !p.CanSend() {
			// Without a gas wallet the worker could neither commit what a
			// channel earns nor answer the payer's close alone, in which
			// the payer takes back everything not committed: no new
			// channels, rather than work paid by vouchers it cannot cash.
			return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				apiError(w, http.StatusServiceUnavailable, "server_error", "channels_unavailable",
					"this worker has no gas wallet (online.gas_wallet) to commit its earnings and answer a payer's close, so it opens no payment channels")
			})
		}
		return channel.AcceptHandler(p)
	}))
	mux.HandleFunc("POST "+channel.PathCosign, o.channelHandler(func(p *channel.Payee) http.Handler { return channel.CosignHandler(p) }))
}

// Ledger is the online payers' account book.
func (d *Daemon) Ledger() *Ledger { return d.online.ledger }

// apiError writes an OpenAI error object.
func apiError(w http.ResponseWriter, status int, typ, code, format string, a ...any) {
	httpserve.WriteJSON(w, status, onlineproto.ErrorAnswer{Error: onlineproto.ErrorObject{Message: fmt.Sprintf(format, a...), Type: typ, Code: code}})
}

// Report builds and signs the current capacity report.
func (o *online) Report() (*onlineproto.SignedCapacity, error) {
	o.mu.Lock()
	o.seq++
	now := time.Now()
	o.trim(now)
	n := 0
	for _, e := range o.tokens {
		n += e.n
	}
	window := min(rateWindow, now.Sub(o.created))
	rate := 0.0
	if window > 0 {
		rate = float64(n) / window.Seconds()
	}
	c := &onlineproto.Capacity{
		V: 1, Worker: o.d.self.StringRaw(),
		Slots: cap(o.slots), Free: cap(o.slots) - len(o.slots), Queue: o.queued, QueueLimit: o.cfg.Queue,
		TokensPerSecond: rate, TTFTMillis: o.ttft, Prices: o.prices,
		Seq: o.seq, Time: now.UnixMilli(),
	}
	o.mu.Unlock()
	return onlineproto.SignCapacity(o.d.id.SignKey, c)
}

func (o *online) trim(now time.Time) {
	i := 0
	for i < len(o.tokens) && now.Sub(o.tokens[i].at) > rateWindow {
		i++
	}
	o.tokens = o.tokens[i:]
}

func (o *online) setCapacityHeader(w http.ResponseWriter) {
	o.mu.Lock()
	h, fresh := o.header, time.Since(o.headerAt) < headerTTL
	o.mu.Unlock()
	if !fresh {
		rep, err := o.Report()
		if err != nil {
			return
		}
		h = rep.Header()
		o.mu.Lock()
		o.header, o.headerAt = h, time.Now()
		o.mu.Unlock()
	}
	w.Header().Set(onlineproto.HeaderCapacity, h)
}

func (o *online) capacity(w http.ResponseWriter, _ *http.Request) {
	rep, err := o.Report()
	if err != nil {
		apiError(w, http.StatusInternalServerError, "server_error", "capacity", "signing the capacity report: %v", err)
		return
	}
	httpserve.WriteJSON(w, http.StatusOK, rep)
}

// payer reads the payer and, when present, its voucher. It returns false
// after writing an error.
func (o *online) payer(w http.ResponseWriter, r *http.Request) (string, bool) {
	vouchers := o.verifier()
	if vouchers == nil {
		apiError(w, http.StatusServiceUnavailable, "server_error", "payments_unavailable", "the worker's payments are not running")
		return "", false
	}
	payer := r.Header.Get(onlineproto.HeaderPayer)
	if payer == "" || len(payer) > 256 {
		apiError(w, http.StatusPaymentRequired, "invalid_request_error", "payer_required",
			"online requests are paid: send the %s header (and vouchers in %s)", onlineproto.HeaderPayer, onlineproto.HeaderVoucher)
		return "", false
	}
	if pc, ok := vouchers.(PayerChecker); ok {
		if err := pc.CheckPayer(r.Context(), payer); err != nil {
			apiError(w, http.StatusPaymentRequired, "invalid_request_error", "payer_refused", "%v", err)
			return "", false
		}
	}
	if h := r.Header.Get(onlineproto.HeaderVoucher); h != "" {
		raw, err := onlineproto.DecodeVoucher(h)
		if err != nil {
			apiError(w, http.StatusBadRequest, "invalid_request_error", "bad_voucher", "%s: %v", onlineproto.HeaderVoucher, err)
			return "", false
		}
		amount, err := vouchers.Verify(r.Context(), payer, raw)
		if err != nil {
			apiError(w, http.StatusPaymentRequired, "invalid_request_error", "bad_voucher", "voucher refused: %v", err)
			return "", false
		}
		added := o.ledger.Paid(payer, amount)
		o.d.metrics.OnlinePaid.Add(float64(added.Int64()))
	}
	return payer, true
}

func (o *online) voucher(w http.ResponseWriter, r *http.Request) {
	payer, ok := o.payer(w, r)
	if !ok {
		return
	}
	charged, paid := o.ledger.Balance(payer)
	answer := map[string]string{"charged": charged.String(), "paid": paid.String(), "scheme": o.verifier().Scheme()}
	if h, ok := o.verifier().(VoucherHolder); ok {
		if v, ok := h.Held(payer); ok {
			answer["voucher"] = v
		}
	}
	httpserve.WriteJSON(w, http.StatusOK, answer)
}

// parsedChat is a validated request.
type parsedChat struct {
	req       inference.Request
	model     ModelConfig
	maxTokens uint32
	inBound   uint32
	stream    bool
}

func (o *online) parse(w http.ResponseWriter, r *http.Request) (*parsedChat, bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxOnlineBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			apiError(w, http.StatusRequestEntityTooLarge, "invalid_request_error", "request_too_large", "request body over %d bytes", MaxOnlineBody)
			return nil, false
		}
		apiError(w, http.StatusBadRequest, "invalid_request_error", "bad_body", "reading the request body: %v", err)
		return nil, false
	}
	var cr onlineproto.ChatRequest
	if err := json.Unmarshal(body, &cr); err != nil {
		apiError(w, http.StatusBadRequest, "invalid_request_error", "invalid_json", "the body is not a chat completions request: %v", err)
		return nil, false
	}
	m, ok := o.d.models[bindings.ModelID(cr.Model)]
	if !ok || cr.Model == "" {
		apiError(w, http.StatusNotFound, "invalid_request_error", "model_not_found", "this worker does not serve model %q", clipName(cr.Model))
		return nil, false
	}
	if len(cr.Messages) == 0 {
		apiError(w, http.StatusBadRequest, "invalid_request_error", "missing_messages", "messages: at least one message is required")
		return nil, false
	}
	msgs := make([]inference.Message, len(cr.Messages))
	size := 0
	for i, cm := range cr.Messages {
		t, err := cm.Text()
		if err != nil {
			apiError(w, http.StatusBadRequest, "invalid_request_error", "invalid_content", "messages[%d]: %v", i, err)
			return nil, false
		}
		msgs[i] = inference.Message{Role: cm.Role, Content: t}
		size += len(t)
	}
	maxTokens, _ := cr.OutputLimit(o.cfg.DefaultMaxTokens)
	if maxTokens < 1 || maxTokens > o.cfg.MaxTokens {
		apiError(w, http.StatusBadRequest, "invalid_request_error", "invalid_max_tokens", "max_tokens %d: must be within [1, %d]", maxTokens, o.cfg.MaxTokens)
		return nil, false
	}
	req := inference.Request{Model: m.EngineModel, Messages: msgs, MaxTokens: maxTokens, Temperature: cr.Temperature, TopP: cr.TopP, Seed: cr.Seed, Stop: cr.Stop}
	if err := req.Validate(); err != nil {
		apiError(w, http.StatusBadRequest, "invalid_request_error", "invalid_request", "%v", err)
		return nil, false
	}
	return &parsedChat{req: req, model: m, maxTokens: uint32(maxTokens), inBound: onlineproto.InputBound(size, len(msgs)), stream: cr.Stream}, true
}

func clipName(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

// acquire takes a slot, waiting in the queue when all are busy; false
// means the queue is full (or the request was cancelled).
func (o *online) acquire(ctx context.Context) bool {
	select {
	case o.slots <- struct{}{}:
		return true
	default:
	}
	o.mu.Lock()
	if o.queued >= o.cfg.Queue {
		o.mu.Unlock()
		return false
	}
	o.queued++
	o.mu.Unlock()
	defer func() {
		o.mu.Lock()
		o.queued--
		o.mu.Unlock()
	}()
	select {
	case o.slots <- struct{}{}:
		return true
	case <-ctx.Done():
		return false
	}
}

func (o *online) release() { <-o.slots }

func (o *online) observe(ttft time.Duration, tokens int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	ms := float64(ttft) / float64(time.Millisecond)
	if o.ttft == 0 {
		o.ttft = ms
	} else {
		o.ttft = 0.8*o.ttft + 0.2*ms
	}
	now := time.Now()
	o.trim(now)
	o.tokens = append(o.tokens, tokenEvent{at: now, n: tokens})
}

// reserve holds maxCost of the payer's credit, within what it can ever pay
// (PayerCeiling: a channel's deposit, re-read from the chain when it falls
// short, since the payer may have topped up). It returns false after
// writing the refusal.
func (o *online) reserve(w http.ResponseWriter, r *http.Request, payer string, maxCost *big.Int) bool {
	pc, bounded := o.verifier().(PayerCeiling)
	var ceiling *big.Int
	if bounded {
		var err error
		if ceiling, err = pc.Ceiling(r.Context(), payer, false); err != nil {
			apiError(w, http.StatusPaymentRequired, "invalid_request_error", "payer_refused", "%v", err)
			return false
		}
	}
	err := o.ledger.Reserve(payer, maxCost, ceiling)
	if errors.Is(err, ErrOverCeiling) {
		if fresh, ferr := pc.Ceiling(r.Context(), payer, true); ferr == nil {
			ceiling = fresh
			err = o.ledger.Reserve(payer, maxCost, ceiling)
		}
	}
	if err == nil {
		return true
	}
	charged, paid := o.ledger.Balance(payer)
	if errors.Is(err, ErrOverCeiling) {
		o.d.metrics.OnlineRequests.WithLabelValues("insufficient_deposit").Inc()
		apiError(w, http.StatusPaymentRequired, "insufficient_quota", onlineproto.CodeInsufficientDeposit,
			"%v: charged %s, running requests may cost %s, this one %s, the channel holds %s (nanoton): top the channel up",
			err, charged, o.ledger.Reserved(payer), maxCost, ceiling)
		return false
	}
	o.d.metrics.OnlineRequests.WithLabelValues("insufficient_credit").Inc()
	apiError(w, http.StatusPaymentRequired, "insufficient_quota", "insufficient_credit",
		"%v: charged %s, paid %s, this request may cost %s, credit %s (nanoton)", err, charged, paid, maxCost, o.ledger.Credit)
	return false
}

func newRequestID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return "req-" + hex.EncodeToString(b[:])
}

// chat is POST /v1/chat/completions.
func (o *online) chat(w http.ResponseWriter, r *http.Request) {
	payer, ok := o.payer(w, r)
	if !ok {
		o.d.metrics.OnlineRequests.WithLabelValues("payment_refused").Inc()
		return
	}
	pc, ok := o.parse(w, r)
	if !ok {
		o.d.metrics.OnlineRequests.WithLabelValues("bad_request").Inc()
		return
	}
	price := o.price[pc.model.Name]
	maxCost := bindings.Charge(price.PriceIn, price.PriceOut, pc.inBound, pc.maxTokens)
	if !o.reserve(w, r, payer, maxCost) {
		return
	}
	settled := false
	defer func() {
		if !settled {
			o.ledger.Release(payer, maxCost)
		}
	}()
	if !o.acquire(r.Context()) {
		o.d.metrics.OnlineRequests.WithLabelValues("busy").Inc()
		o.setCapacityHeader(w)
		w.Header().Set("Retry-After", "1")
		apiError(w, http.StatusTooManyRequests, "rate_limit_error", "worker_busy", "all %d slots busy and %d requests queued", cap(o.slots), o.cfg.Queue)
		return
	}
	defer o.release()
	reqID := r.Header.Get(onlineproto.HeaderRequestID)
	if reqID == "" || len(reqID) > 128 {
		reqID = newRequestID()
	}
	start := time.Now()
	ectx, stopEngine := context.WithCancel(r.Context())
	defer stopEngine()
	s, err := o.d.engine.Chat(ectx, pc.req)
	if err != nil {
		o.d.metrics.OnlineRequests.WithLabelValues("engine_failed").Inc()
		o.setCapacityHeader(w)
		apiError(w, http.StatusServiceUnavailable, "server_error", "engine_unavailable", "the inference engine failed before answering")
		o.d.log.Warn("online request: engine failed", "error", err)
		return
	}
	defer s.Close()
	var (
		signed  *onlineproto.SignedUsage
		signErr error
	)
	// sign charges the payer and signs the receipt, once per request.
	sign := func(res inference.Result, deltas int) (*onlineproto.SignedUsage, error) {
		if settled {
			return signed, signErr
		}
		in, out := uint32(0), uint32(deltas)
		if res.Usage != nil {
			in, out = uint32(max(res.Usage.InputTokens, 0)), uint32(max(res.Usage.OutputTokens, 0))
		}
		// The worker never claims more than the request allowed.
		in, out = min(in, pc.inBound), min(out, pc.maxTokens)
		cost := bindings.Charge(price.PriceIn, price.PriceOut, in, out)
		settled = true
		o.d.metrics.OnlineCharged.Add(float64(cost.Int64()))
		o.d.metrics.Tokens.WithLabelValues("input").Add(float64(in))
		o.d.metrics.Tokens.WithLabelValues("output").Add(float64(out))
		signed, signErr = o.ledger.ChargeSigned(payer, reqID, maxCost, cost, func(total *big.Int) (*onlineproto.SignedUsage, error) {
			return onlineproto.SignUsage(o.d.id.SignKey, &onlineproto.Usage{
				V: 1, Worker: o.d.self.StringRaw(), Payer: payer, RequestID: reqID, Model: pc.model.Name,
				InputTokens: in, OutputTokens: out, MaxTokens: pc.maxTokens,
				Cost: cost.String(), Total: total.String(), Time: time.Now().Unix(),
			})
		})
		if signErr == nil {
			o.receipts.put(payer, reqID, signed)
		}
		return signed, signErr
	}
	o.setCapacityHeader(w)
	w.Header().Set(onlineproto.HeaderRequestID, reqID)
	cw := &completionWriter{id: "chatcmpl-" + reqID, model: pc.model.Name, created: start.Unix()}
	if pc.stream {
		o.stream(w, r, s, stopEngine, cw, start, sign)
		return
	}
	var text strings.Builder
	deltas := 0
	var ttft time.Duration
	for {
		d, err := s.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			res := s.Result()
			u, _ := sign(res, deltas)
			o.d.metrics.OnlineRequests.WithLabelValues("engine_failed").Inc()
			httpserve.WriteJSON(w, http.StatusBadGateway, onlineproto.ErrorAnswer{
				Error:  onlineproto.ErrorObject{Message: "the inference engine failed mid-answer", Type: "server_error", Code: "engine_failed"},
				Cocoon: &onlineproto.CocoonExtension{Usage: u},
			})
			return
		}
		if deltas == 0 {
			ttft = time.Since(start)
		}
		deltas++
		text.WriteString(d)
	}
	res := s.Result()
	u, err := sign(res, deltas)
	if err != nil {
		apiError(w, http.StatusInternalServerError, "server_error", "receipt", "signing the usage receipt: %v", err)
		return
	}
	o.observe(ttft, deltas)
	o.d.metrics.OnlineRequests.WithLabelValues("completed").Inc()
	httpserve.WriteJSON(w, http.StatusOK, cw.completion(text.String(), res, u))
}

// stream writes the answer as server-sent events, OpenAI's way: a role
// chunk, content chunks, a finish chunk, the usage chunk (carrying the
// signed receipt), and [DONE]. A failure after the headers went out ends
// the stream with an error event.
func (o *online) stream(w http.ResponseWriter, r *http.Request, s inference.Stream, stopEngine context.CancelFunc, cw *completionWriter,
	start time.Time, sign func(inference.Result, int) (*onlineproto.SignedUsage, error)) {
	// Deltas are read one step ahead, so that a delta written while the
	// next one is already there is not flushed on its own: a fast engine's
	// burst leaves in few writes, a slow one's tokens leave at once.
	pf := newPrefetch(s, stopEngine)
	defer pf.stop()
	sw := sse.New(w, pf)
	buf := make([]byte, 0, 512)
	cc := &onlineproto.Completion{ID: cw.id, Model: cw.model, Created: cw.created}
	deltas := 0
	var ttft time.Duration
	fail := func(code, msg string) {
		u, _ := sign(s.Result(), deltas)
		o.d.metrics.OnlineRequests.WithLabelValues(code).Inc()
		_ = sw.JSON(onlineproto.ErrorAnswer{
			Error:  onlineproto.ErrorObject{Message: msg, Type: "server_error", Code: code},
			Cocoon: &onlineproto.CocoonExtension{Usage: u},
		})
	}
	for {
		d, err := pf.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			if r.Context().Err() != nil {
				// The payer hung up: charge what was sent; its receipt
				// waits in the box for the payer.
				_, _ = sign(sentOnly(s.Result(), deltas), deltas)
				o.d.metrics.OnlineRequests.WithLabelValues("cancelled").Inc()
				return
			}
			fail("engine_failed", "the inference engine failed mid-answer")
			return
		}
		if deltas == 0 {
			ttft = time.Since(start)
		}
		deltas++
		buf = cc.AppendChunk(buf[:0], d, deltas == 1, "")
		if err := sw.Send(buf); err != nil {
			pf.stop()
			// The payer hung up: charge what was sent before (this delta
			// did not leave); its receipt waits in the box for the payer.
			_, _ = sign(sentOnly(s.Result(), deltas-1), deltas-1)
			o.d.metrics.OnlineRequests.WithLabelValues("cancelled").Inc()
			return
		}
	}
	res := s.Result()
	finish := string(res.FinishReason)
	if finish == "" {
		finish = string(inference.FinishStop)
	}
	buf = cc.AppendChunk(buf[:0], "", deltas == 0, finish)
	if err := sw.Write(buf); err != nil {
		return
	}
	u, err := sign(res, deltas)
	if err != nil {
		fail("receipt", "signing the usage receipt failed")
		return
	}
	o.observe(ttft, deltas)
	o.d.metrics.OnlineRequests.WithLabelValues("completed").Inc()
	ext, _ := json.Marshal(onlineproto.CocoonExtension{Usage: u})
	us := usageOf(u)
	_ = sw.Write(cc.AppendUsageChunk(buf[:0], us.PromptTokens, us.CompletionTokens, ext))
	_ = sw.Close()
}

// sentOnly caps the engine's output count at the deltas that left: a
// payer that hung up pays for what the worker sent it, not for what the
// engine generated after.
func sentOnly(res inference.Result, sent int) inference.Result {
	if res.Usage != nil {
		u := *res.Usage
		u.OutputTokens = min(u.OutputTokens, max(sent, 0))
		res.Usage = &u
	}
	return res
}

// prefetch reads a stream's deltas in its own goroutine, one ahead.
type prefetch struct {
	s      inference.Stream
	cancel context.CancelFunc
	ch     chan prefetched
	done   chan struct{} // closed by stop
	exited chan struct{} // closed when the goroutine has returned
	once   sync.Once
}

type prefetched struct {
	text string
	err  error
}

func newPrefetch(s inference.Stream, cancel context.CancelFunc) *prefetch {
	p := &prefetch{s: s, cancel: cancel, ch: make(chan prefetched, 1), done: make(chan struct{}), exited: make(chan struct{})}
	go func() {
		defer close(p.exited)
		for {
			d, err := s.Next()
			select {
			case p.ch <- prefetched{d, err}:
			case <-p.done:
				return
			}
			if err != nil {
				return
			}
		}
	}()
	return p
}

// next is the stream's Next. After an error (io.EOF included) the reading
// goroutine has returned, so Result may be called.
func (p *prefetch) next() (string, error) {
	d := <-p.ch
	return d.text, d.err
}

// Ready reports whether the next delta (or the end) has already arrived
// (sse.Producer).
func (p *prefetch) Ready() bool { return len(p.ch) > 0 }

// stop ends the reading goroutine (cancelling the engine) and waits for
// it, so that the stream may be used (Result, Close) again.
func (p *prefetch) stop() {
	p.once.Do(func() {
		p.cancel()
		close(p.done)
		<-p.exited
	})
}

// completionWriter builds the OpenAI objects of one answer.
type completionWriter struct {
	id, model string
	created   int64
}

type wireUsage struct {
	PromptTokens     uint32 `json:"prompt_tokens"`
	CompletionTokens uint32 `json:"completion_tokens"`
	TotalTokens      uint32 `json:"total_tokens"`
}

func usageOf(u *onlineproto.SignedUsage) wireUsage {
	var us onlineproto.Usage
	_ = json.Unmarshal(u.Receipt, &us)
	return wireUsage{PromptTokens: us.InputTokens, CompletionTokens: us.OutputTokens, TotalTokens: us.InputTokens + us.OutputTokens}
}

func (c *completionWriter) completion(text string, res inference.Result, u *onlineproto.SignedUsage) map[string]any {
	finish := string(res.FinishReason)
	if finish == "" {
		finish = string(inference.FinishStop)
	}
	return map[string]any{
		"id": c.id, "object": "chat.completion", "created": c.created, "model": c.model,
		"choices": []any{map[string]any{
			"index": 0, "message": map[string]any{"role": "assistant", "content": text}, "finish_reason": finish,
		}},
		"usage":  usageOf(u),
		"cocoon": onlineproto.CocoonExtension{Usage: u},
	}
}
