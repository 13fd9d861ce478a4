package channel

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"sync"
	"time"

	"github.com/xssnick/tonutils-go/address"

	"github.com/cocoon-network/cocoon/offchain/chain"
	"github.com/cocoon-network/cocoon/offchain/tonamount"
)

// PayerPolicy is when the payer tops a channel up.
type PayerPolicy struct {
	// TopUpBelow: TopUpIfLow adds TopUpAmount when what the payer can still
	// promise (deposit minus signed payments) falls below this.
	TopUpBelow  *big.Int
	TopUpAmount *big.Int
}

// DefaultPayerPolicy tops up 1 TON when less than 0.2 TON is left.
func DefaultPayerPolicy() PayerPolicy {
	return PayerPolicy{TopUpBelow: big.NewInt(200_000_000), TopUpAmount: big.NewInt(1_000_000_000)}
}

// PayerConfig configures a Payer.
type PayerConfig struct {
	Net chain.Network
	// Wallet pays deposits and gas; refunds go to its address.
	Wallet Sender
	// Key signs vouchers (side A of the contract).
	Key    ed25519.PrivateKey
	Store  *Store
	Policy PayerPolicy
	// Poll is how often the chain is polled while waiting; 0 means 500ms.
	Poll   time.Duration
	Logger *slog.Logger
}

// Payer is the paying side (an app's gateway): it opens channels to
// payees, signs cumulative vouchers, tops up, and closes.
type Payer struct {
	cfg   PayerConfig
	locks keyedMutex
}

