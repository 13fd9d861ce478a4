package main

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"math/big"
	"reflect"
	"strings"
	"time"

	"github.com/xssnick/tonutils-go/address"
	"github.com/xssnick/tonutils-go/tlb"

	"github.com/cocoon-network/cocoon/bindings"
	"github.com/cocoon-network/cocoon/offchain/channel"
	bt "github.com/cocoon-network/cocoon/offchain/contracttest"
)

// The payment-channel scenario: an app's gateway (payer) and a worker
// (payee, paying its gas from a small wallet; earnings go to its owner's
// wallet) on Cocoon's channel contract (contracts/channel.tolk). Keys and
// channel ids are fixed, so the numbers repeat.

// channelBudget is the most a channel life cycle (open + one commit +
// cooperative close) may cost in fees.
const channelBudget = 20_000_000 // 0.02 TON

// channelRequests are the life-cycle lengths the amortised cost is given for.
var channelRequests = []int64{1_000, 100_000}

// channelPerRequestBudget is the most one request may cost at 1,000
// requests per life cycle.
const channelPerRequestBudget = 20_000 // nanoton, 0.00002 TON

// channelOpName names a channel contract message by its opcode as
// channel.tolk does (the bindings type without its Channel prefix).
func channelOpName(code uint32) (string, bool) {
	for _, m := range []any{bindings.ChannelTopUp{}, bindings.ChannelCommit{}, bindings.ChannelClose{}, bindings.ChannelStartClose{}, bindings.ChannelFinish{}} {
		if op, _ := bindings.OpcodeOf(m); op == code {
			return strings.TrimPrefix(reflect.TypeOf(m).Name(), "Channel"), true
		}
	}
	return "", false
}

type channelScenario struct {
	s              *scenario
	app, worker    *bt.Wallet // the payer's wallet; the worker's gas wallet
	payerK, payeeK ed25519.PrivateKey
	owner          *address.Address // the worker owner's wallet: earnings go here
	price          *big.Int
	requests       uint64
	inline         bool // deploy with the code instead of its library reference
}

// channelOps measures every channel operation; the scenario's wallets are
// reused and the channel accounts named "channel".
func (s *scenario) channelOps(ctx context.Context) ([]Operation, error) {
	c := &channelScenario{s: s, payerK: bt.KeyFor("gasreport channel payer"), payeeK: bt.KeyFor("gasreport channel payee"), price: big.NewInt(100_000)}
	var err error
	if c.app, err = s.env.NewWallet(ctx, "app", bt.TON("100")); err != nil {
		return nil, err
	}
	if c.worker, err = s.env.NewWallet(ctx, "worker gas", bt.TON("10")); err != nil {
		return nil, err
	}
	s.names[c.app.Address.StringRaw()] = "app wallet"
	s.names[c.worker.Address.StringRaw()] = "worker gas wallet"
	c.owner = s.miner.Address // the miner's wallet owns the worker
	// Cocoon deploys channels with their code held as a public library,
	// as it does Jobs; channel_open_inline_code shows the difference.
	if err := s.env.Chain.PublishLibrary(channel.ContractCode()); err != nil {
		return nil, err
	}

	var ops []Operation
	// Life cycle: open, top-up, 1,000 requests, commit, cooperative close.
	terms, open, err := c.open(ctx, 1)
	if err != nil {
		return nil, err
	}
	ops = append(ops, open)
	top, err := c.send(ctx, c.app, "channel_topup", "the payer adds 1 TON to its deposit", func(a *address.Address) ([]*tlb.InternalMessage, error) {
		m, err := channel.TopUpMessage(a, bt.TON("1"))
		return []*tlb.InternalMessage{m}, err
	}, terms)
	if err != nil {
		return nil, err
	}
	ops = append(ops, top)
	c.requests = 1000
	commit, err := c.commit(ctx, terms, "channel_commit", "the worker's gas wallet submits the latest voucher (1,000 requests); the earnings go to its owner's wallet and the channel stays open")
	if err != nil {
		return nil, err
	}
	ops = append(ops, commit)
	c.requests += 10
	closed, err := c.closeCoop(ctx, terms, "channel_close_cooperative", "the payer's last voucher with the worker's approval, sent by the payer: the worker's owner and the payer are paid out and the contract is gone")
	if err != nil {
		return nil, err
	}
	ops = append(ops, closed)

	// Closing alone: the payer starts, the quarantine passes, the payer
	// finishes. Then the same answered by the worker's watcher, which
	// closes at once with its voucher.
	for _, challenged := range []bool{false, true} {
		id := byte(2)
		name, desc := "channel_close_uncooperative", "the payer starts a close alone (the worker's earnings were committed); after the quarantine it finishes and gets the rest"
		if challenged {
			id, name, desc = 3, "channel_close_challenged", "the payer starts a close alone while the worker holds an unpaid voucher; the worker's watcher closes with it at once"
		}
		terms, _, err := c.open(ctx, id)
		if err != nil {
			return nil, err
		}
		op, err := c.closeAlone(ctx, terms, challenged, name, desc)
		if err != nil {
			return nil, err
		}
		ops = append(ops, op)
	}
	c.inline = true
	_, inline, err := c.open(ctx, 4)
	if err != nil {
		return nil, err
	}
	inline.Name = "channel_open_inline_code"
	inline.Description += " (the contract's 792-byte code travels in the deploy instead of a library reference)"
	return append(ops, inline), nil
}

