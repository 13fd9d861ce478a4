package bindings

import (
	"errors"
	"fmt"

	"github.com/xssnick/tonutils-go/tvm/cell"
)

// Inline limits: a sealed request (in JobCreate) or result (in the Receipt)
// up to this size travels on chain as a snake cell chain; a larger one
// travels off chain (the worker's HTTP endpoint) and only its sha256 is on
// chain. Every on-chain byte costs forwarding and storage fees (about
// 0.0004 TON per 100 bytes under the mainnet config), paid from the
// client's escrow, so the limits are kept small.
//
// The result's limit is the Job's: it refuses a receipt whose inline result
// has more than MAX_RESULT_CELLS cells (contracts/job.tolk; a test keeps
// InlineResultCells equal to it), so the limit in bytes is what that many
// snake cells hold. InlineResult is the one way to build the inline result.
const (
	InlineRequestLimit = 1024
	InlineResultCells  = 8
	InlineResultLimit  = InlineResultCells * snakeChunk // 1,016 bytes
)

// snakeChunk is how many bytes one cell of a snake chain holds (127 of
// its 1023 bits; the rest of the cell's room goes unused).
const snakeChunk = 127

// MaxSnakeString bounds a snake string read from chain data (an endpoint
// in a worker's profile): what a chain of 1,024 cells, TON's depth limit,
// holds. Nothing the contracts store comes near it.
const MaxSnakeString = 1024 * snakeChunk

// InlineResult is the receipt's inline result for a sealed result
// envelope: its snake cell chain, or nil when the envelope is over
// InlineResultLimit and must travel off chain (only its hash on chain).
func InlineResult(env []byte) (*cell.Cell, error) {
	if len(env) > InlineResultLimit {
		return nil, nil
	}
	return BytesCell(env)
}

// BytesCell encodes b as a snake cell chain: 127 bytes per cell, each cell
// referring to the next.
func BytesCell(b []byte) (*cell.Cell, error) {
	// Chunks start at multiples of snakeChunk; the chain is built from the
	// last chunk back, each cell referring to the one after it.
	start := len(b) - len(b)%snakeChunk
	if start == len(b) && len(b) > 0 {
		start -= snakeChunk
	}
	var next *cell.Cell
	for end := len(b); ; end, start = start, start-snakeChunk {
		bld := cell.BeginCell()
		if err := bld.StoreSlice(b[start:end], uint(8*(end-start))); err != nil {
			return nil, fmt.Errorf("encoding bytes: %w", err)
		}
		if next != nil {
			if err := bld.StoreRef(next); err != nil {
				return nil, fmt.Errorf("encoding bytes: %w", err)
			}
		}
		next = bld.EndCell()
		if start == 0 {
			return next, nil
		}
	}
}

// CellBytes decodes a snake cell chain; it refuses a chain longer than
// maxLen bytes, a cell with a partial byte, or one with more than one ref.
func CellBytes(c *cell.Cell, maxLen int) ([]byte, error) {
	if c == nil {
		return nil, errors.New("decoding bytes: no cell")
	}
	var out []byte
	for c != nil {
		s := c.BeginParse()
		if s.BitsLeft()%8 != 0 {
			return nil, errors.New("decoding bytes: a cell holds a partial byte (want whole bytes)")
		}
		part, err := s.LoadSlice(s.BitsLeft())
		if err != nil {
			return nil, fmt.Errorf("decoding bytes: %w", err)
		}
		out = append(out, part...)
		if len(out) > maxLen {
			return nil, fmt.Errorf("decoding bytes: longer than %d bytes", maxLen)
		}
		switch s.RefsNum() {
		case 0:
			c = nil
		case 1:
			if c, err = s.LoadRefCell(); err != nil {
				return nil, fmt.Errorf("decoding bytes: %w", err)
			}
		default:
			return nil, errors.New("decoding bytes: a cell has more than one ref (want at most one ref)")
		}
	}
	return out, nil
}
