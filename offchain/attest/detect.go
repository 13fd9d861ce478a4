package attest

import (
	"bytes"
	"errors"

	"github.com/cocoon-network/cocoon/offchain/attest/nvgpu"
	"github.com/cocoon-network/cocoon/offchain/attest/sevsnp"
	"github.com/cocoon-network/cocoon/offchain/attest/tdx"
)

// Kinds of evidence files Detect recognizes.
const (
	KindBundle = "bundle"
	KindTDX    = "tdx_quote"
	KindSNP    = "sevsnp_report"
	KindNVIDIA = "nvidia_report"
)

// Detect says what b is: a bundle, a raw TDX quote, a raw SEV-SNP report or
// a raw NVIDIA GPU report. A TDX quote announces itself (version 4/5, TEE
// type 0x81), an SPDM transcript too (GET_MEASUREMENTS); an SEV-SNP report
// has no magic and is recognized by its exact size and valid fields.
func Detect(b []byte) (string, error) {
	if t := bytes.TrimLeft(b, " \t\r\n"); len(t) > 0 && t[0] == '{' {
		return KindBundle, nil
	}
	if _, err := tdx.ParseQuote(b); err == nil || !errors.Is(err, tdx.ErrNotQuote) {
		return KindTDX, nil
	}
	if _, err := nvgpu.ParseReport(b); err == nil || !errors.Is(err, nvgpu.ErrNotReport) {
		return KindNVIDIA, nil
	}
	if _, err := sevsnp.ParseReport(b); err == nil {
		return KindSNP, nil
	}
	return "", errors.New("neither a bundle, a TDX quote, an SEV-SNP report nor an NVIDIA GPU report")
}
