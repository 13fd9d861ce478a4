package client

import (
	"context"
	"crypto/sha256"
	"math/big"
	"testing"

	"github.com/xssnick/tonutils-go/address"
	"github.com/xssnick/tonutils-go/tvm/cell"

	"github.com/cocoon-network/cocoon/bindings"
)

// jobSim writes a job's transactions, as the Job contract makes them, into
// a fakeNet.
type jobSim struct {
	t                                *testing.T
	net                              *fakeNet
	job, client, worker, treasury, x *address.Address
	terms                            bindings.JobTerms
}

func newJobSim(t *testing.T, net *fakeNet) *jobSim {
	s := &jobSim{t: t, net: net, job: testAddr("job"), client: testAddr("client"), worker: testAddr("worker"),
		treasury: testAddr("treasury"), x: testAddr("stranger")}
	s.terms = bindings.JobTerms{
		ModelID: bindings.ModelID("m"), Worker: s.worker, PriceIn: big.NewInt(1e9), PriceOut: big.NewInt(3e9),
		MaxIn: 1000, MaxOut: 500, Deadline: net.now + 600, RequestHash: sha256.Sum256([]byte("request")),
	}
	return s
}

func (s *jobSim) out(to *address.Address, nano int64, m bindings.Message) *cell.Cell {
	_, c := internal(s.t, s.job, to, nano, mustCell(s.t, m), false)
	return c
}

func (s *jobSim) closing(reason uint16, charge, fee int64, resultHash [32]byte, refund int64) []*cell.Cell {
	return []*cell.Cell{s.out(s.client, refund, bindings.JobClosed{QueryID: 7, Reason: reason, Charge: big.NewInt(charge), Fee: big.NewInt(fee), ResultHash: resultHash})}
}

// bounceCost is what a refused JobCreate keeps of the escrow in the simulation.
const bounceCost = 3_000_000

func (s *jobSim) create(escrow int64, exit int32) {
	in, _ := internal(s.t, s.client, s.job, escrow, mustCell(s.t, bindings.JobCreate{QueryID: 7, Terms: s.terms}), false)
	var outs []*cell.Cell
	if exit == 0 {
		outs = append(outs, s.out(s.worker, bindings.OfferValue, bindings.Offer{QueryID: 7, Client: s.client, Nonce: 7, ModelID: s.terms.ModelID, PriceIn: s.terms.PriceIn, PriceOut: s.terms.PriceOut, Deadline: s.terms.Deadline}))
	} else {
		// The bounce: the escrow back, less what the refusal cost.
		_, b := internal(s.t, s.job, s.client, escrow-bounceCost, cell.BeginCell().MustStoreUInt(0xffffffff, 32).EndCell(), true)
		outs = append(outs, b)
	}
	s.net.addTx(s.job, synthTx(s.t, in, exit, exit != 0, outs...))
}

func (s *jobSim) accept(value int64) {
	in, _ := internal(s.t, s.worker, s.job, value, mustCell(s.t, bindings.Accept{QueryID: 7, FeeBps: 250, Treasury: s.treasury}), false)
	s.net.addTx(s.job, synthTx(s.t, in, 0, false))
}

func (s *jobSim) decline(value int64, reason uint16, refund int64) {
	in, _ := internal(s.t, s.worker, s.job, value, mustCell(s.t, bindings.Decline{QueryID: 7, Reason: reason}), false)
	s.net.addTx(s.job, synthTx(s.t, in, 0, false, s.closing(bindings.ClosedDeclined, 0, 0, [32]byte{}, refund)...))
}

// receiptTx is the external receipt's transaction; charge and fee as the
// Job computes them, refund what is left.
func (s *jobSim) receiptTx(r bindings.Receipt, charge, fee, refund int64) {
	r.Job = s.job
	body, err := bindings.ReceiptBody(make([]byte, 64), mustCell(s.t, r))
	if err != nil {
		s.t.Fatal(err)
	}
	var outs []*cell.Cell
	reason := uint16(bindings.ClosedCompleted)
	if r.Failed {
		reason = bindings.ClosedFailed
		outs = append(outs, s.out(s.worker, bindings.NotifyGas, bindings.JobFailed{QueryID: 7, Client: s.client, Nonce: 7}))
	} else {
		outs = append(outs, s.out(s.worker, charge+bindings.NotifyGas, bindings.JobPaid{QueryID: 7, Client: s.client, Nonce: 7, Fee: big.NewInt(fee)}))
	}
	cl := s.closing(reason, charge, fee, r.ResultHash, refund)
	s.net.addTx(s.job, synthTx(s.t, externalIn(s.job, body), 0, false, append(outs, cl...)...))
}

