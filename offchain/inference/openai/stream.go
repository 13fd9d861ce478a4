package openai

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/cocoon-network/cocoon/offchain/inference"
	"github.com/cocoon-network/cocoon/offchain/internal/sse"
)

// stream is one chat completion being read. It is used by one goroutine;
// the timers' callbacks only cancel its context.
type stream struct {
	reqCtx     context.Context
	cancel     context.CancelCauseFunc
	body       io.ReadCloser
	events     *sse.Reader
	firstToken time.Duration
	idle       time.Duration
	firstTimer *time.Timer // armed from the request until the first delta
	idleTimer  *time.Timer // armed only while Next waits for the backend
	idleArmed  bool

	pending  string // the first delta, read ahead by prime
	hasFirst bool
	deltas   int
	chunks   int
	finished bool // a finish_reason was seen
	done     bool
	err      error
	released bool
	result   inference.Result
}

// prime reads until the first text delta or the end of the answer,
// under the first-token timeout.
func (s *stream) prime() error {
	d, err := s.advance()
	switch {
	case err == io.EOF:
		s.done = true
	case err != nil:
		return err
	default:
		s.pending, s.hasFirst = d, true
	}
	if !s.firstTimer.Stop() {
		// The timeout fired as the delta arrived; the request context is
		// already cancelled, so this attempt cannot go on.
		return s.cancelCause()
	}
	return nil
}

// Next implements inference.Stream.
func (s *stream) Next() (string, error) {
	if s.hasFirst {
		s.hasFirst = false
		d := s.pending
		s.pending = ""
		return d, nil
	}
	if s.err != nil {
		return "", s.err
	}
	if s.done {
		s.release()
		return "", io.EOF
	}
	s.armIdle()
	d, err := s.advance()
	s.disarmIdle()
	switch {
	case err == io.EOF:
		s.done = true
		s.release()
		return "", io.EOF
	case err != nil:
		s.err = err
		s.release()
		return "", err
	}
	return d, nil
}

// Result implements inference.Stream.
func (s *stream) Result() inference.Result { return s.result }

// Close implements inference.Stream.
func (s *stream) Close() error {
	s.release()
	return nil
}

func (s *stream) release() {
	if s.released {
		return
	}
	s.released = true
	s.firstTimer.Stop()
	if s.idleTimer != nil {
		s.idleTimer.Stop()
	}
	s.cancel(errReleased)
	if s.body != nil {
		s.body.Close()
	}
}

// errReleased is the cancel cause once the stream is finished with; no
// read happens after it, so it never surfaces.
var errReleased = errors.New("openai: stream released")

func (s *stream) armIdle() {
	if s.idleTimer == nil {
		s.idleTimer = time.AfterFunc(s.idle, func() { s.cancel(ErrIdleTimeout) })
	} else {
		s.idleTimer.Reset(s.idle)
	}
	s.idleArmed = true
}

func (s *stream) disarmIdle() {
	s.idleTimer.Stop()
	s.idleArmed = false
}

func (s *stream) touch() {
	if s.idleArmed {
		s.idleTimer.Reset(s.idle)
	}
}

// cancelCause turns the request context's cancellation into the error to
// report, or nil if it is not cancelled.
func (s *stream) cancelCause() error {
	cause := context.Cause(s.reqCtx)
	switch {
	case cause == nil:
		return nil
	case errors.Is(cause, ErrFirstTokenTimeout):
		return fmt.Errorf("%w (%s)", ErrFirstTokenTimeout, s.firstToken)
	case errors.Is(cause, ErrIdleTimeout):
		return fmt.Errorf("%w: nothing for %s after %d deltas", ErrIdleTimeout, s.idle, s.deltas)
	}
	// The caller's context: keep its error (context.Canceled,
	// DeadlineExceeded or its cause) visible to errors.Is.
	return fmt.Errorf("openai: chat stopped after %d deltas: %w", s.deltas, cause)
}

// advance reads events until a non-empty text delta (returned), the end
// of the answer (io.EOF) or a failure.
func (s *stream) advance() (string, error) {
	for {
		ev, err := s.events.Next()
		if err == io.EOF {
			if s.finished {
				// A finish reason without [DONE]: some servers stop there.
				return "", io.EOF
			}
			return "", fmt.Errorf("%w: no [DONE] after %d deltas", ErrStreamBroken, s.deltas)
		}
		if err != nil {
			if cause := s.cancelCause(); cause != nil {
				return "", cause
			}
			if errors.Is(err, sse.ErrLineTooLong) {
				return "", fmt.Errorf("%w: %v", ErrMalformedChunk, err)
			}
			return "", fmt.Errorf("%w after %d deltas: %v", ErrStreamBroken, s.deltas, err)
		}
		if string(bytes.TrimSpace(ev.Data)) == "[DONE]" {
			return "", io.EOF
		}
		s.chunks++
		var c chunk
		if err := json.Unmarshal(ev.Data, &c); err != nil {
			if ev.Name == "error" {
				return "", parseErrorValue(json.RawMessage(ev.Data)) // a bare string, or unreadable
			}
			return "", fmt.Errorf("%w: chunk %d (%d bytes): %s", ErrMalformedChunk, s.chunks, len(ev.Data), jsonProblem(err))
		}
		if be := c.backendError(); be != nil {
			return "", be
		}
		if ev.Name == "error" {
			// "event: error" with the error fields at the top level.
			return "", parseErrorValue(json.RawMessage(ev.Data))
		}
		// Usage may come on its own final chunk (choices empty: OpenAI,
		// vLLM, SGLang, Ollama ≥ 0.5.2) or on the finishing chunk
		// (llama.cpp); the last one wins. All-zero usage, which some
		// servers put on every chunk, means "not counted", never a real
		// generation: a chat prompt always has tokens.
		if u := c.Usage; u != nil && (u.PromptTokens > 0 || u.CompletionTokens > 0) {
			s.result.Usage = &inference.Usage{InputTokens: u.PromptTokens, OutputTokens: u.CompletionTokens}
		}
		for _, ch := range c.Choices {
			if ch.Index != 0 {
				continue // only one choice is requested
			}
			if ch.FinishReason != nil && *ch.FinishReason != "" {
				s.result.FinishReason = inference.FinishReason(*ch.FinishReason)
				s.finished = true
			}
			if ch.Delta.Content != nil && *ch.Delta.Content != "" {
				s.deltas++
				return *ch.Delta.Content, nil
			}
		}
	}
}

// jsonProblem describes a JSON error without quoting the input: a
// malformed chunk may hold answer text.
func jsonProblem(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("invalid JSON at offset %d", syn.Offset)
	case errors.As(err, &typ):
		return fmt.Sprintf("field %q has the wrong type (%s)", typ.Field, typ.Value)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "JSON ends early"
	}
	return "invalid JSON"
}
