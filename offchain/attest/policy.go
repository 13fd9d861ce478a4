package attest

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cocoon-network/cocoon/offchain/attest/nvgpu"
)

// AllowList is where measurements and the test-mode flag come from: Root's
// on-chain allow-list in production, a policy file for the CLI and tests.
type AllowList interface {
	// MeasurementAllowed reports whether hash (the 32-byte image hash
	// documented per TEE type) may run for tee.
	MeasurementAllowed(ctx context.Context, tee string, hash []byte) (bool, error)
	// TestMode reports whether insecure evidence (dev, debuggable TEEs) is
	// admitted.
	TestMode(ctx context.Context) (bool, error)
}

// Defaults of a Policy's zero fields.
const (
	DefaultMaxAge = 24 * time.Hour
	// MaxClockSkew is how far in the future evidence may claim to be made.
	MaxClockSkew = 5 * time.Minute
)

// Policy is what a verifier requires of evidence.
type Policy struct {
	AllowList AllowList
	// MaxAge bounds how old evidence may be; 0 means DefaultMaxAge.
	MaxAge time.Duration
	// AcceptedTCB lists acceptable TCB statuses (Intel's names:
	// UpToDate, SWHardeningNeeded, ConfigurationNeeded,
	// ConfigurationAndSWHardeningNeeded, OutOfDate,
	// OutOfDateConfigurationNeeded; ours: NotSupported). nil means
	// UpToDate only. Revoked is never accepted.
	AcceptedTCB []string
	// RequireTCBStatus refuses hardware CPU TEE evidence (tdx, sevsnp)
	// whose TCB status is unknown because no collateral came with it.
	// GPU and dev evidence have no TCB status and are not affected.
	RequireTCBStatus bool
	// MinSNPTCB is the lowest SEV-SNP TCB_VERSION (bootloader, TEE, SNP,
	// microcode SPLs, compared per component) a report may claim; below it
	// the status is OutOfDate. AMD's CRL lists revoked signing keys only,
	// so with RequireTCBStatus a policy without a minimum (0) refuses
	// SEV-SNP evidence rather than call every platform up to date: set it
	// from AMD's current security bulletins (policy file min_snp_tcb).
	MinSNPTCB uint64
	// MinTCBEvaluationDataNumber is the oldest Intel TCB recovery (the
	// collateral's tcbEvaluationDataNumber) TDX evidence may be judged by:
	// after a recovery a worker could otherwise keep serving the previous
	// collateral for its month of validity. 0: none.
	MinTCBEvaluationDataNumber int
	// RequireGPU refuses bundles without verified GPU evidence.
	RequireGPU bool
	// RequireSealedKeys refuses evidence whose image does not state that it
	// keeps its keys sealed to the enclave (Bundle.KeyHolding sevsnp or
	// key-release); dev evidence in test mode is let through.
	RequireSealedKeys bool
	// RequireWeights refuses hardware-TEE workers that do not attest the
	// weights of a model whose weights Root pins (CheckModelWeights).
	RequireWeights bool
	// Models holds per-model requirements; ForModel applies them.
	Models map[string]ModelPolicy
	// GPUReference holds NVIDIA's reference measurements (RIM values) each
	// GPU's measurement blocks must match where it names the index; nil:
	// only the allow-list of whole-record hashes is checked.
	GPUReference *nvgpu.Reference
	// DevSigners, when not empty, are the only Ed25519 keys whose dev
	// statements are accepted (in test mode).
	DevSigners [][]byte
}

// ModelPolicy is what a verifier requires of the workers serving one
// model, beyond the network-wide policy (Root's model entry may require
// GPUs too: ModelInfo.RequireGPU, which discovery applies).
type ModelPolicy struct {
	// RequireGPU: the model must run on attested GPUs in CC mode, so the
	// bundle must carry verified GPU evidence.
	RequireGPU bool `json:"require_gpu,omitempty"`
}

