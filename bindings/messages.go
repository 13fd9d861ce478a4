package bindings

import (
	"math/big"
	"reflect"

	"github.com/xssnick/tonutils-go/address"
	"github.com/xssnick/tonutils-go/tlb"
	"github.com/xssnick/tonutils-go/tvm/cell"
)

// Opcodes of contracts/common/types.tolk. Each message struct carries its
// opcode as the tag of its first field (`_ tlb.Magic`); a test checks the
// two agree.
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
	OpAgreeTerms       uint32 = 0xc0c00036
	OpRenew            uint32 = 0xc0c00037
	OpRenewAuth        uint32 = 0xc0c00038

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

// Message is a Cocoon message body, event or receipt: one of the structs
// below (or a pointer to one). Encode serialises it; DecodeBody returns one.
type Message = any

// messageType is one row of the opcode table.
type messageType struct {
	op uint32
	t  reflect.Type
}

func msg[T any](op uint32) messageType { return messageType{op, reflect.TypeFor[T]()} }

// messages is the table DecodeBody reads: every message type by its opcode
// (a test checks each row against the type's own tag and types.tolk).
func messages() []messageType {
	return []messageType{
		msg[SetParams](OpSetParams), msg[AddMeasurement](OpAddMeasurement), msg[RemoveMeasurement](OpRemoveMeasurement),
		msg[AddModel](OpAddModel), msg[RemoveModel](OpRemoveModel), msg[SetTreasury](OpSetTreasury),
		msg[UpgradeCode](OpUpgradeCode), msg[ProposeOwner](OpProposeOwner), msg[AcceptOwnership](OpAcceptOwnership),
		msg[ApplyChange](OpApplyChange), msg[CancelChange](OpCancelChange),
		msg[RegisterWorker](OpRegisterWorker), msg[WorkerDeactivated](OpWorkerDeactivated),
		msg[Activate](OpActivate), msg[Reject](OpReject),
		msg[WorkerActivatedEvent](OpWorkerActivatedEvent), msg[WorkerDeactivatedEvent](OpWorkerDeactivatedEvent),
		msg[ChangeAnnouncedEvent](OpChangeAnnouncedEvent), msg[ChangeAppliedEvent](OpChangeAppliedEvent),
		msg[WorkerRegister](OpWorkerRegister), msg[WorkerUpdate](OpWorkerUpdate), msg[TopUp](OpTopUp),
		msg[RequestUnbond](OpRequestUnbond), msg[Withdraw](OpWithdraw), msg[WithdrawEarnings](OpWithdrawEarnings),
		msg[AgreeTerms](OpAgreeTerms), msg[Renew](OpRenew), msg[RenewAuth](OpRenewAuth),
		msg[Offer](OpOffer), msg[JobPaid](OpJobPaid), msg[JobFailed](OpJobFailed), msg[Slash](OpSlash),
		msg[Accept](OpAccept), msg[Decline](OpDecline), msg[SlashCompensation](OpSlashCompensation),
		msg[RegistrationRejected](OpRegistrationRejected), msg[StakeReturned](OpStakeReturned),
		msg[EarningsPaid](OpEarningsPaid), msg[SlashForfeit](OpSlashForfeit), msg[ProtocolFees](OpProtocolFees),
		msg[JobCreate](OpJobCreate), msg[Cancel](OpCancel), msg[Refund](OpRefund), msg[JobClosed](OpJobClosed),
		msg[JobCallback](OpJobCallback), msg[Receipt](OpReceipt), msg[Excesses](OpExcesses),
	}
}

// ---- Root, owner operations ------------------------------------------------

// SetParams replaces Root's params (owner only).
type SetParams struct {
	_       tlb.Magic  `tlb:"#c0c00001"`
	QueryID uint64     `tlb:"## 64"`
	Params  RootParams `tlb:"^"`
}

// AddMeasurement allows a TEE measurement (owner only).
type AddMeasurement struct {
	_           tlb.Magic `tlb:"#c0c00002"`
	QueryID     uint64    `tlb:"## 64"`
	TEE         TEE       `tlb:"## 8"`
	Measurement [32]byte  `tlb:"bits 256"`
}

// RemoveMeasurement removes a TEE measurement from the allow-list (owner only).
type RemoveMeasurement struct {
	_           tlb.Magic `tlb:"#c0c00003"`
	QueryID     uint64    `tlb:"## 64"`
	TEE         TEE       `tlb:"## 8"`
	Measurement [32]byte  `tlb:"bits 256"`
}

// AddModel allows a model, or changes its entry (owner only).
type AddModel struct {
	_       tlb.Magic `tlb:"#c0c00004"`
	QueryID uint64    `tlb:"## 64"`
	ModelID [32]byte  `tlb:"bits 256"`
	Info    ModelInfo `tlb:"."`
}

