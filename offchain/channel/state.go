package channel

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"

	"github.com/cocoon-network/cocoon/offchain/tonamount"
)

// Tags of the signed payloads (contracts/channel.tolk): a voucher, and the
// payee's approval of a voucher as a channel's final amount.
const (
	voucherTag = 0x43435643 // "CCVC"
	closeTag   = 0x4343434c // "CCCL"
)

// voucherSize is the length of a voucher's signed bytes: tag, channel id,
// seqno, amount (128 bits).
const voucherSize = 4 + 16 + 8 + 16

// ID is a channel's 128-bit identifier, chosen at random and never reused.
// It is part of the contract's data, so it fixes the channel's address, and
// part of every signed payload: a signature for one channel is worthless on
// another, and on a closed channel redeployed with other terms.
type ID [16]byte

// String is the id in hex.
func (id ID) String() string { return hex.EncodeToString(id[:]) }

// ParseID reads an id written by String.
func ParseID(s string) (ID, error) {
	var id ID
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != len(id) {
		return id, fmt.Errorf("channel id %q: want 32 hex digits", s)
	}
	copy(id[:], b)
	return id, nil
}

// SignedState is a signed cumulative amount on a channel. A voucher is the
// payer's: "I have paid you Sent nanoton in total, this is my Seqno-th
// voucher"; the contract pays the payee up to the best voucher it is shown.
// The payee signs one state of its own, with Sent zero, when it accepts a
// channel (Payee.Accept): the payer's proof that the payee agreed to the
// terms before it deposits; the contract never reads it.
//
// The signature covers voucherBytes: the tag, the channel id, seqno and
// Sent, exactly what the contract checks.
type SignedState struct {
	Channel   ID
	Seqno     uint64
	Sent      *big.Int // cumulative nanoton paid
	Signature []byte   // ed25519, 64 bytes
}

// voucherBytes are the signed bytes of a voucher.
func voucherBytes(id ID, seqno uint64, sent *big.Int) ([]byte, error) {
	if !tonamount.Fits(sent) {
		return nil, fmt.Errorf("amount %v is outside 0..2^120-1 nanoton", sent)
	}
	b := make([]byte, voucherSize)
	binary.BigEndian.PutUint32(b[0:4], voucherTag)
	copy(b[4:20], id[:])
	binary.BigEndian.PutUint64(b[20:28], seqno)
	sent.FillBytes(b[28:44])
	return b, nil
}

// SignState signs state (seqno, cumulative sent) of channel id.
func SignState(key ed25519.PrivateKey, id ID, seqno uint64, sent *big.Int) (SignedState, error) {
	b, err := voucherBytes(id, seqno, sent)
	if err != nil {
		return SignedState{}, fmt.Errorf("signing state %d of channel %s: %w", seqno, id, err)
	}
	return SignedState{Channel: id, Seqno: seqno, Sent: new(big.Int).Set(sent), Signature: ed25519.Sign(key, b)}, nil
}

// ErrBadSignature is wrapped by errors about a state or settlement whose
// signature does not verify.
var ErrBadSignature = errors.New("signature does not verify")

// Verify checks the signature against the signer's public key.
func (s SignedState) Verify(pub ed25519.PublicKey) error {
	if len(s.Signature) != ed25519.SignatureSize || len(pub) != ed25519.PublicKeySize {
		return fmt.Errorf("state %d of channel %s: %w (malformed signature or key)", s.Seqno, s.Channel, ErrBadSignature)
	}
	b, err := voucherBytes(s.Channel, s.Seqno, s.Sent)
	if err != nil {
		return fmt.Errorf("state %d of channel %s: %w", s.Seqno, s.Channel, err)
	}
	if !ed25519.Verify(pub, b, s.Signature) {
		return fmt.Errorf("state %d of channel %s: %w", s.Seqno, s.Channel, ErrBadSignature)
	}
	return nil
}

// Wire format of a SignedState: version byte, channel id, seqno (8 bytes
// big endian), signature, then the amount's big-endian bytes (at most 15).
const (
	wireVersion = 1
	wireFixed   = 1 + 16 + 8 + ed25519.SignatureSize
)

// MarshalBinary encodes the state compactly, for HTTP headers and stores.
func (s SignedState) MarshalBinary() ([]byte, error) {
	if !tonamount.Fits(s.Sent) {
		return nil, fmt.Errorf("encoding state %d of channel %s: amount %v out of range", s.Seqno, s.Channel, s.Sent)
	}
	if len(s.Signature) != ed25519.SignatureSize {
		return nil, fmt.Errorf("encoding state %d of channel %s: signature is %d bytes, want 64", s.Seqno, s.Channel, len(s.Signature))
	}
	out := make([]byte, wireFixed, wireFixed+15)
	out[0] = wireVersion
	copy(out[1:17], s.Channel[:])
	binary.BigEndian.PutUint64(out[17:25], s.Seqno)
	copy(out[25:], s.Signature)
	return append(out, s.Sent.Bytes()...), nil
}

// UnmarshalBinary decodes what MarshalBinary wrote; it does not check the
// signature.
func (s *SignedState) UnmarshalBinary(b []byte) error {
	if len(b) < wireFixed || len(b) > wireFixed+15 {
		return fmt.Errorf("decoding a signed state: %d bytes, want %d to %d", len(b), wireFixed, wireFixed+15)
	}
	if b[0] != wireVersion {
		return fmt.Errorf("decoding a signed state: version %d, want %d", b[0], wireVersion)
	}
	amount := b[wireFixed:]
	if len(amount) > 0 && amount[0] == 0 {
		return errors.New("decoding a signed state: amount has a leading zero byte")
	}
	copy(s.Channel[:], b[1:17])
	s.Seqno = binary.BigEndian.Uint64(b[17:25])
	s.Signature = append([]byte(nil), b[25:wireFixed]...)
	s.Sent = new(big.Int).SetBytes(amount)
	return nil
}

// String is the state in base64url (no padding), the form vouchers travel in.
func (s SignedState) String() string {
	b, err := s.MarshalBinary()
	if err != nil {
		return "invalid-state"
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// ParseState reads a state written by String; it does not check the signature.
func ParseState(text string) (SignedState, error) {
	b, err := base64.RawURLEncoding.DecodeString(text)
	if err != nil {
		return SignedState{}, fmt.Errorf("decoding a signed state: not base64url: %w", err)
	}
	var s SignedState
	return s, s.UnmarshalBinary(b)
}

// MarshalText and UnmarshalText make states JSON strings.
func (s SignedState) MarshalText() ([]byte, error) {
	b, err := s.MarshalBinary()
	if err != nil {
		return nil, err
	}
	return []byte(base64.RawURLEncoding.EncodeToString(b)), nil
}

// UnmarshalText reads what MarshalText wrote.
func (s *SignedState) UnmarshalText(text []byte) error {
	v, err := ParseState(string(text))
	if err != nil {
		return err
	}
	*s = v
	return nil
}
