package reference

import (
	"context"
	"errors"
	"io"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cocoon-network/cocoon/offchain/inference"
)

func req(maxTokens int, msgs ...string) inference.Request {
	r := inference.Request{Model: "test-model", MaxTokens: maxTokens}
	for i, m := range msgs {
		role := "user"
		if i%2 == 1 {
			role = "assistant"
		}
		r.Messages = append(r.Messages, inference.Message{Role: role, Content: m})
	}
	return r
}

func run(t *testing.T, r inference.Request) (string, inference.Result) {
	t.Helper()
	s, err := New(Config{}).Chat(t.Context(), r)
	if err != nil {
		t.Fatal(err)
	}
	text, res, err := inference.Collect(s)
	if err != nil {
		t.Fatal(err)
	}
	return text, res
}

func TestIdentity(t *testing.T) {
	e := New(Config{})
	var _ inference.Engine = e
	if e.Name() != "cocoon-reference" || e.Description() != "deterministic protocol-test engine, not a language model" {
		t.Errorf("Name %q Description %q", e.Name(), e.Description())
	}
}

// TestGolden pins the answer function: a change here changes every
// result hash that protocol tests recorded. The digests were computed
// independently (Python hashlib) from the rule in the package comment.
func TestGolden(t *testing.T) {
	text, res := run(t, req(100, "Hello there, reference engine!"))
	const want = "cocoon-reference answer: prompt-sha256=a11742ff6dedd589 words-in=4 echo: Hello there, reference engine!"
	if text != want {
		t.Errorf("answer\n %q\nwant\n %q", text, want)
	}
	if res.FinishReason != inference.FinishStop {
		t.Errorf("finish reason %q, want %q", res.FinishReason, inference.FinishStop)
	}
	if diff := cmp.Diff(inference.Usage{InputTokens: 4, OutputTokens: 9}, *res.Usage); diff != "" {
		t.Errorf("usage (-want +got):\n%s", diff)
	}
	// Computed independently (Python hashlib) from the documented rule.
	if text, _ := run(t, req(100, "repeat 2 words")); text != "4ca1ac60 c37f8a9b" {
		t.Errorf("repeat answer %q, want %q", text, "4ca1ac60 c37f8a9b")
	}
}

func TestDeterministic(t *testing.T) {
	base := req(64, "What is TON?", "A blockchain.", "And Cocoon?")
	a, _ := run(t, base)
	b, _ := run(t, base)
	if a != b {
		t.Fatal("same request, different answers")
	}
	seeded := base
	temp, seed := 1.5, int64(42)
	seeded.Temperature, seeded.Seed = &temp, &seed
	if c, _ := run(t, seeded); c != a {
		t.Error("sampling parameters changed the answer")
	}
	for name, r := range map[string]inference.Request{
		"other model":   {Model: "other", Messages: base.Messages, MaxTokens: 64},
		"other content": req(64, "What is TON?", "A blockchain.", "And Cocoon!"),
		"other split":   req(64, "What is TON?A", " blockchain.", "And Cocoon?"),
	} {
		if d, _ := run(t, r); d == a {
			t.Errorf("%s: same answer", name)
		}
	}
}

func TestTokeniser(t *testing.T) {
	for _, tc := range []struct {
		msgs []string
		in   int
	}{
		{[]string{"one"}, 1},
		{[]string{"  two\twords\n"}, 2},
		{[]string{"a b", "c d e", "f"}, 6},
		{[]string{"non\u00a0breaking\u2003space"}, 3},
		{[]string{""}, 0},
		{[]string{"punctuation, counts. as part-of words!"}, 5},
	} {
		_, res := run(t, req(1000, tc.msgs...))
		if res.Usage.InputTokens != tc.in {
			t.Errorf("%q: %d input tokens, want %d", tc.msgs, res.Usage.InputTokens, tc.in)
		}
	}
}

func TestEcho(t *testing.T) {
	text, _ := run(t, req(100, "first question", "an answer", "one two three four five six seven eight nine ten"))
	if !strings.HasSuffix(text, "echo: one two three four five six seven eight") {
		t.Errorf("echo is not the first 8 words of the last user message: %q", text)
	}
	only := inference.Request{Model: "m", MaxTokens: 100, Messages: []inference.Message{{Role: "system", Content: "sys words"}}}
	if text, _ := run(t, only); !strings.HasSuffix(text, "echo: sys words") {
		t.Errorf("without a user message the last message is echoed: %q", text)
	}
}

var hexWord = regexp.MustCompile(`^[0-9a-f]{8}$`)

func TestRepeat(t *testing.T) {
	for _, tc := range []struct {
		name       string
		prompt     string
		max        int
		wantWords  int
		wantFinish inference.FinishReason
	}{
		{"five", "please repeat 5 words", 100, 5, inference.FinishStop},
		{"case and spacing", "REPEAT   3\tWords now", 100, 3, inference.FinishStop},
		{"larger than any inline limit", "repeat 5000 words", 10000, 5000, inference.FinishStop},
		{"cut by max tokens", "repeat 50 words", 20, 20, inference.FinishLength},
		{"exactly max tokens", "repeat 20 words", 20, 20, inference.FinishStop},
		{"zero", "repeat 0 words", 10, 0, inference.FinishStop},
		{"huge n is capped, then cut", "repeat 99999999999999999999 words", 7, 7, inference.FinishLength},
	} {
		t.Run(tc.name, func(t *testing.T) {
			text, res := run(t, req(tc.max, tc.prompt))
			words := strings.Fields(text)
			if len(words) != tc.wantWords || res.Usage.OutputTokens != tc.wantWords || res.FinishReason != tc.wantFinish {
				t.Fatalf("%d words (usage %d), finish %q; want %d, %q", len(words), res.Usage.OutputTokens, res.FinishReason, tc.wantWords, tc.wantFinish)
			}
			if strings.Join(words, " ") != text {
				t.Error("answer is not its words joined by single spaces")
			}
			for _, w := range words {
				if !hexWord.MatchString(w) {
					t.Fatalf("word %q is not 8 hex digits", w)
				}
			}
		})
	}
	// The first words of a cut answer are those of the full one.
	full, _ := run(t, req(100, "repeat 30 words"))
	cut, _ := run(t, req(10, "repeat 30 words"))
	if !strings.HasPrefix(full, cut) {
		t.Error("cutting changed the words")
	}
}