// RemoveModel removes a model (owner only).
type RemoveModel struct {
	_       tlb.Magic `tlb:"#c0c00005"`
	QueryID uint64    `tlb:"## 64"`
	ModelID [32]byte  `tlb:"bits 256"`
}

// SetTreasury changes where protocol fees go (owner only).
type SetTreasury struct {
	_        tlb.Magic        `tlb:"#c0c00006"`
	QueryID  uint64           `tlb:"## 64"`
	Treasury *address.Address `tlb:"addr"`
}

// UpgradeCode replaces Root's own code and/or the child codes; nil keeps one.
type UpgradeCode struct {
	_          tlb.Magic  `tlb:"#c0c00007"`
	QueryID    uint64     `tlb:"## 64"`
	RootCode   *cell.Cell `tlb:"maybe ^"`
	WorkerCode *cell.Cell `tlb:"maybe ^"`
	JobCode    *cell.Cell `tlb:"maybe ^"`
}

// ProposeOwner starts a two-step ownership transfer (owner only).
type ProposeOwner struct {
	_        tlb.Magic        `tlb:"#c0c00008"`
	QueryID  uint64           `tlb:"## 64"`
	NewOwner *address.Address `tlb:"addr"`
}

// AcceptOwnership completes the transfer (proposed owner only).
type AcceptOwnership struct {
	_       tlb.Magic `tlb:"#c0c00009"`
	QueryID uint64    `tlb:"## 64"`
}

// ApplyChange applies Root's announced change once it is due (from anyone).
type ApplyChange struct {
	_       tlb.Magic `tlb:"#c0c0000a"`
	QueryID uint64    `tlb:"## 64"`
}

// CancelChange drops Root's announced change (owner).
type CancelChange struct {
	_       tlb.Magic `tlb:"#c0c0000b"`
	QueryID uint64    `tlb:"## 64"`
}

// ChangeAnnouncedEvent is logged by Root when the owner announces a change
// (SetParams, SetTreasury, UpgradeCode): the whole pending change.
type ChangeAnnouncedEvent struct {
	_           tlb.Magic     `tlb:"#c0c000e4"`
	EffectiveAt uint32        `tlb:"## 32"`
	Change      PendingChange `tlb:"^"`
}

// ChangeAppliedEvent is logged by Root when ApplyChange applies the change.
type ChangeAppliedEvent struct {
	_       tlb.Magic `tlb:"#c0c000e5"`
	Version uint32    `tlb:"## 32"`
}

// ---- Worker <-> Root ---------------------------------------------------------

// RegisterWorker is a Worker asking Root to validate its registration.
type RegisterWorker struct {
	_           tlb.Magic        `tlb:"#c0c00010"`
	QueryID     uint64           `tlb:"## 64"`
	Owner       *address.Address `tlb:"addr"`
	WorkerKey   [32]byte         `tlb:"bits 256"`
	Stake       *big.Int         `tlb:"var uint 16"`
	TEE         TEE              `tlb:"## 8"`
	Measurement [32]byte         `tlb:"bits 256"`
	Models      Models           `tlb:"dict 256 -> ."`
}

// WorkerDeactivated tells Root a worker stopped serving.
type WorkerDeactivated struct {
	_         tlb.Magic        `tlb:"#c0c00011"`
	QueryID   uint64           `tlb:"## 64"`
	Owner     *address.Address `tlb:"addr"`
	WorkerKey [32]byte         `tlb:"bits 256"`
	Reason    uint8            `tlb:"## 8"` // DeactivatedUnbonding or DeactivatedSlashed
}

// Activate is Root's acceptance of a registration.
type Activate struct {
	_        tlb.Magic      `tlb:"#c0c00020"`
	QueryID  uint64         `tlb:"## 64"`
	Snapshot ParamsSnapshot `tlb:"^"`
}

// Reject is Root's refusal of a registration; Reason is an error code.
type Reject struct {
	_       tlb.Magic `tlb:"#c0c00021"`
	QueryID uint64    `tlb:"## 64"`
	Reason  uint16    `tlb:"## 16"`
}

// ---- Root events (external-out) ------------------------------------------------

// WorkerActivatedEvent is logged by Root when it activates a worker. It has
// no owner (with it the event would not fit in a cell): worker_data() has it.
type WorkerActivatedEvent struct {
	_           tlb.Magic        `tlb:"#c0c000e1"`
	Worker      *address.Address `tlb:"addr"`
	WorkerKey   [32]byte         `tlb:"bits 256"`
	TEE         TEE              `tlb:"## 8"`
	Measurement [32]byte         `tlb:"bits 256"`
	Version     uint32           `tlb:"## 32"`
}

