package bindings

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/xssnick/tonutils-go/address"
	"github.com/xssnick/tonutils-go/tlb"
	"github.com/xssnick/tonutils-go/tvm/cell"
)

// Every message and layout of this package is a struct whose fields carry
// tonutils-go `tlb` tags, in the order contracts/common/types.tolk declares
// them; the opcode of a message is its first field, `_ tlb.Magic`. This file
// is the one wrapper around tonutils' tlb package. tlb reads and writes each
// field; the wrapper walks the structs cell by cell and adds what tlb lacks
// for Tolk's rules:
//
//   - whole cell read: tlb leaves unread bits and references, in the body
//     and in every cell a `^` field opens; the contracts refuse them;
//   - `addr` fields are Tolk `address`es, so the wrapper refuses addr_none
//     and non-standard addresses; a field tagged `tolk:"address?"` is an
//     `address?`, addr_none for nil;
//   - a nil *big.Int coins value is zero (tlb panics on it), a negative one
//     an error that names the field;
//   - structs in their own cell (`^`, `maybe ^`): tlb writes a nested
//     struct from an unaddressable copy and panics on its [32]byte fields;
//   - maps keyed by uint256 (`dict 256 -> ...`, map[[32]byte]V) or uint32
//     (`dict 32 -> ...`, map[uint32]V): tlb maps only string keys;
//   - strings in a reference (`^`) as snake strings;
//   - `_ tailCell` marks the fields after it as living in one referenced
//     cell (JobTerms), so that the Go type stays flat.
//
// Errors name the message or layout and the field path, e.g.
// "JobCreate.Terms.Worker: addr_none where an address is required".

// tailCell is a zero-size marker field: the fields after it are stored in a
// cell of their own, referenced where the marker stands.
type tailCell struct{}

// Encode serialises a message (with its opcode) or a layout of this package.
func Encode(v any) (*cell.Cell, error) {
	rv := reflect.ValueOf(v)
	for rv.Kind() == reflect.Pointer && !rv.IsNil() {
		rv = rv.Elem()
	}
	if rv.Kind() != reflect.Struct {
		return nil, fmt.Errorf("encoding %T: not a message or layout", v)
	}
	return encodeCell(rv, rv.Type().Name())
}

// MustCell returns c, panicking on err; for building messages from
// constant, known-good values (tests, examples).
func MustCell(c *cell.Cell, err error) *cell.Cell {
	if err != nil {
		panic(err)
	}
	return c
}

// Parse reads c as T, a message (whose opcode it checks) or a layout:
// Parse[JobClosed](body), Parse[RootStorage](data). The whole cell must be
// read, as the contracts require.
func Parse[T any](c *cell.Cell) (*T, error) {
	v := new(T)
	rv := reflect.ValueOf(v).Elem()
	name := rv.Type().Name()
	if rv.Kind() != reflect.Struct {
		return nil, fmt.Errorf("parsing %s: not a message or layout", name)
	}
	if c == nil {
		return nil, fmt.Errorf("parsing %s: no cell", name)
	}
	if want, ok := opcodeOfType(rv.Type()); ok {
		if got, err := c.BeginParse().PreloadUInt(32); err != nil || uint32(got) != want {
			return nil, fmt.Errorf("parsing %s: body is not %s (opcode 0x%08x): %w", name, name, want, ErrUnknownOpcode)
		}
	}
	if err := decodeCell(c, rv, name); err != nil {
		return nil, err
	}
	return v, nil
}

// ErrUnknownOpcode is wrapped by DecodeBody's error for a body whose opcode
// is not a Cocoon message (or that is too short to have one), and by
// Parse's for a body that is not the message asked for.
var ErrUnknownOpcode = errors.New("not a Cocoon message")

// DecodeBody parses any Cocoon message body, event or receipt by its
// opcode; the result is a pointer to the message struct (*JobClosed, ...).
// The whole cell must be consumed, as the contracts require.
func DecodeBody(body *cell.Cell) (Message, error) {
	if body == nil {
		return nil, fmt.Errorf("decoding message body: empty body: %w", ErrUnknownOpcode)
	}
	op, err := body.BeginParse().PreloadUInt(32)
	if err != nil {
		return nil, fmt.Errorf("decoding message body: %w", ErrUnknownOpcode)
	}
	t, ok := typeOf(uint32(op))
	if !ok {
		return nil, fmt.Errorf("decoding message body: opcode 0x%08x: %w", op, ErrUnknownOpcode)
	}
	v := reflect.New(t)
	if err := decodeCell(body, v.Elem(), t.Name()); err != nil {
		return nil, err
	}
	return v.Interface(), nil
}

