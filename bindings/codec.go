package bindings

import (
	"errors"
	"fmt"
	"math/big"

	"github.com/xssnick/tonutils-go/address"
	"github.com/xssnick/tonutils-go/tvm/cell"
)

// This file holds the two halves of Tolk's serialisation rules (see the top
// of contracts/common/types.tolk) that every struct uses: a writer and a
// reader that remember their first error, so that a struct's layout reads as
// one list of fields in the order the contract declares them.

// maxCoins is the largest value a VarUInteger 16 holds (15 bytes).
var maxCoins = new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 120), big.NewInt(1))

type writer struct {
	b   *cell.Builder
	err error
}

func newWriter() *writer { return &writer{b: cell.BeginCell()} }

func (w *writer) fail(err error) {
	if w.err == nil {
		w.err = err
	}
}

func (w *writer) uint(v uint64, bits uint) {
	if w.err == nil {
		if bits < 64 && v>>bits != 0 {
			w.fail(fmt.Errorf("value %d does not fit in %d bits", v, bits))
			return
		}
		w.fail(w.b.StoreUInt(v, bits))
	}
}

func (w *writer) bool(v bool) {
	if w.err == nil {
		w.fail(w.b.StoreBoolBit(v))
	}
}

func (w *writer) u256(v [32]byte) {
	if w.err == nil {
		w.fail(w.b.StoreSlice(v[:], 256))
	}
}

func (w *writer) bits(v []byte, n uint) {
	if w.err == nil {
		if uint(len(v))*8 < n {
			w.fail(fmt.Errorf("%d bytes do not hold %d bits", len(v), n))
			return
		}
		w.fail(w.b.StoreSlice(v, n))
	}
}

// coins stores a VarUInteger 16; nil is zero.
func (w *writer) coins(v *big.Int) {
	if w.err != nil {
		return
	}
	if v == nil {
		v = new(big.Int)
	}
	if v.Sign() < 0 || v.Cmp(maxCoins) > 0 {
		w.fail(fmt.Errorf("coins value %s out of range", v))
		return
	}
	w.fail(w.b.StoreBigCoins(v))
}

// addr stores a Tolk `address`: a standard internal address, never none.
func (w *writer) addr(a *address.Address, field string) {
	if w.err != nil {
		return
	}
	if a == nil || a.IsAddrNone() {
		w.fail(fmt.Errorf("%s: an address is required", field))
		return
	}
	if a.Type() != address.StdAddress {
		w.fail(fmt.Errorf("%s: %s is not a standard address", field, a))
		return
	}
	w.fail(w.b.StoreAddr(a))
}

// optAddr stores a Tolk `address?`: addr_none (two zero bits) for nil.
func (w *writer) optAddr(a *address.Address, field string) {
	if a == nil || a.IsAddrNone() {
		w.uint(0, 2)
		return
	}
	w.addr(a, field)
}

// ref stores a `cell` or `Cell<T>`: a reference that must be present.
func (w *writer) ref(c *cell.Cell, field string) {
	if w.err != nil {
		return
	}
	if c == nil {
		w.fail(fmt.Errorf("%s: a cell is required", field))
		return
	}
	w.fail(w.b.StoreRef(c))
}

// maybeRef stores a `cell?`: a Maybe bit, then the reference.
func (w *writer) maybeRef(c *cell.Cell) {
	if w.err == nil {
		w.fail(w.b.StoreMaybeRef(c))
	}
}

// dict stores a map as a HashmapE: a Maybe bit, then the root reference.
func (w *writer) dict(d *cell.Dictionary) {
	if w.err != nil {
		return
	}
	if d == nil || d.IsEmpty() {
		w.fail(w.b.StoreMaybeRef(nil))
		return
	}
	w.fail(w.b.StoreMaybeRef(d.AsCell()))
}

// child stores v's own cell as a reference (a `Cell<T>` field).
func (w *writer) child(v interface{ ToCell() (*cell.Cell, error) }, field string) {
	if w.err != nil {
		return
	}
	c, err := v.ToCell()
	if err != nil {
		w.fail(fmt.Errorf("%s: %w", field, err))
		return
	}
	w.fail(w.b.StoreRef(c))
}

func (w *writer) end(what string) (*cell.Cell, error) {
	if w.err != nil {
		return nil, fmt.Errorf("building %s: %w", what, w.err)
	}
	return w.b.EndCell(), nil
}

type reader struct {
	s   *cell.Slice
	err error
}

func newReader(c *cell.Cell) *reader {
	if c == nil {
		return &reader{err: errors.New("no cell")}
	}
	return &reader{s: c.BeginParse()}
}

func (r *reader) fail(err error) {
	if r.err == nil {
		r.err = err
	}
}

func (r *reader) uint(bits uint) uint64 {
	if r.err != nil {
		return 0
	}
	v, err := r.s.LoadUInt(bits)
	r.fail(err)
	return v
}

func (r *reader) bool() bool {
	if r.err != nil {
		return false
	}
	v, err := r.s.LoadBoolBit()
	r.fail(err)
	return v
}

func (r *reader) u256() (v [32]byte) {
	if r.err != nil {
		return v
	}
	b, err := r.s.LoadSlice(256)
	r.fail(err)
	copy(v[:], b)
	return v
}

func (r *reader) bits(n uint) []byte {
	if r.err != nil {
		return nil
	}
	b, err := r.s.LoadSlice(n)
	r.fail(err)
	return b
}