// WorkerDeactivatedEvent is logged by Root when a worker stops serving.
type WorkerDeactivatedEvent struct {
	_      tlb.Magic        `tlb:"#c0c000e2"`
	Worker *address.Address `tlb:"addr"`
	Reason uint8            `tlb:"## 8"`
}

// ---- Owner -> Worker ---------------------------------------------------------

// WorkerRegister deploys (with the Worker's StateInit) and registers a
// worker; the value minus WorkerRegisterFee is the stake. Agreed is the
// AgreedTerms hash of Root's params and job code the owner accepts.
type WorkerRegister struct {
	_       tlb.Magic     `tlb:"#c0c00030"`
	QueryID uint64        `tlb:"## 64"`
	Profile WorkerProfile `tlb:"^"`
	Agreed  [32]byte      `tlb:"bits 256"`
}

// WorkerUpdate replaces the profile (and the agreed terms) and re-registers
// with Root.
type WorkerUpdate struct {
	_       tlb.Magic     `tlb:"#c0c00031"`
	QueryID uint64        `tlb:"## 64"`
	Profile WorkerProfile `tlb:"^"`
	Agreed  [32]byte      `tlb:"bits 256"`
}

// TopUp adds the value (minus NotifyGas) to the stake.
type TopUp struct {
	_       tlb.Magic `tlb:"#c0c00032"`
	QueryID uint64    `tlb:"## 64"`
}

// RequestUnbond starts the unbonding delay.
type RequestUnbond struct {
	_       tlb.Magic `tlb:"#c0c00033"`
	QueryID uint64    `tlb:"## 64"`
}

// Withdraw destroys an unbonded Worker and returns all its funds.
type Withdraw struct {
	_       tlb.Magic `tlb:"#c0c00034"`
	QueryID uint64    `tlb:"## 64"`
}

// WithdrawEarnings pays the earnings out to the owner.
type WithdrawEarnings struct {
	_       tlb.Magic `tlb:"#c0c00035"`
	QueryID uint64    `tlb:"## 64"`
}

// AgreeTerms records the owner's consent, in advance, to terms Root
// announced (their AgreedTerms hash; zero withdraws it): the renewal after
// they apply keeps the worker active.
type AgreeTerms struct {
	_       tlb.Magic `tlb:"#c0c00036"`
	QueryID uint64    `tlb:"## 64"`
	Next    [32]byte  `tlb:"bits 256"`
}

// Renew renews a worker's registration under the profile and terms its
// owner agreed to. Anyone may send it (the daemon's gas wallet) with at
// least RenewValue; the worker key authorises it (SignRenew).
type Renew struct {
	_         tlb.Magic `tlb:"#c0c00037"`
	QueryID   uint64    `tlb:"## 64"`
	Signature []byte    `tlb:"bits 512"`
}

// RenewAuth is what the worker key signs for a Renew (the hash of its
// cell): the Worker and its registration's current valid-until, so that a
// signature renews once.
type RenewAuth struct {
	_          tlb.Magic        `tlb:"#c0c00038"`
	Worker     *address.Address `tlb:"addr"`
	ValidUntil uint32           `tlb:"## 32"`
}

// ---- Job <-> Worker ----------------------------------------------------------

// Offer is a Job proposing itself to its worker.
type Offer struct {
	_        tlb.Magic        `tlb:"#c0c00040"`
	QueryID  uint64           `tlb:"## 64"`
	Client   *address.Address `tlb:"addr"`
	Nonce    uint64           `tlb:"## 64"`
	ModelID  [32]byte         `tlb:"bits 256"`
	PriceIn  *big.Int         `tlb:"var uint 16"`
	PriceOut *big.Int         `tlb:"var uint 16"`
	Deadline uint32           `tlb:"## 32"`
}

// JobPaid carries a completed job's charge to its worker (with NOTIFY_GAS):
// Fee of it is the protocol fee, which the Worker owes the treasury and
// sends in batches (ProtocolFees); the rest is the worker's pay.
type JobPaid struct {
	_       tlb.Magic        `tlb:"#c0c00041"`
	QueryID uint64           `tlb:"## 64"`
	Client  *address.Address `tlb:"addr"`
	Nonce   uint64           `tlb:"## 64"`
	Fee     *big.Int         `tlb:"var uint 16"`
}

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
	_       tlb.Magic        `tlb:"#c0c00042"`
	QueryID uint64           `tlb:"## 64"`
	Client  *address.Address `tlb:"addr"`
	Nonce   uint64           `tlb:"## 64"`
}

