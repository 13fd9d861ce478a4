package onlineproto

import (
	"crypto/ed25519"
	"crypto/rand"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestSignedOpen: receipts and capacity reports open only with the key
// that signed them, under their own domain, unchanged.
func TestSignedOpen(t *testing.T) {
	pub, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	other, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	u := &Usage{V: 1, Worker: "0:00", Payer: "p", RequestID: "r", Model: "m", InputTokens: 3, OutputTokens: 4, MaxTokens: 10, Cost: "7", Total: "9", Time: 1}
	su, err := SignUsage(key, u)
	if err != nil {
		t.Fatal(err)
	}
	c := &Capacity{V: 1, Worker: "0:00", Slots: 2, Free: 1, Seq: 5, Time: 2}
	sc, err := SignCapacity(key, c)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := su.Open(pub); err != nil || !cmp.Equal(got, u) {
		t.Errorf("usage round trip: %v, %s", err, cmp.Diff(u, got))
	}
	if got, err := sc.Open(pub); err != nil || !cmp.Equal(got, c) {
		t.Errorf("capacity round trip: %v, %s", err, cmp.Diff(c, got))
	}
	flipped := append([]byte(nil), su.Receipt...)
	flipped[len(flipped)-2] ^= 1
	for _, tc := range []struct {
		name string
		open func() error
		want string
	}{
		{"usage, other key", func() error { _, err := su.Open(other); return err }, "usage receipt: bad signature"},
		{"usage, no key", func() error { _, err := su.Open(nil); return err }, "usage receipt: no worker key"},
		{"usage, changed", func() error {
			_, err := (&SignedUsage{Receipt: flipped, Signature: su.Signature}).Open(pub)
			return err
		}, "usage receipt: bad signature"},
		{"capacity signature as usage", func() error {
			_, err := (&SignedUsage{Receipt: sc.Report, Signature: sc.Signature}).Open(pub)
			return err
		}, "usage receipt: bad signature"},
		{"capacity, other key", func() error { _, err := sc.Open(other); return err }, "capacity report: bad signature"},
		{"usage signature as capacity", func() error {
			_, err := (&SignedCapacity{Report: su.Receipt, Signature: su.Signature}).Open(pub)
			return err
		}, "capacity report: bad signature"},
	} {
		if err := tc.open(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}
