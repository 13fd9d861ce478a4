package chain

import (
	"bytes"
	"context"
	"fmt"
	"math/big"
	"time"

	"github.com/xssnick/tonutils-go/address"
	"github.com/xssnick/tonutils-go/tlb"
	"github.com/xssnick/tonutils-go/tvm/cell"
)

// InMsgHash returns the cell hash of the transaction's inbound message, or
// nil for a transaction without one. It reads the raw BOC: re-serialising
// the decoded message could pick another (equally valid) layout and hash.
func InMsgHash(tx *Transaction) ([]byte, error) {
	io, err := txIO(tx)
	if err != nil {
		return nil, err
	}
	s := io.BeginParse()
	has, err := s.LoadBoolBit()
	if err != nil {
		return nil, fmt.Errorf("reading in_msg flag of transaction %x: %w", tx.ID.Hash, err)
	}
	if !has {
		return nil, nil
	}
	in, err := io.PeekRef(0)
	if err != nil {
		return nil, fmt.Errorf("reading in_msg of transaction %x: %w", tx.ID.Hash, err)
	}
	return in.Hash(), nil
}

// OutMsgCells returns the raw cells of the transaction's outbound messages,
// in the order the transaction sent them.
func OutMsgCells(tx *Transaction) ([]*cell.Cell, error) {
	io, err := txIO(tx)
	if err != nil {
		return nil, err
	}
	s := io.BeginParse()
	if _, err := s.LoadMaybeRef(); err != nil {
		return nil, fmt.Errorf("reading in_msg of transaction %x: %w", tx.ID.Hash, err)
	}
	outs, err := s.LoadDict(15)
	if err != nil {
		return nil, fmt.Errorf("reading out_msgs of transaction %x: %w", tx.ID.Hash, err)
	}
	if outs == nil {
		return nil, nil
	}
	kvs, err := outs.LoadAll()
	if err != nil {
		return nil, fmt.Errorf("reading out_msgs of transaction %x: %w", tx.ID.Hash, err)
	}
	// The dictionary's key is the message's index in the action list.
	res := make([]*cell.Cell, len(kvs))
	for _, kv := range kvs {
		i, err := kv.Key.LoadUInt(15)
		if err != nil || int(i) >= len(res) || res[i] != nil {
			return nil, fmt.Errorf("reading out_msgs of transaction %x: bad message index", tx.ID.Hash)
		}
		if res[i], err = kv.Value.LoadRefCell(); err != nil {
			return nil, fmt.Errorf("reading out_msgs of transaction %x: %w", tx.ID.Hash, err)
		}
	}
	return res, nil
}

func txIO(tx *Transaction) (*cell.Cell, error) {
	root, err := cell.FromBOC(tx.BOC)
	if err != nil {
		return nil, fmt.Errorf("parsing transaction %x: %w", tx.ID.Hash, err)
	}
	// Transaction layout: the io cell (in_msg, out_msgs) is the first ref.
	io, err := root.PeekRef(0)
	if err != nil {
		return nil, fmt.Errorf("transaction %x has no message cell: %w", tx.ID.Hash, err)
	}
	return io, nil
}

const (
	// tracePage is how many transactions are fetched per request while waiting.
	tracePage = 16
	// traceMaxScan bounds how far back one poll looks for the message, so a
	// busy account cannot make a poll walk its whole history.
	traceMaxScan = 256
)

// WaitForInbound polls addr's transactions newer than afterLT until one was
// caused by the inbound message with hash msgHash, and returns it. It gives
// up when ctx ends, reporting the last polling error if there was one.
func WaitForInbound(ctx context.Context, n Network, addr *address.Address, msgHash []byte, afterLT uint64, poll time.Duration) (*Transaction, error) {
	if poll <= 0 {
		poll = 500 * time.Millisecond
	}
	start := time.Now()
	var lastErr error
	for {
		tx, newest, err := findInbound(ctx, n, addr, msgHash, afterLT)
		switch {
		case err != nil:
			// Polling errors are often transient (rate limits, a lagging
			// node); keep trying until the deadline.
			lastErr = err
		case tx != nil:
			return tx, nil
		default:
			afterLT = max(afterLT, newest)
		}
		t := time.NewTimer(poll)
		select {
		case <-ctx.Done():
			t.Stop()
			msg := fmt.Sprintf("message %x to %s not seen in a transaction after %s", msgHash, addr, time.Since(start).Round(time.Millisecond))
			if lastErr != nil {
				return nil, fmt.Errorf("%s (last error: %v): %w", msg, lastErr, ctx.Err())
			}
			return nil, fmt.Errorf("%s: %w", msg, ctx.Err())
		case <-t.C:
		}
	}
}

