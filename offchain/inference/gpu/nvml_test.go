//go:build linux && cgo

package gpu

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
	"github.com/google/go-cmp/cmp"
)

// TestDiscoverNoDriver points go-nvml at a library that does not exist,
// which is what a machine without the NVIDIA driver looks like.
func TestDiscoverNoDriver(t *testing.T) {
	lib := nvml.New(nvml.WithLibraryPath(filepath.Join(t.TempDir(), "libnvidia-ml.so.1")))
	_, err := discover(t.Context(), lib)
	if !errors.Is(err, ErrNoDriver) {
		t.Fatalf("err = %v, want ErrNoDriver", err)
	}
	if err.Error() != "no NVIDIA driver found (libnvidia-ml.so not loadable)" {
		t.Errorf("message %q", err.Error())
	}
}

// TestDiscoverThisMachine runs the real thing: with a driver, a sane
// report. Without one it is skipped, saying so, unless COCOON_TEST_GPU=1
// says this machine has a GPU (then a missing driver fails): without a GPU
// it could only log. TestDiscoverNoDriver covers the error path anywhere.
func TestDiscoverThisMachine(t *testing.T) {
	r, err := Discover(t.Context())
	switch {
	case (errors.Is(err, ErrNoDriver) || errors.Is(err, ErrDriverNotLoaded)) && os.Getenv("COCOON_TEST_GPU") != "1":
		t.Skipf("no NVIDIA GPU here (%v); set COCOON_TEST_GPU=1 on a GPU machine to require one", err)
	case err != nil:
		t.Fatal(err)
	}
	if r.DriverVersion == "" || r.CUDAVersion == "" {
		t.Errorf("versions missing: %+v", r)
	}
	for _, g := range r.GPUs {
		if !strings.HasPrefix(g.UUID, "GPU-") || g.Name == "" || g.MemoryTotalBytes == 0 {
			t.Errorf("GPU %d: %+v", g.Index, g)
		}
	}
}

func TestDiscoverCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := Discover(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}

// fakeLib answers the NVML calls Discover makes; any other call panics
// on the nil embedded interface, which would show Discover calling more
// than this test knows about.
type fakeLib struct {
	nvml.Interface
	init     nvml.Return
	ccState  nvml.ConfComputeSystemState
	ccRet    nvml.Return
	caps     nvml.ConfComputeSystemCaps
	capsRet  nvml.Return
	ready    uint32
	devices  []*fakeDevice
	shutdown int
}

func (f *fakeLib) Init() nvml.Return     { return f.init }
func (f *fakeLib) Shutdown() nvml.Return { f.shutdown++; return nvml.SUCCESS }
func (f *fakeLib) SystemGetDriverVersion() (string, nvml.Return) {
	return "570.86.15", nvml.SUCCESS
}
func (f *fakeLib) SystemGetNVMLVersion() (string, nvml.Return) { return "12.570.86.15", nvml.SUCCESS }
func (f *fakeLib) SystemGetCudaDriverVersion() (int, nvml.Return) {
	return 12080, nvml.SUCCESS
}
func (f *fakeLib) SystemGetConfComputeState() (nvml.ConfComputeSystemState, nvml.Return) {
	return f.ccState, f.ccRet
}
func (f *fakeLib) SystemGetConfComputeCapabilities() (nvml.ConfComputeSystemCaps, nvml.Return) {
	return f.caps, f.capsRet
}
func (f *fakeLib) SystemGetConfComputeGpusReadyState() (uint32, nvml.Return) {
	return f.ready, nvml.SUCCESS
}
func (f *fakeLib) DeviceGetCount() (int, nvml.Return) { return len(f.devices), nvml.SUCCESS }
func (f *fakeLib) DeviceGetHandleByIndex(i int) (nvml.Device, nvml.Return) {
	return f.devices[i], nvml.SUCCESS
}

type fakeDevice struct {
	nvml.Device
	name    string
	nameRet nvml.Return
	uuid    string
	memory  uint64
	busID   string
	protKiB uint64
	protRet nvml.Return
}

func (d *fakeDevice) GetName() (string, nvml.Return) { return d.name, d.nameRet }
func (d *fakeDevice) GetUUID() (string, nvml.Return) { return d.uuid, nvml.SUCCESS }
func (d *fakeDevice) GetMemoryInfo() (nvml.Memory, nvml.Return) {
	return nvml.Memory{Total: d.memory}, nvml.SUCCESS
}
func (d *fakeDevice) GetCudaComputeCapability() (int, int, nvml.Return) { return 9, 0, nvml.SUCCESS }
func (d *fakeDevice) GetPciInfo() (nvml.PciInfo, nvml.Return) {
	var p nvml.PciInfo
	for i := range min(len(d.busID), len(p.BusId)-1) {
		p.BusId[i] = int8(d.busID[i])
	}
	return p, nvml.SUCCESS
}
func (d *fakeDevice) GetConfComputeMemSizeInfo() (nvml.ConfComputeMemSizeInfo, nvml.Return) {
	return nvml.ConfComputeMemSizeInfo{ProtectedMemSizeKib: d.protKiB}, d.protRet
}

