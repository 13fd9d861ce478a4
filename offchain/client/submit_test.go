package client

import (
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/cocoon-network/cocoon/bindings"
	"github.com/cocoon-network/cocoon/offchain/inference"
)

func TestEstimateInputTokens(t *testing.T) {
	tests := []struct {
		name string
		msgs []inference.Message
		want uint32
	}{
		{"one short message", []inference.Message{{Role: "user", Content: "What is TON?"}}, 256 + 4 + 12 + 16},
		{"bytes, not characters", []inference.Message{{Role: "user", Content: "日本語"}}, 256 + 4 + 9 + 16},
		{"per message", []inference.Message{{Role: "system", Content: ""}, {Role: "user", Content: "a"}}, 256 + 6 + 16 + 4 + 1 + 16},
		{"nothing", nil, 256},
	}
	for _, tc := range tests {
		if got := EstimateInputTokens(tc.msgs); got != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, got, tc.want)
		}
		// An upper bound for byte-level tokenisers: never fewer than the
		// reference engine's whitespace-separated words.
		words := 0
		for _, m := range tc.msgs {
			words += len(strings.Fields(m.Content))
		}
		if int(EstimateInputTokens(tc.msgs)) < words {
			t.Errorf("%s: estimate below the word count", tc.name)
		}
	}
	huge := []inference.Message{{Role: "user", Content: strings.Repeat("x", 1<<20)}}
	if got := EstimateInputTokens(append(huge, huge...)); got != 2*(1<<20)+2*(4+16)+256 {
		t.Errorf("2 MiB: %d", got)
	}
}

func TestJobLifetime(t *testing.T) {
	p := &bindings.RootParams{MinJobDeadline: 60, MaxJobDeadline: 3600}
	tests := []struct {
		name    string
		in      time.Duration
		p       *bindings.RootParams
		want    time.Duration
		wantErr bool
	}{
		{"default", 0, p, DefaultDeadline, false},
		{"default raised to Root's minimum plus slack", 0, &bindings.RootParams{MinJobDeadline: 900, MaxJobDeadline: 3600}, 16 * time.Minute, false},
		{"default capped at Root's maximum", 0, &bindings.RootParams{MinJobDeadline: 10, MaxJobDeadline: 300}, 5 * time.Minute, false},
		{"asked, within bounds", 30 * time.Minute, p, 30 * time.Minute, false},
		{"sub-second part dropped", 2*time.Minute + 500*time.Millisecond, p, 2 * time.Minute, false},
		{"too short for the offer to arrive in time", 90 * time.Second, p, 0, true},
		{"too long", 2 * time.Hour, p, 0, true},
	}
	for _, tc := range tests {
		got, err := jobLifetime(tc.in, tc.p)
		if got != tc.want || (err != nil) != tc.wantErr {
			t.Errorf("%s: %s, %v; want %s (error %v)", tc.name, got, err, tc.want, tc.wantErr)
		}
	}
}

func TestEscrow(t *testing.T) {
	terms := bindings.JobTerms{PriceIn: big.NewInt(1e9), PriceOut: big.NewInt(3e9), MaxIn: 300, MaxOut: 100}
	// 300 × 1e9 / 1e6 + 100 × 3e9 / 1e6 = 300000 + 300000
	want := int64(600_000 + bindings.JobGasReserve + EscrowMargin)
	if got := Escrow(terms); got.Int64() != want {
		t.Fatalf("escrow %s, want %d", got, want)
	}
	if Escrow(terms).Cmp(bindings.MinEscrow(terms)) <= 0 {
		t.Fatal("escrow not above the Job's minimum")
	}
}

func TestSubmitRequestMessages(t *testing.T) {
	tests := []struct {
		name    string
		req     SubmitRequest
		want    int
		wantErr bool
	}{
		{"prompt", SubmitRequest{Prompt: "hi"}, 1, false},
		{"messages", SubmitRequest{Messages: []inference.Message{{Role: "system", Content: "x"}, {Role: "user", Content: "y"}}}, 2, false},
		{"both", SubmitRequest{Prompt: "hi", Messages: []inference.Message{{Role: "user", Content: "y"}}}, 0, true},
		{"neither", SubmitRequest{}, 0, true},
	}
	for _, tc := range tests {
		got, err := tc.req.messages()
		if len(got) != tc.want || (err != nil) != tc.wantErr {
			t.Errorf("%s: %v, %v", tc.name, got, err)
		}
	}
}
