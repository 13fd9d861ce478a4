// Package readers reads the Cocoon contracts' get-methods over a chain.Network:
// Root, Worker and Job, with a missing account reported as ErrNotDeployed.
// Each answer is decoded by field into a view that mirrors the Tolk struct
// the get-method returns (stack.go); the wire types some readers return
// live in bindings, which knows no network.
package readers

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/xssnick/tonutils-go/address"
	"github.com/xssnick/tonutils-go/tvm/cell"

	"github.com/cocoon-network/cocoon/bindings"
	"github.com/cocoon-network/cocoon/offchain/chain"
)

// ErrNotDeployed is matched (errors.Is) by the error of a get-method on a
// Worker or Job that does not exist: closed, withdrawn, rejected, or never
// deployed. For these contracts that is a normal outcome, not a failure.
var ErrNotDeployed = errors.New("no contract at this address (closed, withdrawn or never deployed)")

// NotDeployedError reports a contract account that is not active.
type NotDeployedError struct {
	Address *address.Address
	Status  chain.AccountStatus
}

func (e *NotDeployedError) Error() string {
	return fmt.Sprintf("%s is %s: %v", e.Address, e.Status, ErrNotDeployed)
}

// Is makes errors.Is(err, ErrNotDeployed) true.
func (e *NotDeployedError) Is(target error) bool { return target == ErrNotDeployed }

// call runs a get-method. A failure on an account that is not active
// becomes a *NotDeployedError.
func call(ctx context.Context, net chain.Network, addr *address.Address, method string, args ...any) ([]any, error) {
	res, err := net.RunGetMethod(ctx, addr, method, args...)
	if err != nil {
		acc, aerr := net.Account(ctx, addr)
		if aerr == nil && acc.Status != chain.StatusActive {
			return nil, &NotDeployedError{Address: addr, Status: acc.Status}
		}
		return nil, fmt.Errorf("get-method %s on %s: %w", method, addr, err)
	}
	return res, nil
}

// getView runs a get-method that returns a struct and reads it, field by
// field, into a T (a view tagged as stack.go describes).
func getView[T any](ctx context.Context, net chain.Network, addr *address.Address, method string, args ...any) (*T, error) {
	vals, err := call(ctx, net, addr, method, args...)
	if err != nil {
		return nil, err
	}
	v := new(T)
	if err := decodeStack(method, vals, v); err != nil {
		return nil, fmt.Errorf("reading %s: %w", addr, err)
	}
	return v, nil
}

// getValue runs a get-method that returns one value of stack type tag.
func getValue[T any](ctx context.Context, net chain.Network, addr *address.Address, method, tag string, args ...any) (T, error) {
	var v T
	vals, err := call(ctx, net, addr, method, args...)
	if err != nil {
		return v, err
	}
	if err := decodeSingle(method, vals, tag, &v); err != nil {
		return v, fmt.Errorf("reading %s: %w", addr, err)
	}
	return v, nil
}

func addrArg(a *address.Address) *cell.Slice {
	return cell.BeginCell().MustStoreAddr(a).ToSlice()
}

func u256Arg(v [32]byte) *big.Int { return new(big.Int).SetBytes(v[:]) }

// ---- Root ------------------------------------------------------------------

// Root reads a Root contract's get-methods.
type Root struct {
	Net     chain.Network
	Address *address.Address
}

// NewRoot binds the Root at addr on net.
func NewRoot(net chain.Network, addr *address.Address) *Root { return &Root{Net: net, Address: addr} }

// rootParams is params(): Tolk's RootParams (contracts/common/types.tolk).
// It has bindings.RootParams's fields, so one converts to the other.
type rootParams struct {
	MinWorkerStake *big.Int         `stack:"coins"`
	UnbondingDelay uint32           `stack:"uint,32"`
	ProtocolFeeBps uint16           `stack:"uint,16"`
	Treasury       *address.Address `stack:"addr"`
	MinJobDeadline uint32           `stack:"uint,32"`
	MaxJobDeadline uint32           `stack:"uint,32"`
	SlashBps       uint16           `stack:"uint,16"`
	TestMode       bool             `stack:"bool"`
}

