// Package inference defines what a Cocoon worker asks of an inference
// engine — one chat request in, a stream of text deltas and final usage out
// — and the request/result plaintexts that travel inside sealed envelopes
// (see docs/SEALING.md). Engines live in subpackages: openai (any
// OpenAI-compatible HTTP server: vLLM, SGLang, llama.cpp, Ollama) and
// reference (a deterministic protocol-test engine).
//
// Prompts and answers pass through these types in clear inside the TEE;
// nothing in this package or its engines logs them, at any level.
package inference

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
)

// Message is one chat turn.
type Message struct {
	Role    string `json:"role"` // one of OpenAI's (CheckRole): passed to the engine as is
	Content string `json:"content"`
}

// Request is one chat generation.
type Request struct {
	Model     string
	Messages  []Message
	MaxTokens int // output tokens; the engine stops at this many
	// Optional sampling parameters; nil leaves the engine's default.
	Temperature *float64
	TopP        *float64
	Seed        *int64
	// Stop: generation ends before the first of these strings (at most
	// MaxStop, each 1 to MaxStopBytes bytes); it is not part of the answer.
	Stop []string
}

// Limits of Request.Stop (OpenAI's: four sequences).
const (
	MaxStop      = 4
	MaxStopBytes = 256
)

// CheckStop reports why stop sequences would be refused, or nil.
func CheckStop(stop []string) error {
	if len(stop) > MaxStop {
		return fmt.Errorf("at most %d stop sequences, got %d", MaxStop, len(stop))
	}
	for i, s := range stop {
		if s == "" || len(s) > MaxStopBytes {
			return fmt.Errorf("stop sequence %d is %d bytes (1 to %d)", i, len(s), MaxStopBytes)
		}
	}
	return nil
}

// Validate reports the first problem that would make any engine refuse r.
func (r *Request) Validate() error {
	switch {
	case strings.TrimSpace(r.Model) == "":
		return errors.New("inference: request has no model")
	case len(r.Messages) == 0:
		return errors.New("inference: request has no messages")
	case r.MaxTokens <= 0:
		return fmt.Errorf("inference: max tokens is %d, must be positive", r.MaxTokens)
	case r.Temperature != nil && (math.IsNaN(*r.Temperature) || *r.Temperature < 0 || *r.Temperature > 2):
		return errors.New("inference: temperature must be within [0, 2]")
	case r.TopP != nil && (math.IsNaN(*r.TopP) || *r.TopP <= 0 || *r.TopP > 1):
		return errors.New("inference: top_p must be within (0, 1]")
	}
	if err := CheckStop(r.Stop); err != nil {
		return fmt.Errorf("inference: %w", err)
	}
	for i, m := range r.Messages {
		if err := CheckRole(m.Role); err != nil {
			return fmt.Errorf("inference: message %d: %w", i, err)
		}
	}
	return nil
}

// roles are the message roles of OpenAI's chat API. Nothing else reaches
// an engine: its chat template prints the role, so an arbitrary one would
// be input outside what a worker's input bound (onlineproto.InputBound)
// counts, and a template may treat an unknown one in surprising ways.
var roles = map[string]bool{"system": true, "developer": true, "user": true, "assistant": true, "tool": true, "function": true}

// CheckRole reports a message role that is not one of OpenAI's.
func CheckRole(role string) error {
	if role == "" {
		return errors.New("role is required")
	}
	if !roles[role] {
		if len(role) > 32 {
			role = role[:32] + "…"
		}
		return fmt.Errorf("role %q is not one of system, developer, user, assistant, tool, function", role)
	}
	return nil
}

// FinishReason is why generation stopped, as the engine reports it.
// Besides the two below, backends may report others ("content_filter",
// "tool_calls"); they are passed through. Empty means the engine did not say.
type FinishReason string

const (
	FinishStop   FinishReason = "stop"   // the model ended its answer
	FinishLength FinishReason = "length" // MaxTokens was reached
)

// Usage is the token count of one generation, as the engine counted it.
type Usage struct {
	InputTokens  int `json:"input_tokens"`
	OutputTokens int `json:"output_tokens"`
}

// Result is what is known once a stream has ended.
type Result struct {
	FinishReason FinishReason
	// Usage is nil when the engine did not report it. Engines never
	// estimate it: billing on a guess would be worse than the caller
	// deciding what an unknown count means.
	Usage *Usage
}

// Stream is one generation in progress. It is bound to the context given
// to Engine.Chat; cancelling that context stops it. A Stream is not safe
// for concurrent use.
type Stream interface {
	// Next returns the next text delta. After the last one it returns
	// io.EOF; any other error means the generation failed, possibly after
	// some deltas were already returned.
	Next() (string, error)
	// Result reports finish reason and usage. It is complete only after
	// Next has returned io.EOF.
	Result() Result
	// Close releases the stream (an engine's connection, for one); call it
	// when done, also after io.EOF or an error. Safe to call twice.
	Close() error
}

// Engine runs chat generations.
type Engine interface {
	// Name identifies the engine kind, e.g. "openai", "cocoon-reference".
	Name() string
	// Description says what the engine is, for logs and /healthz.
	Description() string
	// Chat starts a generation. Failures before any output (bad request,
	// backend unreachable) are returned here; later ones by Stream.Next.
	Chat(ctx context.Context, req Request) (Stream, error)
}

// Collect reads s to the end and closes it. On failure it returns the text
// produced so far together with the error, so that a caller can decide
// what a partial answer is worth.
func Collect(s Stream) (string, Result, error) {
	defer s.Close()
	var b strings.Builder
	for {
		d, err := s.Next()
		if err == io.EOF {
			return b.String(), s.Result(), nil
		}
		if err != nil {
			return b.String(), s.Result(), err
		}
		b.WriteString(d)
	}
}