// OpcodeOf is the opcode of a message (a struct of this package or a
// pointer to one); ok is false for anything that is not a message.
func OpcodeOf(m any) (op uint32, ok bool) {
	t := reflect.TypeOf(m)
	if t == nil {
		return 0, false
	}
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return opcodeOfType(t)
}

// Opcodes lists every opcode DecodeBody knows, in increasing order.
func Opcodes() []uint32 {
	var ops []uint32
	for _, m := range messages() {
		ops = append(ops, m.op)
	}
	slices.Sort(ops)
	return ops
}

// OpcodeName is the name of the message with the opcode ("Accept"), or
// the opcode in hex when it is not a Cocoon message.
func OpcodeName(op uint32) string {
	if t, ok := typeOf(op); ok {
		return t.Name()
	}
	return fmt.Sprintf("op 0x%08x", op)
}

func typeOf(op uint32) (reflect.Type, bool) {
	for _, m := range messages() {
		if m.op == op {
			return m.t, true
		}
	}
	return nil, false
}

// opcodeOfType reads the `#hex` tag of a leading `_ tlb.Magic` field.
func opcodeOfType(t reflect.Type) (uint32, bool) {
	if t.Kind() != reflect.Struct || t.NumField() == 0 || t.Field(0).Type != reflect.TypeFor[tlb.Magic]() {
		return 0, false
	}
	tag := t.Field(0).Tag.Get("tlb")
	if len(tag) != 9 || tag[0] != '#' {
		return 0, false
	}
	op, err := strconv.ParseUint(tag[1:], 16, 32)
	return uint32(op), err == nil
}

// field is one struct field as the wrapper sees it.
type field struct {
	reflect.StructField
	tag    string // the `tlb` tag
	parent string // for errors: Message
	path   string // for errors: Message.Field
}

func (f field) maybe() bool { return strings.HasPrefix(f.tag, "maybe ") }

// child reports a struct stored in its own cell: `^` on a struct,
// `maybe ^` on a pointer to one.
func (f field) child() bool {
	t := f.Type
	if f.maybe() && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return strings.HasSuffix(f.tag, "^") && t.Kind() == reflect.Struct && t != reflect.TypeFor[cell.Cell]()
}

func (f field) optionalAddr() bool { return f.StructField.Tag.Get("tolk") == "address?" }

// dictKeyBits is the key width of a map field: 256 for map[[32]byte]V
// tagged `dict 256 -> ...`, 32 for map[uint32]V tagged `dict 32 -> ...`.
func (f field) dictKeyBits() (uint, error) {
	switch {
	case f.Type.Key() == reflect.TypeFor[[32]byte]() && strings.HasPrefix(f.tag, "dict 256 "):
		return 256, nil
	case f.Type.Key() == reflect.TypeFor[uint32]() && strings.HasPrefix(f.tag, "dict 32 "):
		return 32, nil
	}
	return 0, fmt.Errorf("%s: want a map[[32]byte]V tagged `dict 256 -> V's tag` or a map[uint32]V tagged `dict 32 -> V's tag`", f.path)
}

// dictValue is a one-field struct holding a map value, tagged with what
// follows "dict N ->", so that values go through the same walk.
func (f field) dictValue() (reflect.Value, error) {
	_, vt, ok := strings.Cut(f.tag, "->")
	if _, err := f.dictKeyBits(); err != nil || !ok {
		return reflect.Value{}, fmt.Errorf("%s: want a map tagged `dict N -> V's tag`", f.path)
	}
	st := reflect.StructOf([]reflect.StructField{{Name: "Value", Type: f.Type.Elem(), Tag: reflect.StructTag(fmt.Sprintf("tlb:%q", strings.TrimSpace(vt)))}})
	return reflect.New(st).Elem(), nil
}

// dictKey is a map key as the dictionary stores it.
func dictKey(k reflect.Value, bits uint) *cell.Cell {
	if bits == 32 {
		return cell.BeginCell().MustStoreUInt(k.Uint(), 32).EndCell()
	}
	kb := k.Interface().([32]byte)
	return cell.BeginCell().MustStoreSlice(kb[:], 256).EndCell()
}

// leaf is a one-field struct that hands the field to tlb: addressable, so
// that tlb can write [32]byte fields.
func (f field) leaf() reflect.Value {
	name := f.Name
	if !f.IsExported() {
		name = "Magic"
	}
	st := reflect.StructOf([]reflect.StructField{{Name: name, Type: f.Type, Tag: f.StructField.Tag}})
	return reflect.New(st)
}

func fieldAt(v reflect.Value, i int, path string) field {
	sf := v.Type().Field(i)
	return field{StructField: sf, tag: strings.TrimSpace(sf.Tag.Get("tlb")), parent: path, path: path + "." + sf.Name}
}

