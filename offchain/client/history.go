package client

import (
	"errors"
	"fmt"
	"math/big"

	"github.com/xssnick/tonutils-go/address"
	"github.com/xssnick/tonutils-go/tlb"
	"github.com/xssnick/tonutils-go/tvm/cell"

	"github.com/cocoon-network/cocoon/bindings"
	"github.com/cocoon-network/cocoon/offchain/chain"
)

// State is where a job stands.
type State string

const (
	StateUnknown      State = "unknown"       // no transaction at the job's address (yet)
	StateRefused      State = "refused"       // the Job refused JobCreate; the escrow bounced back
	StateOffered      State = "offered"       // waiting for the worker to accept
	StateAccepted     State = "accepted"      // the worker accepted; waiting for its receipt
	StateCompleted    State = "completed"     // the worker was paid for an answer
	StateFailed       State = "failed"        // the worker could not serve; full refund
	StateDeclined     State = "declined"      // the worker refused the offer
	StateCancelled    State = "cancelled"     // the client cancelled before acceptance
	StateExpired      State = "expired"       // refunded after the deadline
	StateOfferBounced State = "offer_bounced" // no Worker contract took the offer
)

// Closed reports whether the job is over (the contract is gone or never was).
func (s State) Closed() bool {
	switch s {
	case StateOffered, StateAccepted, StateUnknown:
		return false
	}
	return true
}

// CloseReasonText says in words what a JobClosed / JobClosedEvent reason means.
func CloseReasonText(reason uint16) string {
	switch reason {
	case bindings.ClosedCompleted:
		return "completed: the worker delivered an answer and was paid for the tokens it used; the rest of the escrow was refunded"
	case bindings.ClosedFailed:
		return "failed: the worker could not serve the job; the escrow was refunded (minus gas)"
	case bindings.ClosedDeclined:
		return "declined: the worker refused the offer; the escrow was refunded (minus gas)"
	case bindings.ClosedCancelled:
		return "cancelled by the client before the worker accepted; the escrow was refunded (minus gas)"
	case bindings.ClosedExpired:
		return "expired: no receipt by the deadline; the escrow was refunded (minus gas) and, if the worker had accepted, part of its stake was slashed to the client"
	case bindings.ClosedOfferBounced:
		return "the offer bounced: no Worker contract took it; the escrow was refunded (minus gas)"
	}
	return fmt.Sprintf("closed with reason %d (%s)", reason, bindings.ErrorName(int(reason)))
}

func stateOfReason(reason uint16) State {
	switch reason {
	case bindings.ClosedCompleted:
		return StateCompleted
	case bindings.ClosedFailed:
		return StateFailed
	case bindings.ClosedDeclined:
		return StateDeclined
	case bindings.ClosedCancelled:
		return StateCancelled
	case bindings.ClosedExpired:
		return StateExpired
	case bindings.ClosedOfferBounced:
		return StateOfferBounced
	}
	return State(fmt.Sprintf("closed(%d)", reason))
}

// Costs is where a job's money went, in nanoton, read from its
// transactions. Escrow + Deposits = Charge + Refund + Gas, and
// Charge = WorkerPay + ProtocolFee.
type Costs struct {
	Escrow      *big.Int // sent with JobCreate
	Deposits    *big.Int // other value the job kept (a Cancel's or Refund's value); 0 normally
	Charge      *big.Int // the receipt's price of the tokens used
	WorkerPay   *big.Int // charge − protocol fee, to the worker
	ProtocolFee *big.Int // owed to the treasury (the worker's Worker sends such fees in batches)
	Refund      *big.Int // the JobClosed message to the client: everything left
	// Gas is escrow + deposits − charge − refund: the job's own
	// transactions and messages, and the gas the job hands the worker for
	// the offer and the payment notice.
	Gas *big.Int
}

// Spent is what the job cost the client: escrow + deposits − refund.
func (c *Costs) Spent() *big.Int {
	s := new(big.Int).Add(nz(c.Escrow), nz(c.Deposits))
	return s.Sub(s, nz(c.Refund))
}

func nz(v *big.Int) *big.Int {
	if v == nil {
		return new(big.Int)
	}
	return v
}

// history is what a job's transactions, read oldest first, say.
type history struct {
	job *address.Address

	createTx     *chain.Transaction
	createFailed bool
	createExit   int
	escrow       *big.Int
	terms        *bindings.JobTerms // from JobCreate
	client       *address.Address   // JobCreate's sender
	deposits     *big.Int

	accepted      bool
	declineReason uint16

	receipt *bindings.Receipt

	closeTx *chain.Transaction
	closed  *bindings.JobClosed
	refund  *big.Int
	slash   *cell.Cell
	slashTo *address.Address
}

func newHistory(job *address.Address) *history {
	return &history{job: job, deposits: new(big.Int)}
}

// txOutcome is how a transaction's compute phase ended.
type txOutcome struct {
	ok      bool // compute phase succeeded and nothing aborted
	ran     bool
	exit    int
	bounced bool // the inbound value went back in a bounce
}

func outcomeOf(tx *chain.Transaction) txOutcome {
	code, ran := chain.ComputeExitCode(tx)
	o := txOutcome{ran: ran, exit: code}
	if tx == nil || tx.Tx == nil {
		return o
	}
	d, ok := tx.Tx.Description.(tlb.TransactionDescriptionOrdinary)
	if !ok {
		return o
	}
	// An aborted transaction (a failed action phase) changed nothing
	// either, whatever the VM's exit code.
	o.ok = ran && (code == 0 || code == 1) && !d.Aborted
	o.bounced = d.BouncePhase != nil
	return o
}

