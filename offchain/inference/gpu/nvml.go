//go:build linux && cgo

package gpu

import (
	"context"
	"fmt"
	"strconv"
	"sync"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
)

// nvmlMu serialises this package's NVML sessions. NVML is a process-wide C
// library and go-nvml swaps package-level symbol pointers while loading
// it, so concurrent Init/Shutdown pairs would race; the lock guards that
// shared resource, not state of our own.
var nvmlMu sync.Mutex

// Discover loads NVML, reads the report and unloads NVML. Without an
// NVIDIA driver it returns ErrNoDriver (or ErrDriverNotLoaded when only
// the kernel part is missing). Each call queries the driver afresh and may
// take a second or more on a machine without persistence mode, so callers
// gather the report once at startup rather than per /healthz request.
func Discover(ctx context.Context) (Report, error) {
	return discover(ctx, nvml.New())
}

func discover(ctx context.Context, lib nvml.Interface) (Report, error) {
	if err := ctx.Err(); err != nil {
		return Report{}, err
	}
	nvmlMu.Lock()
	defer nvmlMu.Unlock()
	switch ret := lib.Init(); ret {
	case nvml.SUCCESS:
	case nvml.ERROR_LIBRARY_NOT_FOUND:
		return Report{}, ErrNoDriver
	case nvml.ERROR_DRIVER_NOT_LOADED:
		return Report{}, ErrDriverNotLoaded
	default:
		return Report{}, fmt.Errorf("gpu: initialising NVML: %w", ret)
	}
	defer lib.Shutdown()

	var r Report
	var ret nvml.Return
	if r.DriverVersion, ret = lib.SystemGetDriverVersion(); ret != nvml.SUCCESS {
		return Report{}, fmt.Errorf("gpu: reading driver version: %w", ret)
	}
	if r.NVMLVersion, ret = lib.SystemGetNVMLVersion(); ret != nvml.SUCCESS {
		return Report{}, fmt.Errorf("gpu: reading NVML version: %w", ret)
	}
	cuda, ret := lib.SystemGetCudaDriverVersion()
	if ret != nvml.SUCCESS {
		return Report{}, fmt.Errorf("gpu: reading CUDA version: %w", ret)
	}
	r.CUDAVersion = cudaVersion(cuda)
	cc, err := ccState(lib)
	if err != nil {
		return Report{}, err
	}
	r.CC = cc

	n, ret := lib.DeviceGetCount()
	if ret != nvml.SUCCESS {
		return Report{}, fmt.Errorf("gpu: counting GPUs: %w", ret)
	}
	r.GPUs = make([]GPU, 0, n)
	for i := range n {
		if err := ctx.Err(); err != nil {
			return Report{}, err
		}
		g, err := device(lib, i, cc.Enabled)
		if err != nil {
			return Report{}, err
		}
		r.GPUs = append(r.GPUs, g)
	}
	return r, nil
}

// unsupported: the driver or GPU lacks the queried feature.
func unsupported(ret nvml.Return) bool {
	return ret == nvml.ERROR_NOT_SUPPORTED || ret == nvml.ERROR_FUNCTION_NOT_FOUND
}

