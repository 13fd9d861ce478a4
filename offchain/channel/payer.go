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
	"github.com/xssnick/tonutils-go/tlb"

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
	log := cfg.Logger
	cfg.Store.OnWriteError(func(err error) {
		log.Warn("vouchers not on disk yet; retrying at the next write (a crash now would lose them, and the payee's copy restores them)", "error", err)
	})
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
		Closing: DefaultClosing(),
	}
	return t, t.Validate()
}

// Open deploys the channel of terms with deposit: one message, one
// contract transaction. payeeState is the payee's signed acceptance of the
// terms (Payee.Accept): Open deposits nothing for a payee that did not
// agree. Open is idempotent: on a channel already open it only reports it.
func (p *Payer) Open(ctx context.Context, terms Terms, payeeState SignedState, deposit *big.Int) (*Record, error) {
	if err := terms.Validate(); err != nil {
		return nil, err
	}
	if !terms.PayerKey.Equal(p.PublicKey()) {
		return nil, errors.New("opening channel: the terms name another payer key")
	}
	if payeeState.Channel != terms.ID || payeeState.Sent == nil || payeeState.Sent.Sign() != 0 {
		return nil, fmt.Errorf("opening channel %s: the payee's acceptance is for another channel or not empty", terms.ID)
	}
	if err := payeeState.Verify(terms.PayeeKey); err != nil {
		return nil, fmt.Errorf("opening channel %s: payee's acceptance: %w", terms.ID, err)
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
		// A closed channel redeployed with the same terms would honour
		// its old vouchers again (paid starts at zero): never reuse an id.
		return nil, fmt.Errorf("opening channel %s: it is %s; open a new channel", terms.ID, rec.Phase)
	}
	oc, err := Read(ctx, p.cfg.Net, addr)
	if err != nil {
		return nil, err
	}
	if oc.Status == StatusOpen {
		return p.refresh(rec, oc)
	}
	// An unfunded contract was activated by someone else's refused message
	// carrying its StateInit: deposit into it all the same.
	if oc.Status != StatusAbsent && oc.Status != StatusUnfunded {
		return nil, fmt.Errorf("opening channel %s: contract at %s is %s", terms.ID, addr, oc.Status)
	}
	msg, err := OpenMessage(terms, deposit)
	if err != nil {
		return nil, err
	}
	// The channel's lock is held: the outcome is noted here, not by
	// noteOutcome.
	rec.Failure = nil
	if _, err = send(ctx, p.cfg.Net, p.cfg.Wallet, addr, "channel open", p.cfg.Poll, walletMsgs(msg)...); err != nil {
		rec.Failure = &Failure{Op: "channel open", Error: err.Error(), At: time.Now().UTC()}
		_ = p.cfg.Store.Put(rec)
		return nil, fmt.Errorf("opening channel %s: %w", terms.ID, err)
	}
	if oc, err = Read(ctx, p.cfg.Net, addr); err != nil {
		return nil, fmt.Errorf("opening channel %s: %w", terms.ID, err)
	}
	p.cfg.Logger.InfoContext(ctx, "channel opened", "channel", terms.ID.String(), "address", addr.String(), "deposit", tonamount.Format(oc.Deposit))
	return p.refresh(rec, oc)
}

