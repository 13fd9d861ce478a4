package bindings

import "fmt"

// ExitCode is an exit code a Cocoon contract throws, or a reason code it
// reports in Reject, Decline and RegistrationRejected. The names and
// numbers mirror contracts/common/errors.tolk (a test checks they agree).
type ExitCode int

// Shared
const (
	ErrUnknownOp         ExitCode = 0xFFFF // an internal message with an opcode the contract does not handle
	ErrInsufficientValue ExitCode = 100    // the message does not carry enough TON for the operation
	ErrBadArgument       ExitCode = 101    // a field is out of its allowed range
)

// Root
const (
	ErrNotOwner              ExitCode = 110 // an owner-only operation from someone else
	ErrNotPendingOwner       ExitCode = 111 // AcceptOwnership from an address that was not proposed
	ErrNotAWorker            ExitCode = 112 // RegisterWorker/WorkerDeactivated not from the Worker of (owner, key)
	ErrMeasurementNotAllowed ExitCode = 113 // the worker's (tee, measurement) is not on the allow-list
	ErrDevTEENotAllowed      ExitCode = 114 // dev attestation while Root is not in test mode
	ErrModelNotAllowed       ExitCode = 115 // a served model is not registered in Root
	ErrPriceBelowMin         ExitCode = 116 // a worker's price is below the model's minimum
	ErrStakeTooLow           ExitCode = 117 // stake below Root's minimum worker stake
	ErrBadTEE                ExitCode = 118 // unknown TEE type
	ErrNoModels              ExitCode = 119 // a worker must serve at least one model
	ErrNoPendingChange       ExitCode = 120 // ApplyChange/CancelChange with no change announced
	ErrTimelockNotOver       ExitCode = 121 // ApplyChange before the announced change's effective time
)

// Worker
const (
	ErrNotRoot             ExitCode = 130 // Activate/Reject not from the worker's Root
	ErrWrongStatus         ExitCode = 131 // operation not allowed in the worker's current status
	ErrNotAJob             ExitCode = 132 // Offer/JobPaid/JobFailed/Slash not from the genuine Job address
	ErrUnbondingNotOver    ExitCode = 133 // Withdraw before the unbonding delay elapsed
	ErrModelNotServed      ExitCode = 134 // Offer for a model the worker does not serve
	ErrPriceTooLow         ExitCode = 135 // Offer below the worker's price
	ErrWorkerNotActive     ExitCode = 136 // Offer to a worker that is not active
	ErrDeadlineOutOfRange  ExitCode = 137 // Offer whose deadline is outside Root's bounds
	ErrNothingToWithdraw   ExitCode = 138 // WithdrawEarnings with zero earnings
	ErrStaleRegistration   ExitCode = 139 // Activate/Reject whose query id is not the registration in flight
	ErrTermsNotAgreed      ExitCode = 140 // Root's params or job code differ from those the owner agreed to
	ErrRegistrationExpired ExitCode = 141 // Offer to a worker whose registration is older than RegistrationTTL
	ErrBadRenewSignature   ExitCode = 142 // Renew not signed by the worker key over RenewAuth{this Worker, current validUntil}
)

// Job
const (
	ErrNotClient          ExitCode = 150 // a client-only operation from someone else
	ErrEscrowTooLow       ExitCode = 151 // deploy value below max cost + job gas reserve
	ErrJobWrongStatus     ExitCode = 152 // operation not allowed in the job's current status
	ErrNotChosenWorker    ExitCode = 153 // Accept/Decline not from the job's worker
	ErrBadSignature       ExitCode = 154 // receipt not signed by the accepted worker key
	ErrWrongJob           ExitCode = 155 // receipt names another job address
	ErrRequestMismatch    ExitCode = 156 // receipt's request hash differs from the job's commitment
	ErrTooManyTokens      ExitCode = 157 // receipt claims more tokens than the job's maximum
	ErrDeadlinePassed     ExitCode = 158 // receipt after the deadline
	ErrDeadlineNotReached ExitCode = 159 // Refund before the deadline
	ErrBadTerms           ExitCode = 160 // job terms invalid (zero max tokens, deadline in the past, ...)
	ErrStaleAnswer        ExitCode = 161 // Accept/Decline whose query id is not this job's offer id
	ErrResultTooLarge     ExitCode = 162 // receipt's inline result over InlineResultCells cells (InlineResultLimit bytes)
	ErrReceiptStateInit   ExitCode = 163 // a receipt message carrying a StateInit: the job would pay for importing it
)

