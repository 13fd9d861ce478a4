package openai

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cocoon-network/cocoon/offchain/inference"
	"github.com/google/go-cmp/cmp"
)

// secretPrompt must never show up in errors or logs.
const secretPrompt = "the secret prompt 7f3a"

func testRequest() inference.Request {
	temp := 0.5
	return inference.Request{
		Model:       "test-model",
		Messages:    []inference.Message{{Role: "user", Content: secretPrompt}},
		MaxTokens:   16,
		Temperature: &temp,
		Stop:        []string{"END"},
	}
}

// chunkJSON builds a chat.completion.chunk the way vLLM writes one.
func chunkJSON(content string, finish string) string {
	delta := map[string]any{}
	if content != "" {
		delta["content"] = content
	}
	choice := map[string]any{"index": 0, "delta": delta, "finish_reason": nil}
	if finish != "" {
		choice["finish_reason"] = finish
	}
	b, _ := json.Marshal(map[string]any{
		"id": "chatcmpl-1", "object": "chat.completion.chunk", "model": "test-model",
		"choices": []any{choice}, "usage": nil,
	})
	return string(b)
}

const (
	roleChunk  = `{"id":"chatcmpl-1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}`
	usageChunk = `{"id":"chatcmpl-1","object":"chat.completion.chunk","choices":[],"usage":{"prompt_tokens":12,"completion_tokens":3,"total_tokens":15}}`
)

// server is an httptest server whose handler writes the given raw body
// for each request, flushing after every event, and counts requests.
type server struct {
	*httptest.Server
	requests atomic.Int32
}

