package boc

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"math/big"
	"strings"
	"testing"

	"github.com/xssnick/tonutils-go/tvm/cell"

	"github.com/cocoon-network/cocoon/offchain/chain"
)

// rawCell for tests: descriptors, data and references as serialized.
type tcell struct {
	d1, d2 byte
	data   []byte
	refs   []int
}

// serialize writes cells as a one-root BOC with 2-byte references and
// 4-byte offsets, root 0, without index or checksum.
func serialize(cells []tcell) []byte {
	var body []byte
	for _, c := range cells {
		body = append(body, c.d1, c.d2)
		body = append(body, c.data...)
		for _, r := range c.refs {
			body = binary.BigEndian.AppendUint16(body, uint16(r))
		}
	}
	out := append([]byte{}, bocMagic...)
	out = append(out, 2, 4)
	out = binary.BigEndian.AppendUint16(out, uint16(len(cells)))
	out = binary.BigEndian.AppendUint16(out, 1)
	out = binary.BigEndian.AppendUint16(out, 0)
	out = binary.BigEndian.AppendUint32(out, uint32(len(body)))
	out = binary.BigEndian.AppendUint16(out, 0)
	return append(out, body...)
}

// chainBOC is a chain of n+1 cells, each referring to the next: depth n.
func chainBOC(n int) []byte {
	cells := make([]tcell, n+1)
	for i := 0; i < n; i++ {
		cells[i] = tcell{d1: 1, refs: []int{i + 1}}
	}
	return serialize(cells)
}

func b64(s string) []byte {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

func withCRC(b []byte) []byte {
	b = append([]byte{}, b...)
	b[4] |= 0x40
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli)))
}

// mutate returns a copy of b with byte i set to v.
func mutate(b []byte, i int, v byte) []byte {
	b = append([]byte{}, b...)
	b[i] = v
	return b
}

// small is a valid one-cell BOC from tonutils-go: 1 byte per reference,
// 1 byte per offset, with a checksum.
var small = cell.BeginCell().MustStoreUInt(5, 8).EndCell().ToBOC()

