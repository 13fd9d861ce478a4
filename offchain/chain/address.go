package chain

import (
	"fmt"
	"strings"

	"github.com/xssnick/tonutils-go/address"
)

// ParseAddress reads an address in either form users meet: raw
// ("0:4f3a…") or user-friendly base64 ("EQ…", "UQ…", url-safe or not).
func ParseAddress(s string) (*address.Address, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, fmt.Errorf("empty address")
	}
	if strings.Contains(s, ":") {
		a, err := address.ParseRawAddr(s)
		if err != nil {
			return nil, fmt.Errorf("address %q: %w", s, err)
		}
		return a, nil
	}
	// tonutils decodes only the url-safe alphabet; wallets print both.
	a, err := address.ParseAddr(strings.NewReplacer("+", "-", "/", "_").Replace(s))
	if err != nil {
		return nil, fmt.Errorf("address %q: %w", s, err)
	}
	return a, nil
}
