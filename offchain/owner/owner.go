// Package owner is the worker owner's cold-wallet tooling: it registers a
// Worker contract with stake and later updates, tops up, unbonds and
// withdraws it, each a message from the owner's wallet checked against the
// Worker's transaction. It is not the worker daemon (package worker), which
// never holds the owner's wallet.
package owner

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/xssnick/tonutils-go/address"
	"github.com/xssnick/tonutils-go/tlb"
	tonwallet "github.com/xssnick/tonutils-go/ton/wallet"
	"github.com/xssnick/tonutils-go/tvm/cell"

	"github.com/cocoon-network/cocoon/bindings"
	"github.com/cocoon-network/cocoon/offchain/chain"
	"github.com/cocoon-network/cocoon/offchain/chain/readers"
	"github.com/cocoon-network/cocoon/offchain/tonamount"
	"github.com/cocoon-network/cocoon/offchain/wallet"
)

// OpValue is attached to owner operations (top-up excepted), in nanoton;
// the Worker keeps its gas and returns the rest.
const OpValue = 50_000_000

// Registration is what a worker registers with: the inputs of its Worker
// contract's address and the profile Root checks (worker.Registration
// builds it from a worker's config and keys).
type Registration struct {
	Root    *address.Address
	Owner   *address.Address // must be the owner wallet's address
	SignKey ed25519.PublicKey
	Profile bindings.WorkerProfile
}

// Worker is a Worker contract as its owner acts on it: every operation is
// a message from the owner's wallet.
type Worker struct {
	Net     chain.Network
	Wallet  *wallet.Wallet
	Address *address.Address
}

// Register deploys the Worker contract with stake and waits for Root's
// answer: it returns once the worker is active, or with Root's reason for
// rejecting it (the contract then returned all funds to the owner).
func Register(ctx context.Context, net chain.Network, ownerWallet *wallet.Wallet, r Registration, stake *big.Int) (*readers.WorkerDataView, error) {
	if r.Root == nil {
		return nil, errors.New("registration names no Root")
	}
	if len(r.SignKey) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("registration's signing key has %d bytes, want %d", len(r.SignKey), ed25519.PublicKeySize)
	}
	if r.Owner == nil || !r.Owner.Equals(ownerWallet.Address()) {
		return nil, fmt.Errorf("the config's owner is %s but the wallet is %s", r.Owner, ownerWallet.Address())
	}
	si, err := bindings.WorkerStateInit(r.Root, r.Owner, bindings.PublicKey256(r.SignKey))
	if err != nil {
		return nil, err
	}
	self := bindings.StateInitAddress(si)
	if v, err := readers.NewWorker(net, self).WorkerData(ctx); err == nil && v.Deployed {
		return v, fmt.Errorf("worker %s is already registered (status %s)", self, v.Status)
	}
	agreed, err := agreedTerms(ctx, net, r.Root)
	if err != nil {
		return nil, err
	}
	// Root would refuse a stake below its minimum (ERR_STAKE_TOO_LOW) after
	// the owner paid the round trip: say the numbers before sending.
	if p, err := readers.NewRoot(net, r.Root).GetRootParams(ctx); err == nil && stake.Cmp(p.MinWorkerStake) < 0 {
		return nil, fmt.Errorf("stake %s TON is below Root's minimum worker stake of %s TON (the owner wallet needs the stake plus %s TON for the registration's fees)",
			tonamount.Format(stake), tonamount.Format(p.MinWorkerStake), tonamount.Format(big.NewInt(bindings.WorkerRegisterFee)))
	}
	body, err := bindings.Encode(bindings.WorkerRegister{QueryID: queryID(), Profile: r.Profile, Agreed: agreed})
	if err != nil {
		return nil, err
	}
	// The Worker keeps bindings.WorkerRegisterFee for the register → Root →
	// Activate round trip; the rest is stake.
	value := new(big.Int).Add(stake, big.NewInt(bindings.WorkerRegisterFee))
	o := &Worker{Net: net, Wallet: ownerWallet, Address: self}
	if err := o.send(ctx, value, body, si); err != nil {
		return nil, err
	}
	return o.waitSettled(ctx)
}

// waitSettled waits until the worker is no longer pending: active, or gone
// (rejected: the contract destroys itself and refunds the owner).
func (o *Worker) waitSettled(ctx context.Context) (*readers.WorkerDataView, error) {
	ctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	w := readers.NewWorker(o.Net, o.Address)
	for {
		v, err := w.WorkerData(ctx)
		if err == nil {
			switch {
			case !v.Deployed:
				return v, o.rejection(ctx)
			case v.Status != bindings.WorkerPending:
				return v, nil
			}
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for Root to answer the registration of %s: %w", o.Address, ctx.Err())
		case <-time.After(300 * time.Millisecond):
		}
	}
}

