package worker

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/cocoon-network/cocoon/bindings"
	"github.com/cocoon-network/cocoon/offchain/inference/reference"
	"github.com/cocoon-network/cocoon/offchain/onlineproto"
	"github.com/cocoon-network/cocoon/offchain/seal"
)

// onlineWorker is a daemon's HTTP handler with the reference engine, no
// chain (the online endpoint needs none), and a payer key.
type onlineWorker struct {
	d     *Daemon
	srv   *httptest.Server
	payer ed25519.PrivateKey
}

func newOnlineWorker(t *testing.T, credit string, slots, queue int, delay time.Duration) *onlineWorker {
	t.Helper()
	id, err := InitIdentity(context.Background(), t.TempDir(), seal.SuiteX25519)
	if err != nil {
		t.Fatal(err)
	}
	cfg := &Config{
		Network: "devnet", Root: "0:" + strings.Repeat("11", 32), Owner: "0:" + strings.Repeat("22", 32),
		MaxConcurrent: slots, Models: []ModelConfig{{Name: "m1", PriceIn: "0.5", PriceOut: "1.5"}},
		Online: OnlineConfig{Credit: credit, Queue: queue, Payments: PaymentsIOU},
	}
	cfg.applyDefaults()
	if queue == 0 {
		cfg.Online.Queue = 0
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	d, err := New(cfg, id, Options{Engine: reference.New(reference.Config{TokenDelay: delay})})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(d.Handler())
	t.Cleanup(srv.Close)
	_, payer, _ := ed25519.GenerateKey(rand.Reader)
	return &onlineWorker{d: d, srv: srv, payer: payer}
}

func (w *onlineWorker) payerID() string {
	return hex.EncodeToString(w.payer.Public().(ed25519.PublicKey))
}

func (w *onlineWorker) post(t *testing.T, body string, voucher *big.Int, headers map[string]string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, w.srv.URL+"/v1/chat/completions", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(onlineproto.HeaderPayer, w.payerID())
	req.Header.Set(onlineproto.HeaderRequestID, "r-1")
	if voucher != nil {
		v, err := onlineproto.SignIOU(w.payer, w.d.Address(), voucher)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set(onlineproto.HeaderVoucher, onlineproto.EncodeVoucher(v))
	}
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

func (w *onlineWorker) workerKey() ed25519.PublicKey {
	return w.d.id.SignKey.Public().(ed25519.PublicKey)
}

func TestOnlineNonStreamSignsUsage(t *testing.T) {
	w := newOnlineWorker(t, "0.1", 2, 4, 0)
	resp := w.post(t, `{"model":"m1","messages":[{"role":"user","content":"hello there world"}],"max_tokens":5,"user":"alice","metadata":{"x":1}}`, nil, nil)
	if resp.StatusCode != 200 {
		t.Fatalf("HTTP %d", resp.StatusCode)
	}
	var out struct {
		Object  string `json:"object"`
		Choices []struct {
			Message struct{ Content string } `json:"message"`
			Finish  string                   `json:"finish_reason"`
		} `json:"choices"`
		Usage struct {
			PromptTokens     int `json:"prompt_tokens"`
			CompletionTokens int `json:"completion_tokens"`
		} `json:"usage"`
		Cocoon onlineproto.CocoonExtension `json:"cocoon"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	if out.Object != "chat.completion" || len(out.Choices) != 1 || out.Choices[0].Finish != "length" {
		t.Fatalf("answer %+v", out)
	}
	u, err := out.Cocoon.Usage.Open(w.workerKey())
	if err != nil {
		t.Fatal(err)
	}
	wantCost := bindings.Charge(big.NewInt(5e8), big.NewInt(15e8), 3, 5)
	if u.InputTokens != 3 || u.OutputTokens != 5 || u.MaxTokens != 5 || u.RequestID != "r-1" || u.Payer != w.payerID() ||
		u.Cost != wantCost.String() || u.Total != wantCost.String() || u.Worker != w.d.Address().StringRaw() {
		t.Fatalf("usage %+v, want cost %s", u, wantCost)
	}
	if out.Usage.PromptTokens != 3 || out.Usage.CompletionTokens != 5 {
		t.Fatalf("usage in the answer %+v", out.Usage)
	}
	// A tampered receipt does not open.
	bad := *out.Cocoon.Usage
	bad.Receipt = []byte(strings.Replace(string(bad.Receipt), `"output_tokens":5`, `"output_tokens":6`, 1))
	if _, err := bad.Open(w.workerKey()); err == nil {
		t.Fatal("a tampered receipt opened")
	}
	sc, err := onlineproto.ParseCapacityHeader(resp.Header.Get(onlineproto.HeaderCapacity))
	if err != nil {
		t.Fatal(err)
	}
	c, err := sc.Open(w.workerKey())
	if err != nil {
		t.Fatal(err)
	}
	if c.Slots != 2 || c.Prices["m1"].In != "500000000" {
		t.Fatalf("capacity %+v", c)
	}
}

func TestOnlineStreamEndsWithUsageChunk(t *testing.T) {
	w := newOnlineWorker(t, "0.1", 2, 4, 0)
	resp := w.post(t, `{"model":"m1","stream":true,"messages":[{"role":"user","content":[{"type":"text","text":"repeat 7 words"}]}]}`, nil, nil)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("HTTP %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var events []string
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if line, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
			events = append(events, line)
		}
	}
	if len(events) != 7+1+1+1 || events[len(events)-1] != "[DONE]" {
		t.Fatalf("%d events: %q", len(events), events)
	}
	var last struct {
		Choices []any                       `json:"choices"`
		Cocoon  onlineproto.CocoonExtension `json:"cocoon"`
	}
	if err := json.Unmarshal([]byte(events[len(events)-2]), &last); err != nil {
		t.Fatal(err)
	}
	u, err := last.Cocoon.Usage.Open(w.workerKey())
	if err != nil || len(last.Choices) != 0 || u.OutputTokens != 7 {
		t.Fatalf("usage chunk %+v %+v: %v", last, u, err)
	}
}

func TestOnlineRefusals(t *testing.T) {
	w := newOnlineWorker(t, "0.01", 1, 0, 0)
	ok := `{"model":"m1","messages":[{"role":"user","content":"hi"}]}`
	other := newOnlineWorker(t, "0.1", 1, 0, 0)
	otherIOU, _ := onlineproto.SignIOU(w.payer, other.d.Address(), big.NewInt(1))
	for _, tc := range []struct {
		name    string
		body    string
		headers map[string]string
		status  int
		code    string
	}{
		{"no payer", ok, map[string]string{onlineproto.HeaderPayer: ""}, 402, "payer_required"},
		{"bad json", `{"model":`, nil, 400, "invalid_json"},
		{"unknown model", `{"model":"nope","messages":[{"role":"user","content":"hi"}]}`, nil, 404, "model_not_found"},
		{"no messages", `{"model":"m1","messages":[]}`, nil, 400, "missing_messages"},
		{"image part", `{"model":"m1","messages":[{"role":"user","content":[{"type":"image_url"}]}]}`, nil, 400, "invalid_content"},
		{"max tokens", `{"model":"m1","max_tokens":0,"messages":[{"role":"user","content":"hi"}]}`, nil, 400, "invalid_max_tokens"},
		{"garbage voucher", ok, map[string]string{onlineproto.HeaderVoucher: "!!"}, 400, "bad_voucher"},
		{"voucher for another worker", ok, map[string]string{onlineproto.HeaderVoucher: onlineproto.EncodeVoucher(otherIOU)}, 402, "bad_voucher"},
		{"over credit", `{"model":"m1","max_tokens":32768,"messages":[{"role":"user","content":"hi"}]}`, nil, 402, "insufficient_credit"},
		{"body too large", `{"model":"m1","messages":[{"role":"user","content":"` + strings.Repeat("a", MaxOnlineBody) + `"}]}`, nil, 413, "request_too_large"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := w.post(t, tc.body, nil, tc.headers)
			var e struct {
				Error struct{ Message, Type, Code string } `json:"error"`
			}
			if err := json.NewDecoder(resp.Body).Decode(&e); err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tc.status || e.Error.Code != tc.code || e.Error.Message == "" {
				t.Fatalf("HTTP %d %+v, want %d %s", resp.StatusCode, e.Error, tc.status, tc.code)
			}
		})
	}
}

// The worker's exposure to a payer is bounded: without vouchers it serves
// until the unpaid usage plus the next request's maximum passes the
// credit, and a voucher covering the usage opens it again.
func TestOnlineCreditBound(t *testing.T) {
	w := newOnlineWorker(t, "0.0002", 1, 0, 0) // 200000 nanoton
	body := `{"model":"m1","max_tokens":10,"messages":[{"role":"user","content":"a b c"}]}`
	// Max cost: in ≤ 5+16+256 = 277 tokens × 500 + 10 × 1500 = 153500 nanoton.
	served := 0
	for range 10 {
		resp := w.post(t, body, nil, nil)
		if resp.StatusCode == 402 {
			break
		}
		if resp.StatusCode != 200 {
			t.Fatalf("HTTP %d", resp.StatusCode)
		}
		served++
	}
	charged, paid := w.d.Ledger().Balance(w.payerID())
	// Each request costs 3×500 + 8×1500 = 13500 (the answer has 8 words):
	// after three, 40500 + 153500 ≤ 200000; after four, 54000 + 153500 > 200000.
	if served != 4 || charged.Int64() != 54000 || paid.Sign() != 0 {
		t.Fatalf("served %d, charged %s, paid %s", served, charged, paid)
	}
	if resp := w.post(t, body, big.NewInt(54000), nil); resp.StatusCode != 200 {
		t.Fatalf("after paying: HTTP %d", resp.StatusCode)
	}
	// A forged voucher (signed by another key for this payer) is refused.
	_, forger, _ := ed25519.GenerateKey(rand.Reader)
	v, _ := onlineproto.SignIOU(forger, w.d.Address(), big.NewInt(1e9))
	if resp := w.post(t, body, nil, map[string]string{onlineproto.HeaderVoucher: onlineproto.EncodeVoucher(v)}); resp.StatusCode != 402 {
		t.Fatalf("forged voucher: HTTP %d", resp.StatusCode)
	}
}

func TestOnlineBusyIs429(t *testing.T) {
	w := newOnlineWorker(t, "1", 1, 0, 50*time.Millisecond)
	slow := make(chan int)
	go func() {
		req, _ := http.NewRequest(http.MethodPost, w.srv.URL+"/v1/chat/completions",
			strings.NewReader(`{"model":"m1","max_tokens":40,"messages":[{"role":"user","content":"repeat 40 words"}]}`))
		req.Header.Set(onlineproto.HeaderPayer, w.payerID())
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			slow <- 0
			return
		}
		resp.Body.Close()
		slow <- resp.StatusCode
	}()
	// Wait until the slow request holds the only slot.
	for len(w.d.online.slots) == 0 {
		time.Sleep(5 * time.Millisecond)
	}
	resp := w.post(t, `{"model":"m1","messages":[{"role":"user","content":"hi"}]}`, nil, nil)
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" || resp.Header.Get(onlineproto.HeaderCapacity) == "" {
		t.Fatalf("HTTP %d, Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if code := <-slow; code != 200 {
		t.Fatalf("the slow request: HTTP %d", code)
	}
}

func TestIOURoundTrip(t *testing.T) {
	w := newOnlineWorker(t, "1", 1, 0, 0)
	v := &IOUVerifier{Worker: w.d.Address()}
	iou, err := onlineproto.SignIOU(w.payer, w.d.Address(), big.NewInt(123456789))
	if err != nil {
		t.Fatal(err)
	}
	amt, err := v.Verify(context.Background(), w.payerID(), iou)
	if err != nil || amt.Int64() != 123456789 {
		t.Fatalf("%v %v", amt, err)
	}
	iou[70] ^= 1
	if _, err := v.Verify(context.Background(), w.payerID(), iou); err == nil {
		t.Fatal("a changed amount verified")
	}
	if _, err := v.Verify(context.Background(), w.payerID(), iou[:10]); err == nil {
		t.Fatal("a short IOU verified")
	}
}

func TestAppendJSONString(t *testing.T) {
	for _, s := range []string{"", "plain", `quote " and \ backslash`, "line\nfeed\r\ttab", "\x00\x01\x1f", "ünïcødé 🚀", "\u2028\u2029", "bad \xff utf8"} {
		var back string
		b := onlineproto.AppendJSONString(nil, s)
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("%q → %s: %v", s, b, err)
		}
		want := strings.ToValidUTF8(s, "\ufffd")
		if back != want {
			t.Fatalf("%q → %s → %q", s, b, back)
		}
	}
	c := &onlineproto.Completion{ID: "id\"1", Model: "m", Created: 7}
	for _, chunk := range [][]byte{
		c.AppendChunk(nil, "hi", true, ""), c.AppendChunk(nil, "", true, ""), c.AppendChunk(nil, "", false, "stop"),
		c.AppendUsageChunk(nil, 1, 2, nil), c.AppendUsageChunk(nil, 1, 2, []byte(`{"usage":null}`)),
	} {
		data, ok := strings.CutPrefix(string(chunk), "data: ")
		var v map[string]any
		if !ok || !strings.HasSuffix(data, "\n\n") || json.Unmarshal([]byte(data), &v) != nil || v["id"] != "id\"1" {
			t.Fatalf("chunk %q", chunk)
		}
	}
}
