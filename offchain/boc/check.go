package boc

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"math/bits"
)

var bocMagic = []byte{0xb5, 0xee, 0x9c, 0x72}

// Exotic cell types (the first data byte of a special cell).
const (
	prunedBranch = 1
	libraryRef   = 2
	merkleProof  = 3
	merkleUpdate = 4
)

// Check validates raw against TON's layout
//
//	serialized_boc#b5ee9c72 has_idx:(## 1) has_crc32c:(## 1) has_cache_bits:(## 1)
//	  flags:(## 2) { flags = 0 } size:(## 3) { size <= 4 } off_bytes:(## 8) { off_bytes <= 8 }
//	  cells:(##(size * 8)) roots:(##(size * 8)) { roots >= 1 } absent:(##(size * 8)) { roots + absent <= cells }
//	  tot_cells_size:(##(off_bytes * 8)) root_list:(roots * ##(size * 8))
//	  index:has_idx?(cells * ##(off_bytes * 8)) cell_data:(tot_cells_size * [ uint8 ])
//	  crc32c:has_crc32c?uint32
//
// with one root, no absent cells, references only to later cells, exotic
// cells of a known type and shape, level masks that agree with the cells,
// and no cell deeper than MaxDepth. A BOC that passes is safe to hand to
// tonutils-go's parser.
func Check(raw []byte) error {
	_, err := check(raw)
	return err
}

// rootInfo is what check learned of a BOC's root cell.
type rootInfo struct {
	special bool
	typ     byte // exotic type, when special
	mask    byte // level mask
}

func check(raw []byte) (rootInfo, error) {
	if len(raw) > MaxBytes {
		return rootInfo{}, malformed("%d bytes, over the %d-byte limit", len(raw), MaxBytes)
	}
	r := reader{b: raw}
	if magic := r.bytes(4); magic == nil || !bytes.Equal(magic, bocMagic) {
		return rootInfo{}, malformed("no BOC magic b5ee9c72 at the start")
	}
	flags, ok := r.byte()
	if !ok {
		return rootInfo{}, malformed("truncated header")
	}
	hasIdx, hasCRC, hasCache := flags&0x80 != 0, flags&0x40 != 0, flags&0x20 != 0
	if flags&0x18 != 0 {
		return rootInfo{}, malformed("reserved header flags set (%08b)", flags)
	}
	size := int(flags & 7)
	if size < 1 || size > 4 {
		return rootInfo{}, malformed("reference size field is %d (must be 1 to 4)", size)
	}
	if hasCache && !hasIdx {
		return rootInfo{}, malformed("cache bits flag without an index")
	}
	offB, ok := r.byte()
	if !ok {
		return rootInfo{}, malformed("truncated header")
	}
	offBytes := int(offB)
	if offBytes < 1 || offBytes > 8 {
		return rootInfo{}, malformed("offset size field is %d (must be 1 to 8)", offBytes)
	}
	cells, ok1 := r.uint(size)
	roots, ok2 := r.uint(size)
	absent, ok3 := r.uint(size)
	totSize, ok4 := r.uint(offBytes)
	if !ok1 || !ok2 || !ok3 || !ok4 {
		return rootInfo{}, malformed("truncated header")
	}
	switch {
	case roots != 1:
		return rootInfo{}, malformed("%d roots (exactly one is expected)", roots)
	case absent != 0:
		return rootInfo{}, malformed("%d absent cells (complete BOCs only)", absent)
	case cells < 1:
		return rootInfo{}, malformed("no cells")
	case totSize > uint64(len(raw)):
		return rootInfo{}, malformed("cell data of %d bytes announced in a %d-byte BOC", totSize, len(raw))
	case cells*2 > totSize:
		return rootInfo{}, malformed("%d cells cannot fit in %d bytes of cell data", cells, totSize)
	}
	n := int(cells)
	root, ok := r.uint(size)
	if !ok {
		return rootInfo{}, malformed("truncated root list")
	}
	if root >= cells {
		return rootInfo{}, malformed("root index %d out of range (%d cells)", root, cells)
	}
	var index []uint64
	if hasIdx {
		index = make([]uint64, n)
		for i := range index {
			if index[i], ok = r.uint(offBytes); !ok {
				return rootInfo{}, malformed("truncated index")
			}
		}
	}
	data := r.bytes(int(totSize))
	if data == nil {
		return rootInfo{}, malformed("cell data truncated: %d bytes announced, %d present", totSize, len(raw)-r.off)
	}
	if hasCRC {
		sum := r.bytes(4)
		if sum == nil {
			return rootInfo{}, malformed("checksum missing")
		}
		if binary.LittleEndian.Uint32(sum) != crc32.Checksum(raw[:len(raw)-4], crc32.MakeTable(crc32.Castagnoli)) {
			return rootInfo{}, malformed("checksum does not match")
		}
	}
	if r.off != len(raw) {
		return rootInfo{}, malformed("%d bytes after the end of the BOC", len(raw)-r.off)
	}
	parsed, err := checkCells(data, n, size, index, hasCache)
	if err != nil {
		return rootInfo{}, err
	}
	if err := checkTree(parsed); err != nil {
		return rootInfo{}, err
	}
	rc := parsed[root]
	info := rootInfo{special: rc.special, mask: rc.mask}
	if rc.special {
		info.typ = rc.data[0]
	}
	return info, nil
}

// rawCell is a cell as serialized, before anything is computed from it.
type rawCell struct {
	refs    []int
	special bool
	mask    byte
	bits    int
	data    []byte
}

