package chain

import (
	"strings"
	"testing"

	"github.com/xssnick/tonutils-go/address"
)

// Wallets print user-friendly addresses in standard base64 ('+', '/') as
// well as url-safe ('-', '_'): both must parse to the same address.
func TestParseAddressStandardBase64(t *testing.T) {
	for i := 0; i < 256; i++ {
		h := make([]byte, 32)
		h[0], h[31] = byte(i), byte(255-i)
		a := address.NewAddress(0, 0, h)
		urlSafe := a.String()
		if !strings.ContainsAny(urlSafe, "-_") {
			continue
		}
		std := strings.NewReplacer("-", "+", "_", "/").Replace(urlSafe)
		got, err := ParseAddress(std)
		if err != nil || !got.Equals(a) {
			t.Fatalf("ParseAddress(%q) = %v, %v; want %s", std, got, err, a.StringRaw())
		}
		return
	}
	t.Fatal("found no address whose friendly form uses the url-safe characters")
}

func TestParseAddress(t *testing.T) {
	const raw = "0:83dfd552e63729b472fcbcc8c45ebcc6691702558b68ec7527e1ba403a0f31a8"
	tests := []struct {
		in      string
		wantRaw string
		wantErr bool
	}{
		{raw, raw, false},
		{"EQCD39VS5jcptHL8vMjEXrzGaRcCVYto7HUn4bpAOg8xqB2N", raw, false},
		{"  " + raw + "\n", raw, false},
		{"EQCD39VS5jcptHL8vMjEXrzGaRcCVYto7HUn4bpAOg8xqB2N", raw, false},
		{"-1:" + raw[2:], "-1:" + raw[2:], false},
		{"", "", true},
		{"0:zz", "", true},
		{"EQCD39VS5jcptHL8vMjEXrzGaRcCVYto7HUn4bpAOg8xqB2M", "", true}, // bad checksum
		{"hello", "", true},
	}
	for _, tc := range tests {
		a, err := ParseAddress(tc.in)
		if tc.wantErr {
			if err == nil {
				t.Errorf("ParseAddress(%q) = %s, want error", tc.in, a)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseAddress(%q): %v", tc.in, err)
			continue
		}
		if got := a.StringRaw(); got != tc.wantRaw {
			t.Errorf("ParseAddress(%q) = %s, want %s", tc.in, got, tc.wantRaw)
		}
	}
}

// An overlong address is refused without echoing it whole.
func TestParseAddressOverlong(t *testing.T) {
	for _, n := range []int{68, 60_000} {
		_, err := ParseAddress(strings.Repeat("a", n))
		if err == nil {
			t.Fatalf("%d characters accepted", n)
		}
		if len(err.Error()) > 200 || !strings.Contains(err.Error(), "at most 67") {
			t.Errorf("%d characters: %d-byte error %.120q", n, len(err.Error()), err)
		}
	}
	raw := "-1:" + strings.Repeat("ab", 32)
	if _, err := ParseAddress(raw); err != nil {
		t.Fatalf("the longest real form %q: %v", raw, err)
	}
}