func encodeCell(v reflect.Value, path string) (*cell.Cell, error) {
	b := cell.BeginCell()
	if err := encodeFields(b, v, 0, path); err != nil {
		return nil, err
	}
	return b.EndCell(), nil
}

func encodeFields(b *cell.Builder, v reflect.Value, from int, path string) error {
	for i := from; i < v.NumField(); i++ {
		f := fieldAt(v, i, path)
		if f.tag == "-" {
			continue
		}
		if err := encodeField(b, v, i, f); err != nil {
			return err
		}
		if f.Type == reflect.TypeFor[tailCell]() {
			return nil // encodeField stored the rest in a reference
		}
	}
	return nil
}

func encodeField(b *cell.Builder, v reflect.Value, i int, f field) error {
	x := v.Field(i)
	switch {
	case f.Type == reflect.TypeFor[tailCell]():
		tail := cell.BeginCell()
		if err := encodeFields(tail, v, i+1, f.parent); err != nil {
			return err
		}
		if err := b.StoreRef(tail.EndCell()); err != nil {
			return fmt.Errorf("%s: tail cell: %w", f.parent, err)
		}
		return nil
	case f.tag == ".":
		return encodeFields(b, x, 0, f.path)
	case f.child():
		if f.maybe() {
			if err := b.StoreBoolBit(!x.IsNil()); err != nil || x.IsNil() {
				return wrap(f, err)
			}
			x = x.Elem()
		}
		c, err := encodeCell(x, f.path)
		if err != nil {
			return err
		}
		return wrap(f, b.StoreRef(c))
	case f.Type.Kind() == reflect.Map:
		d, err := encodeDict(x, f)
		if err != nil {
			return err
		}
		return wrap(f, b.StoreDict(d))
	case f.Type.Kind() == reflect.String && f.tag == "^":
		s := cell.BeginCell()
		if err := s.StoreStringSnake(x.String()); err != nil {
			return wrap(f, err)
		}
		return wrap(f, b.StoreRef(s.EndCell()))
	}
	leaf := f.leaf()
	if f.IsExported() {
		leaf.Elem().Field(0).Set(x)
	}
	if err := checkLeafOut(leaf.Elem().Field(0), f); err != nil {
		return err
	}
	c, err := tlb.ToCell(leaf.Interface())
	if err != nil {
		return wrap(f, err)
	}
	return wrap(f, b.StoreBuilder(c.ToBuilder()))
}

// checkLeafOut applies Tolk's rules tlb does not know to a value about to
// be written; x is the wrapper's own copy, so nil coins become zero here.
func checkLeafOut(x reflect.Value, f field) error {
	switch v := x.Interface().(type) {
	case *address.Address:
		if v == nil || v.IsAddrNone() {
			if f.optionalAddr() {
				return nil
			}
			return fmt.Errorf("%s: an address is required", f.path)
		}
		if v.Type() != address.StdAddress {
			return fmt.Errorf("%s: %s is not a standard address", f.path, v)
		}
	case *big.Int:
		if v == nil {
			x.Set(reflect.ValueOf(new(big.Int)))
		} else if v.Sign() < 0 {
			return fmt.Errorf("%s: negative value %s", f.path, v)
		}
	}
	return nil
}

func encodeDict(m reflect.Value, f field) (*cell.Dictionary, error) {
	if m.Len() == 0 {
		return nil, nil // an empty HashmapE: the Maybe bit alone
	}
	holder, err := f.dictValue()
	if err != nil {
		return nil, err
	}
	bits, _ := f.dictKeyBits()
	d := cell.NewDict(bits)
	it := m.MapRange()
	for it.Next() {
		holder.Field(0).Set(it.Value())
		vc, err := encodeCell(holder, fmt.Sprintf("%s[%x]", f.path, it.Key().Interface()))
		if err != nil {
			return nil, err
		}
		if err := d.Set(dictKey(it.Key(), bits), vc); err != nil {
			return nil, fmt.Errorf("%s[%x]: %w", f.path, it.Key().Interface(), err)
		}
	}
	return d, nil
}

func wrap(f field, err error) error {
	if err != nil {
		return fmt.Errorf("%s: %w", f.path, err)
	}
	return nil
}

// decodeCell reads all of c into v (an addressable struct).
func decodeCell(c *cell.Cell, v reflect.Value, path string) error {
	return decodeWhole(c.BeginParse(), v, path)
}

func decodeWhole(s *cell.Slice, v reflect.Value, path string) error {
	if err := decodeFields(s, v, 0, path); err != nil {
		return err
	}
	return leftOver(s, v, path)
}

