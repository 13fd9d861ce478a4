package seal

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"testing"
)

func TestKeyEncoding(t *testing.T) {
	for _, tc := range []struct {
		suite   Suite
		name    string
		pubSize int
	}{
		{SuiteX25519, "x25519", 1 + 32},
		{SuiteX25519MLKEM768, "x25519-mlkem768", 1 + 1216},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.suite.String() != tc.name {
				t.Errorf("String() = %q", tc.suite.String())
			}
			if s, err := ParseSuite(tc.name); err != nil || s != tc.suite {
				t.Errorf("ParseSuite(%q) = %v, %v", tc.name, s, err)
			}
			priv := mustKey(t, tc.suite)
			raw, err := priv.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			if len(raw) != 1+privateKeySize || raw[0] != byte(tc.suite) {
				t.Errorf("private key encoding %d bytes, first %#x", len(raw), raw[0])
			}
			back, err := ParsePrivateKey(raw)
			if err != nil {
				t.Fatal(err)
			}
			if !back.Public().Equal(priv.Public()) {
				t.Error("private key round trip changed the public key")
			}
			pub := priv.Public().Marshal()
			if len(pub) != tc.pubSize || pub[0] != byte(tc.suite) {
				t.Errorf("public key encoding %d bytes, first %#x", len(pub), pub[0])
			}
			parsed, err := ParsePublicKey(pub)
			if err != nil {
				t.Fatal(err)
			}
			if !parsed.Equal(priv.Public()) || parsed.Suite() != tc.suite {
				t.Error("public key round trip differs")
			}
			if Commitment(parsed) != sha256.Sum256(pub) || parsed.Commitment() != Commitment(parsed) {
				t.Error("commitment is not sha256 of the encoded public key")
			}
			if Commitment(mustKey(t, tc.suite).Public()) == Commitment(parsed) {
				t.Error("two keys share a commitment")
			}
			// A key sealed to after a round trip through its encoding opens.
			env := mustSeal(t, parsed, PurposeRequest, testJob, []byte("x"))
			if _, err := OpenRequest(back, testJob, env); err != nil {
				t.Errorf("envelope to parsed key: %v", err)
			}
		})
	}
}

func TestParseKeyErrors(t *testing.T) {
	x := mustKey(t, SuiteX25519)
	pub := x.Public().Marshal()
	cases := []struct {
		name  string
		parse func([]byte) error
		in    []byte
		want  error
	}{
		{"public empty", parsePub, nil, ErrTruncated},
		{"public unknown suite", parsePub, append([]byte{9}, pub[1:]...), ErrUnknownSuite},
		{"public short", parsePub, pub[:len(pub)-1], ErrMalformed},
		{"public long", parsePub, append(bytes.Clone(pub), 0), ErrMalformed},
		{"public x25519 bytes labelled pq", parsePub, append([]byte{byte(SuiteX25519MLKEM768)}, pub[1:]...), ErrMalformed},
		{"private empty", parsePriv, nil, ErrTruncated},
		{"private unknown suite", parsePriv, make([]byte, 33), ErrUnknownSuite},
		{"private short", parsePriv, append([]byte{1}, make([]byte, 31)...), ErrMalformed},
		{"private long", parsePriv, append([]byte{2}, make([]byte, 64)...), ErrMalformed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.parse(tc.in); !errors.Is(err, tc.want) {
				t.Errorf("got %v, want %v", err, tc.want)
			}
		})
	}
	var nilKey *PublicKey
	if !nilKey.Equal(nil) || nilKey.Equal(x.Public()) || x.Public().Equal(nil) {
		t.Error("Equal mishandles nil")
	}
	if _, err := ParseSuite("x448"); !errors.Is(err, ErrUnknownSuite) {
		t.Errorf("ParseSuite(x448): %v", err)
	}
	if s := Suite(0x7f).String(); s != "suite(0x7f)" {
		t.Errorf("unknown suite String() = %q", s)
	}
}

func parsePub(b []byte) error  { _, err := ParsePublicKey(b); return err }
func parsePriv(b []byte) error { _, err := ParsePrivateKey(b); return err }
