package boc

import (
	"bytes"
	"encoding/base64"
	"errors"
	"math/big"
	"strings"
	"testing"

	"github.com/xssnick/tonutils-go/tvm/cell"

	"github.com/cocoon-network/cocoon/contracts"
	"github.com/cocoon-network/cocoon/offchain/boc/boctest"
)

// small is a valid one-cell BOC from tonutils-go: 1 byte per reference,
// 1 byte per offset, with a checksum.
var (
	small0 = cell.BeginCell().MustStoreUInt(5, 8).EndCell()
	small  = small0.ToBOC()
)

func TestParseRejectsMalformed(t *testing.T) {
	for _, tc := range boctest.Cases() {
		t.Run(tc.Name, func(t *testing.T) {
			_, err := Parse(tc.BOC)
			if err == nil {
				t.Fatal("accepted")
			}
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("error %v does not wrap ErrMalformed", err)
			}
			if !strings.Contains(err.Error(), tc.Want) {
				t.Errorf("error %q does not say %q", err, tc.Want)
			}
		})
	}
}

func TestParseAcceptsValid(t *testing.T) {
	deep := cell.BeginCell().EndCell()
	for i := 0; i < MaxDepth; i++ {
		deep = cell.BeginCell().MustStoreRef(deep).EndCell()
	}
	tree := cell.BeginCell().MustStoreUInt(0xabc, 12).
		MustStoreRef(cell.BeginCell().MustStoreSlice([]byte("hello"), 40).EndCell()).
		MustStoreRef(contracts.LibraryRef(cell.BeginCell().MustStoreUInt(1, 1).EndCell())).
		EndCell()
	proof, err := tree.CreateProof(cell.CreateProofSkeleton())
	if err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]*cell.Cell{
		"empty cell":          cell.BeginCell().EndCell(),
		"tree with a library": tree,
		"Merkle proof":        proof,
		"deepest chain":       deep,
	} {
		for form, raw := range map[string][]byte{
			"plain":           c.ToBOCWithFlags(false),
			"checksum":        c.ToBOCWithFlags(true),
			"index":           c.ToBOCWithFlags(false, true),
			"index and cache": c.ToBOCWithFlags(true, true, true),
			"default":         c.ToBOC(),
		} {
			t.Run(name+"/"+form, func(t *testing.T) {
				got, err := Parse(raw)
				if err != nil {
					t.Fatalf("Parse: %v", err)
				}
				if !bytes.Equal(got.Hash(), c.Hash()) {
					t.Errorf("hash %x, want %x", got.Hash(), c.Hash())
				}
			})
		}
	}
	if _, err := Parse(boctest.Chain(MaxDepth)); err != nil {
		t.Errorf("chain %d deep, 2-byte references: %v", MaxDepth, err)
	}
	// A level-0 cell stored with its hash and depth (ignored, recomputed).
	hashed := boctest.Serialize([]boctest.Cell{{D1: 0x10, D2: 2, Data: append(make([]byte, 32+2), 5)}})
	if c, err := Parse(hashed); err != nil || !bytes.Equal(c.Hash(), small0.Hash()) {
		t.Errorf("cell stored with hashes: %v", err)
	}
	if _, err := ParseBase64(base64.RawURLEncoding.EncodeToString(small)); err != nil {
		t.Errorf("unpadded URL-safe base64: %v", err)
	}
}

func TestParseBase64RejectsNonBase64(t *testing.T) {
	_, err := ParseBase64("not base64!")
	if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "not base64") {
		t.Errorf("got %v", err)
	}
}

func TestDoRecoversPanics(t *testing.T) {
	err := Do("storing", func() error {
		cell.BeginCell().MustStoreUInt(1, 1024)
		return nil
	})
	if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "storing") {
		t.Errorf("got %v", err)
	}
	plain := errors.New("plain")
	if err := Do("x", func() error { return plain }); !errors.Is(err, plain) || !errors.Is(err, ErrMalformed) {
		t.Errorf("got %v", err)
	}
	if err := Do("x", func() error { return nil }); err != nil {
		t.Errorf("got %v", err)
	}
}

func TestCheckStack(t *testing.T) {
	pow := func(n uint) *big.Int { return new(big.Int).Lsh(big.NewInt(1), n) }
	neg := func(x *big.Int) *big.Int { return new(big.Int).Neg(x) }
	minus1 := func(x *big.Int) *big.Int { return new(big.Int).Sub(x, big.NewInt(1)) }
	long := make([]any, 256)
	nested := []any{}
	for i := 0; i < 17; i++ {
		nested = []any{nested}
	}
	for _, tc := range []struct {
		name  string
		stack []any
		want  string // "" when valid
	}{
		{"largest integer", []any{minus1(pow(256))}, ""},
		{"smallest integer", []any{neg(minus1(pow(256)))}, ""},
		{"-2^256", []any{neg(pow(256))}, "does not fit"},
		{"2^256", []any{pow(256)}, "does not fit"},
		{"280-bit integer", []any{pow(279)}, "does not fit"},
		{"-2^256-1", []any{minus1(neg(pow(256)))}, "does not fit"},
		{"280-bit integer in a tuple", []any{[]any{big.NewInt(1), pow(279)}}, "stack value 0: stack value 1"},
		{"cells and null", []any{cell.BeginCell().EndCell(), nil, cell.BeginCell().ToSlice(), cell.BeginCell()}, ""},
		{"nil big.Int", []any{(*big.Int)(nil)}, "missing integer"},
		{"nil cell", []any{(*cell.Cell)(nil)}, "nil cell"},
		{"Go int", []any{5}, "no TVM encoding"},
		{"tuple of 256", []any{long}, "256 entries"},
		{"tuples nested 17 deep", nested, "nested over 16"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := StackCell(tc.stack)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("rejected: %v", err)
				}
				return
			}
			if err == nil || !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an ErrMalformed saying %q", err, tc.want)
			}
		})
	}
}

// FuzzParse checks that whatever Check lets through, tonutils-go parses
// without panicking, and that what it parses serializes back to the same
// cell. Run longer with: go test -run '^$' -fuzz FuzzParse ./offchain/boc
func FuzzParse(f *testing.F) {
	for _, tc := range boctest.Cases() {
		f.Add(tc.BOC)
	}
	f.Add(small)
	f.Add(boctest.Chain(3))
	f.Add(cell.BeginCell().MustStoreRef(contracts.LibraryRef(cell.BeginCell().EndCell())).EndCell().ToBOCWithFlags(true, true, true))
	f.Fuzz(func(t *testing.T, raw []byte) {
		if Check(raw) != nil {
			if _, err := Parse(raw); err == nil {
				t.Fatal("Parse accepted what Check refused")
			}
			return
		}
		c, err := cell.FromBOC(raw) // unguarded: a panic here is a gap in Check
		if err != nil {
			return
		}
		again, err := Parse(c.ToBOC())
		if err != nil {
			t.Fatalf("re-serialized cell refused: %v", err)
		}
		if !bytes.Equal(again.Hash(), c.Hash()) {
			t.Fatal("hash changed through a round trip")
		}
	})
}
