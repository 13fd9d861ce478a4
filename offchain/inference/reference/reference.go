// Package reference is Cocoon's built-in protocol-test engine: a
// deterministic, CPU-only stand-in for a language model, so that the whole
// job flow (seal, run, receipt, payment) can be exercised on any machine,
// and so that two runs of the same job give byte-identical results. It
// does not understand anything; it must never be offered as a model.
//
// Tokeniser: a token is a maximal run of non-whitespace characters
// (strings.Fields, Unicode white space). Input tokens are the tokens of
// every message's content; roles and the model name are not counted.
//
// Answer: a function of the model name and the messages only (sampling
// parameters and seed are ignored). Normally it is
//
//	cocoon-reference answer: prompt-sha256=<16 hex> words-in=<n> echo: <first 8 words of the last user message>
//
// where the hex is the start of a sha256 over the model and messages.
// When the last user message contains "repeat N words" (any case), the
// answer is instead exactly N pseudo-random 8-hex-digit words derived from
// the same digest, so tests can ask for answers of any size. Either way
// at most MaxTokens tokens are produced (finish "length" when cut, else
// "stop").
//
// Benchmark mode: when the last user message contains "stream N chunks of
// M bytes", the answer is N deltas of exactly M hex digits each (no
// separating spaces), each counted as one token — the workload of the
// gateway benchmark (50 chunks of 128 bytes).
// Deltas are the tokens, the first bare and the rest preceded by one
// space, so the answer is the tokens joined by single spaces.
package reference

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/cocoon-network/cocoon/offchain/inference"
)

const (
	// Name is what Engine.Name returns.
	Name = "cocoon-reference"
	// Description is what Engine.Description returns.
	Description = "deterministic protocol-test engine, not a language model"
	// MaxRepeat caps N in "repeat N words".
	MaxRepeat = 1 << 20
	// echoWords is how many words of the prompt the normal answer repeats.
	echoWords = 8
)

// repeatRE finds the long-answer instruction.
var repeatRE = regexp.MustCompile(`(?i)\brepeat\s+(\d+)\s+words\b`)

// chunksRE finds the benchmark instruction.
var chunksRE = regexp.MustCompile(`(?i)\bstream\s+(\d+)\s+chunks\s+of\s+(\d+)\s+bytes\b`)

// MaxChunkBytes caps M in "stream N chunks of M bytes".
const MaxChunkBytes = 64 << 10

// Config tunes the engine for tests.
type Config struct {
	// TokenDelay is slept before each token, to simulate a slow engine
	// (deadline and timeout tests). Zero streams as fast as it is read.
	TokenDelay time.Duration
}

// Engine is the reference engine. It is safe for concurrent use.
type Engine struct {
	delay time.Duration
}

// New returns a reference engine.
func New(cfg Config) *Engine { return &Engine{delay: max(cfg.TokenDelay, 0)} }

// Name implements inference.Engine.
func (e *Engine) Name() string { return Name }

// Description implements inference.Engine.
func (e *Engine) Description() string { return Description }

// Chat implements inference.Engine. Any model name is accepted: choosing
// which models a worker serves is the worker's business.
func (e *Engine) Chat(ctx context.Context, req inference.Request) (inference.Stream, error) {
	if err := req.Validate(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("reference: %w", err)
	}
	digest := promptDigest(req)
	in := 0
	for _, m := range req.Messages {
		in += len(strings.Fields(m.Content))
	}
	s := &stream{ctx: ctx, delay: e.delay, digest: digest, max: req.MaxTokens, in: in, stop: req.Stop}
	last := lastUserContent(req.Messages)
	if m := chunksRE.FindStringSubmatch(last); m != nil {
		n, err := strconv.Atoi(m[1])
		if err != nil || n > MaxRepeat {
			n = MaxRepeat
		}
		size, err := strconv.Atoi(m[2])
		if err != nil || size > MaxChunkBytes {
			size = MaxChunkBytes
		}
		s.total, s.chunk = n, max(size, 1)
		s.word = s.chunkWord
	} else if m := repeatRE.FindStringSubmatch(last); m != nil {
		n, err := strconv.Atoi(m[1])
		if err != nil || n > MaxRepeat {
			n = MaxRepeat
		}
		s.total = n
		s.word = s.hashWord
	} else {
		echo := strings.Fields(last)
		if len(echo) > echoWords {
			echo = echo[:echoWords]
		}
		s.words = append(strings.Fields(fmt.Sprintf(
			"cocoon-reference answer: prompt-sha256=%s words-in=%d echo:",
			hex.EncodeToString(digest[:8]), in)), echo...)
		s.total = len(s.words)
		s.word = func(i int) string { return s.words[i] }
	}
	return s, nil
}

// promptDigest hashes the model and messages with length prefixes, so
// that no two different requests share an encoding.
func promptDigest(req inference.Request) [32]byte {
	h := sha256.New()
	field := func(s string) {
		h.Write(binary.AppendUvarint(nil, uint64(len(s))))
		h.Write([]byte(s))
	}
	field("cocoon-reference/v1")
	field(req.Model)
	for _, m := range req.Messages {
		field(m.Role)
		field(m.Content)
	}
	var d [32]byte
	h.Sum(d[:0])
	return d
}