// DefaultAcceptedTCB are the TCB statuses the default policy accepts:
// platforms with every security patch Intel or AMD published, possibly
// needing a software or configuration mitigation that the image applies.
// OutOfDate, OutOfDateConfigurationNeeded, NotSupported and Revoked are
// refused: those platforms have known, unpatched vulnerabilities.
// Each call returns a new slice, so that no caller can change the default.
func DefaultAcceptedTCB() []string {
	return []string{"UpToDate", "SWHardeningNeeded", "ConfigurationNeeded", "ConfigurationAndSWHardeningNeeded"}
}

// DefaultPolicy is the policy every Cocoon verifier starts from — client
// SDK discovery, the gateway, `cocoon attest verify --policy`, and the
// worker and key-release service judging peers: known TCB status
// required for TDX and SEV-SNP (so collateral must come with the
// evidence), statuses limited to DefaultAcceptedTCB, evidence at most
// DefaultMaxAge old. The allow-list is the caller's (Root's on chain).
func DefaultPolicy(al AllowList) *Policy {
	return &Policy{AllowList: al, AcceptedTCB: DefaultAcceptedTCB(), RequireTCBStatus: true, RequireWeights: true,
		MinTCBEvaluationDataNumber: DefaultMinTCBEvaluationDataNumber}
}

// DefaultMinTCBEvaluationDataNumber is the default policy's oldest Intel
// TCB recovery for TDX collateral (tcbEvaluationDataNumber 17, the one
// Intel's PCS served when this default was set). A minimum that lags
// Intel only lets older collateral through; raise it in the policy file
// (min_tcb_evaluation_data_number) after each Intel TCB recovery.
const DefaultMinTCBEvaluationDataNumber = 17

// CheckWeights names the comparison of attested and pinned model weights.
const CheckWeights = "weights_attested"

// CheckModelWeights judges the weights a verified bundle attests for model
// against pinned, the weights hash Root's model entry holds (zero: none
// pinned). An attested hash must equal the pinned one. When the policy
// requires weights, a hardware-TEE bundle is refused without an attested
// hash of pinned weights, and on a network not in test mode also when
// Root pins none (then any weights would pass: the model cannot be served
// verifiably). Dev bundles are let through (test networks run engines
// without weights).
func (p *Policy) CheckModelWeights(b *Bundle, model string, pinned [32]byte, testMode bool) error {
	got := b.WeightsFor(model)
	var none [32]byte
	switch {
	case got != nil && pinned != none && !bytes.Equal(got, pinned[:]):
		return &CheckError{Check: CheckWeights, Err: fmt.Errorf("the worker attests weights %x for %s, Root pins %x", got, model, pinned)}
	case !p.RequireWeights || b.TEE == TEEDev:
	case got == nil && pinned != none:
		return &CheckError{Check: CheckWeights, Err: fmt.Errorf("the worker does not attest which weights of %s it serves, and Root pins %x", model, pinned)}
	case testMode:
	case pinned == none:
		return &CheckError{Check: CheckWeights, Err: fmt.Errorf("root pins no weights for %s (weights_hash 0): the weights a worker serves cannot be judged; its operator must pin them", model)}
	}
	return nil
}

// ForModel returns a copy of p with model's requirements applied.
func (p *Policy) ForModel(model string) *Policy {
	c := *p
	if m, ok := p.Models[model]; ok && m.RequireGPU {
		c.RequireGPU = true
	}
	return &c
}

func (p *Policy) maxAge() time.Duration {
	if p.MaxAge <= 0 {
		return DefaultMaxAge
	}
	return p.MaxAge
}

func (p *Policy) acceptedTCB() []string {
	if p.AcceptedTCB == nil {
		return []string{"UpToDate"}
	}
	return p.AcceptedTCB
}

func (p *Policy) tcbAccepted(status string) bool {
	return status != "Revoked" && slices.Contains(p.acceptedTCB(), status)
}

// StaticAllowList is a fixed allow-list, e.g. from a policy file.
type StaticAllowList struct {
	// Allowed maps a TEE type to its allowed image hashes.
	Allowed map[string][][]byte
	Test    bool
}

// MeasurementAllowed implements AllowList.
func (s *StaticAllowList) MeasurementAllowed(_ context.Context, tee string, hash []byte) (bool, error) {
	for _, h := range s.Allowed[tee] {
		if bytes.Equal(h, hash) {
			return true, nil
		}
	}
	return false, nil
}

