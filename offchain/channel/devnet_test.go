package channel

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/xssnick/tonutils-go/address"

	"github.com/cocoon-network/cocoon/offchain/chain"
	"github.com/cocoon-network/cocoon/offchain/devnet"
	"github.com/cocoon-network/cocoon/offchain/wallet"
	"github.com/cocoon-network/cocoon/offchain/wallet/wallettest"
)

// genesis is the devnet's fixed clock: time moves only by AdvanceTime, so
// quarantines pass when a test says so.
var genesis = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func ton(s string) *big.Int {
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		panic(s)
	}
	r.Mul(r, big.NewRat(1_000_000_000, 1))
	if !r.IsInt() {
		panic(s)
	}
	return r.Num()
}

// testEnv is a devnet with a payer (an app's gateway) and a payee (a
// worker) that each keep their own store, as separate processes would.
type testEnv struct {
	t          *testing.T
	ctx        context.Context
	e          *devnet.Engine
	payerW     *wallet.Wallet
	payeeW     *wallet.Wallet
	payerKey   ed25519.PrivateKey
	payeeKey   ed25519.PrivateKey
	payout     *address.Address // the worker owner's wallet, never deployed
	payerDir   string
	payeeDir   string
	payer      *Payer
	payee      *Payee
	payerStore *Store
	payeeStore *Store
	closing    Closing
}

func newTestEnv(t *testing.T) *testEnv {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	e, err := devnet.Open(ctx, devnet.Options{Dir: t.TempDir(), Clock: devnet.FixedClock(genesis)})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); e.Run(runCtx, 5*time.Millisecond) }()
	t.Cleanup(func() { stop(); <-done; e.Close() })
	env := &testEnv{t: t, ctx: ctx, e: e, payerDir: t.TempDir(), payeeDir: t.TempDir()}
	env.payerW = wallettest.Funded(t, ctx, wallettest.Faucet(e), ton("100"), wallet.WithPollInterval(5*time.Millisecond))
	env.payeeW = wallettest.Funded(t, ctx, wallettest.Faucet(e), ton("10"), wallet.WithPollInterval(5*time.Millisecond))
	_, env.payerKey, _ = ed25519.GenerateKey(rand.Reader)
	_, env.payeeKey, _ = ed25519.GenerateKey(rand.Reader)
	raw := make([]byte, 32)
	rand.Read(raw)
	env.payout = address.NewAddress(0, 0, raw)
	env.closing = Closing{Quarantine: time.Hour, SettleWindow: time.Minute, Fine: ton("0.1")}
	env.startPayer()
	env.startPayee()
	return env
}

func (env *testEnv) startPayer() {
	env.t.Helper()
	st, err := OpenStore(env.payerDir)
	if err != nil {
		env.t.Fatal(err)
	}
	env.payerStore = st
	env.t.Cleanup(func() { st.Close() })
	env.payer, err = NewPayer(PayerConfig{Net: env.e, Wallet: env.payerW, Key: env.payerKey, Store: st, Poll: 5 * time.Millisecond})
	if err != nil {
		env.t.Fatal(err)
	}
}

func (env *testEnv) startPayee() {
	env.t.Helper()
	st, err := OpenStore(env.payeeDir)
	if err != nil {
		env.t.Fatal(err)
	}
	env.payeeStore = st
	env.t.Cleanup(func() { st.Close() })
	env.payee, err = NewPayee(PayeeConfig{Net: env.e, Key: env.payeeKey, Payout: env.payout, Wallet: env.payeeW, Store: st, Poll: 5 * time.Millisecond})
	if err != nil {
		env.t.Fatal(err)
	}
}

// restartPayer and restartPayee drop the process's state but its store.
func (env *testEnv) restartPayer() {
	env.t.Helper()
	if err := env.payerStore.Close(); err != nil {
		env.t.Fatal(err)
	}
	env.startPayer()
}

