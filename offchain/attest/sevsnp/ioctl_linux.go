package sevsnp

import "github.com/google/go-sev-guest/client"

// ioctlReport asks /dev/sev-guest (kernels without configfs-tsm) for an
// extended report at VMPL 0; go-sev-guest returns the report followed by
// the host's certificate table.
func ioctlReport(reportData [64]byte) (report, table []byte, err error) {
	out, err := (&client.LinuxIoctlQuoteProvider{}).GetRawQuoteAtLevel(reportData, 0)
	if err != nil {
		return nil, nil, err
	}
	if len(out) < ReportSize {
		return out, nil, nil
	}
	return out[:ReportSize], out[ReportSize:], nil
}
