package bindings

import (
	"crypto/sha256"
	"fmt"
	"math/big"
	"strings"

	"github.com/xssnick/tonutils-go/address"
	"github.com/xssnick/tonutils-go/tvm/cell"
)

// This file mirrors the storage layouts and shared value types of
// contracts/common/types.tolk, field for field and in the same order.

// Fixed amounts of contracts/common/fees.tolk, in nanoton.
const (
	WorkerRegisterFee = 50_000_000 // kept from WorkerRegister's value; the rest is stake
	RegisterForward   = 30_000_000 // value of RegisterWorker to Root
	NotifyGas         = 10_000_000 // receiver's gas for JobPaid / JobFailed / Slash / WorkerDeactivated
	OfferValue        = 20_000_000 // value of Offer
	JobGasReserve     = 50_000_000 // escrow beyond the max cost for the job's own transactions
	OneMillion        = 1_000_000  // prices are per 1M tokens
	ProtocolFeeBatch  = 50_000_000 // a Worker sends the protocol fees it owes once they reach this much
)

// Timelock and registration lifetime of contracts/common/fees.tolk, in seconds.
const (
	ChangeTimelock  = 172800 // an announced owner change takes effect this long after
	RegistrationTTL = 86400  // an activation lasts this long; then offers are declined until a WorkerUpdate
)

// Slashing limits of contracts/common/fees.tolk.
const (
	SlashWindow         = 3600 // seconds
	MaxSlashesPerWindow = 3    // Slashes that take stake per window; later ones only count
)

// TEE is a trusted execution environment type as the contracts number them.
type TEE uint8

const (
	TEETDX      TEE = 1
	TEESEVSNP   TEE = 2
	TEENvidiaCC TEE = 3
	TEEDev      TEE = 4 // software statement, accepted only in test mode
)

var teeNames = map[TEE]string{TEETDX: "tdx", TEESEVSNP: "sevsnp", TEENvidiaCC: "nvidia_cc", TEEDev: "dev"}

// String returns the TEE's name as flags and configs spell it ("tdx").
func (t TEE) String() string {
	if n, ok := teeNames[t]; ok {
		return n
	}
	return fmt.Sprintf("tee(%d)", uint8(t))
}

// Valid reports whether the contracts know the type (1..4).
func (t TEE) Valid() bool { _, ok := teeNames[t]; return ok }

// ParseTEE reads a TEE name (tdx, sevsnp, nvidia_cc, dev; case-insensitive).
func ParseTEE(s string) (TEE, error) {
	want := strings.ToLower(strings.TrimSpace(s))
	for t, n := range teeNames {
		if n == want {
			return t, nil
		}
	}
	return 0, fmt.Errorf("unknown TEE type %q (want tdx, sevsnp, nvidia_cc or dev)", s)
}

// ModelID is a model's id in Root and Worker: sha256 of its name.
func ModelID(name string) [32]byte { return sha256.Sum256([]byte(name)) }

// WorkerStatus is a Worker contract's status.
type WorkerStatus uint8

const (
	WorkerNone      WorkerStatus = 0 // deployed but not registered (initial data)
	WorkerPending   WorkerStatus = 1 // waiting for Root's answer
	WorkerActive    WorkerStatus = 2
	WorkerUnbonding WorkerStatus = 3 // stake locked until unbondingSince + delay
	WorkerSlashed   WorkerStatus = 4 // stake fell below Root's minimum
	WorkerInactive  WorkerStatus = 5 // a re-validation was rejected
)

func (s WorkerStatus) String() string {
	switch s {
	case WorkerNone:
		return "none"
	case WorkerPending:
		return "pending"
	case WorkerActive:
		return "active"
	case WorkerUnbonding:
		return "unbonding"
	case WorkerSlashed:
		return "slashed"
	case WorkerInactive:
		return "inactive"
	}
	return fmt.Sprintf("status(%d)", uint8(s))
}

// JobStatus is a Job contract's status; a closed job no longer exists.
type JobStatus uint8

