package devnet

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"

	"github.com/xssnick/tonutils-go/address"
	"github.com/xssnick/tonutils-go/tlb"
	"github.com/xssnick/tonutils-go/tvm/cell"

	"github.com/cocoon-network/cocoon/offchain/boc"
	"github.com/cocoon-network/cocoon/offchain/chain"
	"github.com/cocoon-network/cocoon/offchain/devnet/emulator"
)

// RejectedError is returned for an external message the contract does not
// accept on the current state.
type RejectedError struct {
	// ExitCode is the contract's exit code; nil when it was refused before
	// the contract ran (no code, no funds for gas).
	ExitCode *int
	Reason   string
}

// RefusedError is input the emulator would not run (a stack or message it
// refuses, or one it died on); the devnet went on.
type RefusedError struct {
	What   string
	Reason string
	Err    error // emulator.ErrCrashed when the emulator died on it
}

func (e *RefusedError) Error() string { return e.What + ": " + e.Reason }

func (e *RefusedError) Unwrap() error { return e.Err }

// crashRefused turns a sandbox child's death on an input into a
// RefusedError, and logs it: a checker let that input through. Other
// errors pass unchanged.
func (e *Engine) crashRefused(what string, err error) error {
	if errors.Is(err, emulator.ErrCrashed) {
		e.log.Warn("an emulator process died on a request's input; the request was refused, the devnet goes on", "what", what, "error", err)
		return &RefusedError{What: what, Reason: err.Error(), Err: err}
	}
	return err
}

func (e *RejectedError) Error() string {
	if e.ExitCode == nil {
		return fmt.Sprintf("external message not accepted: %s", e.Reason)
	}
	return fmt.Sprintf("external message not accepted: %s (exit code %d)", e.Reason, *e.ExitCode)
}

// Account implements chain.Network.
func (e *Engine) Account(ctx context.Context, addr *address.Address) (*chain.Account, error) {
	k, err := keyOf(addr)
	if err != nil {
		return nil, fmt.Errorf("account %v: %w", addr, err)
	}
	e.mu.Lock()
	shard, ok := e.accounts[k]
	e.mu.Unlock()
	if !ok {
		return &chain.Account{Address: addr, Status: chain.StatusNonexist, Balance: new(big.Int)}, nil
	}
	acc, err := decodeAccount(addr, shard)
	if err != nil {
		return nil, fmt.Errorf("account %s: %w", addr, err)
	}
	return acc, nil
}

// RunGetMethod implements chain.Network.
func (e *Engine) RunGetMethod(ctx context.Context, addr *address.Address, method string, args ...any) ([]any, error) {
	return e.RunGetMethodID(ctx, addr, int(tlb.MethodNameHash(method)), method, args...)
}

// RunGetMethodID runs a get-method by numeric id; name is used in errors only.
func (e *Engine) RunGetMethodID(ctx context.Context, addr *address.Address, id int, name string, args ...any) ([]any, error) {
	res, err := e.runGetMethod(ctx, addr, id, args)
	if err != nil {
		return nil, fmt.Errorf("running %s on %s: %w", name, addr, err)
	}
	if res.exitCode != 0 && res.exitCode != 1 {
		return nil, &chain.GetMethodError{Method: name, ExitCode: res.exitCode}
	}
	return res.stack, nil
}

// GetMethodOutcome is a get-method run including a failing exit code, as
// the toncenter API reports it.
type GetMethodOutcome struct {
	ExitCode int
	GasUsed  int64
	Stack    []any
}

// RunGetMethodRaw runs a get-method and reports its exit code instead of
// turning a non-zero one into an error.
func (e *Engine) RunGetMethodRaw(ctx context.Context, addr *address.Address, id int, args []any) (*GetMethodOutcome, error) {
	r, err := e.runGetMethod(ctx, addr, id, args)
	if err != nil {
		return nil, err
	}
	return &GetMethodOutcome{ExitCode: r.exitCode, GasUsed: r.gasUsed, Stack: r.stack}, nil
}

type gmResult struct {
	exitCode int
	gasUsed  int64
	stack    []any
}

