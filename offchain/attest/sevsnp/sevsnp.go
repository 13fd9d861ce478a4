// Package sevsnp parses and verifies AMD SEV-SNP attestation reports
// offline, and requests them from the guest's firmware.
//
// Cryptography and AMD's certificate rules are go-sev-guest's
// (verify.SnpAttestation, validate.SnpAttestation); this package fixes the
// trust anchors to the AMD roots that library embeds, forbids network
// fetching, and names each check. It must pass TrustedRoots: without them
// go-sev-guest v0.14.0 accepts whatever ARK the attestation itself carries.
package sevsnp

import (
	"crypto/sha256"
	"errors"
	"fmt"

	"github.com/google/go-sev-guest/abi"
	spb "github.com/google/go-sev-guest/proto/sevsnp"
)

// ReportSize is the size of an attestation report.
const ReportSize = abi.ReportSize

// ErrNotReport marks input that cannot be an SEV-SNP report.
var ErrNotReport = errors.New("not an SEV-SNP attestation report")

// Report is a parsed attestation report.
type Report struct {
	Proto *spb.Report
	// Raw is exactly the ReportSize signed-and-signature bytes.
	Raw []byte
	// Trailing counts bytes after the report, which are ignored.
	Trailing int
}

// ParseReport parses an attestation report (versions go-sev-guest knows:
// 2 to 5). Bytes after the report are tolerated and counted.
func ParseReport(b []byte) (*Report, error) {
	if len(b) < ReportSize {
		return nil, fmt.Errorf("%w: %d bytes, a report is %d", ErrNotReport, len(b), ReportSize)
	}
	raw := b[:ReportSize:ReportSize]
	if err := abi.ValidateReportFormat(raw); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotReport, err)
	}
	p, err := abi.ReportToProto(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotReport, err)
	}
	if p.GetSignatureAlgo() != uint32(abi.SignEcdsaP384Sha384) {
		return nil, fmt.Errorf("signature algorithm %d is not ECDSA P-384 with SHA-384", p.GetSignatureAlgo())
	}
	return &Report{Proto: p, Raw: raw, Trailing: len(b) - ReportSize}, nil
}

// Measurement is the launch digest (48 bytes).
func (r *Report) Measurement() []byte { return r.Proto.GetMeasurement() }

// ReportData is the guest-supplied 64 bytes.
func (r *Report) ReportData() []byte { return r.Proto.GetReportData() }

// ImageHash is the value Root's allow-list stores for an SEV-SNP image:
// sha256(MEASUREMENT). Hashing keeps every allow-list entry 32 bytes
// whatever the TEE; `cocoon attest inspect` prints both.
func (r *Report) ImageHash() [32]byte { return sha256.Sum256(r.Measurement()) }

// Debug reports whether the guest policy lets the host debug the guest,
// which voids confidentiality.
func (r *Report) Debug() bool {
	p, err := abi.ParseSnpPolicy(r.Proto.GetPolicy())
	return err != nil || p.Debug
}

// Signer is "vcek" or "vlek": which endorsement key signed the report.
func (r *Report) Signer() (string, error) {
	info, err := abi.ParseSignerInfo(r.Proto.GetSignerInfo())
	if err != nil {
		return "", err
	}
	switch info.SigningKey {
	case abi.VcekReportSigner:
		return CertVCEK, nil
	case abi.VlekReportSigner:
		return CertVLEK, nil
	}
	return "", fmt.Errorf("report is signed by %v, which cannot be verified offline", info.SigningKey)
}