// Slash tells the worker a job it accepted expired unserved; the job's
// max cost bounds the client's compensation.
type Slash struct {
	_       tlb.Magic        `tlb:"#c0c00043"`
	QueryID uint64           `tlb:"## 64"`
	Client  *address.Address `tlb:"addr"`
	Nonce   uint64           `tlb:"## 64"`
	MaxCost *big.Int         `tlb:"var uint 16"`
	// The job's deadline: of jobs whose deadlines lie less than SlashWindow
	// apart, MaxSlashesPerWindow take stake.
	Deadline uint32 `tlb:"## 32"`
}

// Accept is the worker taking a job.
type Accept struct {
	_         tlb.Magic        `tlb:"#c0c00050"`
	QueryID   uint64           `tlb:"## 64"`
	WorkerKey [32]byte         `tlb:"bits 256"`
	FeeBps    uint16           `tlb:"## 16"`
	Treasury  *address.Address `tlb:"addr"`
}

// Decline is the worker refusing a job; Reason is an error code.
type Decline struct {
	_       tlb.Magic `tlb:"#c0c00051"`
	QueryID uint64    `tlb:"## 64"`
	Reason  uint16    `tlb:"## 16"`
}

// ---- Worker -> others --------------------------------------------------------

// SlashCompensation carries the slashed stake to the client of an expired job.
type SlashCompensation struct {
	_       tlb.Magic        `tlb:"#c0c00052"`
	QueryID uint64           `tlb:"## 64"`
	Job     *address.Address `tlb:"addr"`
}

// RegistrationRejected returns all funds of a rejected new Worker to its owner.
type RegistrationRejected struct {
	_       tlb.Magic `tlb:"#c0c00053"`
	QueryID uint64    `tlb:"## 64"`
	Reason  uint16    `tlb:"## 16"`
}

// StakeReturned returns all funds of a withdrawn Worker to its owner.
type StakeReturned struct {
	_       tlb.Magic `tlb:"#c0c00054"`
	QueryID uint64    `tlb:"## 64"`
}

// EarningsPaid carries a worker's earnings to its owner.
type EarningsPaid struct {
	_       tlb.Magic `tlb:"#c0c00055"`
	QueryID uint64    `tlb:"## 64"`
}

// SlashForfeit carries to the treasury the part of a slash beyond the
// client's compensation.
type SlashForfeit struct {
	_       tlb.Magic        `tlb:"#c0c00056"`
	QueryID uint64           `tlb:"## 64"`
	Job     *address.Address `tlb:"addr"`
}

// ProtocolFees carries a batch of the protocol fees a Worker owed to the
// treasury (at least ProtocolFeeBatch, or all of them at Withdraw).
type ProtocolFees struct {
	_       tlb.Magic `tlb:"#c0c00057"`
	QueryID uint64    `tlb:"## 64"`
}

// ---- Client -> Job -------------------------------------------------------------

// JobCreate deploys a Job (with its StateInit); the value is the escrow.
type JobCreate struct {
	_       tlb.Magic  `tlb:"#c0c00060"`
	QueryID uint64     `tlb:"## 64"`
	Terms   JobTerms   `tlb:"^"`
	Request *cell.Cell `tlb:"maybe ^"` // inline request ciphertext, optional
}

// Cancel closes an offered job (client only).
type Cancel struct {
	_       tlb.Magic `tlb:"#c0c00061"`
	QueryID uint64    `tlb:"## 64"`
}

// Refund closes a job after its deadline (anyone).
type Refund struct {
	_       tlb.Magic `tlb:"#c0c00062"`
	QueryID uint64    `tlb:"## 64"`
}

// ---- Job -> client / treasury / callback ---------------------------------------

// JobClosed carries all remaining funds of a closing job to its client,
// and tells watchers how it ended: the receipt's charge, the protocol fee
// of it and the result hash (zeros unless a receipt closed the job).
type JobClosed struct {
	_          tlb.Magic `tlb:"#c0c00063"`
	QueryID    uint64    `tlb:"## 64"`
	Reason     uint16    `tlb:"## 16"` // Closed* or an error code
	Charge     *big.Int  `tlb:"var uint 16"`
	Fee        *big.Int  `tlb:"var uint 16"`
	ResultHash [32]byte  `tlb:"bits 256"`
}

// JobCallback tells a job's callback address the result.
type JobCallback struct {
	_          tlb.Magic        `tlb:"#c0c00065"`
	QueryID    uint64           `tlb:"## 64"`
	Job        *address.Address `tlb:"addr"`
	ResultHash [32]byte         `tlb:"bits 256"`
	Result     *cell.Cell       `tlb:"maybe ^"` // inline sealed result, when small
}

// Excesses is TON's standard notification returning unspent value.
type Excesses struct {
	_       tlb.Magic `tlb:"#d53276db"`
	QueryID uint64    `tlb:"## 64"`
}
