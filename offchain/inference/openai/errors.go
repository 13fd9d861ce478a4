package openai

import (
	"errors"
	"strconv"
	"time"
	"unicode/utf8"
)

// Errors that Chat and Stream.Next wrap; test them with errors.Is.
var (
	// ErrFirstTokenTimeout: no text arrived within Config.FirstTokenTimeout.
	ErrFirstTokenTimeout = errors.New("openai: timed out waiting for the first token")
	// ErrIdleTimeout: the backend sent nothing for Config.IdleTimeout
	// in the middle of an answer.
	ErrIdleTimeout = errors.New("openai: backend went silent mid-stream")
	// ErrStreamBroken: the stream ended without [DONE] or a finish reason,
	// usually because the backend died or closed the connection.
	ErrStreamBroken = errors.New("openai: stream ended early")
	// ErrMalformedChunk: a chunk was not the JSON the protocol prescribes.
	ErrMalformedChunk = errors.New("openai: malformed stream chunk")
	// ErrNotStreaming: the backend answered 200 without an event stream.
	ErrNotStreaming = errors.New("openai: backend did not answer with an event stream")
)

// maxErrorMessage caps the backend error text kept in StatusError and
// BackendError.Message: enough to diagnose, too short to carry much else.
const maxErrorMessage = 300

// StatusError is a non-200 answer to the chat request.
type StatusError struct {
	StatusCode int
	Message    string        // from the backend's error body, if it had one
	RetryAfter time.Duration // from a Retry-After header; 0 when absent
}

// Error leaves out Message: backends quote request fields in validation
// errors, so the text may hold part of a prompt and must not reach a log.
// Callers that seal it into the client's result get it with errors.As.
func (e *StatusError) Error() string {
	s := "openai: backend returned HTTP " + strconv.Itoa(e.StatusCode)
	if e.Message != "" {
		s += " (message of " + strconv.Itoa(len(e.Message)) + " bytes withheld)"
	}
	return s
}

// retryable: overload and gateway failures may pass; 4xx other than 408
// and 429 are the request's fault and will fail again.
func (e *StatusError) retryable() bool {
	switch e.StatusCode {
	case 408, 429, 500, 502, 503, 504:
		return true
	}
	return false
}

// BackendError is an error object the backend sent inside the stream,
// e.g. {"error":{"message":"…","type":"…","code":…}} (vLLM, llama.cpp,
// Ollama) or vLLM's older top-level {"object":"error","message":"…"}.
type BackendError struct {
	Type    string
	Code    string
	Message string
}

// Error leaves out Message for the reason given at StatusError.Error.
func (e *BackendError) Error() string {
	s := "openai: backend error in stream"
	if e.Type != "" {
		s += " (" + e.Type + ")"
	}
	if e.Code != "" {
		s += " code " + e.Code
	}
	if e.Message != "" {
		s += " (message of " + strconv.Itoa(len(e.Message)) + " bytes withheld)"
	}
	return s
}

// clip shortens backend text to maxErrorMessage bytes on a rune boundary.
func clip(s string) string {
	if len(s) <= maxErrorMessage {
		return s
	}
	s = s[:maxErrorMessage]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s + "…"
}

// ident keeps an error type or code only if it looks like an identifier
// (at most 64 of [A-Za-z0-9_.-]); these appear in Error strings, so they
// must not be able to carry request text.
func ident(s string) string {
	if len(s) > 64 {
		return ""
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '.' || r == '-') {
			return ""
		}
	}
	return s
}
