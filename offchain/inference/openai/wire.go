package openai

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/cocoon-network/cocoon/offchain/inference"
)

// Request is a chat completions request body as Cocoon sends it: this
// engine to its backend, and a gateway to a worker. Content is flattened
// to a string and only the fields that shape the answer are in it, so
// nothing else an app sent can travel on. max_tokens rather than the
// newer max_completion_tokens: every supported backend reads it.
type Request struct {
	Model         string              `json:"model"`
	Messages      []inference.Message `json:"messages"`
	MaxTokens     int                 `json:"max_tokens"`
	Temperature   *float64            `json:"temperature,omitempty"`
	TopP          *float64            `json:"top_p,omitempty"`
	Seed          *int64              `json:"seed,omitempty"`
	Stop          []string            `json:"stop,omitempty"`
	Stream        bool                `json:"stream"`
	StreamOptions *StreamOptions      `json:"stream_options,omitempty"`
}

// StreamOptions asks a streaming server for a last chunk with usage.
type StreamOptions struct {
	IncludeUsage bool `json:"include_usage"`
}

func encodeRequest(r inference.Request) ([]byte, error) {
	return json.Marshal(Request{
		Model: r.Model, Messages: r.Messages, MaxTokens: r.MaxTokens,
		Temperature: r.Temperature, TopP: r.TopP, Seed: r.Seed, Stop: r.Stop,
		Stream: true, StreamOptions: &StreamOptions{IncludeUsage: true},
	})
}

// chunk is one chat.completion.chunk, plus the error shapes that backends
// put in the same place. Unknown fields (llama.cpp's "timings", reasoning
// deltas, logprobs) are ignored.
type chunk struct {
	Choices []struct {
		Index int `json:"index"`
		Delta struct {
			Content *string `json:"content"`
		} `json:"delta"`
		FinishReason *string `json:"finish_reason"`
	} `json:"choices"`
	Usage *struct {
		PromptTokens     int `json:"prompt_tokens"`
		CompletionTokens int `json:"completion_tokens"`
	} `json:"usage"`
	Error   json.RawMessage `json:"error"`
	Object  string          `json:"object"`
	Message string          `json:"message"`
	Type    string          `json:"type"`
}

// errorBody is the object inside "error": OpenAI, vLLM, llama.cpp and
// Ollama all use message/type/code, with code a string or a number.
type errorBody struct {
	Message string          `json:"message"`
	Type    string          `json:"type"`
	Code    json.RawMessage `json:"code"`
}

// backendError extracts an error the chunk carries, or nil.
func (c *chunk) backendError() *BackendError {
	if len(c.Error) > 0 && !bytes.Equal(c.Error, []byte("null")) {
		return parseErrorValue(c.Error)
	}
	if c.Object == "error" {
		return &BackendError{Type: ident(c.Type), Message: clip(c.Message)}
	}
	return nil
}

// parseErrorValue reads an "error" value: an object or a bare string.
func parseErrorValue(raw json.RawMessage) *BackendError {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return &BackendError{Message: clip(s)}
	}
	var b errorBody
	if err := json.Unmarshal(raw, &b); err != nil {
		return &BackendError{Message: "unreadable error object"}
	}
	return &BackendError{Type: ident(b.Type), Code: ident(codeString(b.Code)), Message: clip(b.Message)}
}

func codeString(raw json.RawMessage) string {
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		return n.String()
	}
	return ""
}

// errorMessage digs a message out of a non-200 body: {"error":{…}},
// {"error":"…"}, vLLM's {"object":"error","message":…} or FastAPI's
// {"detail":…}. Anything else is reported by size only: an unknown body
// might echo the request.
func errorMessage(body []byte) string {
	var v struct {
		Error   json.RawMessage `json:"error"`
		Message string          `json:"message"`
		Detail  json.RawMessage `json:"detail"`
	}
	if json.Unmarshal(body, &v) != nil {
		if len(body) == 0 {
			return ""
		}
		return "non-JSON error body of " + strconv.Itoa(len(body)) + " bytes"
	}
	switch {
	case len(v.Error) > 0 && !bytes.Equal(v.Error, []byte("null")):
		return parseErrorValue(v.Error).Message
	case v.Message != "":
		return clip(v.Message)
	case len(v.Detail) > 0:
		var s string
		if json.Unmarshal(v.Detail, &s) == nil {
			return clip(s)
		}
		return fmt.Sprintf("structured detail of %d bytes", len(v.Detail))
	}
	return ""
}
