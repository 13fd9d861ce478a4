package client_test

import (
	"context"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/xssnick/tonutils-go/address"
	"github.com/xssnick/tonutils-go/tlb"
	tonwallet "github.com/xssnick/tonutils-go/ton/wallet"

	"github.com/cocoon-network/cocoon/bindings"
	"github.com/cocoon-network/cocoon/offchain/chain/readers"
	"github.com/cocoon-network/cocoon/offchain/client"
	"github.com/cocoon-network/cocoon/offchain/client/clienttest"
	bt "github.com/cocoon-network/cocoon/offchain/contracttest"
	"github.com/cocoon-network/cocoon/offchain/inference"
	"github.com/cocoon-network/cocoon/offchain/inference/enginetest"
	"github.com/cocoon-network/cocoon/offchain/seal"
	"github.com/cocoon-network/cocoon/offchain/wallet"
	"github.com/cocoon-network/cocoon/offchain/worker"
)

const model = "llama-3.1-8b"

// Prices of the test workers, nanoton per 1M tokens: high enough that a
// few tokens cost more than a nanoton and the fee is not zero.
const (
	priceIn  = 1_000_000_000_000 // 1000 TON per 1M input tokens
	priceOut = 3_000_000_000_000
)

type devnet struct {
	t      *testing.T
	ctx    context.Context
	net    *clienttest.Net
	wallet *wallet.Wallet
	c      *client.Client
	dir    string
	lines  chan string
}

func newDevnet(t *testing.T) *devnet {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	n := clienttest.NewNet(t, model)
	d := &devnet{t: t, ctx: ctx, net: n, dir: filepath.Join(t.TempDir(), "jobs"), lines: make(chan string, 100)}
	return d
}

// start runs the blocks and makes the app's wallet and client; workers
// are registered before it.
func (d *devnet) start() {
	d.net.Run(20 * time.Millisecond)
	d.wallet = d.net.ClientWallet("100")
	d.c = client.New(d.net.Env.Chain, client.Options{
		Dir: d.dir, PollInterval: 20 * time.Millisecond,
		Progress: func(m string) {
			select {
			case d.lines <- m:
			default:
			}
		},
	})
}

func (d *devnet) balance(a *address.Address) *big.Int {
	d.t.Helper()
	b, err := d.net.Env.Balance(d.ctx, a)
	if err != nil {
		d.t.Fatal(err)
	}
	return b
}

// done waits until w's daemon has finished job and checks how it ended.
func (d *devnet) done(t *testing.T, w *clienttest.Worker, job *address.Address, want string) {
	t.Helper()
	r, err := w.Done(d.ctx, job)
	if err != nil {
		t.Fatal(err)
	}
	if r.Outcome != want {
		t.Fatalf("worker %s ended job %s as %q (fail reason %q), want %q", w.Name, job, r.Outcome, r.FailReason, want)
	}
}

// entered waits until g holds a generation.
func (d *devnet) entered(g *enginetest.Gated) {
	d.t.Helper()
	select {
	case <-g.Entered():
	case <-d.ctx.Done():
		d.t.Fatal("no job reached the worker's engine")
	}
}

