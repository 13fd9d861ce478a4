package inference_test

import (
	"encoding/json"
	"errors"
	"io"
	"math"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cocoon-network/cocoon/offchain/inference"
)

func ptr[T any](v T) *T { return &v }

func validRequest() inference.Request {
	return inference.Request{
		Model:     "llama-3.1-8b",
		Messages:  []inference.Message{{Role: "system", Content: "be brief"}, {Role: "user", Content: "hi"}},
		MaxTokens: 32,
	}
}

func TestRequestValidate(t *testing.T) {
	cases := []struct {
		name string
		mod  func(*inference.Request)
		ok   bool
	}{
		{"valid", func(*inference.Request) {}, true},
		{"with sampling", func(r *inference.Request) { r.Temperature, r.TopP, r.Seed = ptr(0.0), ptr(1.0), ptr(int64(-3)) }, true},
		{"no model", func(r *inference.Request) { r.Model = " " }, false},
		{"no messages", func(r *inference.Request) { r.Messages = nil }, false},
		{"zero max tokens", func(r *inference.Request) { r.MaxTokens = 0 }, false},
		{"negative max tokens", func(r *inference.Request) { r.MaxTokens = -1 }, false},
		{"temperature too high", func(r *inference.Request) { r.Temperature = ptr(2.5) }, false},
		{"temperature NaN", func(r *inference.Request) { r.Temperature = ptr(math.NaN()) }, false},
		{"top_p zero", func(r *inference.Request) { r.TopP = ptr(0.0) }, false},
		{"top_p above one", func(r *inference.Request) { r.TopP = ptr(1.1) }, false},
		{"message without role", func(r *inference.Request) { r.Messages[1].Role = "" }, false},
		{"every OpenAI role", func(r *inference.Request) {
			for _, role := range []string{"system", "developer", "user", "assistant", "tool", "function"} {
				r.Messages = append(r.Messages, inference.Message{Role: role, Content: "x"})
			}
		}, true},
		{"a role of the app's own", func(r *inference.Request) { r.Messages[1].Role = "wizard" }, false},
		{"a huge role", func(r *inference.Request) { r.Messages[0].Role = strings.Repeat("system", 100_000) }, false},
		{"a role in capitals", func(r *inference.Request) { r.Messages[0].Role = "User" }, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := validRequest()
			tc.mod(&r)
			if err := r.Validate(); (err == nil) != tc.ok {
				t.Errorf("Validate() = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

func TestChatRequestRoundTrip(t *testing.T) {
	in := inference.ChatRequest{
		V: 1, Model: "llama-3.1-8b",
		Messages:  []inference.Message{{Role: "user", Content: "héllo \"quoted\"\n"}},
		MaxTokens: 100, Temperature: ptr(0.7), Seed: ptr(int64(7)),
		ResultKey: []byte{1, 2, 3, 255},
	}
	b, err := in.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	out, err := inference.ParseChatRequest(b)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := out.Marshal()
	if string(again) != string(b) {
		t.Errorf("round trip changed the encoding:\n%s\n%s", b, again)
	}
	r := out.Request()
	want := inference.Request{Model: in.Model, Messages: in.Messages, MaxTokens: 100, Temperature: ptr(0.7), Seed: ptr(int64(7))}
	if diff := cmp.Diff(want, r); diff != "" {
		t.Errorf("Request() (-want +got):\n%s", diff)
	}
	// The documented example parses.
	doc := `{"v":1,"model":"llama-3.1-8b","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"What is TON?"}],"max_tokens":256,"temperature":0.7,"result_key":"AQ=="}`
	if _, err := inference.ParseChatRequest([]byte(doc)); err != nil {
		t.Errorf("documented example: %v", err)
	}
}

func TestParseChatRequestRejects(t *testing.T) {
	base := `"model":"m","messages":[{"role":"user","content":"x"}],"max_tokens":5,"result_key":"AQ=="`
	for name, in := range map[string]string{
		"wrong version":          `{"v":2,` + base + `}`,
		"no version":             `{` + base + `}`,
		"unknown field":          `{"v":1,` + base + `,"tools":[]}`,
		"trailing data":          `{"v":1,` + base + `} {}`,
		"no result key":          `{"v":1,"model":"m","messages":[{"role":"user","content":"x"}],"max_tokens":5}`,
		"bad result key":         `{"v":1,"model":"m","messages":[{"role":"user","content":"x"}],"max_tokens":5,"result_key":"!!"}`,
		"invalid engine request": `{"v":1,"model":"m","messages":[],"max_tokens":5,"result_key":"AQ=="}`,
		"not JSON":               `v=1`,
		"empty":                  ``,
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := inference.ParseChatRequest([]byte(in)); err == nil {
				t.Error("accepted")
			}
		})
	}
	if _, err := (&inference.ChatRequest{V: 1}).Marshal(); err == nil {
		t.Error("Marshal accepted an invalid request")
	}
}

func TestChatResult(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   inference.ChatResult
		json string
	}{
		{
			"complete",
			inference.ChatResult{V: 1, Content: "TON is a blockchain.", FinishReason: inference.FinishStop, Usage: &inference.Usage{InputTokens: 21, OutputTokens: 6}},
			`{"v":1,"content":"TON is a blockchain.","finish_reason":"stop","usage":{"input_tokens":21,"output_tokens":6}}`,
		},
		{
			"usage unknown",
			inference.ChatResult{V: 1, Content: "x", FinishReason: inference.FinishLength},
			`{"v":1,"content":"x","finish_reason":"length","usage":null}`,
		},
		{
			"engine failed mid-answer",
			inference.ChatResult{V: 1, Content: "TON is", Usage: nil, Error: &inference.ResultError{Code: inference.CodeEngineFailed, Message: "stream ended early"}},
			`{"v":1,"content":"TON is","usage":null,"error":{"code":"engine_failed","message":"stream ended early"}}`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := tc.in.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != tc.json {
				t.Errorf("encoding\n %s\nwant\n %s", b, tc.json)
			}
			back, err := inference.ParseChatResult(b)
			if err != nil {
				t.Fatal(err)
			}
			b2, _ := json.Marshal(back)
			if string(b2) != tc.json {
				t.Errorf("round trip %s", b2)
			}
		})
	}
	for name, in := range map[string]string{
		"wrong version":   `{"v":0,"content":"x","usage":null}`,
		"error sans code": `{"v":1,"content":"","usage":null,"error":{"message":"m"}}`,
		"negative usage":  `{"v":1,"content":"","usage":{"input_tokens":-1,"output_tokens":0}}`,
		"unknown field":   `{"v":1,"content":"","usage":null,"extra":1}`,
	} {
		if _, err := inference.ParseChatResult([]byte(in)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// sliceStream replays deltas, then ends with err (io.EOF for success).
type sliceStream struct {
	deltas []string
	err    error
	closed bool
}

func (s *sliceStream) Next() (string, error) {
	if len(s.deltas) == 0 {
		return "", s.err
	}
	d := s.deltas[0]
	s.deltas = s.deltas[1:]
	return d, nil
}
func (s *sliceStream) Result() inference.Result {
	return inference.Result{FinishReason: inference.FinishStop}
}
func (s *sliceStream) Close() error { s.closed = true; return nil }

func TestCollect(t *testing.T) {
	boom := errors.New("boom")
	for _, tc := range []struct {
		name    string
		s       *sliceStream
		want    string
		wantErr error
	}{
		{"complete", &sliceStream{deltas: []string{"a", " b", " c"}, err: io.EOF}, "a b c", nil},
		{"empty", &sliceStream{err: io.EOF}, "", nil},
		{"partial", &sliceStream{deltas: []string{"a", " b"}, err: boom}, "a b", boom},
	} {
		t.Run(tc.name, func(t *testing.T) {
			text, res, err := inference.Collect(tc.s)
			if text != tc.want || !errors.Is(err, tc.wantErr) || res.FinishReason != inference.FinishStop {
				t.Errorf("Collect = %q, %+v, %v", text, res, err)
			}
			if !tc.s.closed {
				t.Error("stream not closed")
			}
			if err != nil && strings.Contains(err.Error(), "a b") {
				t.Error("error text carries the answer")
			}
		})
	}
}

func TestParseErrorsQuoteNoContent(t *testing.T) {
	for name, in := range map[string]string{
		"syntax":     `{"v":1,"messages":[{"role":"user","content":"secret"}] secret}`,
		"type":       `{"v":1,"model":"m","messages":[{"role":"user","content":"x"}],"max_tokens":"secret","result_key":"AQ=="}`,
		"truncated":  `{"v":1,"messages":[{"role":"user","content":"secr`,
		"bad base64": `{"v":1,"model":"m","messages":[{"role":"user","content":"x"}],"max_tokens":1,"result_key":"secret!!"}`,
	} {
		_, err := inference.ParseChatRequest([]byte(in))
		if err == nil {
			t.Errorf("%s: accepted", name)
			continue
		}
		if strings.Contains(err.Error(), "secr") || strings.Contains(err.Error(), "'s'") {
			t.Errorf("%s: error quotes the input: %v", name, err)
		}
	}
}
