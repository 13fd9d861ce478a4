package channel

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"math/big"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/xssnick/ton-payment-network/pkg/payments"
	"github.com/xssnick/tonutils-go/tlb"

	"github.com/cocoon-network/cocoon/offchain/tonamount"
)

func testKey(t testing.TB) ed25519.PrivateKey {
	t.Helper()
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// The cell Cocoon signs must be the one the contract checks: the same
// cell the payments package's TL-B types build.
func TestStateCellMatchesContractLayout(t *testing.T) {
	id := ID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	for _, sent := range []*big.Int{big.NewInt(0), big.NewInt(1), ton("12.345678901"), tonamount.Max()} {
		ours, err := stateCell(id, 77, sent)
		if err != nil {
			t.Fatal(err)
		}
		theirs, err := tlb.ToCell(payments.SemiChannel{
			ChannelID: id[:],
			Data:      payments.SemiChannelBody{Seqno: 77, Sent: tlb.FromNanoTON(sent), ConditionalsHash: make([]byte, 32)},
		})
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(ours.Hash(), theirs.Hash()) {
			t.Fatalf("sent %s: our state cell %x, payments' %x", sent, ours.Hash(), theirs.Hash())
		}
	}
}

func TestSignVerifyRoundTrip(t *testing.T) {
	key := testKey(t)
	pub := key.Public().(ed25519.PublicKey)
	id := ID{9}
	s, err := SignState(key, id, 5, ton("1.25"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Verify(pub); err != nil {
		t.Fatal(err)
	}
	back, err := ParseState(s.String())
	if err != nil {
		t.Fatal(err)
	}
	want := SignedState{Channel: id, Seqno: 5, Sent: ton("1.25"), Signature: s.Signature}
	if diff := cmp.Diff(want, back, cmp.Comparer(func(a, b *big.Int) bool { return a.Cmp(b) == 0 })); diff != "" {
		t.Fatalf("round trip (-want +got):\n%s", diff)
	}
	if err := back.Verify(pub); err != nil {
		t.Fatal(err)
	}
	mutations := map[string]func(*SignedState){
		"seqno":     func(s *SignedState) { s.Seqno++ },
		"amount":    func(s *SignedState) { s.Sent = new(big.Int).Add(s.Sent, big.NewInt(1)) },
		"channel":   func(s *SignedState) { s.Channel[0] ^= 1 },
		"signature": func(s *SignedState) { s.Signature = append([]byte{s.Signature[0] ^ 1}, s.Signature[1:]...) },
		"short sig": func(s *SignedState) { s.Signature = s.Signature[:10] },
	}
	for name, m := range mutations {
		c := back
		c.Sent = new(big.Int).Set(back.Sent)
		m(&c)
		if err := c.Verify(pub); !errors.Is(err, ErrBadSignature) {
			t.Errorf("%s changed: Verify = %v", name, err)
		}
	}
	if err := back.Verify(testKey(t).Public().(ed25519.PublicKey)); !errors.Is(err, ErrBadSignature) {
		t.Errorf("another key: %v", err)
	}
}

func TestSignStateRefusesBadAmounts(t *testing.T) {
	key := testKey(t)
	for _, a := range []*big.Int{nil, big.NewInt(-1), new(big.Int).Add(tonamount.Max(), big.NewInt(1))} {
		if _, err := SignState(key, ID{}, 1, a); err == nil {
			t.Errorf("signed amount %v", a)
		}
	}
}

func TestParseStateBadInput(t *testing.T) {
	key := testKey(t)
	good, _ := SignState(key, ID{1}, 1, big.NewInt(1000))
	raw, _ := good.MarshalBinary()
	long := append(append([]byte{}, raw...), bytes.Repeat([]byte{1}, 16)...)
	badVersion := append([]byte{9}, raw[1:]...)
	leadingZero := append(append([]byte{}, raw[:wireFixed]...), 0, 1)
	cases := map[string]string{
		"empty":        "",
		"not base64":   "!!!",
		"too short":    "AAAA",
		"too long":     b64(long),
		"bad version":  b64(badVersion),
		"leading zero": b64(leadingZero),
	}
	for name, in := range cases {
		if _, err := ParseState(in); err == nil || !strings.Contains(err.Error(), "signed state") {
			t.Errorf("%s: ParseState = %v, want an error naming the state", name, err)
		}
	}
	var s SignedState
	if err := s.UnmarshalText([]byte(good.String())); err != nil || s.Sent.Cmp(big.NewInt(1000)) != 0 {
		t.Fatalf("UnmarshalText: %v %v", s, err)
	}
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func TestSettlementSignatures(t *testing.T) {
	a, b := testKey(t), testKey(t)
	s := &Settlement{Kind: KindCommit, Channel: ID{3}, PayerSeqno: 4, PayeeSeqno: 1, Sent: ton("1"), Withdraw: ton("1")}
	if err := s.sign(a, true); err != nil {
		t.Fatal(err)
	}
	if err := s.sign(b, false); err != nil {
		t.Fatal(err)
	}
	if err := s.verify(a.Public().(ed25519.PublicKey), true); err != nil {
		t.Fatal(err)
	}
	if err := s.verify(b.Public().(ed25519.PublicKey), false); err != nil {
		t.Fatal(err)
	}
	s.Withdraw = ton("0.5")
	if err := s.verify(b.Public().(ed25519.PublicKey), false); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("changed withdrawal verified: %v", err)
	}
	s.Withdraw = ton("2")
	if err := s.verify(b.Public().(ed25519.PublicKey), false); err == nil {
		t.Fatal("withdrawal above sent accepted")
	}
	// A close signature is no commit signature.
	c := *s
	c.Kind, c.Withdraw = KindClose, ton("1")
	if err := c.verify(a.Public().(ed25519.PublicKey), true); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("commit signature verified as a close: %v", err)
	}
}

func BenchmarkSignVoucher(b *testing.B) {
	key := testKey(b)
	sent := ton("1.5")
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, err := SignState(key, ID{1}, uint64(i), sent); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyVoucher(b *testing.B) {
	key := testKey(b)
	pub := key.Public().(ed25519.PublicKey)
	v, _ := SignState(key, ID{1}, 1, ton("1.5"))
	text := v.String()
	b.ReportAllocs()
	for b.Loop() {
		// What the payee does per request: decode from the wire and verify.
		s, err := ParseState(text)
		if err != nil {
			b.Fatal(err)
		}
		if err := s.Verify(pub); err != nil {
			b.Fatal(err)
		}
	}
}

func TestSameTermsRefusesAnswersWithGaps(t *testing.T) {
	s := &Settlement{Kind: KindCommit, Channel: ID{1}, PayerSeqno: 3, PayeeSeqno: 2, Sent: ton("1"), Withdraw: ton("1")}
	same := *s
	cases := map[string]func(*Settlement){
		"nil sent":        func(o *Settlement) { o.Sent = nil },
		"nil withdraw":    func(o *Settlement) { o.Withdraw = nil },
		"other withdraw":  func(o *Settlement) { o.Withdraw = ton("0.5") },
		"other sent":      func(o *Settlement) { o.Sent = ton("2") },
		"other seqno":     func(o *Settlement) { o.PayerSeqno++ },
		"other kind":      func(o *Settlement) { o.Kind = KindClose },
		"other channel":   func(o *Settlement) { o.Channel = ID{2} },
		"other payee seq": func(o *Settlement) { o.PayeeSeqno = 9 },
	}
	if !s.sameTerms(&same) {
		t.Fatal("an identical settlement differs")
	}
	if s.sameTerms(nil) {
		t.Fatal("nil is the same")
	}
	for name, m := range cases {
		o := *s
		m(&o)
		if s.sameTerms(&o) {
			t.Errorf("%s: taken as the same", name)
		}
	}
}
