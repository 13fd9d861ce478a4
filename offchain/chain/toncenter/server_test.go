package toncenter

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// reply is one canned HTTP answer of the fake toncenter.
type reply struct {
	status int // 0 means 200
	body   string
	header map[string]string
	hangup bool // close the connection without an answer
}

// recorded is one request the fake toncenter received.
type recorded struct {
	Method string
	Params map[string]json.RawMessage
	APIKey string
	Raw    map[string]json.RawMessage
}

// fakeToncenter answers JSON-RPC requests with canned replies, per method,
// in order; the last reply of a method is repeated once the others are used.
type fakeToncenter struct {
	t       *testing.T
	mu      sync.Mutex
	replies map[string][]reply
	reqs    []recorded
	srv     *httptest.Server
}

func newFake(t *testing.T, replies map[string][]reply) *fakeToncenter {
	t.Helper()
	f := &fakeToncenter{t: t, replies: replies}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeToncenter) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/api/v2/jsonRPC" {
		f.t.Errorf("unexpected request %s %s", r.Method, r.URL.Path)
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	body, _ := io.ReadAll(r.Body)
	var req struct {
		ID      json.RawMessage            `json:"id"`
		JSONRPC string                     `json:"jsonrpc"`
		Method  string                     `json:"method"`
		Params  map[string]json.RawMessage `json:"params"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		f.t.Errorf("request is not JSON: %v: %s", err, body)
	}
	if req.JSONRPC != "2.0" || len(req.ID) == 0 {
		f.t.Errorf("request lacks jsonrpc/id: %s", body)
	}
	var raw map[string]json.RawMessage
	_ = json.Unmarshal(body, &raw)

	f.mu.Lock()
	f.reqs = append(f.reqs, recorded{Method: req.Method, Params: req.Params, APIKey: r.Header.Get("X-API-Key"), Raw: raw})
	q := f.replies[req.Method]
	var rep reply
	switch {
	case len(q) == 0:
		rep = reply{status: 404, body: `{"ok":false,"error":"method not found","code":404}`}
	case len(q) == 1:
		rep = q[0]
	default:
		rep = q[0]
		f.replies[req.Method] = q[1:]
	}
	f.mu.Unlock()

	if rep.hangup {
		if c, _, err := http.NewResponseController(w).Hijack(); err == nil {
			c.Close()
		}
		return
	}
	for k, v := range rep.header {
		w.Header().Set(k, v)
	}
	w.Header().Set("Content-Type", "application/json")
	if rep.status != 0 {
		w.WriteHeader(rep.status)
	}
	_, _ = io.WriteString(w, rep.body)
}

func (f *fakeToncenter) requests() []recorded {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]recorded(nil), f.reqs...)
}

// client returns a Client for the fake with quick retries.
func (f *fakeToncenter) client(opts ...Option) *Client {
	return New(f.srv.URL, append([]Option{WithRetry(3, time.Millisecond)}, opts...)...)
}

func ok(result string) []reply {
	return []reply{{body: `{"ok":true,"result":` + result + `}`}}
}

func param(t *testing.T, r recorded, name string) any {
	t.Helper()
	raw, present := r.Params[name]
	if !present {
		return nil
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("param %s: %v", name, err)
	}
	return v
}
