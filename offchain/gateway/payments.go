package gateway

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"sync"
	"time"

	"github.com/cocoon-network/cocoon/bindings"
	"github.com/cocoon-network/cocoon/offchain/onlineproto"
)

// payments keeps what the gateway owes and has paid each worker, and the
// budget. Vouchers are cumulative per worker address, so the account
// outlives an upstream (re-attestation, re-discovery).
type payments struct {
	journal *journal // nil without Config.Journal
	payer   Payer
	budget  *big.Int
	metrics *metrics
	log     *slog.Logger

	mu       sync.Mutex
	spent    *big.Int
	reserved *big.Int
	accts    map[string]*payAccount
}

type payAccount struct {
	mu       sync.Mutex
	payer    string   // what the worker knows the payer by
	paid     *big.Int // cumulative amount owed (proven by receipts)
	voucher  []byte   // the latest voucher
	covered  *big.Int // what it pays; below paid while a channel opens
	worker   *upstream
	sentPaid *big.Int // amount of the latest voucher posted on its own
	resumed  bool     // paid continues from what earlier runs signed (ResumingPayer)
	sending  bool
	timer    *time.Timer // a delivery scheduled after deliverDelay
	// reported is what the worker last said it charged this payer in all
	// (its answer to POST /v1/vouchers), at reportedAt: above paid when
	// receipts the gateway never got (an abandoned stream whose receipt
	// could not be fetched) proved charges it does not know of.
	reported   *big.Int
	reportedAt time.Time
}

// reportEvery is how often the gateway asks each worker it pays what it
// charged (one small request; deliveries refresh it too).
const reportEvery = 30 * time.Second

// noteReport records the worker's answer about its account; a.mu held.
func (a *payAccount) noteReport(ans *voucherAnswer, at time.Time) {
	if c, ok := new(big.Int).SetString(ans.Charged, 10); ok && c.Sign() >= 0 {
		a.reported, a.reportedAt = c, at
	}
}

// newPayments starts the accounts; with a ResumingPayer the spend (and so
// the budget) continues from what earlier runs signed.
func newPayments(p Payer, budget *big.Int, m *metrics, log *slog.Logger) (*payments, error) {
	spent := new(big.Int)
	if rp, ok := p.(ResumingPayer); ok {
		var err error
		if spent, err = rp.SpentBefore(); err != nil {
			return nil, fmt.Errorf("gateway: reading what earlier runs paid: %w", err)
		}
	}
	return &payments{payer: p, budget: budget, metrics: m, log: log, spent: spent, reserved: new(big.Int), accts: map[string]*payAccount{}}, nil
}

func (p *payments) acct(addr string) *payAccount {
	p.mu.Lock()
	defer p.mu.Unlock()
	a, ok := p.accts[addr]
	if !ok {
		a = &payAccount{paid: new(big.Int), covered: new(big.Int), sentPaid: new(big.Int)}
		p.accts[addr] = a
	}
	return a
}

func (p *payments) spentTotal() *big.Int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return new(big.Int).Set(p.spent)
}

// errBudget: the request could cost more than the budget has left.
var errBudget = errors.New("the gateway's budget is spent")

// reserve holds maxCost of the budget for a running attempt.
func (p *payments) reserve(maxCost *big.Int) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.budget != nil {
		need := new(big.Int).Add(p.spent, p.reserved)
		if need.Add(need, maxCost).Cmp(p.budget) > 0 {
			return errBudget
		}
	}
	p.reserved.Add(p.reserved, maxCost)
	return nil
}

func (p *payments) unreserve(maxCost *big.Int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.reserved.Sub(p.reserved, maxCost)
}

// unpaid is what the gateway owes beyond its vouchers, all workers
// together: per worker, beyond the latest voucher, the more of what its
// receipts proved and what the worker reports it charged.
func (p *payments) unpaid() *big.Int {
	p.mu.Lock()
	accts := make([]*payAccount, 0, len(p.accts))
	for _, a := range p.accts {
		accts = append(accts, a)
	}
	p.mu.Unlock()
	sum := new(big.Int)
	for _, a := range accts {
		a.mu.Lock()
		owed := a.paid
		if a.reported != nil && a.reported.Cmp(owed) > 0 {
			owed = a.reported
		}
		if d := new(big.Int).Sub(owed, a.covered); d.Sign() > 0 {
			sum.Add(sum, d)
		}
		a.mu.Unlock()
	}
	return sum
}

// receiptCheck is the outcome of checking a usage receipt.
type receiptCheck struct {
	pay    *big.Int // what the receipt proves is owed
	in     uint32
	out    uint32
	reason string // why the worker must be dropped ("" when it behaved)
}

