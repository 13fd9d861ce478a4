package emulator

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
)

// init turns this process into a sandbox child when the parent asked for
// one (see Sandbox): it serves calls on stdin/stdout and exits, before any
// main or test runner starts. This is the usual re-exec pattern; it needs
// an init because a test binary's main cannot be changed.
func init() {
	if _, ok := os.LookupEnv(sandboxEnv); !ok {
		return
	}
	if err := serveChild(os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "emulator sandbox child:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// serveChild answers calls until its input ends. Its first frame carries
// the blockchain config.
func serveChild(in io.Reader, out io.Writer) error {
	dec := json.NewDecoder(bufio.NewReaderSize(in, 64<<10))
	w := bufio.NewWriterSize(out, 64<<10)
	enc := json.NewEncoder(w)
	reply := func(r response) error {
		if err := enc.Encode(r); err != nil {
			return err
		}
		return w.Flush()
	}
	var first request
	if err := dec.Decode(&first); err != nil {
		return fmt.Errorf("reading the config: %w", err)
	}
	cfg, err := NewConfig(first.Config)
	if err != nil {
		return reply(response{Err: err.Error()})
	}
	defer cfg.Close()
	tx, err := NewTxEmulator(first.Config)
	if err != nil {
		return reply(response{Err: err.Error()})
	}
	defer tx.Close()
	if err := reply(response{}); err != nil {
		return err
	}
	s := childState{cfg: cfg, tx: tx}
	for {
		var req request
		if err := dec.Decode(&req); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("reading a call: %w", err)
		}
		if err := reply(s.serve(req)); err != nil {
			return err
		}
	}
}

// childState is a child's emulators and the libraries last set on its
// transaction emulator.
type childState struct {
	cfg  *Config
	tx   *TxEmulator
	libs string
}

func (s *childState) serve(req request) response {
	switch {
	case req.Get != nil:
		r, err := s.cfg.RunGetMethod(*req.Get)
		if err != nil {
			return response{Err: err.Error()}
		}
		return response{Get: r}
	case req.CheckLibs != "":
		if err := s.tx.SetLibs(req.CheckLibs); err != nil {
			return response{Err: err.Error()}
		}
		s.libs = req.CheckLibs
		return response{}
	case req.Tx != nil:
		r, err := s.emulate(req.Tx)
		if err != nil {
			return response{Err: err.Error()}
		}
		return response{Tx: r}
	}
	return response{Err: "emulator sandbox: an empty call"}
}

func (s *childState) emulate(c *TxCall) (*TxResult, error) {
	if c.Libs != s.libs && c.Libs != "" {
		if err := s.tx.SetLibs(c.Libs); err != nil {
			return nil, err
		}
		s.libs = c.Libs
	}
	if err := s.tx.SetUnixtime(c.Unixtime); err != nil {
		return nil, err
	}
	if err := s.tx.SetLT(c.LT); err != nil {
		return nil, err
	}
	if err := s.tx.SetRandSeed(c.RandSeed); err != nil {
		return nil, err
	}
	if err := s.tx.SetIgnoreChksig(c.IgnoreChksig); err != nil {
		return nil, err
	}
	return s.tx.Emulate(c.Shard, c.Message)
}
