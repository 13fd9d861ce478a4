package devnet

import (
	"bytes"
	"context"
	"errors"
	"math/big"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/xssnick/tonutils-go/address"
	"github.com/xssnick/tonutils-go/tlb"
	"github.com/xssnick/tonutils-go/tvm/cell"

	"github.com/cocoon-network/cocoon/bindings"
	"github.com/cocoon-network/cocoon/contracts"
	"github.com/cocoon-network/cocoon/offchain/chain"
)

func relayInit(id uint32, next *address.Address) (*tlb.StateInit, *address.Address) {
	si := bindings.RelayStateInit(id, next)
	return si, bindings.StateInitAddress(si)
}

func deployMsg(si *tlb.StateInit, to *address.Address, amount int64) *tlb.InternalMessage {
	return &tlb.InternalMessage{IHRDisabled: true, Bounce: false, DstAddr: to, Amount: tlb.FromNanoTONU(uint64(amount)), StateInit: si, Body: cell.BeginCell().EndCell()}
}

func getInt(t *testing.T, e *Engine, a *address.Address, method string) int64 {
	t.Helper()
	res, err := e.RunGetMethod(context.Background(), a, method)
	if err != nil {
		t.Fatalf("%s on %s: %v", method, a, err)
	}
	if len(res) != 1 {
		t.Fatalf("%s returned %d values", method, len(res))
	}
	v, ok := res[0].(*big.Int)
	if !ok {
		t.Fatalf("%s returned %T", method, res[0])
	}
	return v.Int64()
}

// deployRelays deploys relays C (last), B (→C) and A (→B) from the wallet
// and returns A, B, C.
func deployRelays(t testing.TB, e *Engine, w *testWallet, seqno uint32) [3]*address.Address {
	t.Helper()
	siC, c := relayInit(3, nil)
	siB, b := relayInit(2, c)
	siA, a := relayInit(1, b)
	boc := w.send(t, seqno, deployMsg(siC, c, 100_000_000), deployMsg(siB, b, 100_000_000), deployMsg(siA, a, 100_000_000))
	if _, err := e.SendExternal(context.Background(), boc); err != nil {
		t.Fatal(err)
	}
	if err := e.Settle(context.Background(), 5); err != nil {
		t.Fatal(err)
	}
	return [3]*address.Address{a, b, c}
}

func TestDeployAndGetMethod(t *testing.T) {
	e := openTest(t, "")
	w := newTestWallet(t, 1)
	fund(t, e, w.addr, 10_000_000_000)
	si, addr := relayInit(42, nil)
	if _, err := e.SendExternal(context.Background(), w.send(t, 0, deployMsg(si, addr, 50_000_000))); err != nil {
		t.Fatal(err)
	}
	if err := e.Settle(context.Background(), 5); err != nil {
		t.Fatal(err)
	}
	acc, err := e.Account(context.Background(), addr)
	if err != nil {
		t.Fatal(err)
	}
	if acc.Status != chain.StatusActive || !bytes.Equal(acc.Code.Hash(), si.Code.Hash()) {
		t.Fatalf("relay after deploy: status %s", acc.Status)
	}
	if got := getInt(t, e, addr, "id"); got != 42 {
		t.Errorf("id() = %d, want 42", got)
	}
	// The deploying message itself counts.
	if got := getInt(t, e, addr, "counter"); got != 1 {
		t.Errorf("counter() = %d, want 1", got)
	}
	next, err := e.RunGetMethod(context.Background(), addr, "next")
	if err != nil || len(next) != 1 || next[0] != nil {
		t.Errorf("next() = %v, %v; want null", next, err)
	}
	// A method the contract does not have fails with TVM's exit code 11.
	_, err = e.RunGetMethod(context.Background(), addr, "no_such_method")
	var gm *chain.GetMethodError
	if !errors.As(err, &gm) || gm.ExitCode != 11 {
		t.Errorf("unknown method: %v, want exit code 11", err)
	}
}

