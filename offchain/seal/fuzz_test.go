package seal

import (
	"bytes"
	"testing"
)

// FuzzOpen feeds arbitrary envelopes to Open under both suites' keys: it
// must never panic, and nothing but an untouched seed may open.
func FuzzOpen(f *testing.F) {
	type keyed struct {
		priv *PrivateKey
		env  []byte
	}
	pt := []byte("fuzz plaintext")
	var seeds []keyed
	for _, s := range Suites() {
		k := mustKey(f, s)
		env := mustSeal(f, k.Public(), PurposeRequest, testJob, pt)
		seeds = append(seeds, keyed{k, env})
		f.Add(env)
		f.Add(env[:headerSize])
		f.Add(env[:len(env)-1])
	}
	f.Add([]byte{})
	f.Add([]byte{Version})
	f.Add([]byte{Version, byte(SuiteX25519), 0xff})
	f.Fuzz(func(t *testing.T, env []byte) {
		_, _, _ = ParseHeader(env)
		_, _ = ParsePublicKey(env)
		_, _ = ParsePrivateKey(env)
		for _, s := range seeds {
			got, err := Open(s.priv, PurposeRequest, testJob, env)
			if err != nil {
				continue
			}
			if !bytes.Equal(env, s.env) || !bytes.Equal(got, pt) {
				t.Fatalf("an envelope other than the seed opened: %x", env)
			}
		}
	})
}
