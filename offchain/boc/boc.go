// Package boc is the one checked way to read untrusted bags of cells (BOCs)
// and get-method stack values.
//
// tonutils-go's BOC parser and cell builder panic on some malformed input
// (size fields out of range, cells stored with hashes, root indexes past the
// end, cells nested too deep, integers over 257 bits). Here a BOC's structure
// is checked first against TON's serialized_boc layout, tonutils-go parses
// only what passed, and any panic that is still left is recovered. Every
// failure is an error that wraps ErrMalformed and names the problem.
package boc

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/xssnick/tonutils-go/tvm/cell"
)

// ErrMalformed is wrapped by every error for input that is not a valid BOC
// or stack value; servers answer it with 400.
var ErrMalformed = errors.New("malformed BOC")

// MaxDepth is the deepest cell tree accepted: TON allows 1024, tonutils-go
// cannot hash a cell deeper than 1023.
const MaxDepth = 1023

// MaxBytes bounds a BOC; callers that read from a network bound their bodies
// further.
const MaxBytes = 16 << 20

// Parse reads a BOC holding exactly one root cell.
func Parse(raw []byte) (*cell.Cell, error) {
	if err := Check(raw); err != nil {
		return nil, err
	}
	var c *cell.Cell
	err := Do("parsing BOC", func() error {
		var err error
		c, err = cell.FromBOC(raw)
		return err
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// ParseBase64 reads a base64 BOC (standard or URL alphabet, padded or not)
// holding exactly one root cell.
func ParseBase64(s string) (*cell.Cell, error) {
	raw, err := DecodeBase64(s)
	if err != nil {
		return nil, err
	}
	return Parse(raw)
}

// DecodeBase64 accepts the standard and URL-safe alphabets, padded or not:
// clients and servers of the toncenter API vary.
func DecodeBase64(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b, nil
		}
	}
	return nil, fmt.Errorf("%w: not base64", ErrMalformed)
}

// Do runs f, a tonutils-go operation on untrusted cells or values, and
// turns a panic in it into an error wrapping ErrMalformed. what says what
// was being done, for the message.
func Do(what string, f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %s: %v", ErrMalformed, what, r)
		}
	}()
	if err := f(); err != nil {
		if errors.Is(err, ErrMalformed) {
			return err
		}
		return fmt.Errorf("%w: %s: %w", ErrMalformed, what, err)
	}
	return nil
}

func malformed(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, a...))
}
