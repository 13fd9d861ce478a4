package main

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"math/big"
	"time"

	"github.com/xssnick/tonutils-go/address"
	"github.com/xssnick/tonutils-go/tlb"
	"github.com/xssnick/tonutils-go/tvm/cell"

	"github.com/cocoon-network/cocoon/bindings"
	"github.com/cocoon-network/cocoon/offchain/chain/readers"
	bt "github.com/cocoon-network/cocoon/offchain/contracttest"
)

// The scenario: one Root as the tests configure it, one TDX worker serving
// one model, one client. Amounts are typical, not extreme: gas depends on
// the shape of the data, not on the values.
var (
	modelID     = bindings.ModelID("llama-3-8b")
	measurement = bindings.ModelID("tdx measurement")
	priceIn     = big.NewInt(1_000_000_000) // 1 TON per 1M input tokens
	priceOut    = big.NewInt(3_000_000_000)
)

type scenario struct {
	env      *bt.Env
	owner    *bt.Wallet
	treasury *bt.Wallet
	miner    *bt.Wallet
	client   *bt.Wallet
	anyone   *bt.Wallet
	root     *address.Address
	workerK  ed25519.PrivateKey
	worker   *address.Address
	names    names
	nonce    uint64
}

func newScenario(ctx context.Context, env *bt.Env) (*scenario, error) {
	s := &scenario{env: env, names: names{}}
	for _, w := range []struct {
		dst  **bt.Wallet
		name string
		ton  string
	}{{&s.owner, "owner", "100"}, {&s.treasury, "treasury", "1"}, {&s.miner, "miner", "100"}, {&s.client, "client", "100"}, {&s.anyone, "anyone", "10"}} {
		wal, err := env.NewWallet(ctx, w.name, bt.TON(w.ton))
		if err != nil {
			return nil, err
		}
		*w.dst = wal
		s.names[wal.Address.StringRaw()] = w.name + " wallet"
	}
	// The treasury and the client are deployed wallets, as they would be.
	for _, w := range []*bt.Wallet{s.treasury, s.client} {
		if _, err := w.Send(ctx, bt.Message(w.Address, big.NewInt(1), nil)); err != nil {
			return nil, err
		}
	}
	params := bindings.RootParams{
		MinWorkerStake: bt.TON("10"), UnbondingDelay: bindings.MinUnbondingDelay(86400), ProtocolFeeBps: 250, Treasury: s.treasury.Address,
		MinJobDeadline: 60, MaxJobDeadline: 86400, SlashBps: 1000,
	}
	root, _, err := env.DeployRoot(ctx, s.owner, params,
		bindings.AddMeasurement{QueryID: 1, TEE: bindings.TEETDX, Measurement: measurement},
		bindings.AddModel{QueryID: 2, ModelID: modelID, Info: bindings.ModelInfo{WeightsHash: bindings.ModelID("weights"), MinPriceIn: big.NewInt(1), MinPriceOut: big.NewInt(1)}},
	)
	if err != nil {
		return nil, err
	}
	s.root = root
	s.names[root.StringRaw()] = "root"
	s.workerK = bt.KeyFor("gasreport worker")
	return s, nil
}

func (s *scenario) profile() bindings.WorkerProfile {
	return bindings.WorkerProfile{
		HPKEKey: bindings.ModelID("hpke"), AttestationHash: bindings.ModelID("evidence"), TEE: bindings.TEETDX, Measurement: measurement,
		Models: bindings.Models{modelID: {PriceIn: priceIn, PriceOut: priceOut}}, Endpoint: "https://worker.example:8443",
	}
}

func (s *scenario) workerRegister(ctx context.Context) (Operation, error) {
	addr, tr, err := s.env.RegisterWorker(ctx, s.miner, s.root, s.workerK, s.profile(), bt.TON("20"))
	if err != nil {
		return Operation{}, err
	}
	s.worker = addr
	s.names[addr.StringRaw()] = "worker"
	return operation("worker_register", "WorkerRegister deploys the Worker; Root validates it and answers Activate", s.names, tr), nil
}