func TestThreeContractChain(t *testing.T) {
	e := openTest(t, "")
	w := newTestWallet(t, 1)
	fund(t, e, w.addr, 10_000_000_000)
	r := deployRelays(t, e, w, 0)
	// Deploying C, B, A in that order: C counts 3 (its deploy, B's, A's), B 2, A 1.
	base := [3]int64{getInt(t, e, r[0], "counter"), getInt(t, e, r[1], "counter"), getInt(t, e, r[2], "counter")}
	if base != [3]int64{1, 2, 3} {
		t.Fatalf("counters after deploy %v, want [1 2 3]", base)
	}
	before := balance(t, e, r[2])
	if _, err := e.SendExternal(context.Background(), w.transfer(t, 1, r[0], 50_000_000, true)); err != nil {
		t.Fatal(err)
	}
	blk, err := e.ProduceBlock(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// wallet + A + B + C, all in the same block.
	if blk.Txs != 4 {
		t.Errorf("block had %d transactions, want 4", blk.Txs)
	}
	for i, a := range r {
		if got := getInt(t, e, a, "counter"); got != base[i]+1 {
			t.Errorf("relay %d counter %d, want %d", i, got, base[i]+1)
		}
	}
	// The last relay keeps what arrived minus its own fees.
	cTx := lastTx(t, e, r[2])
	in := cTx.Tx.IO.In.AsInternal().Amount.Nano()
	want := new(big.Int).Add(before, in)
	want.Sub(want, cTx.Tx.TotalFees.Coins.Nano())
	if got := balance(t, e, r[2]); got.Cmp(want) != 0 {
		t.Errorf("last relay balance %s, want %s", got, want)
	}
	// Each hop's inbound message is the previous hop's outbound one, with
	// strictly increasing logical time.
	aTx, bTx := lastTx(t, e, r[0]), lastTx(t, e, r[1])
	if !(aTx.ID.LT < bTx.ID.LT && bTx.ID.LT < cTx.ID.LT) {
		t.Errorf("logical times not increasing along the chain: %d %d %d", aTx.ID.LT, bTx.ID.LT, cTx.ID.LT)
	}
}

func TestBounceFromNonexistentAccount(t *testing.T) {
	e := openTest(t, "")
	w := newTestWallet(t, 1)
	fund(t, e, w.addr, 10_000_000_000)
	ghost := address.NewAddress(0, 0, bytes.Repeat([]byte{0xab}, 32))
	const value = 1_000_000_000
	if _, err := e.SendExternal(context.Background(), w.transfer(t, 0, ghost, value, true)); err != nil {
		t.Fatal(err)
	}
	if err := e.Settle(context.Background(), 5); err != nil {
		t.Fatal(err)
	}
	// The ghost account only passed the value back: it stays nonexistent.
	acc, err := e.Account(context.Background(), ghost)
	if err != nil {
		t.Fatal(err)
	}
	if acc.Status != chain.StatusNonexist || acc.Balance.Sign() != 0 {
		t.Errorf("bounced-from account: %s with %s", acc.Status, acc.Balance)
	}
	txs, err := e.Transactions(context.Background(), w.addr, chain.TxID{}, 10)
	if err != nil {
		t.Fatal(err)
	}
	// funding, the transfer, the bounce
	if len(txs) != 3 {
		t.Fatalf("wallet has %d transactions, want 3", len(txs))
	}
	bounce := txs[0].Tx.IO.In.AsInternal()
	if !bounce.Bounced {
		t.Fatal("newest wallet transaction is not the bounce")
	}
	ghostTx := lastTx(t, e, ghost)
	out, _ := ghostTx.Tx.IO.Out.ToSlice()
	if len(out) != 1 {
		t.Fatalf("ghost transaction sent %d messages", len(out))
	}
	// The value comes back minus the ghost's transaction fees and the bounce's forwarding fee.
	want := new(big.Int).Sub(big.NewInt(value), ghostTx.Tx.TotalFees.Coins.Nano())
	want.Sub(want, out[0].AsInternal().FwdFee.Nano())
	if got := bounce.Amount.Nano(); got.Cmp(want) != 0 {
		t.Errorf("bounced value %s, want %s", got, want)
	}
	if bounce.Amount.Nano().Cmp(big.NewInt(value)) >= 0 {
		t.Errorf("bounce returned %s, no fees taken", bounce.Amount.Nano())
	}
}

func TestRestartKeepsState(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	e, err := Open(ctx, Options{Dir: dir, Clock: FixedClock(genesisTime)})
	if err != nil {
		t.Fatal(err)
	}
	w := newTestWallet(t, 1)
	fund(t, e, w.addr, 3_000_000_000)
	if err := e.AdvanceTime(3600e9); err != nil {
		t.Fatal(err)
	}
	if _, err := e.ProduceBlock(ctx); err != nil {
		t.Fatal(err)
	}
	info, _ := e.MasterchainInfo(ctx)
	bal := balance(t, e, w.addr)
	last := lastTx(t, e, w.addr)
	genesis := e.GenesisAddress()
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}

	e2 := openTest(t, dir)
	info2, _ := e2.MasterchainInfo(ctx)
	if diff := cmp.Diff(*info, *info2); diff != "" {
		t.Errorf("head after restart (-before +after):\n%s", diff)
	}
	if info2.Time != uint32(genesisTime.Unix())+3600 {
		t.Errorf("time after restart %d: the advanced clock was lost", info2.Time)
	}
	if got := balance(t, e2, w.addr); got.Cmp(bal) != 0 {
		t.Errorf("balance after restart %s, want %s", got, bal)
	}
	if got := lastTx(t, e2, w.addr); !bytes.Equal(got.ID.Hash, last.ID.Hash) {
		t.Error("history changed across restart")
	}
	if !e2.GenesisAddress().Equals(genesis) {
		t.Error("faucet wallet changed across restart")
	}
	// The faucet still works: its key survived.
	fund(t, e2, w.addr, 1_000_000_000)
}

