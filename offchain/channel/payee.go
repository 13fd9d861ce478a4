package channel

import (
	"context"
	"crypto/ed25519"
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

// PayeePolicy is what the payee accepts and when it commits.
type PayeePolicy struct {
	// CommitAbove: CommitIfDue commits when the uncommitted earnings of a
	// channel pass this.
	CommitAbove *big.Int
	// MinCommit: CommitAll (the daemon's shutdown) leaves a channel whose
	// uncommitted earnings are below this for later: a commit costs about
	// 0.004 TON of fees (docs/PERFORMANCE.md), more than such earnings are
	// worth now, and the voucher stays held (the watcher commits it past
	// CommitAbove or after IdleCommit; a payer's close pays it).
	MinCommit *big.Int
	// MinQuarantine is the shortest quarantine Accept agrees to: the
	// watcher must get a chance to answer a payer's close within it.
	MinQuarantine time.Duration
	// CloseGrace is how long the watcher waits for a close it approved
	// to appear on chain before submitting it itself.
	CloseGrace time.Duration
	// Agreeing terms costs a payer nothing, so terms not funded on chain
	// within OpeningTTL are forgotten, and at most MaxOpeningPerSource
	// (one client address) and MaxOpening (all) wait to be funded at once.
	OpeningTTL          time.Duration
	MaxOpeningPerSource int
	MaxOpening          int
	// IdleCommit: the watcher commits a held voucher, whatever its size,
	// once the channel has seen no transaction for this long. Storage fees
	// accrue against the channel's balance: they eat the payer's reserve
	// first (about 1.4 years of it at mainnet prices with the code inline)
	// and then what the payee is owed, so earnings are not left waiting
	// longer than the reserve lasts.
	IdleCommit time.Duration
}

// DefaultPayeePolicy commits past 0.5 TON or after 90 idle days (at
// shutdown past 0.02 TON, five times a commit's fees), wants at least an
// hour to answer a payer's close, and keeps unfunded terms 15 minutes, 16
// per client address and 1,024 in all.
func DefaultPayeePolicy() PayeePolicy {
	return PayeePolicy{CommitAbove: big.NewInt(500_000_000), MinCommit: big.NewInt(20_000_000), MinQuarantine: time.Hour, CloseGrace: 10 * time.Minute,
		OpeningTTL: 15 * time.Minute, MaxOpeningPerSource: 16, MaxOpening: 1024, IdleCommit: 90 * 24 * time.Hour}
}

// ErrTooManyOpening is returned by Accept when too many agreed terms wait
// to be funded (from the caller's address or in all).
var ErrTooManyOpening = errors.New("too many channels agreed and not yet funded")

// PayeeConfig configures a Payee.
type PayeeConfig struct {
	Net chain.Network
	// Key signs the payee's states and settlements (side B): a worker's
	// enclave key.
	Key ed25519.PrivateKey
	// Payout is where earnings go (a worker's owner wallet); Accept
	// refuses terms that pay elsewhere.
	Payout *address.Address
	// Wallet pays gas for commits and closes (a few thousandths of a TON
	// each; the contract returns what they do not spend); without
	// it the payee can only receive vouchers and approve the payer's close.
	Wallet Sender
	Store  *Store
	Policy PayeePolicy
	Poll   time.Duration
	Logger *slog.Logger
}

// Payee is the paid side (a worker): it accepts channels, verifies and
// keeps vouchers, commits its earnings, closes, and watches for a payer's
// close to answer with its best voucher.
type Payee struct {
	cfg   PayeeConfig
	locks keyedMutex
	// failedClose holds, per channel, what a close the chain could not
	// carry out (its action phase failed: a due below the payout's
	// forwarding fee) tried to claim: the watcher does not pay gas for the
	// same failing close on every pass, only once the held voucher pays
	// more.
	failedClose sync.Map // ID → *big.Int
	// activity caches, per channel, the time of the transaction the chain
	// last showed as its latest (lastActivity), so the watcher's idle
	// check reads it once per transaction, not on every pass.
	activity sync.Map // ID → activityMark
}

type activityMark struct {
	lt uint64
	at time.Time
}

// lastActivity is lastActivity, cached per channel transaction.
func (p *Payee) lastActivity(ctx context.Context, id ID, oc *OnChain) (time.Time, error) {
	if m, ok := p.activity.Load(id); ok && m.(activityMark).lt == oc.LastTx.LT {
		return m.(activityMark).at, nil
	}
	at, err := lastActivity(ctx, p.cfg.Net, oc)
	if err != nil {
		return time.Time{}, err
	}
	p.activity.Store(id, activityMark{lt: oc.LastTx.LT, at: at})
	return at, nil
}

// NewPayee checks cfg and returns a Payee.
func NewPayee(cfg PayeeConfig) (*Payee, error) {
	if cfg.Net == nil || cfg.Store == nil || len(cfg.Key) != ed25519.PrivateKeySize || cfg.Payout == nil {
		return nil, errors.New("channel payee: a network, a store, an ed25519 key and a payout address are required")
	}
	if cfg.Policy.CommitAbove == nil {
		cfg.Policy.CommitAbove = DefaultPayeePolicy().CommitAbove
	}
	if cfg.Policy.MinCommit == nil {
		cfg.Policy.MinCommit = DefaultPayeePolicy().MinCommit
	}
	if cfg.Policy.MinQuarantine == 0 {
		cfg.Policy.MinQuarantine = DefaultPayeePolicy().MinQuarantine
	}
	if cfg.Policy.CloseGrace == 0 {
		cfg.Policy.CloseGrace = DefaultPayeePolicy().CloseGrace
	}
	if cfg.Policy.OpeningTTL == 0 {
		cfg.Policy.OpeningTTL = DefaultPayeePolicy().OpeningTTL
	}
	if cfg.Policy.MaxOpeningPerSource == 0 {
		cfg.Policy.MaxOpeningPerSource = DefaultPayeePolicy().MaxOpeningPerSource
	}
	if cfg.Policy.MaxOpening == 0 {
		cfg.Policy.MaxOpening = DefaultPayeePolicy().MaxOpening
	}
	if cfg.Policy.IdleCommit == 0 {
		cfg.Policy.IdleCommit = DefaultPayeePolicy().IdleCommit
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

// CanSend reports whether the payee has a wallet to pay the gas of its
// commits and closes (PayeeConfig.Wallet); without one it can only keep
// vouchers and approve the payer's closes.
func (p *Payee) CanSend() bool { return p.cfg.Wallet != nil }

// Accept agrees to a channel with terms: they must name this payee's key
// and payout address and give it at least MinQuarantine to answer a
// payer's close. It returns the payee's signed acceptance (an empty state
// of its own), which the payer wants before it deposits (Payer.Open).
// Accepting the same terms again returns the same state. source names the
// caller (a client address) for the bound on unfunded terms.
func (p *Payee) Accept(ctx context.Context, terms Terms, source string) (SignedState, error) {
	if err := terms.Validate(); err != nil {
		return SignedState{}, err
	}
	switch {
	case !terms.PayeeKey.Equal(p.PublicKey()):
		return SignedState{}, errors.New("accepting channel: the terms name another payee key")
	case !terms.PayeeAddress.Equals(p.cfg.Payout):
		return SignedState{}, fmt.Errorf("accepting channel: the terms pay %s, not this payee's %s", terms.PayeeAddress, p.cfg.Payout)
	case terms.Closing.Quarantine < p.cfg.Policy.MinQuarantine:
		return SignedState{}, fmt.Errorf("accepting channel: quarantine %s is shorter than the %s this payee needs to answer a close", terms.Closing.Quarantine, p.cfg.Policy.MinQuarantine)
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
	if err := p.checkOpening(source); err != nil {
		return SignedState{}, err
	}
	st, err := SignState(p.cfg.Key, terms.ID, 0, new(big.Int))
	if err != nil {
		return SignedState{}, err
	}
	rec = &Record{Role: RolePayee, Terms: terms, Address: addr, Phase: PhaseOpening, PayeeState: &st, Deposit: new(big.Int), Withdrawn: new(big.Int),
		Accepted: time.Now().UTC(), Source: source}
	return st, p.cfg.Store.Put(rec)
}

// checkOpening refuses a new agreement while too many wait to be funded,
// from source or in all. Terms past OpeningTTL do not count: the watcher
// is about to forget them.
func (p *Payee) checkOpening(source string) error {
	recs, err := listRole(p.cfg.Store, RolePayee)
	if err != nil {
		return err
	}
	all, fromSource := 0, 0
	for _, r := range recs {
		if r.Phase != PhaseOpening || p.expired(r) {
			continue
		}
		all++
		if r.Source == source {
			fromSource++
		}
	}
	switch {
	case fromSource >= p.cfg.Policy.MaxOpeningPerSource:
		return fmt.Errorf("accepting channel: %w: %d from %s (at most %d; each is forgotten %s after it was agreed unless funded)",
			ErrTooManyOpening, fromSource, source, p.cfg.Policy.MaxOpeningPerSource, p.cfg.Policy.OpeningTTL)
	case all >= p.cfg.Policy.MaxOpening:
		return fmt.Errorf("accepting channel: %w: %d in all (at most %d)", ErrTooManyOpening, all, p.cfg.Policy.MaxOpening)
	}
	return nil
}

// expired reports whether r, agreed and not seen funded, is past
// OpeningTTL. Records from before Accepted was kept count from their last
// update.
func (p *Payee) expired(r *Record) bool {
	since := r.Accepted
	if since.IsZero() {
		since = r.Updated
	}
	return time.Since(since) >= p.cfg.Policy.OpeningTTL
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
		rec.Phase, rec.Deposit, rec.Withdrawn = PhaseOpen, oc.Deposit, oc.Paid
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

// Commit withdraws what the held voucher pays beyond what was paid, to
// the payout address, without closing: the payer's signature on the
// voucher is all the contract needs. The payee's wallet pays the gas; the
// contract returns its unspent part to the wallet.
func (p *Payee) Commit(ctx context.Context, id ID) (*big.Int, error) {
	if !p.CanSend() {
		return nil, fmt.Errorf("commit of channel %s: the payee has no wallet to pay gas", id)
	}
	oc, err := p.Sync(ctx, id)
	if err != nil {
		return nil, err
	}
	if oc.Status != StatusOpen {
		return nil, fmt.Errorf("commit of channel %s (%s on chain): %w", id, oc.Status, ErrNotOpen)
	}
	rec, err := p.cfg.Store.Get(id)
	if err != nil {
		return nil, err
	}
	if rec.Voucher == nil || rec.Voucher.Sent.Cmp(oc.Paid) <= 0 {
		return nil, fmt.Errorf("commit of channel %s: nothing new since the last commit", id)
	}
	v := *rec.Voucher
	msg, err := CommitMessage(rec.Address, v)
	if err != nil {
		return nil, err
	}
	last, err := p.lastActivity(ctx, id, oc)
	if err != nil {
		return nil, fmt.Errorf("commit of channel %s: %w", id, err)
	}
	msg.Amount = tlb.FromNanoTON(claimValue(oc, new(big.Int).Sub(v.Sent, oc.Paid), storageSince(oc, last)))
	_, err = send(ctx, p.cfg.Net, p.cfg.Wallet, rec.Address, "channel commit", p.cfg.Poll, walletMsgs(msg)...)
	noteOutcome(&p.locks, p.cfg.Store, id, "channel commit", err)
	if err != nil {
		return nil, fmt.Errorf("commit of channel %s: %w", id, err)
	}
	if _, err := p.Sync(ctx, id); err != nil {
		return nil, err
	}
	p.cfg.Logger.InfoContext(ctx, "channel commit", "channel", id.String(), "paid", tonamount.Format(v.Sent))
	return new(big.Int).Set(v.Sent), nil
}

// Close closes the channel at once with the held voucher: the payee is
// paid what it holds, the payer gets the rest; no countersignature is
// needed (the payer loses nothing). It also answers a payer's close alone.
func (p *Payee) Close(ctx context.Context, id ID) (*Settlement, error) {
	if !p.CanSend() {
		return nil, fmt.Errorf("close of channel %s: the payee has no wallet to pay gas", id)
	}
	oc, err := p.Sync(ctx, id)
	if err != nil {
		return nil, err
	}
	if oc.Status == StatusAbsent || oc.Status == StatusClosed {
		return nil, fmt.Errorf("close of channel %s (%s on chain): %w", id, oc.Status, ErrNotOpen)
	}
	unlock := p.locks.lock(id)
	rec, err := p.cfg.Store.Get(id)
	if err != nil {
		unlock()
		return nil, err
	}
	if rec.Voucher == nil {
		unlock()
		return nil, fmt.Errorf("close of channel %s: no voucher held, nothing to claim (the payer closes)", id)
	}
	s := &Settlement{Channel: id, Voucher: *rec.Voucher}
	err = s.Approve(p.cfg.Key)
	if err == nil && rec.Phase != PhaseClosing {
		rec.Phase, rec.ClosingSince = PhaseClosing, time.Now().UTC()
		err = p.cfg.Store.Put(rec)
	}
	unlock()
	if err != nil {
		return nil, err
	}
	err = submitClose(ctx, p.cfg.Net, p.cfg.Wallet, rec.Address, s, p.cfg.Poll)
	noteOutcome(&p.locks, p.cfg.Store, id, "channel close", err)
	if err != nil {
		var re *RefusedError
		if errors.As(err, &re) && re.Action {
			p.failedClose.Store(id, new(big.Int).Set(s.Voucher.Sent))
		}
		return nil, err
	}
	p.failedClose.Delete(id)
	if _, err := p.Sync(ctx, id); err != nil {
		return nil, err
	}
	p.cfg.Logger.InfoContext(ctx, "channel closed", "channel", id.String(), "paid", tonamount.Format(s.Voucher.Sent))
	return s, nil
}

// closeFailedBefore reports whether a close claiming what r's voucher pays
// already failed on chain (Payee.failedClose).
func (p *Payee) closeFailedBefore(r *Record) bool {
	v, ok := p.failedClose.Load(r.Terms.ID)
	return ok && r.Voucher != nil && r.Voucher.Sent.Cmp(v.(*big.Int)) <= 0
}

// CommitIfDue commits when the uncommitted earnings pass the policy's
// threshold; it reports whether it did.
func (p *Payee) CommitIfDue(ctx context.Context, id ID) (bool, error) {
	rec, err := p.cfg.Store.Get(id)
	if err != nil {
		return false, err
	}
	if rec.Phase != PhaseOpen || rec.Uncommitted().Cmp(p.cfg.Policy.CommitAbove) <= 0 {
		return false, nil
	}
	_, err = p.Commit(ctx, id)
	return err == nil, err
}

// commitIfIdle commits the held voucher once the channel has been idle
// for PayeePolicy.IdleCommit (storage fees would otherwise eat into it).
func (p *Payee) commitIfIdle(ctx context.Context, id ID, oc *OnChain) (bool, error) {
	last, err := p.lastActivity(ctx, id, oc)
	if err != nil || oc.Now.Sub(last) < p.cfg.Policy.IdleCommit {
		return false, err
	}
	_, err = p.Commit(ctx, id)
	return err == nil, err
}

// CommitAll commits every open channel with uncommitted earnings, the
// shutdown policy. It returns the first error after trying all.
func (p *Payee) CommitAll(ctx context.Context) error {
	recs, err := p.cfg.Store.List()
	if err != nil {
		return err
	}
	var first error
	for _, r := range recs {
		if r.Role != RolePayee || r.Phase != PhaseOpen || r.Uncommitted().Sign() <= 0 {
			continue
		}
		if r.Uncommitted().Cmp(p.cfg.Policy.MinCommit) < 0 {
			p.cfg.Logger.InfoContext(ctx, "channel earnings left for a later commit: less than a commit is worth", "channel", r.Terms.ID.String(),
				"uncommitted", tonamount.Format(r.Uncommitted()), "min_commit", tonamount.Format(p.cfg.Policy.MinCommit))
			continue
		}
		if _, err := p.Commit(ctx, r.Terms.ID); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// Cosign approves the payer's cooperative close: its voucher must verify
// and pay at least the voucher held. After it the payee takes no more
// vouchers.
func (p *Payee) Cosign(ctx context.Context, s *Settlement) (*Settlement, error) {
	if s == nil || s.Voucher.Sent == nil {
		return nil, errors.New("approving a close: no voucher")
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
		return nil, fmt.Errorf("approving the close of channel %s: %w", s.Channel, ErrNotOpen)
	}
	if s.Voucher.Channel != s.Channel {
		return nil, fmt.Errorf("approving the close of channel %s: the voucher is for channel %s", s.Channel, s.Voucher.Channel)
	}
	if err := s.Voucher.Verify(rec.Terms.PayerKey); err != nil {
		return nil, fmt.Errorf("approving the close of channel %s: %w", s.Channel, err)
	}
	if s.Voucher.Sent.Cmp(rec.Sent()) < 0 {
		return nil, fmt.Errorf("approving the close of channel %s: it pays %s nanoton, the payee holds a voucher for %s: %w", s.Channel, s.Voucher.Sent, rec.Sent(), ErrBackwards)
	}
	if s.Voucher.Sent.Cmp(rec.Deposit) > 0 {
		// The contract would refuse it, and the payee, holding it as its
		// best voucher, could not close either.
		if oc, err := Read(ctx, p.cfg.Net, rec.Address); err == nil && oc.Status == StatusOpen {
			rec.Deposit = oc.Deposit
		}
		if s.Voucher.Sent.Cmp(rec.Deposit) > 0 {
			return nil, fmt.Errorf("approving the close of channel %s: it pays %s nanoton, above the deposit of %s: %w", s.Channel, s.Voucher.Sent, rec.Deposit, ErrOverDeposit)
		}
	}
	if rec.Phase != PhaseClosing {
		rec.Phase, rec.ClosingSince = PhaseClosing, time.Now().UTC()
	}
	if rec.Voucher == nil || s.Voucher.Seqno > rec.Voucher.Seqno {
		// The approved voucher is the best one: the payee can submit the
		// close itself should the payer not.
		v := s.Voucher
		rec.Voucher = &v
	}
	out := *s
	if err := out.Approve(p.cfg.Key); err != nil {
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
		rec.Deposit, rec.Withdrawn = oc.Deposit, oc.Paid
	case StatusClosing, StatusFinishable:
		if rec.Phase != PhaseClosing {
			rec.Phase, rec.ClosingSince = PhaseClosing, time.Now().UTC()
		}
	case StatusClosed:
		// Paid out (by either side).
		if rec.Phase == PhaseClosing || rec.Phase == PhaseOpen {
			rec.Phase = PhaseClosed
		}
	}
	return oc, p.cfg.Store.Put(rec)
}

// Finish ends a payer's close after its quarantine (everything left goes
// to the payer); the watcher sends it only when the payee has nothing to
// claim.
func (p *Payee) Finish(ctx context.Context, id ID) error {
	rec, err := p.cfg.Store.Get(id)
	if err != nil {
		return err
	}
	err = finish(ctx, p.cfg.Net, p.cfg.Wallet, rec.Address, p.cfg.Poll)
	noteOutcome(&p.locks, p.cfg.Store, id, "finish close", err)
	if err != nil {
		return err
	}
	_, err = p.Sync(ctx, id)
	return err
}

// Action is what one watcher pass did on a channel.
type Action struct {
	Channel ID
	Did     string // "committed", "challenged", "finished", "closed", "expired"
	Err     error
}

// CheckOnce looks at every channel of the store that is not closed: it
// commits earnings past PayeePolicy.CommitAbove ("committed"), answers a close the payer started alone by closing with the held voucher
// ("challenged"), closes alone a channel whose agreed close nobody
// submitted within CloseGrace ("closed"), finishes a payer's close with
// nothing to claim ("finished"), and marks paid-out channels closed.
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
		if r.Phase == PhaseOpening && !p.expired(r) {
			// Not funded yet: a request names it when it is (the
			// worker syncs it then), so no chain read per pass here.
			continue
		}
		oc, err := p.Sync(ctx, id)
		if err != nil {
			acts = append(acts, Action{Channel: id, Err: err})
			continue
		}
		if r.Phase == PhaseOpening && oc.Status != StatusOpen {
			// Agreed OpeningTTL ago and still not funded: forgotten.
			// The payer can agree the same terms again; a deposit made
			// meanwhile is the payer's to close and take back.
			if oc.Status == StatusAbsent || oc.Status == StatusUnfunded || oc.Status == StatusClosed {
				acts = append(acts, Action{Channel: id, Did: "expired", Err: p.cfg.Store.Delete(id)})
			}
			continue
		}
		if !p.CanSend() {
			continue
		}
		claim := r.Voucher != nil && r.Voucher.Sent.Cmp(oc.Paid) > 0
		switch oc.Status {
		case StatusOpen:
			switch {
			case r.Phase == PhaseClosing && r.Voucher != nil && time.Since(r.ClosingSince) > p.cfg.Policy.CloseGrace && !p.closeFailedBefore(r):
				// A close this payee approved that nobody submitted: the
				// payee takes no vouchers meanwhile, so it closes alone.
				_, err := p.Close(ctx, id)
				acts = append(acts, Action{Channel: id, Did: "closed", Err: err})
			case r.Phase == PhaseOpen:
				// The earnings policy: the record was refreshed by Sync.
				if did, err := p.CommitIfDue(ctx, id); did || err != nil {
					acts = append(acts, Action{Channel: id, Did: "committed", Err: err})
				} else if claim {
					if did, err := p.commitIfIdle(ctx, id, oc); did || err != nil {
						acts = append(acts, Action{Channel: id, Did: "committed", Err: err})
					}
				}
			}
		case StatusClosing, StatusFinishable:
			if claim && !p.closeFailedBefore(r) {
				_, err := p.Close(ctx, id)
				acts = append(acts, Action{Channel: id, Did: "challenged", Err: err})
				if err == nil {
					p.cfg.Logger.WarnContext(ctx, "answered the payer's close with the held voucher", "channel", id.String(), "paid", tonamount.Format(oc.Paid), "held", tonamount.Format(r.Voucher.Sent))
				} else {
					p.cfg.Logger.ErrorContext(ctx, "could not answer the payer's close with the held voucher", "channel", id.String(), "paid", tonamount.Format(oc.Paid), "held", tonamount.Format(r.Voucher.Sent), "err", err)
				}
			} else if oc.Status == StatusFinishable {
				err := p.Finish(ctx, id)
				acts = append(acts, Action{Channel: id, Did: "finished", Err: err})
			}
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
