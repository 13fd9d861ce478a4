// Package gpu reports the NVIDIA GPUs a worker would run inference on,
// through NVML (go-nvml): names, UUIDs, memory, driver and CUDA versions,
// and the confidential-computing state. The report is what the worker's
// startup log and /healthz show; attestation proper (GPU evidence) is
// offchain/attest's business.
package gpu

import (
	"errors"
	"log/slog"
	"strconv"
)

// ErrNoDriver means NVML could not be loaded: no NVIDIA driver (user-space
// part) is installed, or this build cannot load it.
var ErrNoDriver = errors.New("no NVIDIA driver found (libnvidia-ml.so not loadable)")

// ErrDriverNotLoaded means NVML loaded but the kernel driver is not
// running, e.g. inside a VM without the GPU passed through.
var ErrDriverNotLoaded = errors.New("NVIDIA driver not loaded (libnvidia-ml.so loads, but the kernel module is not running)")

// Report describes the machine's NVIDIA GPUs.
type Report struct {
	DriverVersion string `json:"driver_version"`
	// CUDAVersion is the newest CUDA version the driver supports, "12.4".
	CUDAVersion string  `json:"cuda_version"`
	NVMLVersion string  `json:"nvml_version"`
	CC          CCState `json:"confidential_computing"`
	GPUs        []GPU   `json:"gpus"`
}

// CCState is the system-wide confidential-computing (CC) state. On
// Hopper and later, CC is a mode of the whole system rather than of one
// GPU, which is why it is reported once.
type CCState struct {
	// Supported: the driver answered the CC queries. False on drivers or
	// GPUs without CC; the other fields are then zero.
	Supported bool `json:"supported"`
	// Enabled: CC mode is on (GPU memory and traffic are protected).
	Enabled bool `json:"enabled"`
	// DevTools: CC devtools mode, which lets debuggers read GPU memory;
	// such a GPU must not be treated as confidential.
	DevTools bool `json:"devtools"`
	// Environment: "production", "simulation" or "unavailable".
	Environment string `json:"environment"`
	// CPU: the CPU TEE the driver sees: "none", "amd-sev", "intel-tdx",
	// "amd-sev-snp", "amd-snp-vtom", or "unknown(N)".
	CPU string `json:"cpu"`
	// GPUsCapable: the GPUs support CC.
	GPUsCapable bool `json:"gpus_capable"`
	// AcceptingWork: the CC "GPUs ready" state, set once the GPUs have been
	// attested; work submitted before that is refused by the driver.
	AcceptingWork bool `json:"accepting_work"`
}

// Confidential reports whether the GPUs run in production CC mode with
// devtools off: the only state in which GPU memory is closed to the host.
func (c CCState) Confidential() bool {
	return c.Enabled && !c.DevTools && c.Environment == "production"
}

// GPU is one device.
type GPU struct {
	Index int    `json:"index"`
	Name  string `json:"name"`
	UUID  string `json:"uuid"`
	// PCIBusID is empty when the driver does not report it.
	PCIBusID          string `json:"pci_bus_id,omitempty"`
	MemoryTotalBytes  uint64 `json:"memory_total_bytes"`
	ComputeCapability string `json:"compute_capability"` // "9.0" for Hopper
	// ProtectedMemoryBytes is the CC-protected memory; 0 when CC is off.
	ProtectedMemoryBytes uint64 `json:"protected_memory_bytes,omitempty"`
}

// LogValue implements slog.LogValuer: the few fields a startup log needs.
func (r Report) LogValue() slog.Value {
	attrs := []slog.Attr{
		slog.String("driver", r.DriverVersion),
		slog.String("cuda", r.CUDAVersion),
		slog.Bool("cc_enabled", r.CC.Enabled),
		slog.Bool("cc_devtools", r.CC.DevTools),
		slog.Bool("cc_confidential", r.CC.Confidential()),
		slog.Int("gpus", len(r.GPUs)),
	}
	for _, g := range r.GPUs {
		attrs = append(attrs, slog.Group("gpu"+strconv.Itoa(g.Index),
			slog.String("name", g.Name), slog.String("uuid", g.UUID), slog.Uint64("memory_bytes", g.MemoryTotalBytes)))
	}
	return slog.GroupValue(attrs...)
}

// cudaVersion renders NVML's integer CUDA version (1000·major + 10·minor).
func cudaVersion(v int) string {
	return strconv.Itoa(v/1000) + "." + strconv.Itoa(v%1000/10)
}