// GetRootParams reads params().
func (r *Root) GetRootParams(ctx context.Context) (*bindings.RootParams, error) {
	v, err := getView[rootParams](ctx, r.Net, r.Address, "params")
	if err != nil {
		return nil, err
	}
	p := bindings.RootParams(*v)
	return &p, nil
}

// Version reads version(), bumped by every owner operation.
func (r *Root) Version(ctx context.Context) (uint32, error) {
	return getValue[uint32](ctx, r.Net, r.Address, "version", "uint,32")
}

// Owner reads owner().
func (r *Root) Owner(ctx context.Context) (*address.Address, error) {
	return getValue[*address.Address](ctx, r.Net, r.Address, "owner", "addr")
}

// PendingOwner reads pending_owner(); nil when none.
func (r *Root) PendingOwner(ctx context.Context) (*address.Address, error) {
	return getValue[*address.Address](ctx, r.Net, r.Address, "pending_owner", "addr?")
}

// IsMeasurementAllowed reads is_measurement_allowed(tee, hash).
func (r *Root) IsMeasurementAllowed(ctx context.Context, tee bindings.TEE, measurement [32]byte) (bool, error) {
	return getValue[bool](ctx, r.Net, r.Address, "is_measurement_allowed", "bool", big.NewInt(int64(tee)), u256Arg(measurement))
}

// modelView is model(id) (Tolk ModelView, root.tolk).
type modelView struct {
	Found       bool     `stack:"bool"`
	WeightsHash [32]byte `stack:"u256"`
	MinPriceIn  *big.Int `stack:"coins"`
	MinPriceOut *big.Int `stack:"coins"`
	RequireGPU  bool     `stack:"bool"`
}

// Model reads model(id); found is false for a model Root does not allow.
func (r *Root) Model(ctx context.Context, id [32]byte) (info *bindings.ModelInfo, found bool, err error) {
	v, err := getView[modelView](ctx, r.Net, r.Address, "model", u256Arg(id))
	if err != nil || !v.Found {
		return nil, false, err
	}
	return &bindings.ModelInfo{WeightsHash: v.WeightsHash, MinPriceIn: v.MinPriceIn, MinPriceOut: v.MinPriceOut, RequireGPU: v.RequireGPU}, true, nil
}

// childCodeHashesView is child_code_hashes() (Tolk ChildCodeHashesView, root.tolk).
type childCodeHashesView struct {
	WorkerCode [32]byte `stack:"u256"`
	JobCode    [32]byte `stack:"u256"`
}

// ChildCodeHashes reads child_code_hashes(): the hashes of the worker and job codes.
func (r *Root) ChildCodeHashes(ctx context.Context) (worker, job [32]byte, err error) {
	v, err := getView[childCodeHashesView](ctx, r.Net, r.Address, "child_code_hashes")
	if err != nil {
		return worker, job, err
	}
	return v.WorkerCode, v.JobCode, nil
}

// PendingChangeView is Root's announced change (pending_change(); Tolk
// PendingChangeView, root.tolk).
type PendingChangeView struct {
	Announced   bool     `stack:"bool"`
	EffectiveAt uint32   `stack:"uint,32"`
	Params      bool     `stack:"bool"` // new params (read them from Root's storage or the ChangeAnnouncedEvent)
	RootCode    [32]byte `stack:"u256"` // hash of the new code; zero: unchanged
	WorkerCode  [32]byte `stack:"u256"`
	JobCode     [32]byte `stack:"u256"`
}

// PendingChange reads pending_change().
func (r *Root) PendingChange(ctx context.Context) (*PendingChangeView, error) {
	return getView[PendingChangeView](ctx, r.Net, r.Address, "pending_change")
}