func (env *testEnv) restartPayee() {
	env.t.Helper()
	if err := env.payeeStore.Close(); err != nil {
		env.t.Fatal(err)
	}
	env.startPayee()
}

// open agrees terms and opens a channel with deposit.
func (env *testEnv) open(deposit *big.Int) Terms {
	env.t.Helper()
	terms, err := env.payer.NewTerms(env.payee.PublicKey(), env.payout)
	if err != nil {
		env.t.Fatal(err)
	}
	terms.Closing = env.closing
	hello, err := env.payee.Accept(env.ctx, terms)
	if err != nil {
		env.t.Fatal(err)
	}
	rec, err := env.payer.Open(env.ctx, terms, hello, deposit)
	if err != nil {
		env.t.Fatal(err)
	}
	if rec.Phase != PhaseOpen || rec.Deposit.Cmp(deposit) != 0 {
		env.t.Fatalf("after open: phase %s, deposit %s, want open with %s", rec.Phase, rec.Deposit, deposit)
	}
	return terms
}

func (env *testEnv) onChain(terms Terms) *OnChain {
	env.t.Helper()
	addr, err := terms.Address()
	if err != nil {
		env.t.Fatal(err)
	}
	oc, err := Read(env.ctx, env.e, addr)
	if err != nil {
		env.t.Fatal(err)
	}
	return oc
}

// received sums what the payout address was credited by the channel,
// counting each payout's forwarding fee (the contract's payouts pay it
// from the amount), so it equals what the channel paid out to the payee.
func (env *testEnv) paidToPayee(terms Terms) *big.Int {
	env.t.Helper()
	addr, _ := terms.Address()
	txs, err := env.e.Transactions(env.ctx, addr, chain.TxID{}, 100)
	if err != nil {
		env.t.Fatal(err)
	}
	sum := new(big.Int)
	for _, tx := range txs {
		if tx.Tx.IO.Out == nil {
			continue
		}
		outs, err := tx.Tx.IO.Out.ToSlice()
		if err != nil {
			env.t.Fatal(err)
		}
		for _, m := range outs {
			if m.MsgType != "INTERNAL" {
				continue
			}
			in := m.AsInternal()
			if in.DstAddr.Equals(env.payout) {
				sum.Add(sum, in.Amount.Nano())
				sum.Add(sum, fullForwardFee(in.FwdFee.Nano()))
			}
		}
	}
	return sum
}

// firstFrac is the mainnet config's share (of 2^16) of a message's
// forwarding fee that the sender's action phase keeps; the message carries
// the rest in its fwd_fee field.
const firstFrac = 21845

// fullForwardFee recovers a message's whole forwarding fee from the part
// its fwd_fee field carries: the contract's payouts pay the whole fee out
// of the amount, so amount + whole fee is what the channel paid out.
func fullForwardFee(remaining *big.Int) *big.Int {
	r := remaining.Int64()
	t0 := r * 65536 / (65536 - firstFrac)
	// Two whole fees can leave the same part; fees are whole multiples of
	// the config's prices, which here means the larger.
	for t := t0 + 3; t >= t0-3; t-- {
		if t-t*firstFrac/65536 == r {
			return big.NewInt(t)
		}
	}
	panic("no forwarding fee leaves " + remaining.String())
}

// serve runs the two sides' channel endpoints over HTTP, as a worker and
// a gateway would; the handlers follow restarts of either side.
func (env *testEnv) serve() (payeePeer, payerPeer *Peer) {
	payee := http.NewServeMux()
	payee.HandleFunc(PathAccept, func(w http.ResponseWriter, r *http.Request) { AcceptHandler(env.payee).ServeHTTP(w, r) })
	payee.HandleFunc(PathCosign, func(w http.ResponseWriter, r *http.Request) { CosignHandler(env.payee).ServeHTTP(w, r) })
	payer := http.NewServeMux()
	payer.HandleFunc(PathCosign, func(w http.ResponseWriter, r *http.Request) { CosignHandler(env.payer).ServeHTTP(w, r) })
	s1, s2 := httptest.NewServer(payee), httptest.NewServer(payer)
	env.t.Cleanup(s1.Close)
	env.t.Cleanup(s2.Close)
	return &Peer{URL: s1.URL}, &Peer{URL: s2.URL}
}

