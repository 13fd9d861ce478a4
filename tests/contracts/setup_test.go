// Package contracts_test runs every flow of docs/CONTRACTS.md on the
// devnet engine (the real TVM, mainnet config) against the compiled
// contracts embedded from contracts/build, and checks each refusal by its
// named exit code.
package contracts_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"fmt"
	"math/big"
	"testing"
	"time"

	"github.com/xssnick/tonutils-go/address"
	"github.com/xssnick/tonutils-go/tlb"
	"github.com/xssnick/tonutils-go/tvm/cell"

	"github.com/cocoon-network/cocoon/bindings"
	"github.com/cocoon-network/cocoon/offchain/chain"
	"github.com/cocoon-network/cocoon/offchain/chain/readers"
	bt "github.com/cocoon-network/cocoon/offchain/contracttest"
)

// Constants every test shares.
var (
	modelName   = "llama-3-8b"
	modelID     = bindings.ModelID(modelName)
	otherModel  = bindings.ModelID("mistral-7b")
	tdxMeas     = hash("tdx measurement")
	devMeas     = hash("dev measurement")
	snpMeas     = hash("sev-snp measurement")
	priceIn     = big.NewInt(1_000_000_000) // 1 TON per 1M input tokens
	priceOut    = big.NewInt(3_000_000_000) // 3 TON per 1M output tokens
	minPriceIn  = big.NewInt(500_000_000)
	minPriceOut = big.NewInt(1_500_000_000)
	minStake    = bt.TON("10")
	opValue     = bt.TON("0.05") // value sent with owner and worker operations
)

const (
	unbondingDelay = 86400 // one day
	feeBps         = 250   // 2.5%
	slashBps       = 1000  // 10%
	minDeadline    = 60
	maxDeadline    = 43200 // below the unbonding delay, as Root requires
)

func hash(s string) [32]byte { return bindings.ModelID(s) }

// unreachable is a well-formed address no message can reach (workchain 5).
var unreachable = address.NewAddress(0, 5, bytes.Repeat([]byte{0x55}, 32))

// fixture is a devnet with a Root deployed by its owner, one TDX
// measurement, one dev measurement and one model allowed.
type fixture struct {
	t        *testing.T
	ctx      context.Context
	env      *bt.Env
	owner    *bt.Wallet
	treasury *bt.Wallet
	root     *address.Address
	rootC    *readers.Root
	params   bindings.RootParams
}

func defaultParams(treasury *address.Address) bindings.RootParams {
	return bindings.RootParams{
		MinWorkerStake: minStake,
		UnbondingDelay: unbondingDelay,
		ProtocolFeeBps: feeBps,
		Treasury:       treasury,
		MinJobDeadline: minDeadline,
		MaxJobDeadline: maxDeadline,
		SlashBps:       slashBps,
		TestMode:       false,
	}
}

func newFixture(t *testing.T, adjust ...func(*bindings.RootParams)) *fixture {
	t.Helper()
	ctx := context.Background()
	f := &fixture{t: t, ctx: ctx, env: bt.NewT(t)}
	f.owner = f.wallet("owner", "1000")
	f.treasury = f.wallet("treasury", "1")
	f.params = defaultParams(f.treasury.Address)
	for _, a := range adjust {
		a(&f.params)
	}
	si, err := bindings.RootStateInit(f.owner.Address, f.params, f.env.Codes)
	if err != nil {
		// Params Root's SetParams refuses (an attack test's): a Root
		// deployed around the check, with its data written by hand.
		t.Logf("deploying a Root with params it would refuse to set: %v", err)
		data, eerr := bindings.Encode(bindings.RootStorage{Owner: f.owner.Address, Params: f.params,
			Codes: bindings.ChildCodes{WorkerCode: f.env.Codes.Worker, JobCode: f.env.Codes.Job}})
		if eerr != nil {
			t.Fatal(eerr)
		}
		si = &tlb.StateInit{Code: f.env.Codes.Root, Data: data}
	}
	f.root = bindings.StateInitAddress(si)
	f.rootC = readers.NewRoot(f.env.Chain, f.root)
	f.send(f.owner, bt.Deploy(si, bt.TON("1"), nil))
	if st := f.status(f.root); st != chain.StatusActive {
		t.Fatalf("root is %s after deploy", st)
	}
	f.ownerOps(
		bindings.AddMeasurement{QueryID: 1, TEE: bindings.TEETDX, Measurement: tdxMeas},
		bindings.AddMeasurement{QueryID: 2, TEE: bindings.TEEDev, Measurement: devMeas},
		bindings.AddModel{QueryID: 3, ModelID: modelID, Info: bindings.ModelInfo{WeightsHash: hash("weights"), MinPriceIn: minPriceIn, MinPriceOut: minPriceOut}},
	)
	return f
}