// exitCodeNames is the table of contracts/common/errors.tolk, by Tolk name.
var exitCodeNames = map[ExitCode]string{
	ErrUnknownOp:             "ERR_UNKNOWN_OP",
	ErrInsufficientValue:     "ERR_INSUFFICIENT_VALUE",
	ErrBadArgument:           "ERR_BAD_ARGUMENT",
	ErrNotOwner:              "ERR_NOT_OWNER",
	ErrNotPendingOwner:       "ERR_NOT_PENDING_OWNER",
	ErrNotAWorker:            "ERR_NOT_A_WORKER",
	ErrMeasurementNotAllowed: "ERR_MEASUREMENT_NOT_ALLOWED",
	ErrDevTEENotAllowed:      "ERR_DEV_TEE_NOT_ALLOWED",
	ErrModelNotAllowed:       "ERR_MODEL_NOT_ALLOWED",
	ErrPriceBelowMin:         "ERR_PRICE_BELOW_MIN",
	ErrStakeTooLow:           "ERR_STAKE_TOO_LOW",
	ErrBadTEE:                "ERR_BAD_TEE",
	ErrNoModels:              "ERR_NO_MODELS",
	ErrNoPendingChange:       "ERR_NO_PENDING_CHANGE",
	ErrTimelockNotOver:       "ERR_TIMELOCK_NOT_OVER",
	ErrNotRoot:               "ERR_NOT_ROOT",
	ErrWrongStatus:           "ERR_WRONG_STATUS",
	ErrNotAJob:               "ERR_NOT_A_JOB",
	ErrUnbondingNotOver:      "ERR_UNBONDING_NOT_OVER",
	ErrModelNotServed:        "ERR_MODEL_NOT_SERVED",
	ErrPriceTooLow:           "ERR_PRICE_TOO_LOW",
	ErrWorkerNotActive:       "ERR_WORKER_NOT_ACTIVE",
	ErrDeadlineOutOfRange:    "ERR_DEADLINE_OUT_OF_RANGE",
	ErrNothingToWithdraw:     "ERR_NOTHING_TO_WITHDRAW",
	ErrStaleRegistration:     "ERR_STALE_REGISTRATION",
	ErrTermsNotAgreed:        "ERR_TERMS_NOT_AGREED",
	ErrRegistrationExpired:   "ERR_REGISTRATION_EXPIRED",
	ErrBadRenewSignature:     "ERR_BAD_RENEW_SIGNATURE",
	ErrNotClient:             "ERR_NOT_CLIENT",
	ErrEscrowTooLow:          "ERR_ESCROW_TOO_LOW",
	ErrJobWrongStatus:        "ERR_JOB_WRONG_STATUS",
	ErrNotChosenWorker:       "ERR_NOT_CHOSEN_WORKER",
	ErrBadSignature:          "ERR_BAD_SIGNATURE",
	ErrWrongJob:              "ERR_WRONG_JOB",
	ErrRequestMismatch:       "ERR_REQUEST_MISMATCH",
	ErrTooManyTokens:         "ERR_TOO_MANY_TOKENS",
	ErrDeadlinePassed:        "ERR_DEADLINE_PASSED",
	ErrDeadlineNotReached:    "ERR_DEADLINE_NOT_REACHED",
	ErrBadTerms:              "ERR_BAD_TERMS",
	ErrStaleAnswer:           "ERR_STALE_ANSWER",
	ErrResultTooLarge:        "ERR_RESULT_TOO_LARGE",
	ErrReceiptStateInit:      "ERR_RECEIPT_STATE_INIT",
}

// tvmExitCodes names the TVM's own exit codes that show up when a message
// is malformed or underfunded, so that refusals print in words too.
var tvmExitCodes = map[int]string{
	0:   "success",
	1:   "success (alternative)",
	2:   "TVM: stack underflow",
	3:   "TVM: stack overflow",
	4:   "TVM: integer overflow",
	5:   "TVM: integer out of range",
	6:   "TVM: invalid opcode",
	7:   "TVM: type check error",
	8:   "TVM: cell overflow",
	9:   "TVM: cell underflow (message too short or malformed)",
	10:  "TVM: dictionary error",
	11:  "TVM: unknown error (e.g. no such get-method)",
	13:  "TVM: out of gas",
	-14: "TVM: out of gas",
	32:  "action: invalid action list",
	33:  "action: too many actions",
	34:  "action: invalid or unsupported action",
	35:  "action: invalid source address",
	36:  "action: invalid destination address",
	37:  "action: not enough TON",
	38:  "action: not enough extra currencies",
	40:  "action: not enough funds to process a message",
	43:  "action: library or cell limits exceeded",
}

// Name is the Tolk constant's name (ERR_NOT_OWNER), or a description of a
// TVM exit code.
func (c ExitCode) Name() string { return ErrorName(int(c)) }

// String is Name with the number, for messages and test failures.
func (c ExitCode) String() string { return fmt.Sprintf("%s (%d)", ErrorName(int(c)), int(c)) }

// ErrorName turns an exit code or reason code into words: the Tolk name
// for Cocoon's codes, a description for the TVM's, "exit code N" otherwise.
func ErrorName(code int) string {
	if n, ok := exitCodeNames[ExitCode(code)]; ok {
		return n
	}
	if n, ok := tvmExitCodes[code]; ok {
		return n
	}
	return fmt.Sprintf("exit code %d", code)
}

// ExitCodes returns the table of Cocoon's named codes (a copy).
func ExitCodes() map[ExitCode]string {
	m := make(map[ExitCode]string, len(exitCodeNames))
	for k, v := range exitCodeNames {
		m[k] = v
	}
	return m
}
