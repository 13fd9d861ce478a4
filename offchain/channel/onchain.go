package channel

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/xssnick/tonutils-go/address"
	"github.com/xssnick/tonutils-go/tlb"
	tonwallet "github.com/xssnick/tonutils-go/ton/wallet"
	"github.com/xssnick/tonutils-go/tvm/cell"

	"github.com/cocoon-network/cocoon/bindings"
	"github.com/cocoon-network/cocoon/contracts"
	"github.com/cocoon-network/cocoon/offchain/boc"
	"github.com/cocoon-network/cocoon/offchain/chain"
)

// Amounts of contracts/channel.tolk, in nanoton.
const (
	// reserve is the contract's RESERVE: kept on the balance for storage
	// and returned to the payer at close.
	reserve = 10_000_000
	// minGas is the contract's MIN_GAS: the least value of a message that
	// makes it work. A top-up brings it beyond its amount (the unspent part
	// stays on the balance and returns to the payer at close).
	minGas = 4_000_000
	// closeBond is the contract's CLOSE_BOND: what a payer's close alone
	// locks up and what the payee earns for answering it with a voucher.
	closeBond = 20_000_000
	// opValue is what commit, close and finish messages carry: above
	// minGas; the contract returns the unspent part to the sender.
	opValue = minGas + 1_000_000
	// storageRate bounds what storage costs a channel's account, in
	// nanoton per second: 0.224 was measured under the mainnet config with
	// the code inline (less with the code as a library). An estimate from
	// it errs towards attaching too much to a claim, which the contract
	// returns.
	storageRate = 1
	// startCloseValue is what a start-close carries: the bond and gas (the
	// unspent part stays with the channel and returns to the payer).
	startCloseValue = opValue + closeBond
	// topUpExtra is what a top-up or open carries beyond its amount (and the
	// reserve): minGas and a margin for storage fees.
	topUpExtra = minGas + 1_000_000
)

// Closing is the dispute timing of a channel, fixed when it is opened.
type Closing struct {
	// Quarantine is how long the payee has to answer a close the payer
	// started alone (it closes with its best voucher); after it anyone may
	// finish and the payer gets the rest.
	Quarantine time.Duration
}

// DefaultClosing gives the payee's watcher a day to answer a payer's close.
func DefaultClosing() Closing { return Closing{Quarantine: 24 * time.Hour} }

// Terms are everything that fixes a channel's address: who the two sides
// are (their signing keys), where their payouts go, and the quarantine.
type Terms struct {
	ID           ID
	PayerKey     ed25519.PublicKey
	PayeeKey     ed25519.PublicKey
	PayerAddress *address.Address // tops up, closes alone; the rest goes here
	PayeeAddress *address.Address // the payee's earnings go here (a worker's owner wallet)
	Closing      Closing
	// CodeLibrary deploys the contract with a reference to its code held
	// as a public library instead of the code (792 bytes). The library must
	// be published on the network (the devnet's PublishLibrary; on mainnet
	// the operator publishes it, as it does the Job code).
	CodeLibrary bool
}

// Validate reports the first thing wrong with the terms.
func (t *Terms) Validate() error {
	switch {
	case len(t.PayerKey) != ed25519.PublicKeySize:
		return errors.New("channel terms: payer key must be 32 bytes")
	case len(t.PayeeKey) != ed25519.PublicKeySize:
		return errors.New("channel terms: payee key must be 32 bytes")
	case bytes.Equal(t.PayerKey, t.PayeeKey):
		return errors.New("channel terms: payer and payee keys must differ")
	case t.PayerAddress == nil || t.PayeeAddress == nil:
		return errors.New("channel terms: payer and payee addresses are required")
	case t.Closing.Quarantine < time.Minute || t.Closing.Quarantine > 365*24*time.Hour:
		return fmt.Errorf("channel terms: quarantine %s is outside 1m..365d", t.Closing.Quarantine)
	}
	return nil
}