// issueCases are the inputs that crashed the devnet (issue 12), and their
// neighbours.
func issueCases() map[string]struct {
	raw  []byte
	want string
} {
	plain := cell.BeginCell().MustStoreUInt(5, 8).MustStoreRef(cell.BeginCell().EndCell()).EndCell().ToBOCWithFlags(false)
	return map[string]struct {
		raw  []byte
		want string
	}{
		"odd exotic cell":               {b64("te6ccgEBAQEAAwAIAgE="), "pruned branch cell 0 is malformed"},
		"slice bounds (flags 09)":       {b64("te6ccgEJAQEAAAAAAAAAAAAAAAAAAAAAAAAAAAA="), "offset size field is 9"},
		"size field 0":                  {mutate(plain, 4, 0), "reference size field is 0"},
		"size field 7":                  {mutate(plain, 4, 7), "reference size field is 7"},
		"size byte 9":                   {mutate(plain, 4, 9), "reserved header flags"},
		"size byte 255":                 {mutate(plain, 4, 255), "reserved header flags"},
		"offset field 0":                {mutate(plain, 5, 0), "offset size field is 0"},
		"offset field 9":                {mutate(plain, 5, 9), "offset size field is 9"},
		"offset field 255":              {mutate(plain, 5, 255), "offset size field is 255"},
		"with-hashes flag":              {mutate(plain, 11, plain[11]|0x10), "truncated"},
		"root index out of range":       {mutate(plain, 10, 7), "root index 7 out of range"},
		"two roots":                     {mutate(plain, 7, 2), "2 roots"},
		"absent cells":                  {mutate(plain, 8, 1), "absent cells"},
		"cells announced over data":     {mutate(plain, 6, 200), "cannot fit"},
		"data size over length":         {mutate(plain, 9, 250), "announced"},
		"reference backwards":           {serialize([]tcell{{d1: 1, refs: []int{0}}}), "must be a later cell"},
		"reference past the end":        {serialize([]tcell{{d1: 1, refs: []int{5}}, {}}), "must be a later cell"},
		"five references":               {serialize([]tcell{{d1: 5}}), "5 references"},
		"absent cell":                   {serialize([]tcell{{d1: 7}}), "absent"},
		"no end marker":                 {serialize([]tcell{{d2: 1, data: []byte{0}}}), "no end marker"},
		"only an end marker":            {serialize([]tcell{{d2: 1, data: []byte{0x80}}}), "not canonical"},
		"unknown exotic type":           {serialize([]tcell{{d1: 8, d2: 2, data: []byte{9}}}), "unknown type 9"},
		"exotic without type":           {serialize([]tcell{{d1: 8}}), "no type byte"},
		"level mask on ordinary cell":   {serialize([]tcell{{d1: 0x20}}), "level mask"},
		"library with references":       {serialize([]tcell{{d1: 9, d2: 66, data: append([]byte{2}, make([]byte, 32)...), refs: []int{1}}, {}}), "library reference cell 0"},
		"chain 1024 deep":               {chainBOC(1024), "nested 1024 deep"},
		"chain 1100 deep":               {chainBOC(1100), "nested 1024 deep"},
		"trailing bytes":                {append(append([]byte{}, plain...), 0), "after the end"},
		"bad checksum":                  {mutate(withCRC(plain), len(plain)+1, 0), "checksum"},
		"wrong magic":                   {mutate(plain, 0, 0), "magic"},
		"empty":                         {nil, "magic"},
		"header only":                   {plain[:8], "truncated"},
		"cache bits without index":      {mutate(plain, 4, 0x21), "cache bits"},
		"data left after cells":         {extraData(), "left after 1 cells"},
		"index that lies":               {indexed(plain, 1), "index entry 0"},
		"with hashes above level 0":     {serialize([]tcell{{d1: 0x30}}), "hashes above level 0"},
		"pruned branch deeper than max": {serialize([]tcell{{d1: 1, refs: []int{1}}, prunedCell(2000)}), "stands for cells 2000 deep"},
	}
}

// extraData is a one-cell BOC whose cell data has a byte more than the cell.
func extraData() []byte {
	b := serialize([]tcell{{}})
	b[15]++ // last byte of tot_cells_size
	return append(b, 0)
}

// indexed rewrites a one-reference BOC with an index whose first entry is
// off by delta.
func indexed(b []byte, delta int) []byte {
	c, err := cell.FromBOC(b)
	if err != nil {
		panic(err)
	}
	out := c.ToBOCWithFlags(false, true)
	// header: magic(4) flags(1) off(1) cells roots absent (1 each) tot(off) root(1) index...
	off := int(out[5])
	idx := 4 + 2 + 3 + off + 1
	out[idx+off-1] += byte(delta)
	return out
}

// prunedCell is a level-1 pruned branch standing for a subtree of depth d.
func prunedCell(d int) tcell {
	data := []byte{1, 1}
	data = append(data, make([]byte, 32)...)
	data = binary.BigEndian.AppendUint16(data, uint16(d))
	return tcell{d1: 0x20 | 8, d2: byte(len(data) * 2), data: data}
}

func TestParseRejectsMalformed(t *testing.T) {
	for name, tc := range issueCases() {
		t.Run(name, func(t *testing.T) {
			_, err := Parse(tc.raw)
			if err == nil {
				t.Fatal("accepted")
			}
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("error %v does not wrap ErrMalformed", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not say %q", err, tc.want)
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
		MustStoreRef(chain.LibraryRef(cell.BeginCell().MustStoreUInt(1, 1).EndCell())).
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
	if _, err := Parse(chainBOC(MaxDepth)); err != nil {
		t.Errorf("chain %d deep, 2-byte references: %v", MaxDepth, err)
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
	for _, tc := range issueCases() {
		f.Add(tc.raw)
	}
	f.Add(small)
	f.Add(chainBOC(3))
	f.Add(cell.BeginCell().MustStoreRef(chain.LibraryRef(cell.BeginCell().EndCell())).EndCell().ToBOCWithFlags(true, true, true))
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
