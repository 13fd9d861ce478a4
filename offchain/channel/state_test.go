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

// The bytes Cocoon signs must be the contract's Voucher struct
// (contracts/channel.tolk): tag, id, seqno, amount as uint128, big endian.
// The devnet tests prove the contract accepts them.
func TestVoucherBytesLayout(t *testing.T) {
	id := ID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	got, err := voucherBytes(id, 0x0102030405060708, big.NewInt(0x0a0b0c))
	if err != nil {
		t.Fatal(err)
	}
	want := []byte{0x43, 0x43, 0x56, 0x43, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 1, 2, 3, 4, 5, 6, 7, 8,
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x0a, 0x0b, 0x0c}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("voucher bytes (-want +got):\n%s", diff)
	}
	if _, err := voucherBytes(id, 1, tonamount.Max()); err != nil {
		t.Fatalf("the largest amount: %v", err)
	}
	if _, err := voucherBytes(id, 1, new(big.Int).Add(tonamount.Max(), big.NewInt(1))); err == nil {
		t.Fatal("an amount above 2^120-1 was encoded")
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
	payer, payee := testKey(t), testKey(t)
	payerPub, payeePub := payer.Public().(ed25519.PublicKey), payee.Public().(ed25519.PublicKey)
	v, err := SignState(payer, ID{3}, 4, ton("1"))
	if err != nil {
		t.Fatal(err)
	}
	s := &Settlement{Channel: ID{3}, Voucher: v}
	if err := s.Approve(payee); err != nil {
		t.Fatal(err)
	}
	if err := s.verify(payerPub, payeePub); err != nil {
		t.Fatal(err)
	}
	cases := map[string]func(*Settlement){
		"amount changed":        func(o *Settlement) { o.Voucher.Sent = ton("2") },
		"seqno changed":         func(o *Settlement) { o.Voucher.Seqno++ },
		"approval by the payer": func(o *Settlement) { _ = o.Approve(payer) },
		"no approval":           func(o *Settlement) { o.PayeeSig = nil },
		// The payee's approval is no voucher: it cannot pass for one.
		"approval as voucher": func(o *Settlement) { o.Voucher.Signature = o.PayeeSig },
	}
	for name, change := range cases {
		o := *s
		change(&o)
		if err := o.verify(payerPub, payeePub); !errors.Is(err, ErrBadSignature) {
			t.Errorf("%s: %v, want a bad signature", name, err)
		}
	}
	o := *s
	o.Channel = ID{4}
	if err := o.verify(payerPub, payeePub); err == nil {
		t.Error("a settlement naming another channel than its voucher verified")
	}
	// A voucher signed by the payee's key is no voucher.
	forged, _ := SignState(payee, ID{3}, 4, ton("1"))
	if err := forged.Verify(payerPub); !errors.Is(err, ErrBadSignature) {
		t.Errorf("a payee-signed voucher verified: %v", err)
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
