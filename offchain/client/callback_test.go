package client_test

import (
	"bytes"
	"math/big"
	"testing"

	"github.com/xssnick/tonutils-go/address"
	"github.com/xssnick/tonutils-go/tlb"
	tonwallet "github.com/xssnick/tonutils-go/ton/wallet"
	"github.com/xssnick/tonutils-go/tvm/cell"

	"github.com/cocoon-network/cocoon/bindings"
	bt "github.com/cocoon-network/cocoon/bindings/bindingstest"
	"github.com/cocoon-network/cocoon/contracts"
	"github.com/cocoon-network/cocoon/offchain/client"
	"github.com/cocoon-network/cocoon/offchain/client/clienttest"
)

// TestDevnetCallbackToContract: a job submitted with a Callback delivers
// its answer to a contract — the example consumer of docs/ORACLE.md, owned
// by the submitting wallet — which keeps the result's hash and the sealed
// result the wallet (only) can open.
func TestDevnetCallbackToContract(t *testing.T) {
	d := newDevnet(t)
	w := d.net.NewWorker("w", priceIn, priceOut)
	d.start()
	consumer := d.deployConsumer()

	job, err := d.c.Submit(d.ctx, client.SubmitRequest{Wallet: d.wallet, Root: d.net.Root, Model: model, Prompt: "hello", Callback: consumer})
	if err != nil {
		t.Fatal(err)
	}
	served := d.serve(w, job.Address, clienttest.Behaviour{})
	out, err := d.c.Wait(d.ctx, job)
	if serr := <-served; serr != nil {
		t.Fatal(serr)
	}
	if err != nil || out.State != client.StateCompleted || out.Answer == nil {
		t.Fatalf("Wait: %+v, %v", out, err)
	}
	vals, err := d.net.Env.Chain.RunGetMethod(d.ctx, consumer, "answer")
	if err != nil || len(vals) != 4 || vals[0].(*big.Int).Sign() == 0 {
		t.Fatalf("answer() = %v, %v", vals, err)
	}
	if got := vals[1].(*cell.Slice).MustLoadAddr(); !got.Equals(job.Address) {
		t.Errorf("the answer is from %s, not the job %s", got, job.Address)
	}
	var h [32]byte
	vals[2].(*big.Int).FillBytes(h[:])
	result, _ := vals[3].(*cell.Cell)
	if h != out.Receipt.ResultHash || result == nil || !bytes.Equal(result.Hash(), out.Receipt.Result.Hash()) {
		t.Errorf("the contract holds result hash %x, the receipt %x", h, out.Receipt.ResultHash)
	}

	// A callback no message can reach is refused before anything is sent.
	bad := address.NewAddress(0, 5, make([]byte, 32))
	if _, err := d.c.Submit(d.ctx, client.SubmitRequest{Wallet: d.wallet, Root: d.net.Root, Model: model, Prompt: "hello", Callback: bad}); err == nil {
		t.Error("a callback in workchain 5 was accepted")
	}
}

// deployConsumer deploys contracts/examples/consumer.tolk owned by the
// app's wallet, deriving jobs from the Job code Root holds.
func (d *devnet) deployConsumer() *address.Address {
	d.t.Helper()
	acc, err := d.net.Env.Chain.Account(d.ctx, d.net.Root)
	if err != nil {
		d.t.Fatal(err)
	}
	st, err := bindings.ParseRootStorage(acc.Data)
	if err != nil {
		d.t.Fatal(err)
	}
	data := cell.BeginCell().MustStoreAddr(d.wallet.Address()).MustStoreAddr(d.net.Root).MustStoreRef(st.Codes.JobCode).
		MustStoreUInt(0, 64).MustStoreUInt(0, 2).MustStoreBoolBit(false).EndCell()
	si := &tlb.StateInit{Code: contracts.MustCode("example_consumer"), Data: data}
	addr := bindings.StateInitAddress(si)
	if _, err := d.wallet.Send(d.ctx, d.net.Env.Chain, &tonwallet.Message{Mode: 3, InternalMessage: &tlb.InternalMessage{
		IHRDisabled: true, Bounce: false, DstAddr: addr, Amount: tlb.FromNanoTON(bt.TON("0.2")), StateInit: si,
	}}); err != nil {
		d.t.Fatal(err)
	}
	return addr
}
