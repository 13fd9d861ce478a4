// Package contracttest runs Cocoon's contracts on an in-process devnet
// engine (the real TVM) for tests, end-to-end tests and measurements: it
// gives funded wallets with fixed keys, sends their messages, produces the
// blocks, and returns every transaction the message caused as a Trace.
//
// Everything is deterministic: the devnet clock is fixed (time moves only
// through AdvanceTime), wallet keys derive from names, and signed messages
// carry no wall-clock time.
package contracttest

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"fmt"
	"math"
	"math/big"
	"testing"
	"time"

	"github.com/xssnick/tonutils-go/address"
	"github.com/xssnick/tonutils-go/tlb"
	tonwallet "github.com/xssnick/tonutils-go/ton/wallet"
	"github.com/xssnick/tonutils-go/tvm/cell"

	"github.com/cocoon-network/cocoon/bindings"
	"github.com/cocoon-network/cocoon/offchain/chain"
	"github.com/cocoon-network/cocoon/offchain/devnet"
)

// Genesis is the devnet time tests start at.
func Genesis() time.Time { return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) }

// globalID is the network id v5r1 wallets sign into messages: the devnet
// runs the embedded mainnet config.
const globalID int32 = -239

// maxSettleBlocks bounds how many blocks one Send may take to settle; a
// message cascade that does not end is a bug worth a clear error.
const maxSettleBlocks = 20

// Env is a devnet with the Cocoon contract codes.
type Env struct {
	Chain *devnet.Engine
	Codes bindings.Codes
}

// Open opens a devnet in dir (created when missing) with the fixed clock at
// Genesis, and loads the embedded contract codes.
func Open(ctx context.Context, dir string) (*Env, error) {
	codes, err := bindings.EmbeddedCodes()
	if err != nil {
		return nil, err
	}
	e, err := devnet.Open(ctx, devnet.Options{Dir: dir, Clock: devnet.FixedClock(Genesis())})
	if err != nil {
		return nil, fmt.Errorf("opening devnet: %w", err)
	}
	return &Env{Chain: e, Codes: codes}, nil
}

// Close closes the devnet.
func (e *Env) Close() error { return e.Chain.Close() }

// Now is the devnet time the next block will carry.
func (e *Env) Now(ctx context.Context) (uint32, error) {
	// The next block's time is the fixed clock moved by AdvanceTime; an
	// empty block makes it the head's time.
	if _, err := e.Chain.ProduceBlock(ctx); err != nil {
		return 0, err
	}
	info, err := e.Chain.MasterchainInfo(ctx)
	if err != nil {
		return 0, err
	}
	return info.Time, nil
}

// AdvanceTime moves the devnet clock by d and produces a block at the new time.
func (e *Env) AdvanceTime(ctx context.Context, d time.Duration) error {
	if err := e.Chain.AdvanceTime(d); err != nil {
		return err
	}
	_, err := e.Chain.ProduceBlock(ctx)
	return err
}

// Fund sends amount nanoton from the devnet faucet to addr and waits for it.
func (e *Env) Fund(ctx context.Context, addr *address.Address, amount *big.Int) error {
	done, err := e.Chain.FaucetAsync(addr, amount)
	if err != nil {
		return err
	}
	if err := e.Chain.Settle(ctx, maxSettleBlocks); err != nil {
		return err
	}
	if r := <-done; r.Err() != nil {
		return fmt.Errorf("funding %s: %w", addr, r.Err())
	}
	return nil
}

// Balance is addr's balance in nanoton (zero for an account that does not exist).
func (e *Env) Balance(ctx context.Context, addr *address.Address) (*big.Int, error) {
	acc, err := e.Chain.Account(ctx, addr)
	if err != nil {
		return nil, err
	}
	return acc.Balance, nil
}

// Status is addr's account status.
func (e *Env) Status(ctx context.Context, addr *address.Address) (chain.AccountStatus, error) {
	acc, err := e.Chain.Account(ctx, addr)
	if err != nil {
		return "", err
	}
	return acc.Status, nil
}

// Wallet is a wallet v5r1 whose key derives from its name.
type Wallet struct {
	Name    string
	Key     ed25519.PrivateKey
	Address *address.Address
	env     *Env
	init    *tlb.StateInit
}

// KeyFor is the fixed Ed25519 key the tests use for name (wallets and worker keys).
func KeyFor(name string) ed25519.PrivateKey {
	seed := sha256.Sum256([]byte("cocoon contracttest key " + name))
	return ed25519.NewKeyFromSeed(seed[:])
}