// outMsg is one outbound message with its raw cell (for its hash).
type outMsg struct {
	cell *cell.Cell
	msg  tlb.Message
}

// outMessages reads tx's outbound messages from the decoded dictionary,
// whose value cells are the raw message cells (so their hashes are the
// chain's: re-serialising a decoded message could change its layout).
func outMessages(tx *tlb.Transaction) ([]outMsg, error) {
	if tx.IO.Out == nil || tx.IO.Out.List == nil {
		return nil, nil
	}
	kvs, err := tx.IO.Out.List.LoadAll()
	if err != nil {
		return nil, fmt.Errorf("reading out messages: %w", err)
	}
	out := make([]outMsg, 0, len(kvs))
	for _, kv := range kvs {
		c, err := kv.Value.LoadRefCell()
		if err != nil {
			return nil, fmt.Errorf("reading out message: %w", err)
		}
		var m tlb.Message
		if err := m.LoadFromCell(c.BeginParse()); err != nil {
			return nil, fmt.Errorf("parsing out message: %w", err)
		}
		out = append(out, outMsg{cell: c, msg: m})
	}
	return out, nil
}

// add takes the job's next transaction (oldest first).
func (h *history) add(tx *chain.Transaction) error {
	if tx == nil || tx.Tx == nil {
		return errors.New("reading job history: a transaction without its decoded form")
	}
	o := outcomeOf(tx)
	if in := tx.Tx.IO.In; in != nil {
		switch in.MsgType {
		case tlb.MsgTypeInternal:
			h.addInternal(tx, in.AsInternal(), o)
		case tlb.MsgTypeExternalIn:
			// Only a receipt is accepted from outside, and only after all
			// its checks: an external message in a transaction is one the
			// Job accepted.
			if o.ok {
				if _, r, err := bindings.ParseReceiptBody(in.AsExternalIn().Body); err == nil {
					h.receipt = r
				}
			}
		}
	}
	outs, err := outMessages(tx.Tx)
	if err != nil {
		return fmt.Errorf("job transaction %x: %w", tx.ID.Hash, err)
	}
	for _, om := range outs {
		switch om.msg.MsgType {
		case tlb.MsgTypeInternal:
			im := om.msg.AsInternal()
			if im.Bounced {
				// A refused JobCreate's escrow going back, minus the fees.
				if tx == h.createTx && h.createFailed {
					h.refund = im.Amount.Nano()
				}
				continue
			}
			m, err := bindings.DecodeBody(im.Body)
			if err != nil {
				continue
			}
			value := im.Amount.Nano()
			switch m := m.(type) {
			case *bindings.JobClosed:
				h.closeTx, h.closed, h.refund = tx, m, value
			case *bindings.Slash:
				h.slash, h.slashTo = om.cell, im.DstAddr
			}
		}
	}
	return nil
}

func (h *history) addInternal(tx *chain.Transaction, im *tlb.InternalMessage, o txOutcome) {
	value := im.Amount.Nano()
	// Value of a message that is not part of the job's own flow stays in
	// the job (and so reaches the client in JobClosed) unless it bounced.
	keep := func() {
		if !o.bounced {
			h.deposits.Add(h.deposits, value)
		}
	}
	if im.Bounced {
		return // the offer coming back: escrow money returning
	}
	m, err := bindings.DecodeBody(im.Body)
	if err != nil {
		keep()
		return
	}
	switch m := m.(type) {
	case *bindings.JobCreate:
		if h.createTx != nil {
			keep()
			return
		}
		h.createTx, h.escrow, h.client = tx, value, im.SrcAddr
		if !o.ok {
			h.createFailed, h.createExit = true, o.exit
			return
		}
		t := m.Terms
		h.terms = &t
	case *bindings.Accept:
		if o.ok {
			h.accepted = true
		}
	case *bindings.Decline:
		if o.ok {
			h.declineReason = m.Reason
		}
	default:
		keep()
	}
}

// state is where the job stands after the transactions seen so far.
func (h *history) state() State {
	switch {
	case h.closed != nil:
		return stateOfReason(h.closed.Reason)
	case h.createFailed:
		return StateRefused
	case h.accepted:
		return StateAccepted
	case h.createTx != nil:
		return StateOffered
	}
	return StateUnknown
}

// costs splits the job's money as far as the transactions seen tell.
func (h *history) costs() Costs {
	c := Costs{
		Escrow: nz(h.escrow), Deposits: new(big.Int).Set(h.deposits),
		Charge: new(big.Int), WorkerPay: new(big.Int), ProtocolFee: new(big.Int),
		Refund: nz(h.refund), Gas: new(big.Int),
	}
	if h.createFailed {
		// The escrow bounced back to the wallet; Refund is what the bounce
		// carried, Gas what the refusal cost.
		c.Gas = new(big.Int).Sub(c.Escrow, c.Refund)
		return c
	}
	if h.closed != nil {
		// The JobClosed says what the receipt charged and the fee of it.
		c.Charge, c.ProtocolFee = nz(h.closed.Charge), nz(h.closed.Fee)
	}
	c.WorkerPay = new(big.Int).Sub(c.Charge, c.ProtocolFee)
	if h.closed != nil {
		c.Gas = new(big.Int).Add(c.Escrow, c.Deposits)
		c.Gas.Sub(c.Gas, c.Charge)
		c.Gas.Sub(c.Gas, c.Refund)
	}
	return c
}
