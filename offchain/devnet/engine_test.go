package devnet

import (
	"context"
	"crypto/ed25519"
	"log/slog"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xssnick/tonutils-go/address"
	"github.com/xssnick/tonutils-go/tlb"
	"github.com/xssnick/tonutils-go/ton/wallet"
	"github.com/xssnick/tonutils-go/tvm/cell"

	"github.com/cocoon-network/cocoon/offchain/chain"
)

var genesisTime = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func openTest(t *testing.T, dir string) *Engine {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	e, err := Open(context.Background(), Options{Dir: dir, Clock: FixedClock(genesisTime), Logger: testLogger(t)})
	if err != nil {
		t.Fatalf("opening devnet: %v", err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// testWallet is a wallet v5r1 signed in the test, so engine tests do not
// depend on the wallet package built on top of them.
type testWallet struct {
	key  ed25519.PrivateKey
	w    *wallet.Wallet
	addr *address.Address
}

func newTestWallet(t testing.TB, seed byte) *testWallet {
	t.Helper()
	s := make([]byte, ed25519.SeedSize)
	s[0] = seed
	key := ed25519.NewKeyFromSeed(s)
	w, err := wallet.FromPrivateKeyWithOptions(key, wallet.ConfigV5R1Final{NetworkGlobalID: -239})
	if err != nil {
		t.Fatal(err)
	}
	return &testWallet{key: key, w: w, addr: w.WalletAddress()}
}

// transfer builds the signed external message; seqno 0 deploys the wallet.
func (tw *testWallet) transfer(t testing.TB, seqno uint32, to *address.Address, amount int64, bounce bool) []byte {
	t.Helper()
	return tw.send(t, seqno, &tlb.InternalMessage{
		IHRDisabled: true, Bounce: bounce, DstAddr: to, Amount: tlb.FromNanoTONU(uint64(amount)), Body: cell.BeginCell().EndCell(),
	})
}

// send builds a signed external message carrying the internal messages.
func (tw *testWallet) send(t testing.TB, seqno uint32, msgs ...*tlb.InternalMessage) []byte {
	t.Helper()
	spec := tw.w.GetSpec().(*wallet.SpecV5R1Final)
	spec.SetSeqnoFetcher(func(context.Context, uint32) (uint32, error) { return seqno, nil })
	spec.SetMessagesTTL(uint32(time.Until(genesisTime.Add(24*time.Hour)).Seconds()) + 3600)
	var wm []*wallet.Message
	for _, m := range msgs {
		wm = append(wm, &wallet.Message{Mode: wallet.PayGasSeparately + wallet.IgnoreErrors, InternalMessage: m})
	}
	ext, err := tw.w.PrepareExternalMessageForMany(context.Background(), seqno == 0, wm)
	if err != nil {
		t.Fatal(err)
	}
	c, err := tlb.ToCell(ext)
	if err != nil {
		t.Fatal(err)
	}
	return c.ToBOC()
}

func balance(t *testing.T, e *Engine, a *address.Address) *big.Int {
	t.Helper()
	acc, err := e.Account(context.Background(), a)
	if err != nil {
		t.Fatal(err)
	}
	return acc.Balance
}

func fund(t *testing.T, e *Engine, a *address.Address, nano int64) *chain.Transaction {
	t.Helper()
	done, err := e.FaucetAsync(a, big.NewInt(nano))
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Settle(context.Background(), 5); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.err != nil {
		t.Fatalf("faucet: %v", r.err)
	}
	return r.tx
}

func lastTx(t *testing.T, e *Engine, a *address.Address) *chain.Transaction {
	t.Helper()
	txs, err := e.Transactions(context.Background(), a, chain.TxID{}, 1)
	if err != nil || len(txs) != 1 {
		t.Fatalf("last transaction of %s: %v (%d)", a, err, len(txs))
	}
	return txs[0]
}

func TestGenesisAndFaucet(t *testing.T) {
	e := openTest(t, "")
	gen := balance(t, e, e.GenesisAddress())
	if gen.Sign() <= 0 {
		t.Fatalf("faucet wallet balance %s", gen)
	}
	w := newTestWallet(t, 1)
	tx := fund(t, e, w.addr, 5_000_000_000)
	if tx == nil || tx.ID.LT == 0 {
		t.Fatalf("faucet returned no transaction: %+v", tx)
	}
	acc, err := e.Account(context.Background(), w.addr)
	if err != nil {
		t.Fatal(err)
	}
	if acc.Status != chain.StatusUninit {
		t.Fatalf("funded wallet status %s, want uninit", acc.Status)
	}
	if acc.Balance.Int64() != 5_000_000_000 {
		t.Fatalf("funded wallet balance %s, want 5 TON exactly", acc.Balance)
	}
}

func TestWalletTransfer(t *testing.T) {
	e := openTest(t, "")
	ctx := context.Background()
	a, b := newTestWallet(t, 1), newTestWallet(t, 2)
	fund(t, e, a.addr, 10_000_000_000)
	fund(t, e, b.addr, 1_000_000_000)
	// Deploy b so that it is an active wallet receiving a transfer.
	if _, err := e.SendExternal(ctx, b.transfer(t, 0, a.addr, 1, false)); err != nil {
		t.Fatal(err)
	}
	if err := e.Settle(ctx, 5); err != nil {
		t.Fatal(err)
	}
	aBefore, bBefore := balance(t, e, a.addr), balance(t, e, b.addr)

	const value = 2_000_000_000
	if _, err := e.SendExternal(ctx, a.transfer(t, 0, b.addr, value, true)); err != nil {
		t.Fatalf("sending first transfer: %v", err)
	}
	if err := e.Settle(ctx, 5); err != nil {
		t.Fatal(err)
	}
	aTx, bTx := lastTx(t, e, a.addr), lastTx(t, e, b.addr)
	out, err := aTx.Tx.IO.Out.ToSlice()
	if err != nil || len(out) != 1 {
		t.Fatalf("sender out messages: %v %d", err, len(out))
	}
	fwd := out[0].AsInternal().FwdFee.Nano()
	aFees := aTx.Tx.TotalFees.Coins.Nano()
	bFees := bTx.Tx.TotalFees.Coins.Nano()

	// Sender pays value + its transaction fees + the forwarding fee of the message.
	wantA := new(big.Int).Sub(aBefore, big.NewInt(value))
	wantA.Sub(wantA, aFees).Sub(wantA, fwd)
	if got := balance(t, e, a.addr); got.Cmp(wantA) != 0 {
		t.Errorf("sender balance %s, want %s (fees %s, fwd %s)", got, wantA, aFees, fwd)
	}
	// Receiver gets value minus its own transaction fees.
	wantB := new(big.Int).Add(bBefore, big.NewInt(value))
	wantB.Sub(wantB, bFees)
	if got := balance(t, e, b.addr); got.Cmp(wantB) != 0 {
		t.Errorf("receiver balance %s, want %s (fees %s)", got, wantB, bFees)
	}
	if acc, _ := e.Account(ctx, a.addr); acc.Status != chain.StatusActive {
		t.Errorf("sender status %s after first transfer, want active", acc.Status)
	}
	seq, err := e.RunGetMethod(ctx, a.addr, "seqno")
	if err != nil || len(seq) != 1 || seq[0].(*big.Int).Int64() != 1 {
		t.Fatalf("seqno after one transfer: %v %v", seq, err)
	}

	// Replaying the same signed message is refused before it reaches a block.
	if _, err := e.SendExternal(ctx, a.transfer(t, 0, b.addr, value, true)); err == nil {
		t.Fatal("replayed transfer was accepted")
	}
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// Get-methods run outside the engine's lock; Close must wait for those in
// flight before it frees the emulator (a get-method on a freed emulator
// crashed a test process in C), and later ones fail with an error.
func TestCloseWhileGetMethodsRun(t *testing.T) {
	e := openTest(t, t.TempDir())
	ctx := context.Background()
	var wg sync.WaitGroup
	started := make(chan struct{}, 4)
	for range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				if _, err := e.RunGetMethod(ctx, e.GenesisAddress(), "seqno"); err != nil {
					if !strings.Contains(err.Error(), "closed") {
						t.Errorf("get-method while closing: %v, want an error saying the devnet is closed", err)
					}
					return
				}
				if i == 0 {
					started <- struct{}{}
				}
			}
		})
	}
	for range 4 {
		<-started
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
}