// refresh stores what the chain says about deposits and phase.
func (p *Payer) refresh(rec *Record, oc *OnChain) (*Record, error) {
	switch oc.Status {
	case StatusOpen:
		if rec.Phase == PhaseOpening {
			rec.Phase = PhaseOpen
		}
		rec.Deposit = oc.Deposit
		rec.Withdrawn = oc.Paid
	case StatusClosing, StatusFinishable:
		if rec.Phase != PhaseClosed {
			rec.Phase = PhaseClosing
		}
	case StatusClosed:
		// Paid out (by either side).
		if rec.Phase == PhaseClosing || rec.Phase == PhaseOpen {
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

// sign issues the next voucher. It is put behind (Store.PutBehind): the
// voucher path does not wait for an fsync, and what a crash loses (the
// last few milliseconds of vouchers) the payer recovers: the gateway
// adopts the voucher its payee holds (Adopt) and pays again, exactly,
// what no voucher of its store covers (its journal of requests). Two
// vouchers with one seqno can then exist only if the payee got a voucher
// the payer lost and could not be asked for it: the payee keeps the
// higher amount and refuses the other, and the contract pays amounts, not
// seqnos, so nothing is paid twice.
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
	if err := p.cfg.Store.PutBehind(rec); err != nil {
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
	// A closed channel redeployed at its address would honour its old
	// vouchers again: never fund it.
	if oc.Status != StatusOpen || rec.Phase != PhaseOpen {
		return nil, fmt.Errorf("topping up channel %s (%s on chain, %s here): %w", id, oc.Status, rec.Phase, ErrNotOpen)
	}
	msg, err := TopUpMessage(rec.Address, amount)
	if err != nil {
		return nil, err
	}
	_, err = send(ctx, p.cfg.Net, p.cfg.Wallet, rec.Address, "channel top-up", p.cfg.Poll, walletMsgs(msg)...)
	noteOutcome(&p.locks, p.cfg.Store, id, "channel top-up", err)
	if err != nil {
		return nil, fmt.Errorf("topping up channel %s: %w", id, err)
	}
	if oc, err = Read(ctx, p.cfg.Net, rec.Address); err != nil {
		return nil, err
	}
	unlock := p.locks.lock(id)
	defer unlock()
	if rec, err = p.cfg.Store.Get(id); err != nil {
		return nil, err
	}
	p.cfg.Logger.InfoContext(ctx, "channel topped up", "channel", id.String(), "deposit", tonamount.Format(oc.Deposit))
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

// Close closes the channel cooperatively: the payer signs a last voucher
// for everything it signed, the payee approves it, and the payer submits:
// the payee is paid, the payer gets the rest at once and the contract is
// gone.
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
	// A fresh voucher for the same total: the payee's approval names it,
	// and no voucher follows an agreed close.
	v, err := SignState(p.cfg.Key, id, rec.seqno()+1, rec.Sent())
	if err == nil {
		rec.Voucher, rec.Phase, rec.ClosingSince = &v, PhaseClosing, time.Now().UTC()
		err = p.cfg.Store.Put(rec)
	}
	unlock()
	if err != nil {
		return nil, err
	}
	s := &Settlement{Channel: id, Voucher: v}
	got, err := payee.Cosign(ctx, s)
	if err != nil {
		return nil, fmt.Errorf("closing channel %s: the payee did not approve: %w", id, err)
	}
	if got == nil || got.Channel != id || got.Voucher.Seqno != v.Seqno || got.Voucher.Sent == nil || got.Voucher.Sent.Cmp(v.Sent) != 0 {
		return nil, fmt.Errorf("closing channel %s: the payee approved something else", id)
	}
	s.PayeeSig = got.PayeeSig
	if err := s.verifyPayee(rec.Terms.PayeeKey); err != nil {
		return nil, err
	}
	err = submitClose(ctx, p.cfg.Net, p.cfg.Wallet, rec.Address, s, p.cfg.Poll)
	noteOutcome(&p.locks, p.cfg.Store, id, "channel close", err)
	if err != nil {
		return nil, err
	}
	_, _, err = p.Sync(ctx, id)
	return s, err
}

// submitClose sends a close approved by the payee.
func submitClose(ctx context.Context, net chain.Network, w Sender, a *address.Address, s *Settlement, poll time.Duration) error {
	msg, err := CloseMessage(a, s)
	if err != nil {
		return err
	}
	oc, err := Read(ctx, net, a)
	if err != nil {
		return fmt.Errorf("close of channel %s: %w", s.Channel, err)
	}
	if owed := new(big.Int).Sub(s.Voucher.Sent, oc.Paid); owed.Sign() > 0 {
		if oc.Status == StatusClosing || oc.Status == StatusFinishable {
			owed.Add(owed, big.NewInt(closeBond))
		}
		last, err := lastActivity(ctx, net, oc)
		if err != nil {
			return fmt.Errorf("close of channel %s: %w", s.Channel, err)
		}
		msg.Amount = tlb.FromNanoTON(claimValue(oc, owed, storageSince(oc, last)))
	}
	if _, err := send(ctx, net, w, a, "channel close", poll, walletMsgs(msg)...); err != nil {
		return fmt.Errorf("close of channel %s: %w", s.Channel, err)
	}
	return nil
}

// ForceClose starts the payer's close alone, for a payee that stopped
// answering: the payee may still close with its best voucher during the
// quarantine; after it, Finish gives the payer everything left.
func (p *Payer) ForceClose(ctx context.Context, id ID) error {
	if p.cfg.Wallet == nil {
		return errors.New("channel payer: a wallet is needed to close")
	}
	_, oc, err := p.Sync(ctx, id)
	if err != nil {
		return err
	}
	if oc.Status != StatusOpen {
		return fmt.Errorf("force-closing channel %s (%s on chain): %w", id, oc.Status, ErrNotOpen)
	}
	unlock := p.locks.lock(id)
	rec, err := p.cfg.Store.Get(id)
	if err == nil {
		rec.Phase, rec.ClosingSince = PhaseClosing, time.Now().UTC()
		err = p.cfg.Store.Put(rec)
	}
	unlock()
	if err != nil {
		return err
	}
	msg, err := StartCloseMessage(rec.Address)
	if err != nil {
		return err
	}
	_, err = send(ctx, p.cfg.Net, p.cfg.Wallet, rec.Address, "start close", p.cfg.Poll, walletMsgs(msg)...)
	noteOutcome(&p.locks, p.cfg.Store, id, "start close", err)
	if err != nil {
		return fmt.Errorf("force-closing channel %s: %w", id, err)
	}
	_, _, err = p.Sync(ctx, id)
	return err
}

// Finish ends the payer's close once its quarantine is over; anyone may
// send it.
func (p *Payer) Finish(ctx context.Context, id ID) error {
	rec, err := p.cfg.Store.Get(id)
	if err != nil {
		return err
	}
	err = finish(ctx, p.cfg.Net, p.cfg.Wallet, rec.Address, p.cfg.Poll)
	noteOutcome(&p.locks, p.cfg.Store, id, "finish close", err)
	if err != nil {
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
		return fmt.Errorf("finishing the close of %s: the channel is %s (finishable after %s)", a, oc.Status, oc.QuarantineEnds.UTC().Format(time.RFC3339))
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

// Adopt keeps v as the channel's latest voucher when it is one this payer
// signed and newer than the stored one: the payee's copy of what the payer
// already gave (a store restored from an older copy would otherwise make
// the payer sign below it, which the payee refuses). It reports whether v
// was newer.
func (p *Payer) Adopt(v SignedState) (bool, error) {
	unlock := p.locks.lock(v.Channel)
	defer unlock()
	rec, err := p.cfg.Store.Get(v.Channel)
	if err != nil {
		return false, err
	}
	if rec.Role != RolePayer {
		return false, fmt.Errorf("adopting a voucher of channel %s: this store is its payee", v.Channel)
	}
	if err := v.Verify(p.PublicKey()); err != nil {
		return false, fmt.Errorf("adopting a voucher of channel %s: %w", v.Channel, err)
	}
	if v.Seqno <= rec.seqno() || v.Sent.Cmp(rec.Sent()) < 0 {
		return false, nil
	}
	rec.Voucher = &v
	return true, p.cfg.Store.Put(rec)
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