func TestOpenPayCommitClose(t *testing.T) {
	env := newTestEnv(t)
	payeePeer, payerPeer := env.serve()
	terms, err := env.payer.NewTerms(env.payee.PublicKey(), env.payout)
	if err != nil {
		t.Fatal(err)
	}
	terms.Closing = env.closing
	hello, err := payeePeer.Accept(env.ctx, terms)
	if err != nil {
		t.Fatal(err)
	}
	// The payer restarts after the payee accepted: Open resumes.
	env.restartPayer()
	if _, err := env.payer.Open(env.ctx, terms, hello, ton("2")); err != nil {
		t.Fatal(err)
	}

	const n = 1000
	price := ton("0.001")
	var last SignedState
	for i := 0; i < n; i++ {
		v, err := env.payer.Pay(terms.ID, price)
		if err != nil {
			t.Fatal(err)
		}
		r, err := env.payee.Receive(env.ctx, v)
		if err != nil {
			t.Fatalf("voucher %d: %v", i, err)
		}
		if r.Delta.Cmp(price) != 0 {
			t.Fatalf("voucher %d added %s, want %s", i, r.Delta, price)
		}
		last = v
		if i == n/2 {
			// Both sides restart mid-flow: the stores carry on.
			env.restartPayer()
			env.restartPayee()
		}
	}
	if want := new(big.Int).Mul(price, big.NewInt(n)); last.Sent.Cmp(want) != 0 {
		t.Fatalf("last voucher pays %s, want %s", last.Sent, want)
	}

	if _, err := env.payer.TopUp(env.ctx, terms.ID, ton("1")); err != nil {
		t.Fatal(err)
	}
	if oc := env.onChain(terms); oc.DepositPayer.Cmp(ton("3")) != 0 {
		t.Fatalf("deposit after top-up %s, want 3 TON", oc.DepositPayer)
	}

	if _, err := env.payee.Commit(env.ctx, terms.ID, payerPeer); err != nil {
		t.Fatal(err)
	}
	oc := env.onChain(terms)
	if oc.WithdrawPayee.Cmp(last.Sent) != 0 || oc.Status != StatusOpen {
		t.Fatalf("after commit: withdrawn %s, status %s; want %s, open", oc.WithdrawPayee, oc.Status, last.Sent)
	}
	if got := env.paidToPayee(terms); got.Cmp(last.Sent) != 0 {
		t.Fatalf("payee was paid %s after commit, want %s", got, last.Sent)
	}

	// More payments after the commit, then a cooperative close.
	for i := 0; i < 10; i++ {
		v, err := env.payer.Pay(terms.ID, price)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := env.payee.Receive(env.ctx, v); err != nil {
			t.Fatal(err)
		}
		last = v
	}
	payerBefore := env.balance(env.payerW.Address())
	if _, err := env.payer.Close(env.ctx, terms.ID, payeePeer); err != nil {
		t.Fatal(err)
	}
	if oc := env.onChain(terms); oc.Status != StatusUninit {
		t.Fatalf("after close the channel is %s", oc.Status)
	}
	if got := env.paidToPayee(terms); got.Cmp(last.Sent) != 0 {
		t.Fatalf("payee was paid %s in all, want %s", got, last.Sent)
	}
	refund := new(big.Int).Sub(env.balance(env.payerW.Address()), payerBefore)
	wantMin := new(big.Int).Sub(ton("3"), last.Sent)
	if refund.Cmp(wantMin) < 0 {
		t.Fatalf("payer got back %s, want at least the unspent deposit %s", refund, wantMin)
	}
	if _, err := env.payer.Pay(terms.ID, price); err == nil {
		t.Fatal("paid on a closed channel")
	}
	if _, err := env.payer.Open(env.ctx, terms, hello, ton("1")); err == nil {
		t.Fatal("reopened a closed channel with the same terms")
	}
}

