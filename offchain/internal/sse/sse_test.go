package sse

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// flushCounter records each write and whether a flush followed it.
type flushCounter struct {
	*httptest.ResponseRecorder
	flushes int
}

func (f *flushCounter) Flush() { f.flushes++; f.ResponseRecorder.Flush() }

// ready is a producer whose next event is, or is not, there.
type ready bool

func (r ready) Ready() bool { return bool(r) }

func TestWriter(t *testing.T) {
	for _, tc := range []struct {
		name    string
		src     Producer
		steps   func(*Writer) error
		body    string
		flushes int
	}{
		{
			name:    "a trickle leaves at once",
			src:     ready(false),
			steps:   func(s *Writer) error { return s.Send([]byte("data: 1\n\n")) },
			body:    "data: 1\n\n",
			flushes: 1,
		},
		{
			name:    "a burst waits for its end",
			src:     ready(true),
			steps:   func(s *Writer) error { return s.Send([]byte("data: 1\n\n")) },
			body:    "data: 1\n\n",
			flushes: 0,
		},
		{
			name:    "no producer to ask",
			steps:   func(s *Writer) error { return s.Send([]byte("data: 1\n\n")) },
			body:    "data: 1\n\n",
			flushes: 1,
		},
		{
			name:    "JSON event",
			src:     ready(false),
			steps:   func(s *Writer) error { return s.JSON(map[string]any{"error": map[string]string{"code": "x"}}) },
			body:    "data: {\"error\":{\"code\":\"x\"}}\n\n",
			flushes: 1,
		},
		{
			name: "Write holds the last event for Close",
			src:  ready(false),
			steps: func(s *Writer) error {
				if err := s.Write([]byte("data: usage\n\n")); err != nil {
					return err
				}
				return s.Close()
			},
			body:    "data: usage\n\ndata: [DONE]\n\n",
			flushes: 1,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := &flushCounter{ResponseRecorder: httptest.NewRecorder()}
			s := New(rec, tc.src)
			if err := tc.steps(&s); err != nil {
				t.Fatal(err)
			}
			if rec.Code != http.StatusOK {
				t.Errorf("status %d", rec.Code)
			}
			want := http.Header{"Content-Type": {"text/event-stream"}, "Cache-Control": {"no-cache"}}
			if d := cmp.Diff(want, rec.Header()); d != "" {
				t.Errorf("headers (-want +got):\n%s", d)
			}
			if d := cmp.Diff(tc.body, rec.Body.String()); d != "" {
				t.Errorf("body (-want +got):\n%s", d)
			}
			if rec.flushes != tc.flushes {
				t.Errorf("%d flushes, want %d", rec.flushes, tc.flushes)
			}
		})
	}
}

// A value that cannot be encoded is an error and writes nothing.
func TestWriterJSONError(t *testing.T) {
	rec := httptest.NewRecorder()
	s := New(rec, nil)
	if err := s.JSON(make(chan int)); err == nil {
		t.Fatal("no error for an unencodable event")
	}
	if rec.Body.Len() != 0 {
		t.Fatalf("wrote %q", rec.Body.String())
	}
}
