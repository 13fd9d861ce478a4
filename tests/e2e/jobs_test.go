package e2e

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/xssnick/tonutils-go/address"
	"github.com/xssnick/tonutils-go/tlb"
	tonwallet "github.com/xssnick/tonutils-go/ton/wallet"

	"github.com/cocoon-network/cocoon/bindings"
	"github.com/cocoon-network/cocoon/offchain/chain"
	"github.com/cocoon-network/cocoon/offchain/chain/readers"
	"github.com/cocoon-network/cocoon/offchain/chain/toncenter"
	"github.com/cocoon-network/cocoon/offchain/client"
	"github.com/cocoon-network/cocoon/offchain/wallet"
)

// app is the client side of the cluster, over HTTP like any app.
type app struct {
	net    chain.Network
	wallet *wallet.Wallet
	sdk    *client.Client
	root   *address.Address
}

func newApp(t *testing.T, c *cluster) *app {
	t.Helper()
	f, err := wallet.Load(c.client)
	if err != nil {
		t.Fatal(err)
	}
	w, err := f.Open(wallet.WithPollInterval(100 * time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	root, err := chain.ParseAddress(c.root)
	if err != nil {
		t.Fatal(err)
	}
	n := toncenter.New(c.network)
	return &app{net: n, wallet: w, root: root,
		sdk: client.New(n, client.Options{Dir: t.TempDir(), PollInterval: 100 * time.Millisecond})}
}

func (a *app) workerAddress(t *testing.T, c *cluster) *address.Address {
	t.Helper()
	var st struct {
		Worker string `json:"worker"`
	}
	cliJSON(t, &st, "worker", "status", "--config", c.workerConfig())
	w, err := chain.ParseAddress(st.Worker)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func (a *app) workerState(t *testing.T, ctx context.Context, c *cluster) *readers.WorkerStateView {
	t.Helper()
	st, err := readers.NewWorker(a.net, a.workerAddress(t, c)).WorkerState(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// receipts counts the receipts (external messages) a job processed.
func receipts(t *testing.T, ctx context.Context, n chain.Network, job *address.Address) int {
	t.Helper()
	txs, err := n.Transactions(ctx, job, chain.TxID{}, 50)
	if err != nil {
		t.Fatal(err)
	}
	count := 0
	for _, tx := range txs {
		if tx.Tx.IO.In != nil && tx.Tx.IO.In.MsgType == tlb.MsgTypeExternalIn {
			count++
		}
	}
	return count
}

// TestJobs drives one cluster of real processes through the job outcomes
// a user can meet, in an order where each leaves the next a clean start.
func TestJobs(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	c := newCluster(t)
	a := newApp(t, c)
	var prompts []string // every prompt, to look for in the data dirs at the end

	t.Run("happy path through the CLI", func(t *testing.T) {
		prompt := "cli-marker-5521 what is sealed?"
		prompts = append(prompts, "cli-marker-5521")
		out := cli(t, "job", "submit", "--network", c.network, "--wallet", c.client, "--root", c.root,
			"--model", model, "--prompt", prompt, "--max-output-tokens", "64", "--client-dir", t.TempDir())
		if !strings.Contains(out, "echo: cli-marker-5521") {
			t.Fatalf("job submit printed no answer quoting the prompt:\n%s", out)
		}
	})

	t.Run("answer larger than the inline limit travels off chain", func(t *testing.T) {
		prompts = append(prompts, "bulk-marker-8812")
		job, err := a.sdk.Submit(ctx, client.SubmitRequest{Wallet: a.wallet, Root: a.root, Model: model,
			Prompt: "bulk-marker-8812 repeat 400 words", MaxOutputTokens: 500})
		if err != nil {
			t.Fatal(err)
		}
		out, err := a.sdk.Wait(ctx, job)
		if err != nil {
			t.Fatal(err)
		}
		if out.Receipt == nil || out.Receipt.Result != nil {
			t.Fatalf("receipt should carry only the result's hash: %+v", out.Receipt)
		}
		if n := len(strings.Fields(out.Answer.Content)); n < 400 {
			t.Fatalf("answer has %d words, want at least 400", n)
		}
	})

	t.Run("a request the worker cannot open gets a failure receipt and a full refund, no slash", func(t *testing.T) {
		before := a.workerState(t, ctx, c)
		job, escrow := a.deployGarbageJob(t, ctx, c)
		waitGone(t, ctx, a.net, job)
		if n := receipts(t, ctx, a.net, job); n != 1 {
			t.Fatalf("%d receipts", n)
		}
		after := a.workerState(t, ctx, c)
		if after.JobsFailed != before.JobsFailed+1 || after.Stake.Cmp(before.Stake) != 0 || after.JobsSlashed != before.JobsSlashed {
			t.Fatalf("worker after a failure receipt: failed %d→%d, stake %s→%s, slashed %d", before.JobsFailed, after.JobsFailed, before.Stake, after.Stake, after.JobsSlashed)
		}
		refund := closedRefund(t, ctx, a, job)
		// Everything but the job's own gas comes back.
		if gas := new(big.Int).Sub(escrow, refund); gas.Sign() < 0 || gas.Cmp(big.NewInt(60_000_000)) > 0 {
			t.Fatalf("escrow %s, refund %s", escrow, refund)
		}
	})

	t.Run("worker killed mid-job and restarted sends exactly one receipt", func(t *testing.T) {
		c.worker.kill()
		c.editWorkerConfig(t, map[string]string{"token_delay": `"40ms"`})
		c.startWorker(t)
		prompts = append(prompts, "crash-marker-3317")
		job, err := a.sdk.Submit(ctx, client.SubmitRequest{Wallet: a.wallet, Root: a.root, Model: model,
			Prompt: "crash-marker-3317 repeat 150 words", MaxOutputTokens: 200})
		if err != nil {
			t.Fatal(err)
		}
		waitJobStatus(t, ctx, a.net, job.Address, bindings.JobAccepted)
		time.Sleep(1500 * time.Millisecond) // in the middle of generating
		c.worker.kill()
		if d, err := readers.NewJob(a.net, job.Address).JobData(ctx); err != nil || !d.Deployed || d.Status != bindings.JobAccepted {
			t.Fatalf("the job was not in flight when the worker was killed: %+v %v", d, err)
		}
		c.editWorkerConfig(t, map[string]string{"token_delay": `"0s"`})
		c.startWorker(t)
		out, err := a.sdk.Wait(ctx, job)
		if err != nil {
			t.Fatal(err)
		}
		if out.State != client.StateCompleted || len(strings.Fields(out.Answer.Content)) < 150 {
			t.Fatalf("after the restart: %s, %d words", out.State, len(strings.Fields(out.Answer.Content)))
		}
		if n := receipts(t, ctx, a.net, job.Address); n != 1 {
			t.Fatalf("%d receipts, want exactly 1", n)
		}
	})

	t.Run("prompts appear nowhere in clear under the worker's and the devnet's data", func(t *testing.T) {
		for _, p := range prompts {
			for _, dir := range []string{c.workerDir, c.dir + "/devnet"} {
				if hits := grepTree(t, dir, p); len(hits) > 0 {
					t.Errorf("prompt %q in clear in %v", p, hits)
				}
			}
		}
	})

	t.Run("worker gone past the deadline: refund and slash", func(t *testing.T) {
		// A worker so slow it cannot answer, which then disappears.
		c.worker.kill()
		c.editWorkerConfig(t, map[string]string{"token_delay": `"10s"`})
		c.startWorker(t)
		before := a.workerState(t, ctx, c)
		job, err := a.sdk.Submit(ctx, client.SubmitRequest{Wallet: a.wallet, Root: a.root, Model: model,
			Prompt: "nobody will answer", MaxOutputTokens: 32, Deadline: 2 * time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		waitJobStatus(t, ctx, a.net, job.Address, bindings.JobAccepted)
		c.worker.kill() // for good
		postJSON(t, c.network+"/devnet/advance", map[string]any{"seconds": 300})
		out, err := a.sdk.Refund(ctx, a.wallet, job)
		if err != nil {
			t.Fatal(err)
		}
		if out.State != client.StateExpired {
			t.Fatalf("after refund: %s (%s)", out.State, out.Reason)
		}
		after := a.workerState(t, ctx, c)
		if after.JobsSlashed != before.JobsSlashed+1 || after.Stake.Cmp(before.Stake) >= 0 {
			t.Fatalf("worker after the refund: slashed %d→%d, stake %s→%s", before.JobsSlashed, after.JobsSlashed, before.Stake, after.Stake)
		}
		if out.SlashCompensation == nil || out.SlashCompensation.Sign() <= 0 {
			t.Fatalf("no slash compensation reached the client: %+v", out)
		}
	})
}

func waitGone(t *testing.T, ctx context.Context, n chain.Network, job *address.Address) {
	t.Helper()
	for {
		acc, err := n.Account(ctx, job)
		if err == nil && acc.Status != chain.StatusActive && acc.LastTx.LT != 0 {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("job %s never closed", job)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func waitJobStatus(t *testing.T, ctx context.Context, n chain.Network, job *address.Address, want bindings.JobStatus) {
	t.Helper()
	for {
		d, err := readers.NewJob(n, job).JobData(ctx)
		if err == nil && d.Deployed && d.Status == want {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("job %s never reached %s", job, want)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// closedRefund is the value of the JobClosed message the client received.
func closedRefund(t *testing.T, ctx context.Context, a *app, job *address.Address) *big.Int {
	t.Helper()
	txs, err := a.net.Transactions(ctx, a.wallet.Address(), chain.TxID{}, 20)
	if err != nil {
		t.Fatal(err)
	}
	for _, tx := range txs {
		if tx.Tx.IO.In == nil || tx.Tx.IO.In.MsgType != tlb.MsgTypeInternal {
			continue
		}
		in := tx.Tx.IO.In.AsInternal()
		if in.SrcAddr.Equals(job) {
			if m, err := bindings.DecodeBody(in.Body); err == nil {
				if _, ok := m.(*bindings.JobClosed); ok {
					return in.Amount.Nano()
				}
			}
		}
	}
	t.Fatal("the client received no JobClosed")
	return nil
}

// deployGarbageJob deploys a job whose inline request is random bytes: no
// worker can open it. It returns the job and its escrow.
func (a *app) deployGarbageJob(t *testing.T, ctx context.Context, c *cluster) (*address.Address, *big.Int) {
	t.Helper()
	var nb [8]byte
	_, _ = rand.Read(nb[:])
	nonce := binary.BigEndian.Uint64(nb[:])
	// Jobs derive from the code Root holds (a library reference here).
	acc, err := a.net.Account(ctx, a.root)
	if err != nil {
		t.Fatal(err)
	}
	rs, err := bindings.Parse[bindings.RootStorage](acc.Data)
	if err != nil {
		t.Fatal(err)
	}
	si, err := bindings.JobStateInitWith(rs.Codes.JobCode, a.root, a.wallet.Address(), nonce)
	if err != nil {
		t.Fatal(err)
	}
	job := bindings.StateInitAddress(si)
	garbage := make([]byte, 300)
	_, _ = rand.Read(garbage)
	info, err := a.net.MasterchainInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	terms := bindings.JobTerms{
		ModelID: bindings.ModelID(model), Worker: a.workerAddress(t, c),
		PriceIn: big.NewInt(1e9), PriceOut: big.NewInt(2e9), MaxIn: 100, MaxOut: 100,
		Deadline: info.Time + 600, RequestHash: sha256.Sum256(garbage),
	}
	reqCell, err := bindings.BytesCell(garbage)
	if err != nil {
		t.Fatal(err)
	}
	body, err := bindings.Encode(bindings.JobCreate{QueryID: nonce, Terms: terms, Request: reqCell})
	if err != nil {
		t.Fatal(err)
	}
	escrow := bindings.MinEscrow(terms)
	msg := &tonwallet.Message{Mode: tonwallet.PayGasSeparately + tonwallet.IgnoreErrors, InternalMessage: &tlb.InternalMessage{
		IHRDisabled: true, Bounce: true, DstAddr: job, Amount: tlb.FromNanoTON(escrow), StateInit: si, Body: body,
	}}
	if _, err := a.wallet.Send(ctx, a.net, msg); err != nil {
		t.Fatalf("deploying the job: %v", err)
	}
	return job, escrow
}