func (f *fixture) wallet(name, ton string) *bt.Wallet {
	f.t.Helper()
	w, err := f.env.NewWallet(f.ctx, name, bt.TON(ton))
	if err != nil {
		f.t.Fatal(err)
	}
	return w
}

// send sends msgs from w and fails the test if the wallet did not send them.
func (f *fixture) send(w *bt.Wallet, msgs ...*tlb.InternalMessage) *bt.Trace {
	f.t.Helper()
	tr, err := w.Send(f.ctx, msgs...)
	if err != nil {
		if tr != nil {
			f.t.Logf("trace:\n%s", tr)
		}
		f.t.Fatal(err)
	}
	return tr
}

// ownerOps sends owner operations to Root, each in its own transaction,
// and requires each to succeed.
func (f *fixture) ownerOps(ops ...bindings.Message) {
	f.t.Helper()
	for _, op := range ops {
		tr := f.send(f.owner, bt.Message(f.root, opValue, bt.Body(op)))
		f.noFailures(tr)
	}
}

// noFailures requires every transaction of the trace to succeed.
func (f *fixture) noFailures(tr *bt.Trace) {
	f.t.Helper()
	if fs := tr.Failures(); len(fs) > 0 {
		f.t.Fatalf("%s failed with %s; trace:\n%s", fs[0].Tx.Account, fs[0].Code, tr)
	}
	if b := tr.Bounces(); len(b) > 0 {
		f.t.Fatalf("unexpected bounce to %s; trace:\n%s", b[0].To, tr)
	}
}

// refused requires that addr refused a message in the trace (the first
// of its transactions that failed) with code.
func (f *fixture) refused(tr *bt.Trace, addr *address.Address, code bindings.ExitCode) {
	f.t.Helper()
	f.refusedWithAny(tr, addr, []bindings.ExitCode{code})
}

// refusedWithAny is refused for checks whose order is not specified.
func (f *fixture) refusedWithAny(tr *bt.Trace, addr *address.Address, codes []bindings.ExitCode) {
	f.t.Helper()
	for _, fl := range tr.Failures() {
		if !fl.Tx.Account.Equals(addr) {
			continue
		}
		for _, c := range codes {
			if fl.Code == c {
				return
			}
		}
		f.t.Fatalf("%s exited with %s, want one of %v; trace:\n%s", addr, fl.Code, codes, tr)
	}
	f.t.Fatalf("%s refused nothing, want %v; trace:\n%s", addr, codes, tr)
}

// bouncedTo requires exactly one bounce, to addr, returning value minus at
// most the refusing transaction's costs.
func (f *fixture) bouncedTo(tr *bt.Trace, addr *address.Address, sent *big.Int) {
	f.t.Helper()
	b := tr.Bounces()
	if len(b) != 1 || !b[0].To.Equals(addr) {
		f.t.Fatalf("want one bounce to %s, got %d; trace:\n%s", addr, len(b), tr)
	}
	if b[0].Value.Cmp(sent) >= 0 || new(big.Int).Sub(sent, b[0].Value).Cmp(bt.TON("0.01")) > 0 {
		f.t.Fatalf("bounce returned %s of %s", b[0].Value, sent)
	}
}