func (c *channelScenario) terms(id byte) channel.Terms {
	return channel.Terms{
		ID: channel.ID{0xc0, 0xc0, id}, PayerKey: c.payerK.Public().(ed25519.PublicKey), PayeeKey: c.payeeK.Public().(ed25519.PublicKey),
		PayerAddress: c.app.Address, PayeeAddress: c.owner,
		Closing: channel.DefaultClosing(), CodeLibrary: !c.inline,
	}
}

func (c *channelScenario) open(ctx context.Context, id byte) (channel.Terms, Operation, error) {
	t := c.terms(id)
	c.requests = 0
	op, err := c.send(ctx, c.app, "channel_open", "the payer deploys the channel with a deposit of 10 TON: one message, one contract transaction", func(*address.Address) ([]*tlb.InternalMessage, error) {
		m, err := channel.OpenMessage(t, bt.TON("10"))
		return []*tlb.InternalMessage{m}, err
	}, t)
	return t, op, err
}

// send has w send the messages build makes for the channel of t, requires
// every transaction to succeed, and measures them as one operation.
func (c *channelScenario) send(ctx context.Context, w *bt.Wallet, name, desc string, build func(*address.Address) ([]*tlb.InternalMessage, error), t channel.Terms) (Operation, error) {
	addr, err := t.Address()
	if err != nil {
		return Operation{}, err
	}
	c.s.names[addr.StringRaw()] = "channel"
	msgs, err := build(addr)
	if err != nil {
		return Operation{}, err
	}
	tr, err := w.Send(ctx, msgs...)
	if err != nil {
		return Operation{}, fmt.Errorf("%s: %w", name, err)
	}
	if err := bt.Succeeded(tr); err != nil {
		return Operation{}, fmt.Errorf("%s: %w", name, err)
	}
	return channelOperation(name, desc, c.s.names, tr), nil
}

// channelOperation is operation() with the channel's messages named.
func channelOperation(name, desc string, n names, traces ...*bt.Trace) Operation {
	op := operation(name, desc, n, traces...)
	for i, st := range op.Steps {
		if op, ok := strings.CutPrefix(st.Message, "op 0x"); ok {
			var code uint32
			if _, err := fmt.Sscanf(op, "%08x", &code); err == nil {
				if name, ok := channelOpName(code); ok {
					st.Message = name
				}
			}
		}
		op.Steps[i] = st
	}
	return op
}

func (c *channelScenario) voucher(id channel.ID) (channel.SignedState, error) {
	return channel.SignState(c.payerK, id, c.requests, new(big.Int).Mul(c.price, new(big.Int).SetUint64(c.requests)))
}

// commit measures the worker's gas wallet submitting the latest voucher.
func (c *channelScenario) commit(ctx context.Context, t channel.Terms, name, desc string) (Operation, error) {
	v, err := c.voucher(t.ID)
	if err != nil {
		return Operation{}, err
	}
	return c.send(ctx, c.worker, name, desc, func(a *address.Address) ([]*tlb.InternalMessage, error) {
		m, err := channel.CommitMessage(a, v)
		return []*tlb.InternalMessage{m}, err
	}, t)
}

