package tonamount

import (
	"errors"
	"math/big"
	"testing"
)

func TestParse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    string
		wantErr error
	}{
		{"0", "0", nil},
		{"1", "1000000000", nil},
		{"1.5", "1500000000", nil},
		{"0.000000001", "1", nil},
		{"123.456789012", "123456789012", nil},
		{" 2.25 ", "2250000000", nil},
		{"007", "7000000000", nil},
		{"1329227995784915872903807060.280344575", "1329227995784915872903807060280344575", nil}, // 2^120-1
		{"1329227995784915872903807060.280344576", "", ErrOutOfRange},
		{"-1", "", ErrNegative},
		{"-0.5", "", ErrNegative},
		{"0.0000000001", "", ErrTooPrecise},
		{"1.1234567890", "", ErrTooPrecise},
		{"", "", ErrNotDecimal},
		{"abc", "", ErrNotDecimal},
		{"1.2.3", "", ErrNotDecimal},
		{"1,5", "", ErrNotDecimal},
		{"1e9", "", ErrNotDecimal},
		{"+1", "", ErrNotDecimal},
		{".5", "", ErrNotDecimal},
		{"5.", "", ErrNotDecimal},
		{"1_000", "", ErrNotDecimal},
		{"١", "", ErrNotDecimal},
	}
	for _, tt := range tests {
		got, err := Parse(tt.in)
		if tt.wantErr != nil {
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("Parse(%q) error = %v, want %v", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("Parse(%q) error = %v", tt.in, err)
			continue
		}
		if got.String() != tt.want {
			t.Errorf("Parse(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestFormat(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   *big.Int
		want string
	}{
		{nil, "0.000000000"},
		{big.NewInt(0), "0.000000000"},
		{big.NewInt(1), "0.000000001"},
		{big.NewInt(1_500_000_000), "1.500000000"},
		{big.NewInt(-2_000_000_001), "-2.000000001"},
		{new(big.Int).Mul(big.NewInt(1e18), big.NewInt(1e9)), "1000000000000000000.000000000"},
	}
	for _, tt := range tests {
		if got := Format(tt.in); got != tt.want {
			t.Errorf("Format(%v) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"0.000000000", "1.000000001", "42.123456789"} {
		v, err := Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := Format(v); got != s {
			t.Errorf("Format(Parse(%q)) = %q", s, got)
		}
	}
}

func TestFits(t *testing.T) {
	largest := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 120), big.NewInt(1))
	for _, tc := range []struct {
		nano *big.Int
		want bool
	}{
		{nil, false},
		{big.NewInt(-1), false},
		{big.NewInt(0), true},
		{big.NewInt(1_500_000_000), true},
		{largest, true},
		{new(big.Int).Add(largest, big.NewInt(1)), false},
	} {
		if got := Fits(tc.nano); got != tc.want {
			t.Errorf("Fits(%v) = %v, want %v", tc.nano, got, tc.want)
		}
	}
	// Max hands out a new value: changing one leaves the next intact.
	Max().SetInt64(0)
	if Max().Cmp(largest) != 0 {
		t.Errorf("Max() = %s after a caller changed an earlier result", Max())
	}
}