// StateInit is the contract's code and initial data for the terms.
func (t *Terms) StateInit() (*tlb.StateInit, error) {
	if err := t.Validate(); err != nil {
		return nil, err
	}
	data, err := bindings.Encode(bindings.ChannelStorage{
		ID: t.ID, Quarantine: uint32(t.Closing.Quarantine / time.Second), Payee: t.PayeeAddress,
		Parties: bindings.ChannelParties{PayerKey: [32]byte(t.PayerKey), PayeeKey: [32]byte(t.PayeeKey), Payer: t.PayerAddress},
	})
	if err != nil {
		return nil, fmt.Errorf("building channel data: %w", err)
	}
	code := ContractCode()
	if t.CodeLibrary {
		code = contracts.LibraryRef(code)
	}
	return &tlb.StateInit{Code: code, Data: data}, nil
}

// ContractCode is contracts/channel.tolk, compiled.
func ContractCode() *cell.Cell { return contracts.MustCode("channel") }

// isContractCode reports whether an account's code is the contract's code
// or a library reference to it.
func isContractCode(code *cell.Cell) bool {
	h := code.Hash()
	return bytes.Equal(h, ContractCode().Hash()) || bytes.Equal(h, contracts.LibraryRef(ContractCode()).Hash())
}

// Address is the channel contract's address (basechain).
func (t *Terms) Address() (*address.Address, error) {
	si, err := t.StateInit()
	if err != nil {
		return nil, err
	}
	return bindings.StateInitAddress(si), nil
}

// Status is where a channel contract is in its life.
type Status int

const (
	StatusAbsent     Status = iota // not deployed
	StatusOpen                     // payments flow
	StatusClosing                  // the payer started a close; the payee may still close with its voucher
	StatusFinishable               // the quarantine is over: anyone may finish (the payee may still close first)
	// StatusUnfunded is a contract that holds no deposit: someone's
	// refused message carrying the StateInit activated the address. It is
	// not open: no voucher can draw on it, and Payer.Open deposits into it.
	StatusUnfunded
	// StatusClosed is a channel that was paid out: the contract stays as a
	// tombstone that refuses every message (ExitClosed), so nothing sent
	// to it later is kept and no old voucher pays again.
	StatusClosed
)

var statusNames = [...]string{"absent", "open", "closing", "finishable", "unfunded", "closed"}

func (s Status) String() string {
	if int(s) < len(statusNames) {
		return statusNames[s]
	}
	return fmt.Sprintf("status(%d)", int(s))
}

// OnChain is a channel contract's state as the chain shows it.
type OnChain struct {
	Address *address.Address
	Status  Status
	Balance *big.Int // the contract's whole balance, nanoton, as of its last transaction
	Now     time.Time
	// LastTx is the contract's latest transaction: storage fees accrue
	// from its time until the next one (lastActivity reads it).
	LastTx chain.TxID

	// Deposit is what the payer made payable in total; vouchers may not
	// pay more.
	Deposit *big.Int
	// Paid is what the payee was paid so far (commits).
	Paid *big.Int
	// CloseStarted and QuarantineEnds are zero unless the payer started a
	// close alone.
	CloseStarted, QuarantineEnds time.Time
}

// ErrWrongContract is wrapped when the address holds other code than the
// channel contract.
var ErrWrongContract = errors.New("not a Cocoon channel contract")

