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

	"github.com/cocoon-network/cocoon/offchain/chain/chaintest"
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
	env.closing = Closing{Quarantine: time.Hour}
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
	hello, err := env.payee.Accept(env.ctx, terms, "test")
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

// paidToPayee sums what the channel paid to the payout address: each
// payout carries exactly what it pays (the contract pays its forwarding
// fee beside it), a payer's close bond included when the payee answered.
func (env *testEnv) paidToPayee(terms Terms) *big.Int {
	env.t.Helper()
	return env.paidTo(terms, env.payout)
}

// paidTo sums the values of the channel's outbound messages to dst.
func (env *testEnv) paidTo(terms Terms, dst *address.Address) *big.Int {
	env.t.Helper()
	addr, _ := terms.Address()
	return chaintest.SentTo(env.t, env.ctx, env.e, addr, dst)
}

// serve runs the payee's channel endpoints over HTTP, as a worker would;
// the handlers follow restarts of the payee.
func (env *testEnv) serve() *Peer {
	payee := http.NewServeMux()
	payee.HandleFunc(PathAccept, func(w http.ResponseWriter, r *http.Request) { AcceptHandler(env.payee).ServeHTTP(w, r) })
	payee.HandleFunc(PathCosign, func(w http.ResponseWriter, r *http.Request) { CosignHandler(env.payee).ServeHTTP(w, r) })
	s := httptest.NewServer(payee)
	env.t.Cleanup(s.Close)
	return &Peer{URL: s.URL}
}