func TestBadInputLeavesStateUnchanged(t *testing.T) {
	e := openTest(t, "")
	ctx := context.Background()
	w := newTestWallet(t, 1)
	fund(t, e, w.addr, 3_000_000_000)
	info, _ := e.MasterchainInfo(ctx)
	bal := balance(t, e, w.addr)

	other := newTestWallet(t, 9) // signs for the wrong key
	forged := other.transfer(t, 0, w.addr, 1, false)
	// Re-target the forged message at w: the signature no longer matches.
	fc, _ := cell.FromBOC(forged)
	var ext tlb.ExternalMessage
	if err := tlb.LoadFromCell(&ext, fc.BeginParse()); err != nil {
		t.Fatal(err)
	}
	ext.DstAddr = w.addr
	ext.StateInit = nil
	wrongKey, _ := tlb.ToCell(&ext)

	internal, _ := tlb.ToCell(deployMsg(nil, w.addr, 1))
	cases := []struct {
		name string
		boc  []byte
	}{
		{"not a BOC", []byte("definitely not a bag of cells")},
		{"empty", nil},
		{"truncated BOC", w.transfer(t, 0, w.addr, 1, false)[:40]},
		{"internal message", internal.ToBOC()},
		{"wrong signature", wrongKey.ToBOC()},
		{"bad workchain", func() []byte {
			ext := tlb.ExternalMessage{DstAddr: address.NewAddress(0, 7, make([]byte, 32)), Body: cell.BeginCell().EndCell()}
			c, _ := tlb.ToCell(&ext)
			return c.ToBOC()
		}()},
		{"to nonexistent account", func() []byte {
			ext := tlb.ExternalMessage{DstAddr: address.NewAddress(0, 0, make([]byte, 32)), Body: cell.BeginCell().EndCell()}
			c, _ := tlb.ToCell(&ext)
			return c.ToBOC()
		}()},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := e.SendExternal(ctx, tc.boc); err == nil {
				t.Fatal("accepted")
			} else {
				t.Logf("refused: %v", err)
			}
		})
	}
	blk, err := e.ProduceBlock(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if blk.Txs != 0 {
		t.Errorf("refused messages produced %d transactions", blk.Txs)
	}
	if got := balance(t, e, w.addr); got.Cmp(bal) != 0 {
		t.Errorf("balance changed to %s", got)
	}
	if info2, _ := e.MasterchainInfo(ctx); info2.Seqno != info.Seqno+1 {
		t.Errorf("seqno %d, want %d", info2.Seqno, info.Seqno+1)
	}
}

// A contract whose code is a public library's reference runs the library:
// its StateInit carries 33 bytes instead of the code.
func TestPublicLibrary(t *testing.T) {
	dir := t.TempDir()
	e := openTest(t, dir)
	ctx := context.Background()
	w := newTestWallet(t, 1)
	fund(t, e, w.addr, 10_000_000_000)

	full := bindings.RelayStateInit(7, nil)
	si := &tlb.StateInit{Code: contracts.LibraryRef(full.Code), Data: full.Data}
	addr := bindings.StateInitAddress(si)

	// Before the library is published the code cannot be loaded.
	if _, err := e.SendExternal(ctx, w.send(t, 0, deployMsg(si, addr, 50_000_000))); err != nil {
		t.Fatal(err)
	}
	if err := e.Settle(ctx, 5); err != nil {
		t.Fatal(err)
	}
	if code, ran := chain.ComputeExitCode(lastTx(t, e, addr)); ran && code == 0 {
		t.Fatal("a contract ran a library nobody published")
	}
	if _, err := e.RunGetMethod(ctx, addr, "id"); err == nil {
		t.Fatal("a get-method ran a library nobody published")
	}

	if err := e.PublishLibrary(full.Code); err != nil {
		t.Fatal(err)
	}
	if _, err := e.SendExternal(ctx, w.send(t, 1, deployMsg(si, addr, 50_000_000))); err != nil {
		t.Fatal(err)
	}
	if err := e.Settle(ctx, 5); err != nil {
		t.Fatal(err)
	}
	acc, err := e.Account(ctx, addr)
	if err != nil || acc.Status != chain.StatusActive {
		t.Fatalf("library-coded contract after deploy: %v %v", acc.Status, err)
	}
	if got := getInt(t, e, addr, "id"); got != 7 {
		t.Fatalf("get-method through the library: id %d", got)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	// The library survives a restart, for get-methods (the sandbox) and
	// for transactions (block production's own emulator).
	e2 := openTest(t, dir)
	if got := getInt(t, e2, addr, "id"); got != 7 {
		t.Fatalf("after restart: id %d", got)
	}
	if _, err := e2.SendExternal(ctx, w.send(t, 2, deployMsg(si, addr, 50_000_000))); err != nil {
		t.Fatal(err)
	}
	if err := e2.Settle(ctx, 5); err != nil {
		t.Fatal(err)
	}
	if code, ran := chain.ComputeExitCode(lastTx(t, e2, addr)); !ran || code != 0 {
		t.Fatalf("a message to the library-coded contract after restart: exit code %d (ran %v)", code, ran)
	}
}
