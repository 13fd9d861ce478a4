package bindings

import (
	"errors"
	"fmt"
	"math/big"
	"reflect"
	"sort"

	"github.com/xssnick/tonutils-go/address"
	"github.com/xssnick/tonutils-go/tvm/cell"
)

// Opcodes of contracts/common/types.tolk.
const (
	OpSetParams         uint32 = 0xc0c00001
	OpAddMeasurement    uint32 = 0xc0c00002
	OpRemoveMeasurement uint32 = 0xc0c00003
	OpAddModel          uint32 = 0xc0c00004
	OpRemoveModel       uint32 = 0xc0c00005
	OpSetTreasury       uint32 = 0xc0c00006
	OpUpgradeCode       uint32 = 0xc0c00007
	OpProposeOwner      uint32 = 0xc0c00008
	OpAcceptOwnership   uint32 = 0xc0c00009
	OpApplyChange       uint32 = 0xc0c0000a
	OpCancelChange      uint32 = 0xc0c0000b

	OpRegisterWorker    uint32 = 0xc0c00010
	OpWorkerDeactivated uint32 = 0xc0c00011
	OpActivate          uint32 = 0xc0c00020
	OpReject            uint32 = 0xc0c00021

	OpWorkerActivatedEvent   uint32 = 0xc0c000e1
	OpWorkerDeactivatedEvent uint32 = 0xc0c000e2
	OpChangeAnnouncedEvent   uint32 = 0xc0c000e4
	OpChangeAppliedEvent     uint32 = 0xc0c000e5

	OpWorkerRegister   uint32 = 0xc0c00030
	OpWorkerUpdate     uint32 = 0xc0c00031
	OpTopUp            uint32 = 0xc0c00032
	OpRequestUnbond    uint32 = 0xc0c00033
	OpWithdraw         uint32 = 0xc0c00034
	OpWithdrawEarnings uint32 = 0xc0c00035

	OpOffer     uint32 = 0xc0c00040
	OpJobPaid   uint32 = 0xc0c00041
	OpJobFailed uint32 = 0xc0c00042
	OpSlash     uint32 = 0xc0c00043

	OpAccept               uint32 = 0xc0c00050
	OpDecline              uint32 = 0xc0c00051
	OpSlashCompensation    uint32 = 0xc0c00052
	OpRegistrationRejected uint32 = 0xc0c00053
	OpStakeReturned        uint32 = 0xc0c00054
	OpEarningsPaid         uint32 = 0xc0c00055
	OpSlashForfeit         uint32 = 0xc0c00056
	OpProtocolFees         uint32 = 0xc0c00057

	OpJobCreate   uint32 = 0xc0c00060
	OpCancel      uint32 = 0xc0c00061
	OpRefund      uint32 = 0xc0c00062
	OpJobClosed   uint32 = 0xc0c00063
	OpJobCallback uint32 = 0xc0c00065

	OpReceipt  uint32 = 0xc0c00070
	OpExcesses uint32 = 0xd53276db
)

// Message is a Cocoon message body (or event, or receipt) with its opcode.
type Message interface {
	Opcode() uint32
	ToCell() (*cell.Cell, error)
}

type encoder interface {
	Opcode() uint32
	store(w *writer)
}

type decoder interface {
	Message
	load(r *reader)
}

func encode(m encoder) (*cell.Cell, error) {
	w := newWriter()
	w.uint(uint64(m.Opcode()), 32)
	m.store(w)
	return w.end(reflect.TypeOf(m).Name())
}

// registry maps each opcode to a constructor of its message.
var registry = map[uint32]func() decoder{}

func register[T any, PT interface {
	*T
	decoder
}]() {
	var zero T
	op := PT(&zero).Opcode()
	if _, dup := registry[op]; dup {
		panic(fmt.Sprintf("bindings: opcode 0x%08x registered twice", op))
	}
	registry[op] = func() decoder { return PT(new(T)) }
}

func init() {
	register[SetParams]()
	register[AddMeasurement]()
	register[RemoveMeasurement]()
	register[AddModel]()
	register[RemoveModel]()
	register[SetTreasury]()
	register[UpgradeCode]()
	register[ProposeOwner]()
	register[AcceptOwnership]()
	register[ApplyChange]()
	register[CancelChange]()
	register[ChangeAnnouncedEvent]()
	register[ChangeAppliedEvent]()
	register[RegisterWorker]()
	register[WorkerDeactivated]()
	register[Activate]()
	register[Reject]()
	register[WorkerActivatedEvent]()
	register[WorkerDeactivatedEvent]()
	register[WorkerRegister]()
	register[WorkerUpdate]()
	register[TopUp]()
	register[RequestUnbond]()
	register[Withdraw]()
	register[WithdrawEarnings]()
	register[Offer]()
	register[JobPaid]()
	register[JobFailed]()
	register[Slash]()
	register[Accept]()
	register[Decline]()
	register[SlashCompensation]()
	register[RegistrationRejected]()
	register[StakeReturned]()
	register[EarningsPaid]()
	register[SlashForfeit]()
	register[ProtocolFees]()
	register[JobCreate]()
	register[Cancel]()
	register[Refund]()
	register[JobClosed]()
	register[JobCallback]()
	register[Receipt]()
	register[Excesses]()
}

