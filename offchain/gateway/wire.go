package gateway

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/cocoon-network/cocoon/offchain/inference"
	"github.com/cocoon-network/cocoon/offchain/inference/openai"
	"github.com/cocoon-network/cocoon/offchain/internal/httpserve"
	"github.com/cocoon-network/cocoon/offchain/onlineproto"
)

// APIError is an error in OpenAI's shape, with the HTTP status it goes out with.
type APIError struct {
	Status     int
	Message    string
	Type       string
	Param      string
	Code       string
	RetryAfter time.Duration // sent as Retry-After when set
}

func (e *APIError) Error() string { return fmt.Sprintf("HTTP %d %s: %s", e.Status, e.Code, e.Message) }

func (e *APIError) body() onlineproto.ErrorAnswer {
	var param *string
	if e.Param != "" {
		param = &e.Param
	}
	return onlineproto.ErrorAnswer{Error: onlineproto.ErrorObject{Message: e.Message, Type: e.Type, Param: param, Code: e.Code}}
}

func (e *APIError) write(w http.ResponseWriter) {
	if e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(max(1, int(math.Ceil(e.RetryAfter.Seconds())))))
	}
	httpserve.WriteJSON(w, e.Status, e.body())
}

func badRequest(param, code, format string, a ...any) *APIError {
	return &APIError{Status: http.StatusBadRequest, Type: "invalid_request_error", Param: param, Code: code, Message: fmt.Sprintf(format, a...)}
}

// chatRequest is the part of an app's chat completions request the
// gateway uses: the worker's, and the fields only the gateway checks.
// Everything else — user, metadata, logit_bias, message names, … — is
// ignored and never leaves the gateway; what would change the answer's
// shape and is not relayed yet (tools, response_format, logprobs) is
// refused rather than silently dropped.
type chatRequest struct {
	onlineproto.ChatRequest
	N *int `json:"n"`
	// Not relayed yet: a request asking for them is refused with a 400,
	// since an answer without them would break the app quietly.
	Tools          json.RawMessage `json:"tools"`
	ToolChoice     json.RawMessage `json:"tool_choice"`
	Functions      json.RawMessage `json:"functions"`
	FunctionCall   json.RawMessage `json:"function_call"`
	ResponseFormat *struct {
		Type string `json:"type"`
	} `json:"response_format"`
	Logprobs      *bool `json:"logprobs"`
	TopLogprobs   *int  `json:"top_logprobs"`
	StreamOptions *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
}

// request is a checked app request.
type request struct {
	model        string
	body         []byte // the openai.Request for workers, encoded
	maxTokens    uint32
	inBound      uint32
	stream       bool
	includeUsage bool
}

