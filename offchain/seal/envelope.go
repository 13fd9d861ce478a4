package seal

import (
	"crypto/hpke"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strconv"
)

// Version is the envelope format this package writes and reads.
const Version byte = 0x01

// JobAddrSize is the length of a job address in its raw form.
const JobAddrSize = 36

// headerSize is version (1) ‖ suite (1) ‖ job address (36) ‖ enc length (2).
const headerSize = 2 + JobAddrSize + 2

// tagSize is the ChaCha20-Poly1305 tag that every ciphertext ends with.
const tagSize = 16

// Purpose is the HPKE info string. Requests and results use different
// purposes so that a ciphertext of one kind never opens as the other, even
// under the same key.
type Purpose string

const (
	// PurposeRequest: a prompt sealed by the client to the worker's key.
	PurposeRequest Purpose = "cocoon/v1/request"
	// PurposeResult: an answer sealed by the worker to the client's per-job key.
	PurposeResult Purpose = "cocoon/v1/result"
)

func (p Purpose) check() error {
	switch p {
	case PurposeRequest, PurposeResult:
		return nil
	}
	// A mistyped purpose would seal envelopes no peer can open; refuse early.
	return fmt.Errorf("%w: %q", ErrUnknownPurpose, string(p))
}

// JobAddr is a TON account address in its 36-byte raw form: workchain as a
// big-endian int32, then the 32-byte account hash. The 36-byte form is used
// instead of the 33-byte one (int8 workchain) because it represents every
// workchain that "wc:hex" raw addresses and addr_var can, and it is the
// form liteservers use (liteServer.accountId). It is the AEAD associated
// data of every envelope.
type JobAddr [JobAddrSize]byte

// NewJobAddr builds a job address from its workchain and account hash,
// e.g. NewJobAddr(a.Workchain(), [32]byte(a.Data())) for a tonutils-go
// address.
func NewJobAddr(workchain int32, hash [32]byte) JobAddr {
	var a JobAddr
	binary.BigEndian.PutUint32(a[:4], uint32(workchain))
	copy(a[4:], hash[:])
	return a
}

// Workchain returns the address's workchain.
func (a JobAddr) Workchain() int32 { return int32(binary.BigEndian.Uint32(a[:4])) }

// Hash returns the address's 32-byte account hash.
func (a JobAddr) Hash() [32]byte { return [32]byte(a[4:]) }

// String returns the raw form "workchain:hex".
func (a JobAddr) String() string {
	h := a.Hash()
	return strconv.Itoa(int(a.Workchain())) + ":" + hex.EncodeToString(h[:])
}

// Header is the clear part of an envelope.
type Header struct {
	Version byte
	Suite   Suite
	Job     JobAddr
	// Enc is the HPKE encapsulated key; it aliases the parsed envelope.
	Enc []byte
}

// ParseHeader reads an envelope's clear fields without decrypting, so that
// a receiver can see which suite and job it claims. The returned slice is
// the ciphertext that follows the header.
func ParseHeader(env []byte) (Header, []byte, error) {
	if len(env) < 1 {
		return Header{}, nil, fmt.Errorf("%w: envelope is empty", ErrTruncated)
	}
	if env[0] != Version {
		return Header{}, nil, fmt.Errorf("%w: 0x%02x (this build reads 0x%02x)", ErrUnknownVersion, env[0], Version)
	}
	if len(env) < 2 {
		return Header{}, nil, fmt.Errorf("%w: envelope ends before its suite", ErrTruncated)
	}
	suite := Suite(env[1])
	p, err := suite.params()
	if err != nil {
		return Header{}, nil, fmt.Errorf("envelope: %w", err)
	}
	if len(env) < headerSize {
		return Header{}, nil, fmt.Errorf("%w: envelope is %d bytes, header needs %d", ErrTruncated, len(env), headerSize)
	}
	h := Header{Version: env[0], Suite: suite, Job: JobAddr(env[2 : 2+JobAddrSize])}
	encLen := int(binary.BigEndian.Uint16(env[2+JobAddrSize:]))
	// The length prefix lets a future suite carry another size, but for a
	// known suite anything but its fixed size is an altered envelope.
	if encLen != p.encSize {
		return Header{}, nil, fmt.Errorf("%w: %s encapsulated key length %d, want %d", ErrMalformed, suite, encLen, p.encSize)
	}
	rest := env[headerSize:]
	if len(rest) < encLen+tagSize {
		return Header{}, nil, fmt.Errorf("%w: envelope is %d bytes, %s needs at least %d", ErrTruncated, len(env), suite, headerSize+encLen+tagSize)
	}
	h.Enc = rest[:encLen:encLen]
	return h, rest[encLen:], nil
}

