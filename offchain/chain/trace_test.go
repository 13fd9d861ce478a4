package chain_test

import (
	"bytes"
	"context"
	"math/big"
	"testing"
	"time"

	"github.com/xssnick/tonutils-go/address"

	"github.com/cocoon-network/cocoon/offchain/chain"
)

// A message is followed from the transaction that sent it to the one it
// caused, by cell hash: the basis of every "wait for the result" in Cocoon.
func TestFollowMessage(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	e := openDevnet(ctx, t)
	defer e.Close()
	to := address.NewAddress(0, 0, bytes.Repeat([]byte{5}, 32))
	done, err := e.FaucetAsync(to, big.NewInt(123))
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Settle(ctx, 3); err != nil {
		t.Fatal(err)
	}
	if r := <-done; r.Err() != nil {
		t.Fatal(r.Err())
	}
	sent, err := e.Transactions(ctx, e.GenesisAddress(), chain.TxID{}, 1)
	if err != nil {
		t.Fatal(err)
	}
	outs, err := chain.OutMsgCells(sent[0])
	if err != nil || len(outs) != 1 {
		t.Fatalf("faucet transaction out messages: %d, %v", len(outs), err)
	}
	got, err := chain.WaitForInbound(ctx, e, to, outs[0].Hash(), 0, time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if h, _ := chain.InMsgHash(got); !bytes.Equal(h, outs[0].Hash()) {
		t.Fatal("found a transaction with another inbound message")
	}
	// A message that never arrives: the wait ends with the context, saying so.
	short, stop := context.WithTimeout(ctx, 50*time.Millisecond)
	defer stop()
	if _, err := chain.WaitForInbound(short, e, to, make([]byte, 32), 0, time.Millisecond); err == nil {
		t.Fatal("waiting for a message that was never sent succeeded")
	}
}