const (
	JobNone     JobStatus = 0 // initial data, before the client's JobCreate
	JobOffered  JobStatus = 1 // Offer sent to the worker
	JobAccepted JobStatus = 2 // the worker accepted; a receipt or a refund closes it
)

func (s JobStatus) String() string {
	switch s {
	case JobNone:
		return "none"
	case JobOffered:
		return "offered"
	case JobAccepted:
		return "accepted"
	}
	return fmt.Sprintf("status(%d)", uint8(s))
}

// Close reasons carried by JobClosed and JobClosedEvent.
const (
	ClosedCompleted    = 0
	ClosedFailed       = 1
	ClosedDeclined     = 2
	ClosedCancelled    = 3
	ClosedExpired      = 4
	ClosedOfferBounced = 5
)

// Reasons carried by WorkerDeactivated and WorkerDeactivatedEvent.
const (
	DeactivatedUnbonding = 1
	DeactivatedSlashed   = 2
)

// ModelPrice is a worker's price for one model, nanoton per 1M tokens.
type ModelPrice struct {
	PriceIn  *big.Int
	PriceOut *big.Int
}

func storeModelPrice(w *writer, v ModelPrice) { w.coins(v.PriceIn); w.coins(v.PriceOut) }
func loadModelPrice(r *reader) ModelPrice {
	return ModelPrice{PriceIn: r.coins(), PriceOut: r.coins()}
}

// ModelInfo is Root's entry for an allowed model.
type ModelInfo struct {
	WeightsHash [32]byte
	MinPriceIn  *big.Int
	MinPriceOut *big.Int
}

func storeModelInfo(w *writer, v ModelInfo) {
	w.u256(v.WeightsHash)
	w.coins(v.MinPriceIn)
	w.coins(v.MinPriceOut)
}
func loadModelInfo(r *reader) ModelInfo {
	return ModelInfo{WeightsHash: r.u256(), MinPriceIn: r.coins(), MinPriceOut: r.coins()}
}

// Models is a map<uint256, ModelPrice>: model id → price.
type Models map[[32]byte]ModelPrice

func (m Models) dict() (*cell.Dictionary, error) { return encodeMap(m, storeModelPrice) }

func decodeModels(d *cell.Dictionary) (Models, error) {
	m, err := decodeMap(d, loadModelPrice)
	return Models(m), err
}

// DecodeModels reads a models dictionary cell (as the Worker's `models()`
// get-method returns it); nil is an empty map.
func DecodeModels(c *cell.Cell) (Models, error) {
	if c == nil {
		return nil, nil
	}
	return decodeModels(c.AsDict(256))
}

// RootParams are Root's tunable parameters.
type RootParams struct {
	MinWorkerStake *big.Int
	UnbondingDelay uint32 // seconds
	ProtocolFeeBps uint16 // share of a job's charge sent to the treasury, 0..10000
	Treasury       *address.Address
	MinJobDeadline uint32 // seconds from now a job deadline may be, at least
	MaxJobDeadline uint32 // ... and at most
	SlashBps       uint16 // share of stake slashed for a job not served by its deadline
	TestMode       bool   // admits TEE dev measurements
}

// ToCell serialises the params (the `Cell<RootParams>` of RootStorage and SetParams).
func (p RootParams) ToCell() (*cell.Cell, error) {
	w := newWriter()
	w.coins(p.MinWorkerStake)
	w.uint(uint64(p.UnbondingDelay), 32)
	w.uint(uint64(p.ProtocolFeeBps), 16)
	w.addr(p.Treasury, "treasury")
	w.uint(uint64(p.MinJobDeadline), 32)
	w.uint(uint64(p.MaxJobDeadline), 32)
	w.uint(uint64(p.SlashBps), 16)
	w.bool(p.TestMode)
	return w.end("RootParams")
}

// ParseRootParams reads a RootParams cell.
func ParseRootParams(c *cell.Cell) (*RootParams, error) {
	r := newReader(c)
	p := &RootParams{
		MinWorkerStake: r.coins(),
		UnbondingDelay: uint32(r.uint(32)),
		ProtocolFeeBps: uint16(r.uint(16)),
		Treasury:       r.addr("treasury"),
		MinJobDeadline: uint32(r.uint(32)),
		MaxJobDeadline: uint32(r.uint(32)),
		SlashBps:       uint16(r.uint(16)),
		TestMode:       r.bool(),
	}
	return p, r.end("RootParams")
}