// Seal encrypts plaintext to pub for one job and purpose, and returns the
// envelope: version ‖ suite ‖ job ‖ len(enc) ‖ enc ‖ ciphertext. Each call
// uses a fresh ephemeral key, so sealing the same input twice gives
// different envelopes.
func Seal(pub *PublicKey, purpose Purpose, job JobAddr, plaintext []byte) ([]byte, error) {
	if pub == nil {
		return nil, fmt.Errorf("seal: sealing %s: no public key", purpose)
	}
	if err := purpose.check(); err != nil {
		return nil, err
	}
	p, err := pub.suite.params()
	if err != nil {
		return nil, err
	}
	enc, sender, err := hpke.NewSender(pub.key, p.kdf, p.aead, []byte(purpose))
	if err != nil {
		return nil, fmt.Errorf("seal: encapsulating to %s key: %w", pub.suite, err)
	}
	if len(enc) != p.encSize {
		// crypto/hpke's sizes are fixed by the specs; a change would
		// silently break every peer, so fail loudly instead.
		return nil, fmt.Errorf("seal: %s encapsulated key is %d bytes, want %d", pub.suite, len(enc), p.encSize)
	}
	ct, err := sender.Seal(job[:], plaintext)
	if err != nil {
		return nil, fmt.Errorf("seal: encrypting %s: %w", purpose, err)
	}
	env := make([]byte, 0, headerSize+len(enc)+len(ct))
	env = append(env, Version, byte(pub.suite))
	env = append(env, job[:]...)
	env = binary.BigEndian.AppendUint16(env, uint16(len(enc)))
	env = append(env, enc...)
	return append(env, ct...), nil
}

// Open decrypts an envelope sealed by Seal with the matching public key,
// purpose and job. The version, suite and job are checked before any
// decryption, so those mistakes get specific errors; everything else that
// is wrong (key, purpose, any altered byte) is ErrAuthFailed.
func Open(priv *PrivateKey, purpose Purpose, job JobAddr, env []byte) ([]byte, error) {
	if priv == nil {
		return nil, fmt.Errorf("seal: opening %s: no private key", purpose)
	}
	if err := purpose.check(); err != nil {
		return nil, err
	}
	h, ct, err := ParseHeader(env)
	if err != nil {
		return nil, err
	}
	if h.Suite != priv.suite {
		return nil, fmt.Errorf("%w: envelope is %s, key is %s", ErrSuiteMismatch, h.Suite, priv.suite)
	}
	if h.Job != job {
		return nil, fmt.Errorf("%w: envelope names %s, opening for %s", ErrWrongJob, h.Job, job)
	}
	p, err := h.Suite.params()
	if err != nil {
		return nil, err
	}
	return openRaw(p, priv.key, []byte(purpose), job[:], h.Enc, ct)
}

// openRaw is single-shot HPKE base-mode Open with an explicit aad; split
// out so that the RFC 9180 vectors exercise the same calls as Open.
func openRaw(p params, key hpke.PrivateKey, info, aad, enc, ct []byte) ([]byte, error) {
	r, err := hpke.NewRecipient(enc, key, p.kdf, p.aead, info)
	if err != nil {
		// Decapsulation fails only for an invalid encapsulated key (e.g. a
		// low-order X25519 point), which only an altered envelope has.
		return nil, fmt.Errorf("%w: decapsulation: %v", ErrAuthFailed, err)
	}
	pt, err := r.Open(aad, ct)
	if err != nil {
		return nil, fmt.Errorf("%w (wrong key, wrong purpose, or altered envelope)", ErrAuthFailed)
	}
	return pt, nil
}

// SealRequest seals a client's request plaintext to the worker's key.
func SealRequest(workerPub *PublicKey, job JobAddr, plaintext []byte) ([]byte, error) {
	return Seal(workerPub, PurposeRequest, job, plaintext)
}

// OpenRequest opens a request envelope with the worker's private key.
func OpenRequest(workerPriv *PrivateKey, job JobAddr, env []byte) ([]byte, error) {
	return Open(workerPriv, PurposeRequest, job, env)
}

// SealResult seals a worker's result plaintext to the client's per-job key.
func SealResult(clientPub *PublicKey, job JobAddr, plaintext []byte) ([]byte, error) {
	return Seal(clientPub, PurposeResult, job, plaintext)
}

// OpenResult opens a result envelope with the client's per-job private key.
func OpenResult(clientPriv *PrivateKey, job JobAddr, env []byte) ([]byte, error) {
	return Open(clientPriv, PurposeResult, job, env)
}

// CiphertextHash is sha256 of the whole envelope, header included: the
// request commitment a Job stores (requestHash) and the result hash a
// worker's receipt carries.
func CiphertextHash(env []byte) [32]byte { return sha256.Sum256(env) }
