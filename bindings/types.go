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
	RegistrationTTL = 3600   // an activation lasts this long; then offers are declined until a Renew or WorkerUpdate
)

// RenewValue is the least a Renew carries, in nanoton (fees.tolk).
const RenewValue = 40_000_000

// WorkerStorageReserve is what WithdrawEarnings leaves beyond stake and fees
// owed, in nanoton (fees.tolk).
const WorkerStorageReserve = 50_000_000

// Slashing limits of contracts/common/fees.tolk.
const (
	// Of the expired jobs whose deadlines lie less than SlashWindow seconds
	// apart, MaxSlashesPerWindow take stake; later ones only count.
	SlashWindow         = 3600
	MaxSlashesPerWindow = 3
	// A Refund slashes only this long after the job's deadline, in seconds.
	RefundWindow = 3600
	// Withdraw waits at least max job deadline + RefundWindow + UnbondMargin
	// after RequestUnbond (Root requires its unbonding delay to be as long).
	UnbondMargin = 600
)

// MinUnbondingDelay is the shortest unbonding delay Root accepts with a
// max job deadline of maxJobDeadline seconds.
func MinUnbondingDelay(maxJobDeadline uint32) uint32 {
	return maxJobDeadline + RefundWindow + UnbondMargin
}

// TEE is a trusted execution environment type as the contracts number them.
type TEE uint8

const (
	TEETDX      TEE = 1
	TEESEVSNP   TEE = 2
	TEENvidiaCC TEE = 3
	TEEDev      TEE = 4 // software statement, accepted only in test mode
)

// name is the TEE's name as flags and configs spell it, "" for an unknown type.
func (t TEE) name() string {
	switch t {
	case TEETDX:
		return "tdx"
	case TEESEVSNP:
		return "sevsnp"
	case TEENvidiaCC:
		return "nvidia_cc"
	case TEEDev:
		return "dev"
	}
	return ""
}

// String returns the TEE's name as flags and configs spell it ("tdx").
func (t TEE) String() string {
	if n := t.name(); n != "" {
		return n
	}
	return fmt.Sprintf("tee(%d)", uint8(t))
}

// Valid reports whether the contracts know the type (1..4).
func (t TEE) Valid() bool { return t.name() != "" }

