package contracts_test

import (
	"bytes"
	"math/big"
	"testing"

	"github.com/xssnick/tonutils-go/address"
	"github.com/xssnick/tonutils-go/tlb"
	"github.com/xssnick/tonutils-go/tvm/cell"

	"github.com/cocoon-network/cocoon/bindings"
	"github.com/cocoon-network/cocoon/contracts"
	"github.com/cocoon-network/cocoon/offchain/chain/readers"
	bt "github.com/cocoon-network/cocoon/offchain/contracttest"
)

// The example consumer contract of contracts/examples/consumer.tolk: its
// opcodes and exit codes.
const (
	opAsk               = 0xc0c0e001
	errNotConsumerOwner = 200
	errNotMyJob         = 201
	errCallbackNotMe    = 202
)

// consumer is a deployed example consumer contract.
type consumer struct {
	addr *address.Address
}

// deployConsumer deploys the example consumer owned by owner, asking
// Cocoon through the fixture's Root.
func (f *fixture) deployConsumer(owner *bt.Wallet) *consumer {
	f.t.Helper()
	data := cell.BeginCell().
		MustStoreAddr(owner.Address).
		MustStoreAddr(f.root).
		MustStoreRef(f.env.Codes.Job).
		MustStoreUInt(0, 64).    // nonce
		MustStoreUInt(0, 2).     // pendingJob: addr_none
		MustStoreBoolBit(false). // answer: none
		EndCell()
	si := &tlb.StateInit{Code: contracts.MustCode("example_consumer"), Data: data}
	c := &consumer{addr: bindings.StateInitAddress(si)}
	f.noFailures(f.send(owner, bt.Deploy(si, bt.TON("0.2"), nil)))
	return c
}

func askBody(terms bindings.JobTerms, request *cell.Cell) *cell.Cell {
	b := cell.BeginCell().MustStoreUInt(opAsk, 32).MustStoreUInt(1, 64).MustStoreRef(bindings.MustCell(bindings.Encode(terms)))
	if request == nil {
		b.MustStoreBoolBit(false)
	} else {
		b.MustStoreBoolBit(true).MustStoreRef(request)
	}
	return b.EndCell()
}

// answer reads the consumer's answer() get-method.
func (f *fixture) consumerAnswer(c *consumer) (ok bool, job *address.Address, resultHash []byte, result *cell.Cell) {
	f.t.Helper()
	vals, err := f.env.Chain.RunGetMethod(f.ctx, c.addr, "answer")
	if err != nil || len(vals) != 4 {
		f.t.Fatalf("answer(): %v %v", vals, err)
	}
	if vals[0].(*big.Int).Sign() == 0 {
		return false, nil, nil, nil
	}
	if sl, isSlice := vals[1].(*cell.Slice); isSlice {
		job = sl.MustLoadAddr()
	}
	h := make([]byte, 32)
	vals[2].(*big.Int).FillBytes(h)
	result, _ = vals[3].(*cell.Cell)
	return true, job, h, result
}