// Opcodes lists every opcode DecodeBody knows, in increasing order.
func Opcodes() []uint32 {
	ops := make([]uint32, 0, len(registry))
	for op := range registry {
		ops = append(ops, op)
	}
	sort.Slice(ops, func(i, j int) bool { return ops[i] < ops[j] })
	return ops
}

// OpcodeName is the name of the message with the opcode ("Accept"), or
// the opcode in hex when it is not a Cocoon message.
func OpcodeName(op uint32) string {
	if mk, ok := registry[op]; ok {
		return reflect.TypeOf(mk()).Elem().Name()
	}
	return fmt.Sprintf("op 0x%08x", op)
}

// ErrUnknownOpcode is wrapped by DecodeBody's error for a body whose opcode
// is not a Cocoon message (or that is too short to have one).
var ErrUnknownOpcode = errors.New("not a Cocoon message")

// DecodeBody parses any Cocoon message body, event or receipt by its
// opcode; the result is a pointer to the message struct (*JobClosed, ...).
// The whole cell must be consumed, as the contracts require.
func DecodeBody(body *cell.Cell) (Message, error) {
	if body == nil {
		return nil, fmt.Errorf("decoding message body: empty body: %w", ErrUnknownOpcode)
	}
	s := body.BeginParse()
	op, err := s.PreloadUInt(32)
	if err != nil {
		return nil, fmt.Errorf("decoding message body: %w", ErrUnknownOpcode)
	}
	mk, ok := registry[uint32(op)]
	if !ok {
		return nil, fmt.Errorf("decoding message body: opcode 0x%08x: %w", op, ErrUnknownOpcode)
	}
	m := mk()
	if err := decodeInto(body, m); err != nil {
		return nil, err
	}
	return m, nil
}

func decodeInto(body *cell.Cell, m decoder) error {
	r := newReader(body)
	name := reflect.TypeOf(m).Elem().Name()
	r.opcode(m.Opcode(), name)
	m.load(r)
	return r.end(name)
}

// Parse parses body as the message type T, e.g. Parse[JobClosed](body).
func Parse[T any, PT interface {
	*T
	decoder
}](body *cell.Cell) (*T, error) {
	m := PT(new(T))
	if err := decodeInto(body, m); err != nil {
		return nil, err
	}
	return (*T)(m), nil
}

// MustCell returns c, panicking on err; for building messages from
// constant, known-good values (tests, examples).
func MustCell(c *cell.Cell, err error) *cell.Cell {
	if err != nil {
		panic(err)
	}
	return c
}

// childCell parses a `Cell<T>` reference with parse, recording failures in r.
func childCell[T any](r *reader, field string, parse func(*cell.Cell) (*T, error)) T {
	var zero T
	c := r.ref(field)
	if r.err != nil {
		return zero
	}
	v, err := parse(c)
	if err != nil {
		r.fail(fmt.Errorf("%s: %w", field, err))
		return zero
	}
	return *v
}

func storeModels(w *writer, m Models) {
	d, err := m.dict()
	if err != nil {
		w.fail(err)
		return
	}
	w.dict(d)
}

func loadModels(r *reader) Models {
	d := r.dict("models")
	if r.err != nil {
		return nil
	}
	m, err := decodeModels(d)
	r.fail(err)
	return m
}

// ---- Root, owner operations ------------------------------------------------

// SetParams replaces Root's params (owner only).
type SetParams struct {
	QueryID uint64
	Params  RootParams
}

func (SetParams) Opcode() uint32                { return OpSetParams }
func (m SetParams) ToCell() (*cell.Cell, error) { return encode(m) }
func (m SetParams) store(w *writer)             { w.uint(m.QueryID, 64); w.child(m.Params, "params") }
func (m *SetParams) load(r *reader) {
	m.QueryID = r.uint(64)
	m.Params = childCell(r, "params", ParseRootParams)
}

// AddMeasurement allows a TEE measurement (owner only).
type AddMeasurement struct {
	QueryID     uint64
	TEE         TEE
	Measurement [32]byte
}