// createJob sends JobCreate (plus extra messages in the same wallet
// message) for a new job on the worker.
func (s *scenario) createJob(ctx context.Context, extra ...func(job *address.Address) bindings.Message) (*address.Address, bindings.JobTerms, *bt.Trace, error) {
	info, err := s.env.Chain.MasterchainInfo(ctx)
	if err != nil {
		return nil, bindings.JobTerms{}, nil, err
	}
	s.nonce++
	terms := bindings.JobTerms{
		ModelID: modelID, Worker: s.worker, PriceIn: priceIn, PriceOut: priceOut, MaxIn: 4096, MaxOut: 1024,
		Deadline: info.Time + 3600, ClientHPKEKey: bindings.ModelID("client hpke"), RequestHash: bindings.ModelID(fmt.Sprint("request ", s.nonce)),
	}
	request := cell.BeginCell().MustStoreBinarySnake(make([]byte, 200)).EndCell() // a small inline request
	escrow := new(big.Int).Add(bindings.MinEscrow(terms), bt.TON("0.05"))
	job, msg, err := s.env.JobCreateMessage(s.root, s.client, s.nonce, terms, request, escrow)
	if err != nil {
		return nil, terms, nil, err
	}
	s.names[job.StringRaw()] = "job"
	msgs := []*tlb.InternalMessage{msg}
	for _, e := range extra {
		c, err := bindings.Encode(e(job))
		if err != nil {
			return nil, terms, nil, err
		}
		msgs = append(msgs, bt.Message(job, bt.TON("0.05"), c))
	}
	tr, err := s.client.Send(ctx, msgs...)
	return job, terms, tr, err
}

func (s *scenario) receipt(ctx context.Context, job *address.Address, terms bindings.JobTerms, failed bool) (*bt.Trace, error) {
	boc, err := bindings.ReceiptMessage(s.workerK, bindings.Receipt{
		Job: job, RequestHash: terms.RequestHash, ResultHash: bindings.ModelID("result"),
		InputTokens: 1000, OutputTokens: 500, Failed: failed,
	})
	if err != nil {
		return nil, err
	}
	return s.env.SendExternal(ctx, boc)
}

func (s *scenario) jobLifecycle(ctx context.Context) (Operation, error) {
	job, terms, create, err := s.createJob(ctx)
	if err != nil {
		return Operation{}, err
	}
	if err := s.succeeded(create); err != nil {
		return Operation{}, err
	}
	done, err := s.receipt(ctx, job, terms, false)
	if err != nil {
		return Operation{}, err
	}
	if err := s.succeeded(done); err != nil {
		return Operation{}, err
	}
	return operation("job_lifecycle", "JobCreate deploys the Job, Offer, Accept; the receipt pays the worker (with the protocol fee its Worker owes the treasury) and refunds the client", s.names, create, done), nil
}

func (s *scenario) jobFailed(ctx context.Context) (Operation, error) {
	job, terms, create, err := s.createJob(ctx)
	if err != nil {
		return Operation{}, err
	}
	done, err := s.receipt(ctx, job, terms, true)
	if err != nil {
		return Operation{}, err
	}
	return operation("job_failed", "as job_lifecycle, with a failure receipt: JobFailed to the worker, full refund", s.names, create, done), nil
}

func (s *scenario) jobRefundAfterDeadline(ctx context.Context) (Operation, error) {
	job, _, create, err := s.createJob(ctx)
	if err != nil {
		return Operation{}, err
	}
	if err := s.env.AdvanceTime(ctx, 3601*time.Second); err != nil {
		return Operation{}, err
	}
	body, _ := bindings.Encode(bindings.Refund{QueryID: 1})
	refund, err := s.anyone.Send(ctx, bt.Message(job, bt.TON("0.05"), body))
	if err != nil {
		return Operation{}, err
	}
	if err := s.succeeded(refund); err != nil {
		return Operation{}, err
	}
	return operation("job_refund_after_deadline", "JobCreate, Offer, Accept; after the deadline Refund slashes the worker, compensates and refunds the client", s.names, create, refund), nil
}

