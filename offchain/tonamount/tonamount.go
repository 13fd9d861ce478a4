// Package tonamount converts between decimal TON amounts as people write
// them ("1.5") and nanoton, the integer unit the chain uses (1 TON = 10^9).
package tonamount

import (
	"errors"
	"fmt"
	"math/big"
	"strings"
)

// Decimals is the number of decimal places of one TON in nanoton.
const Decimals = 9

// nanoPerTON is one TON in nanoton.
const nanoPerTON = 1_000_000_000

// Max returns the largest amount the chain's Coins (VarUInteger 16)
// holds, 2^120-1 nanoton, as a new value each call.
func Max() *big.Int { return new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 120), big.NewInt(1)) }

// Fits reports whether nano is an amount a Coins field holds (0 to Max);
// nil does not fit.
func Fits(nano *big.Int) bool { return nano != nil && nano.Sign() >= 0 && nano.Cmp(Max()) <= 0 }

// Errors wrapped by Parse, for callers that want to tell them apart.
var (
	ErrNegative   = errors.New("amount is negative")
	ErrTooPrecise = errors.New("amount has more than 9 decimals")
	ErrNotDecimal = errors.New("amount is not a decimal number")
	ErrOutOfRange = errors.New("amount is too large")
)

// Parse reads a non-negative decimal TON amount with at most 9 decimals
// ("2", "0.05", "1.000000001") and returns it in nanoton. Signs, exponents,
// digit separators and a dot without digits on both sides are refused so
// that a typo cannot silently change the amount sent.
func Parse(s string) (*big.Int, error) {
	t := strings.TrimSpace(s)
	if strings.HasPrefix(t, "-") {
		return nil, fmt.Errorf("%q: %w", s, ErrNegative)
	}
	whole, frac, hasDot := strings.Cut(t, ".")
	if whole == "" || !allDigits(whole) || hasDot && (frac == "" || !allDigits(frac)) {
		return nil, fmt.Errorf("%q: %w (want e.g. 1.5)", s, ErrNotDecimal)
	}
	if len(frac) > Decimals {
		return nil, fmt.Errorf("%q: %w", s, ErrTooPrecise)
	}
	digits := whole + frac + strings.Repeat("0", Decimals-len(frac))
	v, ok := new(big.Int).SetString(digits, 10)
	if !ok {
		return nil, fmt.Errorf("%q: %w", s, ErrNotDecimal)
	}
	if !Fits(v) {
		return nil, fmt.Errorf("%q: %w", s, ErrOutOfRange)
	}
	return v, nil
}

func allDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// Format renders nanoton as TON with exactly 9 decimals ("1.500000000"),
// so amounts line up and none is ever rounded.
func Format(nano *big.Int) string {
	if nano == nil {
		return "0.000000000"
	}
	q, r := new(big.Int).QuoRem(new(big.Int).Abs(nano), big.NewInt(nanoPerTON), new(big.Int))
	sign := ""
	if nano.Sign() < 0 {
		sign = "-"
	}
	return fmt.Sprintf("%s%s.%09s", sign, q.String(), r.String())
}
