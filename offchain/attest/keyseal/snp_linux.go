//go:build linux

package keyseal

import (
	"context"
	"fmt"

	"github.com/google/go-sev-guest/client"
)

// FirmwareDeriver asks the AMD secure processor through /dev/sev-guest.
type FirmwareDeriver struct{}

// DeriveKey implements KeyDeriver.
func (FirmwareDeriver) DeriveKey(_ context.Context, req KeyRequest) ([32]byte, error) {
	dev, err := client.OpenDevice()
	if err != nil {
		return [32]byte{}, fmt.Errorf("open /dev/sev-guest: %w", err)
	}
	defer dev.Close()
	resp, err := client.GetDerivedKeyAcknowledgingItsLimitations(dev, &client.SnpDerivedKeyReq{
		UseVCEK: req.UseVCEK,
		GuestFieldSelect: client.GuestFieldSelect{Measurement: req.Measurement, GuestPolicy: req.GuestPolicy, ImageID: req.ImageID,
			FamilyID: req.FamilyID, GuestSVN: req.GuestSVN, TCBVersion: req.TCBVersion},
		Vmpl: req.VMPL, GuestSVN: req.GuestSVNValue, TCBVersion: req.TCBVersionValue,
	})
	if err != nil {
		return [32]byte{}, err
	}
	if resp.Status != 0 {
		return [32]byte{}, fmt.Errorf("firmware status %#x", resp.Status)
	}
	return resp.Data, nil
}
