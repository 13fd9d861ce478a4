package seal

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"testing"
)

var (
	testJob  = NewJobAddr(0, [32]byte{1, 2, 3, 31: 4})
	otherJob = NewJobAddr(0, [32]byte{1, 2, 3, 31: 5})
)

func mustKey(t testing.TB, s Suite) *PrivateKey {
	t.Helper()
	k, err := GenerateKey(s)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func mustSeal(t testing.TB, pub *PublicKey, purpose Purpose, job JobAddr, pt []byte) []byte {
	t.Helper()
	env, err := Seal(pub, purpose, job, pt)
	if err != nil {
		t.Fatal(err)
	}
	return env
}

func TestRoundTrip(t *testing.T) {
	for _, s := range Suites() {
		priv := mustKey(t, s)
		for _, size := range []int{0, 1, 4096, 1 << 20} {
			pt := bytes.Repeat([]byte{0xa5}, size)
			for _, tc := range []struct {
				name string
				seal func(*PublicKey, JobAddr, []byte) ([]byte, error)
				open func(*PrivateKey, JobAddr, []byte) ([]byte, error)
			}{
				{"request", SealRequest, OpenRequest},
				{"result", SealResult, OpenResult},
			} {
				t.Run(fmt.Sprintf("%s/%s/%d", s, tc.name, size), func(t *testing.T) {
					env, err := tc.seal(priv.Public(), testJob, pt)
					if err != nil {
						t.Fatal(err)
					}
					p, _ := s.params()
					if want := headerSize + p.encSize + size + tagSize; len(env) != want {
						t.Errorf("envelope is %d bytes, want %d", len(env), want)
					}
					got, err := tc.open(priv, testJob, env)
					if err != nil {
						t.Fatal(err)
					}
					if !bytes.Equal(got, pt) {
						t.Error("plaintext differs after round trip")
					}
				})
			}
		}
	}
}

func TestEnvelopeLayout(t *testing.T) {
	for _, s := range Suites() {
		t.Run(s.String(), func(t *testing.T) {
			priv := mustKey(t, s)
			p, _ := s.params()
			env := mustSeal(t, priv.Public(), PurposeRequest, testJob, []byte("hi"))
			if env[0] != Version || Suite(env[1]) != s {
				t.Errorf("version/suite bytes %#x %#x", env[0], env[1])
			}
			if !bytes.Equal(env[2:38], testJob[:]) {
				t.Error("job address not at bytes 2..37")
			}
			if n := binary.BigEndian.Uint16(env[38:40]); int(n) != p.encSize {
				t.Errorf("enc length field %d, want %d", n, p.encSize)
			}
			h, ct, err := ParseHeader(env)
			if err != nil {
				t.Fatal(err)
			}
			if h.Suite != s || h.Job != testJob || len(h.Enc) != p.encSize || len(ct) != 2+tagSize {
				t.Errorf("ParseHeader = %+v, %d ciphertext bytes", h, len(ct))
			}
			if again := mustSeal(t, priv.Public(), PurposeRequest, testJob, []byte("hi")); bytes.Equal(again, env) {
				t.Error("two seals of the same input are equal; the ephemeral key is not fresh")
			}
			if CiphertextHash(env) != sha256.Sum256(env) {
				t.Error("CiphertextHash is not sha256 of the envelope")
			}
		})
	}
}

func TestOpenErrors(t *testing.T) {
	for _, s := range Suites() {
		priv := mustKey(t, s)
		other := mustKey(t, s)
		var otherSuite *PrivateKey
		for _, o := range Suites() {
			if o != s {
				otherSuite = mustKey(t, o)
			}
		}
		env := mustSeal(t, priv.Public(), PurposeRequest, testJob, []byte("secret prompt"))
		edit := func(f func([]byte) []byte) []byte { return f(bytes.Clone(env)) }
		cases := []struct {
			name    string
			key     *PrivateKey
			purpose Purpose
			job     JobAddr
			env     []byte
			want    error
		}{
			{"wrong job", priv, PurposeRequest, otherJob, env, ErrWrongJob},
			{"job field rewritten", priv, PurposeRequest, otherJob, edit(func(b []byte) []byte { copy(b[2:], otherJob[:]); return b }), ErrAuthFailed},
			{"wrong key", other, PurposeRequest, testJob, env, ErrAuthFailed},
			{"other suite's key", otherSuite, PurposeRequest, testJob, env, ErrSuiteMismatch},
			{"wrong purpose", priv, PurposeResult, testJob, env, ErrAuthFailed},
			{"unknown purpose", priv, "cocoon/v1/requets", testJob, env, ErrUnknownPurpose},
			{"unknown version", priv, PurposeRequest, testJob, edit(func(b []byte) []byte { b[0] = 2; return b }), ErrUnknownVersion},
			{"unknown suite", priv, PurposeRequest, testJob, edit(func(b []byte) []byte { b[1] = 0x7f; return b }), ErrUnknownSuite},
			{"enc length", priv, PurposeRequest, testJob, edit(func(b []byte) []byte { b[39]++; return b }), ErrMalformed},
			{"empty", priv, PurposeRequest, testJob, nil, ErrTruncated},
			{"header only", priv, PurposeRequest, testJob, env[:headerSize], ErrTruncated},
			{"no tag", priv, PurposeRequest, testJob, env[:len(env)-len("secret prompt")-1], ErrTruncated},
			{"last byte gone", priv, PurposeRequest, testJob, env[:len(env)-1], ErrAuthFailed},
			{"byte appended", priv, PurposeRequest, testJob, append(bytes.Clone(env), 0), ErrAuthFailed},
			{"ciphertext bit", priv, PurposeRequest, testJob, edit(func(b []byte) []byte { b[len(b)-20] ^= 1; return b }), ErrAuthFailed},
			{"enc bit", priv, PurposeRequest, testJob, edit(func(b []byte) []byte { b[headerSize] ^= 0x80; return b }), ErrAuthFailed},
		}
		for _, tc := range cases {
			t.Run(s.String()+"/"+tc.name, func(t *testing.T) {
				pt, err := Open(tc.key, tc.purpose, tc.job, tc.env)
				if !errors.Is(err, tc.want) {
					t.Fatalf("Open = %q, %v; want %v", pt, err, tc.want)
				}
				if pt != nil {
					t.Error("plaintext returned with an error")
				}
				if strings.Contains(err.Error(), "secret prompt") {
					t.Error("error text contains the plaintext")
				}
			})
		}
	}
}

func TestNilAndBadArguments(t *testing.T) {
	priv := mustKey(t, SuiteX25519)
	if _, err := Seal(nil, PurposeRequest, testJob, nil); err == nil {
		t.Error("Seal(nil key) succeeded")
	}
	if _, err := Open(nil, PurposeRequest, testJob, []byte{1}); err == nil {
		t.Error("Open(nil key) succeeded")
	}
	if _, err := Seal(priv.Public(), "", testJob, nil); !errors.Is(err, ErrUnknownPurpose) {
		t.Errorf("Seal with empty purpose: %v", err)
	}
	if _, err := GenerateKey(0); !errors.Is(err, ErrUnknownSuite) {
		t.Errorf("GenerateKey(0): %v", err)
	}
}

// TestEveryBitFlip flips each bit of a short envelope in turn: no altered
// envelope may open, whichever field the bit is in.
func TestEveryBitFlip(t *testing.T) {
	for _, s := range Suites() {
		t.Run(s.String(), func(t *testing.T) {
			priv := mustKey(t, s)
			env := mustSeal(t, priv.Public(), PurposeResult, testJob, []byte("ok"))
			if testing.Short() && s == SuiteX25519MLKEM768 {
				t.Skip("10k ML-KEM decapsulations; skipped with -short")
			}
			for i := range len(env) * 8 {
				mut := bytes.Clone(env)
				mut[i/8] ^= 1 << (i % 8)
				if pt, err := Open(priv, PurposeResult, testJob, mut); err == nil {
					t.Fatalf("flipping bit %d (byte %d) still opens: %q", i, i/8, pt)
				}
			}
		})
	}
}

// TestEveryTruncation opens every proper prefix of an envelope.
func TestEveryTruncation(t *testing.T) {
	for _, s := range Suites() {
		t.Run(s.String(), func(t *testing.T) {
			priv := mustKey(t, s)
			env := mustSeal(t, priv.Public(), PurposeRequest, testJob, []byte("twelve bytes"))
			for n := range len(env) {
				if _, err := Open(priv, PurposeRequest, testJob, env[:n]); err == nil {
					t.Fatalf("prefix of %d/%d bytes opens", n, len(env))
				}
			}
		})
	}
}

func TestJobAddr(t *testing.T) {
	for _, tc := range []struct {
		wc   int32
		want string
	}{
		{0, "0:" + strings.Repeat("ab", 32)},
		{-1, "-1:" + strings.Repeat("ab", 32)},
		{2147483647, "2147483647:" + strings.Repeat("ab", 32)},
	} {
		var h [32]byte
		for i := range h {
			h[i] = 0xab
		}
		a := NewJobAddr(tc.wc, h)
		if a.Workchain() != tc.wc || a.Hash() != h || a.String() != tc.want {
			t.Errorf("NewJobAddr(%d) = %s (wc %d)", tc.wc, a, a.Workchain())
		}
	}
	if a := NewJobAddr(-1, [32]byte{}); !bytes.Equal(a[:4], []byte{0xff, 0xff, 0xff, 0xff}) {
		t.Errorf("masterchain workchain bytes %x, want ffffffff", a[:4])
	}
}