// parseChat checks an app's request and builds what goes to workers.
func parseChat(raw []byte, defaultMax, maxMax int) (*request, *APIError) {
	var cr chatRequest
	if err := json.Unmarshal(raw, &cr); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			// encoding/json names a field of the embedded request by its
			// Go type first; the app knows it by its JSON path.
			field := strings.TrimPrefix(te.Field, "ChatRequest.")
			return nil, badRequest(field, "invalid_type", "%s: wrong type (%s)", field, te.Value)
		}
		if errors.Is(err, onlineproto.ErrStopType) {
			return nil, badRequest("stop", "invalid_type", "%v", err)
		}
		return nil, badRequest("", "invalid_json", "the body is not valid JSON: %v", err)
	}
	if strings.TrimSpace(cr.Model) == "" {
		return nil, badRequest("model", "missing_required_parameter", "model: required")
	}
	if len(cr.Messages) == 0 {
		return nil, badRequest("messages", "missing_required_parameter", "messages: at least one message is required")
	}
	if cr.N != nil && *cr.N != 1 {
		return nil, badRequest("n", "unsupported_value", "n: only 1 choice per request is supported")
	}
	for _, f := range []struct {
		param string
		set   bool
	}{
		{"tools", present(cr.Tools)}, {"tool_choice", present(cr.ToolChoice)},
		{"functions", present(cr.Functions)}, {"function_call", present(cr.FunctionCall)},
		{"response_format", cr.ResponseFormat != nil && cr.ResponseFormat.Type != "" && cr.ResponseFormat.Type != "text"},
		{"logprobs", cr.Logprobs != nil && *cr.Logprobs}, {"top_logprobs", cr.TopLogprobs != nil && *cr.TopLogprobs > 0},
	} {
		if f.set {
			return nil, badRequest(f.param, "unsupported_parameter", "%s: not supported by Cocoon yet; the answer would come without it", f.param)
		}
	}
	if err := inference.CheckStop(cr.Stop); err != nil {
		return nil, badRequest("stop", "invalid_value", "stop: %v", err)
	}
	// What goes to the worker is built field by field: only what shapes
	// the answer, content flattened to a string (onlineproto.ContentText),
	// message names dropped.
	wr := openai.Request{Model: cr.Model, Temperature: cr.Temperature, TopP: cr.TopP, Seed: cr.Seed, Stop: cr.Stop, Stream: true}
	size := 0
	for i, m := range cr.Messages {
		if m.Role == "" {
			return nil, badRequest(fmt.Sprintf("messages[%d].role", i), "missing_required_parameter", "messages[%d].role: required", i)
		}
		if err := inference.CheckRole(m.Role); err != nil {
			return nil, badRequest(fmt.Sprintf("messages[%d].role", i), "invalid_value", "messages[%d]: %v", i, err)
		}
		t, err := m.Text()
		if err != nil {
			return nil, badRequest(fmt.Sprintf("messages[%d].content", i), "invalid_value", "messages[%d].content: %v", i, err)
		}
		size += len(t)
		wr.Messages = append(wr.Messages, inference.Message{Role: m.Role, Content: t})
	}
	maxTokens, param := cr.OutputLimit(defaultMax)
	if maxTokens < 1 || maxTokens > maxMax {
		return nil, badRequest(param, "invalid_value", "%s: %d, must be within [1, %d]", param, maxTokens, maxMax)
	}
	wr.MaxTokens = maxTokens
	if t := cr.Temperature; t != nil && (math.IsNaN(*t) || *t < 0 || *t > 2) {
		return nil, badRequest("temperature", "invalid_value", "temperature: must be within [0, 2]")
	}
	if p := cr.TopP; p != nil && (math.IsNaN(*p) || *p <= 0 || *p > 1) {
		return nil, badRequest("top_p", "invalid_value", "top_p: must be within (0, 1]")
	}
	body, err := json.Marshal(wr)
	if err != nil {
		return nil, badRequest("", "invalid_value", "encoding the request: %v", err)
	}
	return &request{
		model: cr.Model, body: body, maxTokens: uint32(maxTokens),
		inBound: onlineproto.InputBound(size, len(wr.Messages)),
		stream:  cr.Stream, includeUsage: cr.StreamOptions != nil && cr.StreamOptions.IncludeUsage,
	}, nil
}

// present reports a JSON field set to something: not null, not an empty
// list (which some SDKs send for "no tools").
func present(raw json.RawMessage) bool {
	v := strings.TrimSpace(string(raw))
	return v != "" && v != "null" && strings.ReplaceAll(v, " ", "") != "[]"
}

type wireUsage struct {
	PromptTokens     uint32 `json:"prompt_tokens"`
	CompletionTokens uint32 `json:"completion_tokens"`
	TotalTokens      uint32 `json:"total_tokens"`
}

// answer builds the app-facing objects of one answer.
type answer struct {
	id, model string
	created   int64
}

func (a *answer) completion(text, finish string, u wireUsage) map[string]any {
	return map[string]any{
		"id": a.id, "object": "chat.completion", "created": a.created, "model": a.model,
		"choices": []any{map[string]any{
			"index": 0, "message": map[string]any{"role": "assistant", "content": text}, "finish_reason": finish, "logprobs": nil,
		}},
		"usage": u,
	}
}