// checkReceipt verifies a usage receipt against what the gateway asked
// for. A worker is paid only what its receipt proves: nothing for a bad
// signature or a receipt for another request, payer or worker; the
// allowed share for a receipt claiming more tokens than the request
// allowed or a cost other than its registered price gives.
func checkReceipt(su *onlineproto.SignedUsage, u *upstream, payerID, reqID string, req *request) receiptCheck {
	if su == nil {
		return receiptCheck{pay: new(big.Int), reason: "no_receipt"}
	}
	us, err := su.Open(ed25519.PublicKey(u.w.WorkerKey))
	if err != nil {
		return receiptCheck{pay: new(big.Int), reason: "bad_signature"}
	}
	if us.Worker != u.key() || us.Payer != payerID || us.RequestID != reqID || us.Model != req.model || us.MaxTokens != req.maxTokens {
		return receiptCheck{pay: new(big.Int), reason: "wrong_receipt"}
	}
	in, out := min(us.InputTokens, req.inBound), min(us.OutputTokens, req.maxTokens)
	proven := bindings.Charge(u.w.Price.PriceIn, u.w.Price.PriceOut, in, out)
	rc := receiptCheck{pay: proven, in: in, out: out}
	cost, _ := us.CostNano()
	switch {
	case us.InputTokens != in || us.OutputTokens != out:
		rc.reason = "overclaim"
	case cost.Cmp(proven) != 0:
		rc.reason = "wrong_cost"
		if cost.Cmp(proven) < 0 {
			rc.pay = cost // it asked for less: pay what it asked
		}
	}
	return rc
}

// pay adds amount to what the gateway owes u and signs a voucher for the
// new total; the worker gets it with the next request and, at once, on
// its own (deliver).
func (p *payments) pay(ctx context.Context, u *upstream, payer, reqID string, amount *big.Int) error {
	a := p.acct(u.key())
	a.mu.Lock()
	a.payer, a.worker = payer, u
	if !a.resumed {
		// Vouchers are cumulative: a channel kept from an earlier run
		// continues from the total signed on it, never below.
		if rp, ok := p.payer.(ResumingPayer); ok {
			promised, err := rp.Promised(u.w)
			if err != nil {
				a.mu.Unlock()
				return fmt.Errorf("reading what worker %s was paid before: %w", u.w.Address, err)
			}
			if promised.Cmp(a.paid) > 0 {
				a.paid.Set(promised)
				a.covered.Set(promised)
			}
		}
		a.resumed = true
	}
	a.paid = new(big.Int).Add(a.paid, amount)
	// Before the voucher: a crash after it is not paid twice (the
	// restarted gateway sees the stored voucher reach this total).
	if jerr := p.journal.paying(reqID, u.key(), a.paid); jerr != nil {
		p.log.Warn("could not journal a payment", "error", jerr)
	}
	err := p.sign(ctx, a)
	a.mu.Unlock()
	p.mu.Lock()
	p.spent.Add(p.spent, amount)
	p.mu.Unlock()
	f, _ := new(big.Float).SetInt(amount).Float64()
	p.metrics.spend.WithLabelValues(u.key()).Add(f)
	p.scheduleDeliver(a, u)
	return err
}

// deliverDelay gathers the vouchers of back-to-back answers into one
// delivery: a voucher per answer, posted at once, was as much work for
// the worker as the answer itself (and a channel voucher costs the worker
// an fsync). The worker's credit covers the delay.
const deliverDelay = 100 * time.Millisecond

// scheduleDeliver delivers a's voucher to u after deliverDelay, once.
func (p *payments) scheduleDeliver(a *payAccount, u *upstream) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.timer != nil {
		return
	}
	a.timer = time.AfterFunc(deliverDelay, func() {
		a.mu.Lock()
		a.timer = nil
		a.mu.Unlock()
		p.deliver(u)
	})
}

// sign signs a voucher for everything owed, if the scheme can now; a.mu held.
func (p *payments) sign(ctx context.Context, a *payAccount) error {
	if a.covered.Cmp(a.paid) >= 0 {
		return nil
	}
	v, err := p.payer.Pay(ctx, a.worker.w, a.paid)
	if err != nil {
		return fmt.Errorf("paying worker %s: %w", a.worker.w.Address, err)
	}
	if v != nil {
		a.voucher, a.covered = v, new(big.Int).Set(a.paid)
	}
	return nil
}

