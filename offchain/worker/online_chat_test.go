package worker

import (
	"encoding/json"
	"testing"

	"github.com/cocoon-network/cocoon/offchain/onlineproto"
)

// max_completion_tokens wins over max_tokens, whichever comes first in
// the body; without either the default applies.
func TestChatRequestOutputLimit(t *testing.T) {
	for _, tc := range []struct {
		body  string
		n     int
		param string
	}{
		{`{}`, 100, "max_tokens"},
		{`{"max_tokens":null}`, 100, "max_tokens"},
		{`{"max_tokens":7}`, 7, "max_tokens"},
		{`{"max_completion_tokens":9}`, 9, "max_completion_tokens"},
		{`{"max_tokens":7,"max_completion_tokens":9}`, 9, "max_completion_tokens"},
		{`{"max_completion_tokens":9,"max_tokens":7}`, 9, "max_completion_tokens"},
		{`{"max_tokens":0}`, 0, "max_tokens"},
	} {
		var cr onlineproto.ChatRequest
		if err := json.Unmarshal([]byte(tc.body), &cr); err != nil {
			t.Fatalf("%s: %v", tc.body, err)
		}
		if n, param := cr.OutputLimit(100); n != tc.n || param != tc.param {
			t.Errorf("%s: %d from %s, want %d from %s", tc.body, n, param, tc.n, tc.param)
		}
	}
}