func (AddMeasurement) Opcode() uint32                { return OpAddMeasurement }
func (m AddMeasurement) ToCell() (*cell.Cell, error) { return encode(m) }
func (m AddMeasurement) store(w *writer) {
	w.uint(m.QueryID, 64)
	w.uint(uint64(m.TEE), 8)
	w.u256(m.Measurement)
}
func (m *AddMeasurement) load(r *reader) {
	m.QueryID, m.TEE, m.Measurement = r.uint(64), TEE(r.uint(8)), r.u256()
}

// RemoveMeasurement removes a TEE measurement from the allow-list (owner only).
type RemoveMeasurement struct {
	QueryID     uint64
	TEE         TEE
	Measurement [32]byte
}

func (RemoveMeasurement) Opcode() uint32                { return OpRemoveMeasurement }
func (m RemoveMeasurement) ToCell() (*cell.Cell, error) { return encode(m) }
func (m RemoveMeasurement) store(w *writer) {
	w.uint(m.QueryID, 64)
	w.uint(uint64(m.TEE), 8)
	w.u256(m.Measurement)
}
func (m *RemoveMeasurement) load(r *reader) {
	m.QueryID, m.TEE, m.Measurement = r.uint(64), TEE(r.uint(8)), r.u256()
}

// AddModel allows a model, or changes its entry (owner only).
type AddModel struct {
	QueryID uint64
	ModelID [32]byte
	Info    ModelInfo
}

func (AddModel) Opcode() uint32                { return OpAddModel }
func (m AddModel) ToCell() (*cell.Cell, error) { return encode(m) }
func (m AddModel) store(w *writer) {
	w.uint(m.QueryID, 64)
	w.u256(m.ModelID)
	storeModelInfo(w, m.Info)
}
func (m *AddModel) load(r *reader) {
	m.QueryID, m.ModelID, m.Info = r.uint(64), r.u256(), loadModelInfo(r)
}

// RemoveModel removes a model (owner only).
type RemoveModel struct {
	QueryID uint64
	ModelID [32]byte
}

func (RemoveModel) Opcode() uint32                { return OpRemoveModel }
func (m RemoveModel) ToCell() (*cell.Cell, error) { return encode(m) }
func (m RemoveModel) store(w *writer)             { w.uint(m.QueryID, 64); w.u256(m.ModelID) }
func (m *RemoveModel) load(r *reader)             { m.QueryID, m.ModelID = r.uint(64), r.u256() }

// SetTreasury changes where protocol fees go (owner only).
type SetTreasury struct {
	QueryID  uint64
	Treasury *address.Address
}

func (SetTreasury) Opcode() uint32                { return OpSetTreasury }
func (m SetTreasury) ToCell() (*cell.Cell, error) { return encode(m) }
func (m SetTreasury) store(w *writer)             { w.uint(m.QueryID, 64); w.addr(m.Treasury, "treasury") }
func (m *SetTreasury) load(r *reader)             { m.QueryID, m.Treasury = r.uint(64), r.addr("treasury") }

// UpgradeCode replaces Root's own code and/or the child codes; nil keeps one.
type UpgradeCode struct {
	QueryID    uint64
	RootCode   *cell.Cell
	WorkerCode *cell.Cell
	JobCode    *cell.Cell
}

func (UpgradeCode) Opcode() uint32                { return OpUpgradeCode }
func (m UpgradeCode) ToCell() (*cell.Cell, error) { return encode(m) }
func (m UpgradeCode) store(w *writer) {
	w.uint(m.QueryID, 64)
	w.maybeRef(m.RootCode)
	w.maybeRef(m.WorkerCode)
	w.maybeRef(m.JobCode)
}
func (m *UpgradeCode) load(r *reader) {
	m.QueryID = r.uint(64)
	m.RootCode, m.WorkerCode, m.JobCode = r.maybeRef("rootCode"), r.maybeRef("workerCode"), r.maybeRef("jobCode")
}

// ProposeOwner starts a two-step ownership transfer (owner only).
type ProposeOwner struct {
	QueryID  uint64
	NewOwner *address.Address
}

func (ProposeOwner) Opcode() uint32                { return OpProposeOwner }
func (m ProposeOwner) ToCell() (*cell.Cell, error) { return encode(m) }
func (m ProposeOwner) store(w *writer)             { w.uint(m.QueryID, 64); w.addr(m.NewOwner, "newOwner") }
func (m *ProposeOwner) load(r *reader)             { m.QueryID, m.NewOwner = r.uint(64), r.addr("newOwner") }

// AcceptOwnership completes the transfer (proposed owner only).
type AcceptOwnership struct{ QueryID uint64 }

