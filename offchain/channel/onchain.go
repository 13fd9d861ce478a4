package channel

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/xssnick/ton-payment-network/pkg/payments"
	"github.com/xssnick/tonutils-go/address"
	"github.com/xssnick/tonutils-go/tlb"
	tonwallet "github.com/xssnick/tonutils-go/ton/wallet"
	"github.com/xssnick/tonutils-go/tvm/cell"

	"github.com/cocoon-network/cocoon/contracts"
	"github.com/cocoon-network/cocoon/offchain/chain"
	"github.com/cocoon-network/cocoon/offchain/tonamount"
)

// Amounts the contract itself requires (contracts/fees.tolk of TON's
// payment-channel contract), in nanoton.
const (
	// acceptFee is what a top-up carries above its amount for the
	// contract's FEE_TON_ACCEPT; what the contract's gas leaves comes back.
	acceptFee = 30_000_000
	// commitValue is the least value a cooperative commit must carry; what
	// the contract does not spend comes back.
	commitValue = 30_000_000
	// minStorageFee is the contract's FEE_MIN_BALANCE: the storage reserve
	// must be above it.
	minStorageFee = 10_000_000
)

// Closing is the dispute timing of a channel, fixed when it is opened.
type Closing struct {
	// Quarantine is how long a state submitted by one side alone can be
	// challenged by the other side.
	Quarantine time.Duration
	// SettleWindow follows the quarantine; the contract uses it for
	// conditional payments (Cocoon has none), then anyone may finish.
	SettleWindow time.Duration
	// Fine is added to what a side pays when it is caught submitting a
	// stale state of its own.
	Fine *big.Int
}

// DefaultClosing gives the payee's watcher a day to notice a stale close,
// and fines a stale close 0.1 TON.
func DefaultClosing() Closing {
	return Closing{Quarantine: 24 * time.Hour, SettleWindow: 10 * time.Minute, Fine: big.NewInt(100_000_000)}
}

// DefaultStorageFee is the reserve the channel keeps for its own storage
// (0.02 TON); it returns to the payer when the channel closes.
func DefaultStorageFee() *big.Int { return big.NewInt(20_000_000) }

// Terms are everything that fixes a channel's address: who the two sides
// are (their signing keys), where their payouts go, and the dispute timing.
// The payer is side A of TON's contract (it deploys and gets the rest of
// the balance at close); the payee is side B.
type Terms struct {
	ID           ID
	PayerKey     ed25519.PublicKey
	PayeeKey     ed25519.PublicKey
	PayerAddress *address.Address // the payer's refunds go here
	PayeeAddress *address.Address // the payee's earnings go here (a worker's owner wallet)
	Closing      Closing
	StorageFee   *big.Int
	// CodeLibrary deploys the contract with a reference to its code held
	// as a public library instead of the code (3.3 KB): the open costs
	// about 0.013 TON less in forwarding fees. The library must be
	// published on the network (the devnet's PublishLibrary; on mainnet
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
	case t.Closing.SettleWindow < 0 || t.Closing.SettleWindow > 365*24*time.Hour:
		return fmt.Errorf("channel terms: settle window %s is outside 0..365d", t.Closing.SettleWindow)
	case !tonamount.Fits(t.Closing.Fine):
		return errors.New("channel terms: fine must be a non-negative amount")
	case !tonamount.Fits(t.StorageFee) || t.StorageFee.Cmp(big.NewInt(minStorageFee)) <= 0:
		return fmt.Errorf("channel terms: storage fee must be above %d nanoton", minStorageFee)
	}
	return nil
}

func coins(n *big.Int) tlb.Coins { return tlb.FromNanoTON(n) }

