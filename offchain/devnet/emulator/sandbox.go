package emulator

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"
)

// A Sandbox runs emulator calls on untrusted input in child processes, so
// that an abort inside libemulator (an uncaught C++ exception, a failed
// assertion, a segfault: nothing Go's recover can catch) costs the one call
// and one child, never the process that serves the chain.
//
// The children are this same executable started again with sandboxEnv set:
// the package's init (child.go) serves calls instead of running main, so
// the cocoon binary and every test binary that links the devnet can host
// them without a helper binary to build or find. A child holds no chain
// state: each call carries the account, the message or the code and data,
// and the libraries it needs.
//
// Children are started on demand, at most MaxProcs at once, and reused. A
// child that dies is reaped and the call reports ErrCrashed; the next call
// starts a fresh one.
type Sandbox struct {
	cfgB64   string
	maxProcs int
	timeout  time.Duration
	exe      string

	mu      sync.Mutex
	idle    []*child
	running int // children started and not yet reaped
	closed  bool
	done    chan struct{} // closed by Close
	free    chan struct{} // a child became idle or was reaped
	crashes uint64
}

// ErrCrashed is wrapped by the error of a call whose child process died:
// the input made the emulator abort (or the child was killed).
var ErrCrashed = errors.New("the emulator process died on this input")

var errSandboxClosed = errors.New("emulator sandbox closed: the devnet closed")

// SandboxStats counts what the sandbox did since it was created.
type SandboxStats struct {
	Crashes uint64 // children that died during a call
	Running int    // children alive now
}

// sandboxEnv marks a child; its value is ignored.
const sandboxEnv = "COCOON_EMULATOR_SANDBOX"

// DefaultMaxProcs is how many children serve calls at once by default:
// enough to keep two cores busy, few enough to start quickly.
const DefaultMaxProcs = 2

// DefaultCallTimeout bounds one call; gas already bounds a get-method, so
// only a hung library reaches it.
const DefaultCallTimeout = 20 * time.Second

// NewSandbox prepares a sandbox for the config (base64 BOC of the
// ConfigParams root); no child starts before the first call.
func NewSandbox(configB64 string, maxProcs int) (*Sandbox, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("emulator sandbox: finding this executable: %w", err)
	}
	if maxProcs <= 0 {
		maxProcs = DefaultMaxProcs
	}
	return &Sandbox{
		cfgB64:   configB64,
		maxProcs: maxProcs,
		timeout:  DefaultCallTimeout,
		exe:      exe,
		free:     make(chan struct{}, 1),
		done:     make(chan struct{}),
	}, nil
}

// Stats reports crashes and live children.
func (s *Sandbox) Stats() SandboxStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return SandboxStats{Crashes: s.crashes, Running: s.running}
}

// TxCall is one transaction emulated on a given state: the account, the
// inbound message, and what the block would set.
type TxCall struct {
	Shard, Message string // base64 ShardAccount and Message BOCs
	Libs           string // base64 libraries dictionary, or ""
	Unixtime       uint32
	LT             uint64
	RandSeed       [32]byte
	IgnoreChksig   bool
}

// RunGetMethod runs call in a child.
func (s *Sandbox) RunGetMethod(ctx context.Context, call GetMethodCall) (*GetMethodResult, error) {
	var res response
	if err := s.do(ctx, request{Get: &call}, &res); err != nil {
		return nil, err
	}
	if res.Get == nil {
		return nil, errors.New("emulator sandbox: an answer without a get-method result")
	}
	return res.Get, nil
}

// Emulate runs call in a child.
func (s *Sandbox) Emulate(ctx context.Context, call TxCall) (*TxResult, error) {
	var res response
	if err := s.do(ctx, request{Tx: &call}, &res); err != nil {
		return nil, err
	}
	if res.Tx == nil {
		return nil, errors.New("emulator sandbox: an answer without a transaction result")
	}
	return res.Tx, nil
}

// CheckLibs has a child's transaction emulator load libs (a base64
// libraries dictionary): an error when the library refuses it.
func (s *Sandbox) CheckLibs(ctx context.Context, libs string) error {
	var res response
	return s.do(ctx, request{CheckLibs: libs}, &res)
}

// Close stops every child; calls in flight fail.
func (s *Sandbox) Close() {
	s.mu.Lock()
	if !s.closed {
		s.closed = true
		close(s.done)
	}
	idle := s.idle
	s.idle = nil
	s.mu.Unlock()
	for _, c := range idle {
		c.stop()
	}
}

func (s *Sandbox) do(ctx context.Context, req request, res *response) error {
	c, err := s.take(ctx)
	if err != nil {
		return err
	}
	callCtx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	if err := c.call(callCtx, req, res); err != nil {
		if ctx.Err() != nil {
			// The caller gave up: the child was stopped, not crashed.
			s.reap(c, false)
			return fmt.Errorf("emulator sandbox: %w", ctx.Err())
		}
		s.reap(c, true)
		if callCtx.Err() != nil {
			return fmt.Errorf("%w: no answer in %s", ErrCrashed, s.timeout)
		}
		return err
	}
	s.put(c)
	if res.Err != "" {
		return errors.New(res.Err)
	}
	return nil
}