func (AcceptOwnership) Opcode() uint32                { return OpAcceptOwnership }
func (m AcceptOwnership) ToCell() (*cell.Cell, error) { return encode(m) }
func (m AcceptOwnership) store(w *writer)             { w.uint(m.QueryID, 64) }
func (m *AcceptOwnership) load(r *reader)             { m.QueryID = r.uint(64) }

// ApplyChange applies Root's announced change once it is due (from anyone).
type ApplyChange struct{ QueryID uint64 }

func (ApplyChange) Opcode() uint32                { return OpApplyChange }
func (m ApplyChange) ToCell() (*cell.Cell, error) { return encode(m) }
func (m ApplyChange) store(w *writer)             { w.uint(m.QueryID, 64) }
func (m *ApplyChange) load(r *reader)             { m.QueryID = r.uint(64) }

// CancelChange drops Root's announced change (owner).
type CancelChange struct{ QueryID uint64 }

func (CancelChange) Opcode() uint32                { return OpCancelChange }
func (m CancelChange) ToCell() (*cell.Cell, error) { return encode(m) }
func (m CancelChange) store(w *writer)             { w.uint(m.QueryID, 64) }
func (m *CancelChange) load(r *reader)             { m.QueryID = r.uint(64) }

// ChangeAnnouncedEvent is logged by Root when the owner announces a change
// (SetParams, SetTreasury, UpgradeCode): the whole pending change.
type ChangeAnnouncedEvent struct {
	EffectiveAt uint32
	Change      PendingChange
}

func (ChangeAnnouncedEvent) Opcode() uint32                { return OpChangeAnnouncedEvent }
func (m ChangeAnnouncedEvent) ToCell() (*cell.Cell, error) { return encode(m) }
func (m ChangeAnnouncedEvent) store(w *writer) {
	w.uint(uint64(m.EffectiveAt), 32)
	w.child(m.Change, "change")
}
func (m *ChangeAnnouncedEvent) load(r *reader) {
	m.EffectiveAt = uint32(r.uint(32))
	m.Change = childCell(r, "change", ParsePendingChange)
}

// ChangeAppliedEvent is logged by Root when ApplyChange applies the change.
type ChangeAppliedEvent struct{ Version uint32 }

func (ChangeAppliedEvent) Opcode() uint32                { return OpChangeAppliedEvent }
func (m ChangeAppliedEvent) ToCell() (*cell.Cell, error) { return encode(m) }
func (m ChangeAppliedEvent) store(w *writer)             { w.uint(uint64(m.Version), 32) }
func (m *ChangeAppliedEvent) load(r *reader)             { m.Version = uint32(r.uint(32)) }

// ---- Worker <-> Root ---------------------------------------------------------

// RegisterWorker is a Worker asking Root to validate its registration.
type RegisterWorker struct {
	QueryID     uint64
	Owner       *address.Address
	WorkerKey   [32]byte
	Stake       *big.Int
	TEE         TEE
	Measurement [32]byte
	Models      Models
}

func (RegisterWorker) Opcode() uint32                { return OpRegisterWorker }
func (m RegisterWorker) ToCell() (*cell.Cell, error) { return encode(m) }
func (m RegisterWorker) store(w *writer) {
	w.uint(m.QueryID, 64)
	w.addr(m.Owner, "owner")
	w.u256(m.WorkerKey)
	w.coins(m.Stake)
	w.uint(uint64(m.TEE), 8)
	w.u256(m.Measurement)
	storeModels(w, m.Models)
}
func (m *RegisterWorker) load(r *reader) {
	m.QueryID, m.Owner, m.WorkerKey, m.Stake = r.uint(64), r.addr("owner"), r.u256(), r.coins()
	m.TEE, m.Measurement, m.Models = TEE(r.uint(8)), r.u256(), loadModels(r)
}

// WorkerDeactivated tells Root a worker stopped serving.
type WorkerDeactivated struct {
	QueryID   uint64
	Owner     *address.Address
	WorkerKey [32]byte
	Reason    uint8 // DeactivatedUnbonding or DeactivatedSlashed
}

func (WorkerDeactivated) Opcode() uint32                { return OpWorkerDeactivated }
func (m WorkerDeactivated) ToCell() (*cell.Cell, error) { return encode(m) }
func (m WorkerDeactivated) store(w *writer) {
	w.uint(m.QueryID, 64)
	w.addr(m.Owner, "owner")
	w.u256(m.WorkerKey)
	w.uint(uint64(m.Reason), 8)
}
func (m *WorkerDeactivated) load(r *reader) {
	m.QueryID, m.Owner, m.WorkerKey, m.Reason = r.uint(64), r.addr("owner"), r.u256(), uint8(r.uint(8))
}

// Activate is Root's acceptance of a registration.
type Activate struct {
	QueryID  uint64
	Snapshot ParamsSnapshot
}

