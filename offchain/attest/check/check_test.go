package check

import (
	"errors"
	"fmt"
	"testing"
)

func TestLog(t *testing.T) {
	var l Log
	l.Pass("a", "fine")
	l.Skip("b", "why not")
	err := l.Run("c", func() (string, error) { return "", errors.New("broken") })
	if err == nil || Name(err) != "c" || err.Error() != "c: broken" {
		t.Fatalf("Run: %v", err)
	}
	if err := l.Run("d", func() (string, error) { return "ok", nil }); err != nil {
		t.Fatalf("Run passing: %v", err)
	}
	want := []Result{{"a", Passed, "fine"}, {"b", Skipped, "why not"}, {"c", Failed, "broken"}, {"d", Passed, "ok"}}
	if fmt.Sprint(l.Results) != fmt.Sprint(want) {
		t.Errorf("results %v", l.Results)
	}
	var nilLog *Log
	if e := nilLog.Failf("x", "n=%d", 1); e.Check != "x" || e.Error() != "x: n=1" {
		t.Errorf("nil log Fail: %v", e)
	}
	nilLog.Pass("x", "")
	nilLog.Skip("x", "")
}

func TestName(t *testing.T) {
	inner := Failf("quote_signature", "bad")
	for _, c := range []struct {
		err  error
		want string
	}{
		{nil, ""},
		{errors.New("plain"), ""},
		{inner, "quote_signature"},
		{fmt.Errorf("wrapped: %w", inner), "quote_signature"},
	} {
		if got := Name(c.err); got != c.want {
			t.Errorf("Name(%v) = %q, want %q", c.err, got, c.want)
		}
	}
	if !errors.Is(&Error{Check: "x", Err: errSentinel}, errSentinel) {
		t.Error("Error does not unwrap")
	}
	if (&Error{Check: "x"}).Error() != "x: failed" {
		t.Error("nil reason")
	}
}

var errSentinel = errors.New("sentinel")
