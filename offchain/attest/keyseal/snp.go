package keyseal

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
)

// KeyRequest is an SEV-SNP MSG_KEY_REQ: which secret the AMD secure
// processor derives the key from and which guest fields it mixes in.
type KeyRequest struct {
	// UseVCEK derives from the chip's VCEK secret (stable across launches
	// of the same image on the same chip) rather than the VM root key.
	UseVCEK bool `json:"use_vcek"`
	// Mixed-in fields, taken by the firmware from the running guest.
	Measurement bool `json:"measurement"`
	GuestPolicy bool `json:"guest_policy"`
	ImageID     bool `json:"image_id,omitempty"`
	FamilyID    bool `json:"family_id,omitempty"`
	GuestSVN    bool `json:"guest_svn,omitempty"`
	TCBVersion  bool `json:"tcb_version"`
	// VMPL to mix in (at least the caller's).
	VMPL uint32 `json:"vmpl"`
	// GuestSVNValue and TCBVersionValue are the values mixed in when
	// selected: at most the guest's launch SVN and committed TCB, so a key
	// sealed at some TCB is derivable after a firmware upgrade but not
	// after a rollback below it.
	GuestSVNValue   uint32 `json:"guest_svn_value,omitempty"`
	TCBVersionValue uint64 `json:"tcb_version_value,omitempty"`
}

// KeyDeriver is the guest's interface to MSG_KEY_REQ (/dev/sev-guest on
// Linux: FirmwareDeriver; tests use keysealtest.Firmware).
type KeyDeriver interface {
	DeriveKey(ctx context.Context, req KeyRequest) ([32]byte, error)
}

// SNPSealer seals under a key the AMD secure processor derives from the
// chip's VCEK secret, the launch measurement, the guest policy and the TCB
// version: the same image on the same chip at the same or a newer TCB
// derives it again; another image, chip or an older TCB cannot.
type SNPSealer struct {
	Deriver KeyDeriver
	// TCBVersion is the TCB mixed into new seals: the platform's committed
	// TCB (the report's COMMITTED_TCB). 0 mixes in none.
	TCBVersion uint64
	// VMPL the worker runs at (0 for a guest without a paravisor).
	VMPL uint32
}

// Kind implements Sealer.
func (SNPSealer) Kind() string { return "sevsnp" }

// Insecure implements Sealer.
func (SNPSealer) Insecure() bool { return false }

// RootKey implements Sealer. A blob's parameters must bind the
// measurement and guest policy: a key that another image could derive on
// the same chip would let that image plant keys this one then uses.
func (s SNPSealer) RootKey(ctx context.Context, params json.RawMessage) ([32]byte, json.RawMessage, error) {
	req := KeyRequest{UseVCEK: true, Measurement: true, GuestPolicy: true, VMPL: s.VMPL,
		TCBVersion: s.TCBVersion != 0, TCBVersionValue: s.TCBVersion}
	if params != nil {
		req = KeyRequest{}
		if err := json.Unmarshal(params, &req); err != nil {
			return [32]byte{}, nil, fmt.Errorf("SEV-SNP key request in the blob: %w", err)
		}
		if !req.UseVCEK || !req.Measurement || !req.GuestPolicy {
			return [32]byte{}, nil, errors.New("the blob's SEV-SNP key request does not bind the chip, measurement and guest policy: refusing keys another image could have sealed")
		}
	}
	if s.Deriver == nil {
		return [32]byte{}, nil, errors.New("no SEV-SNP key deriver (not an SEV-SNP guest?)")
	}
	k, err := s.Deriver.DeriveKey(ctx, req)
	if err != nil {
		return [32]byte{}, nil, fmt.Errorf("SEV-SNP MSG_KEY_REQ: %w", err)
	}
	used, err := json.Marshal(req)
	return k, used, err
}
