package worker

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cocoon-network/cocoon/offchain/channel"
	"github.com/cocoon-network/cocoon/offchain/onlineproto"
	"github.com/cocoon-network/cocoon/offchain/tonamount"
	"github.com/cocoon-network/cocoon/offchain/wallet"
)

// ChannelVerifier takes vouchers of Cocoon's payment channels (offchain/channel)
// in which this worker is the payee: the payer is named by its channel id
// (hex), the voucher is a channel.SignedState in text form. Each voucher is
// checked against the channel's terms and on-chain deposit and stored
// before it counts, so the worker can always claim it on chain.
type ChannelVerifier struct {
	Payee *channel.Payee
	Store *channel.Store

	open   sync.Map // channel ids seen open on chain
	synced sync.Map // channel id → time.Time of the last chain read a request caused
	reads  atomic.Uint64
	// opening serialises requests' chain reads of channels not yet seen
	// open (checkOpening).
	opening sync.Mutex
}

// depositReread bounds how often a payer can make the worker read its
// channel from the chain by asking for more than the deposit it knows.
const depositReread = 2 * time.Second

// checkOpening reads from the chain whether channel id, agreed and not
// yet seen funded, is open now. Requests naming it wait for a read already
// under way (a gateway sends several at once on a channel it just opened)
// and cause at most one read per depositReread, however many come.
func (v *ChannelVerifier) checkOpening(ctx context.Context, id channel.ID) error {
	v.opening.Lock()
	defer v.opening.Unlock()
	if rec, err := v.Store.Get(id); err == nil && rec.Phase == channel.PhaseOpen {
		return nil // the read another request made found it open
	}
	if !v.mayRead(id) {
		return fmt.Errorf("channel %s is not open on chain yet", id)
	}
	oc, err := v.Payee.Sync(ctx, id)
	if err != nil {
		return fmt.Errorf("reading channel %s: %w", id, err)
	}
	if oc.Status != channel.StatusOpen {
		return fmt.Errorf("channel %s is not open on chain yet", id)
	}
	return nil
}

// mayRead reports whether a request may make the worker read channel id
// from the chain now, and if so counts the read: at most one per
// depositReread a channel.
func (v *ChannelVerifier) mayRead(id channel.ID) bool {
	now := time.Now()
	last, seen := v.synced.Load(id)
	if seen && now.Sub(last.(time.Time)) < depositReread {
		return false
	}
	v.synced.Store(id, now)
	if v.reads.Add(1)%256 == 0 {
		// Entries of channels no longer asked about (expired terms)
		// would otherwise pile up.
		v.synced.Range(func(k, t any) bool {
			if now.Sub(t.(time.Time)) > time.Minute {
				v.synced.Delete(k)
			}
			return true
		})
	}
	return true
}

// Held implements VoucherHolder: the newest voucher of the payer's
// channel, in text form.
func (v *ChannelVerifier) Held(payer string) (string, bool) {
	id, err := channel.ParseID(payer)
	if err != nil {
		return "", false
	}
	rec, err := v.Store.Get(id)
	if err != nil || rec.Voucher == nil {
		return "", false
	}
	return rec.Voucher.String(), true
}

// Ceiling implements PayerCeiling: the channel's deposit, what its vouchers
// can ever pay in total.
func (v *ChannelVerifier) Ceiling(ctx context.Context, payer string, fresh bool) (*big.Int, error) {
	id, err := channel.ParseID(payer)
	if err != nil {
		return nil, fmt.Errorf("payer: %w", err)
	}
	if fresh && v.mayRead(id) {
		if _, err := v.Payee.Sync(ctx, id); err != nil {
			return nil, fmt.Errorf("reading channel %s: %w", id, err)
		}
	}
	rec, err := v.Store.Get(id)
	if err != nil {
		return nil, fmt.Errorf("payer %s: no payment channel agreed with this worker", id)
	}
	if rec.Deposit == nil {
		return new(big.Int), nil
	}
	return new(big.Int).Set(rec.Deposit), nil
}

// CheckPayer implements PayerChecker: the payer's channel must be open on
// chain (its deposit is there) before it gets any credit, so credit cannot
// be multiplied by agreeing terms for channels never funded.
func (v *ChannelVerifier) CheckPayer(ctx context.Context, payer string) error {
	id, err := channel.ParseID(payer)
	if err != nil {
		return fmt.Errorf("payer: %w", err)
	}
	if _, ok := v.open.Load(id); ok {
		return nil
	}
	rec, err := v.Store.Get(id)
	if err != nil {
		return fmt.Errorf("payer %s: no payment channel agreed with this worker", id)
	}
	if rec.Phase == channel.PhaseOpening {
		if err := v.checkOpening(ctx, id); err != nil {
			return err
		}
	} else if rec.Phase != channel.PhaseOpen {
		return fmt.Errorf("channel %s is %s", id, rec.Phase)
	}
	v.open.Store(id, true)
	return nil
}

// Scheme implements VoucherVerifier.
func (v *ChannelVerifier) Scheme() string { return onlineproto.ChannelScheme }

// Verify implements VoucherVerifier. A voucher the worker already holds
// (the payer repeats its latest with every request) counts as the amount
// held.
func (v *ChannelVerifier) Verify(ctx context.Context, payer string, voucher []byte) (*big.Int, error) {
	id, err := channel.ParseID(payer)
	if err != nil {
		return nil, fmt.Errorf("payer: %w", err)
	}
	st, err := channel.ParseState(string(voucher))
	if err != nil {
		return nil, err
	}
	if st.Channel != id {
		return nil, fmt.Errorf("voucher for channel %s sent as payer %s", st.Channel, id)
	}
	r, err := v.Payee.Receive(ctx, st)
	if errors.Is(err, channel.ErrStale) {
		rec, gerr := v.Store.Get(id)
		if gerr != nil {
			return nil, gerr
		}
		if verr := st.Verify(rec.Terms.PayerKey); verr != nil {
			return nil, verr
		}
		if held := rec.Sent(); st.Sent.Cmp(held) <= 0 {
			return held, nil
		}
		return nil, err
	}
	if err != nil {
		return nil, err
	}
	return r.Total, nil
}

