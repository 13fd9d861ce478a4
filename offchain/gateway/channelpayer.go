package gateway

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net/http"
	"sync"
	"time"

	"github.com/cocoon-network/cocoon/offchain/channel"
	"github.com/cocoon-network/cocoon/offchain/client"
	"github.com/cocoon-network/cocoon/offchain/onlineproto"
	"github.com/cocoon-network/cocoon/offchain/tonamount"
)

// ChannelPayer pays workers over TON payment channels (offchain/channel):
// on first use of a worker it agrees terms with it (the worker's
// /v1/channel/accept, over the worker's attested connection) and opens a
// channel with Deposit in the background; requests meanwhile run on the
// worker's credit, and the first voucher after the channel opened covers
// them. Vouchers are the channel's signed states; the payer tops a channel
// up by its policy when little is left, and with CloseOnShutdown closes
// every channel cooperatively when the gateway stops.
type ChannelPayer struct {
	Payer   *channel.Payer
	Store   *channel.Store
	Deposit *big.Int
	// CloseOnShutdown closes the channels at Close (cocoon up); otherwise
	// they stay open in Store for the next run.
	CloseOnShutdown bool
	Logger          *slog.Logger

	mu    sync.Mutex
	chans map[string]*payChannel // by worker address (raw)
	// wallet serialises what the wallet sends (opens, top-ups, closes):
	// concurrent sends from one wallet race for its seqno.
	wallet sync.Mutex
}

type payChannel struct {
	id     channel.ID
	peer   *channel.Peer
	open   chan struct{} // closed once the channel is open on chain
	done   chan struct{} // closed when opening ended, open or failed
	failed error         // why opening failed (then a new channel is tried)
	topUp  sync.Mutex
}

// ready waits until c is open; a worker serves only payers whose channel
// is open on chain.
func (c *payChannel) ready(ctx context.Context) (string, error) {
	select {
	case <-c.open:
		return c.id.String(), nil
	case <-c.done:
		select {
		case <-c.open: // both are closed once it opened
			return c.id.String(), nil
		default:
			return "", fmt.Errorf("payment channel %s could not be opened", c.id)
		}
	case <-ctx.Done():
		return "", fmt.Errorf("waiting for payment channel %s to open: %w", c.id, ctx.Err())
	}
}

// Scheme implements Payer.
func (p *ChannelPayer) Scheme() string { return onlineproto.ChannelScheme }

func (p *ChannelPayer) log() *slog.Logger {
	if p.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return p.Logger
}

// PayerID implements Payer: the channel id, once the channel is open on
// chain; on first use it agrees terms and opens the channel (the first
// request to a worker waits for that).
func (p *ChannelPayer) PayerID(ctx context.Context, w *client.Worker, hc *http.Client) (string, error) {
	c, err := p.channelFor(ctx, w, hc)
	if err != nil {
		return "", err
	}
	return c.ready(ctx)
}

func (p *ChannelPayer) channelFor(ctx context.Context, w *client.Worker, hc *http.Client) (*payChannel, error) {
	key := w.Address.StringRaw()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.chans == nil {
		p.chans = map[string]*payChannel{}
	}
	if c, ok := p.chans[key]; ok && c.failed == nil {
		return c, nil
	}
	peer := &channel.Peer{URL: w.Endpoint, Client: hc}
	if c := p.reuse(w, peer); c != nil {
		p.chans[key] = c
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := p.recoverHeld(rctx, c); err != nil {
			p.log().Warn("could not compare the channel's voucher with the worker's", "worker", w.Address.String(), "channel", c.id.String(), "error", err)
		}
		return c, nil
	}
	if w.Owner == nil {
		return nil, errors.New("the worker's owner (its payout address) is unknown")
	}
	terms, err := p.Payer.NewTerms(ed25519.PublicKey(w.WorkerKey), w.Owner)
	if err != nil {
		return nil, err
	}
	actx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	hello, err := peer.Accept(actx, terms)
	if err != nil {
		return nil, fmt.Errorf("agreeing a payment channel with worker %s: %w", w.Address, err)
	}
	c := &payChannel{id: terms.ID, peer: peer, open: make(chan struct{}), done: make(chan struct{})}
	p.chans[key] = c
	go p.open(c, w, terms, hello)
	return c, nil
}

// Durable implements DurablePayer: the vouchers written behind go to disk
// now.
func (p *ChannelPayer) Durable() error { return p.Store.Flush() }

// Resume implements KeepingPayer: it takes back the channel an earlier run
// kept open with w, if any (no new channel is opened).
func (p *ChannelPayer) Resume(ctx context.Context, w *client.Worker, hc *http.Client) {
	p.mu.Lock()
	_, known := p.chans[w.Address.StringRaw()]
	p.mu.Unlock()
	if known || p.reuse(w, nil) == nil {
		return
	}
	if _, err := p.channelFor(ctx, w, hc); err != nil {
		p.log().Warn("could not take back the channel kept with a worker", "worker", w.Address.String(), "error", err)
	}
}