func (Activate) Opcode() uint32                { return OpActivate }
func (m Activate) ToCell() (*cell.Cell, error) { return encode(m) }
func (m Activate) store(w *writer)             { w.uint(m.QueryID, 64); w.child(m.Snapshot, "snapshot") }
func (m *Activate) load(r *reader) {
	m.QueryID = r.uint(64)
	m.Snapshot = childCell(r, "snapshot", ParseParamsSnapshot)
}

// Reject is Root's refusal of a registration; Reason is an error code.
type Reject struct {
	QueryID uint64
	Reason  uint16
}

func (Reject) Opcode() uint32                { return OpReject }
func (m Reject) ToCell() (*cell.Cell, error) { return encode(m) }
func (m Reject) store(w *writer)             { w.uint(m.QueryID, 64); w.uint(uint64(m.Reason), 16) }
func (m *Reject) load(r *reader)             { m.QueryID, m.Reason = r.uint(64), uint16(r.uint(16)) }

// ---- Root events (external-out) ------------------------------------------------

// WorkerActivatedEvent is logged by Root when it activates a worker. It has
// no owner (with it the event would not fit in a cell): worker_data() has it.
type WorkerActivatedEvent struct {
	Worker      *address.Address
	WorkerKey   [32]byte
	TEE         TEE
	Measurement [32]byte
	Version     uint32
}

func (WorkerActivatedEvent) Opcode() uint32                { return OpWorkerActivatedEvent }
func (m WorkerActivatedEvent) ToCell() (*cell.Cell, error) { return encode(m) }
func (m WorkerActivatedEvent) store(w *writer) {
	w.addr(m.Worker, "worker")
	w.u256(m.WorkerKey)
	w.uint(uint64(m.TEE), 8)
	w.u256(m.Measurement)
	w.uint(uint64(m.Version), 32)
}
func (m *WorkerActivatedEvent) load(r *reader) {
	m.Worker, m.WorkerKey = r.addr("worker"), r.u256()
	m.TEE, m.Measurement, m.Version = TEE(r.uint(8)), r.u256(), uint32(r.uint(32))
}

// WorkerDeactivatedEvent is logged by Root when a worker stops serving.
type WorkerDeactivatedEvent struct {
	Worker *address.Address
	Reason uint8
}

func (WorkerDeactivatedEvent) Opcode() uint32                { return OpWorkerDeactivatedEvent }
func (m WorkerDeactivatedEvent) ToCell() (*cell.Cell, error) { return encode(m) }
func (m WorkerDeactivatedEvent) store(w *writer) {
	w.addr(m.Worker, "worker")
	w.uint(uint64(m.Reason), 8)
}
func (m *WorkerDeactivatedEvent) load(r *reader) {
	m.Worker, m.Reason = r.addr("worker"), uint8(r.uint(8))
}

// ---- Owner -> Worker ---------------------------------------------------------

// WorkerRegister deploys (with the Worker's StateInit) and registers a
// worker; the value minus WorkerRegisterFee is the stake. Agreed is the
// AgreedTerms hash of Root's params and job code the owner accepts.
type WorkerRegister struct {
	QueryID uint64
	Profile WorkerProfile
	Agreed  [32]byte
}

func (WorkerRegister) Opcode() uint32                { return OpWorkerRegister }
func (m WorkerRegister) ToCell() (*cell.Cell, error) { return encode(m) }
func (m WorkerRegister) store(w *writer) {
	w.uint(m.QueryID, 64)
	w.child(m.Profile, "profile")
	w.u256(m.Agreed)
}
func (m *WorkerRegister) load(r *reader) {
	m.QueryID = r.uint(64)
	m.Profile = childCell(r, "profile", ParseWorkerProfile)
	m.Agreed = r.u256()
}

// WorkerUpdate replaces the profile (and the agreed terms) and re-registers
// with Root.
type WorkerUpdate struct {
	QueryID uint64
	Profile WorkerProfile
	Agreed  [32]byte
}

func (WorkerUpdate) Opcode() uint32                { return OpWorkerUpdate }
func (m WorkerUpdate) ToCell() (*cell.Cell, error) { return encode(m) }
func (m WorkerUpdate) store(w *writer) {
	w.uint(m.QueryID, 64)
	w.child(m.Profile, "profile")
	w.u256(m.Agreed)
}
func (m *WorkerUpdate) load(r *reader) {
	m.QueryID = r.uint(64)
	m.Profile = childCell(r, "profile", ParseWorkerProfile)
	m.Agreed = r.u256()
}

// TopUp adds the value (minus NotifyGas) to the stake.
type TopUp struct{ QueryID uint64 }