func (f *fixture) status(addr *address.Address) chain.AccountStatus {
	f.t.Helper()
	st, err := f.env.Status(f.ctx, addr)
	if err != nil {
		f.t.Fatal(err)
	}
	return st
}

func (f *fixture) balance(addr *address.Address) *big.Int {
	f.t.Helper()
	b, err := f.env.Balance(f.ctx, addr)
	if err != nil {
		f.t.Fatal(err)
	}
	return b
}

// gone requires that no account exists at addr (closed and destroyed) and
// that it holds nothing.
func (f *fixture) gone(addr *address.Address) {
	f.t.Helper()
	acc, err := f.env.Chain.Account(f.ctx, addr)
	if err != nil {
		f.t.Fatal(err)
	}
	if acc.Status == chain.StatusActive || acc.Balance.Sign() != 0 {
		f.t.Fatalf("%s is %s with %s nanoton, want gone", addr, acc.Status, acc.Balance)
	}
}

// unused requires that a refused deploy left nothing behind at addr but,
// possibly, an empty shell: TON installs a StateInit before running the
// code, and keeps it when the code then fails, so the account may be
// active, with no balance and exactly the initial data.
func (f *fixture) unused(addr *address.Address, initial *cell.Cell) {
	f.t.Helper()
	acc, err := f.env.Chain.Account(f.ctx, addr)
	if err != nil {
		f.t.Fatal(err)
	}
	if acc.Balance.Sign() != 0 {
		f.t.Fatalf("%s holds %s nanoton after a refused deploy", addr, acc.Balance)
	}
	if acc.Status == chain.StatusActive && !bytes.Equal(acc.Data.Hash(), initial.Hash()) {
		f.t.Fatalf("%s has other data than its initial data after a refused deploy", addr)
	}
}

func (f *fixture) now() uint32 {
	f.t.Helper()
	n, err := f.env.Now(f.ctx)
	if err != nil {
		f.t.Fatal(err)
	}
	return n
}

// applyChange applies Root's announced change: ApplyChange is refused
// until the timelock has passed, then anyone may send it.
func (f *fixture) applyChange() {
	f.t.Helper()
	anyone := f.wallet("anyone applying", "1")
	tr := f.send(anyone, bt.Message(f.root, opValue, bt.Body(bindings.ApplyChange{QueryID: 1})))
	f.refused(tr, f.root, bindings.ErrTimelockNotOver)
	if err := f.env.AdvanceTime(f.ctx, bindings.ChangeTimelock*time.Second); err != nil {
		f.t.Fatal(err)
	}
	v := f.version()
	tr = f.send(anyone, bt.Message(f.root, opValue, bt.Body(bindings.ApplyChange{QueryID: 2})))
	f.noFailures(tr)
	if got := f.version(); got != v+1 {
		f.t.Errorf("version %d after ApplyChange, want %d", got, v+1)
	}
	if pc, err := f.rootC.PendingChange(f.ctx); err != nil || pc.Announced {
		f.t.Errorf("pending_change() after ApplyChange: %+v, %v", pc, err)
	}
}

// agreed is the AgreedTerms hash of Root's current params and job code:
// what a worker registering now agrees to.
func (f *fixture) agreed() [32]byte {
	f.t.Helper()
	terms, err := f.rootC.AgreedTerms(f.ctx)
	if err != nil {
		f.t.Fatal(err)
	}
	h, err := terms.Hash()
	if err != nil {
		f.t.Fatal(err)
	}
	return h
}

func (f *fixture) version() uint32 {
	f.t.Helper()
	v, err := f.rootC.Version(f.ctx)
	if err != nil {
		f.t.Fatal(err)
	}
	return v
}

// ---- workers -------------------------------------------------------------------

type worker struct {
	name  string
	owner *bt.Wallet
	key   ed25519.PrivateKey
	addr  *address.Address
	si    *tlb.StateInit
	c     *readers.Worker
}