// NewPayer checks cfg and returns a Payer.
func NewPayer(cfg PayerConfig) (*Payer, error) {
	if cfg.Net == nil || cfg.Store == nil || len(cfg.Key) != ed25519.PrivateKeySize {
		return nil, errors.New("channel payer: a network, a store and an ed25519 key are required")
	}
	if cfg.Policy.TopUpBelow == nil {
		cfg.Policy.TopUpBelow = DefaultPayerPolicy().TopUpBelow
	}
	if cfg.Policy.TopUpAmount == nil {
		cfg.Policy.TopUpAmount = DefaultPayerPolicy().TopUpAmount
	}
	if cfg.Poll <= 0 {
		cfg.Poll = 500 * time.Millisecond
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &Payer{cfg: cfg}, nil
}

// PublicKey is the key vouchers are signed with.
func (p *Payer) PublicKey() ed25519.PublicKey { return p.cfg.Key.Public().(ed25519.PublicKey) }

// NewTerms proposes terms for a channel to a payee (its signing key and
// payout address) with a fresh random id, the payer's wallet for refunds,
// and the default closing timing and storage reserve.
func (p *Payer) NewTerms(payeeKey ed25519.PublicKey, payeeAddress *address.Address) (Terms, error) {
	var id ID
	if _, err := rand.Read(id[:]); err != nil {
		return Terms{}, fmt.Errorf("choosing a channel id: %w", err)
	}
	if p.cfg.Wallet == nil {
		return Terms{}, errors.New("channel payer: a wallet is needed to open channels")
	}
	if payeeAddress == nil {
		return Terms{}, errors.New("channel terms: the payee's payout address is required")
	}
	t := Terms{
		ID: id, PayerKey: p.PublicKey(), PayeeKey: payeeKey,
		PayerAddress: p.cfg.Wallet.Address(), PayeeAddress: payeeAddress,
		Closing:    DefaultClosing(),
		StorageFee: DefaultStorageFee(),
	}
	return t, t.Validate()
}

// Open deploys the channel of terms, initialises it and deposits deposit,
// all from one wallet transaction. payeeState is the payee's signed
// initial state (Payee.Accept): without it the payer could not close the
// channel alone, so Open refuses to deposit anything. Open is idempotent:
// on a channel already open it only reports it.
func (p *Payer) Open(ctx context.Context, terms Terms, payeeState SignedState, deposit *big.Int) (*Record, error) {
	if err := terms.Validate(); err != nil {
		return nil, err
	}
	if !terms.PayerKey.Equal(p.PublicKey()) {
		return nil, errors.New("opening channel: the terms name another payer key")
	}
	if payeeState.Channel != terms.ID || payeeState.Sent == nil || payeeState.Sent.Sign() != 0 {
		return nil, fmt.Errorf("opening channel %s: the payee's initial state is for another channel or not empty", terms.ID)
	}
	if err := payeeState.Verify(terms.PayeeKey); err != nil {
		return nil, fmt.Errorf("opening channel %s: payee's initial state: %w", terms.ID, err)
	}
	if !tonamount.Fits(deposit) || deposit.Sign() == 0 {
		return nil, fmt.Errorf("opening channel %s: deposit must be positive", terms.ID)
	}
	addr, err := terms.Address()
	if err != nil {
		return nil, err
	}
	unlock := p.locks.lock(terms.ID)
	defer unlock()

	rec, err := p.cfg.Store.Get(terms.ID)
	switch {
	case errors.Is(err, ErrUnknownChannel):
		ps := payeeState
		rec = &Record{Role: RolePayer, Terms: terms, Address: addr, Phase: PhaseOpening, PayeeState: &ps, Deposit: new(big.Int), Withdrawn: new(big.Int)}
		// The record exists before any TON leaves the wallet, so a crash
		// during the open is resumed by calling Open again.
		if err := p.cfg.Store.Put(rec); err != nil {
			return nil, err
		}
	case err != nil:
		return nil, err
	case rec.Phase == PhaseClosing || rec.Phase == PhaseClosed:
		// The contract can be opened again with the same terms, but its
		// committed seqnos void the payee's states held here: a deposit
		// could not come back without the payee. Use new terms.
		return nil, fmt.Errorf("opening channel %s: it is %s; open a new channel", terms.ID, rec.Phase)
	}
	oc, err := Read(ctx, p.cfg.Net, addr)
	if err != nil {
		return nil, err
	}
	if oc.Status == StatusOpen {
		return p.refresh(rec, oc)
	}
	if oc.Status != StatusAbsent && oc.Status != StatusUninit {
		return nil, fmt.Errorf("opening channel %s: contract at %s is %s", terms.ID, addr, oc.Status)
	}
	msgs, err := OpenMessages(terms, p.cfg.Key, deposit)
	if err != nil {
		return nil, err
	}
	if _, err := send(ctx, p.cfg.Net, p.cfg.Wallet, addr, "channel open", p.cfg.Poll, walletMsgs(msgs...)...); err != nil {
		return nil, fmt.Errorf("opening channel %s: %w", terms.ID, err)
	}
	oc, err = p.waitDeposit(ctx, addr, func(o *OnChain) bool { return o.Status == StatusOpen && o.DepositPayer.Sign() > 0 })
	if err != nil {
		return nil, fmt.Errorf("opening channel %s: %w", terms.ID, err)
	}
	p.cfg.Logger.InfoContext(ctx, "channel opened", "channel", terms.ID.String(), "address", addr.String(), "deposit", tonamount.Format(oc.DepositPayer))
	return p.refresh(rec, oc)
}

// waitDeposit polls the channel until ok holds (the top-up arrives one
// transaction after the wallet's message to it).
func (p *Payer) waitDeposit(ctx context.Context, a *address.Address, ok func(*OnChain) bool) (*OnChain, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	for {
		oc, err := Read(ctx, p.cfg.Net, a)
		if err == nil && ok(oc) {
			return oc, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for channel %s: %w", a, ctx.Err())
		case <-time.After(p.cfg.Poll):
		}
	}
}

// refresh stores what the chain says about deposits and phase.
func (p *Payer) refresh(rec *Record, oc *OnChain) (*Record, error) {
	switch oc.Status {
	case StatusOpen:
		if rec.Phase == PhaseOpening {
			rec.Phase = PhaseOpen
		}
		rec.Deposit = oc.Available()
		rec.Withdrawn = oc.WithdrawPayee
	case StatusClosing, StatusSettling, StatusFinishable:
		if rec.Phase != PhaseClosed {
			rec.Phase = PhaseClosing
		}
	case StatusUninit, StatusAbsent:
		if rec.Phase == PhaseClosing {
			rec.Phase = PhaseClosed
		}
	}
	return rec, p.cfg.Store.Put(rec)
}

// Sync reads the channel from the chain and stores what changed.
func (p *Payer) Sync(ctx context.Context, id ID) (*Record, *OnChain, error) {
	unlock := p.locks.lock(id)
	defer unlock()
	rec, err := p.cfg.Store.Get(id)
	if err != nil {
		return nil, nil, err
	}
	oc, err := Read(ctx, p.cfg.Net, rec.Address)
	if err != nil {
		return nil, nil, err
	}
	rec, err = p.refresh(rec, oc)
	return rec, oc, err
}

// Errors of Pay and SignVoucher.
var (
	ErrNotOpen          = errors.New("channel is not open")
	ErrOverDeposit      = errors.New("payment exceeds the channel's deposit")
	ErrBackwards        = errors.New("state goes backwards")
	ErrAmountOutOfRange = errors.New("amount out of range")
)

// Pay signs a voucher for amount more than everything paid so far.
func (p *Payer) Pay(id ID, amount *big.Int) (SignedState, error) {
	if amount == nil || amount.Sign() < 0 {
		return SignedState{}, fmt.Errorf("paying on channel %s: %w", id, ErrAmountOutOfRange)
	}
	return p.sign(id, func(prev *big.Int) *big.Int { return new(big.Int).Add(prev, amount) })
}

// SignVoucher signs a voucher for the cumulative amount total; it refuses
// a total below one already signed.
func (p *Payer) SignVoucher(id ID, total *big.Int) (SignedState, error) {
	if total == nil || total.Sign() < 0 {
		return SignedState{}, fmt.Errorf("paying on channel %s: %w", id, ErrAmountOutOfRange)
	}
	return p.sign(id, func(*big.Int) *big.Int { return new(big.Int).Set(total) })
}

// sign issues the next voucher: it is stored before it is returned, so the
// payer never signs two different amounts with the same seqno.
func (p *Payer) sign(id ID, next func(prev *big.Int) *big.Int) (SignedState, error) {
	unlock := p.locks.lock(id)
	defer unlock()
	rec, err := p.cfg.Store.Get(id)
	if err != nil {
		return SignedState{}, err
	}
	if rec.Phase != PhaseOpen {
		return SignedState{}, fmt.Errorf("paying on channel %s (%s): %w", id, rec.Phase, ErrNotOpen)
	}
	prev := rec.Sent()
	total := next(prev)
	if total.Cmp(prev) < 0 {
		return SignedState{}, fmt.Errorf("paying %s on channel %s after %s: %w", total, id, prev, ErrBackwards)
	}
	if total.Cmp(rec.Deposit) > 0 {
		return SignedState{}, fmt.Errorf("paying %s TON in total on channel %s with a deposit of %s TON: %w", tonamount.Format(total), id, tonamount.Format(rec.Deposit), ErrOverDeposit)
	}
	v, err := SignState(p.cfg.Key, id, rec.seqno()+1, total)
	if err != nil {
		return SignedState{}, err
	}
	rec.Voucher = &v
	if err := p.cfg.Store.Put(rec); err != nil {
		return SignedState{}, err
	}
	return v, nil
}

// TopUp adds amount to the payer's deposit.
func (p *Payer) TopUp(ctx context.Context, id ID, amount *big.Int) (*Record, error) {
	if !tonamount.Fits(amount) || amount.Sign() == 0 {
		return nil, fmt.Errorf("topping up channel %s: %w", id, ErrAmountOutOfRange)
	}
	if p.cfg.Wallet == nil {
		return nil, errors.New("channel payer: a wallet is needed to top up")
	}
	rec, oc, err := p.Sync(ctx, id)
	if err != nil {
		return nil, err
	}
	if oc.Status != StatusOpen {
		return nil, fmt.Errorf("topping up channel %s (%s on chain): %w", id, oc.Status, ErrNotOpen)
	}
	msg, err := TopUpMessage(rec.Address, amount)
	if err != nil {
		return nil, err
	}
	want := new(big.Int).Add(oc.DepositPayer, amount)
	if _, err := send(ctx, p.cfg.Net, p.cfg.Wallet, rec.Address, "channel top-up", p.cfg.Poll, walletMsgs(msg)...); err != nil {
		return nil, fmt.Errorf("topping up channel %s: %w", id, err)
	}
	oc, err = p.waitDeposit(ctx, rec.Address, func(o *OnChain) bool { return o.DepositPayer.Cmp(want) >= 0 })
	if err != nil {
		return nil, err
	}
	unlock := p.locks.lock(id)
	defer unlock()
	if rec, err = p.cfg.Store.Get(id); err != nil {
		return nil, err
	}
	p.cfg.Logger.InfoContext(ctx, "channel topped up", "channel", id.String(), "deposit", tonamount.Format(oc.DepositPayer))
	return p.refresh(rec, oc)
}

// TopUpIfLow tops the channel up by the policy's amount when what is left
// to promise is below the policy's threshold; it reports whether it did.
func (p *Payer) TopUpIfLow(ctx context.Context, id ID) (bool, error) {
	rec, err := p.cfg.Store.Get(id)
	if err != nil {
		return false, err
	}
	left := new(big.Int).Sub(rec.Deposit, rec.Sent())
	if rec.Phase != PhaseOpen || left.Cmp(p.cfg.Policy.TopUpBelow) >= 0 {
		return false, nil
	}
	_, err = p.TopUp(ctx, id, p.cfg.Policy.TopUpAmount)
	return err == nil, err
}

// Cosign countersigns the payee's commit or close. The payer never signs
// more than it signed in vouchers, and after a close it signs no more
// vouchers.
func (p *Payer) Cosign(ctx context.Context, s *Settlement) (*Settlement, error) {
	if s == nil {
		return nil, errors.New("cosigning: no settlement")
	}
	unlock := p.locks.lock(s.Channel)
	defer unlock()
	rec, err := p.cfg.Store.Get(s.Channel)
	if err != nil {
		return nil, err
	}
	if rec.Phase != PhaseOpen {
		return nil, fmt.Errorf("cosigning %s of channel %s: %w", s.Kind, s.Channel, ErrNotOpen)
	}
	if err := s.verify(rec.Terms.PayeeKey, false); err != nil {
		return nil, err
	}
	if s.Sent.Cmp(rec.Sent()) > 0 {
		return nil, fmt.Errorf("cosigning %s of channel %s: it says %s nanoton were paid, the payer signed %s", s.Kind, s.Channel, s.Sent, rec.Sent())
	}
	switch s.Kind {
	case KindCommit:
		if s.PayerSeqno > rec.seqno() {
			return nil, fmt.Errorf("cosigning commit of channel %s: payer seqno %d was never signed (latest %d)", s.Channel, s.PayerSeqno, rec.seqno())
		}
		ps := s.PayeeState
		if ps == nil || ps.Channel != s.Channel || ps.Seqno != s.PayeeSeqno || ps.Sent == nil || ps.Sent.Sign() != 0 {
			return nil, fmt.Errorf("cosigning commit of channel %s: it lacks the payee's state at seqno %d", s.Channel, s.PayeeSeqno)
		}
		if err := ps.Verify(rec.Terms.PayeeKey); err != nil {
			return nil, fmt.Errorf("cosigning commit of channel %s: %w", s.Channel, err)
		}
		// Without the payee's new state the payer could not close alone
		// once the commit raises the payee's committed seqno.
		if rec.PayeeState == nil || ps.Seqno > rec.PayeeState.Seqno {
			st := *ps
			rec.PayeeState = &st
		}
	case KindClose:
		// No voucher follows an agreed close: a later voucher with the
		// same seqno could otherwise be undercut by this close.
		rec.Phase = PhaseClosing
	default:
		return nil, fmt.Errorf("cosigning channel %s: unknown kind %d", s.Channel, s.Kind)
	}
	out := *s
	if err := out.sign(p.cfg.Key, true); err != nil {
		return nil, err
	}
	if err := p.cfg.Store.Put(rec); err != nil {
		return nil, err
	}
	return &out, nil
}

// Close closes the channel cooperatively: the payer proposes its latest
// cumulative payment, payee countersigns, and the payer submits, getting
// the rest of the deposit back at once.
func (p *Payer) Close(ctx context.Context, id ID, payee Cosigner) (*Settlement, error) {
	if p.cfg.Wallet == nil {
		return nil, errors.New("channel payer: a wallet is needed to close")
	}
	_, oc, err := p.Sync(ctx, id)
	if err != nil {
		return nil, err
	}
	if oc.Status != StatusOpen {
		return nil, fmt.Errorf("closing channel %s (%s on chain): %w", id, oc.Status, ErrNotOpen)
	}
	unlock := p.locks.lock(id)
	rec, err := p.cfg.Store.Get(id)
	if err != nil {
		unlock()
		return nil, err
	}
	s := &Settlement{
		Kind: KindClose, Channel: id, Sent: rec.Sent(), Withdraw: new(big.Int),
		PayerSeqno: max(rec.seqno(), oc.CommittedPayer) + 1,
		PayeeSeqno: oc.CommittedPayee + 1,
	}
	if rec.PayeeState != nil {
		s.PayeeSeqno = max(s.PayeeSeqno, rec.PayeeState.Seqno+1)
	}
	rec.Phase = PhaseClosing
	err = s.sign(p.cfg.Key, true)
	if err == nil {
		err = p.cfg.Store.Put(rec)
	}
	unlock()
	if err != nil {
		return nil, err
	}
	got, err := payee.Cosign(ctx, s)
	if err != nil {
		return nil, fmt.Errorf("closing channel %s: the payee did not countersign: %w", id, err)
	}
	if !s.sameTerms(got) {
		return nil, fmt.Errorf("closing channel %s: the payee countersigned something else", id)
	}
	s.PayeeSig = got.PayeeSig
	if err := s.verify(rec.Terms.PayeeKey, false); err != nil {
		return nil, err
	}
	if err := submitSettlement(ctx, p.cfg.Net, p.cfg.Wallet, rec.Address, s, p.cfg.Poll); err != nil {
		return nil, err
	}
	_, _, err = p.Sync(ctx, id)
	return s, err
}

// submitSettlement sends a settlement signed by both sides.
func submitSettlement(ctx context.Context, net chain.Network, w Sender, a *address.Address, s *Settlement, poll time.Duration) error {
	msg, err := SettlementMessage(a, s)
	if err != nil {
		return err
	}
	if _, err := send(ctx, net, w, a, "channel "+s.Kind.String(), poll, walletMsgs(msg)...); err != nil {
		return fmt.Errorf("%s of channel %s: %w", s.Kind, s.Channel, err)
	}
	return nil
}

// Values of the close messages, in nanoton.
const (
	// closeValue is what close and finish messages carry: the contract
	// spends its own balance on them and sends this on to the payer.
	closeValue = 5_000_000
	// disputeValue is what start/challenge messages carry; the contract
	// returns what its gas did not use.
	disputeValue = 50_000_000
)

// ForceClose starts an uncooperative close with the payer's latest voucher
// and the payee's latest state it holds. After the quarantine and the
// settle window, Finish pays both sides out.
func (p *Payer) ForceClose(ctx context.Context, id ID) error {
	if p.cfg.Wallet == nil {
		return errors.New("channel payer: a wallet is needed to close")
	}
	rec, oc, err := p.Sync(ctx, id)
	if err != nil {
		return err
	}
	if oc.Status != StatusOpen {
		return fmt.Errorf("force-closing channel %s (%s on chain): %w", id, oc.Status, ErrNotOpen)
	}
	if rec.PayeeState == nil {
		return fmt.Errorf("force-closing channel %s: no signed state of the payee is stored", id)
	}
	unlock := p.locks.lock(id)
	if rec, err = p.cfg.Store.Get(id); err != nil {
		unlock()
		return err
	}
	mine := rec.Voucher
	if mine == nil {
		v, err := SignState(p.cfg.Key, id, 0, new(big.Int))
		if err != nil {
			unlock()
			return err
		}
		mine = &v
	}
	rec.Phase = PhaseClosing
	err = p.cfg.Store.Put(rec)
	unlock()
	if err != nil {
		return err
	}
	return p.startClose(ctx, rec, *mine, *rec.PayeeState)
}

// startClose submits an uncooperative close with the given states; tests
// use it with stale states to play a cheating payer.
func (p *Payer) startClose(ctx context.Context, rec *Record, mine, theirs SignedState) error {
	msg, err := DisputeMessage(rec.Address, false, true, p.cfg.Key, mine, theirs)
	if err != nil {
		return fmt.Errorf("force-closing channel %s: %w", rec.Terms.ID, err)
	}
	if _, err := send(ctx, p.cfg.Net, p.cfg.Wallet, rec.Address, "uncooperative close", p.cfg.Poll, walletMsgs(msg)...); err != nil {
		return fmt.Errorf("force-closing channel %s: %w", rec.Terms.ID, err)
	}
	return nil
}

// Finish completes an uncooperative close once its quarantine and settle
// window are over; either side (or anyone) may send it.
func (p *Payer) Finish(ctx context.Context, id ID) error {
	rec, err := p.cfg.Store.Get(id)
	if err != nil {
		return err
	}
	if err := finish(ctx, p.cfg.Net, p.cfg.Wallet, rec.Address, p.cfg.Poll); err != nil {
		return err
	}
	_, _, err = p.Sync(ctx, id)
	return err
}

func finish(ctx context.Context, net chain.Network, w Sender, a *address.Address, poll time.Duration) error {
	if w == nil {
		return errors.New("a wallet is needed to finish a close")
	}
	oc, err := Read(ctx, net, a)
	if err != nil {
		return err
	}
	if oc.Status != StatusFinishable {
		return fmt.Errorf("finishing the close of %s: the channel is %s (finishable after %s)", a, oc.Status, oc.FinishAfter.UTC().Format(time.RFC3339))
	}
	msg, err := FinishMessage(a)
	if err != nil {
		return err
	}
	_, err = send(ctx, net, w, a, "finish close", poll, walletMsgs(msg)...)
	return err
}

// keyedMutex serialises work on one channel.
type keyedMutex struct {
	mu sync.Mutex
	m  map[ID]*sync.Mutex
}

func (k *keyedMutex) lock(id ID) (unlock func()) {
	k.mu.Lock()
	if k.m == nil {
		k.m = make(map[ID]*sync.Mutex)
	}
	l := k.m[id]
	if l == nil {
		l = new(sync.Mutex)
		k.m[id] = l
	}
	k.mu.Unlock()
	l.Lock()
	return l.Unlock
}

// Channel returns the payer's record of channel id.
func (p *Payer) Channel(id ID) (*Record, error) { return p.cfg.Store.Get(id) }

// Channels lists the payer's channels (for a gateway: which worker has one).
func (p *Payer) Channels() ([]*Record, error) { return listRole(p.cfg.Store, RolePayer) }

func listRole(st *Store, role Role) ([]*Record, error) {
	all, err := st.List()
	if err != nil {
		return nil, err
	}
	out := all[:0]
	for _, r := range all {
		if r.Role == role {
			out = append(out, r)
		}
	}
	return out, nil
}