func checkCells(data []byte, n, size int, index []uint64, hasCache bool) ([]rawCell, error) {
	cells := make([]rawCell, n)
	r := reader{b: data}
	for i := range cells {
		d1, ok1 := r.byte()
		d2, ok2 := r.byte()
		if !ok1 || !ok2 {
			return nil, malformed("cell %d: truncated descriptor", i)
		}
		c := &cells[i]
		refs := int(d1 & 7)
		c.special, c.mask = d1&8 != 0, d1>>5
		switch {
		case refs == 7:
			return nil, malformed("cell %d is absent (complete BOCs only)", i)
		case refs > 4:
			return nil, malformed("cell %d has %d references (at most 4)", i, refs)
		}
		if d1&16 != 0 {
			// TON stores one hash and depth per bit of the level mask, plus
			// one; tonutils-go skips one per level, plus one. They agree for
			// masks 000, 001, 011 and 111.
			n := bits.OnesCount8(c.mask) + 1
			if n != bits.Len8(c.mask)+1 {
				return nil, malformed("cell %d is stored with hashes at level mask %03b (unsupported)", i, c.mask)
			}
			if r.bytes(n*(32+2)) == nil {
				return nil, malformed("cell %d: truncated hashes", i)
			}
		}
		nbytes := (int(d2) + 1) / 2
		if c.data = r.bytes(nbytes); c.data == nil {
			return nil, malformed("cell %d: data truncated", i)
		}
		c.bits = int(d2) / 2 * 8
		if d2%2 == 1 {
			last := c.data[nbytes-1]
			if last == 0 {
				return nil, malformed("cell %d: incomplete last byte has no end marker", i)
			}
			c.bits += 7 - bits.TrailingZeros8(last)
			if last == 0x80 {
				return nil, malformed("cell %d: last byte holds only the end marker (not canonical)", i)
			}
		}
		c.refs = make([]int, refs)
		for k := range c.refs {
			ref, ok := r.uint(size)
			if !ok {
				return nil, malformed("cell %d: references truncated", i)
			}
			if ref <= uint64(i) || ref >= uint64(n) {
				return nil, malformed("cell %d refers to cell %d (must be a later cell, of %d)", i, ref, n)
			}
			c.refs[k] = int(ref)
		}
		if index != nil {
			end := index[i]
			if hasCache {
				end /= 2
			}
			if end != uint64(r.off) {
				return nil, malformed("index entry %d says %d, cell ends at %d", i, end, r.off)
			}
		}
	}
	if r.off != len(data) {
		return nil, malformed("%d bytes of cell data left after %d cells", len(data)-r.off, n)
	}
	return cells, nil
}

// checkTree checks exotic cells, level masks and depth, from the last cell
// (a leaf) to the first: references point only forward.
func checkTree(cells []rawCell) error {
	depth := make([]int, len(cells))
	for i := len(cells) - 1; i >= 0; i-- {
		c := &cells[i]
		var childMask byte
		for _, ref := range c.refs {
			childMask |= cells[ref].mask
			depth[i] = max(depth[i], depth[ref]+1)
		}
		if depth[i] > MaxDepth {
			return malformed("cells nested %d deep (at most %d)", depth[i], MaxDepth)
		}
		want := childMask
		if c.special {
			if c.bits < 8 {
				return malformed("exotic cell %d has no type byte", i)
			}
			switch typ := c.data[0]; typ {
			case prunedBranch:
				if len(c.refs) != 0 || c.bits < 16 {
					return malformed("pruned branch cell %d is malformed", i)
				}
				want = c.data[1]
				k := bits.OnesCount8(want)
				if want == 0 || want > 7 || c.bits != 16+k*(256+16) {
					return malformed("pruned branch cell %d is malformed", i)
				}
				// The depths of the pruned subtree follow its hashes.
				for d := range k {
					off := 2 + 32*k + 2*d
					depth[i] = max(depth[i], int(binary.BigEndian.Uint16(c.data[off:off+2])))
				}
				if depth[i] > MaxDepth {
					return malformed("pruned branch cell %d stands for cells %d deep (at most %d)", i, depth[i], MaxDepth)
				}
			case libraryRef:
				if len(c.refs) != 0 || c.bits != 8+256 {
					return malformed("library reference cell %d is malformed", i)
				}
				want = 0
			case merkleProof:
				if len(c.refs) != 1 || c.bits != 8+256+16 {
					return malformed("Merkle proof cell %d is malformed", i)
				}
				want = childMask >> 1
			case merkleUpdate:
				if len(c.refs) != 2 || c.bits != 8+2*(256+16) {
					return malformed("Merkle update cell %d is malformed", i)
				}
				want = childMask >> 1
			default:
				return malformed("exotic cell %d has unknown type %d", i, typ)
			}
		}
		if c.mask != want {
			return malformed("cell %d declares level mask %03b, its contents give %03b", i, c.mask, want)
		}
	}
	return nil
}

// reader reads big-endian fields; a short read reports !ok instead of
// panicking.
type reader struct {
	b   []byte
	off int
}

func (r *reader) bytes(n int) []byte {
	if n < 0 || n > len(r.b)-r.off {
		return nil
	}
	out := r.b[r.off : r.off+n]
	r.off += n
	return out
}

func (r *reader) byte() (byte, bool) {
	b := r.bytes(1)
	if b == nil {
		return 0, false
	}
	return b[0], true
}

func (r *reader) uint(n int) (uint64, bool) {
	b := r.bytes(n)
	if b == nil {
		return 0, false
	}
	var v uint64
	for _, x := range b {
		v = v<<8 | uint64(x)
	}
	return v, true
}