// leftOver refuses a cell with more than v's layout: the contracts read
// every cell whole, and one with extra data has another layout.
func leftOver(s *cell.Slice, v reflect.Value, path string) error {
	if s.BitsLeft() == 0 && s.RefsNum() == 0 {
		return nil
	}
	last := v.Type().Field(v.NumField() - 1)
	for last.Tag.Get("tlb") == "." { // a struct stored inline ends with its own last field
		last = last.Type.Field(last.Type.NumField() - 1)
	}
	return fmt.Errorf("%s: %d bits and %d references left over after its last field, %s", path, s.BitsLeft(), s.RefsNum(), last.Name)
}

func decodeFields(s *cell.Slice, v reflect.Value, from int, path string) error {
	for i := from; i < v.NumField(); i++ {
		f := fieldAt(v, i, path)
		if f.tag == "-" {
			continue
		}
		if err := decodeField(s, v, i, f); err != nil {
			return err
		}
		if f.Type == reflect.TypeFor[tailCell]() {
			return nil
		}
	}
	return nil
}

func decodeField(s *cell.Slice, v reflect.Value, i int, f field) error {
	x := v.Field(i)
	switch {
	case f.Type == reflect.TypeFor[tailCell]():
		c, err := s.LoadRefCell()
		if err != nil {
			return fmt.Errorf("%s: tail cell: %w", f.parent, err)
		}
		ts := c.BeginParse()
		if err := decodeFields(ts, v, i+1, f.parent); err != nil {
			return err
		}
		return leftOver(ts, v, f.parent+" tail cell")
	case f.tag == ".":
		return decodeFields(s, x, 0, f.path)
	case f.child():
		if f.maybe() {
			has, err := s.LoadBoolBit()
			if err != nil || !has {
				return wrap(f, err)
			}
			x.Set(reflect.New(f.Type.Elem()))
			x = x.Elem()
		}
		c, err := s.LoadRefCell()
		if err != nil {
			return wrap(f, err)
		}
		return decodeCell(c, x, f.path)
	case f.Type.Kind() == reflect.Map:
		bits, err := f.dictKeyBits()
		if err != nil {
			return err
		}
		d, err := s.LoadDict(bits)
		if err != nil {
			return wrap(f, err)
		}
		return decodeDict(d, x, f)
	case f.Type.Kind() == reflect.String && f.tag == "^":
		c, err := s.LoadRefCell()
		if err != nil {
			return wrap(f, err)
		}
		// Strict where tonutils-go's LoadStringSnake drops stray bits.
		b, err := CellBytes(c, MaxSnakeString)
		if err != nil {
			return wrap(f, err)
		}
		x.SetString(string(b))
		return nil
	}
	leaf := f.leaf()
	if err := tlb.LoadFromCell(leaf.Interface(), s); err != nil {
		return wrap(f, err)
	}
	got := leaf.Elem().Field(0)
	if err := checkLeafIn(got, f); err != nil {
		return err
	}
	if f.IsExported() {
		x.Set(got)
	}
	return nil
}

// checkLeafIn applies Tolk's rules tlb does not know to a value just read:
// tlb loads addr_none as a none address, which an `address?` field holds
// as nil and an `address` field refuses.
func checkLeafIn(x reflect.Value, f field) error {
	a, ok := x.Interface().(*address.Address)
	if !ok {
		return nil
	}
	switch {
	case a.Type() == address.NoneAddress && f.optionalAddr():
		x.Set(reflect.Zero(x.Type()))
	case a.Type() == address.NoneAddress:
		return fmt.Errorf("%s: addr_none where an address is required", f.path)
	case a.Type() != address.StdAddress:
		return fmt.Errorf("%s: %s is not a standard address", f.path, a)
	}
	return nil
}

// decodeDict reads every entry of a map<uint256, V> or map<uint32, V>; an
// empty map is nil.
func decodeDict(d *cell.Dictionary, m reflect.Value, f field) error {
	if d == nil || d.IsEmpty() {
		m.Set(reflect.Zero(m.Type()))
		return nil
	}
	holder, err := f.dictValue()
	if err != nil {
		return err
	}
	kvs, err := d.LoadAll()
	if err != nil {
		return wrap(f, err)
	}
	bits, _ := f.dictKeyBits()
	m.Set(reflect.MakeMapWithSize(m.Type(), len(kvs)))
	for _, kv := range kvs {
		kb, err := kv.Key.LoadSlice(bits)
		if err != nil {
			return fmt.Errorf("%s: map key: %w", f.path, err)
		}
		var k reflect.Value
		if bits == 32 {
			k = reflect.ValueOf(binary.BigEndian.Uint32(kb))
		} else {
			k = reflect.ValueOf([32]byte(kb))
		}
		holder.SetZero()
		if err := decodeWhole(kv.Value, holder, fmt.Sprintf("%s[%x]", f.path, k.Interface())); err != nil {
			return err
		}
		m.SetMapIndex(k, holder.Field(0))
	}
	return nil
}