// reuse finds the channel to w kept from an earlier run: an open one, or
// one whose opening a crash interrupted (its terms were agreed and its
// record written before any TON left the wallet): that one's opening is
// resumed (Payer.Open finds it funded on chain, or deposits), instead of
// a second channel being opened beside it. With a nil peer it only
// reports whether there is one.
func (p *ChannelPayer) reuse(w *client.Worker, peer *channel.Peer) *payChannel {
	recs, err := p.Store.List()
	if err != nil {
		return nil
	}
	var opening *channel.Record
	for _, r := range recs {
		if r.Role != channel.RolePayer || !r.Terms.PayeeKey.Equal(ed25519.PublicKey(w.WorkerKey)) || w.Owner == nil || !r.Terms.PayeeAddress.Equals(w.Owner) {
			continue
		}
		switch {
		case r.Phase == channel.PhaseOpen:
			c := &payChannel{id: r.Terms.ID, peer: peer, open: make(chan struct{}), done: make(chan struct{})}
			close(c.open)
			close(c.done)
			return c
		case r.Phase == channel.PhaseOpening && r.PayeeState != nil && opening == nil:
			opening = r
		}
	}
	if opening == nil {
		return nil
	}
	c := &payChannel{id: opening.Terms.ID, peer: peer, open: make(chan struct{}), done: make(chan struct{})}
	if peer != nil {
		p.log().Info("resuming the opening of a payment channel an earlier run began", "worker", w.Address.String(), "channel", c.id.String())
		terms := opening.Terms
		go func() {
			// The worker forgets terms not funded within its opening TTL:
			// agree them again (the same terms get the same answer).
			actx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			hello, err := peer.Accept(actx, terms)
			cancel()
			if err != nil {
				p.mu.Lock()
				c.failed = fmt.Errorf("agreeing the channel's terms again: %w", err)
				p.mu.Unlock()
				close(c.done)
				return
			}
			p.open(c, w, terms, hello)
		}()
	}
	return c
}

// open opens channel c on chain with the agreed terms, in the background
// of the requests that wait for it.
func (p *ChannelPayer) open(c *payChannel, w *client.Worker, terms channel.Terms, hello channel.SignedState) {
	defer close(c.done)
	octx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	p.wallet.Lock()
	_, err := p.Payer.Open(octx, terms, hello, p.Deposit)
	p.wallet.Unlock()
	if err != nil {
		p.mu.Lock()
		c.failed = err
		p.mu.Unlock()
		p.log().Error("opening a payment channel failed", "worker", w.Address.String(), "channel", terms.ID.String(), "error", err)
		return
	}
	p.log().Info("payment channel open", "worker", w.Address.String(), "channel", terms.ID.String())
	close(c.open)
}

// recoverHeld asks the worker for the voucher it holds on reused channel c
// and adopts it when it is newer than the store's: the payer must never
// sign below a voucher it already gave (the worker would refuse every
// later one).
func (p *ChannelPayer) recoverHeld(ctx context.Context, c *payChannel) error {
	var ans voucherAnswer
	if err := postVoucher(ctx, c.peer.Client, c.peer.URL, c.id.String(), nil, &ans); err != nil {
		return err
	}
	if ans.Voucher == "" {
		return nil
	}
	v, err := channel.ParseState(ans.Voucher)
	if err != nil {
		return fmt.Errorf("the worker's voucher: %w", err)
	}
	if v.Channel != c.id {
		return fmt.Errorf("the worker answered a voucher of channel %s for %s", v.Channel, c.id)
	}
	newer, err := p.Payer.Adopt(v)
	if err != nil {
		return err
	}
	if newer {
		p.log().Warn("the worker held a newer voucher than this gateway's store; continuing from it", "channel", c.id.String(), "total_nanoton", v.Sent.String())
	}
	return nil
}

// Promised implements ResumingPayer.
func (p *ChannelPayer) Promised(w *client.Worker) (*big.Int, error) {
	p.mu.Lock()
	c := p.chans[w.Address.StringRaw()]
	p.mu.Unlock()
	if c == nil {
		return new(big.Int), nil
	}
	rec, err := p.Store.Get(c.id)
	if err != nil {
		return nil, err
	}
	return rec.Sent(), nil
}

// SpentBefore implements ResumingPayer: every voucher in the store, open
// and closed channels alike.
func (p *ChannelPayer) SpentBefore() (*big.Int, error) {
	recs, err := p.Store.List()
	if err != nil {
		return nil, err
	}
	sum := new(big.Int)
	for _, r := range recs {
		if r.Role == channel.RolePayer {
			sum.Add(sum, r.Sent())
		}
	}
	return sum, nil
}

