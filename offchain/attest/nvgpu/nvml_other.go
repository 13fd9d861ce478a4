//go:build !(linux && cgo)

package nvgpu

import (
	"context"
	"fmt"
)

// Collect needs NVML, which go-nvml reaches through cgo on Linux only.
func Collect(context.Context, [NonceSize]byte) (CCState, []Evidence, error) {
	return CCState{}, nil, fmt.Errorf("%w: this binary was built without cgo on linux, so it cannot load NVML", ErrNoDriver)
}
