// Package check names the individual checks an attestation verifier runs,
// records their outcome in order, and carries the first failure as a typed
// error, so that every refusal says which check refused and why.
package check

import (
	"errors"
	"fmt"
)

// Error is a refusal: Check is the stable name of the first check that
// failed (documented in docs/ATTESTATION.md), Err says why.
type Error struct {
	Check string
	Err   error
}

func (e *Error) Error() string {
	if e.Err == nil {
		return e.Check + ": failed"
	}
	return e.Check + ": " + e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }

// Failf builds an Error for check name with a formatted reason.
func Failf(name, format string, args ...any) *Error {
	return &Error{Check: name, Err: fmt.Errorf(format, args...)}
}

// Name returns the failing check's name of err, or "" when err carries no
// Error.
func Name(err error) string {
	var ce *Error
	if errors.As(err, &ce) {
		return ce.Check
	}
	return ""
}

// Status is the outcome of one check.
type Status string

const (
	Passed  Status = "pass"
	Failed  Status = "fail"
	Skipped Status = "skip"
)

// Result is one check as it ran: its name, outcome, and a short detail
// (why it was skipped, what it found, or why it failed).
type Result struct {
	Check  string `json:"check"`
	Status Status `json:"status"`
	Detail string `json:"detail,omitempty"`
}

// Log records checks in the order they ran. The zero value is ready to use;
// a nil *Log discards everything, which keeps call sites free of nil tests.
type Log struct {
	Results []Result
}

// Pass records that check name passed.
func (l *Log) Pass(name, detail string) {
	if l != nil {
		l.Results = append(l.Results, Result{Check: name, Status: Passed, Detail: detail})
	}
}

// Skip records that check name did not run, and why.
func (l *Log) Skip(name, why string) {
	if l != nil {
		l.Results = append(l.Results, Result{Check: name, Status: Skipped, Detail: why})
	}
}

// Fail records that check name failed and returns the refusal to hand up.
func (l *Log) Fail(name string, err error) *Error {
	if l != nil {
		l.Results = append(l.Results, Result{Check: name, Status: Failed, Detail: err.Error()})
	}
	return &Error{Check: name, Err: err}
}

// Failf is Fail with a formatted reason.
func (l *Log) Failf(name, format string, args ...any) *Error {
	return l.Fail(name, fmt.Errorf(format, args...))
}

// Run runs fn as check name and records its outcome; the error it returns
// is nil or an *Error naming the check.
func (l *Log) Run(name string, fn func() (detail string, err error)) error {
	detail, err := fn()
	if err != nil {
		return l.Fail(name, err)
	}
	l.Pass(name, detail)
	return nil
}
