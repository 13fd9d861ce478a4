package client_test

import (
	"bytes"
	"math/big"
	"testing"
	"time"

	"github.com/xssnick/tonutils-go/address"
	"github.com/xssnick/tonutils-go/tlb"
	tonwallet "github.com/xssnick/tonutils-go/ton/wallet"
	"github.com/xssnick/tonutils-go/tvm/cell"

	"github.com/cocoon-network/cocoon/bindings"
	"github.com/cocoon-network/cocoon/contracts"
	"github.com/cocoon-network/cocoon/offchain/chain/readers"
	"github.com/cocoon-network/cocoon/offchain/client"
	"github.com/cocoon-network/cocoon/offchain/client/clienttest"
	bt "github.com/cocoon-network/cocoon/offchain/contracttest"
	"github.com/cocoon-network/cocoon/offchain/inference"
	"github.com/cocoon-network/cocoon/offchain/inference/enginetest"
	"github.com/cocoon-network/cocoon/offchain/worker"
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
	out, err := d.c.Wait(d.ctx, job)
	d.done(t, w, job.Address, worker.OutcomeCompleted)
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
	st, err := bindings.Parse[bindings.RootStorage](acc.Data)
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

// TestDevnetPublicJobToContract: a public job carries the prompt and gets
// the answer in clear, so the contract it calls back holds a readable
// answer; the SDK reads it without a key.
func TestDevnetPublicJobToContract(t *testing.T) {
	d := newDevnet(t)
	// The engine holds the answer until the request was read on chain: the
	// daemon serves at once, and a completed Job is gone.
	gate := enginetest.NewGated()
	w := d.net.NewWorkerWith("w", clienttest.WorkerOptions{PriceIn: priceIn, PriceOut: priceOut, Engine: gate})
	d.start()
	consumer := d.deployConsumer()
	const prompt = "What is TON?"

	job, err := d.c.Submit(d.ctx, client.SubmitRequest{Wallet: d.wallet, Root: d.net.Root, Model: model, Prompt: prompt, Callback: consumer, Public: true})
	if err != nil {
		t.Fatal(err)
	}
	if !job.Public || !job.CanOpen() {
		t.Fatalf("job public %v, can open %v", job.Public, job.CanOpen())
	}
	// The request is on chain in clear.
	rc, err := readers.NewJob(d.net.Env.Chain, job.Address).Request(d.ctx)
	if err != nil || rc == nil {
		t.Fatalf("request() = %v, %v", rc, err)
	}
	if req, err := bindings.CellBytes(rc, client.MaxEnvelopeSize); err != nil || !bytes.Contains(req, []byte(prompt)) {
		t.Fatalf("the public request on chain does not hold the prompt in clear: %v", err)
	}
	d.entered(gate)
	gate.Release()
	out, err := d.c.Wait(d.ctx, job)
	d.done(t, w, job.Address, worker.OutcomeCompleted)
	if err != nil || out.State != client.StateCompleted || out.Answer == nil || out.Answer.Content == "" {
		t.Fatalf("Wait: %+v, %v", out, err)
	}
	vals, err := d.net.Env.Chain.RunGetMethod(d.ctx, consumer, "answer")
	if err != nil || len(vals) != 4 || vals[0].(*big.Int).Sign() == 0 {
		t.Fatalf("answer() = %v, %v", vals, err)
	}
	result, _ := vals[3].(*cell.Cell)
	if result == nil {
		t.Fatal("the contract holds no inline result")
	}
	b, err := bindings.CellBytes(result, client.MaxEnvelopeSize)
	if err != nil {
		t.Fatal(err)
	}
	res, err := inference.ParseChatResult(b)
	if err != nil || res.Content != out.Answer.Content {
		t.Fatalf("the contract's answer %q (%v), the client's %q", res.Content, err, out.Answer.Content)
	}
	// Anyone can read a public job's answer, without the key.
	other := client.New(d.net.Env.Chain, client.Options{Dir: t.TempDir(), PollInterval: 20 * time.Millisecond})
	loaded, err := other.Load(d.ctx, job.Address)
	if err != nil || !loaded.Public {
		t.Fatalf("Load by another client: %+v, %v", loaded, err)
	}
	if st, err := other.Status(d.ctx, loaded); err != nil || st.Answer == nil || st.Answer.Content != out.Answer.Content {
		t.Fatalf("Status by another client: %+v, %v", st, err)
	}
}
