// Package boctest holds malformed BOCs that crashed tonutils-go's parser
// (issue 12) and their neighbours, for tests of every server and client
// that reads BOCs from outside.
package boctest

import (
	"encoding/base64"
	"encoding/binary"
	"hash/crc32"
	"sort"

	"github.com/xssnick/tonutils-go/tvm/cell"
)

// Case is one malformed BOC and a phrase the error for it contains.
type Case struct {
	Name string
	BOC  []byte
	Want string
}

// Cell is a cell as serialized: descriptor bytes, data and references.
type Cell struct {
	D1, D2 byte
	Data   []byte
	Refs   []int
}

// Serialize writes cells as a one-root BOC with 2-byte references and
// 4-byte offsets, root 0, without index or checksum; nothing is checked.
func Serialize(cells []Cell) []byte {
	var body []byte
	for _, c := range cells {
		body = append(body, c.D1, c.D2)
		body = append(body, c.Data...)
		for _, r := range c.Refs {
			body = binary.BigEndian.AppendUint16(body, uint16(r))
		}
	}
	out := []byte{0xb5, 0xee, 0x9c, 0x72, 2, 4}
	out = binary.BigEndian.AppendUint16(out, uint16(len(cells)))
	out = binary.BigEndian.AppendUint16(out, 1)
	out = binary.BigEndian.AppendUint16(out, 0)
	out = binary.BigEndian.AppendUint32(out, uint32(len(body)))
	out = binary.BigEndian.AppendUint16(out, 0)
	return append(out, body...)
}

// Chain is a BOC of n+1 cells, each referring to the next: depth n.
func Chain(n int) []byte {
	cells := make([]Cell, n+1)
	for i := 0; i < n; i++ {
		cells[i] = Cell{D1: 1, Refs: []int{i + 1}}
	}
	return Serialize(cells)
}

// OddExotic is the exotic cell of issue 12 (a one-byte "pruned branch")
// that tonutils-go parses but the emulator refuses.
func OddExotic() []byte { return b64("te6ccgEBAQEAAwAIAgE=") }

func b64(s string) []byte {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

func set(b []byte, i int, v byte) []byte {
	b = append([]byte{}, b...)
	b[i] = v
	return b
}

func withCRC(b []byte) []byte {
	b = append([]byte{}, b...)
	b[4] |= 0x40
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli)))
}

// prunedCell is a level-1 pruned branch standing for a subtree of depth d.
func prunedCell(d int) Cell {
	data := []byte{1, 1}
	data = append(data, make([]byte, 32)...)
	data = binary.BigEndian.AppendUint16(data, uint16(d))
	return Cell{D1: 0x20 | 8, D2: byte(len(data) * 2), Data: data}
}

// indexed is plain re-serialized with an index whose first entry is off
// by one.
func indexed(plain []byte) []byte {
	c, err := cell.FromBOC(plain)
	if err != nil {
		panic(err)
	}
	out := c.ToBOCWithFlags(false, true)
	off := int(out[5])
	// magic, flags, offset size, cells, roots, absent (1 byte each here),
	// tot_cells_size, the root, then the index.
	idx := 4 + 2 + 3 + off + 1
	out[idx+off-1]++
	return out
}

// extraData is a one-cell BOC whose cell data has a byte more than the cell.
func extraData() []byte {
	b := Serialize([]Cell{{}})
	b[15]++ // last byte of tot_cells_size
	return append(b, 0)
}

