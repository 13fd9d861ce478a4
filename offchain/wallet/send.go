package wallet

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"time"

	"github.com/xssnick/tonutils-go/address"
	"github.com/xssnick/tonutils-go/tlb"
	tonwallet "github.com/xssnick/tonutils-go/ton/wallet"
	"github.com/xssnick/tonutils-go/tvm/cell"

	"github.com/cocoon-network/cocoon/offchain/chain"
	"github.com/cocoon-network/cocoon/offchain/tonamount"
)

// Defaults of a Wallet; each can be changed with an Option.
const (
	DefaultWaitTimeout  = 60 * time.Second
	DefaultPollInterval = time.Second
	// DefaultMessageTTL is how long a signed message stays valid. It matches
	// DefaultWaitTimeout so that a message not seen included by the time
	// Send gives up can no longer be included later.
	DefaultMessageTTL = 60 * time.Second
)

// Wallet is an unlocked wallet: its key is derived and it can sign. It is
// safe for concurrent use, but concurrent sends race for the same seqno
// and all but one fail.
type Wallet struct {
	file File
	key  ed25519.PrivateKey
	addr *address.Address
	log  *slog.Logger
	wait time.Duration
	poll time.Duration
	ttl  time.Duration
}

// Option configures a Wallet.
type Option func(*Wallet)

// WithLogger sets where progress is logged (at debug level); by default the
// slog default logger at Open time.
func WithLogger(l *slog.Logger) Option {
	return func(w *Wallet) {
		if l != nil {
			w.log = l
		}
	}
}

// WithWaitTimeout bounds how long Send waits for its message to be
// included; the caller's context can cut it shorter.
func WithWaitTimeout(d time.Duration) Option { return func(w *Wallet) { w.wait = d } }

// WithPollInterval sets how often Send looks for its transaction.
func WithPollInterval(d time.Duration) Option { return func(w *Wallet) { w.poll = d } }

// WithMessageTTL sets how long signed messages stay valid.
func WithMessageTTL(d time.Duration) Option { return func(w *Wallet) { w.ttl = d } }

// Open derives the wallet's key and address.
func (f *File) Open(opts ...Option) (*Wallet, error) {
	if err := f.Validate(); err != nil {
		return nil, err
	}
	key, err := f.PrivateKey()
	if err != nil {
		return nil, err
	}
	addr, err := f.Address()
	if err != nil {
		return nil, err
	}
	w := &Wallet{
		file: File{Version: f.Version, NetworkGlobalID: f.NetworkGlobalID, Workchain: f.Workchain},
		key:  key,
		addr: addr,
		log:  slog.Default(),
		wait: DefaultWaitTimeout,
		poll: DefaultPollInterval,
		ttl:  DefaultMessageTTL,
	}
	for _, o := range opts {
		o(w)
	}
	return w, nil
}

// Address returns the wallet's address (bounceable form).
func (w *Wallet) Address() *address.Address { return w.addr.Copy() }

// PublicKey returns the wallet's public key.
func (w *Wallet) PublicKey() ed25519.PublicKey { return w.key.Public().(ed25519.PublicKey) }

// Version returns the wallet contract version.
func (w *Wallet) Version() Version { return w.file.Version }

// StateInit returns the code and initial data that deploy the wallet.
func (w *Wallet) StateInit() (*tlb.StateInit, error) {
	cfg, err := w.file.versionConfig()
	if err != nil {
		return nil, err
	}
	si, err := tonwallet.GetStateInit(w.PublicKey(), cfg, w.file.subwallet())
	if err != nil {
		return nil, fmt.Errorf("building state init of %s wallet: %w", w.file.Version, err)
	}
	return si, nil
}

// BuildTransfer describes a plain transfer, optionally with a text comment.
// Fees are paid on top of amount, and a failed transfer does not fail the
// whole wallet transaction (mode 3, what wallet apps use).
func BuildTransfer(to *address.Address, amount *big.Int, comment string, bounce bool) (*tonwallet.Message, error) {
	if amount == nil || amount.Sign() < 0 {
		return nil, fmt.Errorf("transfer amount %v is negative", amount)
	}
	coins, err := tlb.FromNano(amount, tonamount.Decimals)
	if err != nil {
		return nil, fmt.Errorf("transfer amount %s: %w", amount, err)
	}
	var body *cell.Cell
	if comment != "" {
		if body, err = tonwallet.CreateCommentCell(comment); err != nil {
			return nil, fmt.Errorf("building comment: %w", err)
		}
	}
	return &tonwallet.Message{
		Mode: tonwallet.PayGasSeparately + tonwallet.IgnoreErrors,
		InternalMessage: &tlb.InternalMessage{
			IHRDisabled: true,
			Bounce:      bounce,
			DstAddr:     to,
			Amount:      coins,
			Body:        body,
		},
	}, nil
}