// ParseTEE reads a TEE name (tdx, sevsnp, nvidia_cc, dev; case-insensitive).
func ParseTEE(s string) (TEE, error) {
	want := strings.ToLower(strings.TrimSpace(s))
	for t := TEETDX; t <= TEEDev; t++ {
		if t.name() == want {
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
	PriceIn  *big.Int `tlb:"var uint 16"`
	PriceOut *big.Int `tlb:"var uint 16"`
}

// ModelInfo is Root's entry for an allowed model.
type ModelInfo struct {
	WeightsHash [32]byte `tlb:"bits 256"`
	MinPriceIn  *big.Int `tlb:"var uint 16"`
	MinPriceOut *big.Int `tlb:"var uint 16"`
	// RequireGPU: the model is served only on attested GPUs in CC mode;
	// clients refuse workers without GPU evidence for it.
	RequireGPU bool `tlb:"bool"`
}

// Models is a map<uint256, ModelPrice>: model id → price.
type Models map[[32]byte]ModelPrice

// modelsDict is the one field a models dictionary is read through.
type modelsDict struct {
	Models Models `tlb:"dict 256 -> ."`
}

// DecodeModels reads a models dictionary cell (as the Worker's `models()`
// get-method returns it); nil is an empty map.
func DecodeModels(c *cell.Cell) (Models, error) {
	if c == nil {
		return nil, nil
	}
	// The get-method returns the dictionary's root; as a field it follows
	// a Maybe bit.
	m, err := Parse[modelsDict](cell.BeginCell().MustStoreMaybeRef(c).EndCell())
	if err != nil {
		return nil, err
	}
	return m.Models, nil
}

// RootParams are Root's tunable parameters.
type RootParams struct {
	MinWorkerStake *big.Int         `tlb:"var uint 16"`
	UnbondingDelay uint32           `tlb:"## 32"` // seconds
	ProtocolFeeBps uint16           `tlb:"## 16"` // share of a job's charge sent to the treasury, 0..10000
	Treasury       *address.Address `tlb:"addr"`
	MinJobDeadline uint32           `tlb:"## 32"` // seconds from now a job deadline may be, at least
	MaxJobDeadline uint32           `tlb:"## 32"` // ... and at most
	SlashBps       uint16           `tlb:"## 16"` // share of stake slashed for a job not served by its deadline
	TestMode       bool             `tlb:"bool"`  // admits TEE dev measurements
}

// Validate applies the checks Root's SetParams makes (contracts/root.tolk),
// so that a Root is never deployed with params it would refuse to set.
func (p RootParams) Validate() error {
	switch {
	case p.ProtocolFeeBps > 10000:
		return fmt.Errorf("protocol fee %d bps is over 10000", p.ProtocolFeeBps)
	case p.SlashBps > 10000:
		return fmt.Errorf("slash rate %d bps is over 10000", p.SlashBps)
	case p.MinJobDeadline > p.MaxJobDeadline:
		return fmt.Errorf("min job deadline (%ds) is longer than the max job deadline (%ds)", p.MinJobDeadline, p.MaxJobDeadline)
	case p.UnbondingDelay < MinUnbondingDelay(p.MaxJobDeadline):
		return fmt.Errorf("unbonding delay (%ds) is shorter than max job deadline + refund window + margin (%ds + %ds + %ds = %ds): a worker's stake must stay until every job it accepted is past its refund window",
			p.UnbondingDelay, p.MaxJobDeadline, RefundWindow, UnbondMargin, MinUnbondingDelay(p.MaxJobDeadline))
	case p.Treasury == nil || p.Treasury.IsAddrNone():
		return fmt.Errorf("no treasury address")
	}
	return nil
}

// ChildCodes is the code Root holds for the contracts it derives addresses
// of, and the owner change announced but not yet applied (it lives here
// because RootStorage has no reference left).
type ChildCodes struct {
	WorkerCode *cell.Cell     `tlb:"^"`
	JobCode    *cell.Cell     `tlb:"^"`
	Pending    *PendingChange `tlb:"maybe ^"`
}

// PendingChange is an owner change Root announced: ApplyChange applies it
// once EffectiveAt has passed. Nil fields stay as they are.
type PendingChange struct {
	EffectiveAt uint32      `tlb:"## 32"`
	Params      *RootParams `tlb:"maybe ^"`
	RootCode    *cell.Cell  `tlb:"maybe ^"`
	WorkerCode  *cell.Cell  `tlb:"maybe ^"`
	JobCode     *cell.Cell  `tlb:"maybe ^"`
}

// RootStorage is Root's data.
type RootStorage struct {
	Owner        *address.Address       `tlb:"addr"`
	PendingOwner *address.Address       `tlb:"addr" tolk:"address?"` // nil: none
	Version      uint32                 `tlb:"## 32"`
	Params       RootParams             `tlb:"^"`
	Measurements map[[32]byte]TEE       `tlb:"dict 256 -> ## 8"` // measurement hash → TEE type
	Models       map[[32]byte]ModelInfo `tlb:"dict 256 -> ."`    // model id → info
	Codes        ChildCodes             `tlb:"^"`
}

// ParamsSnapshot is what a Worker keeps of Root's params (sent with Activate).
type ParamsSnapshot struct {
	MinStake       *big.Int         `tlb:"var uint 16"`
	UnbondingDelay uint32           `tlb:"## 32"`
	SlashBps       uint16           `tlb:"## 16"`
	FeeBps         uint16           `tlb:"## 16"`
	Treasury       *address.Address `tlb:"addr"`
	MinJobDeadline uint32           `tlb:"## 32"`
	MaxJobDeadline uint32           `tlb:"## 32"`
	JobCode        *cell.Cell       `tlb:"^"`
	ValidUntil     uint32           `tlb:"## 32"` // the registration lapses after it
}

// AgreedTerms is what a worker's owner agrees to when it registers: Root's
// params as a Worker's snapshot holds them, with the job code by its hash.
// WorkerRegister and WorkerUpdate carry its Hash; an Activate under other
// terms does not activate (ErrTermsNotAgreed).
type AgreedTerms struct {
	MinStake       *big.Int         `tlb:"var uint 16"`
	UnbondingDelay uint32           `tlb:"## 32"`
	SlashBps       uint16           `tlb:"## 16"`
	FeeBps         uint16           `tlb:"## 16"`
	Treasury       *address.Address `tlb:"addr"`
	MinJobDeadline uint32           `tlb:"## 32"`
	MaxJobDeadline uint32           `tlb:"## 32"`
	JobCodeHash    [32]byte         `tlb:"bits 256"`
}

// TermsOf are the terms a worker registering under Root's params p and job
// code hash agrees to.
func TermsOf(p RootParams, jobCodeHash [32]byte) AgreedTerms {
	return AgreedTerms{
		MinStake: p.MinWorkerStake, UnbondingDelay: p.UnbondingDelay, SlashBps: p.SlashBps, FeeBps: p.ProtocolFeeBps,
		Treasury: p.Treasury, MinJobDeadline: p.MinJobDeadline, MaxJobDeadline: p.MaxJobDeadline, JobCodeHash: jobCodeHash,
	}
}

// SnapshotTerms are the terms a Worker's registration was activated under.
func SnapshotTerms(s ParamsSnapshot) AgreedTerms {
	var job [32]byte
	if s.JobCode != nil {
		job = [32]byte(s.JobCode.Hash())
	}
	return AgreedTerms{
		MinStake: s.MinStake, UnbondingDelay: s.UnbondingDelay, SlashBps: s.SlashBps, FeeBps: s.FeeBps,
		Treasury: s.Treasury, MinJobDeadline: s.MinJobDeadline, MaxJobDeadline: s.MaxJobDeadline, JobCodeHash: job,
	}
}

// WithdrawDelay is how long after RequestUnbond a Worker registered under
// t lets its stake go (strictly after): Root's delay, and never before every
// job it accepted is past its refund window.
func (t AgreedTerms) WithdrawDelay() uint32 {
	return max(t.UnbondingDelay, MinUnbondingDelay(t.MaxJobDeadline))
}

// Changes says, one line per field, how terms u differ from t ("" fields
// equal), in words a worker's owner reads before agreeing.
func (t AgreedTerms) Changes(u AgreedTerms) []string {
	var out []string
	add := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	pct := func(bps uint16) string { return fmt.Sprintf("%g%%", float64(bps)/100) }
	if t.MinStake.Cmp(u.MinStake) != 0 {
		add("minimum stake %s → %s nanoton", t.MinStake, u.MinStake)
	}
	if t.SlashBps != u.SlashBps {
		add("slash per expired job %s → %s of the stake", pct(t.SlashBps), pct(u.SlashBps))
	}
	if t.FeeBps != u.FeeBps {
		add("protocol fee %s → %s of each job's charge", pct(t.FeeBps), pct(u.FeeBps))
	}
	if !t.Treasury.Equals(u.Treasury) {
		add("treasury (receives protocol fees and slashes beyond the client's compensation) %s → %s", t.Treasury, u.Treasury)
	}
	if t.UnbondingDelay != u.UnbondingDelay {
		add("unbonding delay %ds → %ds", t.UnbondingDelay, u.UnbondingDelay)
	}
	if t.MinJobDeadline != u.MinJobDeadline {
		add("shortest job deadline %ds → %ds", t.MinJobDeadline, u.MinJobDeadline)
	}
	if t.MaxJobDeadline != u.MaxJobDeadline {
		add("longest job deadline %ds → %ds", t.MaxJobDeadline, u.MaxJobDeadline)
	}
	if t.JobCodeHash != u.JobCodeHash {
		known := "known to this build"
		if !KnownJobCode(u.JobCodeHash) {
			known = "NOT known to this build"
		}
		add("job code %x → %x (%s)", t.JobCodeHash, u.JobCodeHash, known)
	}
	return out
}

// Hash is the terms' cell hash, as WorkerRegister/WorkerUpdate carry it.
func (t AgreedTerms) Hash() ([32]byte, error) {
	c, err := Encode(t)
	if err != nil {
		return [32]byte{}, err
	}
	return [32]byte(c.Hash()), nil
}

// WorkerProfile is what a worker registers: keys, attestation and offer.
type WorkerProfile struct {
	HPKEKey         [32]byte `tlb:"bits 256"` // seal.Commitment: sha256 of the encoded HPKE public key requests are sealed to
	AttestationHash [32]byte `tlb:"bits 256"` // sha256 of the evidence bundle
	TEE             TEE      `tlb:"## 8"`
	Measurement     [32]byte `tlb:"bits 256"`
	Models          Models   `tlb:"dict 256 -> ."`
	Endpoint        string   `tlb:"^"` // URL, stored as a snake string
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
	JobsCompleted uint64   `tlb:"## 64"`
	JobsFailed    uint64   `tlb:"## 64"` // failure receipts
	JobsSlashed   uint64   `tlb:"## 64"` // jobs refunded after the deadline
	TotalEarned   *big.Int `tlb:"var uint 16"`
	// Job deadline → Slashes with it that took stake, kept while a Slash
	// could still come within SlashWindow of it.
	Slashed map[uint32]uint8 `tlb:"dict 32 -> ## 8"`
}

// Agreement is what a worker's owner agreed to, as AgreedTerms hashes.
type Agreement struct {
	Agreed [32]byte `tlb:"bits 256"` // the terms of WorkerRegister/WorkerUpdate
	// Announced terms agreed to in advance (AgreeTerms), zero if none: an
	// Activate under them makes them Agreed.
	Next [32]byte `tlb:"bits 256"`
}

// WorkerState is the state of a registered Worker.
type WorkerState struct {
	Stake          *big.Int `tlb:"var uint 16"`
	Earnings       *big.Int `tlb:"var uint 16"` // paid by completed jobs, withdrawable any time
	UnbondingSince uint32   `tlb:"## 32"`
	PendingQuery   uint64   `tlb:"## 64"` // query id of the registration in flight, 0 if none
	// Who paid the renewal in flight (Renew): Root's answer returns the
	// rest of its value there; nil otherwise.
	Renewer   *address.Address `tlb:"addr" tolk:"address?"`
	Agreement Agreement        `tlb:"^"`
	// Protocol fees of completed jobs not yet sent to the treasury: the
	// Worker sends them once they reach ProtocolFeeBatch, and at Withdraw.
	FeesOwed *big.Int        `tlb:"var uint 16"`
	Profile  WorkerProfile   `tlb:"^"`
	Counters WorkerCounters  `tlb:"^"`
	Snapshot *ParamsSnapshot `tlb:"maybe ^"` // set by Activate
}

// WorkerStorage is a Worker's data. Its initial form (status none, no
// state) determines the Worker's address.
type WorkerStorage struct {
	Root      *address.Address `tlb:"addr"`
	Owner     *address.Address `tlb:"addr"`
	WorkerKey [32]byte         `tlb:"bits 256"` // Ed25519 key that signs receipts
	Status    WorkerStatus     `tlb:"## 8"`
	State     *WorkerState     `tlb:"maybe ^"`
}
