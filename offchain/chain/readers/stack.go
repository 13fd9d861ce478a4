package readers

import (
	"fmt"
	"math/big"
	"reflect"
	"strconv"
	"strings"

	"github.com/xssnick/tonutils-go/address"
	"github.com/xssnick/tonutils-go/tvm/cell"

	"github.com/cocoon-network/cocoon/bindings"
	"github.com/cocoon-network/cocoon/offchain/boc"
	"github.com/cocoon-network/cocoon/offchain/tonamount"
)

// This file reads get-method results by field. A Tolk get-method that
// returns a struct leaves the struct's fields on the TVM stack one value
// each, in declaration order (a nested struct is flattened in place, a
// nullable struct adds a type-tag value, so the contracts return flat views
// with an explicit `found` flag). A Go view mirrors such a struct: the same
// fields in the same order, named as in Tolk (Tolk `hpkeKey` is Go
// `HPKEKey`; names compare case-insensitively), each tagged with the TVM
// value it is read from:
//
//	stack:"uint,N"  an integer 0 ≤ v < 2^N, into a Go unsigned integer of at least N bits
//	stack:"coins"   an integer 0 ≤ v < 2^120 (VarUInteger 16), into *big.Int
//	stack:"u256"    an integer 0 ≤ v < 2^256, into [32]byte (big-endian)
//	stack:"bool"    TVM's -1 (true) or 0 (false), into bool
//	stack:"addr"    a slice (or cell) holding exactly a standard address, into *address.Address
//	stack:"addr?"   the same, or null or addr_none (nil)
//	stack:"cell"    a cell (or a slice, taken as the cell it holds), into *cell.Cell
//	stack:"cell?"   a cell or null (nil)
//	stack:"snake"   a cell holding a snake string, into string
//	stack:"-"       not on the stack (set by the reader itself)
//
// Stacks come from nodes the reader does not trust: every count, type and
// range is checked, and a mismatch is an error naming the get-method and the
// field, never a panic.

// stackValue is how one field is read from one stack value.
type stackValue struct {
	tag      string
	kind     string // the tag without its parameter and "?"
	bits     int    // for uint
	nullable bool
}

// parseStackTag checks that tag names a known stack type and fits the Go
// type it fills; a mismatch is a mistake in this package, reported as an
// error rather than a panic all the same.
func parseStackTag(tag string, t reflect.Type) (stackValue, error) {
	v := stackValue{tag: tag, kind: tag}
	if name, bits, ok := strings.Cut(tag, ","); ok {
		n, err := strconv.Atoi(bits)
		if name != "uint" || err != nil || n < 1 || n > 64 {
			return v, fmt.Errorf("stack tag %q: want uint,N with N in 1..64", tag)
		}
		v.kind, v.bits = name, n
	}
	if k, ok := strings.CutSuffix(v.kind, "?"); ok {
		v.kind, v.nullable = k, true
	}
	if v.nullable && v.kind != "addr" && v.kind != "cell" {
		return v, fmt.Errorf("stack tag %q: only addr and cell may be null", tag)
	}
	if v.kind == "uint" && v.bits == 0 {
		return v, fmt.Errorf("stack tag %q: want uint,N", tag)
	}
	var want reflect.Type
	switch v.kind {
	case "uint":
		switch t.Kind() {
		case reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
			if v.bits > t.Bits() {
				return v, fmt.Errorf("stack tag %q: %d bits do not fit a Go %s", tag, v.bits, t)
			}
			return v, nil
		}
		return v, fmt.Errorf("stack tag %q: want a Go unsigned integer, have %s", tag, t)
	case "coins":
		want = reflect.TypeFor[*big.Int]()
	case "u256":
		want = reflect.TypeFor[[32]byte]()
	case "bool":
		want = reflect.TypeFor[bool]()
	case "addr":
		want = reflect.TypeFor[*address.Address]()
	case "cell":
		want = reflect.TypeFor[*cell.Cell]()
	case "snake":
		want = reflect.TypeFor[string]()
	default:
		return v, fmt.Errorf("unknown stack tag %q", tag)
	}
	if t != want {
		return v, fmt.Errorf("stack tag %q: want a Go %s, have %s", tag, want, t)
	}
	return v, nil
}