// AgreedTerms are the terms a worker registering now agrees to: Root's
// current params and job code hash. A change announced but not applied is
// not in them (a registration that meets it is not activated).
func (r *Root) AgreedTerms(ctx context.Context) (bindings.AgreedTerms, error) {
	p, err := r.GetRootParams(ctx)
	if err != nil {
		return bindings.AgreedTerms{}, err
	}
	_, job, err := r.ChildCodeHashes(ctx)
	if err != nil {
		return bindings.AgreedTerms{}, err
	}
	return bindings.TermsOf(*p, job), nil
}

// AnnouncedTerms are the terms Root's announced change will put in place
// and when (nil when no change is announced, or the one announced leaves
// the terms as they are).
func (r *Root) AnnouncedTerms(ctx context.Context) (*bindings.AgreedTerms, time.Time, error) {
	acc, err := r.Net.Account(ctx, r.Address)
	if err != nil {
		return nil, time.Time{}, err
	}
	if acc.Status != chain.StatusActive || acc.Data == nil {
		return nil, time.Time{}, fmt.Errorf("root %s: %w", r.Address, ErrNotDeployed)
	}
	st, err := bindings.Parse[bindings.RootStorage](acc.Data)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("reading root %s data: %w", r.Address, err)
	}
	pc := st.Codes.Pending
	if pc == nil || (pc.Params == nil && pc.JobCode == nil) {
		return nil, time.Time{}, nil
	}
	params, job := st.Params, st.Codes.JobCode
	if pc.Params != nil {
		params = *pc.Params
	}
	if pc.JobCode != nil {
		job = pc.JobCode
	}
	t := bindings.TermsOf(params, [32]byte(job.Hash()))
	return &t, time.Unix(int64(pc.EffectiveAt), 0), nil
}

// AgreedTermsHash is the hash of AgreedTerms: what WorkerRegister and
// WorkerUpdate carry to register under Root's current terms.
func (r *Root) AgreedTermsHash(ctx context.Context) ([32]byte, error) {
	t, err := r.AgreedTerms(ctx)
	if err != nil {
		return [32]byte{}, err
	}
	return t.Hash()
}

// WorkerAddressOnChain asks Root for the Worker address of (owner, key).
func (r *Root) WorkerAddressOnChain(ctx context.Context, owner *address.Address, workerKey [32]byte) (*address.Address, error) {
	return getValue[*address.Address](ctx, r.Net, r.Address, "worker_address", "addr", addrArg(owner), u256Arg(workerKey))
}

// JobAddressOnChain asks Root for the Job address of (client, nonce).
func (r *Root) JobAddressOnChain(ctx context.Context, client *address.Address, nonce uint64) (*address.Address, error) {
	return getValue[*address.Address](ctx, r.Net, r.Address, "job_address", "addr", addrArg(client), new(big.Int).SetUint64(nonce))
}

// ---- Worker ----------------------------------------------------------------

// Worker reads a Worker contract's get-methods.
type Worker struct {
	Net     chain.Network
	Address *address.Address
}

// NewWorker binds the Worker at addr on net.
func NewWorker(net chain.Network, addr *address.Address) *Worker {
	return &Worker{Net: net, Address: addr}
}

// WorkerDataView is worker_data() (Tolk WorkerDataView, worker.tolk).
// Deployed is false (and the rest zero) when the account does not exist: a
// withdrawn or rejected worker, or one never registered.
type WorkerDataView struct {
	Deployed      bool                  `stack:"-"`
	AccountStatus chain.AccountStatus   `stack:"-"`
	Root          *address.Address      `stack:"addr"`
	Owner         *address.Address      `stack:"addr"`
	WorkerKey     [32]byte              `stack:"u256"`
	Status        bindings.WorkerStatus `stack:"uint,8"`
}

// WorkerData reads worker_data().
func (w *Worker) WorkerData(ctx context.Context) (*WorkerDataView, error) {
	v, err := getView[WorkerDataView](ctx, w.Net, w.Address, "worker_data")
	var nd *NotDeployedError
	if errors.As(err, &nd) {
		return &WorkerDataView{AccountStatus: nd.Status}, nil
	}
	if err != nil {
		return nil, err
	}
	v.Deployed, v.AccountStatus = true, chain.StatusActive
	return v, nil
}