// BuildExternal signs msgs into an external message for the wallet with the
// given seqno, including the StateInit when deploy is set (the first
// message of a wallet must deploy it, with seqno 0). It needs no network.
func (w *Wallet) BuildExternal(ctx context.Context, seqno uint32, deploy bool, msgs ...*tonwallet.Message) (*tlb.ExternalMessage, error) {
	return w.buildExternal(ctx, seqno, deploy, 0, msgs...)
}

// buildExternal signs with a validity that lasts the wallet's TTL past the
// chain's time, which runs ahead of the wall clock by ahead (a devnet whose
// clock tests moved forward).
func (w *Wallet) buildExternal(ctx context.Context, seqno uint32, deploy bool, ahead time.Duration, msgs ...*tonwallet.Message) (*tlb.ExternalMessage, error) {
	if len(msgs) == 0 {
		return nil, errors.New("building external message: no messages to send")
	}
	cfg, err := w.file.versionConfig()
	if err != nil {
		return nil, err
	}
	// tonutils-go's Wallet only needs its TonAPI to look up the seqno and the
	// deployment state; both are supplied here, so it is built without one.
	// A fresh instance per message keeps the seqno fetcher free of races.
	tw, err := tonwallet.FromPrivateKeyWithOptions(w.key, cfg, tonwallet.WithWorkchain(w.file.Workchain))
	if err != nil {
		return nil, fmt.Errorf("initialising %s wallet: %w", w.file.Version, err)
	}
	spec, isRegular := tw.GetSpec().(interface {
		SetSeqnoFetcher(func(context.Context, uint32) (uint32, error))
		SetMessagesTTL(uint32)
	})
	if !isRegular {
		return nil, fmt.Errorf("%s wallet spec %T does not take a seqno", w.file.Version, tw.GetSpec())
	}
	spec.SetSeqnoFetcher(func(context.Context, uint32) (uint32, error) { return seqno, nil })
	spec.SetMessagesTTL(uint32((max(w.ttl, time.Second) + max(ahead, 0)) / time.Second))
	ext, err := tw.PrepareExternalMessageForMany(ctx, deploy, msgs)
	if err != nil {
		return nil, fmt.Errorf("building external message of %s wallet: %w", w.file.Version, err)
	}
	if !ext.DstAddr.Equals(w.addr) {
		// Should the derivations ever drift apart, funds would go to a
		// wallet nobody signs for; refuse rather than send.
		return nil, fmt.Errorf("internal error: tonutils-go derived %s, this wallet is %s", ext.DstAddr, w.addr)
	}
	return ext, nil
}

// SerializeExternal returns the message cell of ext and its BOC.
func SerializeExternal(ext *tlb.ExternalMessage) (*cell.Cell, []byte, error) {
	c, err := tlb.ToCell(ext)
	if err != nil {
		return nil, nil, fmt.Errorf("serializing external message: %w", err)
	}
	return c, c.ToBOCWithFlags(false), nil
}

// Transfer sends amount nanoton to to, with an optional comment, and waits
// for the wallet's transaction (see Send).
func (w *Wallet) Transfer(ctx context.Context, net chain.Network, to *address.Address, amount *big.Int, comment string, bounce bool) (*chain.Transaction, error) {
	msg, err := BuildTransfer(to, amount, comment, bounce)
	if err != nil {
		return nil, err
	}
	acc, err := w.CheckBalance(ctx, net, amount)
	if err != nil {
		return nil, err
	}
	return w.send(ctx, net, acc, msg)
}

// CheckBalance reads the wallet's account and refuses an amount over its
// balance before anything is sent: with mode 3 the wallet would accept the
// message, pay for it and then skip the transfer. An undeployed wallet
// without funds passes, to get send's more helpful error.
func (w *Wallet) CheckBalance(ctx context.Context, net chain.Network, amount *big.Int) (*chain.Account, error) {
	acc, err := net.Account(ctx, w.addr)
	if err != nil {
		return nil, err
	}
	if acc.Balance.Cmp(amount) < 0 && (acc.Status == chain.StatusActive || acc.Balance.Sign() > 0) {
		return nil, fmt.Errorf("wallet %s has %s TON, less than the %s TON to send", w.addr, tonamount.Format(acc.Balance), tonamount.Format(amount))
	}
	return acc, nil
}

// Send signs msgs with the wallet's current seqno, submits them and waits
// until the wallet's transaction for them appears, which it returns. If
// the transaction shows the wallet did not carry the messages out (the
// compute or action phase failed, or an action was skipped) the
// transaction is returned together with a *TxError.
func (w *Wallet) Send(ctx context.Context, net chain.Network, msgs ...*tonwallet.Message) (*chain.Transaction, error) {
	acc, err := net.Account(ctx, w.addr)
	if err != nil {
		return nil, err
	}
	return w.send(ctx, net, acc, msgs...)
}

