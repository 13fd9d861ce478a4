package channel

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"

	"github.com/xssnick/tonutils-go/tvm/cell"

	"github.com/cocoon-network/cocoon/offchain/tonamount"
)

// stateTag is the contract's TAG_STATE: the first 32 bits of a signed
// semi-channel state.
const stateTag = 0x43685374

// ID is a channel's 128-bit identifier; it is part of every signed state
// and message, so a signature for one channel is worthless on another.
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

// SignedState is one side's signed semi-channel state: "I have sent Sent
// nanoton to the other side in total, and this is my Seqno-th state". A
// voucher is the payer's SignedState; the payee signs its own (always with
// Sent zero) so that either side can close the channel on chain alone.
//
// The signature covers the cell the contract checks: TAG_STATE, the
// channel id, seqno, sent, an all-zero conditionals hash (Cocoon uses no
// conditional payments) and no counterparty state.
type SignedState struct {
	Channel   ID
	Seqno     uint64
	Sent      *big.Int // cumulative nanoton this side has sent
	Signature []byte   // ed25519, 64 bytes
}

// stateCell is the semi-channel cell that is signed and sent on chain.
func stateCell(id ID, seqno uint64, sent *big.Int) (*cell.Cell, error) {
	if !tonamount.Fits(sent) {
		return nil, fmt.Errorf("amount %v is outside 0..2^120-1 nanoton", sent)
	}
	b := cell.BeginCell()
	// Every store below fits its field by construction, so errors are impossible.
	_ = b.StoreUInt(stateTag, 32)
	_ = b.StoreSlice(id[:], 128)
	_ = b.StoreUInt(seqno, 64)
	_ = b.StoreBigCoins(sent)
	_ = b.StoreSlice(make([]byte, 32), 256)
	_ = b.StoreBoolBit(false) // no counterparty state
	return b.EndCell(), nil
}

// SignState signs side's state (seqno, cumulative sent) of channel id.
func SignState(key ed25519.PrivateKey, id ID, seqno uint64, sent *big.Int) (SignedState, error) {
	c, err := stateCell(id, seqno, sent)
	if err != nil {
		return SignedState{}, fmt.Errorf("signing state %d of channel %s: %w", seqno, id, err)
	}
	return SignedState{Channel: id, Seqno: seqno, Sent: new(big.Int).Set(sent), Signature: ed25519.Sign(key, c.Hash())}, nil
}

// ErrBadSignature is wrapped by errors about a state or settlement whose
// signature does not verify.
var ErrBadSignature = errors.New("signature does not verify")

// Verify checks the signature against the signer's public key.
func (s SignedState) Verify(pub ed25519.PublicKey) error {
	if len(s.Signature) != ed25519.SignatureSize || len(pub) != ed25519.PublicKeySize {
		return fmt.Errorf("state %d of channel %s: %w (malformed signature or key)", s.Seqno, s.Channel, ErrBadSignature)
	}
	c, err := stateCell(s.Channel, s.Seqno, s.Sent)
	if err != nil {
		return fmt.Errorf("state %d of channel %s: %w", s.Seqno, s.Channel, err)
	}
	if !ed25519.Verify(pub, c.Hash(), s.Signature) {
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
