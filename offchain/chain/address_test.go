package chain

import "testing"

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