func (s *jobSim) refundTx(from *address.Address, value, refund int64, slash bool) {
	in, _ := internal(s.t, from, s.job, value, mustCell(s.t, bindings.Refund{QueryID: 1}), false)
	var outs []*cell.Cell
	if slash {
		outs = append(outs, s.out(s.worker, bindings.NotifyGas, bindings.Slash{QueryID: 7, Client: s.client, Nonce: 7}))
	}
	s.net.addTx(s.job, synthTx(s.t, in, 0, false, append(outs, s.closing(bindings.ClosedExpired, 0, 0, [32]byte{}, refund)...)...))
}

func (s *jobSim) cancelTx(value, refund int64, exit int32) {
	in, _ := internal(s.t, s.client, s.job, value, mustCell(s.t, bindings.Cancel{QueryID: 1}), false)
	if exit != 0 {
		s.net.addTx(s.job, synthTx(s.t, in, exit, true))
		return
	}
	s.net.addTx(s.job, synthTx(s.t, in, 0, false, s.closing(bindings.ClosedCancelled, 0, 0, [32]byte{}, refund)...))
}

func readHistory(t *testing.T, net *fakeNet, job *address.Address) *history {
	t.Helper()
	c := New(net, Options{Dir: t.TempDir()})
	h, err := c.history(context.Background(), job, newHistory(job), 0)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestCostSplit(t *testing.T) {
	const escrow = 2_110_000_000
	type want struct {
		state                                                        State
		escrow, deposits, charge, workerPay, fee, refund, gas, spent int64
	}
	tests := []struct {
		name string
		run  func(s *jobSim)
		want want
	}{
		{"completed", func(s *jobSim) {
			s.create(escrow, 0)
			s.accept(19_000_000)
			s.receiptTx(bindings.Receipt{InputTokens: 21, OutputTokens: 6, ResultHash: [32]byte{1}}, 39_000, 975, 2_080_000_000)
		}, want{StateCompleted, escrow, 0, 39_000, 38_025, 975, 2_080_000_000, escrow - 39_000 - 2_080_000_000, escrow - 2_080_000_000}},
		{"completed without fee", func(s *jobSim) {
			s.create(escrow, 0)
			s.accept(19_000_000)
			s.receiptTx(bindings.Receipt{InputTokens: 1, OutputTokens: 1}, 4_000, 0, 2_090_000_000)
		}, want{StateCompleted, escrow, 0, 4_000, 4_000, 0, 2_090_000_000, escrow - 4_000 - 2_090_000_000, escrow - 2_090_000_000}},
		{"failure receipt: no charge", func(s *jobSim) {
			s.create(escrow, 0)
			s.accept(19_000_000)
			s.receiptTx(bindings.Receipt{Failed: true}, 0, 0, 2_085_000_000)
		}, want{StateFailed, escrow, 0, 0, 0, 0, 2_085_000_000, escrow - 2_085_000_000, escrow - 2_085_000_000}},
		{"declined", func(s *jobSim) {
			s.create(escrow, 0)
			s.decline(19_000_000, uint16(bindings.ErrPriceTooLow), 2_095_000_000)
		}, want{StateDeclined, escrow, 0, 0, 0, 0, 2_095_000_000, escrow - 2_095_000_000, escrow - 2_095_000_000}},
		{"cancelled: the Cancel's value comes back too", func(s *jobSim) {
			s.create(escrow, 0)
			s.cancelTx(20_000_000, 2_115_000_000, 0)
		}, want{StateCancelled, escrow, 20_000_000, 0, 0, 0, 2_115_000_000, escrow + 20_000_000 - 2_115_000_000, escrow + 20_000_000 - 2_115_000_000}},
		{"a refused Cancel bounces: not a deposit", func(s *jobSim) {
			s.create(escrow, 0)
			s.accept(19_000_000)
			s.cancelTx(20_000_000, 0, int32(bindings.ErrJobWrongStatus))
		}, want{StateAccepted, escrow, 0, 0, 0, 0, 0, 0, escrow}},
		{"expired, refunded by a stranger", func(s *jobSim) {
			s.create(escrow, 0)
			s.accept(19_000_000)
			s.refundTx(s.x, 20_000_000, 2_100_000_000, true)
		}, want{StateExpired, escrow, 20_000_000, 0, 0, 0, 2_100_000_000, escrow + 20_000_000 - 2_100_000_000, escrow + 20_000_000 - 2_100_000_000}},
		{"JobCreate refused: escrow bounced", func(s *jobSim) {
			s.create(escrow, int32(bindings.ErrEscrowTooLow))
		}, want{StateRefused, escrow, 0, 0, 0, 0, escrow - bounceCost, bounceCost, bounceCost}},
		{"offered", func(s *jobSim) { s.create(escrow, 0) }, want{StateOffered, escrow, 0, 0, 0, 0, 0, 0, escrow}},
		{"nothing yet", func(*jobSim) {}, want{StateUnknown, 0, 0, 0, 0, 0, 0, 0, 0}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			net := newFakeNet(1_800_000_000)
			s := newJobSim(t, net)
			tc.run(s)
			h := readHistory(t, net, s.job)
			if got := h.state(); got != tc.want.state {
				t.Fatalf("state %s, want %s", got, tc.want.state)
			}
			c := h.costs()
			for _, x := range []struct {
				name string
				got  *big.Int
				want int64
			}{
				{"escrow", c.Escrow, tc.want.escrow}, {"deposits", c.Deposits, tc.want.deposits},
				{"charge", c.Charge, tc.want.charge}, {"worker pay", c.WorkerPay, tc.want.workerPay},
				{"protocol fee", c.ProtocolFee, tc.want.fee}, {"refund", c.Refund, tc.want.refund},
				{"gas", c.Gas, tc.want.gas}, {"spent", c.Spent(), tc.want.spent},
			} {
				if x.got.Cmp(big.NewInt(x.want)) != 0 {
					t.Errorf("%s = %s, want %d", x.name, x.got, x.want)
				}
			}
			if h.closed != nil {
				// The identity the docs promise.
				in := new(big.Int).Add(c.Escrow, c.Deposits)
				outSum := new(big.Int).Add(c.Charge, c.Refund)
				outSum.Add(outSum, c.Gas)
				if in.Cmp(outSum) != 0 {
					t.Errorf("escrow + deposits %s ≠ charge + refund + gas %s", in, outSum)
				}
			}
		})
	}
}