func (env *testEnv) balance(a *address.Address) *big.Int {
	env.t.Helper()
	acc, err := env.e.Account(env.ctx, a)
	if err != nil {
		env.t.Fatal(err)
	}
	return acc.Balance
}

// pay makes n payments of price and has the payee receive each.
func (env *testEnv) pay(id ID, n int, price *big.Int) []SignedState {
	env.t.Helper()
	out := make([]SignedState, 0, n)
	for i := 0; i < n; i++ {
		v, err := env.payer.Pay(id, price)
		if err != nil {
			env.t.Fatal(err)
		}
		if _, err := env.payee.Receive(env.ctx, v); err != nil {
			env.t.Fatal(err)
		}
		out = append(out, v)
	}
	return out
}

// passQuarantine moves the devnet clock past the quarantine and settle window.
func (env *testEnv) passQuarantine() {
	env.t.Helper()
	if err := env.e.AdvanceTime(env.closing.Quarantine + env.closing.SettleWindow + 2*time.Second); err != nil {
		env.t.Fatal(err)
	}
	if _, err := env.e.ProduceBlock(env.ctx); err != nil {
		env.t.Fatal(err)
	}
}

func (env *testEnv) record(st *Store, id ID) *Record {
	env.t.Helper()
	r, err := st.Get(id)
	if err != nil {
		env.t.Fatal(err)
	}
	return r
}

func TestStaleCloseIsChallenged(t *testing.T) {
	env := newTestEnv(t)
	terms := env.open(ton("1"))
	vs := env.pay(terms.ID, 10, ton("0.01"))
	latest, stale := vs[9], vs[2]

	// The payer cheats: it closes alone with its third voucher.
	rec := env.record(env.payerStore, terms.ID)
	if err := env.payer.startClose(env.ctx, rec, stale, *rec.PayeeState); err != nil {
		t.Fatal(err)
	}
	if oc := env.onChain(terms); oc.Status != StatusClosing || oc.Quarantine.PayerSent.Cmp(stale.Sent) != 0 {
		t.Fatalf("after the stale close: %s, quarantined %v", oc.Status, oc.Quarantine)
	}
	// The worker restarts meanwhile; its watcher works from the store.
	env.restartPayee()
	if _, err := env.payee.Receive(env.ctx, latest); !errors.Is(err, ErrNotOpen) && !errors.Is(err, ErrStale) {
		t.Fatalf("a voucher during a close: %v", err)
	}
	acts, err := env.payee.CheckOnce(env.ctx)
	if err != nil || len(acts) != 1 || acts[0].Did != "challenged" || acts[0].Err != nil {
		t.Fatalf("watcher: %+v, %v", acts, err)
	}
	oc := env.onChain(terms)
	wantSent := new(big.Int).Add(latest.Sent, env.closing.Fine)
	if !oc.Quarantine.Challenged || oc.Quarantine.PayerSent.Cmp(wantSent) != 0 {
		t.Fatalf("after the challenge: %+v, want the payer's state at %s (latest plus the fine)", oc.Quarantine, wantSent)
	}
	// A second pass does nothing until the windows are over, then finishes.
	if acts, _ := env.payee.CheckOnce(env.ctx); len(acts) != 0 {
		t.Fatalf("watcher acted again: %+v", acts)
	}
	env.passQuarantine()
	acts, err = env.payee.CheckOnce(env.ctx)
	if err != nil || len(acts) != 1 || acts[0].Did != "finished" || acts[0].Err != nil {
		t.Fatalf("watcher after the quarantine: %+v, %v", acts, err)
	}
	if oc := env.onChain(terms); oc.Status != StatusUninit {
		t.Fatalf("after finish the channel is %s", oc.Status)
	}
	if got := env.paidToPayee(terms); got.Cmp(wantSent) != 0 {
		t.Fatalf("payee was paid %s, want %s", got, wantSent)
	}
	if r := env.record(env.payeeStore, terms.ID); r.Phase != PhaseClosed {
		t.Fatalf("payee's record is %s after the payout", r.Phase)
	}
}

