// Package operator is what the network's operator does to Root: deploy it,
// change its params and allow-lists, upgrade and hand over. Each operation
// is a message from the operator's wallet; the package waits until Root's
// transaction for it is on chain and reports the outcome in words.
package operator

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/xssnick/tonutils-go/address"
	"github.com/xssnick/tonutils-go/tlb"
	tonwallet "github.com/xssnick/tonutils-go/ton/wallet"
	"github.com/xssnick/tonutils-go/tvm/cell"

	"github.com/cocoon-network/cocoon/bindings"
	"github.com/cocoon-network/cocoon/offchain/chain"
	"github.com/cocoon-network/cocoon/offchain/chain/readers"
	"github.com/cocoon-network/cocoon/offchain/wallet"
)

// Values of Root operations, in nanoton.
const (
	// DefaultOpValue is attached to each owner operation; Root keeps what
	// its gas costs and returns the rest as Excesses.
	DefaultOpValue = 50_000_000 // 0.05 TON
	// DeployValue is what a new Root starts with: enough for years of storage.
	DeployValue = 200_000_000 // 0.2 TON
)

// Operator sends owner operations to one Root.
type Operator struct {
	Net    chain.Network
	Wallet *wallet.Wallet
	Root   *address.Address
	// Wait bounds how long one operation waits for Root's transaction.
	Wait time.Duration
}

// Result is the outcome of one operation.
type Result struct {
	WalletTx *chain.Transaction
	RootTx   *chain.Transaction
	Version  uint32 // Root's version after the operation
}

// RefusedError is Root (or a wallet) refusing an operation with an exit code.
type RefusedError struct {
	Code bindings.ExitCode
	Tx   *chain.Transaction
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("Root refused the operation: %s", e.Code)
}

// Deploy deploys a Root owned by the wallet, with params and the embedded
// contract codes, and waits until it is active.
func Deploy(ctx context.Context, net chain.Network, w *wallet.Wallet, params bindings.RootParams) (*Operator, *Result, error) {
	codes, err := bindings.EmbeddedCodes()
	if err != nil {
		return nil, nil, err
	}
	return DeployCodes(ctx, net, w, params, codes)
}

// DeployCodes is Deploy with the given child codes (for instance
// codes.WithJobLibrary(), once the Job code is a public library).
func DeployCodes(ctx context.Context, net chain.Network, w *wallet.Wallet, params bindings.RootParams, codes bindings.Codes) (*Operator, *Result, error) {
	si, err := bindings.RootStateInit(w.Address(), params, codes)
	if err != nil {
		return nil, nil, fmt.Errorf("building Root's initial state: %w", err)
	}
	root := bindings.StateInitAddress(si)
	op := &Operator{Net: net, Wallet: w, Root: root}
	if acc, err := net.Account(ctx, root); err == nil && acc.Status == chain.StatusActive {
		return nil, nil, fmt.Errorf("a Root with this owner and these params already exists at %s", root)
	}
	msg := &tonwallet.Message{
		Mode: tonwallet.PayGasSeparately + tonwallet.IgnoreErrors,
		InternalMessage: &tlb.InternalMessage{
			IHRDisabled: true,
			Bounce:      false, // a deploy must reach an account that does not exist yet
			DstAddr:     root,
			Amount:      tlb.FromNanoTONU(DeployValue),
			StateInit:   si,
			Body:        cell.BeginCell().EndCell(),
		},
	}
	res, err := op.send(ctx, msg)
	if err != nil {
		return nil, res, fmt.Errorf("deploying Root: %w", err)
	}
	acc, err := net.Account(ctx, root)
	if err != nil {
		return nil, res, err
	}
	if acc.Status != chain.StatusActive {
		if code, ran := chain.ComputeExitCode(res.RootTx); ran && code != 0 {
			return nil, res, fmt.Errorf("deploying Root: its first transaction failed with %s", bindings.ExitCode(code))
		}
		return nil, res, fmt.Errorf("deploying Root: %s is %s after its first transaction", root, acc.Status)
	}
	return op, res, nil
}

// Do sends one owner operation (a bindings message such as SetParams) with
// DefaultOpValue and waits for Root's answer.
func (o *Operator) Do(ctx context.Context, m bindings.Message) (*Result, error) {
	body, err := bindings.Encode(m)
	if err != nil {
		return nil, fmt.Errorf("building %T: %w", m, err)
	}
	msg := &tonwallet.Message{
		Mode: tonwallet.PayGasSeparately + tonwallet.IgnoreErrors,
		InternalMessage: &tlb.InternalMessage{
			IHRDisabled: true,
			Bounce:      true, // a refused operation returns the value
			DstAddr:     o.Root,
			Amount:      tlb.FromNanoTONU(DefaultOpValue),
			Body:        body,
		},
	}
	return o.send(ctx, msg)
}

func (o *Operator) send(ctx context.Context, msg *tonwallet.Message) (*Result, error) {
	wait := o.Wait
	if wait <= 0 {
		wait = 90 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	res := &Result{}
	rootBefore, err := o.Net.Account(ctx, o.Root)
	if err != nil {
		return nil, err
	}
	wtx, err := o.Wallet.Send(ctx, o.Net, msg)
	res.WalletTx = wtx
	if err != nil {
		return res, err
	}
	rtx, err := chain.FollowOutbound(ctx, o.Net, wtx, o.Root, rootBefore.LastTx.LT, 200*time.Millisecond)
	res.RootTx = rtx
	if err != nil {
		return res, fmt.Errorf("waiting for Root's transaction: %w", err)
	}
	if code, ran := chain.ComputeExitCode(rtx); ran && code != 0 && code != 1 {
		return res, &RefusedError{Code: bindings.ExitCode(code), Tx: rtx}
	}
	if err := wallet.CheckOutcome(rtx); err != nil {
		return res, fmt.Errorf("the Root transaction: %w", err)
	}
	if v, err := readers.NewRoot(o.Net, o.Root).Version(ctx); err == nil {
		res.Version = v
	}
	return res, nil
}

// IsRefused reports whether err is Root refusing with the given code.
func IsRefused(err error, code bindings.ExitCode) bool {
	var r *RefusedError
	return errors.As(err, &r) && r.Code == code
}
