package channel

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"time"

	"github.com/xssnick/tonutils-go/address"

	"github.com/cocoon-network/cocoon/offchain/chain"
	"github.com/cocoon-network/cocoon/offchain/tonamount"
)

// PayeePolicy is what the payee accepts and when it commits.
type PayeePolicy struct {
	// CommitAbove: CommitIfDue commits when the uncommitted earnings of a
	// channel pass this.
	CommitAbove *big.Int
	// MinQuarantine is the shortest quarantine Accept agrees to: the
	// watcher must get a chance to challenge a stale close within it.
	MinQuarantine time.Duration
	// CloseGrace is how long the watcher waits for a countersigned
	// cooperative close to appear on chain before closing alone.
	CloseGrace time.Duration
}

// DefaultPayeePolicy commits past 0.5 TON and wants at least an hour to
// challenge.
func DefaultPayeePolicy() PayeePolicy {
	return PayeePolicy{CommitAbove: big.NewInt(500_000_000), MinQuarantine: time.Hour, CloseGrace: 10 * time.Minute}
}

// PayeeConfig configures a Payee.
type PayeeConfig struct {
	Net chain.Network
	// Key signs the payee's states and settlements (side B): a worker's
	// enclave key.
	Key ed25519.PrivateKey
	// Payout is where earnings go (a worker's owner wallet); Accept
	// refuses terms that pay elsewhere.
	Payout *address.Address
	// Wallet pays gas for commits, closes and challenges; without it the
	// payee can only receive vouchers and countersign.
	Wallet Sender
	Store  *Store
	Policy PayeePolicy
	Poll   time.Duration
	Logger *slog.Logger
}

// Payee is the paid side (a worker): it accepts channels, verifies and
// keeps vouchers, commits its earnings, closes, and watches for stale
// closes to challenge.
type Payee struct {
	cfg   PayeeConfig
	locks keyedMutex
}

