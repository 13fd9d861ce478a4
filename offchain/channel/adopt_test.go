package channel

import (
	"crypto/ed25519"
	"crypto/rand"
	"math/big"
	"testing"
)

// A payer whose store lost its newest voucher takes it back from the payee
// (Adopt) and signs on from it; a voucher it did not sign, or an older
// one, changes nothing.
func TestPayerAdoptsItsOwnNewerVoucher(t *testing.T) {
	env := newTestEnv(t)
	terms := env.open(ton("1"))
	if _, err := env.payer.SignVoucher(terms.ID, big.NewInt(100)); err != nil {
		t.Fatal(err)
	}
	_, other, _ := ed25519.GenerateKey(rand.Reader)
	mine := func(seqno uint64, sent int64) SignedState {
		v, err := SignState(env.payerKey, terms.ID, seqno, big.NewInt(sent))
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	forged, _ := SignState(other, terms.ID, 9, big.NewInt(500))
	for _, tc := range []struct {
		name     string
		v        SignedState
		newer    bool
		err      bool
		wantSent int64
	}{
		{"older seqno", mine(1, 100), false, false, 100},
		{"signed by another key", forged, false, true, 100},
		{"newer, as the payee holds it", mine(5, 300), true, false, 300},
		{"lower amount at a higher seqno", mine(6, 200), false, false, 300},
	} {
		t.Run(tc.name, func(t *testing.T) {
			newer, err := env.payer.Adopt(tc.v)
			if newer != tc.newer || (err != nil) != tc.err {
				t.Fatalf("Adopt: newer %v, err %v", newer, err)
			}
			rec, _ := env.payer.Channel(terms.ID)
			if rec.Sent().Int64() != tc.wantSent {
				t.Fatalf("stored voucher pays %s, want %d", rec.Sent(), tc.wantSent)
			}
		})
	}
	// Signing goes on from the adopted voucher: never below it.
	if _, err := env.payer.SignVoucher(terms.ID, big.NewInt(250)); err == nil {
		t.Fatal("signed 250 after adopting a voucher for 300")
	}
	v, err := env.payer.SignVoucher(terms.ID, big.NewInt(350))
	if err != nil || v.Seqno != 6 {
		t.Fatalf("next voucher: seqno %d, %v (want 6)", v.Seqno, err)
	}
}