func TestMaxTokensCutsNormalAnswer(t *testing.T) {
	text, res := run(t, req(3, "hello"))
	if !strings.HasPrefix(text, "cocoon-reference answer: prompt-sha256=") || len(strings.Fields(text)) != 3 {
		t.Errorf("answer %q", text)
	}
	if res.FinishReason != inference.FinishLength || res.Usage.OutputTokens != 3 {
		t.Errorf("result %+v usage %+v", res, res.Usage)
	}
}

func TestDeltas(t *testing.T) {
	s, err := New(Config{}).Chat(t.Context(), req(10, "repeat 3 words"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var deltas []string
	for {
		d, err := s.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		deltas = append(deltas, d)
	}
	if len(deltas) != 3 || strings.HasPrefix(deltas[0], " ") || !strings.HasPrefix(deltas[1], " ") || !strings.HasPrefix(deltas[2], " ") {
		t.Errorf("deltas %q: want the first bare, the rest after one space", deltas)
	}
	if _, err := s.Next(); err != io.EOF {
		t.Errorf("Next after the end: %v", err)
	}
}

func TestCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	s, err := New(Config{TokenDelay: 20 * time.Millisecond}).Chat(ctx, req(1000, "repeat 1000 words"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Next(); err != nil {
		t.Fatal(err)
	}
	cancel()
	_, err = s.Next()
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if res := s.Result(); res.FinishReason != "" || res.Usage.OutputTokens != 1 {
		t.Errorf("result after cancel %+v usage %+v", res, res.Usage)
	}
	if _, err := New(Config{}).Chat(ctx, req(10, "x")); !errors.Is(err, context.Canceled) {
		t.Errorf("Chat on a cancelled context: %v", err)
	}
}

func TestInvalidRequest(t *testing.T) {
	for name, r := range map[string]inference.Request{
		"no model":    {Messages: []inference.Message{{Role: "user", Content: "x"}}, MaxTokens: 1},
		"no messages": {Model: "m", MaxTokens: 1},
		"no tokens":   req(0, "x"),
	} {
		if _, err := New(Config{}).Chat(t.Context(), r); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestChunkMode(t *testing.T) {
	e := New(Config{})
	for _, tc := range []struct {
		prompt    string
		maxTokens int
		n, size   int
		finish    inference.FinishReason
	}{
		{"please stream 50 chunks of 128 bytes", 100, 50, 128, inference.FinishStop},
		{"STREAM 3 chunks of 7 bytes", 2, 2, 7, inference.FinishLength},
	} {
		s, err := e.Chat(context.Background(), inference.Request{Model: "m", MaxTokens: tc.maxTokens, Messages: []inference.Message{{Role: "user", Content: tc.prompt}}})
		if err != nil {
			t.Fatal(err)
		}
		var deltas []string
		for {
			d, err := s.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			deltas = append(deltas, d)
		}
		res := s.Result()
		if len(deltas) != tc.n || res.Usage.OutputTokens != tc.n || res.FinishReason != tc.finish {
			t.Fatalf("%q: %d deltas, usage %+v, finish %s", tc.prompt, len(deltas), res.Usage, res.FinishReason)
		}
		for _, d := range deltas {
			if len(d) != tc.size || strings.Trim(d, "0123456789abcdef") != "" {
				t.Fatalf("%q: delta %q", tc.prompt, d)
			}
		}
		if tc.n > 1 && deltas[0] == deltas[1] {
			t.Fatal("chunks repeat")
		}
	}
}

// Stop sequences end the answer before the first of them, as an
// OpenAI-compatible engine's do; the finish reason is stop.
func TestStopSequences(t *testing.T) {
	e := New(Config{})
	answer := func(stop ...string) (string, inference.Result) {
		t.Helper()
		return run(t, inference.Request{Model: "m", MaxTokens: 100, Stop: stop,
			Messages: []inference.Message{{Role: "user", Content: "alpha beta gamma delta"}}})
	}
	full, res := answer()
	if !strings.HasSuffix(full, "echo: alpha beta gamma delta") || res.FinishReason != inference.FinishStop {
		t.Fatalf("answer %q, %+v", full, res)
	}
	for _, c := range []struct {
		stop []string
		want string
	}{
		{[]string{" gamma"}, full[:strings.Index(full, " gamma")]},
		{[]string{"delta", "beta"}, full[:strings.Index(full, "beta")]},
		{[]string{"ta ga"}, full[:strings.Index(full, "ta ga")]}, // across two words
		{[]string{"not in it"}, full},
	} {
		got, res := answer(c.stop...)
		if got != c.want || res.FinishReason != inference.FinishStop {
			t.Errorf("stop %q: %q (%s), want %q", c.stop, got, res.FinishReason, c.want)
		}
	}
	if _, err := e.Chat(context.Background(), inference.Request{Model: "m", MaxTokens: 1, Stop: []string{"a", "b", "c", "d", "e"},
		Messages: []inference.Message{{Role: "user", Content: "x"}}}); err == nil {
		t.Error("five stop sequences accepted")
	}
}