func (f *fixture) newWorker(name string, owner *bt.Wallet) *worker {
	f.t.Helper()
	key := bt.KeyFor("worker " + name)
	si, err := bindings.WorkerStateInit(f.root, owner.Address, bindings.PublicKey256(key.Public().(ed25519.PublicKey)))
	if err != nil {
		f.t.Fatal(err)
	}
	addr := bindings.StateInitAddress(si)
	return &worker{name: name, owner: owner, key: key, addr: addr, si: si, c: readers.NewWorker(f.env.Chain, addr)}
}

func (w *worker) pub() [32]byte { return bindings.PublicKey256(w.key.Public().(ed25519.PublicKey)) }

func profile(name string) bindings.WorkerProfile {
	return bindings.WorkerProfile{
		HPKEKey:         hash("hpke " + name),
		AttestationHash: hash("evidence " + name),
		TEE:             bindings.TEETDX,
		Measurement:     tdxMeas,
		Models:          bindings.Models{modelID: {PriceIn: priceIn, PriceOut: priceOut}},
		Endpoint:        "https://" + name + ".workers.example:8443",
	}
}

// register deploys w with WorkerRegister carrying value (stake + fee).
func (f *fixture) register(w *worker, p bindings.WorkerProfile, value *big.Int) *bt.Trace {
	f.t.Helper()
	return f.send(w.owner, bt.Deploy(w.si, value, bt.Body(bindings.WorkerRegister{QueryID: 7, Profile: p, Agreed: f.agreed()})))
}

// activeWorker registers a worker that Root activates, staking stake.
func (f *fixture) activeWorker(name string, owner *bt.Wallet, stake *big.Int) *worker {
	f.t.Helper()
	w := f.newWorker(name, owner)
	tr := f.register(w, profile(name), new(big.Int).Add(stake, big.NewInt(bindings.WorkerRegisterFee)))
	f.noFailures(tr)
	if st := f.workerStatus(w); st != bindings.WorkerActive {
		f.t.Fatalf("worker %s is %s after registration; trace:\n%s", name, st, tr)
	}
	return w
}

// renew sends the daemon's renewal of w's registration (signed with its
// worker key over its current valid-until) from sender, and returns the trace.
func (f *fixture) renew(w *worker, sender *bt.Wallet) *bt.Trace {
	f.t.Helper()
	reg, err := w.c.Registration(f.ctx)
	if err != nil {
		f.t.Fatal(err)
	}
	renew, err := bindings.SignRenew(w.key, w.addr, reg.ValidUntil, 1)
	if err != nil {
		f.t.Fatal(err)
	}
	return f.send(sender, bt.Message(w.addr, big.NewInt(bindings.RenewValue), bt.Body(renew)))
}

func (f *fixture) workerStatus(w *worker) bindings.WorkerStatus {
	f.t.Helper()
	d, err := w.c.WorkerData(f.ctx)
	if err != nil {
		f.t.Fatal(err)
	}
	if !d.Deployed {
		f.t.Fatalf("worker %s does not exist (%s)", w.name, d.AccountStatus)
	}
	return d.Status
}

func (f *fixture) workerState(w *worker) *readers.WorkerStateView {
	f.t.Helper()
	s, err := w.c.WorkerState(f.ctx)
	if err != nil {
		f.t.Fatal(err)
	}
	return s
}

// ---- jobs ----------------------------------------------------------------------

type job struct {
	client *bt.Wallet
	nonce  uint64
	addr   *address.Address
	si     *tlb.StateInit
	terms  bindings.JobTerms
	c      *readers.Job
}

func (f *fixture) newJob(client *bt.Wallet, nonce uint64, terms bindings.JobTerms) *job {
	f.t.Helper()
	si, err := bindings.JobStateInit(f.root, client.Address, nonce)
	if err != nil {
		f.t.Fatal(err)
	}
	addr := bindings.StateInitAddress(si)
	return &job{client: client, nonce: nonce, addr: addr, si: si, terms: terms, c: readers.NewJob(f.env.Chain, addr)}
}