// WorkerStateView is worker_state() (Tolk WorkerStateView, worker.tolk):
// zeros and an empty endpoint before registration.
type WorkerStateView struct {
	Stake           *big.Int     `stack:"coins"`
	Earnings        *big.Int     `stack:"coins"`
	UnbondingSince  uint32       `stack:"uint,32"`
	HPKEKey         [32]byte     `stack:"u256"`
	AttestationHash [32]byte     `stack:"u256"`
	TEE             bindings.TEE `stack:"uint,8"`
	Measurement     [32]byte     `stack:"u256"`
	Endpoint        string       `stack:"snake"`
	JobsCompleted   uint64       `stack:"uint,64"`
	JobsFailed      uint64       `stack:"uint,64"`
	JobsSlashed     uint64       `stack:"uint,64"`
	TotalEarned     *big.Int     `stack:"coins"`
}

// WorkerState reads worker_state(); a missing Worker is a *NotDeployedError.
func (w *Worker) WorkerState(ctx context.Context) (*WorkerStateView, error) {
	return getView[WorkerStateView](ctx, w.Net, w.Address, "worker_state")
}

// RegistrationView is a Worker's registration (registration(); Tolk
// RegistrationView, worker.tolk).
type RegistrationView struct {
	ValidUntil   uint32   `stack:"uint,32"` // the activation lapses after it (0: never activated)
	Agreed       [32]byte `stack:"u256"`    // AgreedTerms hash the owner agreed to
	PendingQuery uint64   `stack:"uint,64"` // the registration or renewal in flight, 0 if none
	NextAgreed   [32]byte `stack:"u256"`    // announced terms the owner agreed to in advance (AgreeTerms), zero if none
}

// Registration reads registration().
func (w *Worker) Registration(ctx context.Context) (*RegistrationView, error) {
	return getView[RegistrationView](ctx, w.Net, w.Address, "registration")
}

// Storage reads the Worker's whole data (through bindings' checked parser).
func (w *Worker) Storage(ctx context.Context) (*bindings.WorkerStorage, error) {
	acc, err := w.Net.Account(ctx, w.Address)
	if err != nil {
		return nil, err
	}
	if acc.Status != chain.StatusActive || acc.Data == nil {
		return nil, fmt.Errorf("worker %s: %w", w.Address, ErrNotDeployed)
	}
	st, err := bindings.Parse[bindings.WorkerStorage](acc.Data)
	if err != nil {
		return nil, fmt.Errorf("reading worker %s data: %w", w.Address, err)
	}
	return st, nil
}

// RegisteredTerms are the terms the Worker's registration was activated
// under (nil before its first activation).
func (w *Worker) RegisteredTerms(ctx context.Context) (*bindings.AgreedTerms, error) {
	st, err := w.Storage(ctx)
	if err != nil {
		return nil, err
	}
	if st.State == nil || st.State.Snapshot == nil {
		return nil, nil
	}
	t := bindings.SnapshotTerms(*st.State.Snapshot)
	return &t, nil
}

// FeesOwed reads fees_owed(): the protocol fees of completed jobs the
// Worker holds for the treasury.
func (w *Worker) FeesOwed(ctx context.Context) (*big.Int, error) {
	return getValue[*big.Int](ctx, w.Net, w.Address, "fees_owed", "coins")
}

// modelPriceView is model_price(id) (Tolk ModelPriceView, worker.tolk).
type modelPriceView struct {
	Found    bool     `stack:"bool"`
	PriceIn  *big.Int `stack:"coins"`
	PriceOut *big.Int `stack:"coins"`
}

// ModelPrice reads model_price(id); found is false for a model not served.
func (w *Worker) ModelPrice(ctx context.Context, id [32]byte) (price *bindings.ModelPrice, found bool, err error) {
	v, err := getView[modelPriceView](ctx, w.Net, w.Address, "model_price", u256Arg(id))
	if err != nil || !v.Found {
		return nil, false, err
	}
	return &bindings.ModelPrice{PriceIn: v.PriceIn, PriceOut: v.PriceOut}, true, nil
}

