package worker

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"sync"
	"time"

	"github.com/xssnick/tonutils-go/address"

	"github.com/cocoon-network/cocoon/offchain/onlineproto"
)

// VoucherVerifier is the worker's side of a payment scheme: it checks a
// voucher a payer sent and says what cumulative amount (nanoton) it pays
// this worker. Vouchers are cumulative: a newer one replaces an older.
// The payment channels of docs/CHANNELS.md are to implement it; IOUVerifier
// is the scheme used until they are wired in.
type VoucherVerifier interface {
	// Scheme names the scheme, for /healthz and logs.
	Scheme() string
	// Verify checks voucher from payer and returns the amount it pays.
	Verify(ctx context.Context, payer string, voucher []byte) (*big.Int, error)
}

// PayerChecker is implemented by schemes that admit only some payers
// (payment channels: only a channel open on chain); the worker asks it
// before it grants a payer credit.
type PayerChecker interface {
	CheckPayer(ctx context.Context, payer string) error
}

// VoucherHolder is implemented by schemes whose vouchers the worker keeps
// (payment channels): POST /v1/vouchers answers the held one too, so that
// a payer that lost its newest copy never signs below it.
type VoucherHolder interface {
	Held(payer string) (voucher string, ok bool)
}

// PayerCeiling is implemented by schemes whose payers can pay at most a
// known total: a payment channel's deposit. Credit is never extended past
// it, so a channel funded with 1 nanoton buys nothing (issue 18).
type PayerCeiling interface {
	// Ceiling is the most payer can ever pay in total, as last read; with
	// fresh it is read from the chain first (at most every few seconds a
	// channel).
	Ceiling(ctx context.Context, payer string, fresh bool) (*big.Int, error)
}

// ErrInsufficientCredit is returned by Ledger.Reserve when serving the
// request would leave the payer owing more than its credit.
var ErrInsufficientCredit = errors.New("payer's unpaid usage would exceed its credit")

// ErrOverCeiling is returned by Ledger.Reserve when what the payer was
// charged, plus what its running requests and this one may cost, would
// exceed what it can ever pay (its channel's deposit).
var ErrOverCeiling = errors.New("payer's charges would exceed its channel's deposit")

// Ledger keeps, per payer, what the worker has charged, what the payer's
// vouchers cover, and what running requests may still cost. It bounds the
// worker's exposure to any one payer: charged + reserved − paid never
// exceeds Credit when a request is admitted, so the most a payer can walk
// away with is Credit plus what a voucher-less failure mid-request costs
// (nothing: reserved is released unpaid). With a LedgerStore (Persist)
// the accounts are written behind every change and flushed when the store
// is detached, so a restart resumes each account where it was and the
// bound holds across restarts; a crash loses only the changes of the last
// write (milliseconds). A payer the store has never seen starts at its
// first voucher (charged = paid), as every payer did when accounts were
// kept only in memory.
type Ledger struct {
	Credit *big.Int

	mu    sync.Mutex
	accts map[string]*account
	// store and its writer (online_ledger.go); nil: accounts in memory only.
	store  *LedgerStore
	writer *ledgerWriter
}

type account struct {
	charged, paid, reserved *big.Int
	// known: the account was restored or charged, so a first voucher does
	// not reset it.
	known bool
}

// NewLedger returns a ledger granting each payer credit nanoton.
func NewLedger(credit *big.Int) *Ledger {
	return &Ledger{Credit: new(big.Int).Set(credit), accts: map[string]*account{}}
}

// acct returns payer's account, restoring it from the store; l.mu held.
// A store that cannot be read restores nothing: the account then starts at
// the payer's next voucher, as without a store.
func (l *Ledger) acct(payer string) *account {
	a, ok := l.accts[payer]
	if !ok {
		a = &account{charged: new(big.Int), paid: new(big.Int), reserved: new(big.Int)}
		if l.store != nil {
			if charged, paid, found, err := l.store.load(payer); err == nil && found {
				a.charged, a.paid, a.known = charged, paid, true
			}
		}
		l.accts[payer] = a
	}
	return a
}

// Paid records a verified voucher amount and returns what it added to the
// payer's account; lower amounts than one already seen change nothing
// (vouchers are cumulative).
func (l *Ledger) Paid(payer string, amount *big.Int) *big.Int {
	l.mu.Lock()
	defer l.mu.Unlock()
	a := l.acct(payer)
	if !a.known && a.charged.Sign() == 0 && a.paid.Sign() == 0 {
		// First sight of this payer since the worker started: its account
		// begins where its vouchers are; they pay for nothing charged here.
		a.charged.Set(amount)
		a.paid.Set(amount)
		l.changed(payer)
		return new(big.Int)
	}
	if amount.Cmp(a.paid) <= 0 {
		return new(big.Int)
	}
	added := new(big.Int).Sub(amount, a.paid)
	a.paid.Set(amount)
	l.changed(payer)
	return added
}