// take returns an idle child, starts one when fewer than maxProcs run, or
// waits for one to free up.
func (s *Sandbox) take(ctx context.Context) (*child, error) {
	for {
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return nil, errSandboxClosed
		}
		if n := len(s.idle); n > 0 {
			c := s.idle[n-1]
			s.idle = s.idle[:n-1]
			s.mu.Unlock()
			return c, nil
		}
		if s.running < s.maxProcs {
			s.running++
			s.mu.Unlock()
			c, err := startChild(ctx, s.exe, s.cfgB64)
			if err != nil {
				s.mu.Lock()
				s.running--
				s.mu.Unlock()
				s.signal()
				return nil, err
			}
			return c, nil
		}
		s.mu.Unlock()
		select {
		case <-s.free:
		case <-s.done:
		case <-ctx.Done():
			return nil, fmt.Errorf("emulator sandbox: waiting for a free emulator: %w", ctx.Err())
		}
	}
}

func (s *Sandbox) put(c *child) {
	s.mu.Lock()
	if s.closed {
		s.running--
		s.mu.Unlock()
		c.stop()
		return
	}
	s.idle = append(s.idle, c)
	s.mu.Unlock()
	s.signal()
}

func (s *Sandbox) reap(c *child, crashed bool) {
	c.stop()
	s.mu.Lock()
	s.running--
	if crashed {
		s.crashes++
	}
	s.mu.Unlock()
	s.signal()
}

func (s *Sandbox) signal() {
	select {
	case s.free <- struct{}{}:
	default:
	}
}

// request and response are the frames between parent and child, one JSON
// value each way per call.
type request struct {
	Config    string         `json:",omitempty"` // first frame only
	CheckLibs string         `json:",omitempty"`
	Get       *GetMethodCall `json:",omitempty"`
	Tx        *TxCall        `json:",omitempty"`
}

type response struct {
	Get *GetMethodResult `json:",omitempty"`
	Tx  *TxResult        `json:",omitempty"`
	Err string           `json:",omitempty"`
}

// child is one running sandbox process.
type child struct {
	cmd    *exec.Cmd
	in     io.WriteCloser
	enc    *json.Encoder
	dec    *json.Decoder
	stderr *tailBuffer
	done   chan struct{} // closed when the process was waited for
}

func startChild(ctx context.Context, exe, cfgB64 string) (*child, error) {
	cmd := exec.Command(exe)
	// The argument only names the process for ps and top: the child's
	// init serves calls before any flag is read.
	cmd.Args = []string{exe, "emulator-sandbox"}
	cmd.Env = append(os.Environ(), sandboxEnv+"=1")
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("emulator sandbox: %w", err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("emulator sandbox: %w", err)
	}
	tail := &tailBuffer{max: 2048}
	cmd.Stderr = tail
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("emulator sandbox: starting %s: %w", exe, err)
	}
	c := &child{
		cmd: cmd, in: in, stderr: tail, done: make(chan struct{}),
		enc: json.NewEncoder(in), dec: json.NewDecoder(bufio.NewReaderSize(out, 64<<10)),
	}
	go func() { _ = cmd.Wait(); close(c.done) }()
	var ready response
	if err := c.call(ctx, request{Config: cfgB64}, &ready); err != nil {
		c.stop()
		return nil, fmt.Errorf("emulator sandbox: starting a child: %w", err)
	}
	if ready.Err != "" {
		c.stop()
		return nil, fmt.Errorf("emulator sandbox: starting a child: %s", ready.Err)
	}
	return c, nil
}

// call sends req and reads the answer; the child is killed when ctx ends
// first.
func (c *child) call(ctx context.Context, req request, res *response) error {
	stop := context.AfterFunc(ctx, func() { _ = c.cmd.Process.Kill() })
	defer stop()
	if err := c.enc.Encode(req); err != nil {
		return c.died("sending the call", err)
	}
	if err := c.dec.Decode(res); err != nil {
		return c.died("reading the answer", err)
	}
	return nil
}

// died describes the child's end after an I/O error on its pipes.
func (c *child) died(what string, ioErr error) error {
	select {
	case <-c.done:
	case <-time.After(2 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.done
	}
	how := "it exited"
	if st := c.cmd.ProcessState; st != nil {
		how = st.String()
	}
	msg := strings.TrimSpace(c.stderr.String())
	if i := strings.LastIndexByte(msg, '\n'); i >= 0 {
		msg = msg[i+1:]
	}
	if msg != "" {
		return fmt.Errorf("%w (%s: %s; %s: %v)", ErrCrashed, how, msg, what, ioErr)
	}
	return fmt.Errorf("%w (%s; %s: %v)", ErrCrashed, how, what, ioErr)
}

func (c *child) stop() {
	_ = c.in.Close()
	select {
	case <-c.done:
		return
	case <-time.After(time.Second):
	}
	_ = c.cmd.Process.Kill()
	<-c.done
}

// tailBuffer keeps the last max bytes written to it: a child's stderr,
// for the message when it dies.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if over := len(t.b) - t.max; over > 0 {
		t.b = append(t.b[:0], t.b[over:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}
