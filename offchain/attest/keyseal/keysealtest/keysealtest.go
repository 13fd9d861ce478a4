// Package keysealtest fakes the AMD secure processor's MSG_KEY_REQ for
// tests of sealing: a chip secret mixed with the guest fields the request
// selects, as the firmware mixes them.
package keysealtest

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"fmt"

	"github.com/cocoon-network/cocoon/offchain/attest/keyseal"
)

// Firmware is one guest on one chip.
type Firmware struct {
	ChipSecret   [32]byte // the VCEK secret (per chip)
	VMRK         [32]byte // the VM root key (per launch)
	Measurement  [48]byte // the guest's launch digest
	Policy       uint64
	ImageID      [16]byte
	FamilyID     [16]byte
	GuestSVN     uint32
	CommittedTCB uint64
	VMPL         uint32
}

// DeriveKey implements keyseal.KeyDeriver with the firmware's rules: the
// TCB and SVN asked for may not exceed the guest's, nor the VMPL be below
// the caller's.
func (f *Firmware) DeriveKey(_ context.Context, r keyseal.KeyRequest) ([32]byte, error) {
	switch {
	case r.TCBVersion && r.TCBVersionValue > f.CommittedTCB:
		return [32]byte{}, fmt.Errorf("invalid parameters: TCB %#x above the committed %#x", r.TCBVersionValue, f.CommittedTCB)
	case r.GuestSVN && r.GuestSVNValue > f.GuestSVN:
		return [32]byte{}, fmt.Errorf("invalid parameters: guest SVN %d above %d", r.GuestSVNValue, f.GuestSVN)
	case r.VMPL < f.VMPL:
		return [32]byte{}, fmt.Errorf("invalid parameters: VMPL %d below the caller's %d", r.VMPL, f.VMPL)
	}
	root := f.VMRK
	if r.UseVCEK {
		root = f.ChipSecret
	}
	m := hmac.New(sha256.New, root[:])
	u64 := func(v uint64) { _ = binary.Write(m, binary.LittleEndian, v) }
	// The selection itself is mixed in, as GUEST_FIELD_SELECT is.
	var sel uint64
	for i, b := range []bool{r.GuestPolicy, r.ImageID, r.FamilyID, r.Measurement, r.GuestSVN, r.TCBVersion} {
		if b {
			sel |= 1 << i
		}
	}
	u64(sel)
	u64(uint64(r.VMPL))
	if r.Measurement {
		m.Write(f.Measurement[:])
	}
	if r.GuestPolicy {
		u64(f.Policy)
	}
	if r.ImageID {
		m.Write(f.ImageID[:])
	}
	if r.FamilyID {
		m.Write(f.FamilyID[:])
	}
	if r.GuestSVN {
		u64(uint64(r.GuestSVNValue))
	}
	if r.TCBVersion {
		u64(r.TCBVersionValue)
	}
	var out [32]byte
	copy(out[:], m.Sum(nil))
	return out, nil
}
