//go:build linux && cgo

package nvgpu

import (
	"context"
	"errors"
	"fmt"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
)

// Collect asks every GPU for an attestation report over nonce. It refuses
// when CC is off or in devtools mode, since such a GPU's memory is open to
// the host.
func Collect(ctx context.Context, nonce [NonceSize]byte) (CCState, []Evidence, error) {
	return CollectFrom(ctx, nvml.New(), nonce)
}

// CollectFrom is Collect through lib (the driver's NVML, or a test's). Each
// report must parse and answer nonce: a driver that returned a report for
// another request would otherwise bind nothing.
func CollectFrom(ctx context.Context, lib nvml.Interface, nonce [NonceSize]byte) (CCState, []Evidence, error) {
	if ret := lib.Init(); ret != nvml.SUCCESS {
		if ret == nvml.ERROR_LIBRARY_NOT_FOUND || ret == nvml.ERROR_DRIVER_NOT_LOADED {
			return CCState{}, nil, ErrNoDriver
		}
		return CCState{}, nil, fmt.Errorf("NVML init: %s", lib.ErrorString(ret))
	}
	defer lib.Shutdown()

	st, ret := lib.SystemGetConfComputeState()
	if ret != nvml.SUCCESS {
		return CCState{}, nil, fmt.Errorf("NVML confidential-computing state: %s", lib.ErrorString(ret))
	}
	state := CCState{
		Enabled:      st.CcFeature == nvml.CC_SYSTEM_FEATURE_ENABLED,
		DevToolsMode: st.DevToolsMode == nvml.CC_SYSTEM_DEVTOOLS_MODE_ON,
		Production:   st.Environment == nvml.CC_SYSTEM_ENVIRONMENT_PROD,
	}
	if !state.Enabled {
		return state, nil, errors.New("GPU confidential computing is off")
	}
	if state.DevToolsMode {
		return state, nil, errors.New("GPU confidential computing is in devtools mode")
	}
	n, ret := lib.DeviceGetCount()
	if ret != nvml.SUCCESS {
		return state, nil, fmt.Errorf("NVML device count: %s", lib.ErrorString(ret))
	}
	var out []Evidence
	for i := 0; i < n; i++ {
		if err := ctx.Err(); err != nil {
			return state, nil, err
		}
		dev, ret := lib.DeviceGetHandleByIndex(i)
		if ret != nvml.SUCCESS {
			return state, nil, fmt.Errorf("GPU %d: %s", i, lib.ErrorString(ret))
		}
		uuid, _ := dev.GetUUID()
		certs, ret := dev.GetConfComputeGpuCertificate()
		if ret != nvml.SUCCESS {
			return state, nil, fmt.Errorf("GPU %d certificate chain: %s", i, lib.ErrorString(ret))
		}
		rep := nvml.ConfComputeGpuAttestationReport{Nonce: nonce}
		if ret := dev.GetConfComputeGpuAttestationReport(&rep); ret != nvml.SUCCESS {
			return state, nil, fmt.Errorf("GPU %d attestation report: %s", i, lib.ErrorString(ret))
		}
		if int(rep.AttestationReportSize) > len(rep.AttestationReport) || int(certs.AttestationCertChainSize) > len(certs.AttestationCertChain) {
			return state, nil, fmt.Errorf("GPU %d: NVML returned sizes larger than its buffers", i)
		}
		ev := Evidence{
			UUID:      uuid,
			Report:    append([]byte(nil), rep.AttestationReport[:rep.AttestationReportSize]...),
			CertChain: append([]byte(nil), certs.AttestationCertChain[:certs.AttestationCertChainSize]...),
		}
		parsed, err := ParseReport(ev.Report)
		if err != nil {
			return state, nil, fmt.Errorf("GPU %d attestation report: %w", i, err)
		}
		if parsed.RequestNonce != nonce {
			return state, nil, fmt.Errorf("GPU %d answered nonce %x, not the %x asked for", i, parsed.RequestNonce, nonce)
		}
		out = append(out, ev)
	}
	if len(out) == 0 {
		return state, nil, errors.New("no GPUs")
	}
	return state, out, nil
}