func newServer(t *testing.T, h func(n int32, w http.ResponseWriter, r *http.Request)) *server {
	t.Helper()
	s := &server{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h(s.requests.Add(1), w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

// writeSSE writes raw event text and flushes it.
func writeSSE(w http.ResponseWriter, raw string) {
	io.WriteString(w, raw)
	w.(http.Flusher).Flush()
}

func startSSE(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(http.StatusOK)
	w.(http.Flusher).Flush()
}

func newEngine(t *testing.T, base string, mod func(*Config)) *Engine {
	t.Helper()
	cfg := Config{
		BaseURL: base, FirstTokenTimeout: 2 * time.Second, IdleTimeout: 2 * time.Second,
		MaxAttempts: 3, Backoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond,
	}
	if mod != nil {
		mod(&cfg)
	}
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func collect(t *testing.T, e *Engine, ctx context.Context) (string, inference.Result, error) {
	t.Helper()
	s, err := e.Chat(ctx, testRequest())
	if err != nil {
		return "", inference.Result{}, err
	}
	return inference.Collect(s)
}

func TestStreamFormats(t *testing.T) {
	usage := &inference.Usage{InputTokens: 12, OutputTokens: 3}
	cases := []struct {
		name       string
		body       string
		wantText   string
		wantFinish inference.FinishReason
		wantUsage  *inference.Usage
	}{
		{
			name: "vllm with usage chunk",
			body: "data: " + roleChunk + "\n\n" +
				"data: " + chunkJSON("Hel", "") + "\n\n" +
				"data: " + chunkJSON("lo", "") + "\n\n" +
				"data: " + chunkJSON("!", "") + "\n\n" +
				"data: " + chunkJSON("", "stop") + "\n\n" +
				"data: " + usageChunk + "\n\n" +
				"data: [DONE]\n\n",
			wantText: "Hello!", wantFinish: inference.FinishStop, wantUsage: usage,
		},
		{
			name: "crlf, comments and multi-line data",
			body: ": keep-alive\r\n\r\n" +
				"data: " + chunkJSON("a", "") + "\r\n\r\n" +
				"data: {\"choices\":[{\"index\":0,\r\ndata: \"delta\":{\"content\":\"b\"}}]}\r\n\r\n" +
				": ping\r\n" +
				"data:" + chunkJSON("", "length") + "\r\n\r\n" +
				"data: " + usageChunk + "\r\n\r\n" +
				"data: [DONE]\r\n\r\n",
			wantText: "ab", wantFinish: inference.FinishLength, wantUsage: usage,
		},
		{
			name: "llama.cpp: usage and timings on the finishing chunk",
			body: "data: " + chunkJSON("x", "") + "\n\n" +
				`data: {"choices":[{"index":0,"delta":{"content":"y"},"finish_reason":"stop"}],"usage":{"prompt_tokens":12,"completion_tokens":3,"total_tokens":15},"timings":{"prompt_n":2,"predicted_n":3}}` + "\n\n" +
				"data: [DONE]\n\n",
			wantText: "xy", wantFinish: inference.FinishStop, wantUsage: usage,
		},
		{
			name: "ollama before 0.5.2: no usage",
			body: "data: " + chunkJSON("z", "") + "\n\n" +
				"data: " + chunkJSON("", "stop") + "\n\n" +
				"data: [DONE]\n\n",
			wantText: "z", wantFinish: inference.FinishStop, wantUsage: nil,
		},
		{
			name: "all-zero usage on every chunk means not counted",
			body: `data: {"choices":[{"index":0,"delta":{"content":"q"}}],"usage":{"prompt_tokens":0,"completion_tokens":0}}` + "\n\n" +
				`data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":{"prompt_tokens":0,"completion_tokens":0}}` + "\n\n" +
				"data: [DONE]\n\n",
			wantText: "q", wantFinish: inference.FinishStop, wantUsage: nil,
		},
		{
			name: "finish reason without [DONE]",
			body: "data: " + chunkJSON("w", "") + "\n\n" +
				"data: " + chunkJSON("", "stop") + "\n\n",
			wantText: "w", wantFinish: inference.FinishStop,
		},
		{
			name:     "empty answer",
			body:     "data: " + roleChunk + "\n\ndata: " + chunkJSON("", "stop") + "\n\ndata: " + usageChunk + "\n\ndata: [DONE]\n\n",
			wantText: "", wantFinish: inference.FinishStop, wantUsage: usage,
		},
		{
			name: "other choices ignored",
			body: `data: {"choices":[{"index":1,"delta":{"content":"NO"}},{"index":0,"delta":{"content":"yes"}}]}` + "\n\n" +
				"data: " + chunkJSON("", "stop") + "\n\ndata: [DONE]\n\n",
			wantText: "yes", wantFinish: inference.FinishStop,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := newServer(t, func(_ int32, w http.ResponseWriter, r *http.Request) {
				startSSE(w)
				writeSSE(w, tc.body)
			})
			text, res, err := collect(t, newEngine(t, srv.URL, nil), t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if text != tc.wantText || res.FinishReason != tc.wantFinish {
				t.Errorf("got %q finish %q, want %q finish %q", text, res.FinishReason, tc.wantText, tc.wantFinish)
			}
			if diff := cmp.Diff(tc.wantUsage, res.Usage); diff != "" {
				t.Errorf("usage (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRequestOnTheWire(t *testing.T) {
	for _, tc := range []struct {
		name, base, key, wantPath, wantAuth string
	}{
		{"root", "", "", "/v1/chat/completions", ""},
		{"trailing /v1 (Ollama style)", "/v1/", "", "/v1/chat/completions", ""},
		{"prefix and key", "/proxy", "sk-test", "/proxy/v1/chat/completions", "Bearer sk-test"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newServer(t, func(_ int32, w http.ResponseWriter, r *http.Request) {
				if r.Method != http.MethodPost || r.URL.Path != tc.wantPath {
					t.Errorf("%s %s, want POST %s", r.Method, r.URL.Path, tc.wantPath)
				}
				if got := r.Header.Get("Authorization"); got != tc.wantAuth {
					t.Errorf("Authorization %q, want %q", got, tc.wantAuth)
				}
				var body map[string]any
				if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
					t.Fatal(err)
				}
				if body["stream"] != true || body["model"] != "test-model" || body["max_tokens"] != 16.0 || body["temperature"] != 0.5 {
					t.Errorf("body %v", body)
				}
				if so, _ := body["stream_options"].(map[string]any); so["include_usage"] != true {
					t.Errorf("stream_options %v", body["stream_options"])
				}
				if _, ok := body["top_p"]; ok {
					t.Error("unset top_p sent")
				}
				if stop, _ := body["stop"].([]any); len(stop) != 1 || stop[0] != "END" {
					t.Errorf("stop %v, want [END]", body["stop"])
				}
				startSSE(w)
				writeSSE(w, "data: "+chunkJSON("ok", "stop")+"\n\ndata: [DONE]\n\n")
			})
			e := newEngine(t, srv.URL+tc.base, func(c *Config) { c.APIKey = tc.key })
			if _, _, err := collect(t, e, t.Context()); err != nil {
				t.Fatal(err)
			}
			if strings.Contains(e.Description(), "sk-test") {
				t.Error("description shows the API key")
			}
		})
	}
}

// A line over maxLine is a malformed chunk, not a broken stream.
func TestOverlongLine(t *testing.T) {
	srv := newServer(t, func(_ int32, w http.ResponseWriter, r *http.Request) {
		startSSE(w)
		writeSSE(w, "data: "+chunkJSON("fine", "")+"\n\n")
		writeSSE(w, "data: "+strings.Repeat("x", maxLine+1)+"\n\n")
	})
	s, err := newEngine(t, srv.URL, nil).Chat(t.Context(), testRequest())
	if err != nil {
		t.Fatal(err)
	}
	if text, _, err := inference.Collect(s); !errors.Is(err, ErrMalformedChunk) || text != "fine" {
		t.Fatalf("Collect = %q, %v; want the text so far and ErrMalformedChunk", text, err)
	}
}

func TestMalformedChunk(t *testing.T) {
	srv := newServer(t, func(_ int32, w http.ResponseWriter, r *http.Request) {
		startSSE(w)
		writeSSE(w, "data: "+chunkJSON("fine", "")+"\n\n")
		writeSSE(w, `data: {"choices":[{"delta":{"content":"`+secretPrompt+`"}}`+"\n\n") // unterminated
	})
	s, err := newEngine(t, srv.URL, nil).Chat(t.Context(), testRequest())
	if err != nil {
		t.Fatal(err)
	}
	text, _, err := inference.Collect(s)
	if !errors.Is(err, ErrMalformedChunk) {
		t.Fatalf("err = %v, want ErrMalformedChunk", err)
	}
	if text != "fine" {
		t.Errorf("partial text %q", text)
	}
	if strings.Contains(err.Error(), secretPrompt) {
		t.Errorf("error quotes the chunk: %v", err)
	}
	if srv.requests.Load() != 1 {
		t.Errorf("%d requests; a malformed chunk must not be retried", srv.requests.Load())
	}
}

func TestInStreamError(t *testing.T) {
	cases := []struct {
		name     string
		before   string // events before the error
		errEvent string
		wantText string
		atChat   bool
		wantType string
		wantMsg  string
		wantCode string
	}{
		{
			name:     "vllm error object mid-stream",
			before:   "data: " + chunkJSON("par", "") + "\n\ndata: " + chunkJSON("tial", "") + "\n\n",
			errEvent: `data: {"error":{"object":"error","message":"engine died: ` + secretPrompt + `","type":"InternalServerError","param":null,"code":500}}` + "\n\n",
			wantText: "partial", wantType: "InternalServerError", wantCode: "500", wantMsg: "engine died: " + secretPrompt,
		},
		{
			name:     "older vllm top-level error before any token",
			errEvent: `data: {"object":"error","message":"This model's maximum context length is 8 tokens","type":"BadRequestError","code":400}` + "\n\n",
			atChat:   true, wantType: "BadRequestError", wantMsg: "This model's maximum context length is 8 tokens",
		},
		{
			name:     "llama.cpp error object",
			before:   "data: " + chunkJSON("a", "") + "\n\n",
			errEvent: `data: {"error":{"code":500,"message":"failed to decode","type":"server_error"}}` + "\n\n",
			wantText: "a", wantType: "server_error", wantCode: "500", wantMsg: "failed to decode",
		},
		{
			name:     "event: error with a bare string",
			before:   "data: " + chunkJSON("a", "") + "\n\n",
			errEvent: "event: error\ndata: \"overloaded\"\n\n",
			wantText: "a", wantMsg: "overloaded",
		},
		{
			name:     "error type that is not an identifier is dropped",
			errEvent: `data: {"error":{"message":"m","type":"` + secretPrompt + `"}}` + "\n\n",
			atChat:   true, wantMsg: "m",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := newServer(t, func(_ int32, w http.ResponseWriter, r *http.Request) {
				startSSE(w)
				writeSSE(w, "data: "+roleChunk+"\n\n"+tc.before+tc.errEvent)
			})
			s, err := newEngine(t, srv.URL, nil).Chat(t.Context(), testRequest())
			var text string
			if err == nil {
				if tc.atChat {
					t.Fatal("Chat succeeded; the error came before any token")
				}
				text, _, err = inference.Collect(s)
			}
			var be *BackendError
			if !errors.As(err, &be) {
				t.Fatalf("err = %v, want *BackendError", err)
			}
			if text != tc.wantText || be.Type != tc.wantType || be.Code != tc.wantCode || be.Message != tc.wantMsg {
				t.Errorf("text %q, error %+v; want %q, type %q code %q msg %q", text, be, tc.wantText, tc.wantType, tc.wantCode, tc.wantMsg)
			}
			if strings.Contains(err.Error(), secretPrompt) {
				t.Errorf("Error() shows the backend message: %v", err)
			}
			if srv.requests.Load() != 1 {
				t.Errorf("%d requests; in-stream errors are not retried", srv.requests.Load())
			}
		})
	}
}

// abort kills the connection without ending the chunked body, as a
// crashing backend does.
func abort() { panic(http.ErrAbortHandler) }

func TestBackendDiesMidStream(t *testing.T) {
	srv := newServer(t, func(_ int32, w http.ResponseWriter, r *http.Request) {
		startSSE(w)
		writeSSE(w, "data: "+chunkJSON("one ", "")+"\n\ndata: "+chunkJSON("two", "")+"\n\n")
		abort()
	})
	s, err := newEngine(t, srv.URL, nil).Chat(t.Context(), testRequest())
	if err != nil {
		t.Fatal(err)
	}
	text, _, err := inference.Collect(s)
	if !errors.Is(err, ErrStreamBroken) {
		t.Fatalf("err = %v, want ErrStreamBroken", err)
	}
	if text != "one two" {
		t.Errorf("partial output %q", text)
	}
	if n := srv.requests.Load(); n != 1 {
		t.Errorf("%d requests: retried after the first token", n)
	}
}

func TestCleanCloseWithoutDone(t *testing.T) {
	srv := newServer(t, func(_ int32, w http.ResponseWriter, r *http.Request) {
		startSSE(w)
		writeSSE(w, "data: "+chunkJSON("cut", "")+"\n\n")
	})
	_, _, err := collect(t, newEngine(t, srv.URL, nil), t.Context())
	if !errors.Is(err, ErrStreamBroken) {
		t.Fatalf("err = %v, want ErrStreamBroken", err)
	}
}

func TestRetryBeforeFirstToken(t *testing.T) {
	cases := []struct {
		name         string
		failures     int32 // requests that fail before the stream succeeds
		fail         func(w http.ResponseWriter)
		attempts     int
		wantErr      func(error) bool
		wantRequests int32
	}{
		{
			name: "503 then success", failures: 2, attempts: 3,
			fail: func(w http.ResponseWriter) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusServiceUnavailable)
				io.WriteString(w, `{"error":{"message":"loading model","type":"ServiceUnavailable"}}`)
			},
			wantRequests: 3,
		},
		{
			name: "503 every time", failures: 99, attempts: 3,
			fail:         func(w http.ResponseWriter) { w.WriteHeader(http.StatusServiceUnavailable) },
			wantErr:      func(err error) bool { var se *StatusError; return errors.As(err, &se) && se.StatusCode == 503 },
			wantRequests: 3,
		},
		{
			name: "429 then success", failures: 1, attempts: 3,
			fail:         func(w http.ResponseWriter) { w.WriteHeader(http.StatusTooManyRequests) },
			wantRequests: 2,
		},
		{
			name: "400 is not retried", failures: 99, attempts: 3,
			fail: func(w http.ResponseWriter) {
				w.WriteHeader(http.StatusBadRequest)
				io.WriteString(w, `{"object":"error","message":"bad: `+secretPrompt+`","type":"BadRequestError","code":400}`)
			},
			wantErr: func(err error) bool {
				var se *StatusError
				return errors.As(err, &se) && se.StatusCode == 400 && se.Message == "bad: "+secretPrompt && !strings.Contains(err.Error(), secretPrompt)
			},
			wantRequests: 1,
		},
		{
			name: "404 is not retried", failures: 99, attempts: 3,
			fail: func(w http.ResponseWriter) { http.NotFound(w, nil) },
			wantErr: func(err error) bool {
				var se *StatusError
				return errors.As(err, &se) && se.StatusCode == 404 && se.Message == "non-JSON error body of 19 bytes"
			},
			wantRequests: 1,
		},
		{
			name: "dies after the role chunk, before any text", failures: 1, attempts: 3,
			fail: func(w http.ResponseWriter) {
				startSSE(w)
				writeSSE(w, "data: "+roleChunk+"\n\n")
				abort()
			},
			wantRequests: 2,
		},
		{
			name: "200 with JSON instead of a stream", failures: 99, attempts: 3,
			fail: func(w http.ResponseWriter) {
				w.Header().Set("Content-Type", "application/json")
				io.WriteString(w, `{"error":{"message":"streaming disabled"}}`)
			},
			wantErr: func(err error) bool {
				var be *BackendError
				return errors.As(err, &be) && be.Message == "streaming disabled"
			},
			wantRequests: 1,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := newServer(t, func(n int32, w http.ResponseWriter, r *http.Request) {
				if n <= tc.failures {
					tc.fail(w)
					return
				}
				startSSE(w)
				writeSSE(w, "data: "+chunkJSON("ok", "stop")+"\n\ndata: [DONE]\n\n")
			})
			text, _, err := collect(t, newEngine(t, srv.URL, func(c *Config) { c.MaxAttempts = tc.attempts }), t.Context())
			if tc.wantErr == nil {
				if err != nil || text != "ok" {
					t.Fatalf("got %q, %v; want ok", text, err)
				}
			} else if !tc.wantErr(err) {
				t.Fatalf("unexpected error %v", err)
			}
			if n := srv.requests.Load(); n != tc.wantRequests {
				t.Errorf("%d requests, want %d", n, tc.wantRequests)
			}
		})
	}
}

func TestUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	_, _, err = collect(t, newEngine(t, "http://"+addr, func(c *Config) { c.MaxAttempts = 2 }), t.Context())
	if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "after 2 attempts") {
		t.Fatalf("err = %v, want ErrUnavailable after 2 attempts", err)
	}
}

func TestFirstTokenTimeout(t *testing.T) {
	srv := newServer(t, func(_ int32, w http.ResponseWriter, r *http.Request) {
		startSSE(w)
		writeSSE(w, "data: "+roleChunk+"\n\n: still thinking\n\n") // activity, but no text
		<-r.Context().Done()
	})
	start := time.Now()
	_, _, err := collect(t, newEngine(t, srv.URL, func(c *Config) {
		c.FirstTokenTimeout = 150 * time.Millisecond
		c.MaxAttempts = 2
	}), t.Context())
	if !errors.Is(err, ErrFirstTokenTimeout) {
		t.Fatalf("err = %v, want ErrFirstTokenTimeout", err)
	}
	if n := srv.requests.Load(); n != 2 {
		t.Errorf("%d requests, want 2 (a first-token timeout is retried)", n)
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Errorf("took %s", el)
	}
}

func TestIdleTimeout(t *testing.T) {
	srv := newServer(t, func(_ int32, w http.ResponseWriter, r *http.Request) {
		startSSE(w)
		writeSSE(w, "data: "+chunkJSON("one", "")+"\n\n")
		<-r.Context().Done()
	})
	text, _, err := collect(t, newEngine(t, srv.URL, func(c *Config) { c.IdleTimeout = 150 * time.Millisecond }), t.Context())
	if !errors.Is(err, ErrIdleTimeout) || text != "one" {
		t.Fatalf("got %q, %v; want partial text and ErrIdleTimeout", text, err)
	}
	if n := srv.requests.Load(); n != 1 {
		t.Errorf("%d requests: retried after the first token", n)
	}
}

// TestSlowReaderIsNotIdle: time the caller spends between Next calls is
// not backend silence.
func TestSlowReaderIsNotIdle(t *testing.T) {
	srv := newServer(t, func(_ int32, w http.ResponseWriter, r *http.Request) {
		startSSE(w)
		writeSSE(w, "data: "+chunkJSON("a", "")+"\n\ndata: "+chunkJSON("b", "")+"\n\ndata: "+chunkJSON("", "stop")+"\n\ndata: [DONE]\n\n")
	})
	s, err := newEngine(t, srv.URL, func(c *Config) { c.IdleTimeout = 100 * time.Millisecond }).Chat(t.Context(), testRequest())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var got strings.Builder
	for {
		d, err := s.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("after %q: %v", got.String(), err)
		}
		got.WriteString(d)
		time.Sleep(250 * time.Millisecond)
	}
	if got.String() != "ab" {
		t.Errorf("got %q", got.String())
	}
}