// ChildCodes is the code Root holds for the contracts it derives addresses
// of, and the owner change announced but not yet applied (it lives here
// because RootStorage has no reference left).
type ChildCodes struct {
	WorkerCode *cell.Cell
	JobCode    *cell.Cell
	Pending    *PendingChange
}

// ToCell serialises the codes.
func (c ChildCodes) ToCell() (*cell.Cell, error) {
	w := newWriter()
	w.ref(c.WorkerCode, "workerCode")
	w.ref(c.JobCode, "jobCode")
	if err := maybeChild(w, c.Pending); err != nil {
		return nil, err
	}
	return w.end("ChildCodes")
}

// ParseChildCodes reads a ChildCodes cell.
func ParseChildCodes(c *cell.Cell) (*ChildCodes, error) {
	r := newReader(c)
	cc := &ChildCodes{WorkerCode: r.ref("workerCode"), JobCode: r.ref("jobCode")}
	pc := r.maybeRef("pending")
	if err := r.end("ChildCodes"); err != nil {
		return nil, err
	}
	var err error
	cc.Pending, err = parseMaybe(pc, ParsePendingChange, "ChildCodes pending")
	return cc, err
}

// PendingChange is an owner change Root announced: ApplyChange applies it
// once EffectiveAt has passed. Nil fields stay as they are.
type PendingChange struct {
	EffectiveAt uint32
	Params      *RootParams
	RootCode    *cell.Cell
	WorkerCode  *cell.Cell
	JobCode     *cell.Cell
}

// ToCell serialises the change.
func (p PendingChange) ToCell() (*cell.Cell, error) {
	w := newWriter()
	w.uint(uint64(p.EffectiveAt), 32)
	if err := maybeChild(w, p.Params); err != nil {
		return nil, err
	}
	w.maybeRef(p.RootCode)
	w.maybeRef(p.WorkerCode)
	w.maybeRef(p.JobCode)
	return w.end("PendingChange")
}

// ParsePendingChange reads a PendingChange cell.
func ParsePendingChange(c *cell.Cell) (*PendingChange, error) {
	r := newReader(c)
	p := &PendingChange{EffectiveAt: uint32(r.uint(32))}
	pc := r.maybeRef("params")
	p.RootCode, p.WorkerCode, p.JobCode = r.maybeRef("rootCode"), r.maybeRef("workerCode"), r.maybeRef("jobCode")
	if err := r.end("PendingChange"); err != nil {
		return nil, err
	}
	var err error
	p.Params, err = parseMaybe(pc, ParseRootParams, "PendingChange params")
	return p, err
}

// RootStorage is Root's data.
type RootStorage struct {
	Owner        *address.Address
	PendingOwner *address.Address // nil: none
	Version      uint32
	Params       RootParams
	Measurements map[[32]byte]TEE       // measurement hash → TEE type
	Models       map[[32]byte]ModelInfo // model id → info
	Codes        ChildCodes
}

// ToCell serialises Root's data.
func (s RootStorage) ToCell() (*cell.Cell, error) {
	meas, err := encodeMap(s.Measurements, func(w *writer, t TEE) { w.uint(uint64(t), 8) })
	if err != nil {
		return nil, fmt.Errorf("building RootStorage measurements: %w", err)
	}
	models, err := encodeMap(s.Models, storeModelInfo)
	if err != nil {
		return nil, fmt.Errorf("building RootStorage models: %w", err)
	}
	w := newWriter()
	w.addr(s.Owner, "owner")
	w.optAddr(s.PendingOwner, "pendingOwner")
	w.uint(uint64(s.Version), 32)
	w.child(s.Params, "params")
	w.dict(meas)
	w.dict(models)
	w.child(s.Codes, "codes")
	return w.end("RootStorage")
}

