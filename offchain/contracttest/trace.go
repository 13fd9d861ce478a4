package contracttest

import (
	"context"
	"fmt"
	"math/big"
	"strings"

	"github.com/xssnick/tonutils-go/address"
	"github.com/xssnick/tonutils-go/tlb"
	"github.com/xssnick/tonutils-go/tvm/cell"

	"github.com/cocoon-network/cocoon/bindings"
	"github.com/cocoon-network/cocoon/offchain/chain"
)

// Trace is every transaction one inbound message caused, in causal order
// (breadth first from the first transaction), with the internal messages
// that link them.
type Trace struct {
	Txs  []*chain.Transaction
	Msgs []*Sent // every internal message sent within the trace, in order
}

// Sent is one internal message sent within a trace.
type Sent struct {
	From, To *address.Address
	Value    *big.Int
	FwdFee   *big.Int // the forwarding fee the message carries (paid by the sender)
	Bounce   bool
	Bounced  bool
	Body     *cell.Cell
	Deploys  bool               // carries a StateInit
	Tx       *chain.Transaction // the transaction that received it
	SentBy   *chain.Transaction
}

// Decoded parses the message body as a Cocoon message (nil when it is not one).
func (s *Sent) Decoded() bindings.Message {
	if s.Bounced {
		return nil
	}
	m, err := bindings.DecodeBody(s.Body)
	if err != nil {
		return nil
	}
	return m
}

// Opcode is the body's first 32 bits (0 when shorter; 0xffffffff for a bounce).
func (s *Sent) Opcode() uint32 {
	if s.Body == nil || s.Body.BitsSize() < 32 {
		return 0
	}
	return uint32(s.Body.BeginParse().MustLoadUInt(32))
}

// findTx finds the transaction of addr (after afterLT) caused by the
// inbound message with hash msgHash.
func (e *Env) findTx(ctx context.Context, addr *address.Address, msgHash []byte, afterLT uint64) (*chain.Transaction, error) {
	return chain.FindInbound(ctx, e.Chain, addr, msgHash, afterLT)
}

// trace follows every internal message from root to the transaction that
// received it. The devnet delivers every message in the blocks Settle
// produced, so each has exactly one receiving transaction.
func (e *Env) trace(ctx context.Context, root *chain.Transaction) (*Trace, error) {
	tr := &Trace{}
	queue := []*chain.Transaction{root}
	for len(queue) > 0 {
		tx := queue[0]
		queue = queue[1:]
		tr.Txs = append(tr.Txs, tx)
		cells, err := chain.OutMsgCells(tx)
		if err != nil {
			return nil, fmt.Errorf("out messages of %x: %w", tx.ID.Hash, err)
		}
		for _, c := range cells {
			var m tlb.Message
			if err := m.LoadFromCell(c.BeginParse()); err != nil {
				return nil, fmt.Errorf("out message of %x: %w", tx.ID.Hash, err)
			}
			if m.MsgType != tlb.MsgTypeInternal {
				continue // an event: external-out, no receiver
			}
			im := m.AsInternal()
			next, err := e.findTx(ctx, im.DstAddr, c.Hash(), tx.ID.LT)
			if err != nil {
				return nil, err
			}
			tr.Msgs = append(tr.Msgs, &Sent{
				From: im.SrcAddr, To: im.DstAddr, Value: im.Amount.Nano(), FwdFee: im.FwdFee.Nano(),
				Bounce: im.Bounce, Bounced: im.Bounced, Body: im.Body, Deploys: im.StateInit != nil,
				Tx: next, SentBy: tx,
			})
			queue = append(queue, next)
		}
	}
	return tr, nil
}

// On returns the trace's transactions on addr, in order.
func (t *Trace) On(addr *address.Address) []*chain.Transaction {
	var out []*chain.Transaction
	for _, tx := range t.Txs {
		if tx.Account.Equals(addr) {
			out = append(out, tx)
		}
	}
	return out
}

// To returns the messages delivered to addr, in order.
func (t *Trace) To(addr *address.Address) []*Sent {
	var out []*Sent
	for _, m := range t.Msgs {
		if m.To.Equals(addr) {
			out = append(out, m)
		}
	}
	return out
}

// Find returns the messages with the opcode, in order.
func (t *Trace) Find(op uint32) []*Sent {
	var out []*Sent
	for _, m := range t.Msgs {
		if !m.Bounced && m.Opcode() == op {
			out = append(out, m)
		}
	}
	return out
}

// Bounces returns the bounced messages, in order.
func (t *Trace) Bounces() []*Sent {
	var out []*Sent
	for _, m := range t.Msgs {
		if m.Bounced {
			out = append(out, m)
		}
	}
	return out
}