// describe names a stack value's TVM type for an error message.
func describe(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case *big.Int:
		return "integer " + x.String()
	case *cell.Cell:
		if x == nil {
			return "nil cell"
		}
		return "cell"
	case *cell.Slice:
		if x == nil {
			return "nil slice"
		}
		return "slice"
	case *cell.Builder:
		return "builder"
	case []any:
		return fmt.Sprintf("tuple of %d", len(x))
	}
	return fmt.Sprintf("%T", v)
}

// set reads raw into dst (whose type parseStackTag accepted). Cells go
// through boc.Do: tonutils-go panics on some malformed ones, and a node's
// answer must not take the daemon down.
func (s stackValue) set(dst reflect.Value, raw any) error {
	if raw == nil && !s.nullable {
		return fmt.Errorf("got null, want %s", s.tag)
	}
	switch s.kind {
	case "uint", "coins", "u256", "bool":
		n, ok := raw.(*big.Int)
		if !ok || n == nil {
			return fmt.Errorf("got %s, want an integer (%s)", describe(raw), s.tag)
		}
		return s.setInt(dst, n)
	case "addr":
		var a *address.Address
		if err := boc.Do("reading an address", func() (err error) { a, err = stackAddress(raw); return err }); err != nil {
			return err
		}
		if a == nil && !s.nullable {
			return fmt.Errorf("got addr_none, want an address")
		}
		dst.Set(reflect.ValueOf(a))
	case "cell":
		if raw == nil {
			return nil // dst stays nil
		}
		var c *cell.Cell
		if err := boc.Do("reading a cell", func() (err error) { c, err = stackCell(raw); return err }); err != nil {
			return err
		}
		dst.Set(reflect.ValueOf(c))
	case "snake":
		var str string
		err := boc.Do("reading a snake string", func() error {
			c, err := stackCell(raw)
			if err != nil {
				return err
			}
			b, err := bindings.CellBytes(c, bindings.MaxSnakeString)
			str = string(b)
			return err
		})
		if err != nil {
			return err
		}
		dst.SetString(str)
	}
	return nil
}

func (s stackValue) setInt(dst reflect.Value, n *big.Int) error {
	switch s.kind {
	case "bool":
		switch {
		case n.Sign() == 0:
			dst.SetBool(false)
		case n.IsInt64() && n.Int64() == -1:
			dst.SetBool(true)
		default:
			return fmt.Errorf("%s is not a TVM boolean (-1 or 0)", n)
		}
		return nil
	case "uint":
		if n.Sign() < 0 || n.BitLen() > s.bits {
			return fmt.Errorf("%s is out of range for uint%d", n, s.bits)
		}
		dst.SetUint(n.Uint64())
	case "coins":
		if !tonamount.Fits(n) {
			return fmt.Errorf("%s is not an amount of coins (0 ≤ v < 2^120)", n)
		}
		dst.Set(reflect.ValueOf(new(big.Int).Set(n)))
	case "u256":
		if n.Sign() < 0 || n.BitLen() > 256 {
			return fmt.Errorf("%s is out of range for uint256", n)
		}
		var b [32]byte
		n.FillBytes(b[:])
		dst.Set(reflect.ValueOf(b))
	}
	return nil
}