// Models reads models(): every model served with its price (nil when none).
func (w *Worker) Models(ctx context.Context) (bindings.Models, error) {
	c, err := getValue[*cell.Cell](ctx, w.Net, w.Address, "models", "cell?")
	if err != nil {
		return nil, err
	}
	m, err := bindings.DecodeModels(c)
	if err != nil {
		return nil, fmt.Errorf("get-method models on %s: %w", w.Address, err)
	}
	return m, nil
}

// ---- Job -------------------------------------------------------------------

// Job reads a Job contract's get-methods.
type Job struct {
	Net     chain.Network
	Address *address.Address
}

// NewJob binds the Job at addr on net.
func NewJob(net chain.Network, addr *address.Address) *Job { return &Job{Net: net, Address: addr} }

// JobDataView is job_data() (Tolk JobDataView, job.tolk). Deployed is
// false (and the rest zero) when the account does not exist: a closed job,
// or one never created.
type JobDataView struct {
	Deployed      bool                `stack:"-"`
	AccountStatus chain.AccountStatus `stack:"-"`
	Root          *address.Address    `stack:"addr"`
	Client        *address.Address    `stack:"addr"`
	Nonce         uint64              `stack:"uint,64"`
	Status        bindings.JobStatus  `stack:"uint,8"`
}

// JobData reads job_data().
func (j *Job) JobData(ctx context.Context) (*JobDataView, error) {
	v, err := getView[JobDataView](ctx, j.Net, j.Address, "job_data")
	var nd *NotDeployedError
	if errors.As(err, &nd) {
		return &JobDataView{AccountStatus: nd.Status}, nil
	}
	if err != nil {
		return nil, err
	}
	v.Deployed, v.AccountStatus = true, chain.StatusActive
	return v, nil
}

// JobTermsView is job_terms() (Tolk JobTermsView, job.tolk): the terms
// (bindings.JobTerms, see Terms), then what Accept set and the creation
// time; zeros before JobCreate.
type JobTermsView struct {
	ModelID       [32]byte         `stack:"u256"`
	Worker        *address.Address `stack:"addr?"`
	PriceIn       *big.Int         `stack:"coins"`
	PriceOut      *big.Int         `stack:"coins"`
	MaxIn         uint32           `stack:"uint,32"`
	MaxOut        uint32           `stack:"uint,32"`
	Deadline      uint32           `stack:"uint,32"`
	ClientHPKEKey [32]byte         `stack:"u256"`
	RequestHash   [32]byte         `stack:"u256"`
	Callback      *address.Address `stack:"addr?"`
	IsPublic      bool             `stack:"bool"`
	WorkerKey     [32]byte         `stack:"u256"`
	FeeBps        uint16           `stack:"uint,16"`
	CreatedAt     uint32           `stack:"uint,32"`
}

// Terms are the job's terms as the client's JobCreate carried them.
func (v *JobTermsView) Terms() bindings.JobTerms {
	return bindings.JobTerms{
		ModelID: v.ModelID, Worker: v.Worker, PriceIn: v.PriceIn, PriceOut: v.PriceOut,
		MaxIn: v.MaxIn, MaxOut: v.MaxOut, Deadline: v.Deadline,
		ClientHPKEKey: v.ClientHPKEKey, RequestHash: v.RequestHash, Callback: v.Callback, IsPublic: v.IsPublic,
	}
}

// JobTerms reads job_terms(); a missing Job is a *NotDeployedError.
func (j *Job) JobTerms(ctx context.Context) (*JobTermsView, error) {
	return getView[JobTermsView](ctx, j.Net, j.Address, "job_terms")
}

// MaxCost reads max_cost().
func (j *Job) MaxCost(ctx context.Context) (*big.Int, error) {
	return getValue[*big.Int](ctx, j.Net, j.Address, "max_cost", "coins")
}

// Request reads request(): the inline request cell, nil when none.
func (j *Job) Request(ctx context.Context) (*cell.Cell, error) {
	return getValue[*cell.Cell](ctx, j.Net, j.Address, "request", "cell?")
}
