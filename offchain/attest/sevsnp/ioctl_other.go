//go:build !linux

package sevsnp

import "errors"

// ioctlReport: /dev/sev-guest exists only in Linux guests.
func ioctlReport([64]byte) (report, table []byte, err error) {
	return nil, nil, errors.New("/dev/sev-guest needs Linux")
}