func (e *Engine) runGetMethod(ctx context.Context, addr *address.Address, id int, args []any) (*gmResult, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	acc, err := e.Account(ctx, addr)
	if err != nil {
		return nil, err
	}
	if acc.Status != chain.StatusActive {
		return nil, fmt.Errorf("account is %s: %w", acc.Status, chain.ErrNotFound)
	}
	pushed := make([]any, len(args))
	for i, a := range args {
		pushed[len(args)-1-i] = a
	}
	sc, err := boc.StackCell(pushed)
	if err != nil {
		return nil, fmt.Errorf("encoding arguments: %w", err)
	}
	e.mu.Lock()
	now := e.nowLocked()
	seed := e.blockSeed(e.head.Seqno)
	libs := e.libsB64
	e.mu.Unlock()
	if !acc.Balance.IsUint64() {
		return nil, errors.New("balance out of range")
	}
	r, err := e.sandbox.RunGetMethod(ctx, emulator.GetMethodCall{
		Code:     base64.StdEncoding.EncodeToString(acc.Code.ToBOC()),
		Data:     base64.StdEncoding.EncodeToString(acc.Data.ToBOC()),
		Address:  addr.StringRaw(),
		Unixtime: now,
		Balance:  acc.Balance.Uint64(),
		RandSeed: seed,
		MethodID: id,
		Stack:    base64.StdEncoding.EncodeToString(sc.ToBOC()),
		Libs:     libs,
	})
	if err != nil {
		return nil, e.crashRefused("the emulator failed on the get-method's input", err)
	}
	if !r.Success {
		return nil, &RefusedError{What: "the TVM refused the get-method's input", Reason: r.Error}
	}
	gas, _ := r.GasUsed.Int64()
	out := &gmResult{exitCode: r.ExitCode, gasUsed: gas}
	if r.Stack == "" {
		return out, nil
	}
	raw, err := base64.StdEncoding.DecodeString(r.Stack)
	if err != nil {
		return nil, err
	}
	rc, err := boc.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("decoding result stack: %w", err)
	}
	var rs tlb.Stack
	if err := rs.LoadFromCell(rc.BeginParse()); err != nil {
		return nil, fmt.Errorf("decoding result stack: %w", err)
	}
	for rs.Depth() > 0 {
		v, err := rs.Pop()
		if err != nil {
			return nil, err
		}
		out.stack = append(out.stack, v)
	}
	return out, nil
}

// parseExternal checks that boc is one external inbound message to an
// account that can exist here.
func parseExternal(raw []byte) (*cell.Cell, acctKey, error) {
	c, err := boc.Parse(raw)
	if err != nil {
		return nil, acctKey{}, err
	}
	dest, ext, err := inboundDest(c)
	if err != nil {
		return nil, acctKey{}, err
	}
	if !ext {
		return nil, acctKey{}, errors.New("only external inbound messages can be sent to the chain")
	}
	return c, dest, nil
}

// SendExternal implements chain.Network: the message is run against the
// current state first, and queued for the next block only if the contract
// accepts it.
func (e *Engine) SendExternal(ctx context.Context, raw []byte) ([]byte, error) {
	c, dest, err := parseExternal(raw)
	if err != nil {
		return nil, err
	}
	b64 := base64.StdEncoding.EncodeToString(raw)
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil, errors.New("devnet closed")
	}
	res, err := e.emulateNowLocked(ctx, dest, b64, false)
	if err != nil {
		return nil, e.crashRefused("the emulator failed on the message", err)
	}
	if !res.Success {
		return nil, &RejectedError{ExitCode: res.ExitCode, Reason: res.Error}
	}
	e.queue = append(e.queue, queued{b64: b64, dest: dest, external: true, cell: c})
	return c.Hash(), nil
}

// emulateNowLocked runs a message against the current state, in the
// sandbox, without keeping the result.
func (e *Engine) emulateNowLocked(ctx context.Context, dest acctKey, msgB64 string, ignoreChksig bool) (*emulator.TxResult, error) {
	shard, ok := e.accounts[dest]
	if !ok {
		shard = emptyShardAccount
	}
	return e.sandbox.Emulate(ctx, emulator.TxCall{
		Shard:        shard,
		Message:      msgB64,
		Libs:         e.libsB64,
		Unixtime:     e.nowLocked(),
		LT:           e.head.NextLT,
		RandSeed:     e.blockSeed(e.head.Seqno + 1),
		IgnoreChksig: ignoreChksig,
	})
}

