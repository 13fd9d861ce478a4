package contracttest

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"math/big"

	"github.com/xssnick/tonutils-go/address"
	"github.com/xssnick/tonutils-go/tlb"
	"github.com/xssnick/tonutils-go/tvm/cell"

	"github.com/cocoon-network/cocoon/bindings"
	"github.com/cocoon-network/cocoon/offchain/chain"
	"github.com/cocoon-network/cocoon/offchain/chain/readers"
)

// This file deploys and drives the Cocoon contracts the way their users
// do, for end-to-end tests and measurements; each step returns its trace.

// DeployRoot deploys a Root owned by owner with params and 1 TON of
// balance, then sends the owner operations in setup (allow-list entries),
// each in its own message. Every step must succeed.
func (e *Env) DeployRoot(ctx context.Context, owner *Wallet, params bindings.RootParams, setup ...bindings.Message) (*address.Address, []*Trace, error) {
	si, err := bindings.RootStateInit(owner.Address, params, e.Codes)
	if err != nil {
		return nil, nil, err
	}
	root := bindings.StateInitAddress(si)
	tr, err := owner.Send(ctx, Deploy(si, TON("1"), nil))
	if err != nil {
		return nil, nil, fmt.Errorf("deploying root: %w", err)
	}
	traces := []*Trace{tr}
	if st, err := e.Status(ctx, root); err != nil || st != chain.StatusActive {
		return nil, traces, fmt.Errorf("root is %s after its deploy (%v):\n%s", st, err, tr)
	}
	for _, op := range setup {
		c, err := bindings.Encode(op)
		if err != nil {
			return nil, traces, err
		}
		tr, err := owner.Send(ctx, Message(root, TON("0.05"), c))
		if err != nil {
			return nil, traces, err
		}
		traces = append(traces, tr)
		if err := Succeeded(tr); err != nil {
			return nil, traces, fmt.Errorf("root setup %T: %w", op, err)
		}
	}
	return root, traces, nil
}

// RegisterWorker deploys the Worker of (root, owner, key) with
// WorkerRegister, staking stake (the message carries stake plus the
// registration fee), and requires Root to activate it.
func (e *Env) RegisterWorker(ctx context.Context, owner *Wallet, root *address.Address, key ed25519.PrivateKey, profile bindings.WorkerProfile, stake *big.Int) (*address.Address, *Trace, error) {
	si, err := bindings.WorkerStateInitWith(e.Codes.Worker, root, owner.Address, bindings.PublicKey256(key.Public().(ed25519.PublicKey)))
	if err != nil {
		return nil, nil, err
	}
	agreed, err := readers.NewRoot(e.Chain, root).AgreedTermsHash(ctx)
	if err != nil {
		return nil, nil, err
	}
	body, err := bindings.Encode(bindings.WorkerRegister{Profile: profile, Agreed: agreed})
	if err != nil {
		return nil, nil, err
	}
	value := new(big.Int).Add(stake, big.NewInt(bindings.WorkerRegisterFee))
	tr, err := owner.Send(ctx, Deploy(si, value, body))
	if err != nil {
		return nil, tr, err
	}
	addr := bindings.StateInitAddress(si)
	if err := Succeeded(tr); err != nil {
		return addr, tr, fmt.Errorf("registering worker: %w", err)
	}
	d, err := readers.NewWorker(e.Chain, addr).WorkerData(ctx)
	if err != nil {
		return addr, tr, err
	}
	if d.Status != bindings.WorkerActive {
		return addr, tr, fmt.Errorf("worker is %s after registration:\n%s", d.Status, tr)
	}
	return addr, tr, nil
}

// JobCreateMessage is the client's deploying JobCreate for the Job of
// (root, client, nonce) carrying escrow, and the Job's address.
func (e *Env) JobCreateMessage(root *address.Address, client *Wallet, nonce uint64, terms bindings.JobTerms, request *cell.Cell, escrow *big.Int) (*address.Address, *tlb.InternalMessage, error) {
	si, err := bindings.JobStateInitWith(e.Codes.Job, root, client.Address, nonce)
	if err != nil {
		return nil, nil, err
	}
	body, err := bindings.Encode(bindings.JobCreate{QueryID: nonce, Terms: terms, Request: request})
	if err != nil {
		return nil, nil, err
	}
	return bindings.StateInitAddress(si), Deploy(si, escrow, body), nil
}

// Succeeded returns an error naming the first transaction of tr that
// failed or the first bounce, nil when everything went through.
func Succeeded(tr *Trace) error {
	if fs := tr.Failures(); len(fs) > 0 {
		return fmt.Errorf("%s failed with %s:\n%s", fs[0].Tx.Account, fs[0].Code, tr)
	}
	if b := tr.Bounces(); len(b) > 0 {
		return fmt.Errorf("a message bounced back to %s:\n%s", b[0].To, tr)
	}
	return nil
}
