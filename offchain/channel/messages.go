package channel

import (
	"crypto/ed25519"
	"fmt"
	"math/big"

	"github.com/xssnick/tonutils-go/address"
	"github.com/xssnick/tonutils-go/tlb"
	tonwallet "github.com/xssnick/tonutils-go/ton/wallet"
	"github.com/xssnick/tonutils-go/tvm/cell"

	"github.com/cocoon-network/cocoon/offchain/tonamount"
)

// The internal messages of each operation, with the values the Payer and
// Payee send; exported for senders that are not a Sender (gas reports,
// other wallets). All are bounceable: a refused message returns its value.

// OpenMessages are the payer's two messages that open a channel, to be
// sent in one wallet transaction: the deploy carrying the init (and the
// storage reserve), then the deposit.
func OpenMessages(terms Terms, payerKey ed25519.PrivateKey, deposit *big.Int) ([]*tlb.InternalMessage, error) {
	if !tonamount.Fits(deposit) || deposit.Sign() == 0 {
		return nil, fmt.Errorf("opening channel %s: deposit must be positive", terms.ID)
	}
	si, err := terms.StateInit()
	if err != nil {
		return nil, err
	}
	addr, err := terms.Address()
	if err != nil {
		return nil, err
	}
	init, err := initBody(terms.ID, payerKey)
	if err != nil {
		return nil, fmt.Errorf("opening channel %s: %w", terms.ID, err)
	}
	top, err := topUpBody(true)
	if err != nil {
		return nil, err
	}
	// The contract returns what the init does not need for the reserve.
	initValue := new(big.Int).Add(terms.StorageFee, big.NewInt(10_000_000))
	return []*tlb.InternalMessage{
		internal(addr, initValue, init, si),
		internal(addr, new(big.Int).Add(deposit, big.NewInt(acceptFee)), top, nil),
	}, nil
}

// TopUpMessage adds amount to the payer's deposit (it carries amount plus
// the contract's accept fee, whose unused part comes back).
func TopUpMessage(ch *address.Address, amount *big.Int) (*tlb.InternalMessage, error) {
	if !tonamount.Fits(amount) || amount.Sign() == 0 {
		return nil, fmt.Errorf("top-up of %s: %w", ch, ErrAmountOutOfRange)
	}
	body, err := topUpBody(true)
	if err != nil {
		return nil, err
	}
	return internal(ch, new(big.Int).Add(amount, big.NewInt(acceptFee)), body, nil), nil
}

// SettlementMessage submits a commit or close signed by both sides.
func SettlementMessage(ch *address.Address, s *Settlement) (*tlb.InternalMessage, error) {
	body, err := settlementBody(s)
	if err != nil {
		return nil, fmt.Errorf("%s of channel %s: %w", s.Kind, s.Channel, err)
	}
	value := int64(commitValue)
	if s.Kind == KindClose {
		// A close sends the whole balance out; the value only pays the
		// message's way and goes to the payer with the rest.
		value = closeValue
	}
	return internal(ch, big.NewInt(value), body, nil), nil
}

// DisputeMessage starts an uncooperative close (challenge false) or
// challenges one (true) with both sides' states, signed by the sender's
// key (the payer's when byPayer).
func DisputeMessage(ch *address.Address, challenge, byPayer bool, key ed25519.PrivateKey, payer, payee SignedState) (*tlb.InternalMessage, error) {
	body, err := uncoopBody(challenge, byPayer, key, payer, payee)
	if err != nil {
		return nil, err
	}
	return internal(ch, big.NewInt(disputeValue), body, nil), nil
}

// FinishMessage pays out an uncooperative close after its windows.
func FinishMessage(ch *address.Address) (*tlb.InternalMessage, error) {
	body, err := finishBody()
	if err != nil {
		return nil, err
	}
	return internal(ch, big.NewInt(closeValue), body, nil), nil
}

func internal(to *address.Address, value *big.Int, body *cell.Cell, si *tlb.StateInit) *tlb.InternalMessage {
	return &tlb.InternalMessage{IHRDisabled: true, Bounce: true, DstAddr: to, Amount: coins(value), Body: body, StateInit: si}
}

// wallet wraps messages for a Sender: fees paid on top of the value, and
// (as wallet apps do) a message that cannot be paid is skipped.
func walletMsgs(ms ...*tlb.InternalMessage) []*tonwallet.Message {
	out := make([]*tonwallet.Message, len(ms))
	for i, m := range ms {
		out[i] = &tonwallet.Message{Mode: tonwallet.PayGasSeparately + tonwallet.IgnoreErrors, InternalMessage: m}
	}
	return out
}

// Sign adds one side's signature (the payer's when byPayer) to a
// settlement; Cosign is the checked way for a counterparty's proposal.
func (s *Settlement) Sign(key ed25519.PrivateKey, byPayer bool) error { return s.sign(key, byPayer) }
