package contracts

import (
	"github.com/xssnick/tonutils-go/tvm/cell"
)

// LibraryRef is the exotic library cell that stands for code published as a
// public library: 8 bits of type (2) and the code's 256-bit hash. An
// account whose code is this cell runs the library's code, loaded by hash,
// while its StateInit (and every message deploying it) carries 33 bytes
// instead of the code.
func LibraryRef(code *cell.Cell) *cell.Cell {
	c := cell.BeginCell().MustStoreUInt(uint64(cell.LibraryCellType), 8).MustStoreSlice(code.Hash(), 256).EndCell()
	c.UnsafeModify(cell.LevelMask{}, true)
	return c
}