func (s *scenario) jobCancel(ctx context.Context) (Operation, error) {
	_, _, tr, err := s.createJob(ctx, func(*address.Address) bindings.Message { return bindings.Cancel{QueryID: 1} })
	if err != nil {
		return Operation{}, err
	}
	return operation("job_cancel", "JobCreate and Cancel in one wallet message: the job closes before the worker's Accept, which bounces back", s.names, tr), nil
}

func (s *scenario) withdrawEarnings(ctx context.Context) (Operation, error) {
	body, _ := bindings.Encode(bindings.WithdrawEarnings{QueryID: 1})
	tr, err := s.miner.Send(ctx, bt.Message(s.worker, bt.TON("0.05"), body))
	if err != nil {
		return Operation{}, err
	}
	if err := s.succeeded(tr); err != nil {
		return Operation{}, err
	}
	return operation("worker_withdraw_earnings", "WithdrawEarnings: EarningsPaid to the owner", s.names, tr), nil
}

func (s *scenario) workerUpdate(ctx context.Context) (Operation, error) {
	agreed, err := readers.NewRoot(s.env.Chain, s.root).AgreedTermsHash(ctx)
	if err != nil {
		return Operation{}, err
	}
	body, err := bindings.Encode(bindings.WorkerUpdate{QueryID: 1, Profile: s.profile(), Agreed: agreed})
	if err != nil {
		return Operation{}, err
	}
	tr, err := s.miner.Send(ctx, bt.Message(s.worker, bt.TON("0.05"), body))
	if err != nil {
		return Operation{}, err
	}
	if err := s.succeeded(tr); err != nil {
		return Operation{}, err
	}
	return operation("worker_update", "WorkerUpdate: Root validates the new profile and answers Activate", s.names, tr), nil
}

// workerRenew is the daemon's hourly renewal, paid by its gas wallet (here
// the "anyone" wallet): Renew, Root's checks, Activate.
func (s *scenario) workerRenew(ctx context.Context) (Operation, error) {
	reg, err := readers.NewWorker(s.env.Chain, s.worker).Registration(ctx)
	if err != nil {
		return Operation{}, err
	}
	renew, err := bindings.SignRenew(s.workerK, s.worker, reg.ValidUntil, 1)
	if err != nil {
		return Operation{}, err
	}
	body, err := bindings.Encode(renew)
	if err != nil {
		return Operation{}, err
	}
	tr, err := s.anyone.Send(ctx, bt.Message(s.worker, big.NewInt(bindings.RenewValue), body))
	if err != nil {
		return Operation{}, err
	}
	if err := s.succeeded(tr); err != nil {
		return Operation{}, err
	}
	return operation("worker_renew", "Renew (every hour, signed by the worker key, paid by the daemon's gas wallet): Root checks the registration again and answers Activate", s.names, tr), nil
}

func (s *scenario) ownerOperation(ctx context.Context) (Operation, error) {
	body, err := bindings.Encode(bindings.AddModel{QueryID: 3, ModelID: bindings.ModelID("another model"), Info: bindings.ModelInfo{MinPriceIn: big.NewInt(1), MinPriceOut: big.NewInt(1)}})
	if err != nil {
		return Operation{}, err
	}
	tr, err := s.owner.Send(ctx, bt.Message(s.root, bt.TON("0.05"), body))
	if err != nil {
		return Operation{}, err
	}
	if err := s.succeeded(tr); err != nil {
		return Operation{}, err
	}
	return operation("root_add_model", "an owner operation (AddModel): Excesses back to the owner", s.names, tr), nil
}

// succeeded requires every transaction of the Cocoon contracts in tr to
// succeed and nothing to bounce. A payee wallet may fail: a deployed
// wallet receiving a protocol fee smaller than its gas runs out of gas,
// and keeps what is left of the value (the message does not bounce).
func (s *scenario) succeeded(tr *bt.Trace) error {
	for _, f := range tr.Failures() {
		switch s.names.of(f.Tx.Account) {
		case "root", "worker", "job":
			return fmt.Errorf("%s failed with %s:\n%s", s.names.of(f.Tx.Account), f.Code, tr)
		}
	}
	if b := tr.Bounces(); len(b) > 0 {
		return fmt.Errorf("a message bounced back to %s:\n%s", s.names.of(b[0].To), tr)
	}
	return nil
}
