package boc

import (
	"fmt"
	"math/big"

	"github.com/xssnick/tonutils-go/tlb"
	"github.com/xssnick/tonutils-go/tvm/cell"
)

// Bounds of TVM's 257-bit signed integers, -2^256 ≤ x < 2^256, less
// -2^256, which tonutils-go cannot encode.
var (
	maxInt = new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 256), big.NewInt(1))
	minInt = new(big.Int).Neg(maxInt)
)

// Limits on a get-method stack taken from a request: TVM tuples hold at
// most 255 entries; the nesting bound keeps serialization shallow.
const (
	maxTupleLen     = 255
	maxTupleNesting = 16
	maxStackValues  = 4096
)

// CheckInt reports whether n fits in a TVM integer (257 bits, signed).
func CheckInt(n *big.Int) error {
	if n == nil {
		return malformed("missing integer")
	}
	if n.Cmp(minInt) < 0 || n.Cmp(maxInt) > 0 {
		return fmt.Errorf("%w: integer of %d bits does not fit in TVM's 257-bit signed integers", ErrMalformed, n.BitLen()+1)
	}
	return nil
}

// CheckStack checks get-method stack values before tonutils-go serializes
// them: only the types it encodes (nil, *big.Int, *cell.Cell, *cell.Slice,
// *cell.Builder, []any tuples), integers within 257 bits, tuples of at most
// 255 entries nested at most 16 deep.
func CheckStack(values []any) error {
	count := 0
	return checkValues(values, 0, &count)
}

func checkValues(values []any, nesting int, count *int) error {
	for i, v := range values {
		*count++
		if *count > maxStackValues {
			return malformed("stack holds over %d values", maxStackValues)
		}
		switch x := v.(type) {
		case nil, tlb.StackNaN:
		case *big.Int:
			if err := CheckInt(x); err != nil {
				return fmt.Errorf("stack value %d: %w", i, err)
			}
		case *cell.Cell:
			if x == nil {
				return malformed("stack value %d: nil cell", i)
			}
		case *cell.Slice:
			if x == nil {
				return malformed("stack value %d: nil slice", i)
			}
			if x.IsSpecial() {
				return malformed("stack value %d: a slice of an exotic cell (TVM cannot load one onto the stack)", i)
			}
		case *cell.Builder:
			if x == nil {
				return malformed("stack value %d: nil builder", i)
			}
		case []any:
			if len(x) > maxTupleLen {
				return malformed("stack value %d: tuple of %d entries (at most %d)", i, len(x), maxTupleLen)
			}
			if nesting+1 > maxTupleNesting {
				return malformed("stack value %d: tuples nested over %d deep", i, maxTupleNesting)
			}
			if err := checkValues(x, nesting+1, count); err != nil {
				return fmt.Errorf("stack value %d: %w", i, err)
			}
		default:
			return malformed("stack value %d: type %T has no TVM encoding", i, v)
		}
	}
	return nil
}

// StackCell checks values and serializes them as a tonutils-go tlb.Stack
// onto which they are pushed in order.
func StackCell(values []any) (*cell.Cell, error) {
	if err := CheckStack(values); err != nil {
		return nil, err
	}
	var c *cell.Cell
	err := Do("encoding the stack", func() error {
		s := tlb.NewStack()
		for _, v := range values {
			s.Push(v)
		}
		var err error
		c, err = s.ToCell()
		return err
	})
	return c, err
}

// ParseStackCell reads a base64 BOC given as a get-method argument, as a
// cell (slice false) or as a slice over its root (slice true). TVM's stack
// deserializer, in the emulator as in a liteserver, cannot load a slice of
// an exotic cell (the emulator aborts the whole process on one) nor take a
// cell whose level is not 0 (a pruned branch outside a Merkle proof or
// update): both are refused here with ErrMalformed.
func ParseStackCell(s string, slice bool) (*cell.Cell, error) {
	raw, err := DecodeBase64(s)
	if err != nil {
		return nil, err
	}
	info, err := check(raw)
	if err != nil {
		return nil, err
	}
	if info.mask != 0 {
		return nil, malformed("the root cell has level mask %03b: a stack value must be a level-0 cell (a pruned branch can only stand inside a Merkle proof or update)", info.mask)
	}
	if slice && info.special {
		return nil, malformed("a slice cannot be taken of an exotic cell (%s): TVM loads those only through XCTOS; pass it as a cell", exoticName(info.typ))
	}
	return Parse(raw)
}

func exoticName(typ byte) string {
	switch typ {
	case prunedBranch:
		return "pruned branch"
	case libraryRef:
		return "library reference"
	case merkleProof:
		return "Merkle proof"
	case merkleUpdate:
		return "Merkle update"
	}
	return fmt.Sprintf("type %d", typ)
}
