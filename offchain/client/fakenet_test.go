package client

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"sync"
	"testing"

	"github.com/xssnick/tonutils-go/address"
	"github.com/xssnick/tonutils-go/tlb"
	"github.com/xssnick/tonutils-go/tvm/cell"

	"github.com/cocoon-network/cocoon/bindings"
	"github.com/cocoon-network/cocoon/offchain/chain"
)

// fakeNet is a chain.Network made of fixed answers: get-methods by
// (address, method), transaction histories built from synthetic
// transactions, and a clock. It lets the client's reading of the chain be
// tested without contracts; the devnet tests run the same code against
// the real ones.
type fakeNet struct {
	mu       sync.Mutex
	now      uint32
	lt       uint64
	accounts map[string]*chain.Account
	txs      map[string][]*chain.Transaction // oldest first
	getters  map[string]func(args []any) ([]any, error)
}

var _ chain.Network = (*fakeNet)(nil)

func newFakeNet(now uint32) *fakeNet {
	return &fakeNet{now: now, lt: 1000, accounts: map[string]*chain.Account{}, txs: map[string][]*chain.Transaction{}, getters: map[string]func([]any) ([]any, error){}}
}

func (f *fakeNet) setNow(t uint32) { f.mu.Lock(); f.now = t; f.mu.Unlock() }

// get registers a get-method answer.
func (f *fakeNet) get(a *address.Address, method string, fn func(args []any) ([]any, error)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.getters[a.StringRaw()+" "+method] = fn
	if _, ok := f.accounts[a.StringRaw()]; !ok {
		f.accounts[a.StringRaw()] = &chain.Account{Address: a, Status: chain.StatusActive, Balance: big.NewInt(1e9)}
	}
}

// addTx appends a transaction to a's history.
func (f *fakeNet) addTx(a *address.Address, tx *tlb.Transaction) *chain.Transaction {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lt += 10
	key := a.StringRaw()
	t := &chain.Transaction{Account: a, ID: chain.TxID{LT: f.lt, Hash: []byte(fmt.Sprintf("%032d", f.lt))}, Now: f.now, Tx: tx}
	if prev := f.txs[key]; len(prev) > 0 {
		t.PrevID = prev[len(prev)-1].ID
	}
	tx.LT, tx.Now = t.ID.LT, f.now
	f.txs[key] = append(f.txs[key], t)
	return t
}

func (f *fakeNet) Account(_ context.Context, a *address.Address) (*chain.Account, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if acc, ok := f.accounts[a.StringRaw()]; ok {
		return acc, nil
	}
	return &chain.Account{Address: a, Status: chain.StatusNonexist, Balance: new(big.Int)}, nil
}

func (f *fakeNet) RunGetMethod(_ context.Context, a *address.Address, method string, args ...any) ([]any, error) {
	f.mu.Lock()
	fn, ok := f.getters[a.StringRaw()+" "+method]
	f.mu.Unlock()
	if !ok {
		return nil, &chain.GetMethodError{Method: method, ExitCode: 11}
	}
	return fn(args)
}

func (f *fakeNet) SendExternal(context.Context, []byte) ([]byte, error) {
	return nil, errors.New("fakeNet: sending is not supported")
}

func (f *fakeNet) Transactions(_ context.Context, a *address.Address, from chain.TxID, limit int) ([]*chain.Transaction, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	all := f.txs[a.StringRaw()]
	i := len(all) - 1
	if !from.IsZero() {
		for i >= 0 && all[i].ID.LT != from.LT {
			i--
		}
	}
	var out []*chain.Transaction
	for ; i >= 0 && len(out) < limit; i-- {
		out = append(out, all[i])
	}
	return out, nil
}

func (f *fakeNet) MasterchainInfo(context.Context) (*chain.MasterchainInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return &chain.MasterchainInfo{Seqno: 1, Time: f.now}, nil
}

func (f *fakeNet) EstimateFee(context.Context, *address.Address, *cell.Cell, *cell.Cell, *cell.Cell, bool) (*chain.Fees, error) {
	return nil, errors.New("fakeNet: no fee estimates")
}

// ---- synthetic transactions ------------------------------------------------

// testAddr is a deterministic address for name.
func testAddr(name string) *address.Address {
	h := bindings.ModelID("addr " + name)
	return address.NewAddress(0, 0, h[:])
}

func addrSlice(a *address.Address) *cell.Slice { return cell.BeginCell().MustStoreAddr(a).ToSlice() }

func u256(v [32]byte) *big.Int { return new(big.Int).SetBytes(v[:]) }

func boolInt(b bool) *big.Int {
	if b {
		return big.NewInt(-1)
	}
	return big.NewInt(0)
}

func mustCell(t testing.TB, m bindings.Message) *cell.Cell {
	t.Helper()
	c, err := bindings.Encode(m)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// internal is an internal message (as a tlb.Message and its cell).
func internal(t testing.TB, from, to *address.Address, nano int64, body *cell.Cell, bounced bool) (*tlb.Message, *cell.Cell) {
	t.Helper()
	if body == nil {
		body = cell.BeginCell().EndCell()
	}
	im := &tlb.InternalMessage{
		IHRDisabled: true, Bounce: !bounced, Bounced: bounced, SrcAddr: from, DstAddr: to,
		Amount: tlb.FromNanoTONU(uint64(nano)), IHRFee: tlb.ZeroCoins, FwdFee: tlb.ZeroCoins, Body: body,
	}
	c, err := tlb.ToCell(im)
	if err != nil {
		t.Fatal(err)
	}
	return &tlb.Message{MsgType: tlb.MsgTypeInternal, Msg: im}, c
}

// externalOut is an event cell.
func externalOut(t testing.TB, from *address.Address, body *cell.Cell) *cell.Cell {
	t.Helper()
	c, err := tlb.ToCell(&tlb.ExternalMessageOut{SrcAddr: from, DstAddr: address.NewAddressNone(), Body: body})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// externalIn is an inbound external message.
func externalIn(to *address.Address, body *cell.Cell) *tlb.Message {
	return &tlb.Message{MsgType: tlb.MsgTypeExternalIn, Msg: &tlb.ExternalMessage{DstAddr: to, ImportFee: tlb.ZeroCoins, Body: body}}
}

// synthTx is a transaction with in, outs and a compute phase ending in exit.
func synthTx(t testing.TB, in *tlb.Message, exit int32, bounced bool, outs ...*cell.Cell) *tlb.Transaction {
	t.Helper()
	vm := tlb.ComputePhaseVM{Success: exit == 0 || exit == 1, GasFees: tlb.ZeroCoins}
	vm.Details.ExitCode = exit
	d := tlb.TransactionDescriptionOrdinary{ComputePhase: tlb.ComputePhase{Phase: vm}, Aborted: !vm.Success}
	if bounced {
		d.BouncePhase = &tlb.BouncePhase{Phase: tlb.BouncePhaseOk{}}
	}
	tx := &tlb.Transaction{Description: d}
	tx.IO.In = in
	if len(outs) > 0 {
		dict := cell.NewDict(15)
		for i, c := range outs {
			if err := dict.SetIntKey(big.NewInt(int64(i)), cell.BeginCell().MustStoreRef(c).EndCell()); err != nil {
				t.Fatal(err)
			}
		}
		tx.IO.Out = &tlb.MessagesList{List: dict}
	}
	return tx
}