// ccState reads nvmlSystemGetConfComputeState and its companions. Drivers
// or GPUs without CC answer "not supported", which is a state, not an error.
func ccState(lib nvml.Interface) (CCState, error) {
	st, ret := lib.SystemGetConfComputeState()
	if unsupported(ret) {
		return CCState{Environment: "unavailable", CPU: "none"}, nil
	}
	if ret != nvml.SUCCESS {
		return CCState{}, fmt.Errorf("gpu: reading confidential-computing state: %w", ret)
	}
	cc := CCState{
		Supported:   true,
		Enabled:     st.CcFeature == nvml.CC_SYSTEM_FEATURE_ENABLED,
		DevTools:    st.DevToolsMode == nvml.CC_SYSTEM_DEVTOOLS_MODE_ON,
		Environment: environment(st.Environment),
		CPU:         "none",
	}
	caps, ret := lib.SystemGetConfComputeCapabilities()
	switch {
	case ret == nvml.SUCCESS:
		cc.CPU = cpuCaps(caps.CpuCaps)
		cc.GPUsCapable = caps.GpusCaps == nvml.CC_SYSTEM_GPUS_CC_CAPABLE
	case !unsupported(ret):
		return CCState{}, fmt.Errorf("gpu: reading confidential-computing capabilities: %w", ret)
	}
	if cc.Enabled {
		ready, ret := lib.SystemGetConfComputeGpusReadyState()
		switch {
		case ret == nvml.SUCCESS:
			cc.AcceptingWork = ready == nvml.CC_ACCEPTING_CLIENT_REQUESTS_TRUE
		case !unsupported(ret):
			return CCState{}, fmt.Errorf("gpu: reading confidential-computing ready state: %w", ret)
		}
	}
	return cc, nil
}

func environment(v uint32) string {
	switch v {
	case nvml.CC_SYSTEM_ENVIRONMENT_PROD:
		return "production"
	case nvml.CC_SYSTEM_ENVIRONMENT_SIM:
		return "simulation"
	}
	return "unavailable"
}

func cpuCaps(v uint32) string {
	switch v {
	case nvml.CC_SYSTEM_CPU_CAPS_NONE:
		return "none"
	case nvml.CC_SYSTEM_CPU_CAPS_AMD_SEV:
		return "amd-sev"
	case nvml.CC_SYSTEM_CPU_CAPS_INTEL_TDX:
		return "intel-tdx"
	case nvml.CC_SYSTEM_CPU_CAPS_AMD_SEV_SNP:
		return "amd-sev-snp"
	case nvml.CC_SYSTEM_CPU_CAPS_AMD_SNP_VTOM:
		return "amd-snp-vtom"
	}
	return "unknown(" + strconv.FormatUint(uint64(v), 10) + ")"
}

func device(lib nvml.Interface, i int, ccEnabled bool) (GPU, error) {
	d, ret := lib.DeviceGetHandleByIndex(i)
	if ret != nvml.SUCCESS {
		return GPU{}, fmt.Errorf("gpu: opening GPU %d: %w", i, ret)
	}
	g := GPU{Index: i}
	if g.Name, ret = d.GetName(); ret != nvml.SUCCESS {
		return GPU{}, fmt.Errorf("gpu: reading GPU %d name: %w", i, ret)
	}
	if g.UUID, ret = d.GetUUID(); ret != nvml.SUCCESS {
		return GPU{}, fmt.Errorf("gpu: reading GPU %d UUID: %w", i, ret)
	}
	mem, ret := d.GetMemoryInfo()
	if ret != nvml.SUCCESS {
		return GPU{}, fmt.Errorf("gpu: reading GPU %d memory: %w", i, ret)
	}
	g.MemoryTotalBytes = mem.Total
	major, minor, ret := d.GetCudaComputeCapability()
	if ret != nvml.SUCCESS {
		return GPU{}, fmt.Errorf("gpu: reading GPU %d compute capability: %w", i, ret)
	}
	g.ComputeCapability = strconv.Itoa(major) + "." + strconv.Itoa(minor)
	if pci, ret := d.GetPciInfo(); ret == nvml.SUCCESS {
		g.PCIBusID = cString(pci.BusId[:])
	}
	if ccEnabled {
		info, ret := d.GetConfComputeMemSizeInfo()
		switch {
		case ret == nvml.SUCCESS:
			g.ProtectedMemoryBytes = info.ProtectedMemSizeKib * 1024
		case !unsupported(ret):
			return GPU{}, fmt.Errorf("gpu: reading GPU %d protected memory: %w", i, ret)
		}
	}
	return g, nil
}

// cString reads a NUL-terminated C char array.
func cString(b []int8) string {
	out := make([]byte, 0, len(b))
	for _, c := range b {
		if c == 0 {
			break
		}
		out = append(out, byte(c))
	}
	return string(out)
}
