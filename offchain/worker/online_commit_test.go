package worker

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"math/big"
	"net/http"
	"strings"
	"testing"

	"github.com/xssnick/tonutils-go/address"

	"github.com/cocoon-network/cocoon/offchain/channel"
	"github.com/cocoon-network/cocoon/offchain/devnet"
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

// When the worker asks for a commit: past the threshold, or any earnings
// while shutting down; never without a gas wallet, while an exchange runs,
// or for a channel that is not open.
func TestCommitWanted(t *testing.T) {
	w := newOnlineWorker(t, "0.1", 1, 0, 0)
	store, err := channel.OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	payout := address.MustParseAddr("EQCD39VS5jcptHL8vMjEXrzGaRcCVYto7HUn4bpAOg8xqB2N")
	payee, err := channel.NewPayee(channel.PayeeConfig{Net: (*devnet.Engine)(nil), Key: key, Payout: payout, Store: store})
	if err != nil {
		t.Fatal(err)
	}
	var id channel.ID
	id[0] = 9
	put := func(phase channel.Phase, sent, withdrawn int64) {
		t.Helper()
		v, err := channel.SignState(key, id, 3, big.NewInt(sent))
		if err != nil {
			t.Fatal(err)
		}
		err = store.Put(&channel.Record{Role: channel.RolePayee, Phase: phase, Voucher: &v, Withdrawn: big.NewInt(withdrawn),
			Terms: channel.Terms{ID: id, PayerKey: key.Public().(ed25519.PublicKey), PayeeKey: key.Public().(ed25519.PublicKey),
				PayerAddress: payout, PayeeAddress: payout, Closing: channel.DefaultClosing(), StorageFee: channel.DefaultStorageFee()},
			Address: payout, Deposit: big.NewInt(1e9)})
		if err != nil {
			t.Fatal(err)
		}
	}
	o := w.d.online
	for _, tc := range []struct {
		name              string
		phase             channel.Phase
		sent, withdrawn   int64
		above             int64
		closing, noWallet bool
		running           bool
		payer             string
		want              int64 // 0: no commit asked
	}{
		{name: "past the threshold", phase: channel.PhaseOpen, sent: 1e8, above: 5e7, want: 1e8},
		{name: "part already withdrawn", phase: channel.PhaseOpen, sent: 1e8, withdrawn: 4e7, above: 5e7, want: 6e7},
		{name: "below the threshold", phase: channel.PhaseOpen, sent: 1e8, above: 2e8},
		{name: "shutting down, below the threshold", phase: channel.PhaseOpen, sent: 1e8, above: 2e8, closing: true, want: 1e8},
		{name: "shutting down, nothing uncommitted", phase: channel.PhaseOpen, sent: 1e8, withdrawn: 1e8, above: 2e8, closing: true},
		{name: "no gas wallet", phase: channel.PhaseOpen, sent: 1e8, above: 5e7, noWallet: true},
		{name: "an exchange under way", phase: channel.PhaseOpen, sent: 1e8, above: 5e7, running: true},
		{name: "channel closing", phase: channel.PhaseClosing, sent: 1e8, above: 5e7, closing: true},
		{name: "payer not a channel", phase: channel.PhaseOpen, sent: 1e8, above: 5e7, payer: "not-a-channel"},
		{name: "unknown channel", phase: channel.PhaseOpen, sent: 1e8, above: 5e7, payer: strings.Repeat("ab", 16)},
	} {
		put(tc.phase, tc.sent, tc.withdrawn)
		o.mu.Lock()
		o.payee, o.canCommit, o.closing, o.commitAbove = payee, !tc.noWallet, tc.closing, big.NewInt(tc.above)
		delete(o.commits, id)
		if tc.running {
			o.commits[id] = &commitExchange{}
		}
		o.mu.Unlock()
		payer := tc.payer
		if payer == "" {
			payer = id.String()
		}
		got := o.commitWanted(payer)
		if (got == nil) != (tc.want == 0) || (got != nil && got.Int64() != tc.want) {
			t.Errorf("%s: asked %v, want %d", tc.name, got, tc.want)
		}
	}
}