// rejection finds Root's Reject reason in the Worker's last transactions.
func (o *Worker) rejection(ctx context.Context) error {
	txs, err := o.Net.Transactions(ctx, o.Address, chain.TxID{}, 5)
	if err == nil {
		for _, tx := range txs {
			if tx.Tx.IO.In == nil || tx.Tx.IO.In.MsgType != tlb.MsgTypeInternal {
				continue
			}
			m, err := bindings.DecodeBody(tx.Tx.IO.In.AsInternal().Body)
			if rj, ok := m.(*bindings.Reject); err == nil && ok {
				return fmt.Errorf("the Root rejected the worker: %s; the stake was returned to the owner", bindings.ExitCode(rj.Reason))
			}
		}
	}
	return errors.New("the worker contract no longer exists: Root rejected it or it was withdrawn")
}

// TermsChangedError is an update refused because Root's terms are not the
// ones the worker agreed to: the owner must see the changes and agree.
type TermsChangedError struct {
	Changes []string // bindings.AgreedTerms.Changes, registered → Root's
}

func (e *TermsChangedError) Error() string {
	return "Root's terms changed since this worker agreed to them:\n  " + strings.Join(e.Changes, "\n  ") +
		"\nre-register with the terms accepted (cocoon worker update --accept-terms) to agree, or unbond"
}

// Update re-registers with a new profile (new evidence, models, prices or
// endpoint); Root validates it again. The update also renews the
// registration (it lapses after bindings.RegistrationTTL; the daemon renews
// it while the terms stay the same).
//
// Root's owner cannot change the terms for a worker unasked: when Root's
// current params or job code differ from those the worker registered under,
// Update refuses with a *TermsChangedError naming the changes, unless
// acceptTerms, the owner's explicit agreement to them.
func (o *Worker) Update(ctx context.Context, profile bindings.WorkerProfile, acceptTerms bool) (*readers.WorkerDataView, error) {
	d, err := readers.NewWorker(o.Net, o.Address).WorkerData(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading worker %s: %w", o.Address, err)
	}
	if !acceptTerms {
		changes, err := o.TermsChanges(ctx, d.Root)
		if err != nil {
			return nil, err
		}
		if len(changes) > 0 {
			return nil, &TermsChangedError{Changes: changes}
		}
	}
	agreed, err := agreedTerms(ctx, o.Net, d.Root)
	if err != nil {
		return nil, err
	}
	body, err := bindings.Encode(bindings.WorkerUpdate{QueryID: queryID(), Profile: profile, Agreed: agreed})
	if err != nil {
		return nil, err
	}
	if err := o.send(ctx, big.NewInt(OpValue), body, nil); err != nil {
		return nil, err
	}
	return o.waitSettled(ctx)
}

// TermsChanges lists how Root's current terms differ from those the
// worker's registration was activated under (none for a worker never
// activated, or when they are the same).
func (o *Worker) TermsChanges(ctx context.Context, root *address.Address) ([]string, error) {
	registered, err := readers.NewWorker(o.Net, o.Address).RegisteredTerms(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading the terms worker %s registered under: %w", o.Address, err)
	}
	if registered == nil {
		return nil, nil
	}
	current, err := readers.NewRoot(o.Net, root).AgreedTerms(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading Root %s terms: %w", root, err)
	}
	return registered.Changes(current), nil
}

// AgreeAnnounced agrees in advance to the terms Root announced (AgreeTerms),
// so that the daemon's renewal after they apply keeps the worker active.
// It returns the changes agreed to and when they apply; none (and nothing
// sent) when no announced change touches the terms.
func (o *Worker) AgreeAnnounced(ctx context.Context, root *address.Address) ([]string, time.Time, error) {
	announced, at, err := readers.NewRoot(o.Net, root).AnnouncedTerms(ctx)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("reading Root %s announced change: %w", root, err)
	}
	if announced == nil {
		return nil, time.Time{}, nil
	}
	if !bindings.KnownJobCode(announced.JobCodeHash) {
		return nil, at, fmt.Errorf("root %s announced a job code (hash %x) this build does not know: not agreeing to it", root, announced.JobCodeHash)
	}
	current, err := readers.NewRoot(o.Net, root).AgreedTerms(ctx)
	if err != nil {
		return nil, at, fmt.Errorf("reading Root %s terms: %w", root, err)
	}
	h, err := announced.Hash()
	if err != nil {
		return nil, at, err
	}
	if err := o.op(ctx, big.NewInt(OpValue), bindings.AgreeTerms{QueryID: queryID(), Next: h}); err != nil {
		return nil, at, err
	}
	return current.Changes(*announced), at, nil
}