func TestContextCancel(t *testing.T) {
	t.Run("mid-stream", func(t *testing.T) {
		srv := newServer(t, func(_ int32, w http.ResponseWriter, r *http.Request) {
			startSSE(w)
			writeSSE(w, "data: "+chunkJSON("one", "")+"\n\n")
			<-r.Context().Done()
		})
		ctx, cancel := context.WithCancel(t.Context())
		s, err := newEngine(t, srv.URL, nil).Chat(ctx, testRequest())
		if err != nil {
			t.Fatal(err)
		}
		if d, err := s.Next(); err != nil || d != "one" {
			t.Fatalf("first delta %q, %v", d, err)
		}
		time.AfterFunc(50*time.Millisecond, cancel)
		start := time.Now()
		if _, err := s.Next(); !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
		if el := time.Since(start); el > time.Second {
			t.Errorf("cancel took %s", el)
		}
		if _, err := s.Next(); !errors.Is(err, context.Canceled) {
			t.Errorf("the error is not sticky: %v", err)
		}
	})
	t.Run("before the first token: no retry", func(t *testing.T) {
		srv := newServer(t, func(_ int32, w http.ResponseWriter, r *http.Request) {
			startSSE(w)
			<-r.Context().Done()
		})
		ctx, cancel := context.WithCancel(t.Context())
		time.AfterFunc(50*time.Millisecond, cancel)
		_, err := newEngine(t, srv.URL, nil).Chat(ctx, testRequest())
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
		if n := srv.requests.Load(); n != 1 {
			t.Errorf("%d requests after cancel", n)
		}
	})
	t.Run("during backoff", func(t *testing.T) {
		srv := newServer(t, func(_ int32, w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusServiceUnavailable)
		})
		ctx, cancel := context.WithCancel(t.Context())
		time.AfterFunc(50*time.Millisecond, cancel)
		_, err := newEngine(t, srv.URL, func(c *Config) { c.Backoff, c.MaxBackoff = time.Minute, time.Minute }).Chat(ctx, testRequest())
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
	})
}

