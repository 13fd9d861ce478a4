package openai

import (
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func TestSSEReader(t *testing.T) {
	cases := []struct {
		name string
		in   string
		want []event
	}{
		{"lf", "data: a\n\ndata: b\n\n", []event{{data: "a"}, {data: "b"}}},
		{"crlf", "data: a\r\n\r\ndata: b\r\n\r\n", []event{{data: "a"}, {data: "b"}}},
		{"lone cr", "data: a\r\rdata: b\r\r", []event{{data: "a"}, {data: "b"}}},
		{"no space after colon", "data:a\n\n", []event{{data: "a"}}},
		{"only one space stripped", "data:  a\n\n", []event{{data: " a"}}},
		{"multi-line data", "data: {\"x\":\ndata: 1}\n\n", []event{{data: "{\"x\":\n1}"}}},
		{"comments and keep-alives", ": ping\n\n:\ndata: a\n: mid-event\n\n", []event{{data: "a"}}},
		{"event name", "event: error\ndata: {}\n\n", []event{{name: "error", data: "{}"}}},
		{"id and retry ignored", "id: 7\nretry: 10\ndata: a\n\n", []event{{data: "a"}}},
		{"field without colon", "data\n\n", []event{{data: ""}}},
		{"event without data not dispatched", "event: x\n\ndata: a\n\n", []event{{data: "a"}}},
		{"last event without blank line", "data: a\n\ndata: [DONE]", []event{{data: "a"}, {data: "[DONE]"}}},
		{"blank lines only", "\n\n\r\n", nil},
		{"crlf ending at eof", "data: a\r\n\r\ndata: [DONE]\r\n", []event{{data: "a"}, {data: "[DONE]"}}},
		{"cr ending at eof", "data: a\r\rdata: b\r", []event{{data: "a"}, {data: "b"}}},
		{"mixed endings", "data: a\n\r\ndata: b\r\n\n", []event{{data: "a"}, {data: "b"}}},
	}
	for _, tc := range cases {
		for _, reader := range []struct {
			name string
			wrap func(io.Reader) io.Reader
		}{
			{"whole", func(r io.Reader) io.Reader { return r }},
			// One byte per read splits every CRLF across reads.
			{"bytewise", iotest.OneByteReader},
			// EOF returned together with the last bytes.
			{"data+eof", iotest.DataErrReader},
		} {
			t.Run(tc.name+"/"+reader.name, func(t *testing.T) {
				r := newSSEReader(reader.wrap(strings.NewReader(tc.in)))
				var got []event
				for {
					ev, err := r.next()
					if err == io.EOF {
						break
					}
					if err != nil {
						t.Fatal(err)
					}
					got = append(got, ev)
				}
				if len(got) != len(tc.want) {
					t.Fatalf("got %d events %q, want %q", len(got), got, tc.want)
				}
				for i := range got {
					if got[i] != tc.want[i] {
						t.Errorf("event %d = %+v, want %+v", i, got[i], tc.want[i])
					}
				}
			})
		}
	}
}

func TestSSEReaderErrors(t *testing.T) {
	long := "data: " + strings.Repeat("x", maxLine+1) + "\n\n"
	if _, err := newSSEReader(strings.NewReader(long)).next(); !errors.Is(err, ErrMalformedChunk) {
		t.Errorf("over-long line: %v", err)
	}
	boom := errors.New("boom")
	r := newSSEReader(io.MultiReader(strings.NewReader("data: a\n"), iotest.ErrReader(boom)))
	if _, err := r.next(); !errors.Is(err, boom) {
		t.Errorf("read error mid-event: %v", err)
	}
}