// Renew renews the registration of the worker at addr under exactly the
// profile and terms its owner agreed to: a Renew signed with the worker
// key, paid by payer (the daemon's gas wallet; anyone may pay). It returns
// the registration once the chain shows it renewed, or why not (a Reject
// leaves the worker inactive: a revoked measurement or model, or terms the
// owner did not agree to).
func Renew(ctx context.Context, net chain.Network, payer *wallet.Wallet, addr *address.Address, key ed25519.PrivateKey) (*readers.RegistrationView, error) {
	w := readers.NewWorker(net, addr)
	before, err := w.Registration(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading worker %s registration: %w", addr, err)
	}
	renew, err := bindings.SignRenew(key, addr, before.ValidUntil, queryID())
	if err != nil {
		return nil, err
	}
	body, err := bindings.Encode(renew)
	if err != nil {
		return nil, err
	}
	o := &Worker{Net: net, Wallet: payer, Address: addr}
	if err := o.send(ctx, big.NewInt(bindings.RenewValue), body, nil); err != nil {
		return nil, fmt.Errorf("renewing worker %s: %w", addr, err)
	}
	// Root's answer comes in a later transaction.
	wctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	for {
		after, err := w.Registration(wctx)
		if err == nil && after.PendingQuery == 0 {
			if after.ValidUntil > before.ValidUntil {
				return after, nil
			}
			d, derr := w.WorkerData(wctx)
			if derr == nil && d.Status != bindings.WorkerActive {
				return after, fmt.Errorf("root did not renew worker %s: it is %s now (%s)", addr, d.Status, o.rejection(wctx))
			}
			return after, fmt.Errorf("root did not renew worker %s (its registration is still valid until %s)", addr, time.Unix(int64(after.ValidUntil), 0).UTC().Format(time.RFC3339))
		}
		select {
		case <-wctx.Done():
			return nil, fmt.Errorf("waiting for Root to answer the renewal of %s: %w", addr, wctx.Err())
		case <-time.After(300 * time.Millisecond):
		}
	}
}

// agreedTerms is the AgreedTerms hash of Root's current params and job
// code, which a registration agrees to; a Job code this build does not
// know is refused (the worker would accept offers from its jobs).
func agreedTerms(ctx context.Context, net chain.Network, root *address.Address) ([32]byte, error) {
	t, err := readers.NewRoot(net, root).AgreedTerms(ctx)
	if err != nil {
		return [32]byte{}, fmt.Errorf("reading Root %s terms: %w", root, err)
	}
	if !bindings.KnownJobCode(t.JobCodeHash) {
		return [32]byte{}, fmt.Errorf("root %s holds a job code (hash %x) this build does not know: not registering under it", root, t.JobCodeHash)
	}
	return t.Hash()
}

// TopUp adds stake.
func (o *Worker) TopUp(ctx context.Context, amount *big.Int) error {
	return o.op(ctx, amount, bindings.TopUp{QueryID: queryID()})
}

// RequestUnbond starts the unbonding delay.
func (o *Worker) RequestUnbond(ctx context.Context) error {
	return o.op(ctx, big.NewInt(OpValue), bindings.RequestUnbond{QueryID: queryID()})
}

// Withdraw returns stake and earnings after the unbonding delay; the
// Worker contract is destroyed.
func (o *Worker) Withdraw(ctx context.Context) error {
	return o.op(ctx, big.NewInt(OpValue), bindings.Withdraw{QueryID: queryID()})
}

// WithdrawEarnings pays the earnings out.
func (o *Worker) WithdrawEarnings(ctx context.Context) error {
	return o.op(ctx, big.NewInt(OpValue), bindings.WithdrawEarnings{QueryID: queryID()})
}

func (o *Worker) op(ctx context.Context, value *big.Int, m bindings.Message) error {
	body, err := bindings.Encode(m)
	if err != nil {
		return err
	}
	return o.send(ctx, value, body, nil)
}

// send sends one message from the owner wallet and checks the Worker's
// transaction for it: a refusal is reported by its contract error name.
func (o *Worker) send(ctx context.Context, value *big.Int, body *cell.Cell, si *tlb.StateInit) error {
	// Like wallet send: a value over the owner's balance is refused here,
	// not sent to pay gas and fail.
	if _, err := o.Wallet.CheckBalance(ctx, o.Net, value); err != nil {
		return fmt.Errorf("owner wallet: %w", err)
	}
	before, err := o.Net.Account(ctx, o.Address)
	if err != nil {
		return err
	}
	msg := &tonwallet.Message{
		Mode: tonwallet.PayGasSeparately + tonwallet.IgnoreErrors,
		InternalMessage: &tlb.InternalMessage{
			IHRDisabled: true, Bounce: true, DstAddr: o.Address,
			Amount: tlb.FromNanoTON(value), StateInit: si, Body: body,
		},
	}
	wtx, err := o.Wallet.Send(ctx, o.Net, msg)
	if err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	tx, err := chain.FollowOutbound(wctx, o.Net, wtx, o.Address, before.LastTx.LT, 200*time.Millisecond)
	if err != nil {
		return fmt.Errorf("waiting for the Worker's transaction: %w", err)
	}
	if code, ran := chain.ComputeExitCode(tx); ran && code != 0 && code != 1 {
		return fmt.Errorf("the Worker contract refused: %s (the value was bounced back)", bindings.ExitCode(code))
	}
	return nil
}

func queryID() uint64 {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return binary.BigEndian.Uint64(b[:])
}
