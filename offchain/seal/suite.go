// Package seal implements Cocoon's HPKE envelopes (RFC 9180, through Go's
// crypto/hpke): a client seals a prompt to an attested worker's key and the
// worker seals the answer to the client's per-job key. Every envelope is
// bound to one job address and one purpose, so it cannot be replayed to
// another job or read back as the other direction. docs/SEALING.md describes
// the wire format byte by byte.
package seal

import (
	"crypto/ecdh"
	"crypto/hpke"
	"fmt"
)

// Suite names one HPKE ciphersuite (KEM, KDF, AEAD). Its byte value is what
// keys and envelopes carry on the wire, so values are never reused.
type Suite uint8

const (
	// SuiteX25519 is DHKEM(X25519, HKDF-SHA256), HKDF-SHA256,
	// ChaCha20-Poly1305 (RFC 9180 ids 0x0020, 0x0001, 0x0003).
	SuiteX25519 Suite = 0x01
	// SuiteX25519MLKEM768 is the post-quantum hybrid MLKEM768-X25519
	// ("X-Wing", draft-ietf-hpke-pq), HKDF-SHA256, ChaCha20-Poly1305
	// (ids 0x647a, 0x0001, 0x0003).
	SuiteX25519MLKEM768 Suite = 0x02
)

// Suites lists the supported suites, classic first.
func Suites() []Suite { return []Suite{SuiteX25519, SuiteX25519MLKEM768} }

// String returns the suite's configuration name ("x25519", "x25519-mlkem768").
func (s Suite) String() string {
	switch s {
	case SuiteX25519:
		return "x25519"
	case SuiteX25519MLKEM768:
		return "x25519-mlkem768"
	}
	return fmt.Sprintf("suite(0x%02x)", uint8(s))
}

// ParseSuite reads a suite's configuration name.
func ParseSuite(name string) (Suite, error) {
	for _, s := range Suites() {
		if s.String() == name {
			return s, nil
		}
	}
	return 0, fmt.Errorf("%w: %q (want x25519 or x25519-mlkem768)", ErrUnknownSuite, name)
}

// params are the fixed sizes and algorithms behind a suite. A switch rather
// than a package-level table keeps the package free of mutable globals.
type params struct {
	kem        hpke.KEM
	kdf        hpke.KDF
	aead       hpke.AEAD
	publicSize int // SerializePublicKey output
	encSize    int // encapsulated key
}

func (s Suite) params() (params, error) {
	switch s {
	case SuiteX25519:
		return params{
			kem: hpke.DHKEM(ecdh.X25519()), kdf: hpke.HKDFSHA256(), aead: hpke.ChaCha20Poly1305(),
			publicSize: 32, encSize: 32,
		}, nil
	case SuiteX25519MLKEM768:
		// ML-KEM-768 encapsulation key (1184) ‖ X25519 (32); ciphertext 1088 ‖ 32.
		return params{
			kem: hpke.MLKEM768X25519(), kdf: hpke.HKDFSHA256(), aead: hpke.ChaCha20Poly1305(),
			publicSize: 1216, encSize: 1120,
		}, nil
	}
	return params{}, fmt.Errorf("%w: 0x%02x", ErrUnknownSuite, uint8(s))
}