// ParseRootStorage reads Root's data cell.
func ParseRootStorage(c *cell.Cell) (*RootStorage, error) {
	r := newReader(c)
	s := &RootStorage{
		Owner:        r.addr("owner"),
		PendingOwner: r.optAddr("pendingOwner"),
		Version:      uint32(r.uint(32)),
	}
	pc := r.ref("params")
	meas := r.dict("measurements")
	models := r.dict("models")
	cc := r.ref("codes")
	if err := r.end("RootStorage"); err != nil {
		return nil, err
	}
	p, err := ParseRootParams(pc)
	if err != nil {
		return nil, err
	}
	s.Params = *p
	if s.Measurements, err = decodeMap(meas, func(r *reader) TEE { return TEE(r.uint(8)) }); err != nil {
		return nil, fmt.Errorf("parsing RootStorage measurements: %w", err)
	}
	if s.Models, err = decodeMap(models, loadModelInfo); err != nil {
		return nil, fmt.Errorf("parsing RootStorage models: %w", err)
	}
	codes, err := ParseChildCodes(cc)
	if err != nil {
		return nil, err
	}
	s.Codes = *codes
	return s, nil
}

// ParamsSnapshot is what a Worker keeps of Root's params (sent with Activate).
type ParamsSnapshot struct {
	MinStake       *big.Int
	UnbondingDelay uint32
	SlashBps       uint16
	FeeBps         uint16
	Treasury       *address.Address
	MinJobDeadline uint32
	MaxJobDeadline uint32
	JobCode        *cell.Cell
	ValidUntil     uint32 // the registration lapses after it
}

// ToCell serialises the snapshot.
func (p ParamsSnapshot) ToCell() (*cell.Cell, error) {
	w := newWriter()
	w.coins(p.MinStake)
	w.uint(uint64(p.UnbondingDelay), 32)
	w.uint(uint64(p.SlashBps), 16)
	w.uint(uint64(p.FeeBps), 16)
	w.addr(p.Treasury, "treasury")
	w.uint(uint64(p.MinJobDeadline), 32)
	w.uint(uint64(p.MaxJobDeadline), 32)
	w.ref(p.JobCode, "jobCode")
	w.uint(uint64(p.ValidUntil), 32)
	return w.end("ParamsSnapshot")
}

// ParseParamsSnapshot reads a ParamsSnapshot cell.
func ParseParamsSnapshot(c *cell.Cell) (*ParamsSnapshot, error) {
	r := newReader(c)
	p := &ParamsSnapshot{
		MinStake:       r.coins(),
		UnbondingDelay: uint32(r.uint(32)),
		SlashBps:       uint16(r.uint(16)),
		FeeBps:         uint16(r.uint(16)),
		Treasury:       r.addr("treasury"),
		MinJobDeadline: uint32(r.uint(32)),
		MaxJobDeadline: uint32(r.uint(32)),
		JobCode:        r.ref("jobCode"),
		ValidUntil:     uint32(r.uint(32)),
	}
	return p, r.end("ParamsSnapshot")
}

// AgreedTerms is what a worker's owner agrees to when it registers: Root's
// params as a Worker's snapshot holds them, with the job code by its hash.
// WorkerRegister and WorkerUpdate carry its Hash; an Activate under other
// terms does not activate (ErrTermsNotAgreed).
type AgreedTerms struct {
	MinStake       *big.Int
	UnbondingDelay uint32
	SlashBps       uint16
	FeeBps         uint16
	Treasury       *address.Address
	MinJobDeadline uint32
	MaxJobDeadline uint32
	JobCodeHash    [32]byte
}

// TermsOf are the terms a worker registering under Root's params p and job
// code hash agrees to.
func TermsOf(p RootParams, jobCodeHash [32]byte) AgreedTerms {
	return AgreedTerms{
		MinStake: p.MinWorkerStake, UnbondingDelay: p.UnbondingDelay, SlashBps: p.SlashBps, FeeBps: p.ProtocolFeeBps,
		Treasury: p.Treasury, MinJobDeadline: p.MinJobDeadline, MaxJobDeadline: p.MaxJobDeadline, JobCodeHash: jobCodeHash,
	}
}