// Pay implements Payer: a voucher (the channel's signed state, in text)
// for total, or nil while the channel is not open yet. A total beyond the
// deposit tops the channel up first.
func (p *ChannelPayer) Pay(ctx context.Context, w *client.Worker, total *big.Int) ([]byte, error) {
	p.mu.Lock()
	c := p.chans[w.Address.StringRaw()]
	p.mu.Unlock()
	if c == nil {
		return nil, errors.New("no payment channel with this worker")
	}
	select {
	case <-c.open:
	default:
		return nil, nil // still opening: a later voucher covers this
	}
	st, err := p.Payer.SignVoucher(c.id, total)
	if errors.Is(err, channel.ErrOverDeposit) {
		p.wallet.Lock()
		_, terr := p.Payer.TopUp(ctx, c.id, p.Deposit)
		p.wallet.Unlock()
		if terr != nil {
			return nil, fmt.Errorf("topping up channel %s: %w", c.id, terr)
		}
		st, err = p.Payer.SignVoucher(c.id, total)
	}
	if err != nil {
		return nil, err
	}
	go p.topUpIfLow(c)
	return []byte(st.String()), nil
}

// topUpIfLow runs the payer's top-up policy, one at a time per channel.
func (p *ChannelPayer) topUpIfLow(c *payChannel) {
	if !c.topUp.TryLock() {
		return
	}
	defer c.topUp.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	p.wallet.Lock()
	did, err := p.Payer.TopUpIfLow(ctx, c.id)
	p.wallet.Unlock()
	if err != nil {
		p.log().Warn("top-up failed", "channel", c.id.String(), "error", err)
	} else if did {
		p.log().Info("channel topped up", "channel", c.id.String())
	}
}

// TopUpFor implements DepositToppingPayer: one Deposit more on the channel
// with w, unless a top-up of it is already running.
func (p *ChannelPayer) TopUpFor(ctx context.Context, w *client.Worker) error {
	p.mu.Lock()
	c := p.chans[w.Address.StringRaw()]
	p.mu.Unlock()
	if c == nil {
		return errors.New("no payment channel with this worker")
	}
	select {
	case <-c.open:
	default:
		return nil // still opening: its deposit is on the way
	}
	if !c.topUp.TryLock() {
		return nil
	}
	defer c.topUp.Unlock()
	p.wallet.Lock()
	_, err := p.Payer.TopUp(ctx, c.id, p.Deposit)
	p.wallet.Unlock()
	if err != nil {
		return fmt.Errorf("topping up channel %s: %w", c.id, err)
	}
	p.log().Info("channel topped up: the worker asked for more deposit", "channel", c.id.String(), "added_nanoton", p.Deposit.String())
	return nil
}

// Close implements Payer: with CloseOnShutdown, every open channel is
// closed cooperatively (the worker approves the last voucher; its earnings and the
// payer's rest are paid out on chain).
func (p *ChannelPayer) Close(ctx context.Context) error {
	if !p.CloseOnShutdown {
		return nil
	}
	p.mu.Lock()
	chans := make([]*payChannel, 0, len(p.chans))
	for _, c := range p.chans {
		chans = append(chans, c)
	}
	p.mu.Unlock()
	var errs []error
	for _, c := range chans {
		select {
		case <-c.open:
		default:
			continue
		}
		p.wallet.Lock()
		_, err := p.Payer.Close(ctx, c.id, c.peer)
		p.wallet.Unlock()
		if err != nil {
			owed := "?"
			if rec, gerr := p.Store.Get(c.id); gerr == nil {
				owed = tonamount.Format(new(big.Int).Sub(rec.Sent(), rec.Withdrawn))
			}
			errs = append(errs, fmt.Errorf("closing channel %s (still open; the worker is owed %s TON by its vouchers): %w", c.id, owed, err))
			continue
		}
		p.log().Info("payment channel closed", "channel", c.id.String())
	}
	// Channels kept from earlier runs whose worker this run never found
	// stay open: say which.
	recs, err := p.Store.List()
	if err != nil {
		errs = append(errs, fmt.Errorf("listing the channels: %w", err))
	}
	for _, r := range recs {
		if r.Role != channel.RolePayer || r.Phase != channel.PhaseOpen {
			continue
		}
		known := false
		for _, c := range chans {
			known = known || c.id == r.Terms.ID
		}
		if !known {
			errs = append(errs, fmt.Errorf("channel %s (worker key %x) not closed: its worker was not found this run; close it with cocoon channel close --peer URL, or alone with --force",
				r.Terms.ID, []byte(r.Terms.PayeeKey)[:8]))
		}
	}
	return errors.Join(errs...)
}