// lastUserContent is the content the answer is about: the last "user"
// message, or the last message when no role is "user".
func lastUserContent(msgs []inference.Message) string {
	for i := len(msgs) - 1; i >= 0; i-- {
		if msgs[i].Role == "user" {
			return msgs[i].Content
		}
	}
	return msgs[len(msgs)-1].Content
}

type stream struct {
	ctx    context.Context
	delay  time.Duration
	digest [32]byte
	words  []string
	word   func(int) string
	chunk  int // bytes per delta in benchmark mode (0: words)
	total  int // tokens the full answer has
	max    int // MaxTokens
	in     int
	next   int // tokens emitted
	err    error
	closed bool
	// stop sequences: the answer ends before the first one (stopped), as
	// an OpenAI-compatible engine's does.
	stop    []string
	text    strings.Builder // the answer so far, while stop sequences are watched
	emitted int             // bytes of text returned by Next
	stopped bool
}

// nextWatched is Next while stop sequences are watched: text is held
// back until no stop sequence can begin in it (as OpenAI-compatible
// engines do), and the answer ends before the first one.
func (s *stream) nextWatched() (string, error) {
	longest := 0
	for _, st := range s.stop {
		longest = max(longest, len(st))
	}
	for {
		if s.stopped || s.next >= s.limit() {
			if out := s.text.String()[s.emitted:]; out != "" && !s.stopped {
				s.emitted = s.text.Len()
				return out, nil
			}
			return "", io.EOF
		}
		w, err := s.produce()
		if err != nil {
			return "", err
		}
		s.text.WriteString(w)
		all := s.text.String()
		first := -1
		for _, st := range s.stop {
			if i := strings.Index(all[s.emitted:], st); i >= 0 && (first < 0 || s.emitted+i < first) {
				first = s.emitted + i
			}
		}
		if first >= 0 {
			s.stopped = true
			if out := all[s.emitted:first]; out != "" {
				s.emitted = first
				return out, nil
			}
			return "", io.EOF
		}
		if safe := len(all) - (longest - 1); safe > s.emitted {
			out := all[s.emitted:safe]
			s.emitted = safe
			return out, nil
		}
	}
}

// hashWord is the i-th word of a long answer: 8 hex digits of
// sha256(digest ‖ i), computed on demand so a long answer costs no memory.
func (s *stream) hashWord(i int) string {
	var buf [36]byte
	copy(buf[:], s.digest[:])
	binary.BigEndian.PutUint32(buf[32:], uint32(i))
	w := sha256.Sum256(buf[:])
	return hex.EncodeToString(w[:4])
}

// chunkWord is the i-th delta of the benchmark mode: s.chunk hex digits
// from sha256(digest ‖ i ‖ j) blocks.
func (s *stream) chunkWord(i int) string {
	out := make([]byte, 0, s.chunk+64)
	var buf [40]byte
	copy(buf[:], s.digest[:])
	binary.BigEndian.PutUint32(buf[32:], uint32(i))
	for j := 0; len(out) < s.chunk; j++ {
		binary.BigEndian.PutUint32(buf[36:], uint32(j))
		h := sha256.Sum256(buf[:])
		out = hex.AppendEncode(out, h[:])
	}
	return string(out[:s.chunk])
}

func (s *stream) limit() int { return min(s.total, s.max) }

// Next implements inference.Stream.
func (s *stream) Next() (string, error) {
	if s.err != nil {
		return "", s.err
	}
	if s.closed {
		return "", fmt.Errorf("reference: stream closed")
	}
	if len(s.stop) > 0 {
		return s.nextWatched()
	}
	if s.next >= s.limit() {
		return "", io.EOF
	}
	return s.produce()
}

// produce paces and returns the next token (with its leading space).
func (s *stream) produce() (string, error) {
	if err := s.wait(); err != nil {
		s.err = fmt.Errorf("reference: stopped after %d tokens: %w", s.next, err)
		return "", s.err
	}
	w := s.word(s.next)
	if s.next > 0 && s.chunk == 0 {
		w = " " + w
	}
	s.next++
	return w, nil
}

func (s *stream) wait() error {
	if s.delay <= 0 {
		return s.ctx.Err()
	}
	t := time.NewTimer(s.delay)
	defer t.Stop()
	select {
	case <-s.ctx.Done():
		return s.ctx.Err()
	case <-t.C:
		return nil
	}
}

// Result implements inference.Stream. Usage is always known: the engine
// counts with its own tokeniser.
func (s *stream) Result() inference.Result {
	r := inference.Result{Usage: &inference.Usage{InputTokens: s.in, OutputTokens: s.next}}
	if s.stopped && s.err == nil {
		r.FinishReason = inference.FinishStop
		return r
	}
	if s.next >= s.limit() && s.err == nil {
		r.FinishReason = inference.FinishStop
		if s.total > s.max {
			r.FinishReason = inference.FinishLength
		}
	}
	return r
}

// Close implements inference.Stream.
func (s *stream) Close() error {
	s.closed = true
	return nil
}