// ToCell serialises the terms.
func (t AgreedTerms) ToCell() (*cell.Cell, error) {
	w := newWriter()
	w.coins(t.MinStake)
	w.uint(uint64(t.UnbondingDelay), 32)
	w.uint(uint64(t.SlashBps), 16)
	w.uint(uint64(t.FeeBps), 16)
	w.addr(t.Treasury, "treasury")
	w.uint(uint64(t.MinJobDeadline), 32)
	w.uint(uint64(t.MaxJobDeadline), 32)
	w.u256(t.JobCodeHash)
	return w.end("AgreedTerms")
}

// Hash is the terms' cell hash, as WorkerRegister/WorkerUpdate carry it.
func (t AgreedTerms) Hash() ([32]byte, error) {
	c, err := t.ToCell()
	if err != nil {
		return [32]byte{}, err
	}
	return [32]byte(c.Hash()), nil
}

// WorkerProfile is what a worker registers: keys, attestation and offer.
type WorkerProfile struct {
	HPKEKey         [32]byte // seal.Commitment: sha256 of the encoded HPKE public key requests are sealed to
	AttestationHash [32]byte // sha256 of the evidence bundle
	TEE             TEE
	Measurement     [32]byte
	Models          Models
	Endpoint        string // URL, stored as a snake string
}

// ToCell serialises the profile.
func (p WorkerProfile) ToCell() (*cell.Cell, error) {
	models, err := p.Models.dict()
	if err != nil {
		return nil, fmt.Errorf("building WorkerProfile models: %w", err)
	}
	ep, err := SnakeString(p.Endpoint)
	if err != nil {
		return nil, fmt.Errorf("building WorkerProfile endpoint: %w", err)
	}
	w := newWriter()
	w.u256(p.HPKEKey)
	w.u256(p.AttestationHash)
	w.uint(uint64(p.TEE), 8)
	w.u256(p.Measurement)
	w.dict(models)
	w.ref(ep, "endpoint")
	return w.end("WorkerProfile")
}

// ParseWorkerProfile reads a WorkerProfile cell.
func ParseWorkerProfile(c *cell.Cell) (*WorkerProfile, error) {
	r := newReader(c)
	p := &WorkerProfile{HPKEKey: r.u256(), AttestationHash: r.u256(), TEE: TEE(r.uint(8)), Measurement: r.u256()}
	models := r.dict("models")
	ep := r.ref("endpoint")
	if err := r.end("WorkerProfile"); err != nil {
		return nil, err
	}
	var err error
	if p.Models, err = decodeModels(models); err != nil {
		return nil, fmt.Errorf("parsing WorkerProfile models: %w", err)
	}
	if p.Endpoint, err = ep.BeginParse().LoadStringSnake(); err != nil {
		return nil, fmt.Errorf("parsing WorkerProfile endpoint: %w", err)
	}
	return p, nil
}

// SnakeString stores s as a snake string (bytes, continued in the first reference).
func SnakeString(s string) (*cell.Cell, error) {
	b := cell.BeginCell()
	if err := b.StoreStringSnake(s); err != nil {
		return nil, err
	}
	return b.EndCell(), nil
}

// WorkerCounters are a worker's public track record.
type WorkerCounters struct {
	JobsCompleted uint64
	JobsFailed    uint64 // failure receipts
	JobsSlashed   uint64 // jobs refunded after the deadline
	TotalEarned   *big.Int
}

// ToCell serialises the counters.
func (c WorkerCounters) ToCell() (*cell.Cell, error) {
	w := newWriter()
	w.uint(c.JobsCompleted, 64)
	w.uint(c.JobsFailed, 64)
	w.uint(c.JobsSlashed, 64)
	w.coins(c.TotalEarned)
	return w.end("WorkerCounters")
}

// ParseWorkerCounters reads a WorkerCounters cell.
func ParseWorkerCounters(c *cell.Cell) (*WorkerCounters, error) {
	r := newReader(c)
	wc := &WorkerCounters{JobsCompleted: r.uint(64), JobsFailed: r.uint(64), JobsSlashed: r.uint(64), TotalEarned: r.coins()}
	return wc, r.end("WorkerCounters")
}

