package worker

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"math/big"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cocoon-network/cocoon/offchain/channel"
	"github.com/cocoon-network/cocoon/offchain/inference/reference"
	"github.com/cocoon-network/cocoon/offchain/onlineproto"
	"github.com/cocoon-network/cocoon/offchain/wallet"
	"github.com/cocoon-network/cocoon/offchain/wallet/wallettest"
)

// Online requests paid over a real payment channel on the devnet: no
// credit before the channel is open on chain; then vouchers count only when
// the channel's payer signed them, within the deposit.
// channelFixture is a running worker with a gas wallet and a payer whose
// terms it accepted (the channel not open yet).
type channelFixture struct {
	d     *Daemon
	id    *Identity
	key   ed25519.PrivateKey
	payer *channel.Payer
	terms channel.Terms
	hello channel.SignedState
	// post sends a chat request as the payer, with voucher when not "",
	// and returns the status, the error code and the signed usage.
	post func(voucher string) (int, string, *onlineproto.SignedUsage)
}

func newChannelFixture(t *testing.T, ctx context.Context) *channelFixture {
	t.Helper()
	n := setupNet(t, ctx)
	cfg, id, ln := registerWorker(t, ctx, n)
	cfg.Online.GasWallet = saveGasWallet(t, ctx, n, cfg)
	d, err := New(cfg, id, Options{Network: n.e, Engine: reference.New(reference.Config{})})
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = d.Run(ctx, ln) }()

	store, err := channel.OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	payer, err := channel.NewPayer(channel.PayerConfig{Net: n.e, Wallet: n.client, Key: key, Store: store, Poll: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	terms, err := payer.NewTerms(id.SignKey.Public().(ed25519.PublicKey), n.owner.Address())
	if err != nil {
		t.Fatal(err)
	}
	var hello channel.SignedState
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if hello, err = (&channel.Peer{URL: cfg.PublicURL}).Accept(ctx, terms); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the worker did not accept the terms: %v", err)
		}
	}
	post := func(voucher string) (int, string, *onlineproto.SignedUsage) {
		t.Helper()
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, cfg.PublicURL+"/v1/chat/completions",
			strings.NewReader(`{"model":"`+testModel+`","max_tokens":10,"messages":[{"role":"user","content":"a b c"}]}`))
		req.Header.Set(onlineproto.HeaderPayer, terms.ID.String())
		if voucher != "" {
			req.Header.Set(onlineproto.HeaderVoucher, onlineproto.EncodeVoucher([]byte(voucher)))
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out struct {
			Error  struct{ Code string }       `json:"error"`
			Cocoon onlineproto.CocoonExtension `json:"cocoon"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out.Error.Code, out.Cocoon.Usage
	}
	return &channelFixture{d: d, id: id, key: key, payer: payer, terms: terms, hello: hello, post: post}
}

func TestOnlinePaidByChannel(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	f := newChannelFixture(t, ctx)
	d, id, key, payer, terms, hello, post := f.d, f.id, f.key, f.payer, f.terms, f.hello, f.post

	// Terms agreed, nothing deposited: no credit.
	if code, ecode, _ := post(""); code != 402 || ecode != "payer_refused" {
		t.Fatalf("before the channel is open: HTTP %d %s", code, ecode)
	}
	if _, err := payer.Open(ctx, terms, hello, big.NewInt(1e9)); err != nil {
		t.Fatal(err)
	}
	// The refused request read the chain; the next read a request can
	// cause comes depositReread later.
	code, ecode, su := post("")
	for deadline := time.Now().Add(depositReread + 3*time.Second); code == 402 && time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
		code, ecode, su = post("")
	}
	if code != 200 || su == nil {
		t.Fatalf("after the channel opened: HTTP %d %s", code, ecode)
	}
	u, err := su.Open(id.SignKey.Public().(ed25519.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	cost, _ := u.CostNano()
	v, err := payer.SignVoucher(terms.ID, cost)
	if err != nil {
		t.Fatal(err)
	}
	if code, _, _ := post(v.String()); code != 200 {
		t.Fatalf("with a voucher: HTTP %d", code)
	}
	// The same voucher again (it rides on every request) still counts.
	if code, _, _ := post(v.String()); code != 200 {
		t.Fatalf("with the same voucher again: HTTP %d", code)
	}
	if _, paid := d.Ledger().Balance(terms.ID.String()); paid.Cmp(cost) != 0 {
		t.Fatalf("paid %s, want %s", paid, cost)
	}

	// Attacks: a voucher signed by another key, and one beyond the deposit.
	_, other, _ := ed25519.GenerateKey(rand.Reader)
	forged, _ := channel.SignState(other, terms.ID, v.Seqno+1, big.NewInt(5e8))
	over, _ := channel.SignState(key, terms.ID, v.Seqno+1, big.NewInt(2e9))
	for name, bad := range map[string]channel.SignedState{"forged": forged, "over the deposit": over} {
		if code, ecode, _ := post(bad.String()); code != 402 || ecode != "bad_voucher" {
			t.Fatalf("%s voucher: HTTP %d %s", name, code, ecode)
		}
	}
	if _, paid := d.Ledger().Balance(terms.ID.String()); paid.Cmp(cost) != 0 {
		t.Fatalf("after refused vouchers paid %s, want %s", paid, cost)
	}
}

// A payer gets no more credit than its channel holds: a channel funded
// with 1 nanoton buys nothing (issue 18: it bought 200 answers), and a
// top-up is seen at the next request.
func TestOnlineCreditNeverExceedsDeposit(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	f := newChannelFixture(t, ctx)
	if _, err := f.payer.Open(ctx, f.terms, f.hello, big.NewInt(1)); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if code, ecode, _ := f.post(""); code != 402 || ecode != "insufficient_deposit" {
			t.Fatalf("request %d on a 1-nanoton channel: HTTP %d %s", i, code, ecode)
		}
	}
	if charged, _ := f.d.Ledger().Balance(f.terms.ID.String()); charged.Sign() != 0 {
		t.Fatalf("charged %s on a channel that holds 1 nanoton", charged)
	}
	if _, err := f.payer.TopUp(ctx, f.terms.ID, big.NewInt(1e9)); err != nil {
		t.Fatal(err)
	}
	// The worker re-reads the deposit at most every depositReread.
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, ecode, su := f.post("")
		if code == 200 && su != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after a top-up to 1 TON: HTTP %d %s", code, ecode)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// saveGasWallet writes a funded gas wallet beside cfg's file and returns
// the name online.gas_wallet takes.
func saveGasWallet(t *testing.T, ctx context.Context, n *testNet, cfg *Config) string {
	t.Helper()
	f, err := wallet.New(wallet.V5R1)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Save(cfg.Path("gas.wallet"), false); err != nil {
		t.Fatal(err)
	}
	a, err := f.Address()
	if err != nil {
		t.Fatal(err)
	}
	if err := wallettest.Faucet(n.e)(ctx, a, big.NewInt(2e9)); err != nil {
		t.Fatal(err)
	}
	return "gas.wallet"
}

// A worker without a gas wallet could not commit what a channel earns nor
// answer a payer's close: it opens no channels, saying why.
func TestOnlineRefusesChannelsWithoutGasWallet(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	n := setupNet(t, ctx)
	d := startWorker(t, ctx, n)
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	store, err := channel.OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	payer, err := channel.NewPayer(channel.PayerConfig{Net: n.e, Wallet: n.client, Key: key, Store: store})
	if err != nil {
		t.Fatal(err)
	}
	terms, err := payer.NewTerms(d.id.SignKey.Public().(ed25519.PublicKey), n.owner.Address())
	if err != nil {
		t.Fatal(err)
	}
	for {
		_, err = (&channel.Peer{URL: d.cfg.PublicURL}).Accept(ctx, terms)
		if err != nil && strings.Contains(err.Error(), "no gas wallet") && strings.Contains(err.Error(), "503") {
			return
		}
		if ctx.Err() != nil {
			t.Fatalf("accepting terms without a gas wallet: %v, want a 503 naming online.gas_wallet", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