func TestDevnetHappyPath(t *testing.T) {
	d := newDevnet(t)
	cheap := d.net.NewWorker("cheap", priceIn, priceOut)
	d.net.NewWorker("dear", 2*priceIn, 2*priceOut)
	gone := d.net.NewWorker("gone", priceIn/2, priceOut/2)
	gone.Unbond()
	d.start()

	disc, err := d.c.Discover(d.ctx, d.net.Root, model)
	if err != nil {
		t.Fatal(err)
	}
	if len(disc.Workers) != 2 || len(disc.Refused) != 0 || !disc.TestMode {
		t.Fatalf("discovered %d workers, refused %v", len(disc.Workers), disc.Refused)
	}
	if w := disc.Warnings(); len(w) == 0 || !strings.Contains(w[0], "INSECURE") {
		t.Errorf("no INSECURE warning for dev evidence: %v", w)
	}

	const prompt = "What is TON? Answer in one sentence."
	before := d.balance(d.wallet.Address())
	workerBefore, err := readers.NewWorker(d.net.Env.Chain, cheap.Address).WorkerState(d.ctx)
	if err != nil {
		t.Fatal(err)
	}
	treasuryBefore := d.balance(d.net.Treasury.Address)
	owedBefore, err := readers.NewWorker(d.net.Env.Chain, cheap.Address).FeesOwed(d.ctx)
	if err != nil {
		t.Fatal(err)
	}
	job, err := d.c.Submit(d.ctx, client.SubmitRequest{Wallet: d.wallet, Root: d.net.Root, Model: model, Prompt: prompt, MaxOutputTokens: 64})
	if err != nil {
		t.Fatal(err)
	}
	if !job.Worker.Equals(cheap.Address) {
		t.Fatalf("chose %s, want the cheapest %s", job.Worker, cheap.Address)
	}
	if !job.InlineRequest {
		t.Error("a short prompt was not stored inline")
	}
	out, err := d.c.Wait(d.ctx, job)
	if err != nil {
		t.Fatal(err)
	}
	d.done(t, cheap, job.Address, worker.OutcomeCompleted)
	if out.State != client.StateCompleted || out.Answer == nil || !strings.HasPrefix(out.Answer.Content, "cocoon-reference answer:") ||
		!strings.Contains(out.Answer.Content, "echo: What is TON? Answer in one sentence.") {
		t.Fatalf("outcome %+v, answer %+v", out, out.Answer)
	}
	r := out.Receipt
	if r == nil || r.InputTokens != 7 || r.OutputTokens == 0 || r.Result == nil {
		t.Fatalf("receipt %+v", r)
	}
	t.Logf("tokens %d/%d, costs: escrow %s charge %s worker %s fee %s refund %s gas %s", r.InputTokens, r.OutputTokens, out.Costs.Escrow, out.Costs.Charge, out.Costs.WorkerPay, out.Costs.ProtocolFee, out.Costs.Refund, out.Costs.Gas)
	// The split, against the price math and the balances.
	charge := bindings.Charge(big.NewInt(priceIn), big.NewInt(priceOut), r.InputTokens, r.OutputTokens)
	fee := bindings.Fee(charge, clienttest.FeeBps)
	c := out.Costs
	if c.Charge.Cmp(charge) != 0 || c.ProtocolFee.Cmp(fee) != 0 || c.WorkerPay.Cmp(new(big.Int).Sub(charge, fee)) != 0 || fee.Sign() == 0 {
		t.Fatalf("costs %+v; want charge %s, fee %s", c, charge, fee)
	}
	if c.Escrow.Cmp(job.Escrow) != 0 || c.Deposits.Sign() != 0 || c.Gas.Sign() <= 0 || c.Gas.Cmp(bt.TON("0.05")) > 0 {
		t.Fatalf("costs %+v (escrow %s)", c, job.Escrow)
	}
	sum := new(big.Int).Add(c.Charge, c.Refund)
	if sum.Add(sum, c.Gas).Cmp(c.Escrow) != 0 {
		t.Fatalf("charge + refund + gas ≠ escrow: %+v", c)
	}
	spent := new(big.Int).Sub(before, d.balance(d.wallet.Address()))
	if walletFee := new(big.Int).Sub(spent, c.Spent()); walletFee.Sign() <= 0 || walletFee.Cmp(bt.TON("0.05")) > 0 {
		t.Errorf("the wallet spent %s, the job %s: the wallet's own fee %s is implausible", spent, c.Spent(), walletFee)
	}
	workerAfter, err := readers.NewWorker(d.net.Env.Chain, cheap.Address).WorkerState(d.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := new(big.Int).Sub(workerAfter.Earnings, workerBefore.Earnings); got.Cmp(c.WorkerPay) != 0 || workerAfter.JobsCompleted != 1 {
		t.Errorf("worker earned %s (completed %d), want %s", got, workerAfter.JobsCompleted, c.WorkerPay)
	}
	// The fee is owed to the treasury by the Worker, which sends such fees
	// in batches of bindings.ProtocolFeeBatch: this one is far below.
	owed, err := readers.NewWorker(d.net.Env.Chain, cheap.Address).FeesOwed(d.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := new(big.Int).Sub(owed, owedBefore); got.Cmp(fee) != 0 {
		t.Errorf("the worker owes the treasury %s more, want %s", got, fee)
	}
	if got := new(big.Int).Sub(d.balance(d.net.Treasury.Address), treasuryBefore); got.Sign() != 0 {
		t.Errorf("treasury got %s before any batch", got)
	}

	// What is stored: the record and the key, 0600, never the prompt or the answer.
	entries, err := os.ReadDir(d.dir)
	if err != nil || len(entries) != 2 {
		t.Fatalf("client dir: %v, %v", entries, err)
	}
	for _, e := range entries {
		p := filepath.Join(d.dir, e.Name())
		st, _ := os.Stat(p)
		raw, _ := os.ReadFile(p)
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %04o", e.Name(), st.Mode().Perm())
		}
		if strings.Contains(string(raw), "TON?") || strings.Contains(string(raw), "cocoon-reference") {
			t.Errorf("%s holds the prompt or the answer in clear", e.Name())
		}
	}
	// A later process opens the result again from the record.
	again := client.New(d.net.Env.Chain, client.Options{Dir: d.dir})
	loaded, err := again.Load(d.ctx, job.Address)
	if err != nil {
		t.Fatal(err)
	}
	st, err := again.Status(d.ctx, loaded)
	if err != nil || st.Answer == nil || st.Answer.Content != out.Answer.Content || st.Costs.Refund.Cmp(c.Refund) != 0 {
		t.Fatalf("status from the record: %+v, %v", st, err)
	}
	// Closed: neither refund nor cancel applies.
	if _, err := again.Refund(d.ctx, d.wallet, loaded); !errors.Is(err, client.ErrNotOpen) {
		t.Errorf("Refund of a completed job: %v", err)
	}
}

func TestDevnetLargeRequestAndResult(t *testing.T) {
	d := newDevnet(t)
	w := d.net.NewWorker("w", priceIn, priceOut)
	d.start()
	// Over the inline limit both ways: a long prompt, and an answer of
	// 300 words of 8 hex digits.
	prompt := "repeat 300 words " + strings.Repeat("lorem ipsum dolor sit amet ", 60)
	tests := []struct {
		name   string
		tamper bool // the worker's endpoint serves an altered result
		check  func(t *testing.T, out *client.Outcome, err error)
	}{
		{"served off chain", false, func(t *testing.T, out *client.Outcome, err error) {
			if err != nil {
				t.Fatal(err)
			}
			if out.Receipt.Result != nil || len(strings.Fields(out.Answer.Content)) != 300 {
				t.Fatalf("receipt %+v, %d words", out.Receipt, len(strings.Fields(out.Answer.Content)))
			}
		}},
		{"a tampered result is refused", true, func(t *testing.T, out *client.Outcome, err error) {
			if !errors.Is(err, client.ErrResultMismatch) || out.Answer != nil || out.State != client.StateCompleted {
				t.Fatalf("Wait: %+v, %v", out, err)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			job, err := d.c.Submit(d.ctx, client.SubmitRequest{Wallet: d.wallet, Root: d.net.Root, Model: model, Prompt: prompt, MaxOutputTokens: 400, Worker: w.Address})
			if err != nil {
				t.Fatal(err)
			}
			if job.InlineRequest {
				t.Fatal("a large prompt was stored inline")
			}
			w.TamperResults(tc.tamper)
			out, err := d.c.Wait(d.ctx, job)
			d.done(t, w, job.Address, worker.OutcomeCompleted)
			tc.check(t, out, err)
		})
	}
}

func TestDevnetFailureReceipt(t *testing.T) {
	d := newDevnet(t)
	// A worker whose engine is down answers with the code in its sealed
	// result; a worker with no free slot refuses with no result at all.
	down := d.net.NewWorkerWith("down", clienttest.WorkerOptions{PriceIn: priceIn, PriceOut: priceOut, Engine: enginetest.Failing{}})
	gate := enginetest.NewGated()
	busy := d.net.NewWorkerWith("busy", clienttest.WorkerOptions{PriceIn: priceIn, PriceOut: priceOut, Engine: gate, MaxConcurrent: 1})
	d.start()
	held, err := d.c.Submit(d.ctx, client.SubmitRequest{Wallet: d.wallet, Root: d.net.Root, Model: model, Prompt: "hold the slot", Worker: busy.Address})
	if err != nil {
		t.Fatal(err)
	}
	d.entered(gate)
	tests := []struct {
		code inference.ErrorCode
		w    *clienttest.Worker
	}{
		{inference.CodeEngineUnavailable, down},
		{"", busy},
	}
	for _, tc := range tests {
		code := tc.code
		t.Run("code "+string(code), func(t *testing.T) {
			job, err := d.c.Submit(d.ctx, client.SubmitRequest{Wallet: d.wallet, Root: d.net.Root, Model: model, Prompt: "hello", Worker: tc.w.Address})
			if err != nil {
				t.Fatal(err)
			}
			out, err := d.c.Wait(d.ctx, job)
			d.done(t, tc.w, job.Address, worker.OutcomeFailed)
			var fe *client.FailedError
			if !errors.As(err, &fe) || fe.Code != code || out.State != client.StateFailed {
				t.Fatalf("Wait: %+v, %v", out, err)
			}
			if out.Costs.Charge.Sign() != 0 || fe.Refund.Cmp(out.Costs.Refund) != 0 ||
				new(big.Int).Sub(job.Escrow, out.Costs.Refund).Cmp(bt.TON("0.05")) > 0 {
				t.Fatalf("costs %+v", out.Costs)
			}
			if code == "" && !strings.Contains(err.Error(), "could not serve") {
				t.Errorf("error %v", err)
			}
		})
	}
	// The job that held the slot is served once the engine runs.
	gate.Release()
	if out, err := d.c.Wait(d.ctx, held); err != nil || out.State != client.StateCompleted {
		t.Fatalf("Wait for the held job: %+v, %v", out, err)
	}
	d.done(t, busy, held.Address, worker.OutcomeCompleted)
}

func TestDevnetRefundAfterDeadline(t *testing.T) {
	d := newDevnet(t)
	// The worker's engine holds the job until the deadline has passed.
	gate := enginetest.NewGated()
	w := d.net.NewWorkerWith("w", clienttest.WorkerOptions{PriceIn: priceIn, PriceOut: priceOut, Engine: gate})
	d.start()
	job, err := d.c.Submit(d.ctx, client.SubmitRequest{Wallet: d.wallet, Root: d.net.Root, Model: model, Prompt: "hello", Deadline: 2 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	d.entered(gate)
	// Before the deadline a refund is refused without sending anything.
	if _, err := d.c.Refund(d.ctx, d.wallet, job); err == nil || !strings.Contains(err.Error(), "has not passed") {
		t.Fatalf("early Refund: %v", err)
	}
	if _, err := d.c.Cancel(d.ctx, d.wallet, job); err == nil || !strings.Contains(err.Error(), "accepted") {
		t.Fatalf("Cancel of an accepted job: %v", err)
	}
	d.net.Advance(3 * time.Minute)
	out, err := d.c.Wait(d.ctx, job)
	if !errors.Is(err, client.ErrDeadlinePassed) || out.State != client.StateAccepted || !out.DeadlinePassed {
		t.Fatalf("Wait past the deadline: %+v, %v", out, err)
	}
	if st, err := d.c.Status(d.ctx, job); err != nil || !st.DeadlinePassed || st.State != client.StateAccepted {
		t.Fatalf("Status past the deadline: %+v, %v", st, err)
	}
	// A receipt is now too late: the worker's is refused and the job stays open.
	gate.Release()
	for testutil.ToFloat64(w.Daemon.Metrics().ReceiptFailures) == 0 {
		select {
		case <-d.ctx.Done():
			t.Fatal("the worker never sent its late receipt")
		case <-time.After(20 * time.Millisecond):
		}
	}
	if jd, err := readers.NewJob(d.net.Env.Chain, job.Address).JobData(d.ctx); err != nil || !jd.Deployed || jd.Status != bindings.JobAccepted {
		t.Fatalf("a receipt after the deadline was taken: job %+v, %v", jd, err)
	}
	stranger := d.net.ClientWallet("1")
	before := d.balance(d.wallet.Address())
	out, err = d.c.Refund(d.ctx, stranger, job)
	if err != nil {
		t.Fatal(err)
	}
	if out.State != client.StateExpired || out.Costs.Deposits.Cmp(big.NewInt(client.CloseValue)) != 0 {
		t.Fatalf("refund outcome %+v", out)
	}
	// The compensation is at most the job's value (the rest of the slash
	// goes to the treasury).
	maxCost := bindings.Charge(job.PriceIn, job.PriceOut, job.MaxInputTokens, job.MaxOutputTokens)
	_, wantComp, _ := bindings.SlashSplit(clienttest.MinStake(), clienttest.SlashBps, maxCost)
	if out.SlashCompensation == nil || out.SlashCompensation.Cmp(wantComp) != 0 {
		t.Fatalf("slash compensation %v, want %s", out.SlashCompensation, wantComp)
	}
	// The wallet pays a small fee to receive each of the two messages.
	got := new(big.Int).Sub(d.balance(d.wallet.Address()), before)
	want := new(big.Int).Add(out.Costs.Refund, wantComp)
	if diff := new(big.Int).Sub(want, got); diff.Sign() < 0 || diff.Cmp(bt.TON("0.002")) > 0 {
		t.Errorf("the client received %s, want refund + compensation %s less receiving fees", got, want)
	}
	st, err := readers.NewWorker(d.net.Env.Chain, w.Address).WorkerState(d.ctx)
	if err != nil || st.JobsSlashed != 1 {
		t.Errorf("worker slashed %d times (%v)", st.JobsSlashed, err)
	}
	d.done(t, w, job.Address, worker.OutcomeExpired)
}

// deployByHand deploys a Job with terms the client SDK would not make
// (a worker that never answers, a price below the worker's) from the
// app's wallet, the way Submit does.
func (d *devnet) deployByHand(worker *address.Address, price *big.Int, nonce uint64) *address.Address {
	return d.deployWith(worker, price, nonce, nil)
}

// deployWith is deployByHand with a chosen escrow (nil: client.Escrow).
func (d *devnet) deployWith(worker *address.Address, price *big.Int, nonce uint64, escrow *big.Int) *address.Address {
	d.t.Helper()
	now, err := d.net.Env.Chain.MasterchainInfo(d.ctx)
	if err != nil {
		d.t.Fatal(err)
	}
	key, _ := seal.GenerateKey(seal.SuiteX25519)
	terms := bindings.JobTerms{
		ModelID: bindings.ModelID(model), Worker: worker, PriceIn: price, PriceOut: price, MaxIn: 100, MaxOut: 100,
		Deadline: now.Time + 600, ClientHPKEKey: seal.Commitment(key.Public()), RequestHash: [32]byte{1},
	}
	si, err := bindings.JobStateInit(d.net.Root, d.wallet.Address(), nonce)
	if err != nil {
		d.t.Fatal(err)
	}
	body := bindings.MustCell(bindings.Encode(bindings.JobCreate{QueryID: nonce, Terms: terms}))
	if escrow == nil {
		escrow = client.Escrow(terms)
	}
	if _, err := d.wallet.Send(d.ctx, d.net.Env.Chain, &tonwallet.Message{Mode: 3, InternalMessage: &tlb.InternalMessage{
		IHRDisabled: true, Bounce: true, DstAddr: bindings.StateInitAddress(si), Amount: tlb.FromNanoTON(escrow), Body: body, StateInit: si,
	}}); err != nil {
		d.t.Fatal(err)
	}
	return bindings.StateInitAddress(si)
}

func TestDevnetDeclineAndCancel(t *testing.T) {
	d := newDevnet(t)
	w := d.net.NewWorker("w", priceIn, priceOut)
	d.start()
	// A deployed wallet takes the offer and never answers.
	silent := d.net.Owner.Address
	stranger := d.net.ClientWallet("1")

	// Declined: the offer is below the worker's price.
	addr := d.deployByHand(w.Address, big.NewInt(1), 11)
	job, err := d.c.Load(d.ctx, addr)
	if err != nil {
		t.Fatal(err)
	}
	out, err := d.c.Wait(d.ctx, job)
	var ce *client.ClosedError
	if !errors.As(err, &ce) || out.State != client.StateDeclined || out.DeclineReason != bindings.ErrPriceTooLow ||
		!strings.Contains(err.Error(), "ERR_PRICE_TOO_LOW") {
		t.Fatalf("Wait: %+v, %v", out, err)
	}
	if out.Costs.Refund.Sign() <= 0 || out.Costs.Gas.Sign() <= 0 {
		t.Errorf("costs %+v", out.Costs)
	}

	// Cancelled: the offer sits at an address that never answers.
	addr = d.deployByHand(silent, big.NewInt(priceIn), 12)
	job, err = d.c.Load(d.ctx, addr)
	if err != nil {
		t.Fatal(err)
	}
	if job.CanOpen() {
		t.Error("a job not submitted through the client has a key")
	}
	if _, err := d.c.Cancel(d.ctx, stranger, job); err == nil || !strings.Contains(err.Error(), "only it can cancel") {
		t.Fatalf("Cancel by another wallet: %v", err)
	}
	out, err = d.c.Cancel(d.ctx, d.wallet, job)
	if err != nil {
		t.Fatal(err)
	}
	if out.State != client.StateCancelled || out.Costs.Deposits.Cmp(big.NewInt(client.CloseValue)) != 0 {
		t.Fatalf("cancel outcome %+v", out)
	}
	if _, err := d.c.Cancel(d.ctx, d.wallet, job); !errors.Is(err, client.ErrNotOpen) {
		t.Errorf("second Cancel: %v", err)
	}

	// Refused: an escrow below max cost + reserve bounces back.
	escrow := bt.TON("0.05")
	addr = d.deployWith(w.Address, big.NewInt(priceIn), 13, escrow)
	job, err = d.c.Load(d.ctx, addr)
	if err != nil {
		t.Fatal(err)
	}
	out, err = d.c.Wait(d.ctx, job)
	var cre *client.CreateError
	if !errors.As(err, &cre) || cre.Code != bindings.ErrEscrowTooLow || out.State != client.StateRefused {
		t.Fatalf("Wait for a refused job: %+v, %v", out, err)
	}
	if c := out.Costs; c.Escrow.Cmp(escrow) != 0 || c.Refund.Sign() <= 0 || c.Gas.Sign() <= 0 || new(big.Int).Add(c.Refund, c.Gas).Cmp(escrow) != 0 {
		t.Fatalf("costs of a refused job %+v", c)
	}
}

func TestDevnetDiscoveryRefusesBadEvidence(t *testing.T) {
	d := newDevnet(t)
	good := d.net.NewWorker("good", priceIn, priceOut)
	bad := d.net.NewWorker("bad", priceIn/10, priceOut/10)
	bad.ServeEvidence(good.Evidence()) // valid evidence, but not what bad's contract pins
	d.start()
	disc, err := d.c.Discover(d.ctx, d.net.Root, model)
	if err != nil {
		t.Fatal(err)
	}
	if len(disc.Workers) != 1 || !disc.Workers[0].Address.Equals(good.Address) {
		t.Fatalf("workers %v", disc.Workers)
	}
	if len(disc.Refused) != 1 || disc.Refused[0].Check != client.CheckEvidenceHash {
		t.Fatalf("refused %v", disc.Refused)
	}
	// Submitting to it explicitly is refused too, before any money moves.
	before := d.balance(d.wallet.Address())
	_, err = d.c.Submit(d.ctx, client.SubmitRequest{Wallet: d.wallet, Root: d.net.Root, Model: model, Prompt: "x", Worker: bad.Address})
	var we *client.WorkerError
	if !errors.As(err, &we) || we.Check != client.CheckEvidenceHash {
		t.Fatalf("Submit to a refused worker: %v", err)
	}
	if d.balance(d.wallet.Address()).Cmp(before) != 0 {
		t.Error("money moved for a refused worker")
	}
	// No worker for an unknown model.
	_, err = d.c.Submit(d.ctx, client.SubmitRequest{Wallet: d.wallet, Root: d.net.Root, Model: "other-model", Prompt: "x"})
	if err == nil || !strings.Contains(err.Error(), "not registered") {
		t.Fatalf("Submit for an unknown model: %v", err)
	}
}
