package bindings

import (
	"encoding/hex"
	"math/big"
	"testing"
)

func TestCharge(t *testing.T) {
	cases := []struct {
		name              string
		priceIn, priceOut int64
		in, out           uint32
		want              int64
	}{
		{"zero tokens", 1000, 2000, 0, 0, 0},
		{"exact millions", 1_000_000, 3_000_000, 2_000_000, 1_000_000, 2_000_000 + 3_000_000},
		{"rounds each side up", 1, 1, 1, 1, 2},
		{"rounds up once per side", 999_999, 1, 1, 999_999, 1 + 1},
		{"typical", 100_000, 300_000, 1234, 567, 124 + 171}, // 123.4 → 124, 170.1 → 171
		{"free model", 0, 0, 4_000_000_000, 4_000_000_000, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := Charge(big.NewInt(tc.priceIn), big.NewInt(tc.priceOut), tc.in, tc.out)
			if got.Int64() != tc.want {
				t.Errorf("Charge = %s, want %d", got, tc.want)
			}
		})
	}
	// The largest terms stay exact (no float, no overflow).
	huge := new(big.Int).Lsh(big.NewInt(1), 119)
	got := Charge(huge, huge, 1<<32-1, 1<<32-1)
	want := new(big.Int).Mul(huge, big.NewInt(1<<32-1))
	want.Add(want, big.NewInt(OneMillion-1)).Quo(want, big.NewInt(OneMillion)).Mul(want, big.NewInt(2))
	if got.Cmp(want) != 0 {
		t.Errorf("huge charge %s, want %s", got, want)
	}
}

func TestMaxCostAndFee(t *testing.T) {
	terms := JobTerms{PriceIn: big.NewInt(100_000), PriceOut: big.NewInt(300_000), MaxIn: 4096, MaxOut: 1024}
	// ⌈409.6⌉ + ⌈307.2⌉
	if got := MaxCost(terms); got.Int64() != 410+308 {
		t.Errorf("MaxCost = %s, want 718", got)
	}
	if got := MinEscrow(terms); got.Int64() != 718+JobGasReserve {
		t.Errorf("MinEscrow = %s", got)
	}
	cases := []struct {
		charge int64
		bps    uint16
		want   int64
	}{
		{10_000, 250, 250}, {9_999, 250, 249}, {1, 9999, 0}, {123, 10000, 123}, {0, 500, 0}, {5, 0, 0},
	}
	for _, tc := range cases {
		if got := Fee(big.NewInt(tc.charge), tc.bps); got.Int64() != tc.want {
			t.Errorf("Fee(%d, %d) = %s, want %d", tc.charge, tc.bps, got, tc.want)
		}
	}
	if got := SlashAmount(big.NewInt(20e9), 1000); got.Int64() != 2e9 {
		t.Errorf("SlashAmount = %s", got)
	}
}

func TestTEENames(t *testing.T) {
	cases := []struct {
		name string
		tee  TEE
	}{{"tdx", TEETDX}, {"sevsnp", TEESEVSNP}, {"nvidia_cc", TEENvidiaCC}, {"dev", TEEDev}, {" TDX ", TEETDX}}
	for _, tc := range cases {
		got, err := ParseTEE(tc.name)
		if err != nil || got != tc.tee {
			t.Errorf("ParseTEE(%q) = %v, %v; want %v", tc.name, got, err, tc.tee)
		}
		if got.String() == "" || !got.Valid() {
			t.Errorf("%v: empty name or invalid", got)
		}
	}
	for n, tee := range map[uint8]TEE{1: TEETDX, 2: TEESEVSNP, 3: TEENvidiaCC, 4: TEEDev} {
		if uint8(tee) != n {
			t.Errorf("%v = %d, want %d (types.tolk)", tee, uint8(tee), n)
		}
	}
	if _, err := ParseTEE("sgx"); err == nil {
		t.Error("sgx parsed")
	}
	if TEE(0).Valid() || TEE(5).Valid() {
		t.Error("0 or 5 valid")
	}
	if s := TEE(9).String(); s != "tee(9)" {
		t.Errorf("TEE(9) = %q", s)
	}
}

func TestModelID(t *testing.T) {
	// sha256("") — the id is the plain digest of the name's bytes.
	id := ModelID("")
	if got := hex.EncodeToString(id[:]); got != "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" {
		t.Errorf("ModelID(\"\") = %s", got)
	}
	if ModelID("a") == ModelID("b") {
		t.Error("two names, one id")
	}
}

// TestJobPaidPay: the worker's share of a JobPaid as the Worker computes it.
func TestJobPaidPay(t *testing.T) {
	for _, c := range []struct {
		name       string
		value, fee int64
		want       int64
	}{
		{"charge less fee", NotifyGas + 1000, 25, 975},
		{"no fee", NotifyGas + 1000, 0, 1000},
		{"fee is the whole charge", NotifyGas + 1000, 1000, 0},
		{"fee above the charge", NotifyGas + 1000, 5000, 0},
		{"less than the notify gas", NotifyGas - 1, 0, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := JobPaid{Fee: big.NewInt(c.fee)}.Pay(big.NewInt(c.value))
			if got.Int64() != c.want {
				t.Errorf("Pay(%d) with fee %d = %s, want %d", c.value, c.fee, got, c.want)
			}
		})
	}
}
