package attest

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"
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
	// RequireTCBStatus refuses evidence whose TCB status is unknown
	// (TDX verified without collateral, SEV-SNP, NVIDIA, dev).
	RequireTCBStatus bool
	// RequireGPU refuses bundles without verified GPU evidence.
	RequireGPU bool
	// DevSigners, when not empty, are the only Ed25519 keys whose dev
	// statements are accepted (in test mode).
	DevSigners [][]byte
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

// PolicyFile is the JSON policy file of `cocoon attest verify --policy`.
type PolicyFile struct {
	TestMode          bool                `json:"test_mode"`
	MaxAge            string              `json:"max_age,omitempty"` // Go duration, e.g. "24h"
	AcceptedTCBStatus []string            `json:"accepted_tcb_status,omitempty"`
	RequireTCBStatus  bool                `json:"require_tcb_status,omitempty"`
	RequireGPU        bool                `json:"require_gpu,omitempty"`
	Allow             map[string][]string `json:"allow"`                 // TEE type → hex image hashes
	DevSigners        []string            `json:"dev_signers,omitempty"` // hex Ed25519 public keys
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
	p := &Policy{AllowList: al, AcceptedTCB: f.AcceptedTCBStatus, RequireTCBStatus: f.RequireTCBStatus, RequireGPU: f.RequireGPU}
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
