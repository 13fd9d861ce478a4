//go:build linux && cgo

package nvgpu

import (
	"context"
	"strings"
	"testing"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock"

	"github.com/cocoon-network/cocoon/offchain/attest/check"
)

// fakeNVML is a driver with one H100 that answers with the real report
// vector, whatever nonce it is asked (as a replaying host would).
func fakeNVML(t *testing.T, st nvml.ConfComputeSystemState) (*mock.Interface, *[NonceSize]byte) {
	report, chain := testdata(t)
	asked := new([NonceSize]byte)
	dev := &mock.Device{
		GetUUIDFunc: func() (string, nvml.Return) { return "GPU-test", nvml.SUCCESS },
		GetConfComputeGpuCertificateFunc: func() (nvml.ConfComputeGpuCertificate, nvml.Return) {
			var c nvml.ConfComputeGpuCertificate
			c.AttestationCertChainSize = uint32(copy(c.AttestationCertChain[:], chain))
			return c, nvml.SUCCESS
		},
		GetConfComputeGpuAttestationReportFunc: func(r *nvml.ConfComputeGpuAttestationReport) nvml.Return {
			*asked = r.Nonce
			r.AttestationReportSize = uint32(copy(r.AttestationReport[:], report))
			return nvml.SUCCESS
		},
	}
	lib := &mock.Interface{
		InitFunc:                      func() nvml.Return { return nvml.SUCCESS },
		ShutdownFunc:                  func() nvml.Return { return nvml.SUCCESS },
		ErrorStringFunc:               func(r nvml.Return) string { return "error " + string(rune('0'+int(r)%10)) },
		SystemGetConfComputeStateFunc: func() (nvml.ConfComputeSystemState, nvml.Return) { return st, nvml.SUCCESS },
		DeviceGetCountFunc:            func() (int, nvml.Return) { return 1, nvml.SUCCESS },
		DeviceGetHandleByIndexFunc:    func(int) (nvml.Device, nvml.Return) { return dev, nvml.SUCCESS },
	}
	return lib, asked
}

func TestCollectFrom(t *testing.T) {
	report, _ := testdata(t)
	rep, err := ParseReport(report)
	if err != nil {
		t.Fatal(err)
	}
	ccOn := nvml.ConfComputeSystemState{CcFeature: nvml.CC_SYSTEM_FEATURE_ENABLED, Environment: nvml.CC_SYSTEM_ENVIRONMENT_PROD}
	devtools := ccOn
	devtools.DevToolsMode = nvml.CC_SYSTEM_DEVTOOLS_MODE_ON
	var other [NonceSize]byte
	other[0] = 1
	for _, c := range []struct {
		name    string
		st      nvml.ConfComputeSystemState
		nonce   [NonceSize]byte
		wantErr string
	}{
		{"CC on, the nonce the report answers", ccOn, rep.RequestNonce, ""},
		{"CC off", nvml.ConfComputeSystemState{}, rep.RequestNonce, "confidential computing is off"},
		{"devtools mode", devtools, rep.RequestNonce, "devtools"},
		{"a report for another nonce", ccOn, other, "answered nonce"},
	} {
		t.Run(c.name, func(t *testing.T) {
			lib, asked := fakeNVML(t, c.st)
			st, ev, err := CollectFrom(context.Background(), lib, c.nonce)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("err = %v, want %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !st.Enabled || st.DevToolsMode || !st.Production || len(ev) != 1 || ev[0].UUID != "GPU-test" || *asked != c.nonce {
				t.Fatalf("state %+v, %d reports, nonce asked %x", st, len(ev), *asked)
			}
			// What was collected verifies as NVIDIA's.
			r, err := ParseReport(ev[0].Report)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := (&Verifier{}).Verify(r, ev[0].CertChain, at, &check.Log{}); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestCollectWithoutDriver(t *testing.T) {
	lib := &mock.Interface{InitFunc: func() nvml.Return { return nvml.ERROR_LIBRARY_NOT_FOUND }}
	if _, _, err := CollectFrom(context.Background(), lib, [NonceSize]byte{}); err != ErrNoDriver {
		t.Fatalf("err = %v, want ErrNoDriver", err)
	}
}
