package bindings

import (
	"math/big"

	"github.com/xssnick/tonutils-go/address"
	"github.com/xssnick/tonutils-go/tlb"
)

// The one-way payment channel of contracts/channel.tolk: its storage and
// the messages it takes, declared like every other contract's (Encode,
// Parse). offchain/channel builds and reads them; the Tolk names carry a
// Channel prefix here (the Worker has a TopUp of its own).

// ChannelParties is the channel's fixed parties (Tolk Parties), read only
// by signed operations.
type ChannelParties struct {
	PayerKey [32]byte         `tlb:"bits 256"`
	PayeeKey [32]byte         `tlb:"bits 256"`
	Payer    *address.Address `tlb:"addr"` // tops up, starts a close alone, gets the rest
}

// ChannelStorage is the channel contract's data (Tolk Storage); with
// Deposit, Paid, CloseStarted and Closed zero it is the StateInit's data,
// which fixes the address.
type ChannelStorage struct {
	ID           [16]byte         `tlb:"bits 128"` // random, never reused
	Quarantine   uint32           `tlb:"## 32"`    // seconds the payee has to answer a payer's close
	Payee        *address.Address `tlb:"addr"`     // the payee's payout address
	Deposit      *big.Int         `tlb:"var uint 16"`
	Paid         *big.Int         `tlb:"var uint 16"`
	CloseStarted uint32           `tlb:"## 32"` // 0 while open
	Closed       bool             `tlb:"bool"`  // a tombstone: paid out, refuses everything
	Parties      ChannelParties   `tlb:"^"`
}

// ChannelTopUp adds Amount to the deposit (the payer; also the deploying
// message of an open).
type ChannelTopUp struct {
	_      tlb.Magic `tlb:"#c4a10001"`
	Amount *big.Int  `tlb:"var uint 16"`
}

// ChannelCommit pays the payee up to the voucher (anyone may send it).
type ChannelCommit struct {
	_         tlb.Magic `tlb:"#c4a10002"`
	Signature []byte    `tlb:"bits 512"` // the payer's, over Voucher
	Voucher   []byte    `tlb:"bits 352"` // the signed voucher bytes
}

// ChannelApproval is a close's approval: the payer's voucher and the
// close tag, which the payee signs to take the voucher as final.
type ChannelApproval struct {
	PayerSignature []byte `tlb:"bits 512"`
	Tag            uint32 `tlb:"## 32"`
	Voucher        []byte `tlb:"bits 352"`
}

// ChannelClose pays both sides out and leaves the channel a closed
// tombstone (anyone may send it).
type ChannelClose struct {
	_              tlb.Magic       `tlb:"#c4a10003"`
	PayeeSignature []byte          `tlb:"bits 512"` // over the approval after its signature
	Approval       ChannelApproval `tlb:"^"`
}

// ChannelStartClose starts the payer's close alone (the payer only).
type ChannelStartClose struct {
	_ tlb.Magic `tlb:"#c4a10004"`
}

// ChannelFinish ends a close once the quarantine is over (anyone).
type ChannelFinish struct {
	_ tlb.Magic `tlb:"#c4a10005"`
}
