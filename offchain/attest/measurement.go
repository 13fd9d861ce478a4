package attest

import (
	"fmt"

	"github.com/cocoon-network/cocoon/offchain/attest/dev"
	"github.com/cocoon-network/cocoon/offchain/attest/nvgpu"
	"github.com/cocoon-network/cocoon/offchain/attest/sevsnp"
	"github.com/cocoon-network/cocoon/offchain/attest/tdx"
)

// Measurement returns the image hash of tee's evidence: the value Root's
// allow-list stores and the Verifier looks up (Result.ImageHash). TDX:
// sha256(MRTD‖RTMR0..3); SEV-SNP: sha256(MEASUREMENT); NVIDIA: sha256 of
// the GPU's measurement record; dev: sha256 of the declared image name.
// Each rule is the TEE package's own; this only picks it by TEE name. It
// parses without verifying: it answers "what would an operator allow",
// not "is this evidence genuine".
func Measurement(tee string, evidence []byte) ([32]byte, error) {
	switch tee {
	case TEETDX:
		q, err := tdx.ParseQuote(evidence)
		if err != nil {
			return [32]byte{}, err
		}
		return q.Body.ImageHash(), nil
	case TEESEVSNP:
		r, err := sevsnp.ParseReport(evidence)
		if err != nil {
			return [32]byte{}, err
		}
		return r.ImageHash(), nil
	case TEENVIDIA:
		r, err := nvgpu.ParseReport(evidence)
		if err != nil {
			return [32]byte{}, err
		}
		return r.MeasurementHash(), nil
	case TEEDev:
		st, err := dev.Parse(evidence)
		if err != nil {
			return [32]byte{}, err
		}
		return dev.Measurement(st.Image), nil
	}
	return [32]byte{}, fmt.Errorf("no measurement for unknown TEE type %q", tee)
}