func h100(i int) *fakeDevice {
	return &fakeDevice{
		name: "NVIDIA H100 80GB HBM3", uuid: "GPU-" + string(rune('a'+i)), memory: 80 << 30,
		busID: "00000000:1" + string(rune('0'+i)) + ":00.0", protKiB: 79 << 20,
	}
}

func ccOn() nvml.ConfComputeSystemState {
	return nvml.ConfComputeSystemState{
		Environment: nvml.CC_SYSTEM_ENVIRONMENT_PROD, CcFeature: nvml.CC_SYSTEM_FEATURE_ENABLED,
		DevToolsMode: nvml.CC_SYSTEM_DEVTOOLS_MODE_OFF,
	}
}

func TestDiscoverFake(t *testing.T) {
	cases := []struct {
		name    string
		lib     *fakeLib
		wantErr error
		check   func(*testing.T, Report)
	}{
		{
			name: "CC on, TDX, ready",
			lib: &fakeLib{ccState: ccOn(), caps: nvml.ConfComputeSystemCaps{CpuCaps: nvml.CC_SYSTEM_CPU_CAPS_INTEL_TDX, GpusCaps: nvml.CC_SYSTEM_GPUS_CC_CAPABLE},
				ready: nvml.CC_ACCEPTING_CLIENT_REQUESTS_TRUE, devices: []*fakeDevice{h100(0), h100(1)}},
			check: func(t *testing.T, r Report) {
				want := CCState{Supported: true, Enabled: true, Environment: "production", CPU: "intel-tdx", GPUsCapable: true, AcceptingWork: true}
				if diff := cmp.Diff(want, r.CC); diff != "" || !r.CC.Confidential() {
					t.Errorf("CC (-want +got):\n%s\nconfidential %v", diff, r.CC.Confidential())
				}
				if r.DriverVersion != "570.86.15" || r.CUDAVersion != "12.8" || len(r.GPUs) != 2 {
					t.Fatalf("report %+v", r)
				}
				g := r.GPUs[1]
				want1 := GPU{Index: 1, Name: "NVIDIA H100 80GB HBM3", UUID: "GPU-b", PCIBusID: "00000000:11:00.0",
					MemoryTotalBytes: 80 << 30, ComputeCapability: "9.0", ProtectedMemoryBytes: 79 << 30}
				if diff := cmp.Diff(want1, g); diff != "" {
					t.Errorf("GPU 1 (-want +got):\n%s", diff)
				}
			},
		},
		{
			name: "driver without CC",
			lib:  &fakeLib{ccRet: nvml.ERROR_NOT_SUPPORTED, devices: []*fakeDevice{h100(0)}},
			check: func(t *testing.T, r Report) {
				if r.CC.Supported || r.CC.Enabled || r.CC.Environment != "unavailable" {
					t.Errorf("CC %+v", r.CC)
				}
				if r.GPUs[0].ProtectedMemoryBytes != 0 {
					t.Error("protected memory read with CC off")
				}
			},
		},
		{
			name: "devtools mode, simulation, capabilities query unsupported",
			lib: &fakeLib{ccState: nvml.ConfComputeSystemState{CcFeature: nvml.CC_SYSTEM_FEATURE_ENABLED, DevToolsMode: nvml.CC_SYSTEM_DEVTOOLS_MODE_ON, Environment: nvml.CC_SYSTEM_ENVIRONMENT_SIM},
				capsRet: nvml.ERROR_FUNCTION_NOT_FOUND, devices: []*fakeDevice{{name: "x", uuid: "GPU-x", memory: 1, protRet: nvml.ERROR_NOT_SUPPORTED}}},
			check: func(t *testing.T, r Report) {
				if !r.CC.DevTools || r.CC.Environment != "simulation" || r.CC.CPU != "none" || r.CC.AcceptingWork || r.CC.Confidential() {
					t.Errorf("CC %+v", r.CC)
				}
			},
		},
		{name: "no GPUs", lib: &fakeLib{ccRet: nvml.ERROR_NOT_SUPPORTED}, check: func(t *testing.T, r Report) {
			if r.GPUs == nil || len(r.GPUs) != 0 {
				t.Errorf("GPUs %v, want empty", r.GPUs)
			}
		}},
		{name: "library missing", lib: &fakeLib{init: nvml.ERROR_LIBRARY_NOT_FOUND}, wantErr: ErrNoDriver},
		{name: "kernel driver missing", lib: &fakeLib{init: nvml.ERROR_DRIVER_NOT_LOADED}, wantErr: ErrDriverNotLoaded},
		{name: "init fails otherwise", lib: &fakeLib{init: nvml.ERROR_NO_PERMISSION}, wantErr: nvml.ERROR_NO_PERMISSION},
		{name: "CC state error", lib: &fakeLib{ccRet: nvml.ERROR_UNKNOWN}, wantErr: nvml.ERROR_UNKNOWN},
		{
			name:    "GPU lost",
			lib:     &fakeLib{ccRet: nvml.ERROR_NOT_SUPPORTED, devices: []*fakeDevice{{nameRet: nvml.ERROR_GPU_IS_LOST}}},
			wantErr: nvml.ERROR_GPU_IS_LOST,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, err := discover(t.Context(), tc.lib)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.lib.shutdown != 1 {
				t.Errorf("Shutdown called %d times", tc.lib.shutdown)
			}
			tc.check(t, r)
		})
	}
}
