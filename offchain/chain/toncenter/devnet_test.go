package toncenter_test

import (
	"bytes"
	"context"
	"errors"
	"math/big"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/xssnick/tonutils-go/address"
	"github.com/xssnick/tonutils-go/tvm/cell"

	"github.com/cocoon-network/cocoon/offchain/chain"
	"github.com/cocoon-network/cocoon/offchain/chain/toncenter"
	"github.com/cocoon-network/cocoon/offchain/devnet"
	"github.com/cocoon-network/cocoon/offchain/devnet/httpapi"
	"github.com/cocoon-network/cocoon/offchain/wallet"
	"github.com/cocoon-network/cocoon/offchain/wallet/wallettest"
)

// TestAgainstDevnetServer runs the toncenter client against the devnet's
// HTTP API: both sides of the wire are ours, so each method is checked
// against the in-process engine's own answer.
func TestAgainstDevnetServer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	e, err := devnet.Open(ctx, devnet.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	srv := httptest.NewServer(httpapi.New(e, nil).Handler())
	defer srv.Close()
	go e.Run(ctx, 20*time.Millisecond)
	c := toncenter.New(srv.URL)

	w := wallettest.Funded(t, ctx, wallettest.Faucet(e), big.NewInt(5_000_000_000), wallet.WithPollInterval(10*time.Millisecond))
	acc, err := c.Account(ctx, w.Address())
	if err != nil {
		t.Fatal(err)
	}
	if acc.Status != chain.StatusUninit || acc.Balance.Int64() != 5_000_000_000 {
		t.Fatalf("funded wallet over HTTP: %s %s", acc.Status, acc.Balance)
	}

	// A transfer through the client: sent, included, and seen by the wallet's wait.
	to := address.NewAddress(0, 0, bytes.Repeat([]byte{3}, 32))
	tx, err := w.Transfer(ctx, c, to, big.NewInt(1_000_000_000), "hello", false)
	if err != nil {
		t.Fatalf("transfer over HTTP: %v", err)
	}
	want, err := e.Transactions(ctx, w.Address(), chain.TxID{}, 1)
	if err != nil {
		t.Fatal(err)
	}
	if tx.ID.LT != want[0].ID.LT || !bytes.Equal(tx.ID.Hash, want[0].ID.Hash) {
		t.Errorf("transfer transaction %d, engine's newest %d", tx.ID.LT, want[0].ID.LT)
	}

	res, err := c.RunGetMethod(ctx, w.Address(), "seqno")
	if err != nil || len(res) != 1 || res[0].(*big.Int).Int64() != 1 {
		t.Fatalf("seqno over HTTP: %v %v", res, err)
	}
	var gm *chain.GetMethodError
	if _, err := c.RunGetMethod(ctx, w.Address(), "no_such_method"); !errors.As(err, &gm) || gm.ExitCode != 11 {
		t.Errorf("unknown get-method over HTTP: %v", err)
	}

	// History paging over HTTP matches the engine.
	page, err := c.Transactions(ctx, w.Address(), chain.TxID{}, 10)
	if err != nil || len(page) != 2 {
		t.Fatalf("history over HTTP: %d, %v", len(page), err)
	}
	older, err := c.Transactions(ctx, w.Address(), page[0].PrevID, 10)
	if err != nil || len(older) != 1 || older[0].ID.LT != page[1].ID.LT {
		t.Fatalf("second page over HTTP: %v %v", older, err)
	}

	// A replayed message is refused with the engine's reason.
	if _, err := c.SendExternal(ctx, []byte("garbage")); err == nil {
		t.Error("garbage BOC accepted over HTTP")
	}
	info, err := c.MasterchainInfo(ctx)
	if err != nil || info.Seqno == 0 || info.Time == 0 {
		t.Errorf("masterchain info over HTTP: %+v %v", info, err)
	}
	fees, err := c.EstimateFee(ctx, w.Address(), cell.BeginCell().EndCell(), nil, nil, true)
	if err == nil {
		t.Errorf("an empty body is not a wallet message, yet the fee estimate succeeded: %+v", fees)
	}

	// Watch works over HTTP too: it sees both transactions once, oldest first.
	var seen []uint64
	wctx, stop := context.WithCancel(ctx)
	err = chain.WatchWith(wctx, c, []*address.Address{w.Address()}, chain.Cursor{}, chain.WatchOptions{Poll: 10 * time.Millisecond}, func(tx *chain.Transaction) error {
		seen = append(seen, tx.ID.LT)
		if len(seen) == 2 {
			stop()
		}
		return nil
	})
	if !errors.Is(err, context.Canceled) || len(seen) != 2 || seen[0] != page[1].ID.LT || seen[1] != page[0].ID.LT {
		t.Errorf("watch over HTTP: %v, saw %v", err, seen)
	}

	// Tests move devnet time ahead of the wall clock (to pass deadlines):
	// wallet messages must stay valid at chain time.
	if err := e.AdvanceTime(48 * time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, err := e.ProduceBlock(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Transfer(ctx, c, to, big.NewInt(1_000), "", false); err != nil {
		t.Fatalf("transfer after moving devnet time two days ahead: %v", err)
	}
}
