package gateway

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cocoon-network/cocoon/bindings"
	"github.com/cocoon-network/cocoon/offchain/client"
	"github.com/cocoon-network/cocoon/offchain/inference/reference"
	"github.com/cocoon-network/cocoon/offchain/onlineproto"
	"github.com/cocoon-network/cocoon/offchain/seal"
	"github.com/cocoon-network/cocoon/offchain/worker"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

const (
	testModel = "m1"
	testKey   = "sk-test-0123456789abcdef"
)

// testWorker is a real worker daemon's HTTP handler (reference engine, no
// chain: the online endpoint needs none), optionally behind a wrapper that
// misbehaves, and the client.Worker discovery would have produced for it.
type testWorker struct {
	d    *worker.Daemon
	id   *worker.Identity
	srv  *httptest.Server
	info *client.Worker

	mu   sync.Mutex
	hits int
	seen []*http.Request
	body [][]byte
}

type workerOpts struct {
	slots, queue int
	delay        time.Duration
	wrap         func(tw *testWorker, next http.Handler) http.Handler
}

func newTestWorker(t *testing.T, o workerOpts) *testWorker {
	t.Helper()
	dir := t.TempDir()
	id, err := worker.InitIdentity(context.Background(), filepath.Join(dir, "keys"), seal.SuiteX25519)
	if err != nil {
		t.Fatal(err)
	}
	cfgText, err := worker.RenderConfig(worker.InitValues{Network: "http://127.0.0.1:1", Root: "0:" + strings.Repeat("11", 32),
		Owner: "0:" + strings.Repeat("22", 32), Listen: "127.0.0.1:1", PublicURL: "http://127.0.0.1:1", Model: testModel})
	if err != nil {
		t.Fatal(err)
	}
	cfgText += fmt.Sprintf("\n[online]\nmax_concurrent = %d\npayments = \"iou\"\n", max(o.slots, 1))
	path := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(path, []byte(cfgText), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := worker.LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Online.Queue = o.queue // in the file 0 means the default
	d, err := worker.New(cfg, id, worker.Options{Engine: reference.New(reference.Config{TokenDelay: o.delay})})
	if err != nil {
		t.Fatal(err)
	}
	tw := &testWorker{d: d, id: id}
	var h http.Handler = d.Handler()
	if o.wrap != nil {
		h = o.wrap(tw, h)
	}
	tw.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/chat/completions" {
			b, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(b))
			tw.mu.Lock()
			tw.hits++
			tw.seen = append(tw.seen, r)
			tw.body = append(tw.body, b)
			tw.mu.Unlock()
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(tw.srv.Close)
	tw.info = &client.Worker{
		Address: d.Address(), Endpoint: tw.srv.URL, AttestationHash: id.EvidenceHash(),
		WorkerKey: id.SignKey.Public().(ed25519.PublicKey),
		Price:     bindings.ModelPrice{PriceIn: big.NewInt(5e8), PriceOut: big.NewInt(15e8)},
	}
	return tw
}

func (tw *testWorker) count() int {
	tw.mu.Lock()
	defer tw.mu.Unlock()
	return tw.hits
}

// staticSource serves a fixed list of workers, in test mode (plain http).
type staticSource struct {
	mu      sync.Mutex
	workers []*client.Worker
}

func (s *staticSource) Discover(context.Context, string) ([]*client.Worker, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*client.Worker(nil), s.workers...), true, nil
}

type testGateway struct {
	g     *Gateway
	srv   *httptest.Server
	payer *IOUPayer
}

func newTestGateway(t *testing.T, budget *big.Int, ws ...*testWorker) *testGateway {
	t.Helper()
	return newTestGatewayWith(t, func(c *Config) { c.Budget = budget }, ws...)
}

// newTestGatewayWith is newTestGateway with edit applied to its Config.
func newTestGatewayWith(t *testing.T, edit func(*Config), ws ...*testWorker) *testGateway {
	t.Helper()
	src := &staticSource{}
	for _, w := range ws {
		src.workers = append(src.workers, w.info)
	}
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	payer := &IOUPayer{Key: key}
	cfg := Config{Source: src, Models: []string{testModel}, APIKeys: []string{testKey}, Payer: payer,
		PollInterval: 20 * time.Millisecond, RefreshInterval: time.Hour}
	edit(&cfg)
	g, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = g.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	select {
	case <-g.Found():
	case <-time.After(10 * time.Second):
		t.Fatal("the gateway found no workers")
	}
	srv := httptest.NewServer(g.Handler())
	t.Cleanup(srv.Close)
	return &testGateway{g: g, srv: srv, payer: payer}
}

