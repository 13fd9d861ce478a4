package e2e

import (
	"context"
	"encoding/json"
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
)

// TestOracle: the on-chain AI oracle end to end (docs/ORACLE.md). The app
// deploys the example consumer contract, submits a public job with the
// consumer as callback through the CLI, the running worker answers, and the
// consumer holds the answer in clear.
func TestOracle(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c := newCluster(t)
	a := newApp(t, c)
	consumer := a.deployConsumer(t, ctx)

	var res struct {
		State  string  `json:"state"`
		Public bool    `json:"public"`
		Answer *string `json:"answer"`
	}
	cliJSON(t, &res, "job", "submit", "--network", c.network, "--wallet", c.client, "--root", c.root, "--model", model,
		"--prompt", "oracle-marker-3307 what is TON?", "--max-output-tokens", "32", "--client-dir", t.TempDir(),
		"--callback", consumer.String(), "--public", "--json")
	if res.State != "completed" || !res.Public || res.Answer == nil {
		t.Fatalf("job submit --callback --public: %+v", res)
	}

	// The consumer's answer(): the same answer, readable by anyone.
	var vals []any
	for {
		var err error
		if vals, err = a.net.RunGetMethod(ctx, consumer, "answer"); err == nil && len(vals) == 4 && vals[0].(*big.Int).Sign() != 0 {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the consumer never got an answer: %v", vals)
		case <-time.After(200 * time.Millisecond):
		}
	}
	result, _ := vals[3].(*cell.Cell)
	if result == nil {
		t.Fatal("the consumer holds no inline result")
	}
	b, err := bindings.CellBytes(result, bindings.InlineResultLimit)
	if err != nil {
		t.Fatal(err)
	}
	got, err := inference.ParseChatResult(b)
	if err != nil || got.Content != *res.Answer {
		t.Fatalf("the consumer holds %q (%v), the CLI printed %q", got.Content, err, *res.Answer)
	}
	raw, _ := json.Marshal(got.Content)
	t.Logf("the consumer contract holds the answer %s", raw)
}

// deployConsumer deploys contracts/examples/consumer.tolk owned by the
// app's wallet, deriving jobs from the Job code Root holds.
func (a *app) deployConsumer(t *testing.T, ctx context.Context) *address.Address {
	t.Helper()
	acc, err := a.net.Account(ctx, a.root)
	if err != nil {
		t.Fatal(err)
	}
	rs, err := bindings.Parse[bindings.RootStorage](acc.Data)
	if err != nil {
		t.Fatal(err)
	}
	data := cell.BeginCell().MustStoreAddr(a.wallet.Address()).MustStoreAddr(a.root).MustStoreRef(rs.Codes.JobCode).
		MustStoreUInt(0, 64).MustStoreUInt(0, 2).MustStoreBoolBit(false).EndCell()
	si := &tlb.StateInit{Code: contracts.MustCode("example_consumer"), Data: data}
	addr := bindings.StateInitAddress(si)
	msg := &tonwallet.Message{Mode: tonwallet.PayGasSeparately + tonwallet.IgnoreErrors, InternalMessage: &tlb.InternalMessage{
		IHRDisabled: true, DstAddr: addr, Amount: tlb.FromNanoTON(big.NewInt(2e8)), StateInit: si,
	}}
	if _, err := a.wallet.Send(ctx, a.net, msg); err != nil {
		t.Fatalf("deploying the consumer: %v", err)
	}
	return addr
}
