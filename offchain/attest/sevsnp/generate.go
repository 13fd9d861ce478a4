package sevsnp

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/go-sev-guest/abi"

	"github.com/cocoon-network/cocoon/offchain/attest/tsm"
)

// ProviderName is configfs-tsm's provider for SEV-SNP guests.
const ProviderName = "sev_guest"

// Generate asks the AMD secure processor for a report over reportData,
// with the certificates the host provisioned (the extended report's
// certificate table). It uses configfs-tsm when the kernel has it and
// falls back to the /dev/sev-guest ioctl otherwise.
func Generate(ctx context.Context, c *tsm.Client, reportData [64]byte) ([]byte, Certs, error) {
	var raw, table []byte
	resp, err := c.Report(ctx, tsm.Request{ReportData: reportData, AuxBlob: true})
	switch {
	case err == nil:
		if resp.Provider != ProviderName {
			return nil, Certs{}, fmt.Errorf("SEV-SNP report: configfs-tsm provider is %q, not %q (not an SEV-SNP guest?)", resp.Provider, ProviderName)
		}
		raw, table = resp.OutBlob, resp.AuxBlob
	case errors.Is(err, tsm.ErrUnavailable):
		if raw, table, err = ioctlReport(reportData); err != nil {
			return nil, Certs{}, fmt.Errorf("SEV-SNP report: configfs-tsm is not available and /dev/sev-guest failed: %w", err)
		}
	default:
		return nil, Certs{}, fmt.Errorf("SEV-SNP report: %w", err)
	}
	rep, err := ParseReport(raw)
	if err != nil {
		return nil, Certs{}, fmt.Errorf("SEV-SNP report from the firmware: %w", err)
	}
	if string(rep.ReportData()) != string(reportData[:]) {
		return nil, Certs{}, errors.New("SEV-SNP report from the firmware carries other report data than asked for")
	}
	certs, err := CertsFromTable(table)
	if err != nil {
		return nil, Certs{}, err
	}
	return rep.Raw, certs, nil
}

// CertsFromTable extracts the endorsement certificates from an extended
// report's GUID-keyed certificate table. Hosts that provision none leave
// it empty, and the report then cannot be verified offline.
func CertsFromTable(table []byte) (Certs, error) {
	if len(table) == 0 {
		return Certs{}, errors.New("the host provisioned no SEV-SNP certificates (VCEK/VLEK) with the report; without them it cannot be verified offline")
	}
	var t abi.CertTable
	if err := t.Unmarshal(table); err != nil {
		return Certs{}, fmt.Errorf("SEV-SNP certificate table: %w", err)
	}
	get := func(guid string) []byte {
		b, err := t.GetByGUIDString(guid)
		if err != nil {
			return nil
		}
		return b
	}
	c := Certs{VCEK: get(abi.VcekGUID), VLEK: get(abi.VlekGUID), ASK: get(abi.AskGUID), ARK: get(abi.ArkGUID)}
	if c.VCEK == nil && c.VLEK == nil {
		return Certs{}, errors.New("the SEV-SNP certificate table holds neither a VCEK nor a VLEK")
	}
	return c, nil
}