func (w *Wallet) send(ctx context.Context, net chain.Network, acc *chain.Account, msgs ...*tonwallet.Message) (*chain.Transaction, error) {
	var (
		seqno  uint32
		deploy bool
	)
	switch acc.Status {
	case chain.StatusActive:
		s, err := w.seqno(ctx, net)
		if err != nil {
			return nil, err
		}
		seqno = s
	case chain.StatusUninit, chain.StatusNonexist:
		if acc.Balance.Sign() == 0 {
			return nil, fmt.Errorf("wallet %s is not deployed and has no funds; send TON to its non-bounceable address %s first",
				w.addr, w.addr.Bounce(false))
		}
		deploy = true
	default:
		return nil, fmt.Errorf("wallet %s is %s and cannot send", w.addr, acc.Status)
	}

	var ahead time.Duration
	if info, err := net.MasterchainInfo(ctx); err == nil && info.Time > 0 {
		ahead = time.Until(time.Unix(int64(info.Time), 0))
	}
	ext, err := w.buildExternal(ctx, seqno, deploy, ahead, msgs...)
	if err != nil {
		return nil, err
	}
	msgCell, boc, err := SerializeExternal(ext)
	if err != nil {
		return nil, err
	}
	hash := msgCell.Hash()
	w.log.DebugContext(ctx, "sending wallet message", "wallet", w.addr.String(), "seqno", seqno, "deploy", deploy, "msg_hash", fmt.Sprintf("%x", hash))
	if _, err := net.SendExternal(ctx, boc); err != nil {
		return nil, fmt.Errorf("sending message %x from wallet %s: %w", hash, w.addr, err)
	}
	tx, err := w.WaitForMessage(ctx, net, hash, acc.LastTx.LT)
	if err != nil {
		return nil, err
	}
	if err := CheckOutcome(tx); err != nil {
		return tx, err
	}
	return tx, nil
}

func (w *Wallet) seqno(ctx context.Context, net chain.Network) (uint32, error) {
	res, err := net.RunGetMethod(ctx, w.addr, "seqno")
	if err != nil {
		return 0, fmt.Errorf("fetching seqno of wallet %s: %w", w.addr, err)
	}
	if len(res) == 0 {
		return 0, fmt.Errorf("fetching seqno of wallet %s: empty result", w.addr)
	}
	n, isInt := res[0].(*big.Int)
	if !isInt || n.Sign() < 0 || !n.IsUint64() || n.Uint64() > 1<<32-1 {
		return 0, fmt.Errorf("fetching seqno of wallet %s: got %T %v, want a 32-bit unsigned integer", w.addr, res[0], res[0])
	}
	return uint32(n.Uint64()), nil
}

// WaitForMessage polls the wallet's transactions newer than afterLT until
// one was caused by the inbound message with hash msgHash, and returns it.
// It gives up after the wallet's wait timeout or when ctx ends.
func (w *Wallet) WaitForMessage(ctx context.Context, net chain.Network, msgHash []byte, afterLT uint64) (*chain.Transaction, error) {
	if w.wait > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, w.wait)
		defer cancel()
	}
	start := time.Now()
	tx, err := chain.WaitForInbound(ctx, net, w.addr, msgHash, afterLT, w.poll)
	if err != nil {
		return nil, fmt.Errorf("waiting for wallet %s: %w", w.addr, err)
	}
	w.log.DebugContext(ctx, "wallet transaction found", "lt", tx.ID.LT, "hash", fmt.Sprintf("%x", tx.ID.Hash), "after", time.Since(start))
	return tx, nil
}

// scan looks through the wallet's transactions newer than afterLT, newest
// first, for the one caused by msgHash; it also returns the newest lt seen.

// TxError reports a transaction that ran but did not do what was asked.
type TxError struct {
	Tx     *chain.Transaction
	Reason string
}

func (e *TxError) Error() string {
	return fmt.Sprintf("transaction %x (lt %d) did not carry out the transfer: %s", e.Tx.ID.Hash, e.Tx.ID.LT, e.Reason)
}

// CheckOutcome returns a *TxError if tx's compute or action phase failed
// or skipped actions, which with mode 3 happens silently (e.g. when the
// wallet cannot pay the amount).
func CheckOutcome(tx *chain.Transaction) error {
	if tx.Tx == nil {
		return nil
	}
	var d tlb.TransactionDescriptionOrdinary
	switch v := tx.Tx.Description.(type) {
	case tlb.TransactionDescriptionOrdinary:
		d = v
	case *tlb.TransactionDescriptionOrdinary:
		d = *v
	default:
		return nil
	}
	fail := func(format string, args ...any) error {
		return &TxError{Tx: tx, Reason: fmt.Sprintf(format, args...)}
	}
	switch p := d.ComputePhase.Phase.(type) {
	case tlb.ComputePhaseSkipped:
		return fail("compute phase skipped (%s)", p.Reason.Type)
	case tlb.ComputePhaseVM:
		if !p.Success {
			return fail("compute phase failed with exit code %d", p.Details.ExitCode)
		}
	}
	if a := d.ActionPhase; a != nil {
		if !a.Success {
			return fail("action phase failed with result code %d", a.ResultCode)
		}
		if a.SkippedActions > 0 {
			return fail("%d of %d actions skipped (not enough balance?)", a.SkippedActions, a.TotalActions)
		}
	}
	if d.Aborted {
		return fail("transaction aborted")
	}
	return nil
}
