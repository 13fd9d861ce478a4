package worker

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/cocoon-network/cocoon/offchain/channel"
)

// The commit exchange's endpoints refuse what they cannot serve with a
// clear 4xx/503 and start nothing. The exchange itself runs on the devnet
// in offchain/gateway/commit_test.go.
func TestCommitEndpointRefusals(t *testing.T) {
	w := newOnlineWorker(t, "0.1", 1, 0, 0)
	var id channel.ID
	id[0] = 7
	payer := map[string]string{}
	noPayer := map[string]string{HeaderPayer: ""}
	post := func(path, body string, headers map[string]string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, w.srv.URL+path, strings.NewReader(body))
		req.Header.Set(HeaderPayer, w.payerID())
		for k, v := range headers {
			if v == "" {
				req.Header.Del(k)
			} else {
				req.Header.Set(k, v)
			}
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.Header.Get(HeaderCommit) != "" {
			t.Fatalf("%s asked for a commit", path)
		}
		var out struct {
			Error struct{ Code string } `json:"error"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out.Error.Code
	}
	// An IOU worker has no channels to commit.
	if code, ecode := post(PathCommit, `{"channel":"`+id.String()+`"}`, payer); code != 503 || ecode != "commits_unavailable" {
		t.Fatalf("commit on an IOU worker: HTTP %d %s", code, ecode)
	}
	// With a payee and a gas wallet (the payee is never reached below).
	w.d.online.mu.Lock()
	w.d.online.payee, w.d.online.canCommit = &channel.Payee{}, true
	w.d.online.commits[id] = &commitExchange{payer: id.String()}
	w.d.online.mu.Unlock()
	tooBig := `{"channel":"` + strings.Repeat("a", maxCommitBody) + `"}`
	for _, tc := range []struct {
		name, path, body string
		headers          map[string]string
		status           int
		code             string
	}{
		{"no payer", PathCommit, `{}`, noPayer, 402, "payer_required"},
		{"bad json", PathCommit, `{"channel":`, payer, 400, "bad_body"},
		{"bad channel id", PathCommit, `{"channel":"xyz"}`, payer, 400, "bad_body"},
		{"too big", PathCommit, tooBig, payer, 413, "body_too_large"},
		{"another payer's channel", PathCommit, `{"channel":"` + id.String() + `"}`, payer, 403, "wrong_channel"},
		{"cosigned without payer", PathCommitCosigned, `{}`, noPayer, 402, "payer_required"},
		{"cosigned bad json", PathCommitCosigned, `[`, payer, 400, "bad_body"},
		{"cosigned, nothing waiting", PathCommitCosigned, `{"Channel":"` + strings.Repeat("00", 16) + `"}`, payer, 404, "no_commit"},
		{"cosigned for another payer's exchange", PathCommitCosigned, `{"Channel":"` + id.String() + `"}`, payer, 404, "no_commit"},
	} {
		if code, ecode := post(tc.path, tc.body, tc.headers); code != tc.status || ecode != tc.code {
			t.Errorf("%s: HTTP %d %s, want %d %s", tc.name, code, ecode, tc.status, tc.code)
		}
	}
}