func (TopUp) Opcode() uint32                { return OpTopUp }
func (m TopUp) ToCell() (*cell.Cell, error) { return encode(m) }
func (m TopUp) store(w *writer)             { w.uint(m.QueryID, 64) }
func (m *TopUp) load(r *reader)             { m.QueryID = r.uint(64) }

// RequestUnbond starts the unbonding delay.
type RequestUnbond struct{ QueryID uint64 }

func (RequestUnbond) Opcode() uint32                { return OpRequestUnbond }
func (m RequestUnbond) ToCell() (*cell.Cell, error) { return encode(m) }
func (m RequestUnbond) store(w *writer)             { w.uint(m.QueryID, 64) }
func (m *RequestUnbond) load(r *reader)             { m.QueryID = r.uint(64) }

// Withdraw destroys an unbonded Worker and returns all its funds.
type Withdraw struct{ QueryID uint64 }

func (Withdraw) Opcode() uint32                { return OpWithdraw }
func (m Withdraw) ToCell() (*cell.Cell, error) { return encode(m) }
func (m Withdraw) store(w *writer)             { w.uint(m.QueryID, 64) }
func (m *Withdraw) load(r *reader)             { m.QueryID = r.uint(64) }

// WithdrawEarnings pays the earnings out to the owner.
type WithdrawEarnings struct{ QueryID uint64 }

func (WithdrawEarnings) Opcode() uint32                { return OpWithdrawEarnings }
func (m WithdrawEarnings) ToCell() (*cell.Cell, error) { return encode(m) }
func (m WithdrawEarnings) store(w *writer)             { w.uint(m.QueryID, 64) }
func (m *WithdrawEarnings) load(r *reader)             { m.QueryID = r.uint(64) }

// ---- Job <-> Worker ----------------------------------------------------------

// Offer is a Job proposing itself to its worker.
type Offer struct {
	QueryID  uint64
	Client   *address.Address
	Nonce    uint64
	ModelID  [32]byte
	PriceIn  *big.Int
	PriceOut *big.Int
	Deadline uint32
}

func (Offer) Opcode() uint32                { return OpOffer }
func (m Offer) ToCell() (*cell.Cell, error) { return encode(m) }
func (m Offer) store(w *writer) {
	w.uint(m.QueryID, 64)
	w.addr(m.Client, "client")
	w.uint(m.Nonce, 64)
	w.u256(m.ModelID)
	w.coins(m.PriceIn)
	w.coins(m.PriceOut)
	w.uint(uint64(m.Deadline), 32)
}
func (m *Offer) load(r *reader) {
	m.QueryID, m.Client, m.Nonce, m.ModelID = r.uint(64), r.addr("client"), r.uint(64), r.u256()
	m.PriceIn, m.PriceOut, m.Deadline = r.coins(), r.coins(), uint32(r.uint(32))
}

// JobPaid carries a completed job's charge to its worker (with NOTIFY_GAS):
// Fee of it is the protocol fee, which the Worker owes the treasury and
// sends in batches (ProtocolFees); the rest is the worker's pay.
type JobPaid struct {
	QueryID uint64
	Client  *address.Address
	Nonce   uint64
	Fee     *big.Int
}

func (JobPaid) Opcode() uint32                { return OpJobPaid }
func (m JobPaid) ToCell() (*cell.Cell, error) { return encode(m) }
func (m JobPaid) store(w *writer)             { storeJobRef(w, m.QueryID, m.Client, m.Nonce); w.coins(m.Fee) }
func (m *JobPaid) load(r *reader)             { m.QueryID, m.Client, m.Nonce = loadJobRef(r); m.Fee = r.coins() }

// Pay is what a JobPaid carrying value adds to the worker's earnings, as the
// Worker computes it: the charge (value − NotifyGas, at least 0) less the fee.
func (m JobPaid) Pay(value *big.Int) *big.Int {
	pay := new(big.Int).Sub(value, big.NewInt(NotifyGas))
	if m.Fee != nil {
		pay.Sub(pay, m.Fee)
	}
	if pay.Sign() < 0 {
		return new(big.Int)
	}
	return pay
}

// JobFailed tells the worker a job closed on its failure receipt.
type JobFailed struct {
	QueryID uint64
	Client  *address.Address
	Nonce   uint64
}

func (JobFailed) Opcode() uint32                { return OpJobFailed }
func (m JobFailed) ToCell() (*cell.Cell, error) { return encode(m) }
func (m JobFailed) store(w *writer)             { storeJobRef(w, m.QueryID, m.Client, m.Nonce) }
func (m *JobFailed) load(r *reader)             { m.QueryID, m.Client, m.Nonce = loadJobRef(r) }

