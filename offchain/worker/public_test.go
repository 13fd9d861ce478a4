package worker

import (
	"context"
	"crypto/sha256"
	"math/big"
	"testing"
	"time"

	"github.com/xssnick/tonutils-go/address"
	"github.com/xssnick/tonutils-go/tlb"
	tonwallet "github.com/xssnick/tonutils-go/ton/wallet"
	"github.com/xssnick/tonutils-go/tvm/cell"

	"github.com/cocoon-network/cocoon/bindings"
	"github.com/cocoon-network/cocoon/contracts"
	"github.com/cocoon-network/cocoon/offchain/inference"
	"github.com/cocoon-network/cocoon/offchain/seal"
)

// TestWorkerServesPublicJobToContract: the running daemon serves a public
// job (prompt and answer in clear) whose callback is a contract — the
// example consumer of docs/ORACLE.md — and the contract ends up holding
// the answer, readable on chain.
func TestWorkerServesPublicJobToContract(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	n := setupNet(t, ctx)
	d := startWorker(t, ctx, n)
	consumer := deployConsumer(t, ctx, n)

	ck, err := seal.GenerateKey(seal.SuiteX25519)
	if err != nil {
		t.Fatal(err)
	}
	chat := &inference.ChatRequest{V: inference.PlaintextVersion, Model: testModel, MaxTokens: 32,
		Messages: []inference.Message{{Role: "user", Content: "What is TON?"}}, ResultKey: ck.Public().Marshal()}
	env, err := chat.Marshal() // public: the envelope is the plaintext
	if err != nil {
		t.Fatal(err)
	}
	now, _ := n.e.MasterchainInfo(ctx)
	terms := bindings.JobTerms{
		ModelID: bindings.ModelID(testModel), Worker: workerAddr(t, n, d.id),
		PriceIn: big.NewInt(5e8), PriceOut: big.NewInt(15e8), MaxIn: 1000, MaxOut: 32,
		Deadline: now.Time + 600, ClientHPKEKey: seal.Commitment(ck.Public()), RequestHash: sha256.Sum256(env),
		Callback: consumer, IsPublic: true,
	}
	job := deployJob(t, ctx, n, terms, env, 77)

	r := waitClosed(t, ctx, n, job)
	if r.Failed || r.Result == nil {
		t.Fatalf("receipt: failed=%v inline result=%v", r.Failed, r.Result != nil)
	}
	vals, err := n.e.RunGetMethod(ctx, consumer, "answer")
	if err != nil || len(vals) != 4 || vals[0].(*big.Int).Sign() == 0 {
		t.Fatalf("answer() = %v, %v", vals, err)
	}
	result, _ := vals[3].(*cell.Cell)
	if result == nil {
		t.Fatal("the contract holds no inline result")
	}
	b, err := bindings.CellBytes(result, bindings.InlineResultLimit)
	if err != nil {
		t.Fatal(err)
	}
	res, err := inference.ParseChatResult(b) // in clear: no key needed
	if err != nil || res.Content == "" {
		t.Fatalf("the contract's answer is not a clear result: %v", err)
	}
	t.Logf("the contract holds the answer %q", res.Content)
}

// deployJob deploys a Job of the client wallet with terms and the request
// inline.
func deployJob(t *testing.T, ctx context.Context, n *testNet, terms bindings.JobTerms, env []byte, nonce uint64) *address.Address {
	t.Helper()
	reqCell, err := bindings.BytesCell(env)
	if err != nil {
		t.Fatal(err)
	}
	body := bindings.MustCell(bindings.Encode(bindings.JobCreate{QueryID: nonce, Terms: terms, Request: reqCell}))
	code := rootJobCode(t, ctx, n)
	si, err := bindings.JobStateInitWith(code, n.root, n.client.Address(), nonce)
	if err != nil {
		t.Fatal(err)
	}
	job := bindings.StateInitAddress(si)
	escrow := new(big.Int).Add(bindings.MaxCost(terms), big.NewInt(1e8))
	msg := &tonwallet.Message{Mode: tonwallet.PayGasSeparately + tonwallet.IgnoreErrors, InternalMessage: &tlb.InternalMessage{
		IHRDisabled: true, Bounce: true, DstAddr: job, Amount: tlb.FromNanoTON(escrow), StateInit: si, Body: body,
	}}
	if _, err := n.client.Send(ctx, n.e, msg); err != nil {
		t.Fatalf("deploying the job: %v", err)
	}
	return job
}

func rootJobCode(t *testing.T, ctx context.Context, n *testNet) *cell.Cell {
	t.Helper()
	acc, err := n.e.Account(ctx, n.root)
	if err != nil {
		t.Fatal(err)
	}
	st, err := bindings.Parse[bindings.RootStorage](acc.Data)
	if err != nil {
		t.Fatal(err)
	}
	return st.Codes.JobCode
}

// deployConsumer deploys contracts/examples/consumer.tolk owned by the
// client wallet.
func deployConsumer(t *testing.T, ctx context.Context, n *testNet) *address.Address {
	t.Helper()
	data := cell.BeginCell().MustStoreAddr(n.client.Address()).MustStoreAddr(n.root).MustStoreRef(rootJobCode(t, ctx, n)).
		MustStoreUInt(0, 64).MustStoreUInt(0, 2).MustStoreBoolBit(false).EndCell()
	si := &tlb.StateInit{Code: contracts.MustCode("example_consumer"), Data: data}
	addr := bindings.StateInitAddress(si)
	msg := &tonwallet.Message{Mode: tonwallet.PayGasSeparately + tonwallet.IgnoreErrors, InternalMessage: &tlb.InternalMessage{
		IHRDisabled: true, DstAddr: addr, Amount: tlb.FromNanoTON(big.NewInt(2e8)), StateInit: si,
	}}
	if _, err := n.client.Send(ctx, n.e, msg); err != nil {
		t.Fatalf("deploying the consumer: %v", err)
	}
	return addr
}
