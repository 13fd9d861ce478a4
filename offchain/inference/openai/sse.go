package openai

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
)

// maxLine bounds one SSE line. A chunk carries a few tokens; a line this
// long means the peer is not an inference server.
const maxLine = 1 << 20

// event is one dispatched server-sent event.
type event struct {
	name string // "event:" field; "" for the default "message"
	data string // "data:" lines joined with "\n"
}

// sseReader parses the text/event-stream format as the WHATWG HTML
// standard defines it: lines end in LF, CRLF or a lone CR; ":" starts a
// comment; "data:" lines accumulate until a blank line dispatches the
// event; "id:" and "retry:" are ignored (nothing here reconnects).
type sseReader struct {
	sc *bufio.Scanner
}

func newSSEReader(r io.Reader) *sseReader {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxLine)
	sc.Split(lineSplitter())
	return &sseReader{sc: sc}
}

// lineSplitter returns a bufio.SplitFunc for SSE line endings. A CR ends
// the line at once (a lone CR is a valid ending, and waiting for the next
// byte could hold an event back until the following one arrives); when
// the next byte turns out to be LF it is skipped as the rest of a CRLF.
func lineSplitter() bufio.SplitFunc {
	skipLF := false
	return func(data []byte, atEOF bool) (int, []byte, error) {
		skip := 0
		if skipLF && len(data) > 0 {
			skipLF = false
			if data[0] == '\n' {
				skip = 1
			}
		}
		// The LF is consumed together with the next line: bufio.Scanner
		// stops for good on an advance without a token once input is at EOF.
		rest := data[skip:]
		if i := bytes.IndexAny(rest, "\r\n"); i >= 0 {
			skipLF = rest[i] == '\r'
			return skip + i + 1, rest[:i], nil
		}
		if atEOF && len(rest) > 0 {
			return len(data), rest, nil
		}
		return skip, nil, nil
	}
}

// next returns the next event. At the end of input it returns io.EOF; an
// event whose closing blank line never came is still dispatched, because
// some servers end the stream right after "data: [DONE]".
func (r *sseReader) next() (event, error) {
	var (
		ev      event
		data    strings.Builder
		hasData bool
	)
	for r.sc.Scan() {
		line := r.sc.Text()
		if line == "" {
			if hasData {
				ev.data = data.String()
				return ev, nil
			}
			ev = event{} // an event without data is not dispatched
			continue
		}
		if line[0] == ':' {
			continue // comment, often a keep-alive
		}
		field, value, found := strings.Cut(line, ":")
		if found {
			value = strings.TrimPrefix(value, " ")
		}
		switch field {
		case "data":
			if hasData {
				data.WriteByte('\n')
			}
			data.WriteString(value)
			hasData = true
		case "event":
			ev.name = value
		}
	}
	if err := r.sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return event{}, fmt.Errorf("%w: a line is longer than %d bytes", ErrMalformedChunk, maxLine)
		}
		return event{}, err
	}
	if hasData {
		ev.data = data.String()
		return ev, nil
	}
	return event{}, io.EOF
}
