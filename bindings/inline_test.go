package bindings

import (
	"bytes"
	"os"
	"regexp"
	"strconv"
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

// TestInlineResultCellsMatchesJob keeps InlineResultCells equal to the Job's
// MAX_RESULT_CELLS: the one limit an inline result must meet.
func TestInlineResultCellsMatchesJob(t *testing.T) {
	src, err := os.ReadFile("../contracts/job.tolk")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^const MAX_RESULT_CELLS = (\d+)\b`).FindSubmatch(src)
	if m == nil {
		t.Fatal("contracts/job.tolk declares no MAX_RESULT_CELLS")
	}
	if n, _ := strconv.Atoi(string(m[1])); n != InlineResultCells {
		t.Fatalf("the Job takes %d cells inline, bindings.InlineResultCells is %d", n, InlineResultCells)
	}
}

// TestInlineResultBoundary: at the limit the result goes inline in exactly
// InlineResultCells cells; one byte more and it goes off chain.
func TestInlineResultBoundary(t *testing.T) {
	for _, tc := range []struct {
		n      int
		inline bool
	}{{0, true}, {InlineResultLimit - 1, true}, {InlineResultLimit, true}, {InlineResultLimit + 1, false}, {1024, false}} {
		c, err := InlineResult(make([]byte, tc.n))
		if err != nil {
			t.Fatalf("%d bytes: %v", tc.n, err)
		}
		if (c != nil) != tc.inline {
			t.Fatalf("%d bytes: inline %v, want %v", tc.n, c != nil, tc.inline)
		}
		if c != nil {
			cells := 0
			for s := c.BeginParse(); ; s = s.MustLoadRef() {
				cells++
				if s.RefsNum() == 0 {
					break
				}
			}
			if cells > InlineResultCells {
				t.Fatalf("%d bytes take %d cells, more than the Job's %d", tc.n, cells, InlineResultCells)
			}
		}
	}
}