// NewWallet returns the wallet named name, funded with amount nanoton (when
// positive). It is deployed by its first Send.
func (e *Env) NewWallet(ctx context.Context, name string, amount *big.Int) (*Wallet, error) {
	key := KeyFor("wallet " + name)
	si, err := tonwallet.GetStateInit(key.Public().(ed25519.PublicKey), tonwallet.ConfigV5R1Final{NetworkGlobalID: globalID}, 0)
	if err != nil {
		return nil, fmt.Errorf("wallet %s state init: %w", name, err)
	}
	w := &Wallet{Name: name, Key: key, Address: bindings.StateInitAddress(si), env: e, init: si}
	if amount != nil && amount.Sign() > 0 {
		if err := e.Fund(ctx, w.Address, amount); err != nil {
			return nil, err
		}
	}
	return w, nil
}

func (w *Wallet) String() string { return w.Name + "(" + w.Address.String() + ")" }

// SendMode is the mode of every message a test wallet sends: pay the
// forwarding fees on top of the value, and (as wallet apps do) skip rather
// than fail on an action that cannot be paid; Send reports skipped actions.
const SendMode = tonwallet.PayGasSeparately + tonwallet.IgnoreErrors

// Sign builds the wallet's signed external message carrying msgs, with the
// seqno its account holds now (deploying the wallet when it is not yet).
func (w *Wallet) Sign(ctx context.Context, msgs ...*tlb.InternalMessage) ([]byte, error) {
	if len(msgs) == 0 || len(msgs) > 255 {
		return nil, fmt.Errorf("wallet %s: %d messages, want 1..255", w.Name, len(msgs))
	}
	acc, err := w.env.Chain.Account(ctx, w.Address)
	if err != nil {
		return nil, err
	}
	var seqno uint32
	deploy := acc.Status != chain.StatusActive
	if !deploy {
		res, err := w.env.Chain.RunGetMethod(ctx, w.Address, "seqno")
		if err != nil {
			return nil, fmt.Errorf("seqno of wallet %s: %w", w.Name, err)
		}
		n, ok := res[0].(*big.Int)
		if !ok {
			return nil, fmt.Errorf("seqno of wallet %s: got %T", w.Name, res[0])
		}
		seqno = uint32(n.Uint64())
	}
	// The action list of wallet v5r1: out_list$_ prev:^OutList action, each
	// action_send_msg#0ec3c86d mode:uint8 out_msg:^MessageRelaxed.
	list := cell.BeginCell().EndCell()
	for _, m := range msgs {
		mc, err := tlb.ToCell(m)
		if err != nil {
			return nil, fmt.Errorf("wallet %s: building message to %s: %w", w.Name, m.DstAddr, err)
		}
		list = cell.BeginCell().MustStoreRef(list).
			MustStoreUInt(0x0ec3c86d, 32).MustStoreUInt(uint64(SendMode), 8).MustStoreRef(mc).EndCell()
	}
	id := tonwallet.V5R1ID{NetworkGlobalID: globalID}
	// valid_until is fixed far ahead instead of "now + TTL": the devnet clock
	// is not the wall clock, and a fixed value keeps messages identical
	// between runs. Replays are still refused by the seqno.
	payload := cell.BeginCell().
		MustStoreUInt(0x7369676e, 32).
		MustStoreUInt(uint64(id.Serialized()), 32).
		MustStoreUInt(math.MaxUint32, 32).
		MustStoreUInt(uint64(seqno), 32).
		MustStoreUInt(1, 1).MustStoreRef(list). // Maybe ^OutList
		MustStoreUInt(0, 1).                    // no extended actions
		EndCell()
	sig := ed25519.Sign(w.Key, payload.Hash())
	ext := &tlb.ExternalMessage{
		DstAddr: w.Address,
		Body:    cell.BeginCell().MustStoreBuilder(payload.ToBuilder()).MustStoreSlice(sig, 512).EndCell(),
	}
	if deploy {
		ext.StateInit = w.init
	}
	c, err := tlb.ToCell(ext)
	if err != nil {
		return nil, fmt.Errorf("wallet %s: building external message: %w", w.Name, err)
	}
	return c.ToBOC(), nil
}