// Slash tells the worker a job it accepted expired unserved; the job's
// max cost bounds the client's compensation.
type Slash struct {
	QueryID uint64
	Client  *address.Address
	Nonce   uint64
	MaxCost *big.Int
}

func (Slash) Opcode() uint32                { return OpSlash }
func (m Slash) ToCell() (*cell.Cell, error) { return encode(m) }
func (m Slash) store(w *writer)             { storeJobRef(w, m.QueryID, m.Client, m.Nonce); w.coins(m.MaxCost) }
func (m *Slash) load(r *reader) {
	m.QueryID, m.Client, m.Nonce = loadJobRef(r)
	m.MaxCost = r.coins()
}

func storeJobRef(w *writer, q uint64, client *address.Address, nonce uint64) {
	w.uint(q, 64)
	w.addr(client, "client")
	w.uint(nonce, 64)
}

func loadJobRef(r *reader) (uint64, *address.Address, uint64) {
	return r.uint(64), r.addr("client"), r.uint(64)
}

// Accept is the worker taking a job.
type Accept struct {
	QueryID   uint64
	WorkerKey [32]byte
	FeeBps    uint16
	Treasury  *address.Address
}

func (Accept) Opcode() uint32                { return OpAccept }
func (m Accept) ToCell() (*cell.Cell, error) { return encode(m) }
func (m Accept) store(w *writer) {
	w.uint(m.QueryID, 64)
	w.u256(m.WorkerKey)
	w.uint(uint64(m.FeeBps), 16)
	w.addr(m.Treasury, "treasury")
}
func (m *Accept) load(r *reader) {
	m.QueryID, m.WorkerKey, m.FeeBps, m.Treasury = r.uint(64), r.u256(), uint16(r.uint(16)), r.addr("treasury")
}

// Decline is the worker refusing a job; Reason is an error code.
type Decline struct {
	QueryID uint64
	Reason  uint16
}

func (Decline) Opcode() uint32                { return OpDecline }
func (m Decline) ToCell() (*cell.Cell, error) { return encode(m) }
func (m Decline) store(w *writer)             { w.uint(m.QueryID, 64); w.uint(uint64(m.Reason), 16) }
func (m *Decline) load(r *reader)             { m.QueryID, m.Reason = r.uint(64), uint16(r.uint(16)) }

// ---- Worker -> others --------------------------------------------------------

// SlashCompensation carries the slashed stake to the client of an expired job.
type SlashCompensation struct {
	QueryID uint64
	Job     *address.Address
}

func (SlashCompensation) Opcode() uint32                { return OpSlashCompensation }
func (m SlashCompensation) ToCell() (*cell.Cell, error) { return encode(m) }
func (m SlashCompensation) store(w *writer)             { w.uint(m.QueryID, 64); w.addr(m.Job, "job") }
func (m *SlashCompensation) load(r *reader)             { m.QueryID, m.Job = r.uint(64), r.addr("job") }

// RegistrationRejected returns all funds of a rejected new Worker to its owner.
type RegistrationRejected struct {
	QueryID uint64
	Reason  uint16
}

func (RegistrationRejected) Opcode() uint32                { return OpRegistrationRejected }
func (m RegistrationRejected) ToCell() (*cell.Cell, error) { return encode(m) }
func (m RegistrationRejected) store(w *writer)             { w.uint(m.QueryID, 64); w.uint(uint64(m.Reason), 16) }
func (m *RegistrationRejected) load(r *reader)             { m.QueryID, m.Reason = r.uint(64), uint16(r.uint(16)) }

// StakeReturned returns all funds of a withdrawn Worker to its owner.
type StakeReturned struct{ QueryID uint64 }

func (StakeReturned) Opcode() uint32                { return OpStakeReturned }
func (m StakeReturned) ToCell() (*cell.Cell, error) { return encode(m) }
func (m StakeReturned) store(w *writer)             { w.uint(m.QueryID, 64) }
func (m *StakeReturned) load(r *reader)             { m.QueryID = r.uint(64) }

// SlashForfeit carries to the treasury the part of a slash beyond the
// client's compensation.
type SlashForfeit struct {
	QueryID uint64
	Job     *address.Address
}

func (SlashForfeit) Opcode() uint32                { return OpSlashForfeit }
func (m SlashForfeit) ToCell() (*cell.Cell, error) { return encode(m) }
func (m SlashForfeit) store(w *writer)             { w.uint(m.QueryID, 64); w.addr(m.Job, "job") }
func (m *SlashForfeit) load(r *reader)             { m.QueryID, m.Job = r.uint(64), r.addr("job") }

// ProtocolFees carries a batch of the protocol fees a Worker owed to the
// treasury (at least ProtocolFeeBatch, or all of them at Withdraw).
type ProtocolFees struct{ QueryID uint64 }

