package channel

import (
	"context"
	"crypto/ed25519"
	"encoding/binary"
	"fmt"
)

// Settlement closes a channel at once: the payer's final voucher and the
// payee's approval of it (its signature over the close tag and the
// voucher's bytes). The contract pays the payee the voucher's amount minus
// what it was already paid, the payer the rest, and destroys itself.
//
// The payee approves a voucher it holds to close alone (Payee.Close); for a
// cooperative close the payer proposes a fresh voucher for everything it
// signed and the payee approves it (Payee.Cosign) if it pays no less than
// the voucher it holds.
type Settlement struct {
	Channel  ID          `json:"channel"`
	Voucher  SignedState `json:"voucher"`
	PayeeSig []byte      `json:"payee_signature,omitempty"`
}

// approvalBytes are what the payee signs: the close tag, then the
// voucher's signed bytes.
func approvalBytes(v SignedState) ([]byte, error) {
	vb, err := voucherBytes(v.Channel, v.Seqno, v.Sent)
	if err != nil {
		return nil, fmt.Errorf("close of channel %s: %w", v.Channel, err)
	}
	b := make([]byte, 4, 4+len(vb))
	binary.BigEndian.PutUint32(b, closeTag)
	return append(b, vb...), nil
}

// Approve signs the settlement as the payee.
func (s *Settlement) Approve(payeeKey ed25519.PrivateKey) error {
	b, err := approvalBytes(s.Voucher)
	if err != nil {
		return err
	}
	s.PayeeSig = ed25519.Sign(payeeKey, b)
	return nil
}

// verify checks both signatures against the channel's keys.
func (s *Settlement) verify(payerKey, payeeKey ed25519.PublicKey) error {
	if s.Voucher.Channel != s.Channel {
		return fmt.Errorf("close of channel %s: the voucher is for channel %s", s.Channel, s.Voucher.Channel)
	}
	if err := s.Voucher.Verify(payerKey); err != nil {
		return fmt.Errorf("close of channel %s: the payer's voucher: %w", s.Channel, err)
	}
	return s.verifyPayee(payeeKey)
}

func (s *Settlement) verifyPayee(payeeKey ed25519.PublicKey) error {
	b, err := approvalBytes(s.Voucher)
	if err != nil {
		return err
	}
	if len(s.PayeeSig) != ed25519.SignatureSize || !ed25519.Verify(payeeKey, b, s.PayeeSig) {
		return fmt.Errorf("close of channel %s: the payee's %w", s.Channel, ErrBadSignature)
	}
	return nil
}

// Cosigner approves a close the payer proposes: the payee (Payee), or the
// worker's endpoint for it (Peer).
type Cosigner interface {
	Cosign(ctx context.Context, s *Settlement) (*Settlement, error)
}
