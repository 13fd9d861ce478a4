package sse

import (
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/google/go-cmp/cmp"
)

// event is Event with its data as a string, to compare.
type event struct{ Name, Data string }

func TestReader(t *testing.T) {
	cases := []struct {
		name string
		in   string
		want []event
	}{
		{"lf", "data: a\n\ndata: b\n\n", []event{{Data: "a"}, {Data: "b"}}},
		{"crlf", "data: a\r\n\r\ndata: b\r\n\r\n", []event{{Data: "a"}, {Data: "b"}}},
		{"lone cr", "data: a\r\rdata: b\r\r", []event{{Data: "a"}, {Data: "b"}}},
		{"no space after colon", "data:a\n\n", []event{{Data: "a"}}},
		{"only one space stripped", "data:  a\n\n", []event{{Data: " a"}}},
		{"multi-line data", "data: {\"x\":\ndata: 1}\n\n", []event{{Data: "{\"x\":\n1}"}}},
		{"comments and keep-alives", ": ping\n\n:\ndata: a\n: mid-event\n\n", []event{{Data: "a"}}},
		{"event name", "event: error\ndata: {}\n\n", []event{{Name: "error", Data: "{}"}}},
		{"id and retry ignored", "id: 7\nretry: 10\ndata: a\n\n", []event{{Data: "a"}}},
		{"field without colon", "data\n\n", []event{{Data: ""}}},
		{"event without data not dispatched", "event: x\n\ndata: a\n\n", []event{{Data: "a"}}},
		{"last event without blank line", "data: a\n\ndata: [DONE]", []event{{Data: "a"}, {Data: "[DONE]"}}},
		{"blank lines only", "\n\n\r\n", nil},
		{"crlf ending at eof", "data: a\r\n\r\ndata: [DONE]\r\n", []event{{Data: "a"}, {Data: "[DONE]"}}},
		{"cr ending at eof", "data: a\r\rdata: b\r", []event{{Data: "a"}, {Data: "b"}}},
		{"mixed endings", "data: a\n\r\ndata: b\r\n\n", []event{{Data: "a"}, {Data: "b"}}},
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
				r := NewReader(reader.wrap(strings.NewReader(tc.in)), 1<<10)
				var got []event
				for {
					ev, err := r.Next()
					if err == io.EOF {
						break
					}
					if err != nil {
						t.Fatal(err)
					}
					got = append(got, event{Name: ev.Name, Data: string(ev.Data)})
				}
				if diff := cmp.Diff(tc.want, got); diff != "" {
					t.Errorf("events (-want +got):\n%s", diff)
				}
			})
		}
	}
}

func TestReaderErrors(t *testing.T) {
	const limit = 1 << 10
	for _, in := range []string{
		"data: " + strings.Repeat("x", limit+1) + "\n\n",
		"data: " + strings.Repeat("x", limit+1), // no ending at all
	} {
		if _, err := NewReader(strings.NewReader(in), limit).Next(); !errors.Is(err, ErrLineTooLong) {
			t.Errorf("over-long line: %v", err)
		}
	}
	if ev, err := NewReader(strings.NewReader("data: "+strings.Repeat("x", limit-6)+"\n\n"), limit).Next(); err != nil || len(ev.Data) != limit-6 {
		t.Errorf("a line of exactly the limit: %d bytes, %v", len(ev.Data), err)
	}
	boom := errors.New("boom")
	r := NewReader(io.MultiReader(strings.NewReader("data: a\n"), iotest.ErrReader(boom)), limit)
	if _, err := r.Next(); !errors.Is(err, boom) {
		t.Errorf("read error mid-event: %v", err)
	}
}

// Ready reports what has arrived and not been read.
func TestReaderReady(t *testing.T) {
	r := NewReader(strings.NewReader("data: a\n\ndata: b\n\n"), 1<<10)
	if _, err := r.Next(); err != nil || !r.Ready() {
		t.Fatalf("after the first of two events: ready %v, %v", r.Ready(), err)
	}
	if _, err := r.Next(); err != nil || r.Ready() {
		t.Fatalf("after the last event: ready %v, %v", r.Ready(), err)
	}
}

// BenchmarkReader reads a worker-like stream of content chunks; reading
// allocates nothing per event.
func BenchmarkReader(b *testing.B) {
	const chunk = `data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":" word"},"finish_reason":null}]}` + "\n\n"
	stream := strings.NewReader(strings.Repeat(chunk, 1000))
	b.ReportAllocs()
	for b.Loop() {
		_, _ = stream.Seek(0, io.SeekStart)
		r := NewReader(stream, 1<<20)
		for {
			if _, err := r.Next(); err != nil {
				break
			}
		}
	}
}