func (r *reader) coins() *big.Int {
	if r.err != nil {
		return new(big.Int)
	}
	v, err := r.s.LoadBigCoins()
	if err != nil {
		r.fail(err)
		return new(big.Int)
	}
	return v
}

// addr reads a Tolk `address`: standard, not none.
func (r *reader) addr(field string) *address.Address {
	a := r.optAddr(field)
	if r.err == nil && a == nil {
		r.fail(fmt.Errorf("%s: addr_none where an address is required", field))
	}
	return a
}

// optAddr reads a Tolk `address?`; addr_none is nil.
func (r *reader) optAddr(field string) *address.Address {
	if r.err != nil {
		return nil
	}
	a, err := r.s.LoadAddr()
	if err != nil {
		r.fail(fmt.Errorf("%s: %w", field, err))
		return nil
	}
	switch a.Type() {
	case address.NoneAddress:
		return nil
	case address.StdAddress:
		return a
	}
	r.fail(fmt.Errorf("%s: %s is not a standard address", field, a))
	return nil
}

func (r *reader) ref(field string) *cell.Cell {
	if r.err != nil {
		return nil
	}
	c, err := r.s.LoadRefCell()
	if err != nil {
		r.fail(fmt.Errorf("%s: %w", field, err))
	}
	return c
}

func (r *reader) maybeRef(field string) *cell.Cell {
	if r.err != nil {
		return nil
	}
	s, err := r.s.LoadMaybeRef()
	if err != nil {
		r.fail(fmt.Errorf("%s: %w", field, err))
		return nil
	}
	if s == nil {
		return nil
	}
	c, err := s.ToCell()
	r.fail(err)
	return c
}

// dict reads a HashmapE with 256-bit keys; an empty map is nil.
func (r *reader) dict(field string) *cell.Dictionary {
	c := r.maybeRef(field)
	if c == nil {
		return nil
	}
	return c.AsDict(256)
}

// end checks that the whole cell was read, as Tolk's fromCell does by
// default: a cell with extra data has another layout than the one expected.
func (r *reader) end(what string) error {
	if r.err == nil && (r.s.BitsLeft() != 0 || r.s.RefsNum() != 0) {
		r.fail(fmt.Errorf("%d bits and %d references left over", r.s.BitsLeft(), r.s.RefsNum()))
	}
	if r.err != nil {
		return fmt.Errorf("parsing %s: %w", what, r.err)
	}
	return nil
}

// opcode reads and checks a message's 32-bit opcode.
func (r *reader) opcode(want uint32, what string) {
	got := uint32(r.uint(32))
	if r.err == nil && got != want {
		r.fail(fmt.Errorf("opcode 0x%08x is not %s (0x%08x)", got, what, want))
	}
}

func key256(k [32]byte) *cell.Cell {
	return cell.BeginCell().MustStoreSlice(k[:], 256).EndCell()
}

// encodeMap builds a map<uint256, V> (nil when empty, which Tolk stores as
// an empty HashmapE) with each value stored inline in its leaf.
func encodeMap[V any](m map[[32]byte]V, store func(w *writer, v V)) (*cell.Dictionary, error) {
	if len(m) == 0 {
		return nil, nil
	}
	d := cell.NewDict(256)
	for k, v := range m {
		w := newWriter()
		store(w, v)
		if w.err != nil {
			return nil, fmt.Errorf("map value %x: %w", k, w.err)
		}
		if err := d.Set(key256(k), w.b.EndCell()); err != nil {
			return nil, fmt.Errorf("map key %x: %w", k, err)
		}
	}
	return d, nil
}

// decodeMap reads every entry of a map<uint256, V>; an empty map is nil.
func decodeMap[V any](d *cell.Dictionary, load func(r *reader) V) (map[[32]byte]V, error) {
	if d == nil || d.IsEmpty() {
		return nil, nil
	}
	kvs, err := d.LoadAll()
	if err != nil {
		return nil, err
	}
	m := make(map[[32]byte]V, len(kvs))
	for _, kv := range kvs {
		kb, err := kv.Key.LoadSlice(256)
		if err != nil {
			return nil, fmt.Errorf("map key: %w", err)
		}
		var k [32]byte
		copy(k[:], kb)
		vc, err := kv.Value.ToCell()
		if err != nil {
			return nil, err
		}
		r := newReader(vc)
		v := load(r)
		if err := r.end("map value"); err != nil {
			return nil, fmt.Errorf("key %x: %w", k, err)
		}
		m[k] = v
	}
	return m, nil
}

// maybeChild stores v as a Maybe ref (`Cell<T>?`): the 0 bit when v is nil.
func maybeChild[T interface{ ToCell() (*cell.Cell, error) }](w *writer, v *T) error {
	if v == nil {
		w.maybeRef(nil)
		return nil
	}
	c, err := (*v).ToCell()
	if err != nil {
		return err
	}
	w.maybeRef(c)
	return nil
}

// parseMaybe parses an optional child cell; nil stays nil.
func parseMaybe[T any](c *cell.Cell, parse func(*cell.Cell) (*T, error), what string) (*T, error) {
	if c == nil {
		return nil, nil
	}
	v, err := parse(c)
	if err != nil {
		return nil, fmt.Errorf("parsing %s: %w", what, err)
	}
	return v, nil
}