// terms are the default terms for a job on w: the worker's prices, 4096
// input and 1024 output tokens at most, a deadline an hour from now.
func (f *fixture) terms(w *address.Address, name string) bindings.JobTerms {
	f.t.Helper()
	return bindings.JobTerms{
		ModelID: modelID, Worker: w, PriceIn: priceIn, PriceOut: priceOut, MaxIn: 4096, MaxOut: 1024,
		Deadline: f.now() + 3600, ClientHPKEKey: hash("client hpke " + name), RequestHash: hash("request " + name),
	}
}

// createMsg is the client's deploying JobCreate for j carrying escrow.
func (j *job) createMsg(escrow *big.Int) *tlb.InternalMessage {
	return bt.Deploy(j.si, escrow, bt.Body(bindings.JobCreate{QueryID: j.nonce, Terms: j.terms, Request: requestCell(j.nonce)}))
}

func requestCell(nonce uint64) *cell.Cell {
	return cell.BeginCell().MustStoreBinarySnake([]byte(fmt.Sprintf("sealed request %d", nonce))).EndCell()
}

// create deploys j with the minimum escrow plus extra.
func (f *fixture) create(j *job, extra *big.Int) (*bt.Trace, *big.Int) {
	f.t.Helper()
	escrow := new(big.Int).Add(bindings.MinEscrow(j.terms), extra)
	return f.send(j.client, j.createMsg(escrow)), escrow
}

func (f *fixture) jobStatus(j *job) (bindings.JobStatus, bool) {
	f.t.Helper()
	d, err := j.c.JobData(f.ctx)
	if err != nil {
		f.t.Fatal(err)
	}
	return d.Status, d.Deployed
}

// accepted creates j and requires the worker to accept it.
func (f *fixture) accepted(j *job) (*bt.Trace, *big.Int) {
	f.t.Helper()
	tr, escrow := f.create(j, bt.TON("0.1"))
	f.noFailures(tr)
	if st, ok := f.jobStatus(j); !ok || st != bindings.JobAccepted {
		f.t.Fatalf("job is %s (exists %v), want accepted; trace:\n%s", st, ok, tr)
	}
	return tr, escrow
}

// receipt signs r and sends it to the job it names.
func (f *fixture) receipt(key ed25519.PrivateKey, r bindings.Receipt) (*bt.Trace, error) {
	f.t.Helper()
	return f.receiptTo(r.Job, key, r)
}

// receiptTo signs r and sends it to dst, whatever job r names.
func (f *fixture) receiptTo(dst *address.Address, key ed25519.PrivateKey, r bindings.Receipt) (*bt.Trace, error) {
	f.t.Helper()
	body, err := bindings.SignReceipt(key, r)
	if err != nil {
		f.t.Fatal(err)
	}
	boc, err := bindings.ExternalMessage(dst, body)
	if err != nil {
		f.t.Fatal(err)
	}
	return f.env.SendExternal(f.ctx, boc)
}

func (j *job) receipt(in, out uint32) bindings.Receipt {
	return bindings.Receipt{
		Job: j.addr, RequestHash: j.terms.RequestHash, ResultHash: hash(fmt.Sprintf("result %d", j.nonce)),
		InputTokens: in, OutputTokens: out,
	}
}

// all returns the messages of type T in the trace, in order.
func all[T any](tr *bt.Trace) ([]*T, []*bt.Sent) {
	var out []*T
	var sent []*bt.Sent
	for _, m := range tr.Msgs {
		if p, ok := any(m.Decoded()).(*T); ok {
			out = append(out, p)
			sent = append(sent, m)
		}
	}
	return out, sent
}

// one returns the single message of type T in the trace.
func one[T any](f *fixture, tr *bt.Trace) (*T, *bt.Sent) {
	f.t.Helper()
	ms, sent := all[T](tr)
	if len(ms) != 1 {
		f.t.Fatalf("%d %T messages, want 1; trace:\n%s", len(ms), new(T), tr)
	}
	return ms[0], sent[0]
}

// none requires that the trace has no message of type T.
func none[T any](f *fixture, tr *bt.Trace) {
	f.t.Helper()
	if ms, _ := all[T](tr); len(ms) != 0 {
		f.t.Fatalf("%d %T messages, want none; trace:\n%s", len(ms), new(T), tr)
	}
}
