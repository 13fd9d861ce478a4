package chain

import (
	"fmt"
	"strings"

	"github.com/xssnick/tonutils-go/address"
)

// maxAddressLen bounds the text of an address: the raw form of a
// masterchain address is the longest.
const maxAddressLen = 67

// ParseAddress reads an address in either form users meet: raw
// ("0:4f3a…") or user-friendly base64 ("EQ…", "UQ…", url-safe or not).
func ParseAddress(s string) (*address.Address, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, fmt.Errorf("empty address")
	}
	// The longest form, raw "-1:" and 64 hex digits, has 67 characters;
	// longer input is refused before a library echoes it (issue 24: a
	// 60,000-character job path came back twice in a 120 KB error).
	if len(s) > maxAddressLen {
		return nil, fmt.Errorf("address of %d characters (%.16q…): an address has at most %d", len(s), s, maxAddressLen)
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