// stackAddress reads an address slice (a cell is accepted too): nil for
// null and addr_none; anything but exactly one address is an error.
func stackAddress(raw any) (*address.Address, error) {
	var sl *cell.Slice
	switch x := raw.(type) {
	case nil:
		return nil, nil
	case *cell.Slice:
		if x != nil {
			sl = x.Copy()
		}
	case *cell.Cell:
		if x != nil {
			sl = x.BeginParse()
		}
	}
	if sl == nil {
		return nil, fmt.Errorf("got %s, want an address slice", describe(raw))
	}
	a, err := sl.LoadAddr()
	if err != nil {
		return nil, err
	}
	if sl.BitsLeft() != 0 || sl.RefsNum() != 0 {
		return nil, fmt.Errorf("address slice has %d bits and %d refs after the address", sl.BitsLeft(), sl.RefsNum())
	}
	switch a.Type() {
	case address.NoneAddress:
		return nil, nil
	case address.StdAddress:
		return a, nil
	}
	return nil, fmt.Errorf("got a %v address, want a standard one", a.Type())
}

// stackCell reads a cell; a slice is taken as the cell it holds.
func stackCell(raw any) (*cell.Cell, error) {
	switch x := raw.(type) {
	case *cell.Cell:
		if x != nil {
			return x, nil
		}
	case *cell.Slice:
		if x != nil {
			return x.Copy().ToCell()
		}
	}
	return nil, fmt.Errorf("got %s, want a cell", describe(raw))
}

// stackField is one field of a view that is read from the stack.
type stackField struct {
	index int // in the Go struct
	name  string
	value stackValue
}

// viewFields lists the stack fields of view type t, in order.
func viewFields(t reflect.Type) ([]stackField, error) {
	if t.Kind() != reflect.Struct {
		return nil, fmt.Errorf("%s is not a struct", t)
	}
	var out []stackField
	for i := range t.NumField() {
		f := t.Field(i)
		tag, ok := f.Tag.Lookup("stack")
		if !ok {
			return nil, fmt.Errorf("%s.%s has no stack tag (stack:\"-\" for a field not on the stack)", t, f.Name)
		}
		if tag == "-" {
			continue
		}
		if !f.IsExported() {
			return nil, fmt.Errorf("%s.%s is not exported", t, f.Name)
		}
		v, err := parseStackTag(tag, f.Type)
		if err != nil {
			return nil, fmt.Errorf("%s.%s: %w", t, f.Name, err)
		}
		out = append(out, stackField{index: i, name: f.Name, value: v})
	}
	return out, nil
}

// decodeStack fills the view *dst from get-method method's stack vals,
// checking the count and every field's type and range.
func decodeStack(method string, vals []any, dst any) error {
	rv := reflect.ValueOf(dst)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return fmt.Errorf("get-method %s: decoding into %T, want a pointer to a struct", method, dst)
	}
	fields, err := viewFields(rv.Elem().Type())
	if err != nil {
		return fmt.Errorf("get-method %s: %w", method, err)
	}
	if len(vals) != len(fields) {
		return fmt.Errorf("get-method %s returned %d values, want %d (%s)", method, len(vals), len(fields), rv.Elem().Type())
	}
	for i, f := range fields {
		if err := f.value.set(rv.Elem().Field(f.index), vals[i]); err != nil {
			return fmt.Errorf("get-method %s, field %s (value %d of %d): %w", method, f.name, i+1, len(vals), err)
		}
	}
	return nil
}

// decodeSingle reads the one value of a get-method that returns a single
// value (not a struct) into *dst, by the same rules as a view's field.
func decodeSingle(method string, vals []any, tag string, dst any) error {
	rv := reflect.ValueOf(dst)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return fmt.Errorf("get-method %s: decoding into %T, want a pointer", method, dst)
	}
	v, err := parseStackTag(tag, rv.Elem().Type())
	if err != nil {
		return fmt.Errorf("get-method %s: %w", method, err)
	}
	if len(vals) != 1 {
		return fmt.Errorf("get-method %s returned %d values, want 1", method, len(vals))
	}
	if err := v.set(rv.Elem(), vals[0]); err != nil {
		return fmt.Errorf("get-method %s: %w", method, err)
	}
	return nil
}