// TestExampleConsumer: a contract asks Cocoon a question (it is the Job's
// client, its own address the callback), a worker answers, and the Job's
// JobCallback leaves the answer in the contract; the refund goes on to the
// contract's owner. Only the contract's own job can answer it.
func TestExampleConsumer(t *testing.T) {
	f := newFixture(t)
	miner := f.wallet("miner", "100")
	owner := f.wallet("dapp owner", "100")
	stranger := f.wallet("stranger", "100")
	w := f.activeWorker("w", miner, bt.TON("20"))
	c := f.deployConsumer(owner)

	terms := f.terms(w.addr, "oracle")
	terms.Callback = c.addr
	escrow := new(big.Int).Add(bindings.MinEscrow(terms), bt.TON("0.1"))
	value := new(big.Int).Add(escrow, bt.TON("0.05"))

	// Refusals: a stranger asking, and terms that call back someone else.
	tr := f.send(stranger, bt.Message(c.addr, value, askBody(terms, nil)))
	f.refused(tr, c.addr, errNotConsumerOwner)
	other := terms
	other.Callback = stranger.Address
	tr = f.send(owner, bt.Message(c.addr, value, askBody(other, nil)))
	f.refused(tr, c.addr, errCallbackNotMe)

	// The question: the contract deploys the Job as its client, nonce 0.
	tr = f.send(owner, bt.Message(c.addr, value, askBody(terms, requestCell(0))))
	f.noFailures(tr)
	jobAddr := bindings.JobAddress(f.root, c.addr, 0)
	j := &job{client: nil, nonce: 0, addr: jobAddr, terms: terms, c: readers.NewJob(f.env.Chain, jobAddr)}
	if st, ok := f.jobStatus(j); !ok || st != bindings.JobAccepted {
		t.Fatalf("the consumer's job is %s (exists %v); trace:\n%s", st, ok, tr)
	}

	// A stranger cannot plant an answer.
	forged := bindings.JobCallback{QueryID: 0, Job: jobAddr, ResultHash: hash("forged"), Result: cell.BeginCell().MustStoreStringSnake("forged").EndCell()}
	tr = f.send(stranger, bt.Message(c.addr, bt.TON("0.05"), bt.Body(forged)))
	f.refused(tr, c.addr, errNotMyJob)

	// The worker's receipt: the answer reaches the contract, the refund its owner.
	r := j.receipt(100, 50)
	r.Result = cell.BeginCell().MustStoreStringSnake("sealed answer").EndCell()
	before := f.balance(owner.Address)
	tr, err := f.receipt(w.key, r)
	if err != nil {
		t.Fatal(err)
	}
	f.noFailures(tr)
	ok, gotJob, gotHash, gotResult := f.consumerAnswer(c)
	if !ok || !gotJob.Equals(jobAddr) || !bytes.Equal(gotHash, r.ResultHash[:]) || gotResult == nil || !bytes.Equal(gotResult.Hash(), r.Result.Hash()) {
		t.Fatalf("answer() = %v %v %x %v", ok, gotJob, gotHash, gotResult)
	}
	closed, _ := one[bindings.JobClosed](f, tr)
	if closed.Reason != bindings.ClosedCompleted {
		t.Errorf("job closed with %d", closed.Reason)
	}
	if _, sent := one[bindings.Excesses](f, tr); !sent.To.Equals(owner.Address) {
		t.Errorf("the refund went to %s, not the owner", sent.To)
	}
	charge := bindings.Charge(priceIn, priceOut, 100, 50)
	if gain := new(big.Int).Sub(f.balance(owner.Address), before); gain.Cmp(new(big.Int).Sub(escrow, charge)) >= 0 || gain.Sign() <= 0 {
		t.Errorf("the owner got %s back of an escrow of %s with a charge of %s", gain, escrow, charge)
	}
	// A late JobCallback from the (closed) job's address finds no pending job.
	tr = f.send(stranger, bt.Message(c.addr, bt.TON("0.05"), bt.Body(forged)))
	f.refused(tr, c.addr, errNotMyJob)

	// The owner's own job (`cocoon job submit --callback`) answers it too;
	// a stranger's job naming it as callback does not.
	for _, tc := range []struct {
		client *bt.Wallet
		nonce  uint64
		taken  bool
	}{{stranger, 7, false}, {owner, 8, true}} {
		oj := f.newJob(tc.client, tc.nonce, f.terms(w.addr, "callback"))
		oj.terms.Callback = c.addr
		f.accepted(oj)
		r := oj.receipt(10, 10)
		r.Result = cell.BeginCell().MustStoreStringSnake("sealed answer to the owner's job").EndCell()
		tr, err := f.receipt(w.key, r)
		if err != nil {
			t.Fatal(err)
		}
		one[bindings.JobCallback](f, tr)
		_, gotJob, _, _ := f.consumerAnswer(c)
		if taken := gotJob.Equals(oj.addr); taken != tc.taken {
			t.Fatalf("a job of %s: answer taken %v, want %v; trace:\n%s", tc.client.Name, taken, tc.taken, tr)
		}
		if !tc.taken {
			f.refused(tr, c.addr, errNotMyJob)
		}
		f.gone(oj.addr) // the job closes either way
	}
}
