package tdx

import (
	"context"
	"fmt"

	"github.com/cocoon-network/cocoon/offchain/attest/tsm"
)

// ProviderName is configfs-tsm's provider for TDX guests.
const ProviderName = "tdx_guest"

// Generate asks the TDX module (through configfs-tsm and the host's quote
// generation service) for a quote over reportData. It returns the quote
// without trailing padding, after checking that it parses and carries
// reportData.
func Generate(ctx context.Context, c *tsm.Client, reportData [64]byte) ([]byte, error) {
	resp, err := c.Report(ctx, tsm.Request{ReportData: reportData})
	if err != nil {
		return nil, fmt.Errorf("TDX quote: %w", err)
	}
	if resp.Provider != ProviderName {
		return nil, fmt.Errorf("TDX quote: configfs-tsm provider is %q, not %q (not a TDX guest?)", resp.Provider, ProviderName)
	}
	q, err := ParseQuote(resp.OutBlob)
	if err != nil {
		return nil, fmt.Errorf("TDX quote from the kernel: %w", err)
	}
	if q.Body.ReportData != reportData {
		return nil, fmt.Errorf("TDX quote from the kernel carries report data %x, asked for %x", q.Body.ReportData, reportData)
	}
	return resp.OutBlob[:len(resp.OutBlob)-q.Trailing], nil
}
