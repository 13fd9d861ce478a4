package nvgpu

import "errors"

// ErrNoDriver means NVML (libnvidia-ml.so.1, installed with the NVIDIA
// driver) could not be loaded on this machine.
var ErrNoDriver = errors.New("no NVIDIA driver")

// Evidence is one GPU's attestation report and certificate chain.
type Evidence struct {
	UUID      string
	Report    []byte // SPDM transcript
	CertChain []byte // PEM, leaf first
}

// CCState is the system's confidential-computing mode.
type CCState struct {
	Enabled      bool // CC feature on
	DevToolsMode bool // debugging tools allowed: not confidential
	Production   bool // production (not simulated) environment
}