// StateInit is the contract's code and initial data for the terms.
func (t *Terms) StateInit() (*tlb.StateInit, error) {
	if err := t.Validate(); err != nil {
		return nil, err
	}
	data, err := tlb.ToCell(payments.AsyncChannelStorageData{
		Balance: payments.Balance{
			DepositA: tlb.ZeroCoins, DepositB: tlb.ZeroCoins, WithdrawA: tlb.ZeroCoins,
			WithdrawB: tlb.ZeroCoins, SentA: tlb.ZeroCoins, SentB: tlb.ZeroCoins,
		},
		KeyA:      t.PayerKey,
		KeyB:      t.PayeeKey,
		ChannelID: t.ID[:],
		ClosingConfig: payments.ClosingConfig{
			QuarantineDuration:       uint32(t.Closing.Quarantine / time.Second),
			MisbehaviorFine:          coins(t.Closing.Fine),
			ConditionalCloseDuration: uint32(t.Closing.SettleWindow / time.Second),
		},
		PaymentConfig: payments.PaymentConfig{
			StorageFee:     coins(t.StorageFee),
			DestA:          t.PayerAddress,
			DestB:          t.PayeeAddress,
			CurrencyConfig: payments.CurrencyConfigTon{},
		},
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

// ContractCode is the payment-channel code Cocoon deploys: the newest that
// ton-payment-network ships.
func ContractCode() *cell.Cell { return payments.PaymentChannelCodes[0] }

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
	c, err := tlb.ToCell(si)
	if err != nil {
		return nil, fmt.Errorf("serializing channel state init: %w", err)
	}
	return address.NewAddress(0, 0, c.Hash()), nil
}

// Status is where a channel contract is in its life.
type Status int

// The contract's states (getChannelState), plus Absent for an address with
// no contract.
const (
	StatusAbsent     Status = iota // not deployed
	StatusUninit                   // deployed but not initialised, or closed and emptied
	StatusOpen                     // payments flow
	StatusClosing                  // a side submitted a state alone; the other may challenge
	StatusSettling                 // quarantine over; the conditionals window runs
	StatusFinishable               // anyone may finish the close and pay out
)

var statusNames = [...]string{"absent", "uninit", "open", "closing", "settling", "finishable"}

func (s Status) String() string {
	if int(s) < len(statusNames) {
		return statusNames[s]
	}
	return fmt.Sprintf("status(%d)", int(s))
}

// Quarantine is a state submitted for an uncooperative close.
type Quarantine struct {
	PayerSeqno uint64
	PayerSent  *big.Int
	PayeeSeqno uint64
	PayeeSent  *big.Int
	Started    time.Time
	// ByPayer tells who submitted it (after a challenge: who challenged).
	ByPayer    bool
	Challenged bool
}

// OnChain is a channel contract's state as the chain shows it.
type OnChain struct {
	Address *address.Address
	Status  Status
	Balance *big.Int // the contract's whole balance, nanoton
	Now     time.Time

	DepositPayer, DepositPayee   *big.Int
	WithdrawPayer, WithdrawPayee *big.Int
	SentPayer, SentPayee         *big.Int // as of the last commit
	CommittedPayer               uint64   // seqno of the payer's last committed state
	CommittedPayee               uint64
	Quarantine                   *Quarantine
	QuarantineEnds, FinishAfter  time.Time // zero without a quarantine
}

// Available is what the payer can still promise: its deposits minus its
// own withdrawals (the contract refuses a commit of more).
func (o *OnChain) Available() *big.Int {
	return new(big.Int).Sub(o.DepositPayer, o.WithdrawPayer)
}

// ErrWrongContract is wrapped when the address holds other code than the
// payment-channel contract.
var ErrWrongContract = errors.New("not a payment-channel contract")

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
	zero := func() *big.Int { return new(big.Int) }
	o := &OnChain{
		Address: addr, Balance: acc.Balance, Now: time.Unix(int64(info.Time), 0),
		DepositPayer: zero(), DepositPayee: zero(), WithdrawPayer: zero(), WithdrawPayee: zero(), SentPayer: zero(), SentPayee: zero(),
	}
	if o.Balance == nil {
		o.Balance = zero()
	}
	if acc.Status != chain.StatusActive {
		o.Status = StatusAbsent
		return o, nil
	}
	if acc.Code == nil || acc.Data == nil || !isContractCode(acc.Code) {
		return nil, fmt.Errorf("reading channel %s: %w", addr, ErrWrongContract)
	}
	var st payments.AsyncChannelStorageData
	if err := tlb.LoadFromCell(&st, acc.Data.BeginParse()); err != nil {
		return nil, fmt.Errorf("decoding channel %s storage: %w", addr, err)
	}
	b := st.Balance
	o.DepositPayer, o.DepositPayee = b.DepositA.Nano(), b.DepositB.Nano()
	o.WithdrawPayer, o.WithdrawPayee = b.WithdrawA.Nano(), b.WithdrawB.Nano()
	o.SentPayer, o.SentPayee = b.SentA.Nano(), b.SentB.Nano()
	o.CommittedPayer, o.CommittedPayee = st.CommittedSeqnoA, st.CommittedSeqnoB
	switch {
	case !st.Initialized:
		o.Status = StatusUninit
	case st.Quarantine == nil:
		o.Status = StatusOpen
	default:
		q := st.Quarantine
		o.Quarantine = &Quarantine{
			PayerSeqno: q.StateA.Seqno, PayerSent: q.StateA.Sent.Nano(),
			PayeeSeqno: q.StateB.Seqno, PayeeSent: q.StateB.Sent.Nano(),
			Started: time.Unix(int64(q.QuarantineStarts), 0), ByPayer: q.StateCommittedByA, Challenged: q.StateChallenged,
		}
		cc := st.ClosingConfig
		o.QuarantineEnds = o.Quarantine.Started.Add(time.Duration(cc.QuarantineDuration) * time.Second)
		o.FinishAfter = o.QuarantineEnds.Add(time.Duration(cc.ConditionalCloseDuration) * time.Second)
		// The contract compares with strict inequalities: a challenge is
		// accepted while started+quarantine > now, a finish once
		// started+quarantine+window < now.
		switch {
		case o.QuarantineEnds.After(o.Now):
			o.Status = StatusClosing
		case o.FinishAfter.After(o.Now) || o.FinishAfter.Equal(o.Now):
			o.Status = StatusSettling
		default:
			o.Status = StatusFinishable
		}
	}
	return o, nil
}

// Message bodies. Each is what the contract parses; signatures cover the
// cell of the Signed part, which carries the channel id and a tag, so no
// signature can be replayed on another channel or as another operation.

func initBody(id ID, payerKey ed25519.PrivateKey) (*cell.Cell, error) {
	var m payments.InitChannel
	m.IsA = true
	m.Signed.ChannelID = id[:]
	signed, err := tlb.ToCell(m.Signed)
	if err != nil {
		return nil, err
	}
	m.Signature.Value = signed.Sign(payerKey)
	return tlb.ToCell(m)
}

func topUpBody(byPayer bool) (*cell.Cell, error) {
	return tlb.ToCell(payments.TopupBalance{IsA: byPayer})
}

// settlementCell is the signed part of a cooperative commit or close.
func settlementCell(s *Settlement) (*cell.Cell, error) {
	switch s.Kind {
	case KindCommit:
		var m payments.CooperativeCommit
		m.Signed.ChannelID = s.Channel[:]
		m.Signed.SentA, m.Signed.SentB = coins(s.Sent), tlb.ZeroCoins
		m.Signed.SeqnoA, m.Signed.SeqnoB = s.PayerSeqno, s.PayeeSeqno
		m.Signed.WithdrawA, m.Signed.WithdrawB = tlb.ZeroCoins, coins(s.Withdraw)
		return tlb.ToCell(m.Signed)
	case KindClose:
		var m payments.CooperativeClose
		m.Signed.ChannelID = s.Channel[:]
		m.Signed.SentA, m.Signed.SentB = coins(s.Sent), tlb.ZeroCoins
		m.Signed.SeqnoA, m.Signed.SeqnoB = s.PayerSeqno, s.PayeeSeqno
		return tlb.ToCell(m.Signed)
	}
	return nil, fmt.Errorf("unknown settlement kind %d", s.Kind)
}

func settlementBody(s *Settlement) (*cell.Cell, error) {
	sa := payments.Signature{Value: s.PayerSig}
	sb := payments.Signature{Value: s.PayeeSig}
	switch s.Kind {
	case KindCommit:
		var m payments.CooperativeCommit
		m.SignatureA, m.SignatureB = sa, sb
		m.Signed.ChannelID = s.Channel[:]
		m.Signed.SentA, m.Signed.SentB = coins(s.Sent), tlb.ZeroCoins
		m.Signed.SeqnoA, m.Signed.SeqnoB = s.PayerSeqno, s.PayeeSeqno
		m.Signed.WithdrawA, m.Signed.WithdrawB = tlb.ZeroCoins, coins(s.Withdraw)
		return tlb.ToCell(m)
	case KindClose:
		var m payments.CooperativeClose
		m.SignatureA, m.SignatureB = sa, sb
		m.Signed.ChannelID = s.Channel[:]
		m.Signed.SentA, m.Signed.SentB = coins(s.Sent), tlb.ZeroCoins
		m.Signed.SeqnoA, m.Signed.SeqnoB = s.PayerSeqno, s.PayeeSeqno
		return tlb.ToCell(m)
	}
	return nil, fmt.Errorf("unknown settlement kind %d", s.Kind)
}

func signedSemi(s SignedState) (payments.SignedSemiChannel, error) {
	if len(s.Signature) != ed25519.SignatureSize {
		return payments.SignedSemiChannel{}, fmt.Errorf("state %d: %w (malformed signature)", s.Seqno, ErrBadSignature)
	}
	return payments.SignedSemiChannel{
		Signature: payments.Signature{Value: s.Signature},
		State: payments.SemiChannel{
			ChannelID: s.Channel[:],
			Data:      payments.SemiChannelBody{Seqno: s.Seqno, Sent: coins(s.Sent), ConditionalsHash: make([]byte, 32)},
		},
	}, nil
}

// uncoopBody starts an uncooperative close (challenge false) or challenges
// one (challenge true) with both sides' latest states, signed by the
// sender's key.
func uncoopBody(challenge, byPayer bool, key ed25519.PrivateKey, payer, payee SignedState) (*cell.Cell, error) {
	a, err := signedSemi(payer)
	if err != nil {
		return nil, err
	}
	b, err := signedSemi(payee)
	if err != nil {
		return nil, err
	}
	if challenge {
		var m payments.ChallengeQuarantinedState
		m.IsChallengedByA = byPayer
		m.Signed.ChannelID = payer.Channel[:]
		m.Signed.A, m.Signed.B = a, b
		signed, err := tlb.ToCell(m.Signed)
		if err != nil {
			return nil, err
		}
		m.Signature.Value = signed.Sign(key)
		return tlb.ToCell(m)
	}
	var m payments.StartUncooperativeClose
	m.IsSignedByA = byPayer
	m.Signed.ChannelID = payer.Channel[:]
	m.Signed.A, m.Signed.B = a, b
	signed, err := tlb.ToCell(m.Signed)
	if err != nil {
		return nil, err
	}
	m.Signature.Value = signed.Sign(key)
	return tlb.ToCell(m)
}

func finishBody() (*cell.Cell, error) { return tlb.ToCell(payments.FinishUncooperativeClose{}) }

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
}

func (e *RefusedError) Error() string {
	name := exitNames[e.ExitCode]
	if name == "" {
		name = "unknown"
	}
	return fmt.Sprintf("channel contract refused %s with exit code %d (%s)", e.Op, e.ExitCode, name)
}

// exitNames are the contract's error codes that Cocoon's flows can meet.
var exitNames = map[int]string{
	100: "already initialised", 101: "not authorised (bad signature)", 102: "incorrect initial balance",
	104: "wrong tag", 105: "outdated state", 106: "quarantine already active", 107: "no quarantined state",
	108: "seqno regress", 109: "unauthorised challenge", 110: "quarantine not finished",
	111: "too late to challenge", 112: "too late to settle conditionals", 113: "too early to close",
	114: "wrong channel id", 117: "not initialised", 118: "not enough balance", 119: "value does not cover the fee",
	120: "invalid currency", 123: "not enough value for the storage reserve", 125: "already challenged",
	127: "withdrawal regress",
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
	return tx, nil
}