// Read fetches the channel contract at addr and decodes its storage. A
// contract with other code is refused; the caller checks the terms by
// deriving the address from them.
func Read(ctx context.Context, net chain.Network, addr *address.Address) (*OnChain, error) {
	acc, err := net.Account(ctx, addr)
	if err != nil {
		return nil, fmt.Errorf("reading channel %s: %w", addr, err)
	}
	info, err := net.MasterchainInfo(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading chain time: %w", err)
	}
	o := &OnChain{Address: addr, Balance: acc.Balance, Now: time.Unix(int64(info.Time), 0), LastTx: acc.LastTx, Deposit: new(big.Int), Paid: new(big.Int)}
	if o.Balance == nil {
		o.Balance = new(big.Int)
	}
	if acc.Status != chain.StatusActive {
		o.Status = StatusAbsent
		return o, nil
	}
	if acc.Code == nil || acc.Data == nil || !isContractCode(acc.Code) {
		return nil, fmt.Errorf("reading channel %s: %w", addr, ErrWrongContract)
	}
	var st *bindings.ChannelStorage
	if err := boc.Do("decoding channel storage", func() (err error) { st, err = bindings.Parse[bindings.ChannelStorage](acc.Data); return err }); err != nil {
		return nil, fmt.Errorf("decoding channel %s storage: %w", addr, err)
	}
	o.Deposit, o.Paid = st.Deposit, st.Paid
	if st.Closed {
		o.Status = StatusClosed
		return o, nil
	}
	if st.CloseStarted == 0 {
		// The deposit only grows: zero means never funded.
		o.Status = StatusOpen
		if o.Deposit.Sign() == 0 {
			o.Status = StatusUnfunded
		}
		return o, nil
	}
	o.CloseStarted = time.Unix(int64(st.CloseStarted), 0)
	o.QuarantineEnds = o.CloseStarted.Add(time.Duration(st.Quarantine) * time.Second)
	// The contract finishes once now > started + quarantine.
	if o.QuarantineEnds.Before(o.Now) {
		o.Status = StatusFinishable
	} else {
		o.Status = StatusClosing
	}
	return o, nil
}

// lastActivity is when the channel's latest transaction ran: its balance
// is as of then, and storage fees accrue against it until the next one.
func lastActivity(ctx context.Context, net chain.Network, oc *OnChain) (time.Time, error) {
	for tx, err := range chain.History(ctx, net, oc.Address, chain.HistoryOptions{Limit: 1}) {
		if err != nil {
			return time.Time{}, fmt.Errorf("reading the last transaction of channel %s: %w", oc.Address, err)
		}
		return time.Unix(int64(tx.Now), 0), nil
	}
	return oc.Now, nil
}

// storageSince bounds the storage fees the channel owes for the time
// since its last transaction (charged at its next one).
func storageSince(oc *OnChain, last time.Time) *big.Int {
	idle := max(oc.Now.Sub(last), 0)
	return big.NewInt(int64(idle/time.Second) * storageRate)
}

// ClosePayouts reads what the channel's closing transaction (its latest)
// sent the payee's and the payer's addresses.
func ClosePayouts(ctx context.Context, net chain.Network, rec *Record) (toPayee, toPayer *big.Int, err error) {
	for tx, err := range chain.History(ctx, net, rec.Address, chain.HistoryOptions{Limit: 1}) {
		if err != nil {
			return nil, nil, fmt.Errorf("reading the close of channel %s: %w", rec.Terms.ID, err)
		}
		if toPayee, err = chain.SentTo(tx, rec.Terms.PayeeAddress); err != nil {
			return nil, nil, err
		}
		if toPayer, err = chain.SentTo(tx, rec.Terms.PayerAddress); err != nil {
			return nil, nil, err
		}
		return toPayee, toPayer, nil
	}
	return new(big.Int), new(big.Int), nil
}

func commitCell(v SignedState) (*cell.Cell, error) {
	vb, err := voucherBytes(v.Channel, v.Seqno, v.Sent)
	if err != nil {
		return nil, err
	}
	if len(v.Signature) != ed25519.SignatureSize {
		return nil, fmt.Errorf("voucher %d: %w (malformed signature)", v.Seqno, ErrBadSignature)
	}
	return bindings.Encode(bindings.ChannelCommit{Signature: v.Signature, Voucher: vb})
}

func closeCell(s *Settlement) (*cell.Cell, error) {
	v := s.Voucher
	vb, err := voucherBytes(v.Channel, v.Seqno, v.Sent)
	if err != nil {
		return nil, err
	}
	if len(v.Signature) != ed25519.SignatureSize || len(s.PayeeSig) != ed25519.SignatureSize {
		return nil, fmt.Errorf("close of channel %s: %w (malformed signature)", s.Channel, ErrBadSignature)
	}
	return bindings.Encode(bindings.ChannelClose{PayeeSignature: s.PayeeSig,
		Approval: bindings.ChannelApproval{PayerSignature: v.Signature, Tag: closeTag, Voucher: vb}})
}