// Reserve admits a request that may cost up to maxCost, or refuses it with
// ErrInsufficientCredit, or ErrOverCeiling when ceiling (nil: none) is what
// the payer can ever pay and charged + reserved + maxCost would pass it.
// Release or Charge must follow.
func (l *Ledger) Reserve(payer string, maxCost, ceiling *big.Int) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	a := l.acct(payer)
	total := new(big.Int).Add(a.charged, a.reserved)
	total.Add(total, maxCost)
	if ceiling != nil && total.Cmp(ceiling) > 0 {
		return ErrOverCeiling
	}
	if new(big.Int).Sub(total, a.paid).Cmp(l.Credit) > 0 {
		return ErrInsufficientCredit
	}
	a.reserved.Add(a.reserved, maxCost)
	return nil
}

// Reserved reports what a payer's running requests may still cost.
func (l *Ledger) Reserved(payer string) *big.Int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return new(big.Int).Set(l.acct(payer).reserved)
}

// Charge settles a reservation at cost and returns the payer's new total.
func (l *Ledger) Charge(payer string, reserved, cost *big.Int) *big.Int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.charge(payer, reserved, cost)
}

// charge is Charge with l.mu held.
func (l *Ledger) charge(payer string, reserved, cost *big.Int) *big.Int {
	a := l.acct(payer)
	a.reserved.Sub(a.reserved, reserved)
	a.charged.Add(a.charged, cost)
	a.known = true
	l.changed(payer)
	return new(big.Int).Set(a.charged)
}

// ChargeSigned charges like Charge and signs the receipt of the charge
// (sign gets the payer's new total) in the same step: with a store, the
// receipt is written in the same transaction as the account, so a worker
// that crashes has either both (and a payer that missed the receipt can
// still fetch it, GET /v1/receipts/{id}) or neither.
func (l *Ledger) ChargeSigned(payer, reqID string, reserved, cost *big.Int, sign func(total *big.Int) (*onlineproto.SignedUsage, error)) (*onlineproto.SignedUsage, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	su, err := sign(l.charge(payer, reserved, cost))
	if err == nil && l.writer != nil {
		l.writer.receipts = append(l.writer.receipts, storedReceipt{Key: receiptKey(payer, reqID), At: time.Now().UnixNano(), Usage: su})
	}
	return su, err
}

// StoredReceipt reads a receipt ChargeSigned wrote (after a restart, when
// the in-memory box no longer has it); ok is false without one.
func (l *Ledger) StoredReceipt(payer, reqID string) (*onlineproto.SignedUsage, bool) {
	l.mu.Lock()
	s := l.store
	l.mu.Unlock()
	if s == nil {
		return nil, false
	}
	return s.receipt(receiptKey(payer, reqID))
}

// Release drops a reservation unpaid (the request failed before usage).
func (l *Ledger) Release(payer string, reserved *big.Int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	a := l.acct(payer)
	a.reserved.Sub(a.reserved, reserved)
}

// Balance reports a payer's charged and paid totals.
func (l *Ledger) Balance(payer string) (charged, paid *big.Int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	a := l.acct(payer)
	return new(big.Int).Set(a.charged), new(big.Int).Set(a.paid)
}

// IOUVerifier verifies IOUs addressed to one worker.
type IOUVerifier struct {
	Worker *address.Address
}

// Scheme implements VoucherVerifier.
func (v *IOUVerifier) Scheme() string { return onlineproto.IOUScheme }

// Verify implements VoucherVerifier: payer is the hex Ed25519 key.
func (v *IOUVerifier) Verify(_ context.Context, payer string, voucher []byte) (*big.Int, error) {
	iou, err := onlineproto.ParseIOU(voucher)
	if err != nil {
		return nil, err
	}
	if hex.EncodeToString(iou.Payer) != payer {
		return nil, errors.New("iou: signed by another key than the payer's")
	}
	if !iou.Worker.Equals(v.Worker) {
		return nil, fmt.Errorf("iou: addressed to worker %s, not this one", iou.Worker)
	}
	if err := iou.CheckSignature(); err != nil {
		return nil, err
	}
	return iou.Amount, nil
}