// Send signs and submits msgs, produces blocks until everything they
// caused is delivered, and returns the trace. The wallet's own transaction
// must carry out every message (else a *WalletError comes with the trace).
func (w *Wallet) Send(ctx context.Context, msgs ...*tlb.InternalMessage) (*Trace, error) {
	boc, err := w.Sign(ctx, msgs...)
	if err != nil {
		return nil, err
	}
	tr, err := w.env.SendExternal(ctx, boc)
	if err != nil {
		return nil, fmt.Errorf("wallet %s: %w", w.Name, err)
	}
	if err := walletOutcome(tr.Txs[0]); err != nil {
		return tr, fmt.Errorf("wallet %s: %w", w.Name, err)
	}
	return tr, nil
}

// WalletError reports a wallet transaction that did not send all its messages.
type WalletError struct{ Reason string }

func (e *WalletError) Error() string { return "wallet transaction: " + e.Reason }

func walletOutcome(tx *chain.Transaction) error {
	d, ok := tx.Tx.Description.(tlb.TransactionDescriptionOrdinary)
	if !ok {
		return &WalletError{Reason: fmt.Sprintf("unexpected transaction kind %T", tx.Tx.Description)}
	}
	if code, ran := ExitCode(tx); !ran || (code != 0 && code != 1) {
		return &WalletError{Reason: fmt.Sprintf("compute phase exit code %d (ran: %v)", code, ran)}
	}
	if a := d.ActionPhase; a == nil || !a.Success || a.SkippedActions > 0 {
		if a == nil {
			return &WalletError{Reason: "no action phase"}
		}
		return &WalletError{Reason: fmt.Sprintf("action phase result %d, %d of %d actions skipped (not enough balance?)", a.ResultCode, a.SkippedActions, a.TotalActions)}
	}
	return nil
}

// SendExternal submits an external message (a wallet's, or a receipt to a
// Job), settles, and returns the trace starting at the transaction it
// caused. A message the contract refuses returns the devnet's
// *devnet.RejectedError (see RefusalCode) and changes nothing.
func (e *Env) SendExternal(ctx context.Context, boc []byte) (*Trace, error) {
	c, err := cell.FromBOC(boc)
	if err != nil {
		return nil, fmt.Errorf("external message: %w", err)
	}
	var ext tlb.ExternalMessage
	if err := tlb.LoadFromCell(&ext, c.BeginParse()); err != nil {
		return nil, fmt.Errorf("external message: %w", err)
	}
	acc, err := e.Chain.Account(ctx, ext.DstAddr)
	if err != nil {
		return nil, err
	}
	hash, err := e.Chain.SendExternal(ctx, boc)
	if err != nil {
		return nil, err
	}
	if err := e.Chain.Settle(ctx, maxSettleBlocks); err != nil {
		return nil, err
	}
	root, err := e.findTx(ctx, ext.DstAddr, hash, acc.LastTx.LT)
	if err != nil {
		return nil, err
	}
	return e.trace(ctx, root)
}

// RefusalCode is the exit code of an external message the devnet refused,
// and whether err is such a refusal with a code.
func RefusalCode(err error) (bindings.ExitCode, bool) {
	var rej *devnet.RejectedError
	if errors.As(err, &rej) && rej.ExitCode != nil {
		return bindings.ExitCode(*rej.ExitCode), true
	}
	return 0, false
}

// ---- message builders ----------------------------------------------------------

// Message is a bounceable internal message carrying value and body.
func Message(to *address.Address, value *big.Int, body *cell.Cell) *tlb.InternalMessage {
	if body == nil {
		body = cell.BeginCell().EndCell()
	}
	return &tlb.InternalMessage{IHRDisabled: true, Bounce: true, DstAddr: to, Amount: tlb.FromNanoTON(value), Body: body}
}

// Deploy is a bounceable internal message that deploys si with body: when
// the contract refuses, the value comes back and nothing is deployed.
func Deploy(si *tlb.StateInit, value *big.Int, body *cell.Cell) *tlb.InternalMessage {
	m := Message(bindings.StateInitAddress(si), value, body)
	m.StateInit = si
	return m
}

// Body builds a message body, panicking on an error: test inputs are constants.
func Body(m bindings.Message) *cell.Cell { return bindings.MustCell(bindings.Encode(m)) }

// TON converts a decimal amount of Toncoin to nanoton ("1.5" → 1500000000).
func TON(s string) *big.Int {
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		panic("contracttest: bad TON amount " + s)
	}
	r.Mul(r, big.NewRat(1_000_000_000, 1))
	if !r.IsInt() {
		panic("contracttest: TON amount below a nanoton: " + s)
	}
	return new(big.Int).Set(r.Num())
}

// NewT opens an Env for a test in its temporary directory; failures are fatal.
func NewT(t testing.TB) *Env {
	t.Helper()
	e, err := Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}