func TestChallengeTooLate(t *testing.T) {
	env := newTestEnv(t)
	terms := env.open(ton("1"))
	vs := env.pay(terms.ID, 3, ton("0.01"))
	rec := env.record(env.payerStore, terms.ID)
	if err := env.payer.startClose(env.ctx, rec, vs[0], *rec.PayeeState); err != nil {
		t.Fatal(err)
	}
	// The watcher was down for the whole quarantine: the contract no
	// longer takes a challenge, and the stale state pays out.
	if err := env.e.AdvanceTime(env.closing.Quarantine + time.Second); err != nil {
		t.Fatal(err)
	}
	oc, err := env.payee.Sync(env.ctx, terms.ID)
	if err != nil {
		t.Fatal(err)
	}
	err = env.payee.submitDispute(env.ctx, terms.ID, oc, true)
	if !IsRefused(err, 111) {
		t.Fatalf("a challenge after the quarantine: %v, want exit code 111", err)
	}
}

func TestPayeeClosesAlone(t *testing.T) {
	env := newTestEnv(t)
	terms := env.open(ton("1"))
	vs := env.pay(terms.ID, 5, ton("0.02"))
	// The payer disappears; the worker closes with what it holds.
	if err := env.payee.ForceClose(env.ctx, terms.ID); err != nil {
		t.Fatal(err)
	}
	if err := env.payee.Finish(env.ctx, terms.ID); err == nil {
		t.Fatal("finished before the quarantine")
	}
	env.passQuarantine()
	if err := env.payee.Finish(env.ctx, terms.ID); err != nil {
		t.Fatal(err)
	}
	if got := env.paidToPayee(terms); got.Cmp(vs[4].Sent) != 0 {
		t.Fatalf("payee was paid %s, want %s", got, vs[4].Sent)
	}
}

func TestPayerClosesAloneAfterCommit(t *testing.T) {
	env := newTestEnv(t)
	terms := env.open(ton("1"))
	env.pay(terms.ID, 5, ton("0.02"))
	if _, err := env.payee.Commit(env.ctx, terms.ID, env.payer); err != nil {
		t.Fatal(err)
	}
	vs := env.pay(terms.ID, 5, ton("0.02"))
	// The payer restarts, then closes alone: the payee state it took with
	// the commit is above the committed seqno, so the contract takes it.
	env.restartPayer()
	if err := env.payer.ForceClose(env.ctx, terms.ID); err != nil {
		t.Fatal(err)
	}
	if acts, err := env.payee.CheckOnce(env.ctx); err != nil || len(acts) != 0 {
		t.Fatalf("the watcher acted on an honest close: %+v, %v", acts, err)
	}
	env.passQuarantine()
	payerBefore := env.balance(env.payerW.Address())
	if err := env.payer.Finish(env.ctx, terms.ID); err != nil {
		t.Fatal(err)
	}
	if got := env.paidToPayee(terms); got.Cmp(vs[4].Sent) != 0 {
		t.Fatalf("payee was paid %s, want %s", got, vs[4].Sent)
	}
	if refund := new(big.Int).Sub(env.balance(env.payerW.Address()), payerBefore); refund.Cmp(new(big.Int).Sub(ton("1"), vs[4].Sent)) < 0 {
		t.Fatalf("payer got back %s", refund)
	}
}