func TestOpenPayCommitClose(t *testing.T) {
	env := newTestEnv(t)
	payeePeer := env.serve()
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
	if oc := env.onChain(terms); oc.Status != StatusOpen || oc.Deposit.Cmp(ton("2")) != 0 || oc.Paid.Sign() != 0 {
		t.Fatalf("after open: %s, deposit %s, paid %s", oc.Status, oc.Deposit, oc.Paid)
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
	if oc := env.onChain(terms); oc.Deposit.Cmp(ton("3")) != 0 {
		t.Fatalf("deposit after top-up %s, want 3 TON", oc.Deposit)
	}

	// The payee commits alone: the payer's voucher is all it needs.
	paid, err := env.payee.Commit(env.ctx, terms.ID)
	if err != nil {
		t.Fatal(err)
	}
	oc := env.onChain(terms)
	if paid.Cmp(last.Sent) != 0 || oc.Paid.Cmp(last.Sent) != 0 || oc.Status != StatusOpen {
		t.Fatalf("after commit: paid %s (reported %s), status %s; want %s, open", oc.Paid, paid, oc.Status, last.Sent)
	}
	if got := env.paidToPayee(terms); got.Cmp(last.Sent) != 0 {
		t.Fatalf("payee was paid %s after commit, want %s", got, last.Sent)
	}
	if r := env.record(env.payeeStore, terms.ID); r.Withdrawn.Cmp(last.Sent) != 0 || r.Uncommitted().Sign() != 0 {
		t.Fatalf("payee's record after commit: withdrawn %s, uncommitted %s", r.Withdrawn, r.Uncommitted())
	}
	if _, err := env.payee.Commit(env.ctx, terms.ID); err == nil {
		t.Fatal("a second commit with nothing new went through")
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
	if oc := env.onChain(terms); oc.Status != StatusClosed {
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
	// Reopening with the same terms would let the old vouchers pay again.
	if _, err := env.payer.Open(env.ctx, terms, hello, ton("1")); err == nil {
		t.Fatal("reopened a closed channel with the same terms")
	}
	if r := env.record(env.payerStore, terms.ID); r.Phase != PhaseClosed {
		t.Fatalf("payer's record is %s after the close", r.Phase)
	}
	env.checkConservation(terms)
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

// passQuarantine moves the devnet clock past the quarantine.
func (env *testEnv) passQuarantine() {
	env.t.Helper()
	if err := env.e.AdvanceTime(env.closing.Quarantine + 2*time.Second); err != nil {
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

// The payer closes alone while the payee holds vouchers beyond what it was
// paid (the payer's own view may even be older: it lost its store's last
// writes, or cheats): the payee's watcher closes at once with its best
// voucher, the payer gets the rest.
func TestPayerCloseIsAnswered(t *testing.T) {
	env := newTestEnv(t)
	terms := env.open(ton("1"))
	env.pay(terms.ID, 3, ton("0.01"))
	if _, err := env.payee.Commit(env.ctx, terms.ID); err != nil {
		t.Fatal(err)
	}
	vs := env.pay(terms.ID, 7, ton("0.01"))
	latest := vs[6]

	if err := env.payer.ForceClose(env.ctx, terms.ID); err != nil {
		t.Fatal(err)
	}
	if oc := env.onChain(terms); oc.Status != StatusClosing || oc.Paid.Cmp(ton("0.03")) != 0 {
		t.Fatalf("after the payer's close: %s, paid %s", oc.Status, oc.Paid)
	}
	// The worker restarts meanwhile; its watcher works from the store.
	env.restartPayee()
	late, err := SignState(env.payerKey, terms.ID, latest.Seqno+1, new(big.Int).Add(latest.Sent, ton("0.01")))
	if err != nil {
		t.Fatal(err)
	}
	// A voucher that arrives during the payer's close still counts: the
	// payee's close claims it.
	if _, err := env.payee.Receive(env.ctx, late); err != nil {
		t.Fatalf("a voucher during the payer's close: %v", err)
	}
	latest = late
	payerBefore := env.balance(env.payerW.Address())
	acts, err := env.payee.CheckOnce(env.ctx)
	if err != nil || len(acts) != 1 || acts[0].Did != "challenged" || acts[0].Err != nil {
		t.Fatalf("watcher: %+v, %v", acts, err)
	}
	if oc := env.onChain(terms); oc.Status != StatusClosed {
		t.Fatalf("after the watcher's close the channel is %s", oc.Status)
	}
	// The payee is paid its voucher and the payer's close bond, which
	// pays for the answer.
	if got, want := env.paidToPayee(terms), new(big.Int).Add(latest.Sent, big.NewInt(closeBond)); got.Cmp(want) != 0 {
		t.Fatalf("payee was paid %s, want %s", got, want)
	}
	if refund := new(big.Int).Sub(env.balance(env.payerW.Address()), payerBefore); refund.Cmp(new(big.Int).Sub(ton("1"), latest.Sent)) < 0 {
		t.Fatalf("payer got back %s", refund)
	}
	if acts, err := env.payee.CheckOnce(env.ctx); err != nil || len(acts) != 0 {
		t.Fatalf("watcher acted on a closed channel: %+v, %v", acts, err)
	}
	if r := env.record(env.payeeStore, terms.ID); r.Phase != PhaseClosed {
		t.Fatalf("payee's record is %s after the payout", r.Phase)
	}
	env.checkConservation(terms)
}

// The payee may answer until someone finishes, even after the quarantine;
// once finished, its voucher is worth nothing.
func TestAnswerAfterQuarantine(t *testing.T) {
	for _, finished := range []bool{false, true} {
		t.Run(map[bool]string{false: "before finish", true: "after finish"}[finished], func(t *testing.T) {
			env := newTestEnv(t)
			terms := env.open(ton("1"))
			vs := env.pay(terms.ID, 3, ton("0.01"))
			if err := env.payer.ForceClose(env.ctx, terms.ID); err != nil {
				t.Fatal(err)
			}
			if err := env.payer.Finish(env.ctx, terms.ID); err == nil {
				t.Fatal("finished during the quarantine")
			}
			env.passQuarantine()
			if oc := env.onChain(terms); oc.Status != StatusFinishable {
				t.Fatalf("after the quarantine: %s", oc.Status)
			}
			want := new(big.Int).Add(vs[2].Sent, big.NewInt(closeBond))
			if finished {
				if err := env.payer.Finish(env.ctx, terms.ID); err != nil {
					t.Fatal(err)
				}
				want = new(big.Int)
			}
			_, err := env.payee.Close(env.ctx, terms.ID)
			if finished != (err != nil) {
				t.Fatalf("payee's close (finished %v): %v", finished, err)
			}
			if got := env.paidToPayee(terms); got.Cmp(want) != 0 {
				t.Fatalf("payee was paid %s, want %s", got, want)
			}
			env.checkConservation(terms)
		})
	}
}

func TestPayeeClosesAlone(t *testing.T) {
	env := newTestEnv(t)
	terms := env.open(ton("1"))
	vs := env.pay(terms.ID, 5, ton("0.02"))
	// The payer disappears; the worker closes with what it holds, at once.
	payerBefore := env.balance(env.payerW.Address())
	if _, err := env.payee.Close(env.ctx, terms.ID); err != nil {
		t.Fatal(err)
	}
	if got := env.paidToPayee(terms); got.Cmp(vs[4].Sent) != 0 {
		t.Fatalf("payee was paid %s, want %s", got, vs[4].Sent)
	}
	if refund := new(big.Int).Sub(env.balance(env.payerW.Address()), payerBefore); refund.Cmp(new(big.Int).Sub(ton("1"), vs[4].Sent)) < 0 {
		t.Fatalf("payer got back %s", refund)
	}
	if _, _, err := env.payer.Sync(env.ctx, terms.ID); err != nil {
		t.Fatal(err)
	}
	if r := env.record(env.payerStore, terms.ID); r.Phase == PhaseOpen {
		t.Fatal("the payer's record is still open after the payee's close")
	}
	env.checkConservation(terms)
}

func TestPayerClosesAloneAfterCommit(t *testing.T) {
	env := newTestEnv(t)
	terms := env.open(ton("1"))
	vs := env.pay(terms.ID, 5, ton("0.02"))
	if _, err := env.payee.Commit(env.ctx, terms.ID); err != nil {
		t.Fatal(err)
	}
	// The payer restarts, then closes alone: the payee has nothing to
	// claim, so the watcher lets the quarantine run and finishes.
	env.restartPayer()
	if err := env.payer.ForceClose(env.ctx, terms.ID); err != nil {
		t.Fatal(err)
	}
	if acts, err := env.payee.CheckOnce(env.ctx); err != nil || len(acts) != 0 {
		t.Fatalf("the watcher acted on a close with nothing to claim: %+v, %v", acts, err)
	}
	env.passQuarantine()
	payerBefore := env.balance(env.payerW.Address())
	acts, err := env.payee.CheckOnce(env.ctx)
	if err != nil || len(acts) != 1 || acts[0].Did != "finished" || acts[0].Err != nil {
		t.Fatalf("watcher after the quarantine: %+v, %v", acts, err)
	}
	if got := env.paidToPayee(terms); got.Cmp(vs[4].Sent) != 0 {
		t.Fatalf("payee was paid %s, want %s", got, vs[4].Sent)
	}
	if refund := new(big.Int).Sub(env.balance(env.payerW.Address()), payerBefore); refund.Cmp(new(big.Int).Sub(ton("1"), vs[4].Sent)) < 0 {
		t.Fatalf("payer got back %s", refund)
	}
	env.checkConservation(terms)
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

	// On chain: the contract refuses the same vouchers, and a refused
	// message changes nothing.
	addr, _ := terms.Address()
	onChain := []struct {
		name string
		v    SignedState
		code int
	}{
		{"signed by another key", forged, ExitBadSignature},
		{"amount changed after signing", tampered, ExitBadSignature},
		{"over the deposit", over, ExitOverDeposit},
		{"another channel", otherChannel, ExitWrongChannel},
	}
	for _, tc := range onChain {
		if err := env.submitCommit(addr, tc.v); !IsRefused(err, tc.code) {
			t.Errorf("commit %s: %v, want exit code %d", tc.name, err, tc.code)
		}
		s := &Settlement{Channel: terms.ID, Voucher: tc.v}
		if err := s.Approve(env.payeeKey); err != nil {
			t.Fatal(err)
		}
		if err := submitClose(env.ctx, env.e, env.payeeW, addr, s, 5*time.Millisecond); !IsRefused(err, tc.code) {
			t.Errorf("close %s: %v, want exit code %d", tc.name, err, tc.code)
		}
	}
	if oc := env.onChain(terms); oc.Status != StatusOpen || oc.Paid.Sign() != 0 || oc.Deposit.Cmp(ton("1")) != 0 {
		t.Fatalf("a refused message changed the channel: %s, paid %s, deposit %s", oc.Status, oc.Paid, oc.Deposit)
	}
	if got := env.paidToPayee(terms); got.Sign() != 0 {
		t.Fatalf("refused messages paid the payee %s", got)
	}
}

// submitCommit sends a commit with voucher v from the payee's gas wallet.
func (env *testEnv) submitCommit(addr *address.Address, v SignedState) error {
	msg, err := CommitMessage(addr, v)
	if err != nil {
		return err
	}
	_, err = send(env.ctx, env.e, env.payeeW, addr, "commit", 5*time.Millisecond, walletMsgs(msg)...)
	return err
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
	hello, err := env.payee.Accept(env.ctx, terms, "test")
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
	if _, err := env.payee.Commit(env.ctx, terms.ID); err != nil {
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
	if did, err := env.payee.CommitIfDue(env.ctx, terms.ID); did || err != nil {
		t.Fatalf("commit with 0.4 TON uncommitted: %v, %v", did, err)
	}
	env.pay(terms.ID, 2, ton("0.1"))
	if did, err := env.payer.TopUpIfLow(env.ctx, terms.ID); !did || err != nil {
		t.Fatalf("no top-up with 0.4 TON left: %v, %v", did, err)
	}
	if oc := env.onChain(terms); oc.Deposit.Cmp(ton("2")) != 0 {
		t.Fatalf("deposit after the policy's top-up: %s", oc.Deposit)
	}
	if did, err := env.payee.CommitIfDue(env.ctx, terms.ID); !did || err != nil {
		t.Fatalf("no commit with 0.6 TON uncommitted: %v, %v", did, err)
	}
	if did, err := env.payee.CommitIfDue(env.ctx, terms.ID); did || err != nil {
		t.Fatalf("second commit with nothing new: %v, %v", did, err)
	}
	// Shutdown commits what is worth a commit (past MinCommit, 0.02 TON),
	// and leaves less for later: its voucher stays held.
	env.pay(terms.ID, 1, ton("0.01"))
	if err := env.payee.CommitAll(env.ctx); err != nil {
		t.Fatal(err)
	}
	if got := env.paidToPayee(terms); got.Cmp(ton("0.6")) != 0 {
		t.Fatalf("payee was paid %s after a shutdown with 0.01 TON uncommitted, want 0.6 TON (no commit)", got)
	}
	env.pay(terms.ID, 1, ton("0.04"))
	if err := env.payee.CommitAll(env.ctx); err != nil {
		t.Fatal(err)
	}
	if got := env.paidToPayee(terms); got.Cmp(ton("0.65")) != 0 {
		t.Fatalf("payee was paid %s after the commits, want 0.65 TON", got)
	}

	// A close the payee approved but nobody submitted: after the grace
	// period the watcher submits it (the payee's own close).
	env.pay(terms.ID, 1, ton("0.05"))
	rec := env.record(env.payerStore, terms.ID)
	v, err := SignState(env.payerKey, terms.ID, rec.Voucher.Seqno+1, rec.Sent())
	if err != nil {
		t.Fatal(err)
	}
	// A close above the deposit is refused: the contract would refuse it.
	over, err := SignState(env.payerKey, terms.ID, rec.Voucher.Seqno+1, ton("5"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := env.payee.Cosign(env.ctx, &Settlement{Channel: terms.ID, Voucher: over}); !errors.Is(err, ErrOverDeposit) {
		t.Fatalf("approving a close above the deposit: %v", err)
	}
	if _, err := env.payee.Cosign(env.ctx, &Settlement{Channel: terms.ID, Voucher: v}); err != nil {
		t.Fatal(err)
	}
	late, err := SignState(env.payerKey, terms.ID, v.Seqno+1, new(big.Int).Add(rec.Sent(), ton("0.01")))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := env.payee.Receive(env.ctx, late); !errors.Is(err, ErrNotOpen) {
		t.Fatalf("a voucher after agreeing to close: %v", err)
	}
	acts, err := env.payee.CheckOnce(env.ctx)
	if err != nil || len(acts) != 1 || acts[0].Did != "closed" || acts[0].Err != nil {
		t.Fatalf("watcher: %+v, %v", acts, err)
	}
	if got := env.paidToPayee(terms); got.Cmp(ton("0.7")) != 0 {
		t.Fatalf("payee was paid %s in all, want 0.7 TON", got)
	}
	env.checkConservation(terms)
}

// lostAnswer approves through c, then loses the answer on the way back,
// as a crash or a dropped connection would.
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

	// The payee restarts between receiving and committing: the commit
	// works from the store.
	env.restartPayee()
	if _, err := env.payee.Commit(env.ctx, terms.ID); err != nil {
		t.Fatal(err)
	}
	if got := env.paidToPayee(terms); got.Cmp(vs[4].Sent) != 0 {
		t.Fatalf("payee was paid %s, want %s", got, vs[4].Sent)
	}

	// A close whose approval is lost: neither side pays or takes vouchers
	// any more, and after restarts the close goes through.
	vs = env.pay(terms.ID, 2, ton("0.05"))
	if _, err := env.payer.Close(env.ctx, terms.ID, lostAnswer{env.payee}); err == nil {
		t.Fatal("close went through without the payee's approval")
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

// waitFor polls cond until it holds (messages still travelling between
// accounts land in the next blocks) or fails the test after 10 s.
func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	for end := time.Now().Add(10 * time.Second); !cond(); {
		if time.Now().After(end) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