// FindInbound returns addr's transaction newer than afterLT caused by the
// inbound message with hash msgHash, or an error wrapping ErrNotFound.
func FindInbound(ctx context.Context, n Network, addr *address.Address, msgHash []byte, afterLT uint64) (*Transaction, error) {
	tx, _, err := findInbound(ctx, n, addr, msgHash, afterLT)
	if err != nil {
		return nil, err
	}
	if tx == nil {
		return nil, fmt.Errorf("no transaction of %s for message %x: %w", addr, msgHash, ErrNotFound)
	}
	return tx, nil
}

func findInbound(ctx context.Context, n Network, addr *address.Address, msgHash []byte, afterLT uint64) (*Transaction, uint64, error) {
	var newest uint64
	walk := History(ctx, n, addr, HistoryOptions{AfterLT: afterLT, Limit: traceMaxScan, Page: tracePage, MissingIsEmpty: true})
	for tx, err := range walk {
		if err != nil {
			return nil, newest, fmt.Errorf("listing transactions of %s: %w", addr, err)
		}
		newest = max(newest, tx.ID.LT)
		h, err := InMsgHash(tx)
		if err != nil {
			return nil, newest, err
		}
		if bytes.Equal(h, msgHash) {
			return tx, newest, nil
		}
	}
	return nil, newest, nil
}

// ComputeExitCode returns the exit code of the transaction's compute phase,
// and whether the VM ran at all (it does not when the phase was skipped).
func ComputeExitCode(tx *Transaction) (code int, ran bool) {
	if tx == nil || tx.Tx == nil {
		return 0, false
	}
	d, ok := tx.Tx.Description.(tlb.TransactionDescriptionOrdinary)
	if !ok {
		return 0, false
	}
	vm, ok := d.ComputePhase.Phase.(tlb.ComputePhaseVM)
	if !ok {
		return 0, false
	}
	return int(vm.Details.ExitCode), true
}

// ActionResult reports the transaction's action phase: its result code and
// whether it succeeded. present is false when there was none (the compute
// phase failed or was skipped). A failed action phase undoes the whole
// transaction's effects although the compute phase exited 0: what the
// contract meant to send, it did not.
func ActionResult(tx *Transaction) (code int, success, present bool) {
	if tx == nil || tx.Tx == nil {
		return 0, false, false
	}
	d, ok := tx.Tx.Description.(tlb.TransactionDescriptionOrdinary)
	if !ok || d.ActionPhase == nil {
		return 0, false, false
	}
	return int(d.ActionPhase.ResultCode), d.ActionPhase.Success, true
}

// FollowOutbound waits for dest's transaction caused by the message tx sent
// to dest (the wallet transaction of an operation, say, and the contract's
// answer to it). Only dest's transactions newer than afterLT are searched.
func FollowOutbound(ctx context.Context, n Network, tx *Transaction, dest *address.Address, afterLT uint64, poll time.Duration) (*Transaction, error) {
	outs, err := OutMsgCells(tx)
	if err != nil {
		return nil, err
	}
	var hash []byte
	for _, oc := range outs {
		var m tlb.Message
		if err := m.LoadFromCell(oc.BeginParse()); err != nil || m.MsgType != tlb.MsgTypeInternal {
			continue
		}
		if m.AsInternal().DstAddr.Equals(dest) {
			hash = oc.Hash()
		}
	}
	if hash == nil {
		return nil, fmt.Errorf("transaction %x sent nothing to %s", tx.ID.Hash, dest)
	}
	return WaitForInbound(ctx, n, dest, hash, afterLT, poll)
}

// SentTo sums the values of tx's internal outbound messages to dst (what
// the account paid dst in that transaction, forwarding fees not counted).
func SentTo(tx *Transaction, dst *address.Address) (*big.Int, error) {
	sum := new(big.Int)
	if tx.Tx == nil || tx.Tx.IO.Out == nil {
		return sum, nil
	}
	outs, err := tx.Tx.IO.Out.ToSlice()
	if err != nil {
		return nil, fmt.Errorf("reading the outbound messages of transaction %d: %w", tx.ID.LT, err)
	}
	for _, m := range outs {
		if m.MsgType == tlb.MsgTypeInternal && m.AsInternal().DstAddr.Equals(dst) {
			sum.Add(sum, m.AsInternal().Amount.Nano())
		}
	}
	return sum, nil
}