// WorkerState is the state of a registered Worker.
type WorkerState struct {
	Stake          *big.Int
	Earnings       *big.Int // paid by completed jobs, withdrawable any time
	UnbondingSince uint32
	PendingQuery   uint64   // query id of the registration in flight, 0 if none
	Agreed         [32]byte // AgreedTerms hash the owner agreed to
	// The current slash window: when it began and how many Slashes took
	// stake in it.
	SlashWindowStart uint32
	SlashesInWindow  uint8
	// Protocol fees of completed jobs not yet sent to the treasury: the
	// Worker sends them once they reach ProtocolFeeBatch, and at Withdraw.
	FeesOwed *big.Int
	Profile  WorkerProfile
	Counters WorkerCounters
	Snapshot *ParamsSnapshot // set by Activate
}

// ToCell serialises the state.
func (s WorkerState) ToCell() (*cell.Cell, error) {
	w := newWriter()
	w.coins(s.Stake)
	w.coins(s.Earnings)
	w.uint(uint64(s.UnbondingSince), 32)
	w.uint(s.PendingQuery, 64)
	w.u256(s.Agreed)
	w.uint(uint64(s.SlashWindowStart), 32)
	w.uint(uint64(s.SlashesInWindow), 8)
	w.coins(s.FeesOwed)
	w.child(s.Profile, "profile")
	w.child(s.Counters, "counters")
	if s.Snapshot == nil {
		w.maybeRef(nil)
	} else {
		sc, err := s.Snapshot.ToCell()
		if err != nil {
			return nil, err
		}
		w.maybeRef(sc)
	}
	return w.end("WorkerState")
}

// ParseWorkerState reads a WorkerState cell.
func ParseWorkerState(c *cell.Cell) (*WorkerState, error) {
	r := newReader(c)
	s := &WorkerState{Stake: r.coins(), Earnings: r.coins(), UnbondingSince: uint32(r.uint(32)), PendingQuery: r.uint(64), Agreed: r.u256(),
		SlashWindowStart: uint32(r.uint(32)), SlashesInWindow: uint8(r.uint(8)), FeesOwed: r.coins()}
	pc, cc, sc := r.ref("profile"), r.ref("counters"), r.maybeRef("snapshot")
	if err := r.end("WorkerState"); err != nil {
		return nil, err
	}
	p, err := ParseWorkerProfile(pc)
	if err != nil {
		return nil, err
	}
	s.Profile = *p
	counters, err := ParseWorkerCounters(cc)
	if err != nil {
		return nil, err
	}
	s.Counters = *counters
	if sc != nil {
		if s.Snapshot, err = ParseParamsSnapshot(sc); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// WorkerStorage is a Worker's data. Its initial form (status none, no
// state) determines the Worker's address.
type WorkerStorage struct {
	Root      *address.Address
	Owner     *address.Address
	WorkerKey [32]byte // Ed25519 key that signs receipts
	Status    WorkerStatus
	State     *WorkerState
}

// ToCell serialises the Worker's data.
func (s WorkerStorage) ToCell() (*cell.Cell, error) {
	w := newWriter()
	w.addr(s.Root, "root")
	w.addr(s.Owner, "owner")
	w.u256(s.WorkerKey)
	w.uint(uint64(s.Status), 8)
	if err := maybeChild(w, s.State); err != nil {
		return nil, err
	}
	return w.end("WorkerStorage")
}

// ParseWorkerStorage reads a Worker's data cell.
func ParseWorkerStorage(c *cell.Cell) (*WorkerStorage, error) {
	r := newReader(c)
	s := &WorkerStorage{Root: r.addr("root"), Owner: r.addr("owner"), WorkerKey: r.u256(), Status: WorkerStatus(r.uint(8))}
	sc := r.maybeRef("state")
	if err := r.end("WorkerStorage"); err != nil {
		return nil, err
	}
	var err error
	s.State, err = parseMaybe(sc, ParseWorkerState, "WorkerStorage state")
	if err != nil {
		return nil, err
	}
	return s, nil
}
