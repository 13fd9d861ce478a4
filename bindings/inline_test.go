package bindings

import (
	"bytes"
	"testing"

	"github.com/xssnick/tonutils-go/tvm/cell"
)

func TestBytesCellRoundTrip(t *testing.T) {
	for _, n := range []int{0, 1, 126, 127, 128, 254, 255, 1000, InlineResultLimit} {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(i*7 + n)
		}
		c, err := BytesCell(b)
		if err != nil {
			t.Fatalf("%d bytes: %v", n, err)
		}
		got, err := CellBytes(c, InlineResultLimit)
		if err != nil || !bytes.Equal(got, b) {
			t.Fatalf("%d bytes: round trip gave %d bytes, %v", n, len(got), err)
		}
		// Only the last cell may be short; every cell before holds a full chunk.
		for s := c.BeginParse(); s.RefsNum() > 0; {
			if s.BitsLeft() != 8*snakeChunk {
				t.Fatalf("%d bytes: an inner cell holds %d bits", n, s.BitsLeft())
			}
			s = s.MustLoadRef()
		}
	}
}

func TestCellBytesRefusals(t *testing.T) {
	big, _ := BytesCell(make([]byte, 300))
	partial := cell.BeginCell().MustStoreUInt(1, 3).EndCell()
	twoRefs := cell.BeginCell().MustStoreRef(cell.BeginCell().EndCell()).MustStoreRef(cell.BeginCell().EndCell()).EndCell()
	for name, tc := range map[string]struct {
		c   *cell.Cell
		max int
	}{
		"too long":     {big, 200},
		"partial byte": {partial, 100},
		"two refs":     {twoRefs, 100},
		"nil":          {nil, 100},
	} {
		if _, err := CellBytes(tc.c, tc.max); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