func TestForgedAndOverDepositVouchers(t *testing.T) {
	env := newTestEnv(t)
	terms := env.open(ton("1"))
	env.pay(terms.ID, 2, ton("0.1"))
	_, mallory, _ := ed25519.GenerateKey(rand.Reader)

	forged, err := SignState(mallory, terms.ID, 3, ton("0.9"))
	if err != nil {
		t.Fatal(err)
	}
	over, err := SignState(env.payerKey, terms.ID, 3, ton("1.5"))
	if err != nil {
		t.Fatal(err)
	}
	tampered, _ := SignState(env.payerKey, terms.ID, 3, ton("0.3"))
	tampered.Sent = ton("0.9")
	otherChannel, _ := SignState(env.payerKey, ID{1}, 3, ton("0.3"))
	backwards, _ := SignState(env.payerKey, terms.ID, 3, ton("0.1"))
	replay, _ := SignState(env.payerKey, terms.ID, 2, ton("0.2"))
	cases := []struct {
		name string
		v    SignedState
		want error
	}{
		{"signed by another key", forged, ErrBadSignature},
		{"amount changed after signing", tampered, ErrBadSignature},
		{"over the deposit", over, ErrOverDeposit},
		{"another channel", otherChannel, ErrUnknownChannel},
		{"lower amount", backwards, ErrBackwards},
		{"old seqno", replay, ErrStale},
	}
	for _, tc := range cases {
		if _, err := env.payee.Verify(tc.v); !errors.Is(err, tc.want) {
			t.Errorf("%s: Verify got %v, want %v", tc.name, err, tc.want)
		}
		if _, err := env.payee.Receive(env.ctx, tc.v); !errors.Is(err, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, err, tc.want)
		}
	}
	if r := env.record(env.payeeStore, terms.ID); r.Voucher.Seqno != 2 || r.Voucher.Sent.Cmp(ton("0.2")) != 0 {
		t.Fatalf("a refused voucher changed the held one: %d %s", r.Voucher.Seqno, r.Voucher.Sent)
	}
	if _, err := env.payer.SignVoucher(terms.ID, ton("1.5")); !errors.Is(err, ErrOverDeposit) {
		t.Fatalf("payer signed over its deposit: %v", err)
	}
	if _, err := env.payer.SignVoucher(terms.ID, ton("0.1")); !errors.Is(err, ErrBackwards) {
		t.Fatalf("payer signed a lower total: %v", err)
	}

	// On chain: a close with the forged voucher is refused as not
	// authorised, and a commit beyond the deposit (even signed by both)
	// for lack of balance.
	rec := env.record(env.payeeStore, terms.ID)
	msg, err := DisputeMessage(rec.Address, false, false, env.payeeKey, forged, *rec.PayeeState)
	if err != nil {
		t.Fatal(err)
	}
	_, err = send(env.ctx, env.e, env.payeeW, rec.Address, "forged close", 5*time.Millisecond, walletMsgs(msg)...)
	if !IsRefused(err, 101) {
		t.Fatalf("close with a forged voucher: %v, want exit code 101", err)
	}
	s := &Settlement{Kind: KindCommit, Channel: terms.ID, PayerSeqno: 3, PayeeSeqno: 1, Sent: ton("1.5"), Withdraw: ton("1.5")}
	if err := s.sign(env.payerKey, true); err != nil {
		t.Fatal(err)
	}
	if err := s.sign(env.payeeKey, false); err != nil {
		t.Fatal(err)
	}
	err = submitSettlement(env.ctx, env.e, env.payeeW, rec.Address, s, 5*time.Millisecond)
	if !IsRefused(err, 118) {
		t.Fatalf("commit beyond the deposit: %v, want exit code 118", err)
	}
	if oc := env.onChain(terms); oc.Status != StatusOpen || oc.WithdrawPayee.Sign() != 0 {
		t.Fatalf("a refused message changed the channel: %s, withdrawn %s", oc.Status, oc.WithdrawPayee)
	}
	// The payer does not countersign more than it signed.
	s.PayerSig, s.PayeeState = nil, nil
	if _, err := env.payer.Cosign(env.ctx, s); err == nil {
		t.Fatal("payer countersigned a commit beyond its vouchers")
	}
}

