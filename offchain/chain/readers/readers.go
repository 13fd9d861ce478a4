// Package readers reads the Cocoon contracts' get-methods over a chain.Network:
// Root, Worker and Job, with a missing account reported as ErrNotDeployed.
// The wire types it returns live in bindings, which knows no network.
package readers

import (
	"context"
	"errors"
	"fmt"
	"math/big"

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

// runGet runs a get-method and checks how many values it returned. A
// failure on an account that is not active becomes a *NotDeployedError.
func runGet(ctx context.Context, net chain.Network, addr *address.Address, method string, want int, args ...any) ([]any, error) {
	res, err := net.RunGetMethod(ctx, addr, method, args...)
	if err != nil {
		acc, aerr := net.Account(ctx, addr)
		if aerr == nil && acc.Status != chain.StatusActive {
			return nil, &NotDeployedError{Address: addr, Status: acc.Status}
		}
		return nil, fmt.Errorf("get-method %s on %s: %w", method, addr, err)
	}
	// A struct returned by a get-method arrives flattened on the stack; a
	// tuple is accepted too, for contracts that return one.
	if len(res) == 1 && want > 1 {
		if t, ok := res[0].([]any); ok {
			res = t
		}
	}
	if len(res) != want {
		return nil, fmt.Errorf("get-method %s on %s returned %d values, want %d", method, addr, len(res), want)
	}
	return res, nil
}

// stackReader converts get-method results, remembering the first error.
type stackReader struct {
	method string
	vals   []any
	i      int
	err    error
}

func (s *stackReader) next() any {
	v := s.vals[s.i]
	s.i++
	return v
}

func (s *stackReader) fail(format string, args ...any) {
	if s.err == nil {
		s.err = fmt.Errorf("get-method %s, value %d: %s", s.method, s.i-1, fmt.Sprintf(format, args...))
	}
}

func (s *stackReader) int() *big.Int {
	v := s.next()
	n, ok := v.(*big.Int)
	if !ok {
		s.fail("got %T, want an integer", v)
		return new(big.Int)
	}
	return n
}

func (s *stackReader) uint(bits int) uint64 {
	n := s.int()
	if n.Sign() < 0 || n.BitLen() > bits {
		s.fail("%s is not a uint%d", n, bits)
		return 0
	}
	return n.Uint64()
}

func (s *stackReader) coins() *big.Int {
	n := s.int()
	if n.Sign() < 0 {
		s.fail("negative amount %s", n)
	}
	return n
}

func (s *stackReader) u256() (out [32]byte) {
	n := s.int()
	if n.Sign() < 0 || n.BitLen() > 256 {
		s.fail("%s is not a uint256", n)
		return out
	}
	n.FillBytes(out[:])
	return out
}

// bool reads TVM's -1/0 booleans (any non-zero is true).
func (s *stackReader) bool() bool { return s.int().Sign() != 0 }

// addr reads an address slice; null and addr_none are nil.
func (s *stackReader) addr() *address.Address {
	v := s.next()
	var sl *cell.Slice
	switch x := v.(type) {
	case nil:
		return nil
	case *cell.Slice:
		sl = x.Copy()
	case *cell.Cell:
		sl = x.BeginParse()
	default:
		s.fail("got %T, want an address slice", v)
		return nil
	}
	a, err := sl.LoadAddr()
	if err != nil {
		s.fail("reading address: %v", err)
		return nil
	}
	if a.Type() == address.NoneAddress {
		return nil
	}
	return a
}

// cell reads a cell or null.
func (s *stackReader) cell() *cell.Cell {
	v := s.next()
	switch x := v.(type) {
	case nil:
		return nil
	case *cell.Cell:
		return x
	case *cell.Slice:
		c, err := x.ToCell()
		if err != nil {
			s.fail("%v", err)
		}
		return c
	}
	s.fail("got %T, want a cell", v)
	return nil
}

func (s *stackReader) done() error { return s.err }

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

func (r *Root) get(ctx context.Context, method string, want int, args ...any) (*stackReader, error) {
	vals, err := runGet(ctx, r.Net, r.Address, method, want, args...)
	if err != nil {
		return nil, err
	}
	return &stackReader{method: method, vals: vals}, nil
}

// GetRootParams reads params(): the eight fields of bindings.RootParams in order.
func (r *Root) GetRootParams(ctx context.Context) (*bindings.RootParams, error) {
	s, err := r.get(ctx, "params", 8)
	if err != nil {
		return nil, err
	}
	p := &bindings.RootParams{
		MinWorkerStake: s.coins(),
		UnbondingDelay: uint32(s.uint(32)),
		ProtocolFeeBps: uint16(s.uint(16)),
		Treasury:       s.addr(),
		MinJobDeadline: uint32(s.uint(32)),
		MaxJobDeadline: uint32(s.uint(32)),
		SlashBps:       uint16(s.uint(16)),
		TestMode:       s.bool(),
	}
	return p, s.done()
}

// Version reads version(), bumped by every owner operation.
func (r *Root) Version(ctx context.Context) (uint32, error) {
	s, err := r.get(ctx, "version", 1)
	if err != nil {
		return 0, err
	}
	v := uint32(s.uint(32))
	return v, s.done()
}

// Owner reads owner().
func (r *Root) Owner(ctx context.Context) (*address.Address, error) {
	s, err := r.get(ctx, "owner", 1)
	if err != nil {
		return nil, err
	}
	a := s.addr()
	return a, s.done()
}

// PendingOwner reads pending_owner(); nil when none.
func (r *Root) PendingOwner(ctx context.Context) (*address.Address, error) {
	s, err := r.get(ctx, "pending_owner", 1)
	if err != nil {
		return nil, err
	}
	a := s.addr()
	return a, s.done()
}

// IsMeasurementAllowed reads is_measurement_allowed(tee, hash).
func (r *Root) IsMeasurementAllowed(ctx context.Context, tee bindings.TEE, measurement [32]byte) (bool, error) {
	s, err := r.get(ctx, "is_measurement_allowed", 1, big.NewInt(int64(tee)), u256Arg(measurement))
	if err != nil {
		return false, err
	}
	ok := s.bool()
	return ok, s.done()
}

// Model reads model(id); found is false for a model Root does not allow.
func (r *Root) Model(ctx context.Context, id [32]byte) (info *bindings.ModelInfo, found bool, err error) {
	s, err := r.get(ctx, "model", 4, u256Arg(id))
	if err != nil {
		return nil, false, err
	}
	found = s.bool()
	info = &bindings.ModelInfo{WeightsHash: s.u256(), MinPriceIn: s.coins(), MinPriceOut: s.coins()}
	if err := s.done(); err != nil {
		return nil, false, err
	}
	if !found {
		return nil, false, nil
	}
	return info, true, nil
}

// ChildCodeHashes reads child_code_hashes(): the hashes of the worker and job codes.
func (r *Root) ChildCodeHashes(ctx context.Context) (worker, job [32]byte, err error) {
	s, err := r.get(ctx, "child_code_hashes", 2)
	if err != nil {
		return worker, job, err
	}
	worker, job = s.u256(), s.u256()
	return worker, job, s.done()
}

// WorkerAddressOnChain asks Root for the Worker address of (owner, key).
// PendingChangeView is Root's announced change (pending_change()).
type PendingChangeView struct {
	Announced   bool
	EffectiveAt uint32
	Params      bool     // new params (read them from Root's storage or the ChangeAnnouncedEvent)
	RootCode    [32]byte // hash of the new code; zero: unchanged
	WorkerCode  [32]byte
	JobCode     [32]byte
}

// PendingChange reads pending_change().
func (r *Root) PendingChange(ctx context.Context) (*PendingChangeView, error) {
	s, err := r.get(ctx, "pending_change", 6)
	if err != nil {
		return nil, err
	}
	v := &PendingChangeView{Announced: s.bool(), EffectiveAt: uint32(s.uint(32)), Params: s.bool()}
	v.RootCode, v.WorkerCode, v.JobCode = s.u256(), s.u256(), s.u256()
	return v, s.done()
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

// AgreedTermsHash is the hash of AgreedTerms: what WorkerRegister and
// WorkerUpdate carry to register under Root's current terms.
func (r *Root) AgreedTermsHash(ctx context.Context) ([32]byte, error) {
	t, err := r.AgreedTerms(ctx)
	if err != nil {
		return [32]byte{}, err
	}
	return t.Hash()
}

func (r *Root) WorkerAddressOnChain(ctx context.Context, owner *address.Address, workerKey [32]byte) (*address.Address, error) {
	s, err := r.get(ctx, "worker_address", 1, addrArg(owner), u256Arg(workerKey))
	if err != nil {
		return nil, err
	}
	a := s.addr()
	return a, s.done()
}

// JobAddressOnChain asks Root for the Job address of (client, nonce).
func (r *Root) JobAddressOnChain(ctx context.Context, client *address.Address, nonce uint64) (*address.Address, error) {
	s, err := r.get(ctx, "job_address", 1, addrArg(client), new(big.Int).SetUint64(nonce))
	if err != nil {
		return nil, err
	}
	a := s.addr()
	return a, s.done()
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

func (w *Worker) get(ctx context.Context, method string, want int, args ...any) (*stackReader, error) {
	vals, err := runGet(ctx, w.Net, w.Address, method, want, args...)
	if err != nil {
		return nil, err
	}
	return &stackReader{method: method, vals: vals}, nil
}

// WorkerDataView is worker_data(). Deployed is false (and the rest zero)
// when the account does not exist: a withdrawn or rejected worker, or one
// never registered.
type WorkerDataView struct {
	Deployed      bool
	AccountStatus chain.AccountStatus
	Root          *address.Address
	Owner         *address.Address
	WorkerKey     [32]byte
	Status        bindings.WorkerStatus
}

// WorkerData reads worker_data() → (root, owner, worker key, status).
func (w *Worker) WorkerData(ctx context.Context) (*WorkerDataView, error) {
	s, err := w.get(ctx, "worker_data", 4)
	var nd *NotDeployedError
	if errors.As(err, &nd) {
		return &WorkerDataView{AccountStatus: nd.Status}, nil
	}
	if err != nil {
		return nil, err
	}
	v := &WorkerDataView{Deployed: true, AccountStatus: chain.StatusActive, Root: s.addr(), Owner: s.addr(), WorkerKey: s.u256(), Status: bindings.WorkerStatus(s.uint(8))}
	return v, s.done()
}

// WorkerStateView is worker_state(): zeros and an empty endpoint before registration.
type WorkerStateView struct {
	Stake           *big.Int
	Earnings        *big.Int
	UnbondingSince  uint32
	HPKEKey         [32]byte
	AttestationHash [32]byte
	TEE             bindings.TEE
	Measurement     [32]byte
	Endpoint        string
	JobsCompleted   uint64
	JobsFailed      uint64
	JobsSlashed     uint64
	TotalEarned     *big.Int
}

// WorkerState reads worker_state(); a missing Worker is a *NotDeployedError.
func (w *Worker) WorkerState(ctx context.Context) (*WorkerStateView, error) {
	s, err := w.get(ctx, "worker_state", 12)
	if err != nil {
		return nil, err
	}
	v := &WorkerStateView{
		Stake:           s.coins(),
		Earnings:        s.coins(),
		UnbondingSince:  uint32(s.uint(32)),
		HPKEKey:         s.u256(),
		AttestationHash: s.u256(),
		TEE:             bindings.TEE(s.uint(8)),
		Measurement:     s.u256(),
	}
	if ep := s.cell(); ep != nil {
		str, err := ep.BeginParse().LoadStringSnake()
		if err != nil {
			s.fail("endpoint: %v", err)
		}
		v.Endpoint = str
	}
	v.JobsCompleted, v.JobsFailed, v.JobsSlashed, v.TotalEarned = s.uint(64), s.uint(64), s.uint(64), s.coins()
	return v, s.done()
}

// ModelPrice reads model_price(id); found is false for a model not served.
// RegistrationView is a Worker's registration (registration()).
type RegistrationView struct {
	ValidUntil   uint32   // the activation lapses after it (0: never activated)
	Agreed       [32]byte // AgreedTerms hash the owner agreed to
	PendingQuery uint64   // the registration in flight, 0 if none
}

// FeesOwed reads fees_owed(): the protocol fees of completed jobs the
// Worker holds for the treasury.
func (w *Worker) FeesOwed(ctx context.Context) (*big.Int, error) {
	s, err := w.get(ctx, "fees_owed", 1)
	if err != nil {
		return nil, err
	}
	v := s.coins()
	return v, s.done()
}

// Registration reads registration().
func (w *Worker) Registration(ctx context.Context) (*RegistrationView, error) {
	s, err := w.get(ctx, "registration", 3)
	if err != nil {
		return nil, err
	}
	v := &RegistrationView{ValidUntil: uint32(s.uint(32)), Agreed: s.u256(), PendingQuery: s.uint(64)}
	return v, s.done()
}

func (w *Worker) ModelPrice(ctx context.Context, id [32]byte) (price *bindings.ModelPrice, found bool, err error) {
	s, err := w.get(ctx, "model_price", 3, u256Arg(id))
	if err != nil {
		return nil, false, err
	}
	found = s.bool()
	price = &bindings.ModelPrice{PriceIn: s.coins(), PriceOut: s.coins()}
	if err := s.done(); err != nil {
		return nil, false, err
	}
	if !found {
		return nil, false, nil
	}
	return price, true, nil
}

// Models reads models(): every model served with its price (nil when none).
func (w *Worker) Models(ctx context.Context) (bindings.Models, error) {
	s, err := w.get(ctx, "models", 1)
	if err != nil {
		return nil, err
	}
	c := s.cell()
	if err := s.done(); err != nil {
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

func (j *Job) get(ctx context.Context, method string, want int, args ...any) (*stackReader, error) {
	vals, err := runGet(ctx, j.Net, j.Address, method, want, args...)
	if err != nil {
		return nil, err
	}
	return &stackReader{method: method, vals: vals}, nil
}

// JobDataView is job_data(). Deployed is false (and the rest zero) when
// the account does not exist: a closed job, or one never created.
type JobDataView struct {
	Deployed      bool
	AccountStatus chain.AccountStatus
	Root          *address.Address
	Client        *address.Address
	Nonce         uint64
	Status        bindings.JobStatus
}

// JobData reads job_data() → (root, client, nonce, status).
func (j *Job) JobData(ctx context.Context) (*JobDataView, error) {
	s, err := j.get(ctx, "job_data", 4)
	var nd *NotDeployedError
	if errors.As(err, &nd) {
		return &JobDataView{AccountStatus: nd.Status}, nil
	}
	if err != nil {
		return nil, err
	}
	v := &JobDataView{Deployed: true, AccountStatus: chain.StatusActive, Root: s.addr(), Client: s.addr(), Nonce: s.uint(64), Status: bindings.JobStatus(s.uint(8))}
	return v, s.done()
}

// JobTermsView is job_terms(): the terms, plus what Accept set and the
// creation time.
type JobTermsView struct {
	bindings.JobTerms
	WorkerKey [32]byte
	FeeBps    uint16
	CreatedAt uint32
}

// JobTerms reads job_terms(); a missing Job is a *NotDeployedError.
func (j *Job) JobTerms(ctx context.Context) (*JobTermsView, error) {
	s, err := j.get(ctx, "job_terms", 14)
	if err != nil {
		return nil, err
	}
	v := &JobTermsView{JobTerms: bindings.JobTerms{
		ModelID:       s.u256(),
		Worker:        s.addr(),
		PriceIn:       s.coins(),
		PriceOut:      s.coins(),
		MaxIn:         uint32(s.uint(32)),
		MaxOut:        uint32(s.uint(32)),
		Deadline:      uint32(s.uint(32)),
		ClientHPKEKey: s.u256(),
		RequestHash:   s.u256(),
		Callback:      s.addr(),
		IsPublic:      s.bool(),
	}}
	v.WorkerKey, v.FeeBps, v.CreatedAt = s.u256(), uint16(s.uint(16)), uint32(s.uint(32))
	return v, s.done()
}

// MaxCost reads max_cost().
func (j *Job) MaxCost(ctx context.Context) (*big.Int, error) {
	s, err := j.get(ctx, "max_cost", 1)
	if err != nil {
		return nil, err
	}
	v := s.coins()
	return v, s.done()
}

// Request reads request(): the inline request cell, nil when none.
func (j *Job) Request(ctx context.Context) (*cell.Cell, error) {
	s, err := j.get(ctx, "request", 1)
	if err != nil {
		return nil, err
	}
	c := s.cell()
	return c, s.done()
}
