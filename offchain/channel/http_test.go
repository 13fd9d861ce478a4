package channel

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/xssnick/tonutils-go/address"

	"github.com/cocoon-network/cocoon/offchain/chain"
)

// offline is a network the tests below never reach: Accept and Cosign
// need none.
type offline struct{ chain.Network }

func (offline) Account(context.Context, *address.Address) (*chain.Account, error) {
	return nil, errors.New("offline")
}

func newOfflinePayee(t *testing.T) (*Payee, *address.Address) {
	t.Helper()
	st, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	payout := address.NewAddress(0, 0, make([]byte, 32))
	p, err := NewPayee(PayeeConfig{Net: offline{}, Key: testKey(t), Payout: payout, Store: st})
	if err != nil {
		t.Fatal(err)
	}
	return p, payout
}

func testTerms(t *testing.T, payeeKey ed25519.PublicKey, payout *address.Address) Terms {
	return Terms{
		ID: ID{7}, PayerKey: testKey(t).Public().(ed25519.PublicKey), PayeeKey: payeeKey,
		PayerAddress: address.NewAddress(0, 0, make([]byte, 32)), PayeeAddress: payout,
		Closing: DefaultClosing(),
	}
}

func TestAcceptOverHTTP(t *testing.T) {
	p, payout := newOfflinePayee(t)
	srv := httptest.NewServer(AcceptHandler(p))
	defer srv.Close()
	good := testTerms(t, p.PublicKey(), payout)
	goodJSON, _ := json.Marshal(good)
	short := good
	short.Closing.Quarantine = 2 * time.Minute
	shortJSON, _ := json.Marshal(short)
	other := good
	other.PayeeKey = testKey(t).Public().(ed25519.PublicKey)
	otherJSON, _ := json.Marshal(other)
	cases := []struct {
		name, method, body string
		want               int
	}{
		{"get", http.MethodGet, "", http.StatusMethodNotAllowed},
		{"not json", http.MethodPost, "{", http.StatusBadRequest},
		{"unknown field", http.MethodPost, `{"id":"00000000000000000000000000000000","x":1}`, http.StatusBadRequest},
		{"bad key", http.MethodPost, strings.Replace(string(goodJSON), `"payer_key":"`, `"payer_key":"zz`, 1), http.StatusBadRequest},
		{"too big", http.MethodPost, `{"id":"` + strings.Repeat("a", maxBody) + `"}`, http.StatusRequestEntityTooLarge},
		{"quarantine too short", http.MethodPost, string(shortJSON), http.StatusUnprocessableEntity},
		{"another payee", http.MethodPost, string(otherJSON), http.StatusUnprocessableEntity},
		{"good", http.MethodPost, string(goodJSON), http.StatusOK},
	}
	for _, tc := range cases {
		req, _ := http.NewRequest(tc.method, srv.URL, strings.NewReader(tc.body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("%s: HTTP %d, want %d (%v)", tc.name, resp.StatusCode, tc.want, out)
		}
		if tc.want != http.StatusOK && out["error"] == nil {
			t.Errorf("%s: no error message", tc.name)
		}
	}
}

func TestPeerAcceptAndCosignErrors(t *testing.T) {
	p, payout := newOfflinePayee(t)
	mux := http.NewServeMux()
	mux.Handle(PathAccept, AcceptHandler(p))
	mux.Handle(PathCosign, CosignHandler(p))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	peer := &Peer{URL: srv.URL}
	terms := testTerms(t, p.PublicKey(), payout)
	st, err := peer.Accept(context.Background(), terms)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Verify(p.PublicKey()); err != nil || st.Seqno != 0 || st.Sent.Sign() != 0 {
		t.Fatalf("initial state %+v: %v", st, err)
	}
	again, err := peer.Accept(context.Background(), terms)
	if err != nil || again.String() != st.String() {
		t.Fatalf("accepting the same terms again: %v, %v", again, err)
	}
	// Unknown channel, and a close signed by nobody.
	s := &Settlement{Channel: ID{9}, Voucher: SignedState{Channel: ID{9}, Seqno: 1, Sent: big.NewInt(1), Signature: make([]byte, 64)}}
	if _, err := peer.Cosign(context.Background(), s); err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("cosign of an unknown channel: %v", err)
	}
	s.Channel, s.Voucher.Channel = terms.ID, terms.ID
	// A channel not yet open on chain countersigns nothing.
	if _, err := peer.Cosign(context.Background(), s); err == nil || !strings.Contains(err.Error(), "not open") {
		t.Fatalf("cosign on a channel not open: %v", err)
	}
}

// BenchmarkReceive is the payee's whole per-request cost: decode, verify
// and the durable (fsynced) store write.
func BenchmarkReceive(b *testing.B) {
	st, err := OpenStore(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	payerKey := testKey(b)
	payout := address.NewAddress(0, 0, make([]byte, 32))
	p, err := NewPayee(PayeeConfig{Net: offline{}, Key: testKey(b), Payout: payout, Store: st})
	if err != nil {
		b.Fatal(err)
	}
	terms := Terms{ID: ID{5}, PayerKey: payerKey.Public().(ed25519.PublicKey), PayeeKey: p.PublicKey(),
		PayerAddress: payout, PayeeAddress: payout, Closing: DefaultClosing()}
	hello, err := p.Accept(context.Background(), terms, "test")
	if err != nil {
		b.Fatal(err)
	}
	rec, _ := st.Get(terms.ID)
	rec.Phase, rec.Deposit, rec.PayeeState = PhaseOpen, new(big.Int).Lsh(big.NewInt(1), 100), &hello
	if err := st.Put(rec); err != nil {
		b.Fatal(err)
	}
	vs := make([]string, b.N)
	for i := range vs {
		v, _ := SignState(payerKey, terms.ID, uint64(i+1), big.NewInt(int64(i+1)))
		vs[i] = v.String()
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		v, err := ParseState(vs[i])
		if err != nil {
			b.Fatal(err)
		}
		if _, err := p.Receive(context.Background(), v); err != nil {
			b.Fatal(err)
		}
	}
}

// Post quotes the peer's message from either error shape a worker writes.
func TestErrorMessage(t *testing.T) {
	for _, tc := range []struct{ body, want string }{
		{`{"error":"channel is closed"}`, "channel is closed"},
		{`{"error":{"message":"not your channel","type":"invalid_request_error","param":null,"code":"forbidden"}}`, "not your channel"},
		{`{"error":42}`, ""},
		{`{}`, ""},
		{`not json`, ""},
	} {
		if got := errorMessage([]byte(tc.body)); got != tc.want {
			t.Errorf("errorMessage(%s) = %q, want %q", tc.body, got, tc.want)
		}
	}
}