// Cases returns the malformed BOCs, sorted by name.
func Cases() []Case {
	// plain: two cells, 1-byte references and offsets, no checksum.
	plain := cell.BeginCell().MustStoreUInt(5, 8).MustStoreRef(cell.BeginCell().EndCell()).EndCell().ToBOCWithFlags(false)
	m := map[string]Case{
		"odd exotic cell":               {BOC: OddExotic(), Want: "pruned branch cell 0 is malformed"},
		"slice bounds (flags 09)":       {BOC: b64("te6ccgEJAQEAAAAAAAAAAAAAAAAAAAAAAAAAAAA="), Want: "offset size field is 9"},
		"size field 0":                  {BOC: set(plain, 4, 0), Want: "reference size field is 0"},
		"size field 7":                  {BOC: set(plain, 4, 7), Want: "reference size field is 7"},
		"size byte 9":                   {BOC: set(plain, 4, 9), Want: "reserved header flags"},
		"size byte 255":                 {BOC: set(plain, 4, 255), Want: "reserved header flags"},
		"offset field 0":                {BOC: set(plain, 5, 0), Want: "offset size field is 0"},
		"offset field 9":                {BOC: set(plain, 5, 9), Want: "offset size field is 9"},
		"offset field 255":              {BOC: set(plain, 5, 255), Want: "offset size field is 255"},
		"with-hashes flag":              {BOC: set(plain, 11, plain[11]|0x10), Want: "truncated"},
		"root index out of range":       {BOC: set(plain, 10, 7), Want: "root index 7 out of range"},
		"two roots":                     {BOC: set(plain, 7, 2), Want: "2 roots"},
		"absent cells":                  {BOC: set(plain, 8, 1), Want: "absent cells"},
		"cells announced over data":     {BOC: set(plain, 6, 200), Want: "cannot fit"},
		"data size over length":         {BOC: set(plain, 9, 250), Want: "announced"},
		"reference backwards":           {BOC: Serialize([]Cell{{D1: 1, Refs: []int{0}}}), Want: "must be a later cell"},
		"reference past the end":        {BOC: Serialize([]Cell{{D1: 1, Refs: []int{5}}, {}}), Want: "must be a later cell"},
		"five references":               {BOC: Serialize([]Cell{{D1: 5}}), Want: "5 references"},
		"absent cell":                   {BOC: Serialize([]Cell{{D1: 7}}), Want: "absent"},
		"no end marker":                 {BOC: Serialize([]Cell{{D2: 1, Data: []byte{0}}}), Want: "no end marker"},
		"only an end marker":            {BOC: Serialize([]Cell{{D2: 1, Data: []byte{0x80}}}), Want: "not canonical"},
		"unknown exotic type":           {BOC: Serialize([]Cell{{D1: 8, D2: 2, Data: []byte{9}}}), Want: "unknown type 9"},
		"exotic without type":           {BOC: Serialize([]Cell{{D1: 8}}), Want: "no type byte"},
		"level mask on ordinary cell":   {BOC: Serialize([]Cell{{D1: 0x20}}), Want: "level mask"},
		"library with references":       {BOC: Serialize([]Cell{{D1: 9, D2: 66, Data: append([]byte{2}, make([]byte, 32)...), Refs: []int{1}}, {}}), Want: "library reference cell 0"},
		"chain 1024 deep":               {BOC: Chain(1024), Want: "nested 1024 deep"},
		"chain 1100 deep":               {BOC: Chain(1100), Want: "nested 1024 deep"},
		"trailing bytes":                {BOC: append(append([]byte{}, plain...), 0), Want: "after the end"},
		"bad checksum":                  {BOC: set(withCRC(plain), len(plain)+1, 0), Want: "checksum"},
		"wrong magic":                   {BOC: set(plain, 0, 0), Want: "magic"},
		"empty":                         {BOC: nil, Want: "magic"},
		"header only":                   {BOC: plain[:8], Want: "truncated"},
		"cache bits without index":      {BOC: set(plain, 4, 0x21), Want: "cache bits"},
		"data left after cells":         {BOC: extraData(), Want: "left after 1 cells"},
		"index that lies":               {BOC: indexed(plain), Want: "index entry 0"},
		"with hashes at level mask 010": {BOC: Serialize([]Cell{{D1: 0x50}}), Want: "hashes at level mask 010"},
		"pruned branch deeper than max": {BOC: Serialize([]Cell{{D1: 1, Refs: []int{1}}, prunedCell(2000)}), Want: "stands for cells 2000 deep"},
	}
	out := make([]Case, 0, len(m))
	for name, c := range m {
		c.Name = name
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Exotic returns well-formed exotic cells, one BOC each, by name: the
// cells a hostile client puts in a get-method stack (issue 24: a slice of
// the library cell aborted the devnet's emulator).
func Exotic() map[string][]byte {
	empty := cell.BeginCell().EndCell()
	h := empty.Hash()
	lib := append([]byte{2}, h...)
	proof := append(append([]byte{3}, h...), 0, 0)
	update := append(append(append([]byte{4}, h...), h...), 0, 0, 0, 0)
	return map[string][]byte{
		"library reference":       Serialize([]Cell{{D1: 8, D2: 66, Data: lib}}),
		"pruned branch":           Serialize([]Cell{prunedCell(0)}),
		"Merkle proof":            Serialize([]Cell{{D1: 9, D2: 70, Data: proof, Refs: []int{1}}, {}}),
		"Merkle proof of pruned":  Serialize([]Cell{{D1: 9, D2: 70, Data: proof, Refs: []int{1}}, prunedCell(0)}),
		"Merkle update":           Serialize([]Cell{{D1: 10, D2: 138, Data: update, Refs: []int{1, 2}}, {}, {}}),
		"ordinary over a library": Serialize([]Cell{{D1: 1, Refs: []int{1}}, {D1: 8, D2: 66, Data: lib}}),
		"ordinary over a pruned":  Serialize([]Cell{{D1: 0x21, Refs: []int{1}}, prunedCell(0)}),
	}
}
