package worker

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cocoon-network/cocoon/bindings"
	"github.com/cocoon-network/cocoon/offchain/inference/reference"
	"github.com/cocoon-network/cocoon/offchain/onlineproto"
	"github.com/cocoon-network/cocoon/offchain/seal"
	"github.com/cocoon-network/cocoon/offchain/tonamount"
)

// A payer's account survives a restart of the worker: the payer who used
// its whole credit before the restart gets no fresh credit after it by
// sending an old voucher (before accounts were kept on disk, an account
// restarted at the payer's first voucher: one extra credit for the payer).
func TestOnlineAccountSurvivesRestart(t *testing.T) {
	state := t.TempDir()
	id, err := InitIdentity(context.Background(), t.TempDir(), seal.SuiteX25519)
	if err != nil {
		t.Fatal(err)
	}
	_, payerKey, _ := ed25519.GenerateKey(rand.Reader)
	// The credit covers two requests at their maximum cost.
	const body = `{"model":"m1","messages":[{"role":"user","content":"hello there world"}],"max_tokens":5}`
	maxCost := bindings.Charge(big.NewInt(5e8), big.NewInt(15e8), onlineproto.InputBound(len("hello there world"), 1), 5)
	credit := new(big.Int).Mul(maxCost, big.NewInt(2))
	// run starts a worker over state, as a daemon's Run does for its
	// payments, and stops it at the end of the test or when stop is called.
	run := func() (w *onlineWorker, stop func()) {
		t.Helper()
		cfg := &Config{
			Network: "devnet", Root: "0:" + strings.Repeat("11", 32), Owner: "0:" + strings.Repeat("22", 32), StateDir: state,
			MaxConcurrent: 1, Models: []ModelConfig{{Name: "m1", PriceIn: "0.5", PriceOut: "1.5"}},
			Online: OnlineConfig{Credit: tonamount.Format(credit), Payments: PaymentsIOU},
		}
		cfg.applyDefaults()
		if err := cfg.Validate(); err != nil {
			t.Fatal(err)
		}
		d, err := New(cfg, id, Options{Engine: reference.New(reference.Config{})})
		if err != nil {
			t.Fatal(err)
		}
		if d.online.ledger.Credit.Cmp(credit) != 0 {
			t.Fatalf("credit %s, want %s", d.online.ledger.Credit, credit)
		}
		stopPayments, err := d.online.startPayments(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(d.Handler())
		stopped := false
		stop = func() {
			if !stopped {
				stopped = true
				srv.Close()
				stopPayments()
			}
		}
		t.Cleanup(stop)
		return &onlineWorker{d: d, srv: srv, payer: payerKey}, stop
	}
	charge := func(w *onlineWorker, voucher *big.Int) (int, string) {
		t.Helper()
		resp := w.post(t, body, voucher, nil)
		var out struct {
			Error struct{ Code string } `json:"error"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out.Error.Code
	}

	w, stop := run()
	// Answers on credit until the payer owes too much for another.
	served := 0
	for ; ; served++ {
		code, ecode := charge(w, nil)
		if code == 402 && ecode == "insufficient_credit" {
			break
		}
		if code != 200 || served > 20 {
			t.Fatalf("request %d: HTTP %d %s", served, code, ecode)
		}
	}
	if served < 2 {
		t.Fatalf("%d requests served on a credit of two", served)
	}
	charged, _ := w.d.Ledger().Balance(w.payerID())
	if charged.Sign() <= 0 {
		t.Fatal("nothing charged")
	}
	stop()

	// Restarted, the account is where it was: a voucher for 1 nanoton does
	// not reset it.
	w, _ = run()
	if code, ecode := charge(w, big.NewInt(1)); code != 402 || ecode != "insufficient_credit" {
		t.Fatalf("after the restart with an old voucher: HTTP %d %s (the payer got a fresh credit)", code, ecode)
	}
	if got, paid := w.d.Ledger().Balance(w.payerID()); got.Cmp(charged) != 0 || paid.Cmp(big.NewInt(1)) != 0 {
		t.Fatalf("after the restart charged %s paid %s, want %s and 1", got, paid, charged)
	}
	// Paying what was charged brings the credit back.
	if code, ecode := charge(w, charged); code != 200 {
		t.Fatalf("after paying: HTTP %d %s", code, ecode)
	}
	if _, err := OpenLedgerStore(filepath.Join(state)); err == nil {
		t.Fatal("a second worker opened the same accounts while the first runs")
	}
}

// The store keeps the higher totals when saves cross, and refuses a
// damaged record instead of restoring it as zero.
func TestLedgerStore(t *testing.T) {
	s, err := OpenLedgerStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, tc := range []struct{ charged, paid int64 }{{10, 5}, {7, 9}, {12, 1}} {
		if err := s.saveAll([]ledgerEntry{{"p", big.NewInt(tc.charged), big.NewInt(tc.paid)}}, nil); err != nil {
			t.Fatal(err)
		}
	}
	c, p, ok, err := s.load("p")
	if err != nil || !ok || c.Int64() != 12 || p.Int64() != 9 {
		t.Fatalf("load: %v %v %v %v, want 12 9", c, p, ok, err)
	}
	if _, _, ok, err := s.load("nobody"); ok || err != nil {
		t.Fatalf("unknown payer: %v %v", ok, err)
	}
	for _, raw := range []string{`{`, `{"charged":"-1","paid":"0"}`, `{"charged":"x","paid":"0"}`} {
		if _, _, err := decodeAccount([]byte(raw)); err == nil {
			t.Fatalf("%s decoded", raw)
		}
	}
}

// BenchmarkLedgerSave is one fsynced write of an account: what keeping
// accounts would cost each answer on the request path (it is written
// behind instead: BenchmarkLedgerCharge).
func BenchmarkLedgerSave(b *testing.B) {
	s, err := OpenLedgerStore(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	for i := range b.N {
		if err := s.saveAll([]ledgerEntry{{"p", big.NewInt(int64(i)), new(big.Int)}}, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLedgerCharge is what an answer's charge costs with the
// accounts kept on disk (written behind).
func BenchmarkLedgerCharge(b *testing.B) {
	s, err := OpenLedgerStore(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	l := NewLedger(big.NewInt(1e9))
	l.Persist(s, nil)
	defer l.Persist(nil, nil)
	b.RunParallel(func(pb *testing.PB) {
		_, key, _ := ed25519.GenerateKey(rand.Reader)
		payer := hex.EncodeToString(key[32:])
		for pb.Next() {
			l.Charge(payer, new(big.Int), big.NewInt(1))
		}
	})
}

// A crash-free restart after a burst of charges finds every one of them:
// detaching the store writes what the writer had not written yet.
func TestLedgerWritesBehindAndFlushes(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenLedgerStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	l := NewLedger(big.NewInt(1e9))
	l.Persist(s, nil)
	for i := range 1000 {
		l.Charge(fmt.Sprintf("p%d", i%7), new(big.Int), big.NewInt(int64(i)))
	}
	l.Paid("p3", big.NewInt(5))
	wantP3, _ := l.Balance("p3")
	l.Persist(nil, nil)
	s.Close()

	s, err = OpenLedgerStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	l = NewLedger(big.NewInt(1e9))
	l.Persist(s, nil)
	defer l.Persist(nil, nil)
	total := new(big.Int)
	for i := range 7 {
		c, _ := l.Balance(fmt.Sprintf("p%d", i))
		total.Add(total, c)
	}
	if total.Int64() != 999*1000/2 {
		t.Fatalf("restored charges sum to %s, want %d", total, 999*1000/2)
	}
	if c, p := l.Balance("p3"); c.Cmp(wantP3) != 0 || p.Int64() != 5 {
		t.Fatalf("p3 restored as %s/%s, want %s/5", c, p, wantP3)
	}
}

// Paid reports what a voucher adds to its payer's account: nothing for a
// payer's first voucher since the worker started (its account begins
// there), nothing for an older one, the difference for a newer one; the
// ceiling bounds what may be reserved.
func TestLedgerPaidAndCeiling(t *testing.T) {
	l := NewLedger(big.NewInt(100))
	for _, tc := range []struct {
		amount, added int64
	}{{50, 0}, {40, 0}, {80, 30}, {80, 0}, {81, 1}} {
		if got := l.Paid("p", big.NewInt(tc.amount)); got.Int64() != tc.added {
			t.Fatalf("Paid(%d) added %s, want %d", tc.amount, got, tc.added)
		}
	}
	// charged 50 (the first voucher), paid 81: a ceiling of 100 leaves 50.
	if err := l.Reserve("p", big.NewInt(51), big.NewInt(100)); err != ErrOverCeiling {
		t.Fatalf("reserving past the ceiling: %v", err)
	}
	if err := l.Reserve("p", big.NewInt(50), big.NewInt(100)); err != nil {
		t.Fatalf("reserving up to the ceiling: %v", err)
	}
	if err := l.Reserve("p", big.NewInt(1), big.NewInt(100)); err != ErrOverCeiling {
		t.Fatalf("a running reservation counts against the ceiling: %v", err)
	}
	if err := l.Reserve("q", big.NewInt(101), nil); err != ErrInsufficientCredit {
		t.Fatalf("no ceiling, past the credit: %v", err)
	}
}

// A receipt is written with the charge it proves: after a restart (the
// in-memory box is gone) the payer that missed it still fetches it, and
// receipts older than the box's TTL are dropped from the store.
func TestChargedReceiptSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenLedgerStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	l := NewLedger(big.NewInt(1e9))
	l.Persist(s, nil)
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	su, err := l.ChargeSigned("payer-1", "req-7", new(big.Int), big.NewInt(1234), func(total *big.Int) (*onlineproto.SignedUsage, error) {
		return onlineproto.SignUsage(key, &onlineproto.Usage{V: 1, Payer: "payer-1", RequestID: "req-7", Cost: "1234", Total: total.String()})
	})
	if err != nil {
		t.Fatal(err)
	}
	l.Persist(nil, nil) // flushes, as a stop does; a crash loses at most the last write
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if s, err = OpenLedgerStore(dir); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	l = NewLedger(big.NewInt(1e9))
	l.Persist(s, nil)
	defer l.Persist(nil, nil)
	got, ok := l.StoredReceipt("payer-1", "req-7")
	if !ok || string(got.Signature) != string(su.Signature) || string(got.Receipt) != string(su.Receipt) {
		t.Fatalf("stored receipt after a restart: %+v, %v", got, ok)
	}
	if charged, _ := l.Balance("payer-1"); charged.Cmp(big.NewInt(1234)) != 0 {
		t.Fatalf("charged after a restart: %s", charged)
	}
	if _, ok := l.StoredReceipt("payer-2", "req-7"); ok {
		t.Fatal("another payer got the receipt")
	}
	// An expired receipt goes at the next write.
	old := storedReceipt{Key: receiptKey("payer-1", "req-old"), At: time.Now().Add(-2 * receiptBoxTTL).UnixNano(), Usage: su}
	if err := s.saveAll(nil, []storedReceipt{old}); err != nil {
		t.Fatal(err)
	}
	if err := s.saveAll(nil, nil); err != nil {
		t.Fatal(err)
	}
	if _, ok := l.StoredReceipt("payer-1", "req-old"); ok {
		t.Fatal("an expired receipt was kept")
	}
	if _, ok := l.StoredReceipt("payer-1", "req-7"); !ok {
		t.Fatal("a fresh receipt was dropped with the expired one")
	}
}
