package channel

import (
	"fmt"
	"math/big"

	"github.com/xssnick/tonutils-go/address"
	"github.com/xssnick/tonutils-go/tlb"
	tonwallet "github.com/xssnick/tonutils-go/ton/wallet"
	"github.com/xssnick/tonutils-go/tvm/cell"

	"github.com/cocoon-network/cocoon/bindings"
	"github.com/cocoon-network/cocoon/offchain/tonamount"
)

// The internal messages of each operation, with the values the Payer and
// Payee send; exported for senders that are not a Sender (gas reports,
// other wallets). All are bounceable: a refused message returns its value.

// OpenMessage deploys the channel of terms with deposit in one message
// (one contract transaction): it carries the deposit, the storage reserve
// and the top-up's gas.
func OpenMessage(terms Terms, deposit *big.Int) (*tlb.InternalMessage, error) {
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
	body, err := bindings.Encode(bindings.ChannelTopUp{Amount: deposit})
	if err != nil {
		return nil, err
	}
	value := new(big.Int).Add(deposit, big.NewInt(reserve+topUpExtra))
	return internal(addr, value, body, si), nil
}

// TopUpMessage adds amount to the payer's deposit; only the payer's
// address may send it.
func TopUpMessage(ch *address.Address, amount *big.Int) (*tlb.InternalMessage, error) {
	if !tonamount.Fits(amount) || amount.Sign() == 0 {
		return nil, fmt.Errorf("top-up of %s: %w", ch, ErrAmountOutOfRange)
	}
	body, err := bindings.Encode(bindings.ChannelTopUp{Amount: amount})
	if err != nil {
		return nil, err
	}
	return internal(ch, new(big.Int).Add(amount, big.NewInt(topUpExtra)), body, nil), nil
}

// CommitMessage pays the payee what voucher v pays beyond what it was
// already paid; anyone may send it (the payout goes to the payee's
// address, the message's unspent value back to its sender).
func CommitMessage(ch *address.Address, v SignedState) (*tlb.InternalMessage, error) {
	body, err := commitCell(v)
	if err != nil {
		return nil, fmt.Errorf("commit of channel %s: %w", v.Channel, err)
	}
	return internal(ch, big.NewInt(opValue), body, nil), nil
}

// CloseMessage submits a close approved by the payee; anyone may send it.
func CloseMessage(ch *address.Address, s *Settlement) (*tlb.InternalMessage, error) {
	body, err := closeCell(s)
	if err != nil {
		return nil, fmt.Errorf("close of channel %s: %w", s.Channel, err)
	}
	return internal(ch, big.NewInt(opValue), body, nil), nil
}

// claimValue is what a commit or close that pays the payee owed should
// carry: opValue, plus whatever storage fees took (or, since the last
// transaction, will have taken: unpaid) of the channel's reserve and the
// payee's due, as the contract then pays the due in full out of the
// message's value. It returns what it does not spend, so a margin costs
// the sender nothing.
func claimValue(oc *OnChain, owed, unpaid *big.Int) *big.Int {
	v := big.NewInt(opValue)
	short := new(big.Int).Add(owed, big.NewInt(reserve))
	short.Add(short, unpaid)
	short.Sub(short, oc.Balance)
	if short.Sign() > 0 {
		v.Add(v, short)
	}
	return v
}

// StartCloseMessage starts the payer's close alone (only the payer's
// address may send it): after the quarantine, unless the payee closes with
// a voucher first, FinishMessage gives the payer the rest. It carries the
// contract's close bond, which goes to the payee if it answers with a
// voucher and back to the payer otherwise.
func StartCloseMessage(ch *address.Address) (*tlb.InternalMessage, error) {
	body, err := bindings.Encode(bindings.ChannelStartClose{})
	if err != nil {
		return nil, err
	}
	return internal(ch, big.NewInt(startCloseValue), body, nil), nil
}

// FinishMessage ends the payer's close after the quarantine.
func FinishMessage(ch *address.Address) (*tlb.InternalMessage, error) {
	body, err := bindings.Encode(bindings.ChannelFinish{})
	if err != nil {
		return nil, err
	}
	return internal(ch, big.NewInt(opValue), body, nil), nil
}

func internal(to *address.Address, value *big.Int, body *cell.Cell, si *tlb.StateInit) *tlb.InternalMessage {
	return &tlb.InternalMessage{IHRDisabled: true, Bounce: true, DstAddr: to, Amount: tlb.FromNanoTON(value), Body: body, StateInit: si}
}

// walletMsgs wraps messages for a Sender: fees paid on top of the value,
// and (as wallet apps do) a message that cannot be paid is skipped.
func walletMsgs(ms ...*tlb.InternalMessage) []*tonwallet.Message {
	out := make([]*tonwallet.Message, len(ms))
	for i, m := range ms {
		out[i] = &tonwallet.Message{Mode: tonwallet.PayGasSeparately + tonwallet.IgnoreErrors, InternalMessage: m}
	}
	return out
}
