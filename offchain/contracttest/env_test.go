package contracttest

import (
	"context"
	"math/big"
	"testing"

	"github.com/xssnick/tonutils-go/address"

	"github.com/cocoon-network/cocoon/bindings"
	"github.com/cocoon-network/cocoon/offchain/devnet"
)

// openBare opens an Env without the Cocoon codes: these tests check the
// helpers themselves on the relay contract, which is always compiled.
func openBare(t *testing.T) *Env {
	t.Helper()
	e, err := devnet.Open(context.Background(), devnet.Options{Dir: t.TempDir(), Clock: devnet.FixedClock(Genesis())})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return &Env{Chain: e}
}

func TestWalletSendAndTrace(t *testing.T) {
	ctx := context.Background()
	env := openBare(t)
	a, err := env.NewWallet(ctx, "a", TON("10"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := env.NewWallet(ctx, "b", nil)
	if err != nil {
		t.Fatal(err)
	}
	if a.Address.Equals(b.Address) {
		t.Fatal("two names gave one wallet")
	}
	// A relay chain A → B → C deployed and then pinged: the trace holds
	// every hop, and balances move exactly by values and fees.
	siC := bindings.RelayStateInit(3, nil)
	c := bindings.StateInitAddress(siC)
	siB := bindings.RelayStateInit(2, c)
	rb := bindings.StateInitAddress(siB)
	siA := bindings.RelayStateInit(1, rb)
	ra := bindings.StateInitAddress(siA)
	if _, err := a.Send(ctx, Deploy(siC, TON("0.1"), nil), Deploy(siB, TON("0.1"), nil), Deploy(siA, TON("0.1"), nil)); err != nil {
		t.Fatal(err)
	}
	accounts := []*address.Address{a.Address, b.Address, ra, rb, c}
	before := sum(t, env, accounts)
	toB := Message(b.Address, TON("1"), nil)
	toB.Bounce = false // b is not deployed: a bounceable transfer would come back
	tr, err := a.Send(ctx, Message(ra, TON("0.05"), nil), toB)
	if err != nil {
		t.Fatal(err)
	}
	// wallet, A, B, C, b (b's deploy is not needed to receive)
	if len(tr.Txs) != 5 || len(tr.Msgs) != 4 {
		t.Fatalf("trace has %d transactions and %d messages, want 5 and 4:\n%s", len(tr.Txs), len(tr.Msgs), tr)
	}
	if !tr.Txs[0].Account.Equals(a.Address) {
		t.Fatal("trace does not start at the wallet")
	}
	if got := len(tr.On(c)); got != 1 {
		t.Fatalf("relay C has %d transactions in the trace", got)
	}
	after := sum(t, env, accounts)
	// Nothing created or lost: what the accounts hold less is what the trace burnt.
	if diff := new(big.Int).Sub(before, after); diff.Cmp(tr.Cost()) != 0 {
		t.Fatalf("balances fell by %s, the trace burnt %s", diff, tr.Cost())
	}
	for i, g := range tr.Gas() {
		// b's transaction has no compute phase: b has no code yet.
		if _, ran := ExitCode(tr.Txs[i]); ran != (g > 0) {
			t.Errorf("transaction %d: gas %d, compute phase ran: %v", i, g, ran)
		}
	}
	// A refused external message changes nothing and says why.
	boc, err := b.Sign(ctx, Message(a.Address, TON("100"), nil)) // b is not deployed and has 1 TON: accepted
	if err != nil {
		t.Fatal(err)
	}
	if _, err := env.SendExternal(ctx, boc); err != nil {
		t.Fatal(err)
	}
	if _, err := env.SendExternal(ctx, boc); err == nil {
		t.Fatal("a replayed wallet message was accepted")
	}
	// The 100 TON transfer was skipped: Send reports it.
	if _, err := b.Send(ctx, Message(a.Address, TON("100"), nil)); err == nil {
		t.Fatal("a skipped transfer was not reported")
	}
}

func TestAdvanceTime(t *testing.T) {
	ctx := context.Background()
	env := openBare(t)
	now, err := env.Now(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if now != uint32(Genesis().Unix()) {
		t.Fatalf("now %d, want genesis %d", now, Genesis().Unix())
	}
	if err := env.AdvanceTime(ctx, 3600e9); err != nil {
		t.Fatal(err)
	}
	if now2, _ := env.Now(ctx); now2 != now+3600 {
		t.Fatalf("after an hour: %d, want %d", now2, now+3600)
	}
}

func TestTON(t *testing.T) {
	for in, want := range map[string]int64{"1": 1e9, "0.05": 5e7, "1.000000001": 1_000_000_001, "0": 0} {
		if got := TON(in); got.Int64() != want {
			t.Errorf("TON(%q) = %s, want %d", in, got, want)
		}
	}
}

func sum(t *testing.T, env *Env, addrs []*address.Address) *big.Int {
	t.Helper()
	s := new(big.Int)
	for _, a := range addrs {
		b, err := env.Balance(context.Background(), a)
		if err != nil {
			t.Fatal(err)
		}
		s.Add(s, b)
	}
	return s
}