// Sender puts internal messages on chain from a funded wallet and returns
// the wallet's transaction; *wallet.Wallet is one.
type Sender interface {
	Address() *address.Address
	Send(ctx context.Context, net chain.Network, msgs ...*tonwallet.Message) (*chain.Transaction, error)
}

// RefusedError reports that the channel contract refused a message: the
// exit code is the contract's (docs/CHANNELS.md lists them).
type RefusedError struct {
	Op       string
	ExitCode int
	Tx       *chain.Transaction
	// Action: the contract ran, but its action phase failed with
	// ExitCode as the result code; nothing it meant to pay was paid.
	Action bool
}

func (e *RefusedError) Error() string {
	if e.Action {
		return fmt.Sprintf("channel contract could not carry out %s: its action phase failed with result code %d, so nothing was paid and the channel is as it was", e.Op, e.ExitCode)
	}
	name := exitNames[e.ExitCode]
	if name == "" {
		name = "unknown"
	}
	return fmt.Sprintf("channel contract refused %s with exit code %d (%s)", e.Op, e.ExitCode, name)
}

// Exit codes of contracts/channel.tolk (docs/CHANNELS.md).
const (
	ExitNotPayer     = 170
	ExitBadSignature = 171
	ExitWrongChannel = 172
	ExitNotAbovePaid = 173
	ExitOverDeposit  = 174
	ExitClosing      = 175
	ExitNotClosing   = 176
	ExitTooEarly     = 177
	ExitLowValue     = 178
	ExitUnknownOp    = 179
	ExitClosed       = 180
)

var exitNames = map[int]string{
	ExitNotPayer: "not from the payer", ExitBadSignature: "a signature does not verify",
	ExitWrongChannel: "not a voucher of this channel", ExitNotAbovePaid: "the amount is not above what was paid",
	ExitOverDeposit: "the amount is above the deposit", ExitClosing: "the payer's close runs",
	ExitNotClosing: "no close started", ExitTooEarly: "the quarantine is not over", ExitClosed: "the channel is closed",
	ExitLowValue: "the value does not cover the operation", ExitUnknownOp: "unknown operation",
}

// IsRefused reports whether err is the contract refusing with code.
func IsRefused(err error, code int) bool {
	var r *RefusedError
	return errors.As(err, &r) && r.ExitCode == code
}

// send sends msgs from w, then waits for the channel's transaction caused
// by the first of them and requires that it succeeded.
func send(ctx context.Context, net chain.Network, w Sender, ch *address.Address, op string, poll time.Duration, msgs ...*tonwallet.Message) (*chain.Transaction, error) {
	before, err := net.Account(ctx, ch)
	if err != nil {
		return nil, fmt.Errorf("%s: reading channel %s: %w", op, ch, err)
	}
	wtx, err := w.Send(ctx, net, msgs...)
	if err != nil {
		return nil, fmt.Errorf("%s: sending from %s: %w", op, w.Address(), err)
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	tx, err := chain.FollowOutbound(ctx, net, wtx, ch, before.LastTx.LT, poll)
	if err != nil {
		return nil, fmt.Errorf("%s: waiting for channel %s: %w", op, ch, err)
	}
	if code, ran := chain.ComputeExitCode(tx); !ran || (code != 0 && code != 1) {
		return tx, &RefusedError{Op: op, ExitCode: code, Tx: tx}
	}
	// The contract may run and still fail to send what it meant to (a
	// payout below the forwarding fee): then nothing happened on chain.
	if code, ok, present := chain.ActionResult(tx); present && !ok {
		return tx, &RefusedError{Op: op, ExitCode: code, Tx: tx, Action: true}
	}
	return tx, nil
}
