// Package sse writes server-sent events the way the worker's and the
// gateway's streaming answers need them: each event leaves at once unless
// the producer already holds the next one, so a fast producer's burst goes
// out in one write and a slow one's events are not held back. Its Reader
// parses them, for the gateway reading a worker and the worker reading an
// OpenAI-compatible engine.
package sse

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// WriteTimeout is how long one write may take. The server's own write
// timeout would cut a long answer short, so every write extends it.
const WriteTimeout = time.Minute

// done ends an OpenAI stream.
const done = "data: [DONE]\n\n"

// Producer is what a stream's events come from. Ready reports whether its
// next event (or its end) has already arrived.
//
// An interface rather than a func: a method value costs an allocation
// per stream, a pointer in an interface none.
type Producer interface {
	Ready() bool
}

// Writer writes one event stream.
type Writer struct {
	w   http.ResponseWriter
	fl  http.Flusher
	rc  http.ResponseController // by value: one allocation less per stream
	src Producer                // nil: nothing is ever ready
	buf []byte
}

// New sends the stream's headers (200, text/event-stream) and returns its
// writer. While src has its next event ready, writes are not flushed. The
// writer is a value so that it lives on its caller's stack.
func New(w http.ResponseWriter, src Producer) Writer {
	fl, _ := w.(http.Flusher)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	return Writer{w: w, fl: fl, rc: *http.NewResponseController(w), src: src}
}

// Send writes b, one or more whole events ("data: …\n\n"), and flushes
// unless the producer's next event is ready.
func (s *Writer) Send(b []byte) error {
	if err := s.Write(b); err != nil {
		return err
	}
	if s.fl != nil && (s.src == nil || !s.src.Ready()) {
		s.fl.Flush()
	}
	return nil
}

// Write writes b without flushing: for an event that Close will flush
// with the end of the stream.
func (s *Writer) Write(b []byte) error {
	s.extend()
	_, err := s.w.Write(b)
	return err
}

func (s *Writer) extend() { _ = s.rc.SetWriteDeadline(time.Now().Add(WriteTimeout)) }

// JSON sends v as one event, "data: <json>\n\n".
func (s *Writer) JSON(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encoding an event: %w", err)
	}
	s.buf = append(append(append(s.buf[:0], "data: "...), b...), "\n\n"...)
	return s.Send(s.buf)
}

// Close ends the stream with OpenAI's "data: [DONE]" and flushes.
func (s *Writer) Close() error {
	s.extend()
	_, err := io.WriteString(s.w, done)
	if s.fl != nil {
		s.fl.Flush()
	}
	return err
}