func (ProtocolFees) Opcode() uint32                { return OpProtocolFees }
func (m ProtocolFees) ToCell() (*cell.Cell, error) { return encode(m) }
func (m ProtocolFees) store(w *writer)             { w.uint(m.QueryID, 64) }
func (m *ProtocolFees) load(r *reader)             { m.QueryID = r.uint(64) }

// EarningsPaid carries a worker's earnings to its owner.
type EarningsPaid struct{ QueryID uint64 }

func (EarningsPaid) Opcode() uint32                { return OpEarningsPaid }
func (m EarningsPaid) ToCell() (*cell.Cell, error) { return encode(m) }
func (m EarningsPaid) store(w *writer)             { w.uint(m.QueryID, 64) }
func (m *EarningsPaid) load(r *reader)             { m.QueryID = r.uint(64) }

// ---- Client -> Job -------------------------------------------------------------

// JobCreate deploys a Job (with its StateInit); the value is the escrow.
type JobCreate struct {
	QueryID uint64
	Terms   JobTerms
	Request *cell.Cell // inline request ciphertext, optional
}

func (JobCreate) Opcode() uint32                { return OpJobCreate }
func (m JobCreate) ToCell() (*cell.Cell, error) { return encode(m) }
func (m JobCreate) store(w *writer) {
	w.uint(m.QueryID, 64)
	w.child(m.Terms, "terms")
	w.maybeRef(m.Request)
}
func (m *JobCreate) load(r *reader) {
	m.QueryID = r.uint(64)
	m.Terms = childCell(r, "terms", ParseJobTerms)
	m.Request = r.maybeRef("request")
}

// Cancel closes an offered job (client only).
type Cancel struct{ QueryID uint64 }

func (Cancel) Opcode() uint32                { return OpCancel }
func (m Cancel) ToCell() (*cell.Cell, error) { return encode(m) }
func (m Cancel) store(w *writer)             { w.uint(m.QueryID, 64) }
func (m *Cancel) load(r *reader)             { m.QueryID = r.uint(64) }

// Refund closes a job after its deadline (anyone).
type Refund struct{ QueryID uint64 }

func (Refund) Opcode() uint32                { return OpRefund }
func (m Refund) ToCell() (*cell.Cell, error) { return encode(m) }
func (m Refund) store(w *writer)             { w.uint(m.QueryID, 64) }
func (m *Refund) load(r *reader)             { m.QueryID = r.uint(64) }

// ---- Job -> client / treasury / callback ---------------------------------------

// JobClosed carries all remaining funds of a closing job to its client,
// and tells watchers how it ended: the receipt's charge, the protocol fee
// of it and the result hash (zeros unless a receipt closed the job).
type JobClosed struct {
	QueryID    uint64
	Reason     uint16 // Closed* or an error code
	Charge     *big.Int
	Fee        *big.Int
	ResultHash [32]byte
}

func (JobClosed) Opcode() uint32                { return OpJobClosed }
func (m JobClosed) ToCell() (*cell.Cell, error) { return encode(m) }
func (m JobClosed) store(w *writer) {
	w.uint(m.QueryID, 64)
	w.uint(uint64(m.Reason), 16)
	w.coins(m.Charge)
	w.coins(m.Fee)
	w.u256(m.ResultHash)
}
func (m *JobClosed) load(r *reader) {
	m.QueryID, m.Reason = r.uint(64), uint16(r.uint(16))
	m.Charge, m.Fee, m.ResultHash = r.coins(), r.coins(), r.u256()
}

// JobCallback tells a job's callback address the result.
type JobCallback struct {
	QueryID    uint64
	Job        *address.Address
	ResultHash [32]byte
	Result     *cell.Cell // inline sealed result, when small
}

func (JobCallback) Opcode() uint32                { return OpJobCallback }
func (m JobCallback) ToCell() (*cell.Cell, error) { return encode(m) }
func (m JobCallback) store(w *writer) {
	w.uint(m.QueryID, 64)
	w.addr(m.Job, "job")
	w.u256(m.ResultHash)
	w.maybeRef(m.Result)
}
func (m *JobCallback) load(r *reader) {
	m.QueryID, m.Job, m.ResultHash, m.Result = r.uint(64), r.addr("job"), r.u256(), r.maybeRef("result")
}

// Excesses is TON's standard notification returning unspent value.
type Excesses struct{ QueryID uint64 }

func (Excesses) Opcode() uint32                { return OpExcesses }
func (m Excesses) ToCell() (*cell.Cell, error) { return encode(m) }
func (m Excesses) store(w *writer)             { w.uint(m.QueryID, 64) }
func (m *Excesses) load(r *reader)             { m.QueryID = r.uint(64) }
