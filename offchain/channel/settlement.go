package channel

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"math/big"

	"github.com/cocoon-network/cocoon/offchain/tonamount"
)

// Kind says what a Settlement does on chain.
type Kind int

const (
	// KindCommit moves the payee's earnings to its payout address and
	// keeps the channel open.
	KindCommit Kind = iota + 1
	// KindClose pays both sides out and closes the channel.
	KindClose
)

func (k Kind) String() string {
	switch k {
	case KindCommit:
		return "commit"
	case KindClose:
		return "close"
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// Settlement is a cooperative commit or close: both sides sign the same
// (sent, seqnos, withdrawal) and either submits it. One side proposes it
// signed, the other checks it against what it signed or holds and
// countersigns (Cosign).
type Settlement struct {
	Kind       Kind
	Channel    ID
	PayerSeqno uint64   // must be above the payer's committed seqno on chain
	PayeeSeqno uint64   // likewise for the payee
	Sent       *big.Int // the payer's cumulative payments to the payee
	// Withdraw is the payee's cumulative withdrawal after a commit (at
	// most Sent); unused by a close.
	Withdraw *big.Int
	// PayeeState is the payee's own state at PayeeSeqno, handed to the
	// payer with a commit: after the commit the payer needs it to be able
	// to close the channel alone.
	PayeeState *SignedState
	PayerSig   []byte
	PayeeSig   []byte
}

// signedHash is the hash both sides sign.
func (s *Settlement) signedHash() ([]byte, error) {
	if !tonamount.Fits(s.Sent) {
		return nil, fmt.Errorf("%s of channel %s: sent %v out of range", s.Kind, s.Channel, s.Sent)
	}
	if s.Kind == KindCommit && (s.Withdraw == nil || s.Withdraw.Sign() < 0 || s.Withdraw.Cmp(s.Sent) > 0) {
		return nil, fmt.Errorf("commit of channel %s: withdrawal %v is not within 0..sent", s.Channel, s.Withdraw)
	}
	c, err := settlementCell(s)
	if err != nil {
		return nil, fmt.Errorf("%s of channel %s: %w", s.Kind, s.Channel, err)
	}
	return c.Hash(), nil
}

func (s *Settlement) sign(key ed25519.PrivateKey, payer bool) error {
	h, err := s.signedHash()
	if err != nil {
		return err
	}
	if payer {
		s.PayerSig = ed25519.Sign(key, h)
	} else {
		s.PayeeSig = ed25519.Sign(key, h)
	}
	return nil
}

// verify checks the payer's (payer true) or the payee's signature.
func (s *Settlement) verify(pub ed25519.PublicKey, payer bool) error {
	h, err := s.signedHash()
	if err != nil {
		return err
	}
	sig, who := s.PayeeSig, "payee"
	if payer {
		sig, who = s.PayerSig, "payer"
	}
	if len(sig) != ed25519.SignatureSize || !ed25519.Verify(pub, h, sig) {
		return fmt.Errorf("%s of channel %s: the %s's %w", s.Kind, s.Channel, who, ErrBadSignature)
	}
	return nil
}

// sameTerms reports whether o (a countersigned copy from the other side)
// settles exactly what s does.
func (s *Settlement) sameTerms(o *Settlement) bool {
	if o == nil || o.Kind != s.Kind || o.Channel != s.Channel || o.PayerSeqno != s.PayerSeqno || o.PayeeSeqno != s.PayeeSeqno {
		return false
	}
	if o.Sent == nil || o.Sent.Cmp(s.Sent) != 0 {
		return false
	}
	return s.Kind != KindCommit || o.Withdraw != nil && o.Withdraw.Cmp(s.Withdraw) == 0
}

// Cosigner countersigns a settlement the other side proposes: the payee
// countersigns the payer's close, the payer the payee's commit or close.
// Payer and Payee are Cosigners; the gateway and worker carry the call
// over HTTP.
type Cosigner interface {
	Cosign(ctx context.Context, s *Settlement) (*Settlement, error)
}