// Transactions implements chain.Network.
func (e *Engine) Transactions(ctx context.Context, addr *address.Address, from chain.TxID, limit int) ([]*chain.Transaction, error) {
	k, err := keyOf(addr)
	if err != nil {
		return nil, fmt.Errorf("transactions of %v: %w", addr, err)
	}
	if limit <= 0 {
		return nil, errors.New("limit must be positive")
	}
	stored, err := e.store.history(k, from.LT, limit)
	if err != nil {
		if errors.Is(err, errNoTx) {
			return nil, fmt.Errorf("%w: %w", err, chain.ErrNotFound)
		}
		return nil, err
	}
	if len(stored) > 0 && from.LT != 0 && len(from.Hash) > 0 && !bytes.Equal(stored[0].hash, from.Hash) {
		return nil, fmt.Errorf("transaction %d of %s has another hash: %w", from.LT, addr, chain.ErrNotFound)
	}
	out := make([]*chain.Transaction, 0, len(stored))
	for _, s := range stored {
		t, err := DecodeTransaction(addr, s.boc)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}

// DecodeTransaction decodes a transaction BOC into the chain's view.
func DecodeTransaction(addr *address.Address, raw []byte) (*chain.Transaction, error) {
	c, err := cell.FromBOC(raw)
	if err != nil {
		return nil, fmt.Errorf("decoding transaction: %w", err)
	}
	var tx tlb.Transaction
	if err := tlb.LoadFromCell(&tx, c.BeginParse()); err != nil {
		return nil, fmt.Errorf("decoding transaction: %w", err)
	}
	tx.Hash = c.Hash()
	t := &chain.Transaction{
		Account: addr,
		ID:      chain.TxID{LT: tx.LT, Hash: tx.Hash},
		Now:     tx.Now,
		BOC:     raw,
		Tx:      &tx,
	}
	if tx.PrevTxLT != 0 {
		t.PrevID = chain.TxID{LT: tx.PrevTxLT, Hash: tx.PrevTxHash}
	}
	return t, nil
}

// MasterchainInfo implements chain.Network.
func (e *Engine) MasterchainInfo(ctx context.Context) (*chain.MasterchainInfo, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	// The time the next block will carry, as a live chain's latest block
	// is seconds old: an idle devnet makes no blocks, and after
	// AdvanceTime the last one's time would be far behind the chain's
	// clock (a wallet would sign messages already expired).
	return &chain.MasterchainInfo{Seqno: e.head.Seqno, Time: e.nowLocked()}, nil
}

// Block returns a produced block's header, or chain.ErrNotFound.
func (e *Engine) Block(seqno uint32) (*BlockInfo, error) {
	b, err := e.store.block(seqno)
	if err != nil {
		return nil, err
	}
	if b == nil {
		return nil, fmt.Errorf("block %d: %w", seqno, chain.ErrNotFound)
	}
	return b, nil
}

// EstimateFee implements chain.Network by running the message with
// signature checks off on the current state.
func (e *Engine) EstimateFee(ctx context.Context, addr *address.Address, body, code, data *cell.Cell, ignoreChksig bool) (*chain.Fees, error) {
	k, err := keyOf(addr)
	if err != nil {
		return nil, fmt.Errorf("estimating fee for %v: %w", addr, err)
	}
	msg := &tlb.ExternalMessage{DstAddr: addr, Body: body}
	if body == nil {
		msg.Body = cell.BeginCell().EndCell()
	}
	if code != nil || data != nil {
		msg.StateInit = &tlb.StateInit{Code: code, Data: data}
	}
	var mc *cell.Cell
	if err := boc.Do("building the message", func() (err error) {
		mc, err = tlb.ToCell(msg)
		return err
	}); err != nil {
		return nil, fmt.Errorf("estimating fee for %s: %w", addr, err)
	}
	e.mu.Lock()
	res, err := e.emulateNowLocked(ctx, k, base64.StdEncoding.EncodeToString(mc.ToBOC()), ignoreChksig)
	e.mu.Unlock()
	if err != nil {
		return nil, e.crashRefused("the emulator failed on the message", err)
	}
	if !res.Success {
		return nil, &RejectedError{ExitCode: res.ExitCode, Reason: res.Error}
	}
	raw, err := base64.StdEncoding.DecodeString(res.Transaction)
	if err != nil {
		return nil, err
	}
	t, err := DecodeTransaction(addr, raw)
	if err != nil {
		return nil, err
	}
	return feesOf(t.Tx), nil
}

func feesOf(tx *tlb.Transaction) *chain.Fees {
	f := &chain.Fees{}
	total := tx.TotalFees.Coins.Nano().Int64()
	d, ok := tx.Description.(tlb.TransactionDescriptionOrdinary)
	if !ok {
		f.InFwdFee = total
		return f
	}
	var actionFees int64
	if d.StoragePhase != nil {
		f.StorageFee = d.StoragePhase.StorageFeesCollected.Nano().Int64()
	}
	if vm, ok := d.ComputePhase.Phase.(tlb.ComputePhaseVM); ok {
		f.GasFee = vm.GasFees.Nano().Int64()
	}
	if d.ActionPhase != nil {
		if d.ActionPhase.TotalFwdFees != nil {
			f.FwdFee = d.ActionPhase.TotalFwdFees.Nano().Int64()
		}
		if d.ActionPhase.TotalActionFees != nil {
			actionFees = d.ActionPhase.TotalActionFees.Nano().Int64()
		}
	}
	f.InFwdFee = total - f.StorageFee - f.GasFee - actionFees
	if f.InFwdFee < 0 {
		f.InFwdFee = 0
	}
	return f
}
