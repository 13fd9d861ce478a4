//go:build !linux

package keyseal

import (
	"context"
	"errors"
)

// FirmwareDeriver needs /dev/sev-guest, which only Linux guests have.
type FirmwareDeriver struct{}

// DeriveKey implements KeyDeriver.
func (FirmwareDeriver) DeriveKey(context.Context, KeyRequest) ([32]byte, error) {
	return [32]byte{}, errors.New("SEV-SNP key derivation needs a Linux SEV-SNP guest")
}