// Events returns the decoded external-out messages of addr's transactions
// in the trace (bodies that are not Cocoon messages are skipped).
func (t *Trace) Events(addr *address.Address) []bindings.Message {
	var out []bindings.Message
	for _, tx := range t.On(addr) {
		bodies, err := bindings.ExternalOutBodies(tx.Tx)
		if err != nil {
			continue
		}
		for _, b := range bodies {
			if m, err := bindings.DecodeBody(b); err == nil {
				out = append(out, m)
			}
		}
	}
	return out
}

// Failures lists the transactions whose compute phase failed, with codes.
func (t *Trace) Failures() []Failure {
	var out []Failure
	for _, tx := range t.Txs {
		if code, ran := ExitCode(tx); ran && code != 0 && code != 1 {
			out = append(out, Failure{Tx: tx, Code: bindings.ExitCode(code)})
		}
	}
	return out
}

// Failure is a transaction whose compute phase ended with an error.
type Failure struct {
	Tx   *chain.Transaction
	Code bindings.ExitCode
}

// TotalFees is the sum of the trace's transaction fees.
func (t *Trace) TotalFees() *big.Int {
	sum := new(big.Int)
	for _, tx := range t.Txs {
		sum.Add(sum, tx.Tx.TotalFees.Coins.Nano())
	}
	return sum
}

// FwdFees is the sum of the forwarding fees the trace's internal messages
// carried (the part of each message's fee not in its sender's total fees).
func (t *Trace) FwdFees() *big.Int {
	sum := new(big.Int)
	for _, m := range t.Msgs {
		sum.Add(sum, m.FwdFee)
	}
	return sum
}

// Cost is everything the trace burnt: transaction fees plus carried forwarding fees.
func (t *Trace) Cost() *big.Int { return new(big.Int).Add(t.TotalFees(), t.FwdFees()) }

// Gas lists the gas used by each transaction (0 where the compute phase was skipped).
func (t *Trace) Gas() []int64 {
	out := make([]int64, len(t.Txs))
	for i, tx := range t.Txs {
		out[i] = GasUsed(tx)
	}
	return out
}

// String describes the trace, one line per transaction, for failing tests.
func (t *Trace) String() string {
	var b strings.Builder
	for i, tx := range t.Txs {
		code, ran := ExitCode(tx)
		op := ""
		if in := tx.Tx.IO.In; in != nil && in.MsgType == tlb.MsgTypeInternal {
			im := in.AsInternal()
			body := im.Body
			switch {
			case im.Bounced && body != nil && body.BitsSize() >= 64:
				s := body.BeginParse()
				s.MustLoadUInt(32) // the bounce prefix
				op = "bounced " + bindings.OpcodeName(uint32(s.MustLoadUInt(32)))
			case im.Bounced:
				op = "bounced"
			case body != nil && body.BitsSize() >= 32:
				op = bindings.OpcodeName(uint32(body.BeginParse().MustLoadUInt(32)))
			default:
				op = "empty body"
			}
			op += fmt.Sprintf(" value %s", im.Amount.Nano())
		} else {
			op = "external"
		}
		fmt.Fprintf(&b, "  %d. %s: %s, exit %s (ran %v), gas %d, fees %s\n", i, tx.Account.String(), op,
			bindings.ErrorName(code), ran, GasUsed(tx), tx.Tx.TotalFees.Coins.Nano())
	}
	return b.String()
}

// ExitCode is the compute phase's exit code of tx; ran is false when the
// compute phase was skipped (no code, no funds).
func ExitCode(tx *chain.Transaction) (code int, ran bool) { return chain.ComputeExitCode(tx) }

// GasUsed is the gas of tx's compute phase (0 when skipped).
func GasUsed(tx *chain.Transaction) int64 {
	d, ok := tx.Tx.Description.(tlb.TransactionDescriptionOrdinary)
	if !ok {
		return 0
	}
	vm, ok := d.ComputePhase.Phase.(tlb.ComputePhaseVM)
	if !ok || vm.Details.GasUsed == nil {
		return 0
	}
	return vm.Details.GasUsed.Int64()
}

// Destroyed reports whether tx deleted its account.
func Destroyed(tx *chain.Transaction) bool {
	d, ok := tx.Tx.Description.(tlb.TransactionDescriptionOrdinary)
	return ok && d.Destroyed
}

// InValue is the value of tx's inbound internal message (zero for an external one).
func InValue(tx *chain.Transaction) *big.Int {
	if in := tx.Tx.IO.In; in != nil && in.MsgType == tlb.MsgTypeInternal {
		return in.AsInternal().Amount.Nano()
	}
	return new(big.Int)
}