// TestMode implements AllowList.
func (s *StaticAllowList) TestMode(context.Context) (bool, error) { return s.Test, nil }

// PolicyFile is the JSON policy file of `cocoon attest verify --policy`
// and of the client SDK (client.Options.Policy). Omitted fields keep
// DefaultPolicy's values.
type PolicyFile struct {
	TestMode          bool     `json:"test_mode"`
	MaxAge            string   `json:"max_age,omitempty"` // Go duration, e.g. "24h"
	AcceptedTCBStatus []string `json:"accepted_tcb_status,omitempty"`
	RequireTCBStatus  *bool    `json:"require_tcb_status,omitempty"`
	MinSNPTCB         string   `json:"min_snp_tcb,omitempty"` // hex TCB_VERSION
	// MinTCBEvaluationDataNumber overrides DefaultMinTCBEvaluationDataNumber.
	MinTCBEvaluationDataNumber *int                   `json:"min_tcb_evaluation_data_number,omitempty"`
	RequireGPU                 bool                   `json:"require_gpu,omitempty"`
	RequireSealedKeys          bool                   `json:"require_sealed_keys,omitempty"` // see Policy.RequireSealedKeys
	Models                     map[string]ModelPolicy `json:"models,omitempty"`
	GPUReference               *nvgpu.Reference       `json:"gpu_reference,omitempty"`
	Allow                      map[string][]string    `json:"allow"`                 // TEE type → hex image hashes
	DevSigners                 []string               `json:"dev_signers,omitempty"` // hex Ed25519 public keys
}

// ParsePolicy reads a policy file's content.
func ParsePolicy(b []byte) (*Policy, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var f PolicyFile
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	al := &StaticAllowList{Allowed: map[string][][]byte{}, Test: f.TestMode}
	for tee, hashes := range f.Allow {
		switch tee {
		case TEETDX, TEESEVSNP, TEENVIDIA, TEEDev:
		default:
			return nil, fmt.Errorf("policy: unknown TEE type %q in allow", tee)
		}
		for _, h := range hashes {
			raw, err := hex.DecodeString(strings.TrimPrefix(strings.ToLower(h), "0x"))
			if err != nil || len(raw) != 32 {
				return nil, fmt.Errorf("policy: allow[%s] entry %q is not 32 hex-encoded bytes", tee, h)
			}
			al.Allowed[tee] = append(al.Allowed[tee], raw)
		}
	}
	p := DefaultPolicy(al)
	if f.AcceptedTCBStatus != nil {
		p.AcceptedTCB = f.AcceptedTCBStatus
	}
	if f.RequireTCBStatus != nil {
		p.RequireTCBStatus = *f.RequireTCBStatus
	}
	if n := f.MinTCBEvaluationDataNumber; n != nil {
		if *n < 0 {
			return nil, fmt.Errorf("policy: min_tcb_evaluation_data_number %d is negative", *n)
		}
		p.MinTCBEvaluationDataNumber = *n
	}
	if f.MinSNPTCB != "" {
		v, err := strconv.ParseUint(strings.TrimPrefix(strings.ToLower(f.MinSNPTCB), "0x"), 16, 64)
		if err != nil {
			return nil, fmt.Errorf("policy: min_snp_tcb %q is not a hex 64-bit TCB_VERSION", f.MinSNPTCB)
		}
		p.MinSNPTCB = v
	}
	p.RequireGPU, p.Models, p.GPUReference = f.RequireGPU, f.Models, f.GPUReference
	p.RequireSealedKeys = f.RequireSealedKeys
	if f.MaxAge != "" {
		d, err := time.ParseDuration(f.MaxAge)
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("policy: max_age %q is not a positive duration", f.MaxAge)
		}
		p.MaxAge = d
	}
	for _, s := range f.DevSigners {
		raw, err := hex.DecodeString(s)
		if err != nil || len(raw) != 32 {
			return nil, fmt.Errorf("policy: dev signer %q is not a hex Ed25519 public key", s)
		}
		p.DevSigners = append(p.DevSigners, raw)
	}
	return p, nil
}

// LoadPolicy reads a policy file.
func LoadPolicy(path string) (*Policy, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	p, err := ParsePolicy(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
}