// catchUp signs vouchers for what earlier Pay calls could not cover yet
// (a channel that has opened since) and delivers them.
func (p *payments) catchUp(ctx context.Context) {
	p.mu.Lock()
	accts := make([]*payAccount, 0, len(p.accts))
	for _, a := range p.accts {
		accts = append(accts, a)
	}
	p.mu.Unlock()
	for _, a := range accts {
		a.mu.Lock()
		behind := a.worker != nil && a.covered.Cmp(a.paid) < 0
		if behind {
			if err := p.sign(ctx, a); err != nil {
				p.log.Warn("voucher not signed", "worker", a.worker.w.Address.String(), "error", err)
			}
		}
		u, payer, stale := a.worker, a.payer, a.worker != nil && time.Since(a.reportedAt) > reportEvery
		a.mu.Unlock()
		if behind {
			p.scheduleDeliver(a, u)
		}
		if stale {
			p.askReport(ctx, a, u, payer)
		}
	}
}

// askReport asks the worker what it charged the payer (POST /v1/vouchers
// without a voucher) and records it for unpaid.
func (p *payments) askReport(ctx context.Context, a *payAccount, u *upstream, payer string) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var ans voucherAnswer
	if err := postVoucher(ctx, u.hc, u.base, payer, nil, &ans); err != nil {
		p.log.Debug("could not ask the worker what it charged", "worker", u.w.Address.String(), "error", err)
		return
	}
	a.mu.Lock()
	a.noteReport(&ans, time.Now())
	a.mu.Unlock()
}

// deliver posts the latest voucher to the worker on its own, one post at a
// time per worker, until the worker has the newest.
func (p *payments) deliver(u *upstream) {
	a := p.acct(u.key())
	a.mu.Lock()
	if a.sending {
		a.mu.Unlock()
		return
	}
	a.sending = true
	a.mu.Unlock()
	defer func() {
		a.mu.Lock()
		a.sending = false
		a.mu.Unlock()
	}()
	for range 5 {
		a.mu.Lock()
		v, total, payer := a.voucher, new(big.Int).Set(a.covered), a.payer
		done := v == nil || total.Cmp(a.sentPaid) <= 0
		a.mu.Unlock()
		if done {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := p.post(ctx, u, payer, v)
		cancel()
		if err != nil {
			p.log.Debug("voucher delivery failed; it goes with the next request", "worker", u.w.Address.String(), "error", err)
			return
		}
		a.mu.Lock()
		if total.Cmp(a.sentPaid) > 0 {
			a.sentPaid = total
		}
		a.mu.Unlock()
	}
}

// post delivers voucher v and records the worker's account in its answer.
func (p *payments) post(ctx context.Context, u *upstream, payer string, v []byte) error {
	var ans voucherAnswer
	if err := postVoucher(ctx, u.hc, u.base, payer, v, &ans); err != nil {
		return err
	}
	a := p.acct(u.key())
	a.mu.Lock()
	a.noteReport(&ans, time.Now())
	a.mu.Unlock()
	return nil
}

// voucherAnswer is the worker's answer to POST /v1/vouchers: its account
// of the payer and, with channels, the voucher it holds.
type voucherAnswer struct {
	Charged string `json:"charged"`
	Paid    string `json:"paid"`
	Voucher string `json:"voucher"`
}

// postVoucher sends POST /v1/vouchers to the worker at base as payer, with
// voucher v when not nil, and decodes the worker's answer into ans when
// not nil.
func postVoucher(ctx context.Context, hc *http.Client, base, payer string, v []byte, ans *voucherAnswer) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/v1/vouchers", http.NoBody)
	if err != nil {
		return err
	}
	req.Header.Set("User-Agent", userAgent)
	req.Header.Set(onlineproto.HeaderPayer, payer)
	if v != nil {
		req.Header.Set(onlineproto.HeaderVoucher, onlineproto.EncodeVoucher(v))
	}
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	// Read the answer to its end so the connection is reused.
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("POST /v1/vouchers: HTTP %d", resp.StatusCode)
	}
	if ans != nil {
		if err := json.Unmarshal(body, ans); err != nil {
			return fmt.Errorf("POST /v1/vouchers: %w", err)
		}
	}
	return nil
}

// flush delivers every account's latest voucher (at shutdown).
func (p *payments) flush(ctx context.Context, lookup func(string) *upstream) {
	p.mu.Lock()
	addrs := make([]string, 0, len(p.accts))
	for a := range p.accts {
		addrs = append(addrs, a)
	}
	p.mu.Unlock()
	for _, addr := range addrs {
		u := lookup(addr)
		if u == nil {
			continue
		}
		a := p.acct(addr)
		a.mu.Lock()
		if a.worker != nil {
			if err := p.sign(ctx, a); err != nil {
				p.log.Warn("last voucher not signed", "worker", addr, "error", err)
			}
		}
		v, pending, payer := a.voucher, a.covered.Cmp(a.sentPaid) > 0, a.payer
		a.mu.Unlock()
		if pending && v != nil {
			if err := p.post(ctx, u, payer, v); err != nil {
				p.log.Warn("could not deliver the last voucher", "worker", u.w.Address.String(), "error", err)
			}
		}
	}
}
