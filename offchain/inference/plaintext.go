package inference

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// PlaintextVersion is the "v" of ChatRequest and ChatResult. Both are
// decoded strictly (unknown fields are errors), so any new field means a
// new version rather than a field that old workers silently drop.
const PlaintextVersion = 1

// ChatRequest is the plaintext a client seals to the worker
// (seal.PurposeRequest). JSON, UTF-8; docs/SEALING.md has an example.
type ChatRequest struct {
	V           int       `json:"v"`
	Model       string    `json:"model"`
	Messages    []Message `json:"messages"`
	MaxTokens   int       `json:"max_tokens"`
	Temperature *float64  `json:"temperature,omitempty"`
	TopP        *float64  `json:"top_p,omitempty"`
	Seed        *int64    `json:"seed,omitempty"`
	// ResultKey is the client's per-job public key, seal.PublicKey.Marshal
	// (base64 in JSON). The worker seals the ChatResult to it after
	// checking that its commitment equals the Job's clientHpkeKey.
	ResultKey []byte `json:"result_key"`
}

// Request is the engine request r asks for.
func (r *ChatRequest) Request() Request {
	return Request{
		Model: r.Model, Messages: r.Messages, MaxTokens: r.MaxTokens,
		Temperature: r.Temperature, TopP: r.TopP, Seed: r.Seed,
	}
}

// Validate checks version, the engine request and the result key's presence.
func (r *ChatRequest) Validate() error {
	if r.V != PlaintextVersion {
		return fmt.Errorf("inference: chat request version %d, this build reads %d", r.V, PlaintextVersion)
	}
	if len(r.ResultKey) == 0 {
		return errors.New("inference: chat request has no result key")
	}
	req := r.Request()
	return req.Validate()
}

// Marshal validates r and encodes it.
func (r *ChatRequest) Marshal() ([]byte, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	return json.Marshal(r)
}

// ParseChatRequest decodes and validates an opened request envelope.
func ParseChatRequest(b []byte) (*ChatRequest, error) {
	var r ChatRequest
	if err := decodeStrict(b, &r); err != nil {
		return nil, fmt.Errorf("inference: decoding chat request: %w", err)
	}
	if err := r.Validate(); err != nil {
		return nil, err
	}
	return &r, nil
}

// ErrorCode classifies a failed job in a ChatResult.
type ErrorCode string

const (
	// CodeBadRequest: the opened request did not decode or validate.
	CodeBadRequest ErrorCode = "bad_request"
	// CodeModelNotServed: the worker does not serve the requested model.
	CodeModelNotServed ErrorCode = "model_not_served"
	// CodeEngineUnavailable: the engine failed before producing any output.
	CodeEngineUnavailable ErrorCode = "engine_unavailable"
	// CodeEngineFailed: the engine failed mid-answer; Content holds the
	// partial output.
	CodeEngineFailed ErrorCode = "engine_failed"
)

// ResultError says why a job produced no complete answer.
type ResultError struct {
	Code ErrorCode `json:"code"`
	// Message is for humans: the engine's or worker's error text. It is
	// sealed to the client like the rest of the result.
	Message string `json:"message,omitempty"`
}

// ChatResult is the plaintext a worker seals to the client's per-job key
// (seal.PurposeResult).
type ChatResult struct {
	V            int          `json:"v"`
	Content      string       `json:"content"`
	FinishReason FinishReason `json:"finish_reason,omitempty"`
	// Usage is null when the engine did not report it (see Result.Usage).
	Usage *Usage       `json:"usage"`
	Error *ResultError `json:"error,omitempty"`
}

// Validate checks the version and that an error, if any, has a code.
func (r *ChatResult) Validate() error {
	if r.V != PlaintextVersion {
		return fmt.Errorf("inference: chat result version %d, this build reads %d", r.V, PlaintextVersion)
	}
	if r.Error != nil && r.Error.Code == "" {
		return errors.New("inference: chat result error has no code")
	}
	if r.Usage != nil && (r.Usage.InputTokens < 0 || r.Usage.OutputTokens < 0) {
		return errors.New("inference: chat result has negative token counts")
	}
	return nil
}

// Marshal validates r and encodes it.
func (r *ChatResult) Marshal() ([]byte, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	return json.Marshal(r)
}

// ParseChatResult decodes and validates an opened result envelope.
func ParseChatResult(b []byte) (*ChatResult, error) {
	var r ChatResult
	if err := decodeStrict(b, &r); err != nil {
		return nil, fmt.Errorf("inference: decoding chat result: %w", err)
	}
	if err := r.Validate(); err != nil {
		return nil, err
	}
	return &r, nil
}

// decodeStrict decodes exactly one JSON value with no unknown fields. Its
// errors give offsets, field names and types, never input bytes (a JSON
// syntax error would quote one), so logging them cannot leak a prompt.
func decodeStrict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var syn *json.SyntaxError
		var typ *json.UnmarshalTypeError
		switch {
		case errors.As(err, &syn):
			return fmt.Errorf("invalid JSON at offset %d", syn.Offset)
		case errors.As(err, &typ):
			return fmt.Errorf("field %q: want %s, got JSON %s", typ.Field, typ.Type, typ.Value)
		case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
			return errors.New("JSON ends early")
		}
		return err // unknown field "name", or a base64 error with an offset
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("data after the JSON object")
	}
	return nil
}