// approved is the latest voucher with the worker's approval of it as final.
func (c *channelScenario) approved(t channel.Terms) (*channel.Settlement, error) {
	v, err := c.voucher(t.ID)
	if err != nil {
		return nil, err
	}
	s := &channel.Settlement{Channel: t.ID, Voucher: v}
	return s, s.Approve(c.payeeK)
}

// closeCoop measures the payer submitting a close the worker approved.
func (c *channelScenario) closeCoop(ctx context.Context, t channel.Terms, name, desc string) (Operation, error) {
	s, err := c.approved(t)
	if err != nil {
		return Operation{}, err
	}
	return c.send(ctx, c.app, name, desc, func(a *address.Address) ([]*tlb.InternalMessage, error) {
		m, err := channel.CloseMessage(a, s)
		return []*tlb.InternalMessage{m}, err
	}, t)
}

// closeAlone measures the payer's start and finish after 100 requests (all
// committed), or its start answered by the worker's close with the voucher
// of request 100.
func (c *channelScenario) closeAlone(ctx context.Context, t channel.Terms, challenged bool, name, desc string) (Operation, error) {
	addr, err := t.Address()
	if err != nil {
		return Operation{}, err
	}
	c.requests = 100
	var traces []*bt.Trace
	step := func(w *bt.Wallet, m *tlb.InternalMessage, err error) error {
		if err != nil {
			return err
		}
		tr, err := w.Send(ctx, m)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if err := bt.Succeeded(tr); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		traces = append(traces, tr)
		return nil
	}
	if !challenged {
		// Not measured: the worker committed its earnings before.
		v, err := c.voucher(t.ID)
		if err != nil {
			return Operation{}, err
		}
		m, err := channel.CommitMessage(addr, v)
		if err := step(c.worker, m, err); err != nil {
			return Operation{}, err
		}
		traces = nil
	}
	m, err := channel.StartCloseMessage(addr)
	if err := step(c.app, m, err); err != nil {
		return Operation{}, err
	}
	if challenged {
		s, err := c.approved(t)
		if err != nil {
			return Operation{}, err
		}
		m, err := channel.CloseMessage(addr, s)
		if err := step(c.worker, m, err); err != nil {
			return Operation{}, err
		}
		return channelOperation(name, desc, c.s.names, traces...), nil
	}
	if err := c.s.env.AdvanceTime(ctx, channel.DefaultClosing().Quarantine+time.Second); err != nil {
		return Operation{}, err
	}
	m, err = channel.FinishMessage(addr)
	if err := step(c.app, m, err); err != nil {
		return Operation{}, err
	}
	return channelOperation(name, desc, c.s.names, traces...), nil
}

// channelLifecycle is the fees of open + one commit + cooperative close.
func channelLifecycle(r *Report) (int64, bool) {
	var total int64
	for _, n := range []string{"channel_open", "channel_commit", "channel_close_cooperative"} {
		op := r.op(n)
		if op == nil {
			return 0, false
		}
		total += op.TotalFees
	}
	return total, true
}

// channelMarkdown is the channel part of the gas section.
func channelMarkdown(r *Report) string {
	total, ok := channelLifecycle(r)
	if !ok {
		return ""
	}
	var b strings.Builder
	verdict := "within"
	if total > channelBudget {
		verdict = "**over**"
	}
	fmt.Fprintf(&b, "\nPayment channels (Cocoon's channel contract, contracts/channel.tolk; docs/CHANNELS.md): a channel life cycle (`channel_open` + `channel_commit` + `channel_close_cooperative`) costs %s TON in fees, %s the budget of %s TON (with the code held as a public library; `channel_open_inline_code` is the open without it). The storage reserve (0.01 TON) and the unused parts of every message's value come back and are not counted. Amortised over the requests of one life cycle:\n\n| requests per life cycle | chain fees per request (TON) |\n|---:|---:|\n", ton(total), verdict, ton(channelBudget))
	for _, n := range channelRequests {
		fmt.Fprintf(&b, "| %d | %s |\n", n, new(big.Rat).SetFrac(big.NewInt(total), big.NewInt(n*1e9)).FloatString(9))
	}
	per := new(big.Rat).SetFrac(big.NewInt(total), big.NewInt(channelRequests[0]))
	verdict = "within"
	if per.Cmp(big.NewRat(channelPerRequestBudget, 1)) > 0 {
		verdict = "**over**"
	}
	fmt.Fprintf(&b, "\nBudget: at most 0.00002 TON per request at 1,000 requests; %s.\n", verdict)
	return b.String()
}