func TestCodeAsPublicLibrary(t *testing.T) {
	env := newTestEnv(t)
	if err := env.e.PublishLibrary(ContractCode()); err != nil {
		t.Fatal(err)
	}
	terms, err := env.payer.NewTerms(env.payee.PublicKey(), env.payout)
	if err != nil {
		t.Fatal(err)
	}
	terms.Closing, terms.CodeLibrary = env.closing, true
	hello, err := env.payee.Accept(env.ctx, terms)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := env.payer.Open(env.ctx, terms, hello, ton("1")); err != nil {
		t.Fatal(err)
	}
	acc, err := env.e.Account(env.ctx, env.onChain(terms).Address)
	if err != nil {
		t.Fatal(err)
	}
	if acc.Code.BitsSize() != 8+256 {
		t.Fatalf("the channel's code is %d bits, want a library reference", acc.Code.BitsSize())
	}
	vs := env.pay(terms.ID, 3, ton("0.1"))
	if _, err := env.payee.Commit(env.ctx, terms.ID, env.payer); err != nil {
		t.Fatal(err)
	}
	if _, err := env.payer.Close(env.ctx, terms.ID, env.payee); err != nil {
		t.Fatal(err)
	}
	if got := env.paidToPayee(terms); got.Cmp(vs[2].Sent) != 0 {
		t.Fatalf("payee was paid %s, want %s", got, vs[2].Sent)
	}
}

func TestPolicies(t *testing.T) {
	env := newTestEnv(t)
	env.payer.cfg.Policy = PayerPolicy{TopUpBelow: ton("0.5"), TopUpAmount: ton("1")}
	env.payee.cfg.Policy.CommitAbove = ton("0.5")
	env.payee.cfg.Policy.CloseGrace = time.Nanosecond
	terms := env.open(ton("1"))

	// The payer tops up only once less than 0.5 TON is left to promise.
	env.pay(terms.ID, 4, ton("0.1"))
	if did, err := env.payer.TopUpIfLow(env.ctx, terms.ID); did || err != nil {
		t.Fatalf("top-up with 0.6 TON left: %v, %v", did, err)
	}
	// The payee commits only past 0.5 TON of uncommitted earnings.
	if did, err := env.payee.CommitIfDue(env.ctx, terms.ID, env.payer); did || err != nil {
		t.Fatalf("commit with 0.4 TON uncommitted: %v, %v", did, err)
	}
	env.pay(terms.ID, 2, ton("0.1"))
	if did, err := env.payer.TopUpIfLow(env.ctx, terms.ID); !did || err != nil {
		t.Fatalf("no top-up with 0.4 TON left: %v, %v", did, err)
	}
	if oc := env.onChain(terms); oc.DepositPayer.Cmp(ton("2")) != 0 {
		t.Fatalf("deposit after the policy's top-up: %s", oc.DepositPayer)
	}
	if did, err := env.payee.CommitIfDue(env.ctx, terms.ID, env.payer); !did || err != nil {
		t.Fatalf("no commit with 0.6 TON uncommitted: %v, %v", did, err)
	}
	if did, err := env.payee.CommitIfDue(env.ctx, terms.ID, env.payer); did || err != nil {
		t.Fatalf("second commit with nothing new: %v, %v", did, err)
	}
	// Shutdown commits whatever is left.
	env.pay(terms.ID, 1, ton("0.05"))
	if err := env.payee.CommitAll(env.ctx, func(ID) Cosigner { return env.payer }); err != nil {
		t.Fatal(err)
	}
	if got := env.paidToPayee(terms); got.Cmp(ton("0.65")) != 0 {
		t.Fatalf("payee was paid %s after the commits, want 0.65 TON", got)
	}

	// A close the payee countersigned but nobody submitted: after the
	// grace period the watcher closes alone.
	env.pay(terms.ID, 1, ton("0.05"))
	rec := env.record(env.payerStore, terms.ID)
	s := &Settlement{Kind: KindClose, Channel: terms.ID, PayerSeqno: rec.Voucher.Seqno + 1, PayeeSeqno: 10, Sent: rec.Sent(), Withdraw: new(big.Int)}
	if err := s.Sign(env.payerKey, true); err != nil {
		t.Fatal(err)
	}
	if _, err := env.payee.Cosign(env.ctx, s); err != nil {
		t.Fatal(err)
	}
	v, err := SignState(env.payerKey, terms.ID, rec.Voucher.Seqno+1, new(big.Int).Add(rec.Sent(), ton("0.01")))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := env.payee.Receive(env.ctx, v); !errors.Is(err, ErrNotOpen) {
		t.Fatalf("a voucher after agreeing to close: %v", err)
	}
	acts, err := env.payee.CheckOnce(env.ctx)
	if err != nil || len(acts) != 1 || acts[0].Did != "force-closed" || acts[0].Err != nil {
		t.Fatalf("watcher: %+v, %v", acts, err)
	}
	env.passQuarantine()
	if acts, err := env.payee.CheckOnce(env.ctx); err != nil || len(acts) != 1 || acts[0].Did != "finished" {
		t.Fatalf("watcher after the quarantine: %+v, %v", acts, err)
	}
	if got := env.paidToPayee(terms); got.Cmp(ton("0.7")) != 0 {
		t.Fatalf("payee was paid %s in all, want 0.7 TON", got)
	}
}