// NewPayee checks cfg and returns a Payee.
func NewPayee(cfg PayeeConfig) (*Payee, error) {
	if cfg.Net == nil || cfg.Store == nil || len(cfg.Key) != ed25519.PrivateKeySize || cfg.Payout == nil {
		return nil, errors.New("channel payee: a network, a store, an ed25519 key and a payout address are required")
	}
	if cfg.Policy.CommitAbove == nil {
		cfg.Policy.CommitAbove = DefaultPayeePolicy().CommitAbove
	}
	if cfg.Policy.MinQuarantine == 0 {
		cfg.Policy.MinQuarantine = DefaultPayeePolicy().MinQuarantine
	}
	if cfg.Policy.CloseGrace == 0 {
		cfg.Policy.CloseGrace = DefaultPayeePolicy().CloseGrace
	}
	if cfg.Poll <= 0 {
		cfg.Poll = 500 * time.Millisecond
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &Payee{cfg: cfg}, nil
}

// PublicKey is the payee's signing key.
func (p *Payee) PublicKey() ed25519.PublicKey { return p.cfg.Key.Public().(ed25519.PublicKey) }

// Accept agrees to a channel with terms: they must name this payee's key
// and payout address and give it at least MinQuarantine to challenge. It
// returns the payee's signed initial state, which the payer needs before
// it deposits (Payer.Open). Accepting the same terms again returns the
// same state.
func (p *Payee) Accept(ctx context.Context, terms Terms) (SignedState, error) {
	if err := terms.Validate(); err != nil {
		return SignedState{}, err
	}
	switch {
	case !terms.PayeeKey.Equal(p.PublicKey()):
		return SignedState{}, errors.New("accepting channel: the terms name another payee key")
	case !terms.PayeeAddress.Equals(p.cfg.Payout):
		return SignedState{}, fmt.Errorf("accepting channel: the terms pay %s, not this payee's %s", terms.PayeeAddress, p.cfg.Payout)
	case terms.Closing.Quarantine < p.cfg.Policy.MinQuarantine:
		return SignedState{}, fmt.Errorf("accepting channel: quarantine %s is shorter than the %s this payee needs to challenge", terms.Closing.Quarantine, p.cfg.Policy.MinQuarantine)
	}
	addr, err := terms.Address()
	if err != nil {
		return SignedState{}, err
	}
	unlock := p.locks.lock(terms.ID)
	defer unlock()
	rec, err := p.cfg.Store.Get(terms.ID)
	if err == nil {
		if !rec.Address.Equals(addr) {
			return SignedState{}, fmt.Errorf("accepting channel %s: the id is taken by other terms", terms.ID)
		}
		return *rec.PayeeState, nil
	}
	if !errors.Is(err, ErrUnknownChannel) {
		return SignedState{}, err
	}
	st, err := SignState(p.cfg.Key, terms.ID, 0, new(big.Int))
	if err != nil {
		return SignedState{}, err
	}
	rec = &Record{Role: RolePayee, Terms: terms, Address: addr, Phase: PhaseOpening, PayeeState: &st, Deposit: new(big.Int), Withdrawn: new(big.Int)}
	return st, p.cfg.Store.Put(rec)
}

// Receipt is what a verified voucher added.
type Receipt struct {
	Channel ID
	Seqno   uint64
	Total   *big.Int // cumulative payment the payee now holds
	Delta   *big.Int // what this voucher added to the previous one
}

// Errors of Receive.
var (
	// ErrStale: the voucher is not newer than one already held. Vouchers
	// are cumulative, so a request it paid for is covered by the newer.
	ErrStale = errors.New("voucher is not newer than the one held")
)

// Receive verifies a voucher against the channel's terms and on-chain
// deposit and stores it before returning: it must be signed by the payer
// for this channel, newer than the held one (higher seqno, no lower
// amount) and within the payer's deposit. The deposit is re-read from the
// chain only when the voucher exceeds the one last seen, so the common
// case does no I/O but one store write.
func (p *Payee) Receive(ctx context.Context, v SignedState) (Receipt, error) {
	unlock := p.locks.lock(v.Channel)
	defer unlock()
	rec, err := p.cfg.Store.Get(v.Channel)
	if err != nil {
		return Receipt{}, err
	}
	if err := checkVoucher(rec, v); err != nil {
		return Receipt{}, err
	}
	if rec.Phase == PhaseOpening || v.Sent.Cmp(rec.Deposit) > 0 {
		oc, err := Read(ctx, p.cfg.Net, rec.Address)
		if err != nil {
			return Receipt{}, err
		}
		if oc.Status != StatusOpen {
			return Receipt{}, fmt.Errorf("voucher for channel %s (%s on chain): %w", v.Channel, oc.Status, ErrNotOpen)
		}
		rec.Phase, rec.Deposit, rec.Withdrawn = PhaseOpen, oc.Available(), oc.WithdrawPayee
		if v.Sent.Cmp(rec.Deposit) > 0 {
			return Receipt{}, fmt.Errorf("voucher for %s TON on channel %s with a deposit of %s TON: %w", tonamount.Format(v.Sent), v.Channel, tonamount.Format(rec.Deposit), ErrOverDeposit)
		}
	}
	delta := new(big.Int).Sub(v.Sent, rec.Sent())
	held := v
	held.Sent = new(big.Int).Set(v.Sent)
	rec.Voucher = &held
	if err := p.cfg.Store.Put(rec); err != nil {
		return Receipt{}, err
	}
	return Receipt{Channel: v.Channel, Seqno: v.Seqno, Total: new(big.Int).Set(v.Sent), Delta: delta}, nil
}

// checkVoucher is Receive's off-chain part, with the stored record.
func checkVoucher(rec *Record, v SignedState) error {
	if rec.Role != RolePayee {
		return fmt.Errorf("voucher for channel %s: this store is the payer's", v.Channel)
	}
	if rec.Phase != PhaseOpen && rec.Phase != PhaseOpening {
		return fmt.Errorf("voucher for channel %s (%s): %w", v.Channel, rec.Phase, ErrNotOpen)
	}
	if !tonamount.Fits(v.Sent) {
		return fmt.Errorf("voucher for channel %s: %w", v.Channel, ErrAmountOutOfRange)
	}
	if err := v.Verify(rec.Terms.PayerKey); err != nil {
		return fmt.Errorf("voucher: %w", err)
	}
	if v.Seqno <= rec.seqno() {
		return fmt.Errorf("voucher %d for channel %s, holding %d: %w", v.Seqno, v.Channel, rec.seqno(), ErrStale)
	}
	if v.Sent.Cmp(rec.Sent()) < 0 {
		return fmt.Errorf("voucher %d for channel %s pays %s, less than the %s held: %w", v.Seqno, v.Channel, v.Sent, rec.Sent(), ErrBackwards)
	}
	return nil
}

// Uncommitted is what the payee holds in vouchers but has not withdrawn.
func (r *Record) Uncommitted() *big.Int {
	return new(big.Int).Sub(r.Sent(), r.Withdrawn)
}

// Commit withdraws everything the held voucher pays to the payout address
// without closing: the payee proposes, payer countersigns, the payee
// submits with its wallet.
func (p *Payee) Commit(ctx context.Context, id ID, payer Cosigner) (*Settlement, error) {
	return p.settle(ctx, id, KindCommit, payer)
}

// Close closes the channel cooperatively at the held voucher.
func (p *Payee) Close(ctx context.Context, id ID, payer Cosigner) (*Settlement, error) {
	return p.settle(ctx, id, KindClose, payer)
}

func (p *Payee) settle(ctx context.Context, id ID, kind Kind, payer Cosigner) (*Settlement, error) {
	if p.cfg.Wallet == nil {
		return nil, fmt.Errorf("%s of channel %s: the payee has no wallet to pay gas", kind, id)
	}
	rec, err := p.cfg.Store.Get(id)
	if err != nil {
		return nil, err
	}
	oc, err := Read(ctx, p.cfg.Net, rec.Address)
	if err != nil {
		return nil, err
	}
	if oc.Status != StatusOpen {
		return nil, fmt.Errorf("%s of channel %s (%s on chain): %w", kind, id, oc.Status, ErrNotOpen)
	}
	unlock := p.locks.lock(id)
	if rec, err = p.cfg.Store.Get(id); err != nil {
		unlock()
		return nil, err
	}
	if rec.Voucher == nil && kind == KindCommit {
		unlock()
		return nil, fmt.Errorf("commit of channel %s: no voucher held", id)
	}
	s := &Settlement{Kind: kind, Channel: id, Sent: rec.Sent(), Withdraw: rec.Sent(), PayeeSeqno: max(rec.PayeeState.Seqno, oc.CommittedPayee) + 1}
	if kind == KindCommit {
		// The held voucher stays valid for a close alone only if the
		// commit does not raise the payer's committed seqno past it.
		s.PayerSeqno = rec.Voucher.Seqno
		if s.PayerSeqno <= oc.CommittedPayer {
			unlock()
			return nil, fmt.Errorf("commit of channel %s: nothing new since the last commit", id)
		}
		st, err := SignState(p.cfg.Key, id, s.PayeeSeqno, new(big.Int))
		if err != nil {
			unlock()
			return nil, err
		}
		s.PayeeState = &st
		rec.PayeeState = &st
	} else {
		s.PayerSeqno = max(rec.seqno(), oc.CommittedPayer) + 1
		s.Withdraw = new(big.Int)
		rec.Phase, rec.ClosingSince = PhaseClosing, time.Now().UTC()
	}
	err = s.sign(p.cfg.Key, false)
	if err == nil {
		err = p.cfg.Store.Put(rec)
	}
	unlock()
	if err != nil {
		return nil, err
	}
	got, err := payer.Cosign(ctx, s)
	if err != nil {
		return nil, fmt.Errorf("%s of channel %s: the payer did not countersign: %w", kind, id, err)
	}
	if !s.sameTerms(got) {
		return nil, fmt.Errorf("%s of channel %s: the payer countersigned something else", kind, id)
	}
	s.PayerSig = got.PayerSig
	if err := s.verify(rec.Terms.PayerKey, true); err != nil {
		return nil, err
	}
	if err := submitSettlement(ctx, p.cfg.Net, p.cfg.Wallet, rec.Address, s, p.cfg.Poll); err != nil {
		return nil, err
	}
	if _, err := p.Sync(ctx, id); err != nil {
		return nil, err
	}
	p.cfg.Logger.InfoContext(ctx, "channel "+kind.String(), "channel", id.String(), "sent", tonamount.Format(s.Sent))
	return s, nil
}

// CommitIfDue commits when the uncommitted earnings pass the policy's
// threshold; it reports whether it did.
func (p *Payee) CommitIfDue(ctx context.Context, id ID, payer Cosigner) (bool, error) {
	rec, err := p.cfg.Store.Get(id)
	if err != nil {
		return false, err
	}
	if rec.Phase != PhaseOpen || rec.Uncommitted().Cmp(p.cfg.Policy.CommitAbove) <= 0 {
		return false, nil
	}
	_, err = p.Commit(ctx, id, payer)
	return err == nil, err
}

// CommitAll commits every open channel with uncommitted earnings, the
// shutdown policy; payers gives the countersigner of each channel. It
// returns the first error after trying all.
func (p *Payee) CommitAll(ctx context.Context, payers func(ID) Cosigner) error {
	recs, err := p.cfg.Store.List()
	if err != nil {
		return err
	}
	var first error
	for _, r := range recs {
		if r.Role != RolePayee || r.Phase != PhaseOpen || r.Uncommitted().Sign() <= 0 {
			continue
		}
		if _, err := p.Commit(ctx, r.Terms.ID, payers(r.Terms.ID)); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// Cosign countersigns the payer's cooperative close: it must pay at least
// the held voucher. After it the payee takes no more vouchers.
func (p *Payee) Cosign(ctx context.Context, s *Settlement) (*Settlement, error) {
	if s == nil {
		return nil, errors.New("cosigning: no settlement")
	}
	if s.Kind != KindClose {
		return nil, fmt.Errorf("cosigning channel %s: the payee countersigns only closes, not %s", s.Channel, s.Kind)
	}
	unlock := p.locks.lock(s.Channel)
	defer unlock()
	rec, err := p.cfg.Store.Get(s.Channel)
	if err != nil {
		return nil, err
	}
	if rec.Phase == PhaseOpening {
		// No voucher came yet: the chain tells whether the payer opened.
		if oc, err := Read(ctx, p.cfg.Net, rec.Address); err == nil && oc.Status == StatusOpen {
			rec.Phase = PhaseOpen
		}
	}
	if rec.Phase != PhaseOpen && rec.Phase != PhaseClosing {
		return nil, fmt.Errorf("cosigning close of channel %s: %w", s.Channel, ErrNotOpen)
	}
	if err := s.verify(rec.Terms.PayerKey, true); err != nil {
		return nil, err
	}
	if s.Sent.Cmp(rec.Sent()) < 0 {
		return nil, fmt.Errorf("cosigning close of channel %s: it pays %s nanoton, the payee holds a voucher for %s: %w", s.Channel, s.Sent, rec.Sent(), ErrBackwards)
	}
	if rec.Phase != PhaseClosing {
		rec.Phase, rec.ClosingSince = PhaseClosing, time.Now().UTC()
	}
	out := *s
	if err := out.sign(p.cfg.Key, false); err != nil {
		return nil, err
	}
	if err := p.cfg.Store.Put(rec); err != nil {
		return nil, err
	}
	return &out, nil
}

// Sync reads the channel from the chain and stores what changed.
func (p *Payee) Sync(ctx context.Context, id ID) (*OnChain, error) {
	unlock := p.locks.lock(id)
	defer unlock()
	rec, err := p.cfg.Store.Get(id)
	if err != nil {
		return nil, err
	}
	oc, err := Read(ctx, p.cfg.Net, rec.Address)
	if err != nil {
		return nil, err
	}
	switch oc.Status {
	case StatusOpen:
		if rec.Phase == PhaseOpening {
			rec.Phase = PhaseOpen
		}
		rec.Deposit, rec.Withdrawn = oc.Available(), oc.WithdrawPayee
	case StatusClosing, StatusSettling, StatusFinishable:
		if rec.Phase != PhaseClosing {
			rec.Phase, rec.ClosingSince = PhaseClosing, time.Now().UTC()
		}
	case StatusUninit, StatusAbsent:
		if rec.Phase == PhaseClosing {
			rec.Phase = PhaseClosed
		}
	}
	return oc, p.cfg.Store.Put(rec)
}

// ForceClose starts an uncooperative close with the held voucher, for a
// payer that stopped answering.
func (p *Payee) ForceClose(ctx context.Context, id ID) error {
	if p.cfg.Wallet == nil {
		return fmt.Errorf("force-closing channel %s: the payee has no wallet to pay gas", id)
	}
	oc, err := p.Sync(ctx, id)
	if err != nil {
		return err
	}
	if oc.Status != StatusOpen {
		return fmt.Errorf("force-closing channel %s (%s on chain): %w", id, oc.Status, ErrNotOpen)
	}
	return p.submitDispute(ctx, id, oc, false)
}

// submitDispute starts (challenge false) or challenges (true) an
// uncooperative close with the held voucher and a fresh own state.
func (p *Payee) submitDispute(ctx context.Context, id ID, oc *OnChain, challenge bool) error {
	unlock := p.locks.lock(id)
	rec, err := p.cfg.Store.Get(id)
	if err != nil {
		unlock()
		return err
	}
	if rec.Voucher == nil {
		unlock()
		return fmt.Errorf("closing channel %s: no voucher held, nothing to claim", id)
	}
	own := rec.PayeeState
	if own.Seqno < oc.CommittedPayee {
		st, err := SignState(p.cfg.Key, id, oc.CommittedPayee, new(big.Int))
		if err != nil {
			unlock()
			return err
		}
		own = &st
		rec.PayeeState = own
	}
	if rec.Phase != PhaseClosing {
		rec.Phase, rec.ClosingSince = PhaseClosing, time.Now().UTC()
	}
	err = p.cfg.Store.Put(rec)
	voucher := *rec.Voucher
	unlock()
	if err != nil {
		return err
	}
	msg, err := DisputeMessage(rec.Address, challenge, false, p.cfg.Key, voucher, *own)
	if err != nil {
		return err
	}
	op := "uncooperative close"
	if challenge {
		op = "challenge"
	}
	if _, err := send(ctx, p.cfg.Net, p.cfg.Wallet, rec.Address, op, p.cfg.Poll, walletMsgs(msg)...); err != nil {
		return fmt.Errorf("%s of channel %s: %w", op, id, err)
	}
	return nil
}

// Finish completes an uncooperative close after its windows, paying out.
func (p *Payee) Finish(ctx context.Context, id ID) error {
	rec, err := p.cfg.Store.Get(id)
	if err != nil {
		return err
	}
	if err := finish(ctx, p.cfg.Net, p.cfg.Wallet, rec.Address, p.cfg.Poll); err != nil {
		return err
	}
	_, err = p.Sync(ctx, id)
	return err
}

// Action is what one watcher pass did on a channel.
type Action struct {
	Channel ID
	Did     string // "challenged", "finished", "force-closed"
	Err     error
}

// CheckOnce looks at every channel of the store that is not closed: it
// challenges a close that a payer started with less than the held
// voucher, finishes a close whose windows are over, and marks paid-out
// channels closed.
func (p *Payee) CheckOnce(ctx context.Context) ([]Action, error) {
	recs, err := p.cfg.Store.List()
	if err != nil {
		return nil, err
	}
	var acts []Action
	for _, r := range recs {
		if r.Role != RolePayee || r.Phase == PhaseClosed {
			continue
		}
		id := r.Terms.ID
		oc, err := p.Sync(ctx, id)
		if err != nil {
			acts = append(acts, Action{Channel: id, Err: err})
			continue
		}
		switch oc.Status {
		case StatusOpen:
			// A close this payee countersigned that nobody submitted: the
			// payee takes no vouchers meanwhile, so it closes alone.
			if r.Phase == PhaseClosing && p.cfg.Wallet != nil && r.Voucher != nil && time.Since(r.ClosingSince) > p.cfg.Policy.CloseGrace {
				err := p.submitDispute(ctx, id, oc, false)
				acts = append(acts, Action{Channel: id, Did: "force-closed", Err: err})
			}
		case StatusClosing:
			q := oc.Quarantine
			if !q.ByPayer || q.Challenged || r.Voucher == nil {
				continue
			}
			if r.Voucher.Seqno > q.PayerSeqno || r.Voucher.Sent.Cmp(q.PayerSent) > 0 {
				err := p.submitDispute(ctx, id, oc, true)
				acts = append(acts, Action{Channel: id, Did: "challenged", Err: err})
				p.cfg.Logger.WarnContext(ctx, "challenged a stale close", "channel", id.String(), "submitted", tonamount.Format(q.PayerSent), "held", tonamount.Format(r.Voucher.Sent), "err", err)
			}
		case StatusFinishable:
			if p.cfg.Wallet == nil {
				continue
			}
			err := p.Finish(ctx, id)
			acts = append(acts, Action{Channel: id, Did: "finished", Err: err})
		}
	}
	return acts, nil
}

// Watch runs CheckOnce every interval until ctx ends. Errors are logged
// and retried on the next pass: a watcher rides out chain outages.
func (p *Payee) Watch(ctx context.Context, interval time.Duration) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		acts, err := p.CheckOnce(ctx)
		if err != nil {
			p.cfg.Logger.WarnContext(ctx, "channel watcher pass failed", "err", err)
		}
		for _, a := range acts {
			if a.Err != nil {
				p.cfg.Logger.WarnContext(ctx, "channel watcher", "channel", a.Channel.String(), "action", a.Did, "err", a.Err)
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Channel returns the payee's record of channel id.
func (p *Payee) Channel(id ID) (*Record, error) { return p.cfg.Store.Get(id) }

// Channels lists the payee's channels.
func (p *Payee) Channels() ([]*Record, error) { return listRole(p.cfg.Store, RolePayee) }

// Verify runs Receive's off-chain checks (signature, channel, newer than
// the held voucher, within the deposit last seen) without storing the
// voucher or reading the chain; Receive is what makes it count.
func (p *Payee) Verify(v SignedState) (Receipt, error) {
	rec, err := p.cfg.Store.Get(v.Channel)
	if err != nil {
		return Receipt{}, err
	}
	if err := checkVoucher(rec, v); err != nil {
		return Receipt{}, err
	}
	if v.Sent.Cmp(rec.Deposit) > 0 {
		return Receipt{}, fmt.Errorf("voucher for %s TON on channel %s with a deposit of %s TON last seen: %w", tonamount.Format(v.Sent), v.Channel, tonamount.Format(rec.Deposit), ErrOverDeposit)
	}
	return Receipt{Channel: v.Channel, Seqno: v.Seqno, Total: new(big.Int).Set(v.Sent), Delta: new(big.Int).Sub(v.Sent, rec.Sent())}, nil
}
