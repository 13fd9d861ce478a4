package sse

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// ErrLineTooLong is returned for a line longer than the reader's limit: a
// peer that sends one is not the server it claims to be.
var ErrLineTooLong = errors.New("sse: line too long")

// Event is one dispatched server-sent event.
type Event struct {
	// Name is the "event:" field; "" for the default "message".
	Name string
	// Data is the "data:" lines joined with "\n". It is valid until the
	// next call of Reader.Next.
	Data []byte
}

// Reader parses the text/event-stream format as the WHATWG HTML standard
// defines it: lines end in LF, CRLF or a lone CR; ":" starts a comment;
// "data:" lines accumulate until a blank line dispatches the event; "id:"
// and "retry:" are ignored (nothing here reconnects). It reuses its
// buffers, so reading an event allocates nothing but an event name.
type Reader struct {
	br      *bufio.Reader
	maxLine int
	line    []byte
	data    []byte
	// skipLF: the last line ended in CR, so an LF next is the rest of a
	// CRLF, not an empty line.
	skipLF bool
}

// NewReader reads events from r; a line over maxLine bytes is ErrLineTooLong.
func NewReader(r io.Reader, maxLine int) *Reader {
	return &Reader{br: bufio.NewReaderSize(r, 32<<10), maxLine: maxLine}
}

// Ready reports whether more of the stream has already arrived, so that
// a relay can write on without flushing (Producer).
func (r *Reader) Ready() bool { return r.br.Buffered() > 0 }

// Next returns the next event. At the end of input it returns io.EOF; an
// event whose closing blank line never came is still dispatched, because
// some servers end the stream right after "data: [DONE]".
func (r *Reader) Next() (Event, error) {
	r.data = r.data[:0]
	name, hasData := "", false
	for {
		line, err := r.readLine()
		if err != nil {
			if err == io.EOF && hasData {
				return Event{Name: name, Data: r.data}, nil
			}
			return Event{}, err
		}
		if len(line) == 0 {
			if hasData {
				return Event{Name: name, Data: r.data}, nil
			}
			name = "" // an event without data is not dispatched
			continue
		}
		if line[0] == ':' {
			continue // comment, often a keep-alive
		}
		field, value, found := bytes.Cut(line, []byte(":"))
		if found {
			value = bytes.TrimPrefix(value, []byte(" "))
		}
		switch string(field) {
		case "data":
			if hasData {
				r.data = append(r.data, '\n')
			}
			r.data = append(r.data, value...)
			hasData = true
		case "event":
			name = string(value)
		}
	}
}

// readLine returns the next line without its ending. A CR ends the line
// at once (a lone CR is a valid ending, and waiting for the next byte
// could hold an event back until the following one arrives); an LF right
// after it is skipped as the rest of a CRLF. A last line without an
// ending is returned at the end of input.
func (r *Reader) readLine() ([]byte, error) {
	r.line = r.line[:0]
	for {
		if r.br.Buffered() == 0 {
			if _, err := r.br.Peek(1); err != nil {
				if err == io.EOF && len(r.line) > 0 {
					return r.line, nil
				}
				return nil, err
			}
		}
		buf, _ := r.br.Peek(r.br.Buffered())
		if r.skipLF {
			r.skipLF = false
			if buf[0] == '\n' {
				_, _ = r.br.Discard(1)
				continue
			}
		}
		i := bytes.IndexAny(buf, "\r\n")
		end := i
		if i < 0 {
			end = len(buf)
		}
		if len(r.line)+end > r.maxLine {
			return nil, fmt.Errorf("%w: a line is longer than %d bytes", ErrLineTooLong, r.maxLine)
		}
		r.line = append(r.line, buf[:end]...)
		if i < 0 {
			_, _ = r.br.Discard(end)
			continue
		}
		r.skipLF = buf[i] == '\r'
		_, _ = r.br.Discard(i + 1)
		return r.line, nil
	}
}
