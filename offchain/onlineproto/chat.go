package onlineproto

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// ChatRequest is the part of an OpenAI chat completions request that
// Cocoon reads: the worker serves it, and gateways read apps' requests
// with it (adding the fields only they check). Unknown fields — user,
// metadata, tools, … — are ignored, as OpenAI's servers do.
type ChatRequest struct {
	Model               string        `json:"model"`
	Messages            []ChatMessage `json:"messages"`
	MaxTokens           *int          `json:"max_tokens"`
	MaxCompletionTokens *int          `json:"max_completion_tokens"`
	Temperature         *float64      `json:"temperature"`
	TopP                *float64      `json:"top_p"`
	Seed                *int64        `json:"seed"`
	Stop                StopList      `json:"stop"`
	Stream              bool          `json:"stream"`
}

// StopList is OpenAI's stop: one string or an array of them (null: none).
type StopList []string

// ErrStopType is StopList's decoding error, which callers tell apart from
// malformed JSON to name the field in their answer.
var ErrStopType = errors.New("stop: want a string or an array of strings")

// UnmarshalJSON implements json.Unmarshaler.
func (s *StopList) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*s = nil
		return nil
	}
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*s = StopList{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return ErrStopType
	}
	*s = many
	return nil
}

// ChatMessage is one message of a ChatRequest; its content is read with
// Text. Names are not read.
type ChatMessage struct {
	Role    string          `json:"role"`
	Content json.RawMessage `json:"content"`
}

// Text is the message's content flattened (ContentText).
func (m ChatMessage) Text() (string, error) { return ContentText(m.Content) }

// OutputLimit is the output token limit the request asks for, def when
// it sets none, and the parameter that set it: max_completion_tokens
// (OpenAI's newer name) wins over max_tokens.
func (c *ChatRequest) OutputLimit(def int) (n int, param string) {
	switch {
	case c.MaxCompletionTokens != nil:
		return *c.MaxCompletionTokens, "max_completion_tokens"
	case c.MaxTokens != nil:
		return *c.MaxTokens, "max_tokens"
	}
	return def, "max_tokens"
}

// ContentText reads an OpenAI message content: a string, or an array of
// parts of which the "text" ones are joined (other kinds are refused).
// Gateways flatten content with it, so both sides count the same bytes.
func ContentText(content json.RawMessage) (string, error) {
	if len(content) == 0 || string(content) == "null" {
		return "", nil
	}
	var s string
	if json.Unmarshal(content, &s) == nil {
		return s, nil
	}
	var parts []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if err := json.Unmarshal(content, &parts); err != nil {
		return "", errors.New("content must be a string or an array of text parts")
	}
	var b strings.Builder
	for _, p := range parts {
		if p.Type != "text" {
			return "", fmt.Errorf("content part of type %q is not supported (text only)", p.Type)
		}
		b.WriteString(p.Text)
	}
	return b.String(), nil
}

// InputBound is the most input tokens a request can be charged for: no
// tokeniser makes more tokens than bytes, plus what a chat template adds —
// a few tokens per message and a fixed preamble (Llama 3's injects a
// system prompt of some 30 tokens; 256 leaves room for longer ones). A
// worker never charges more; gateways apply the same bound to receipts.
func InputBound(contentBytes, messages int) uint32 {
	return uint32(min(contentBytes+16*messages+256, 1<<31))
}