// startPayments opens the payment-channel side of the online endpoint
// (payments = "channels"): the payee's store under the state dir, the
// payee signing with the worker key and paying out to the owner, and, when
// a gas wallet is configured, the watcher that commits earnings and
// answers payers' closes.
func (o *online) startPayments(ctx context.Context) (stop func(), err error) {
	// The payers' accounts outlive restarts, whatever the scheme.
	ledger, err := OpenLedgerStore(o.d.cfg.Path(o.d.cfg.StateDir))
	if err != nil {
		return nil, fmt.Errorf("opening the online accounts: %w", err)
	}
	o.ledger.Persist(ledger, o.d.log)
	stopChannels, err := o.startChannels(ctx)
	if err != nil {
		o.ledger.Persist(nil, nil)
		ledger.Close()
		return nil, err
	}
	return func() {
		stopChannels()
		o.ledger.Persist(nil, nil)
		ledger.Close()
	}, nil
}

// openGasWallet opens online.gas_wallet (nil when the config names none)
// and warns when it holds too little.
func (d *Daemon) openGasWallet(ctx context.Context) (*wallet.Wallet, error) {
	if d.cfg.Online.GasWallet == "" {
		return nil, nil
	}
	f, err := wallet.Load(d.cfg.Path(d.cfg.Online.GasWallet))
	if err != nil {
		return nil, fmt.Errorf("online.gas_wallet: %w", err)
	}
	w, err := f.Open(wallet.WithLogger(d.log))
	if err != nil {
		return nil, fmt.Errorf("online.gas_wallet: %w", err)
	}
	// Best effort: an empty gas wallet fails every renewal, commit and
	// close later, far from the cause; say so at start.
	if d.net != nil {
		if acc, err := d.net.Account(ctx, w.Address()); err == nil && acc.Balance.Cmp(big.NewInt(minGasBalance)) < 0 {
			d.log.Warn("the gas wallet holds too little to pay the registration's renewals and channel commits and closes; fund it",
				"wallet", w.Address().String(), "balance_ton", tonamount.Format(acc.Balance), "want_ton", tonamount.Format(big.NewInt(minGasBalance)))
		}
	}
	return w, nil
}

// minGasBalance is what the gas wallet should hold at start: a few dozen
// commits and closes (about 0.005 TON each).
const minGasBalance = 100_000_000 // nanoton

// startChannels is startPayments' part for payments = "channels".
func (o *online) startChannels(ctx context.Context) (stop func(), err error) {
	if o.cfg.Payments != PaymentsChannels || o.fixed {
		return func() {}, nil
	}
	if o.d.net == nil {
		return nil, errors.New("online payments by channel need a network")
	}
	store, err := channel.OpenStore(filepath.Join(o.d.cfg.Path(o.d.cfg.StateDir), "channels"))
	if err != nil {
		return nil, fmt.Errorf("opening the payment-channel store: %w", err)
	}
	above, _ := o.cfg.commitAboveNano()
	pc := channel.PayeeConfig{Net: o.d.net, Key: o.d.id.SignKey, Payout: o.d.owner, Store: store, Logger: o.d.log,
		Policy: channel.PayeePolicy{CommitAbove: above}}
	if o.d.gas != nil {
		pc.Wallet = o.d.gas
	}
	payee, err := channel.NewPayee(pc)
	if err != nil {
		store.Close()
		return nil, err
	}
	o.setPayee(payee, &ChannelVerifier{Payee: payee, Store: store})
	wctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if pc.Wallet == nil {
			o.d.log.Warn("online.gas_wallet is not set: this worker opens no payment channels (it could not commit earnings or answer a payer's close)")
			return
		}
		// The watcher commits earnings past online.commit_above (the
		// payer's voucher is all the contract needs) and answers payers'
		// closes with the best voucher held.
		if err := payee.Watch(wctx, 5*time.Second); err != nil && wctx.Err() == nil {
			o.d.log.Error("payment-channel watcher stopped", "error", err)
		}
	}()
	return func() {
		cancel()
		<-done
		if pc.Wallet != nil {
			// Shutdown: commit whatever is uncommitted, best effort (the
			// store keeps the vouchers for the next run's watcher).
			sctx, scancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			if err := payee.CommitAll(sctx); err != nil {
				o.d.log.Warn("committing channel earnings at shutdown", "error", err)
			}
			scancel()
		}
		o.setPayee(nil, nil)
		store.Close()
	}, nil
}

func (o *online) setPayee(p *channel.Payee, v VoucherVerifier) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.payee, o.vouchers = p, v
}

func (o *online) verifier() VoucherVerifier {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.vouchers
}

// channelHandler serves a payment-channel endpoint once the payee runs.
func (o *online) channelHandler(h func(*channel.Payee) http.Handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		o.mu.Lock()
		p := o.payee
		o.mu.Unlock()
		if p == nil {
			apiError(w, http.StatusServiceUnavailable, "server_error", "channels_unavailable", "this worker takes no payment channels right now (payments = %q)", o.cfg.Payments)
			return
		}
		h(p).ServeHTTP(w, r)
	}
}