// TestRetryLogsNoContent: the retry warning carries the attempt and error,
// never the prompt.
func TestRetryLogsNoContent(t *testing.T) {
	srv := newServer(t, func(n int32, w http.ResponseWriter, r *http.Request) {
		if n == 1 {
			w.WriteHeader(http.StatusBadGateway)
			io.WriteString(w, `{"error":"upstream said `+secretPrompt+`"}`)
			return
		}
		startSSE(w)
		writeSSE(w, "data: "+chunkJSON(secretPrompt, "stop")+"\n\ndata: [DONE]\n\n")
	})
	var logs bytes.Buffer
	e := newEngine(t, srv.URL, func(c *Config) {
		c.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	if _, _, err := collect(t, e, t.Context()); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "retrying") || !strings.Contains(logs.String(), "HTTP 502") {
		t.Errorf("no retry warning logged: %s", logs.String())
	}
	if strings.Contains(logs.String(), secretPrompt) {
		t.Errorf("log holds request or answer content: %s", logs.String())
	}
}

func TestNewConfig(t *testing.T) {
	for _, tc := range []struct {
		base    string
		wantErr bool
		wantURL string
	}{
		{"http://127.0.0.1:8000", false, "http://127.0.0.1:8000/v1/chat/completions"},
		{"http://localhost:11434/v1", false, "http://localhost:11434/v1/chat/completions"},
		{"https://user:pw@gpu.internal/llm/", false, "https://user:pw@gpu.internal/llm/v1/chat/completions"},
		{"127.0.0.1:8000", true, ""},
		{"ftp://host", true, ""},
		{"http://host/?x=1", true, ""},
		{"", true, ""},
	} {
		e, err := New(Config{BaseURL: tc.base})
		if (err != nil) != tc.wantErr {
			t.Errorf("New(%q) err = %v", tc.base, err)
			continue
		}
		if err == nil && e.endpoint != tc.wantURL {
			t.Errorf("New(%q) endpoint %q, want %q", tc.base, e.endpoint, tc.wantURL)
		}
		if err == nil && strings.Contains(e.Description(), "pw") {
			t.Errorf("Description shows the URL password: %s", e.Description())
		}
	}
	e := newEngine(t, "http://x", nil)
	if _, err := e.Chat(t.Context(), inference.Request{Model: "m"}); err == nil {
		t.Error("invalid request accepted")
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"3", 3 * time.Second},
		{" 10 ", 10 * time.Second},
		{"-1", 0},
		{"soon", 0},
		{now.Add(7 * time.Second).Format(http.TimeFormat), 7 * time.Second},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0},
	} {
		if got := parseRetryAfter(tc.in, now); got != tc.want {
			t.Errorf("parseRetryAfter(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

func TestBackoff(t *testing.T) {
	e := newEngine(t, "http://x", func(c *Config) { c.Backoff, c.MaxBackoff = 100*time.Millisecond, 300*time.Millisecond })
	for _, tc := range []struct {
		attempt  int
		err      error
		min, max time.Duration
	}{
		{1, ErrUnavailable, 50 * time.Millisecond, 100 * time.Millisecond},
		{2, ErrUnavailable, 100 * time.Millisecond, 200 * time.Millisecond},
		{5, ErrUnavailable, 150 * time.Millisecond, 300 * time.Millisecond},
		{1, &StatusError{StatusCode: 503, RetryAfter: 2 * time.Second}, 2 * time.Second, 2 * time.Second},
		{1, &StatusError{StatusCode: 503, RetryAfter: time.Hour}, maxRetryAfter, maxRetryAfter},
	} {
		for range 20 {
			if d := e.wait(tc.attempt, tc.err); d < tc.min || d > tc.max {
				t.Errorf("wait(%d, %v) = %s, want within [%s, %s]", tc.attempt, tc.err, d, tc.min, tc.max)
				break
			}
		}
	}
}

func ExampleEngine() {
	e, err := New(Config{BaseURL: "http://127.0.0.1:8000"})
	if err != nil {
		panic(err)
	}
	fmt.Println(e.Name(), "-", e.Description())
	// Output: openai - OpenAI-compatible HTTP engine at http://127.0.0.1:8000
}