// lostAnswer countersigns through c, then loses the answer on the way
// back, as a crash or a dropped connection would.
type lostAnswer struct{ c Cosigner }

func (l lostAnswer) Cosign(ctx context.Context, s *Settlement) (*Settlement, error) {
	if _, err := l.c.Cosign(ctx, s); err != nil {
		return nil, err
	}
	return nil, errors.New("connection lost")
}

func TestRestartsMidSettlement(t *testing.T) {
	env := newTestEnv(t)
	terms := env.open(ton("1"))
	vs := env.pay(terms.ID, 5, ton("0.05"))

	// A commit the payer countersigned but whose answer never arrived;
	// both sides restart, and the commit is simply proposed again.
	if _, err := env.payee.Commit(env.ctx, terms.ID, lostAnswer{env.payer}); err == nil {
		t.Fatal("commit went through without the payer's signature")
	}
	env.restartPayee()
	env.restartPayer()
	if _, err := env.payee.Commit(env.ctx, terms.ID, env.payer); err != nil {
		t.Fatal(err)
	}
	if got := env.paidToPayee(terms); got.Cmp(vs[4].Sent) != 0 {
		t.Fatalf("payee was paid %s, want %s", got, vs[4].Sent)
	}

	// The same for a close: after the lost answer neither side pays or
	// takes vouchers, and after restarts the close goes through.
	vs = env.pay(terms.ID, 2, ton("0.05"))
	if _, err := env.payer.Close(env.ctx, terms.ID, lostAnswer{env.payee}); err == nil {
		t.Fatal("close went through without the payee's signature")
	}
	if _, err := env.payer.Pay(terms.ID, ton("0.01")); !errors.Is(err, ErrNotOpen) {
		t.Fatalf("paying after agreeing to close: %v", err)
	}
	env.restartPayer()
	env.restartPayee()
	if _, err := env.payer.Close(env.ctx, terms.ID, env.payee); err != nil {
		t.Fatal(err)
	}
	if got := env.paidToPayee(terms); got.Cmp(vs[1].Sent) != 0 {
		t.Fatalf("payee was paid %s in all, want %s", got, vs[1].Sent)
	}
	env.checkConservation(terms)
}