func TestHistoryDetails(t *testing.T) {
	net := newFakeNet(1_800_000_000)
	s := newJobSim(t, net)
	s.create(2e9, 0)
	s.decline(19_000_000, uint16(bindings.ErrDeadlineOutOfRange), 1_990_000_000)
	h := readHistory(t, net, s.job)
	if h.declineReason != uint16(bindings.ErrDeadlineOutOfRange) {
		t.Errorf("decline reason %d", h.declineReason)
	}
	if !h.client.Equals(s.client) || h.terms == nil || !h.terms.Worker.Equals(s.worker) {
		t.Errorf("client %v, terms %+v", h.client, h.terms)
	}

	net = newFakeNet(1_800_000_000)
	s = newJobSim(t, net)
	s.create(2e9, 0)
	s.accept(19_000_000)
	s.refundTx(s.client, 20_000_000, 2e9, true)
	h = readHistory(t, net, s.job)
	if h.slash == nil || !h.slashTo.Equals(s.worker) {
		t.Error("the Slash to the worker was not noted")
	}

	// A history read in two steps equals one read at once.
	net = newFakeNet(1_800_000_000)
	s = newJobSim(t, net)
	s.create(2e9, 0)
	c := New(net, Options{Dir: t.TempDir()})
	h, err := c.history(context.Background(), s.job, newHistory(s.job), 0)
	if err != nil {
		t.Fatal(err)
	}
	last := net.txs[s.job.StringRaw()][0].ID.LT
	s.accept(19_000_000)
	s.receiptTx(bindings.Receipt{InputTokens: 5, OutputTokens: 5}, 20_000, 500, 1_950_000_000)
	if _, err := c.history(context.Background(), s.job, h, last); err != nil {
		t.Fatal(err)
	}
	if h.state() != StateCompleted || h.costs().Escrow.Int64() != 2e9 || h.receipt == nil || h.receipt.InputTokens != 5 {
		t.Errorf("incremental read: state %s, costs %+v, receipt %+v", h.state(), h.costs(), h.receipt)
	}
}
