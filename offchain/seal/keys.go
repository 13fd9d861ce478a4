package seal

import (
	"crypto/hpke"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
)

// privateKeySize is the serialized private key of both suites: the X25519
// scalar, or the 32-byte X-Wing seed from which both halves are expanded.
const privateKeySize = 32

// PublicKey is a suite-tagged HPKE public key.
type PublicKey struct {
	suite Suite
	key   hpke.PublicKey
}

// PrivateKey is a suite-tagged HPKE private key. It never leaves the process
// except through Marshal/SaveKey, which callers keep inside the TEE.
type PrivateKey struct {
	suite Suite
	key   hpke.PrivateKey
}

// GenerateKey creates a key pair for suite from crypto/rand.
func GenerateKey(suite Suite) (*PrivateKey, error) {
	p, err := suite.params()
	if err != nil {
		return nil, err
	}
	k, err := p.kem.GenerateKey()
	if err != nil {
		return nil, fmt.Errorf("seal: generating %s key: %w", suite, err)
	}
	return &PrivateKey{suite: suite, key: k}, nil
}

// Suite returns the key's suite.
func (k *PrivateKey) Suite() Suite { return k.suite }

// Public returns the matching public key.
func (k *PrivateKey) Public() *PublicKey {
	return &PublicKey{suite: k.suite, key: k.key.PublicKey()}
}

// Marshal encodes the private key as suite id (1 byte) ‖ RFC 9180
// SerializePrivateKey (32 bytes for both suites).
func (k *PrivateKey) Marshal() ([]byte, error) {
	raw, err := k.key.Bytes()
	if err != nil {
		return nil, fmt.Errorf("seal: serializing %s private key: %w", k.suite, err)
	}
	return append([]byte{byte(k.suite)}, raw...), nil
}

// ParsePrivateKey decodes the output of PrivateKey.Marshal.
func ParsePrivateKey(b []byte) (*PrivateKey, error) {
	if len(b) < 1 {
		return nil, fmt.Errorf("%w: private key: empty", ErrTruncated)
	}
	suite := Suite(b[0])
	p, err := suite.params()
	if err != nil {
		return nil, fmt.Errorf("private key: %w", err)
	}
	if len(b)-1 != privateKeySize {
		return nil, fmt.Errorf("%w: %s private key is %d bytes, want %d", ErrMalformed, suite, len(b)-1, privateKeySize)
	}
	k, err := p.kem.NewPrivateKey(b[1:])
	if err != nil {
		return nil, fmt.Errorf("%w: %s private key: %v", ErrMalformed, suite, err)
	}
	return &PrivateKey{suite: suite, key: k}, nil
}

// Suite returns the key's suite.
func (p *PublicKey) Suite() Suite { return p.suite }

// Marshal encodes the public key as suite id (1 byte) ‖ RFC 9180
// SerializePublicKey (32 bytes for x25519, 1216 for x25519-mlkem768). The
// encoding is self-describing, so one field carries either suite.
func (p *PublicKey) Marshal() []byte {
	return append([]byte{byte(p.suite)}, p.key.Bytes()...)
}

// Equal reports whether p and q are the same key of the same suite.
func (p *PublicKey) Equal(q *PublicKey) bool {
	if p == nil || q == nil {
		return p == q
	}
	return subtle.ConstantTimeCompare(p.Marshal(), q.Marshal()) == 1
}

// ParsePublicKey decodes the output of PublicKey.Marshal.
func ParsePublicKey(b []byte) (*PublicKey, error) {
	if len(b) < 1 {
		return nil, fmt.Errorf("%w: public key: empty", ErrTruncated)
	}
	suite := Suite(b[0])
	p, err := suite.params()
	if err != nil {
		return nil, fmt.Errorf("public key: %w", err)
	}
	if len(b)-1 != p.publicSize {
		return nil, fmt.Errorf("%w: %s public key is %d bytes, want %d", ErrMalformed, suite, len(b)-1, p.publicSize)
	}
	k, err := p.kem.NewPublicKey(b[1:])
	if err != nil {
		return nil, fmt.Errorf("%w: %s public key: %v", ErrMalformed, suite, err)
	}
	return &PublicKey{suite: suite, key: k}, nil
}

// Commitment is sha256(pub.Marshal()). The contracts hold 256-bit values
// only, so the chain stores this (Worker's hpkeKey, Job's clientHpkeKey,
// read as a big-endian uint256) and the full key travels off-chain: in the
// worker's evidence bundle, or inside the sealed request for the client's
// per-job key. Whoever receives the full key checks it against this value.
func Commitment(pub *PublicKey) [32]byte { return sha256.Sum256(pub.Marshal()) }

// Commitment is the package-level Commitment of p.
func (p *PublicKey) Commitment() [32]byte { return Commitment(p) }
