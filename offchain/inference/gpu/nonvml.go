//go:build !(linux && cgo)

package gpu

import (
	"context"
	"fmt"
)

// Discover cannot load NVML in this build: go-nvml needs Linux and cgo.
func Discover(ctx context.Context) (Report, error) {
	if err := ctx.Err(); err != nil {
		return Report{}, err
	}
	return Report{}, fmt.Errorf("%w: this binary was built without cgo or for another OS", ErrNoDriver)
}