func (tg *testGateway) do(t *testing.T, method, path, body string, headers map[string]string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(method, tg.srv.URL+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+testKey)
	req.Header.Set("Content-Type", "application/json")
	for k, v := range headers {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

type completion struct {
	Object  string `json:"object"`
	Model   string `json:"model"`
	Choices []struct {
		Message struct {
			Role    string `json:"role"`
			Content string `json:"content"`
		} `json:"message"`
		FinishReason string `json:"finish_reason"`
	} `json:"choices"`
	Usage wireUsage `json:"usage"`
}

func decode[T any](t *testing.T, r io.Reader) T {
	t.Helper()
	var v T
	if err := json.NewDecoder(r).Decode(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

// readStream returns the data lines of an event stream.
func readStream(t *testing.T, r io.Reader) []string {
	t.Helper()
	var out []string
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if d, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
			out = append(out, d)
		}
	}
	return out
}

func TestNonStreamAndStream(t *testing.T) {
	w1, w2 := newTestWorker(t, workerOpts{slots: 4}), newTestWorker(t, workerOpts{slots: 4})
	tg := newTestGateway(t, nil, w1, w2)

	resp := tg.do(t, "POST", "/v1/chat/completions", `{"model":"m1","messages":[{"role":"user","content":"one two three"}],"max_tokens":50}`, nil)
	if resp.StatusCode != 200 {
		t.Fatalf("HTTP %d", resp.StatusCode)
	}
	c := decode[completion](t, resp.Body)
	if c.Object != "chat.completion" || c.Model != testModel || len(c.Choices) != 1 || c.Choices[0].FinishReason != "stop" ||
		!strings.HasPrefix(c.Choices[0].Message.Content, "cocoon-reference answer:") || !strings.HasSuffix(c.Choices[0].Message.Content, "echo: one two three") {
		t.Fatalf("completion %+v", c)
	}
	if c.Usage.PromptTokens != 3 || c.Usage.CompletionTokens != 8 || c.Usage.TotalTokens != 11 {
		t.Fatalf("usage %+v", c.Usage)
	}
	cost := bindings.Charge(big.NewInt(5e8), big.NewInt(15e8), 3, 8)
	if got := tg.g.Spent(); got.Cmp(cost) != 0 {
		t.Fatalf("spent %s, want %s", got, cost)
	}

	// Stop sequences reach the engine; text format, a null tool list and
	// an unknown field change nothing.
	resp = tg.do(t, "POST", "/v1/chat/completions", `{"model":"m1","stop":[" three"],"response_format":{"type":"text"},"tools":null,"x_unknown":1,"messages":[{"role":"user","content":"one two three"}],"max_tokens":50}`, nil)
	if resp.StatusCode != 200 {
		t.Fatalf("stop: HTTP %d", resp.StatusCode)
	}
	if c := decode[completion](t, resp.Body); len(c.Choices) != 1 || !strings.HasSuffix(c.Choices[0].Message.Content, "echo: one two") || c.Choices[0].FinishReason != "stop" {
		t.Fatalf("stop: completion %+v", c)
	}

	resp = tg.do(t, "POST", "/v1/chat/completions", `{"model":"m1","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"repeat 5 words"}]}`, nil)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("HTTP %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	events := readStream(t, resp.Body)
	// 5 content chunks, the finish chunk, the usage chunk, [DONE].
	if len(events) != 8 || events[7] != "[DONE]" {
		t.Fatalf("events %q", events)
	}
	var words []string
	for _, e := range events[:5] {
		var ch struct {
			Choices []struct {
				Delta struct{ Content string } `json:"delta"`
			} `json:"choices"`
		}
		if err := json.Unmarshal([]byte(e), &ch); err != nil || len(ch.Choices) != 1 {
			t.Fatalf("chunk %s: %v", e, err)
		}
		words = append(words, strings.TrimSpace(ch.Choices[0].Delta.Content))
	}
	// Each delta is one 8-hex-digit word of the reference engine.
	for _, w := range words {
		if len(w) != 8 {
			t.Fatalf("deltas %q", words)
		}
	}
	var last struct {
		Choices []any      `json:"choices"`
		Usage   *wireUsage `json:"usage"`
	}
	if err := json.Unmarshal([]byte(events[6]), &last); err != nil || len(last.Choices) != 0 || last.Usage == nil || last.Usage.CompletionTokens != 5 {
		t.Fatalf("usage chunk %s: %v", events[6], err)
	}
	if strings.Contains(events[5], `"cocoon"`) || strings.Contains(events[6], `"cocoon"`) {
		t.Fatal("the worker's receipt leaked to the app")
	}
	// Without include_usage there is no usage chunk.
	resp = tg.do(t, "POST", "/v1/chat/completions", `{"model":"m1","stream":true,"messages":[{"role":"user","content":"repeat 2 words"}]}`, nil)
	if events := readStream(t, resp.Body); len(events) != 4 {
		t.Fatalf("events without usage %q", events)
	}

	// Every voucher reaches the worker that earned it.
	deadline := time.Now().Add(10 * time.Second)
	payerID, _ := tg.payer.PayerID(context.Background(), nil, nil)
	for {
		settled := true
		for _, w := range []*testWorker{w1, w2} {
			charged, paid := w.d.Ledger().Balance(payerID)
			settled = settled && charged.Cmp(paid) == 0
		}
		if settled {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the workers were not paid what they charged")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestModelsAndErrors(t *testing.T) {
	tg := newTestGateway(t, nil, newTestWorker(t, workerOpts{slots: 2}))
	resp := tg.do(t, "GET", "/v1/models", "", nil)
	list := decode[struct {
		Object string `json:"object"`
		Data   []struct {
			ID     string `json:"id"`
			Object string `json:"object"`
		} `json:"data"`
	}](t, resp.Body)
	if list.Object != "list" || len(list.Data) != 1 || list.Data[0].ID != testModel || list.Data[0].Object != "model" {
		t.Fatalf("models %+v", list)
	}
	if resp := tg.do(t, "GET", "/v1/models/m1", "", nil); resp.StatusCode != 200 {
		t.Fatalf("GET /v1/models/m1: HTTP %d", resp.StatusCode)
	}
	ok := `{"model":"m1","messages":[{"role":"user","content":"hi"}]}`
	for _, tc := range []struct {
		name, method, path, body string
		headers                  map[string]string
		status                   int
		code, param              string
	}{
		{"no key", "POST", "/v1/chat/completions", ok, map[string]string{"Authorization": ""}, 401, "invalid_api_key", ""},
		{"wrong key", "GET", "/v1/models", "", map[string]string{"Authorization": "Bearer sk-wrong-0123456789abc"}, 401, "invalid_api_key", ""},
		{"unknown model", "POST", "/v1/chat/completions", `{"model":"gpt-x","messages":[{"role":"user","content":"hi"}]}`, nil, 404, "model_not_found", "model"},
		{"unknown model object", "GET", "/v1/models/gpt-x", "", nil, 404, "model_not_found", "model"},
		{"no model", "POST", "/v1/chat/completions", `{"messages":[{"role":"user","content":"hi"}]}`, nil, 400, "missing_required_parameter", "model"},
		{"no messages", "POST", "/v1/chat/completions", `{"model":"m1"}`, nil, 400, "missing_required_parameter", "messages"},
		{"bad json", "POST", "/v1/chat/completions", `{"model":`, nil, 400, "invalid_json", ""},
		{"wrong type", "POST", "/v1/chat/completions", `{"model":"m1","messages":"hi"}`, nil, 400, "invalid_type", "messages"},
		{"wrong type inside", "POST", "/v1/chat/completions", `{"model":"m1","messages":[{"role":1,"content":"hi"}]}`, nil, 400, "invalid_type", "messages.role"},
		{"role not OpenAI's", "POST", "/v1/chat/completions", `{"model":"m1","messages":[{"role":"wizard","content":"hi"}]}`, nil, 400, "invalid_value", "messages[0].role"},
		{"wrong type of a gateway field", "POST", "/v1/chat/completions", `{"model":"m1","n":"2","messages":[{"role":"user","content":"hi"}]}`, nil, 400, "invalid_type", "n"},
		{"max tokens", "POST", "/v1/chat/completions", `{"model":"m1","max_tokens":-1,"messages":[{"role":"user","content":"hi"}]}`, nil, 400, "invalid_value", "max_tokens"},
		{"n", "POST", "/v1/chat/completions", `{"model":"m1","n":2,"messages":[{"role":"user","content":"hi"}]}`, nil, 400, "unsupported_value", "n"},
		// Not relayed yet: refused, not silently dropped (issue 21).
		{"tools", "POST", "/v1/chat/completions", `{"model":"m1","tools":[{"type":"function","function":{"name":"f"}}],"messages":[{"role":"user","content":"hi"}]}`, nil, 400, "unsupported_parameter", "tools"},
		{"tool choice", "POST", "/v1/chat/completions", `{"model":"m1","tool_choice":"auto","messages":[{"role":"user","content":"hi"}]}`, nil, 400, "unsupported_parameter", "tool_choice"},
		{"json mode", "POST", "/v1/chat/completions", `{"model":"m1","response_format":{"type":"json_object"},"messages":[{"role":"user","content":"hi"}]}`, nil, 400, "unsupported_parameter", "response_format"},
		{"logprobs", "POST", "/v1/chat/completions", `{"model":"m1","logprobs":true,"messages":[{"role":"user","content":"hi"}]}`, nil, 400, "unsupported_parameter", "logprobs"},
		{"five stops", "POST", "/v1/chat/completions", `{"model":"m1","stop":["a","b","c","d","e"],"messages":[{"role":"user","content":"hi"}]}`, nil, 400, "invalid_value", "stop"},
		{"stop of a number", "POST", "/v1/chat/completions", `{"model":"m1","stop":5,"messages":[{"role":"user","content":"hi"}]}`, nil, 400, "invalid_type", "stop"},
		{"empty stop", "POST", "/v1/chat/completions", `{"model":"m1","stop":"","messages":[{"role":"user","content":"hi"}]}`, nil, 400, "invalid_value", "stop"},
		{"image", "POST", "/v1/chat/completions", `{"model":"m1","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"x"}}]}]}`, nil, 400, "invalid_value", "messages[0].content"},
		{"unknown url", "GET", "/v1/nothing", "", nil, 404, "unknown_url", ""},
		{"too large", "POST", "/v1/chat/completions", `{"model":"m1","messages":[{"role":"user","content":"` + strings.Repeat("a", MaxBody) + `"}]}`, nil, 413, "request_too_large", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := tg.do(t, tc.method, tc.path, tc.body, tc.headers)
			e := decode[struct {
				Error struct {
					Message string  `json:"message"`
					Type    string  `json:"type"`
					Param   *string `json:"param"`
					Code    string  `json:"code"`
				} `json:"error"`
			}](t, resp.Body)
			param := ""
			if e.Error.Param != nil {
				param = *e.Error.Param
			}
			if resp.StatusCode != tc.status || e.Error.Code != tc.code || param != tc.param || e.Error.Message == "" || e.Error.Type == "" {
				t.Fatalf("HTTP %d %+v (param %q), want %d %s %q", resp.StatusCode, e.Error, param, tc.status, tc.code, tc.param)
			}
		})
	}
	// Unknown fields are ignored, and user, metadata and client headers
	// never reach the worker.
	w := newTestWorker(t, workerOpts{slots: 2})
	tg = newTestGateway(t, nil, w)
	resp = tg.do(t, "POST", "/v1/chat/completions",
		`{"model":"m1","user":"alice@example.com","metadata":{"who":"alice"},"frobnicate":true,"messages":[{"role":"user","name":"alice","content":"hi"}]}`,
		map[string]string{"X-Forwarded-For": "203.0.113.7", "X-User": "alice", "Cookie": "s=alice"})
	if resp.StatusCode != 200 {
		t.Fatalf("HTTP %d", resp.StatusCode)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	got, hdr := string(w.body[0]), w.seen[0].Header
	if strings.Contains(got, "alice") || strings.Contains(got, "frobnicate") {
		t.Fatalf("the worker saw %s", got)
	}
	for k := range hdr {
		switch http.CanonicalHeaderKey(k) {
		case "Content-Type", "User-Agent", "Content-Length", "Accept-Encoding",
			onlineproto.HeaderPayer, onlineproto.HeaderRequestID, onlineproto.HeaderVoucher:
		default:
			t.Fatalf("the worker saw header %s", k)
		}
	}
}

// A worker that is down is skipped before the first token: every request
// succeeds on the others, and its breaker opens.
func TestRetryOnDeadWorker(t *testing.T) {
	dead := newTestWorker(t, workerOpts{slots: 4})
	dead.srv.Close()
	live := newTestWorker(t, workerOpts{slots: 4})
	tg := newTestGateway(t, nil, dead, live)
	for i := range 20 {
		resp := tg.do(t, "POST", "/v1/chat/completions", `{"model":"m1","messages":[{"role":"user","content":"hi"}]}`, nil)
		if resp.StatusCode != 200 {
			t.Fatalf("request %d: HTTP %d", i, resp.StatusCode)
		}
	}
	// Failed requests and capacity polls open its breaker.
	u := tg.g.upstreamByAddr(dead.info.Address.StringRaw())
	deadline := time.Now().Add(10 * time.Second)
	for u.state(time.Now()) == "healthy" {
		if time.Now().After(deadline) {
			t.Fatal("the dead worker's breaker stayed closed")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Load reaches every worker, and none gets everything.
func TestLoadSpreads(t *testing.T) {
	o := workerOpts{slots: 8, queue: 20}
	ws := []*testWorker{newTestWorker(t, o), newTestWorker(t, o), newTestWorker(t, o)}
	tg := newTestGateway(t, nil, ws...)
	var wg sync.WaitGroup
	errs := make(chan error, 60)
	for range 60 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest("POST", tg.srv.URL+"/v1/chat/completions", strings.NewReader(`{"model":"m1","messages":[{"role":"user","content":"repeat 20 words"}]}`))
			req.Header.Set("Authorization", "Bearer "+testKey)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				errs <- err
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				errs <- fmt.Errorf("HTTP %d", resp.StatusCode)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for i, w := range ws {
		if n := w.count(); n == 0 || n == 60 {
			t.Fatalf("worker %d served %d of 60", i, n)
		}
	}
}

func TestNoCapacityIs429(t *testing.T) {
	w := newTestWorker(t, workerOpts{slots: 1, delay: 100 * time.Millisecond})
	tg := newTestGateway(t, nil, w)
	// Wait for the first capacity poll, so the gateway knows the slot count.
	for tg.g.upstreamByAddr(w.info.Address.StringRaw()).capacitySnapshot() == nil {
		time.Sleep(10 * time.Millisecond)
	}
	slow := make(chan int)
	go func() {
		req, _ := http.NewRequest("POST", tg.srv.URL+"/v1/chat/completions", strings.NewReader(`{"model":"m1","messages":[{"role":"user","content":"repeat 10 words"}]}`))
		req.Header.Set("Authorization", "Bearer "+testKey)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			slow <- 0
			return
		}
		resp.Body.Close()
		slow <- resp.StatusCode
	}()
	for w.count() == 0 {
		time.Sleep(5 * time.Millisecond)
	}
	resp := tg.do(t, "POST", "/v1/chat/completions", `{"model":"m1","messages":[{"role":"user","content":"hi"}]}`, nil)
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("HTTP %d, Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if code := <-slow; code != 200 {
		t.Fatalf("slow request: HTTP %d", code)
	}
}

func TestBudget(t *testing.T) {
	tg := newTestGateway(t, big.NewInt(1000), newTestWorker(t, workerOpts{slots: 2}))
	resp := tg.do(t, "POST", "/v1/chat/completions", `{"model":"m1","messages":[{"role":"user","content":"hi"}]}`, nil)
	e := decode[struct {
		Error struct{ Code string } `json:"error"`
	}](t, resp.Body)
	if resp.StatusCode != 429 || e.Error.Code != "insufficient_quota" {
		t.Fatalf("HTTP %d %+v", resp.StatusCode, e)
	}
}

// rewriteChat serves the worker's whole answer to a chat request through
// write, which may change it; other requests pass unchanged.
func rewriteChat(next http.Handler, write func(w http.ResponseWriter, answer string)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/chat/completions" {
			next.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		write(w, rec.Body.String())
	})
}

// tamperUsage rewrites the usage receipt in a worker's stream with f and
// re-signs it with key (nil key: leaves the signature, which then fails).
func tamperUsage(key ed25519.PrivateKey, f func(*onlineproto.Usage)) func(*testWorker, http.Handler) http.Handler {
	return func(_ *testWorker, next http.Handler) http.Handler {
		return rewriteChat(next, func(w http.ResponseWriter, answer string) {
			for _, line := range strings.SplitAfter(answer, "\n") {
				if d, ok := strings.CutPrefix(strings.TrimSpace(line), "data: "); ok && strings.Contains(d, `"cocoon"`) {
					var ch map[string]json.RawMessage
					_ = json.Unmarshal([]byte(d), &ch)
					var ext onlineproto.CocoonExtension
					_ = json.Unmarshal(ch["cocoon"], &ext)
					var u onlineproto.Usage
					_ = json.Unmarshal(ext.Usage.Receipt, &u)
					f(&u)
					if key != nil {
						ext.Usage, _ = onlineproto.SignUsage(key, &u)
					} else {
						ext.Usage.Receipt, _ = json.Marshal(u)
					}
					ch["cocoon"], _ = json.Marshal(ext)
					b, _ := json.Marshal(ch)
					line = "data: " + string(b) + "\n"
				}
				_, _ = io.WriteString(w, line)
			}
		})
	}
}

// A worker that claims more output tokens than the request allowed is paid
// only what the request allowed, and dropped; one whose receipt's
// signature fails is paid nothing, and dropped.
func TestMisbehavingWorkersAreDropped(t *testing.T) {
	for _, tc := range []struct {
		name   string
		resign bool
		f      func(*onlineproto.Usage)
		want   *big.Int
		reason string
	}{
		{"overclaim", true, func(u *onlineproto.Usage) {
			u.OutputTokens += 100
			u.Cost = bindings.Charge(big.NewInt(5e8), big.NewInt(15e8), u.InputTokens, u.OutputTokens).String()
		}, bindings.Charge(big.NewInt(5e8), big.NewInt(15e8), 3, 4), "overclaim"},
		{"bad signature", false, func(u *onlineproto.Usage) { u.Cost = "1" }, new(big.Int), "bad_signature"},
		{"wrong cost", true, func(u *onlineproto.Usage) { u.Cost = "999999999" }, bindings.Charge(big.NewInt(5e8), big.NewInt(15e8), 3, 4), "wrong_cost"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var key ed25519.PrivateKey
			bad := newTestWorker(t, workerOpts{slots: 2, wrap: func(tw *testWorker, next http.Handler) http.Handler {
				if tc.resign {
					key = tw.id.SignKey
				}
				return tamperUsage(key, tc.f)(tw, next)
			}})
			tg := newTestGateway(t, nil, bad)
			resp := tg.do(t, "POST", "/v1/chat/completions", `{"model":"m1","max_tokens":4,"messages":[{"role":"user","content":"repeat 9 words"}]}`, nil)
			if resp.StatusCode != 200 {
				t.Fatalf("HTTP %d", resp.StatusCode)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			if got := tg.g.Spent(); got.Cmp(tc.want) != 0 {
				t.Fatalf("paid %s, want %s", got, tc.want)
			}
			u := tg.g.upstreamByAddr(bad.info.Address.StringRaw())
			if u.state(time.Now()) != "dropped" || u.dropped != tc.reason {
				t.Fatalf("state %s (%s)", u.state(time.Now()), u.dropped)
			}
			// With its only worker dropped the model has no capacity.
			resp = tg.do(t, "POST", "/v1/chat/completions", `{"model":"m1","messages":[{"role":"user","content":"hi"}]}`, nil)
			if resp.StatusCode != 429 {
				t.Fatalf("after the drop: HTTP %d", resp.StatusCode)
			}
		})
	}
}

// A worker that streams far more than max_tokens allows (here 64 MiB for
// max_tokens 4) is cut after the bound, dropped, and paid only what its
// receipt proves, capped at max_tokens (issue 18).
func TestOverlongStreamIsCut(t *testing.T) {
	const flood = 64 << 20
	var sent atomic.Int64
	w := newTestWorker(t, workerOpts{slots: 2, wrap: func(_ *testWorker, next http.Handler) http.Handler {
		return rewriteChat(next, func(w http.ResponseWriter, answer string) {
			lines := strings.SplitAfter(answer, "\n")
			// The real answer's first content chunk, then the flood.
			chunk := ""
			for _, line := range lines {
				if strings.Contains(line, `"content"`) {
					chunk = line
					break
				}
			}
			for n := 0; n < flood; n += len(chunk) {
				if _, err := io.WriteString(w, chunk+"\n"); err != nil {
					return // the gateway cut it
				}
				sent.Add(int64(len(chunk)))
			}
			for _, line := range lines {
				_, _ = io.WriteString(w, line)
			}
		})
	}})
	tg := newTestGateway(t, nil, w)
	resp := tg.do(t, "POST", "/v1/chat/completions", `{"model":"m1","max_tokens":4,"stream":true,"messages":[{"role":"user","content":"repeat 3 words"}]}`, nil)
	body, _ := io.ReadAll(resp.Body)
	if !strings.Contains(string(body), "more than max_tokens") {
		t.Fatalf("the app's stream does not say it was cut: %.300s", body)
	}
	u := tg.g.upstreamByAddr(w.info.Address.StringRaw())
	if u.state(time.Now()) != "dropped" || u.dropped != "overlong" {
		t.Fatalf("worker state %s (%s)", u.state(time.Now()), u.dropped)
	}
	if n := sent.Load(); n >= flood {
		t.Fatalf("the gateway read the whole %d-byte flood", n)
	}
	tg.g.collecting.Wait()
	// Paid the receipt the worker signed for the real answer (fetched:
	// the flood cut the stream before it), never more than max_tokens.
	if spent, max := tg.g.Spent(), bindings.Charge(big.NewInt(5e8), big.NewInt(15e8), 64, 4); spent.Sign() <= 0 || spent.Cmp(max) > 0 {
		t.Fatalf("paid %s for a cut answer (bound %s)", spent, max)
	}
}

// A worker cannot hold an app's request (and its own slot, and the app's
// budget reservation) by pausing or trickling tokens after the first: the
// gateway cuts it past TokenGapTimeout between events, or past
// FirstTokenTimeout + max_tokens × PerTokenTimeout in all, ends the app's
// stream with an error and pays what the worker's receipt proves.
func TestSlowAnswerIsCut(t *testing.T) {
	for _, tc := range []struct {
		name  string
		pause func(i int) time.Duration // before line i of the answer
		edit  func(*Config)
	}{
		{"a long pause", func(i int) time.Duration {
			if i == 4 {
				return 10 * time.Second
			}
			return 0
		}, func(c *Config) { c.TokenGapTimeout = 300 * time.Millisecond }},
		{"a trickle", func(int) time.Duration { return 150 * time.Millisecond }, func(c *Config) {
			c.FirstTokenTimeout, c.PerTokenTimeout, c.TokenGapTimeout = 300*time.Millisecond, 20*time.Millisecond, time.Second
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			gone := make(chan struct{})
			w := newTestWorker(t, workerOpts{slots: 2, wrap: func(_ *testWorker, next http.Handler) http.Handler {
				return rewriteChat(next, func(w http.ResponseWriter, answer string) {
					for i, line := range strings.SplitAfter(answer, "\n\n") {
						select {
						case <-time.After(tc.pause(i)):
						case <-gone:
							return
						}
						if _, err := io.WriteString(w, line); err != nil {
							return
						}
						w.(http.Flusher).Flush()
					}
				})
			}})
			t.Cleanup(func() { close(gone) }) // before the worker's server closes
			tg := newTestGatewayWith(t, tc.edit, w)
			began := time.Now()
			resp := tg.do(t, "POST", "/v1/chat/completions", `{"model":"m1","max_tokens":10,"stream":true,"messages":[{"role":"user","content":"repeat 10 words"}]}`, nil)
			events := readStream(t, resp.Body)
			took := time.Since(began)
			if len(events) < 2 || !strings.Contains(events[len(events)-1], "worker_failed") {
				t.Fatalf("the app's stream did not end with the worker's failure: %q", events)
			}
			if took > 5*time.Second {
				t.Fatalf("the slow answer held the app %s", took)
			}
			tg.g.collecting.Wait()
			if spent, max := tg.g.Spent(), bindings.Charge(big.NewInt(5e8), big.NewInt(15e8), 64, 10); spent.Cmp(max) > 0 {
				t.Fatalf("paid %s for a cut answer (bound %s)", spent, max)
			}
		})
	}
}

// A worker that dies mid-answer ends the app's stream with an error event.
func TestMidStreamFailure(t *testing.T) {
	w := newTestWorker(t, workerOpts{slots: 2, wrap: func(_ *testWorker, next http.Handler) http.Handler {
		return rewriteChat(next, func(w http.ResponseWriter, answer string) {
			lines := strings.SplitAfter(answer, "\n\n")
			_, _ = io.WriteString(w, strings.Join(lines[:3], ""))
			w.(http.Flusher).Flush()
			panic(http.ErrAbortHandler)
		})
	}})
	tg := newTestGateway(t, nil, w)
	resp := tg.do(t, "POST", "/v1/chat/completions", `{"model":"m1","stream":true,"messages":[{"role":"user","content":"repeat 10 words"}]}`, nil)
	events := readStream(t, resp.Body)
	if len(events) != 4 || !strings.Contains(events[3], `"error"`) || !strings.Contains(events[3], "worker_failed") {
		t.Fatalf("events %q", events)
	}
}

func TestMetrics(t *testing.T) {
	tg := newTestGateway(t, nil, newTestWorker(t, workerOpts{slots: 2}))
	tg.do(t, "POST", "/v1/chat/completions", `{"model":"m1","messages":[{"role":"user","content":"hi"}]}`, nil)
	resp := tg.do(t, "GET", "/metrics", "", nil)
	b, _ := io.ReadAll(resp.Body)
	for _, want := range []string{`cocoon_gateway_requests_total{model="m1",outcome="ok",worker="0:`, "cocoon_gateway_request_duration_seconds_bucket",
		"cocoon_gateway_spend_nanoton_total", `cocoon_gateway_workers{model="m1",state="healthy"} 1`} {
		if !strings.Contains(string(b), want) {
			t.Fatalf("/metrics lacks %s:\n%s", want, b)
		}
	}
}

// Discovery keeps the pool fresh: a worker that joins is used, one that
// leaves is not; one that re-attests gets a new connection but stays
// dropped if it was.
func TestRefreshFollowsDiscovery(t *testing.T) {
	w1, w2 := newTestWorker(t, workerOpts{slots: 2}), newTestWorker(t, workerOpts{slots: 2})
	tg := newTestGateway(t, nil, w1)
	src := tg.g.cfg.Source.(*staticSource)
	ctx := context.Background()
	keys := func() []string {
		us, _ := tg.g.workers(testModel)
		var out []string
		for _, u := range us {
			out = append(out, u.key())
		}
		return out
	}
	src.mu.Lock()
	src.workers = append(src.workers, w2.info)
	src.mu.Unlock()
	if err := tg.g.refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if k := keys(); len(k) != 2 {
		t.Fatalf("after a join: %v", k)
	}
	old := tg.g.upstreamByAddr(w1.info.Address.StringRaw())
	old.drop("overclaim")
	reattested := *w1.info
	reattested.AttestationHash[0] ^= 1
	src.mu.Lock()
	src.workers = []*client.Worker{&reattested}
	src.mu.Unlock()
	if err := tg.g.refresh(ctx); err != nil {
		t.Fatal(err)
	}
	u := tg.g.upstreamByAddr(w1.info.Address.StringRaw())
	if k := keys(); len(k) != 1 || k[0] != w1.info.Address.StringRaw() || u == old || u.state(time.Now()) != "dropped" {
		t.Fatalf("after w2 left and w1 re-attested: %v, new upstream %v, state %s", k, u != old, u.state(time.Now()))
	}
	if tg.g.upstreamByAddr(w2.info.Address.StringRaw()) != nil {
		t.Fatal("a worker that left is still routed to")
	}
}

// The relay's fast chunk reader agrees with encoding/json on what the
// worker writes, and leaves everything else to it.
func TestFastChunk(t *testing.T) {
	c := &onlineproto.Completion{ID: "x", Model: "m", Created: 1}
	for _, tc := range []struct {
		content string
		role    bool
		finish  string
	}{{"hello", true, ""}, {` "quoted" \ and \n`, false, ""}, {"ünï 🚀 \u2028", false, ""}, {"", false, "length"}, {"", true, "stop"}} {
		line := strings.TrimSpace(strings.TrimPrefix(string(c.AppendChunk(nil, tc.content, tc.role, tc.finish)), "data: "))
		content, finish, ok := fastChunk([]byte(line))
		var slow workerChunk
		if err := json.Unmarshal([]byte(line), &slow); err != nil || !ok || content != slow.Choices[0].Delta.Content ||
			(finish == nil) != (slow.Choices[0].FinishReason == nil) || (finish != nil && *finish != *slow.Choices[0].FinishReason) {
			t.Fatalf("%s: fast %q %v %v, slow %+v %v", line, content, finish, ok, slow, err)
		}
	}
	for _, other := range []string{`{"error":{"message":"x"}}`, `{"choices":[],"usage":{},"cocoon":{}}`, `{"choices":[{"delta":{"content":"a"}}]}`, `{"choices":[{"delta":{"content":"a},"finish_reason":7}]}`} {
		if _, _, ok := fastChunk([]byte(other)); ok {
			t.Fatalf("fast path took %s", other)
		}
	}
}

// An app that leaves in the middle of a stream stops the worker's answer.
func TestAppLeavingStopsTheWorker(t *testing.T) {
	w := newTestWorker(t, workerOpts{slots: 2, delay: 20 * time.Millisecond})
	tg := newTestGateway(t, nil, w)
	req, _ := http.NewRequest("POST", tg.srv.URL+"/v1/chat/completions",
		strings.NewReader(`{"model":"m1","stream":true,"max_tokens":20000,"messages":[{"role":"user","content":"repeat 20000 words"}]}`))
	req.Header.Set("Authorization", "Bearer "+testKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bufio.NewReader(resp.Body).ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	deadline := time.Now().Add(60 * time.Second) // the whole answer would take 400 s
	for {
		cancelled := testutil.ToFloat64(w.d.Metrics().OnlineRequests.WithLabelValues("cancelled"))
		if cancelled == 1 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the worker did not stop: %v online requests cancelled, want 1", cancelled)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// An app that leaves while its worker has not sent the first token is a
// cancelled request, not the worker's failure: the worker's breaker does
// not move and no retry is counted.
func TestAppLeavingBeforeFirstToken(t *testing.T) {
	held := make(chan struct{}, 1)
	w := newTestWorker(t, workerOpts{slots: 1, wrap: func(_ *testWorker, next http.Handler) http.Handler {
		return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/v1/chat/completions" {
				next.ServeHTTP(rw, r)
				return
			}
			// A stream that starts with keep-alive comments and then holds
			// its first token until the gateway goes. The comments are more
			// than the connection's buffers can hold, so once they are
			// written the gateway is reading the stream, waiting for the
			// first token.
			rw.Header().Set("Content-Type", "text/event-stream")
			rw.WriteHeader(http.StatusOK)
			line := []byte(": " + strings.Repeat("k", 1000) + "\n")
			for range 24 << 10 {
				if _, err := rw.Write(line); err != nil {
					return
				}
			}
			rw.(http.Flusher).Flush()
			held <- struct{}{}
			<-r.Context().Done()
		})
	}})
	tg := newTestGateway(t, nil, w)
	ctx, leave := context.WithCancel(t.Context())
	req, _ := http.NewRequestWithContext(ctx, "POST", tg.srv.URL+"/v1/chat/completions",
		strings.NewReader(`{"model":"m1","messages":[{"role":"user","content":"hello"}]}`))
	req.Header.Set("Authorization", "Bearer "+testKey)
	done := make(chan error, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	select {
	case <-held:
	case <-time.After(30 * time.Second):
		t.Fatal("the request never reached the worker")
	}
	leave()
	if err := <-done; err == nil {
		t.Fatal("the app got an answer after leaving")
	}
	us, _ := tg.g.workers(testModel)
	if len(us) != 1 {
		t.Fatalf("%d upstreams", len(us))
	}
	u := us[0]
	outcome := func(o string) float64 {
		return testutil.ToFloat64(tg.g.metrics.requests.WithLabelValues(u.key(), testModel, o))
	}
	wait, stop := context.WithTimeout(t.Context(), 30*time.Second)
	defer stop()
	for outcome(outcomeCancelled)+outcome(outcomeRetried) == 0 {
		select {
		case <-wait.Done():
			t.Fatal("the gateway never finished the request")
		case <-time.After(20 * time.Millisecond):
		}
	}
	u.mu.Lock()
	failures := u.failures
	u.mu.Unlock()
	if outcome(outcomeCancelled) != 1 || outcome(outcomeRetried) != 0 || failures != 0 {
		t.Fatalf("cancelled %v, retried %v, worker failures %d; want 1, 0, 0", outcome(outcomeCancelled), outcome(outcomeRetried), failures)
	}
}
