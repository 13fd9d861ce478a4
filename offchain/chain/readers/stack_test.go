package readers

import (
	"bytes"
	"math/big"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/xssnick/tonutils-go/address"
	"github.com/xssnick/tonutils-go/tvm/cell"

	"github.com/cocoon-network/cocoon/bindings"
)

// allKinds has one field of every stack type.
type allKinds struct {
	Skipped   string           `stack:"-"`
	Small     uint8            `stack:"uint,8"`
	Big       uint64           `stack:"uint,64"`
	Amount    *big.Int         `stack:"coins"`
	Hash      [32]byte         `stack:"u256"`
	Flag      bool             `stack:"bool"`
	Who       *address.Address `stack:"addr"`
	MaybeWho  *address.Address `stack:"addr?"`
	Body      *cell.Cell       `stack:"cell"`
	MaybeBody *cell.Cell       `stack:"cell?"`
	Text      string           `stack:"snake"`
}

var longText = "https://worker.example:8443/" + strings.Repeat("path/", 60)

var testAddr = address.NewAddress(0, 0, bytes.Repeat([]byte{7}, 32))

func addrSlice(a *address.Address) *cell.Slice { return cell.BeginCell().MustStoreAddr(a).ToSlice() }

func snake(t *testing.T, s string) *cell.Cell {
	t.Helper()
	c, err := bindings.SnakeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func pow2(n uint) *big.Int { return new(big.Int).Lsh(big.NewInt(1), n) }

// goodStack is a valid stack for allKinds and the view it decodes to.
func goodStack(t *testing.T) ([]any, allKinds) {
	body := cell.BeginCell().MustStoreUInt(5, 8).EndCell()
	hash := [32]byte{31: 9}
	hash[0] = 0xff
	vals := []any{
		big.NewInt(255),
		new(big.Int).SetUint64(1<<64 - 1),
		new(big.Int).Sub(pow2(120), big.NewInt(1)),
		new(big.Int).SetBytes(hash[:]),
		big.NewInt(-1),
		addrSlice(testAddr),
		nil,
		body,
		nil,
		snake(t, longText), // spans three cells
	}
	want := allKinds{
		Small: 255, Big: 1<<64 - 1, Amount: new(big.Int).Sub(pow2(120), big.NewInt(1)), Hash: hash, Flag: true,
		Who: testAddr, Body: body, Text: longText,
	}
	return vals, want
}

var viewCmp = cmp.Options{
	cmp.Comparer(func(a, b *big.Int) bool { return (a == nil && b == nil) || (a != nil && b != nil && a.Cmp(b) == 0) }),
	cmp.Comparer(func(a, b *address.Address) bool {
		return (a == nil && b == nil) || (a != nil && b != nil && a.Equals(b))
	}),
	cmp.Comparer(func(a, b *cell.Cell) bool {
		return (a == nil && b == nil) || (a != nil && b != nil && bytes.Equal(a.Hash(), b.Hash()))
	}),
}

func TestDecodeStackReadsEveryKind(t *testing.T) {
	vals, want := goodStack(t)
	got := allKinds{Skipped: "kept"}
	if err := decodeStack("test_getter", vals, &got); err != nil {
		t.Fatal(err)
	}
	want.Skipped = "kept"
	if diff := cmp.Diff(want, got, viewCmp); diff != "" {
		t.Errorf("decoded view (-want +got):\n%s", diff)
	}

	// The other accepted forms: false, an address given as a cell,
	// addr_none for addr?, a slice for a present cell?.
	vals[4] = big.NewInt(0)
	vals[6] = addrSlice(address.NewAddressNone())
	vals[8] = cell.BeginCell().MustStoreUInt(1, 1).ToSlice()
	vals[5] = cell.BeginCell().MustStoreAddr(testAddr).EndCell()
	got = allKinds{}
	if err := decodeStack("test_getter", vals, &got); err != nil {
		t.Fatal(err)
	}
	if got.Flag || got.MaybeWho != nil || !got.Who.Equals(testAddr) || got.MaybeBody == nil || got.MaybeBody.BitsSize() != 1 {
		t.Errorf("alternative forms decoded to %+v", got)
	}
}

// TestDecodeStackRejects changes one value of a good stack at a time: each
// must fail with an error naming the get-method and the field.
func TestDecodeStackRejects(t *testing.T) {
	extern := cell.BeginCell().MustStoreAddr(address.NewAddressExt(0, 8, []byte{1})).ToSlice()
	trailing := cell.BeginCell().MustStoreAddr(testAddr).MustStoreUInt(1, 1).ToSlice()
	notSnake := cell.BeginCell().MustStoreUInt(1, 3).EndCell()
	empty := cell.BeginCell().EndCell()
	twoRefs := cell.BeginCell().MustStoreRef(empty).MustStoreRef(empty).EndCell()
	tuple := []any{big.NewInt(1)}
	builder := cell.BeginCell()
	for _, tc := range []struct {
		name  string
		index int // of the value replaced
		value any
		field string
		want  string
	}{
		// wrong type, per kind
		{"cell for a uint", 0, cell.BeginCell().EndCell(), "Small", "want an integer"},
		{"slice for coins", 2, addrSlice(testAddr), "Amount", "want an integer"},
		{"tuple for a u256", 3, tuple, "Hash", "want an integer"},
		{"builder for a bool", 4, builder, "Flag", "want an integer"},
		{"integer for an address", 5, big.NewInt(1), "Who", "want an address slice"},
		{"integer for a nullable address", 6, big.NewInt(1), "MaybeWho", "want an address slice"},
		{"integer for a cell", 7, big.NewInt(1), "Body", "want a cell"},
		{"tuple for a nullable cell", 8, tuple, "MaybeBody", "want a cell"},
		{"integer for a snake string", 9, big.NewInt(1), "Text", "want a cell"},
		// typed nil pointers, which no TVM value decodes to
		{"nil *big.Int", 0, (*big.Int)(nil), "Small", "want an integer"},
		{"nil *cell.Slice for an address", 6, (*cell.Slice)(nil), "MaybeWho", "want an address slice"},
		{"nil *cell.Cell for a cell", 8, (*cell.Cell)(nil), "MaybeBody", "want a cell"},
		{"nil *cell.Cell for a snake string", 9, (*cell.Cell)(nil), "Text", "want a cell"},
		// null where not nullable
		{"null uint", 0, nil, "Small", "got null"},
		{"null uint64", 1, nil, "Big", "got null"},
		{"null coins", 2, nil, "Amount", "got null"},
		{"null u256", 3, nil, "Hash", "got null"},
		{"null bool", 4, nil, "Flag", "got null"},
		{"null address", 5, nil, "Who", "got null"},
		{"null cell", 7, nil, "Body", "got null"},
		{"null snake string", 9, nil, "Text", "got null"},
		// out of range
		{"uint8 of 256", 0, big.NewInt(256), "Small", "out of range for uint8"},
		{"negative uint8", 0, big.NewInt(-1), "Small", "out of range for uint8"},
		{"uint64 of 2^64", 1, pow2(64), "Big", "out of range for uint64"},
		{"negative coins", 2, big.NewInt(-1), "Amount", "not an amount of coins"},
		{"coins of 2^120", 2, pow2(120), "Amount", "not an amount of coins"},
		{"u256 of 2^256", 3, pow2(256), "Hash", "out of range for uint256"},
		{"negative u256", 3, big.NewInt(-5), "Hash", "out of range for uint256"},
		{"bool of 1", 4, big.NewInt(1), "Flag", "not a TVM boolean"},
		{"bool of -2", 4, big.NewInt(-2), "Flag", "not a TVM boolean"},
		// malformed values
		{"addr_none for an address", 5, addrSlice(address.NewAddressNone()), "Who", "addr_none"},
		{"external address", 6, extern, "MaybeWho", "want a standard one"},
		{"bits after the address", 5, trailing, "Who", "after the address"},
		{"empty address slice", 5, cell.BeginCell().ToSlice(), "Who", "reading an address"},
		{"stray bits in a snake string", 9, notSnake, "Text", "want whole bytes"},
		{"snake string with two refs", 9, twoRefs, "Text", "at most one ref"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			vals, _ := goodStack(t)
			vals[tc.index] = tc.value
			var got allKinds
			err := decodeStack("test_getter", vals, &got)
			if err == nil {
				t.Fatalf("decoded %+v; want an error", got)
			}
			for _, s := range []string{"get-method test_getter", "field " + tc.field + " ", tc.want} {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not say %q", err, s)
				}
			}
		})
	}
}

func TestDecodeStackCount(t *testing.T) {
	vals, _ := goodStack(t)
	for _, tc := range []struct {
		name string
		vals []any
	}{
		{"empty", nil},
		{"one short", vals[:len(vals)-1]},
		{"one extra", append(append([]any{}, vals...), big.NewInt(0))},
		{"the view as one tuple", []any{vals}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got allKinds
			err := decodeStack("test_getter", tc.vals, &got)
			want := "get-method test_getter returned " + strconv.Itoa(len(tc.vals)) + " values, want 10"
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("error %v; want %q", err, want)
			}
		})
	}
}

// TestDecodeStackBadViews: a view whose tags do not fit its Go types is
// reported, not a panic.
func TestDecodeStackBadViews(t *testing.T) {
	one := []any{big.NewInt(1)}
	for _, tc := range []struct {
		name string
		dst  any
		want string
	}{
		{"no tag", &struct{ A uint8 }{}, "has no stack tag"},
		{"unknown tag", &struct {
			A uint8 `stack:"int"`
		}{}, `unknown stack tag "int"`},
		{"uint wider than the Go type", &struct {
			A uint8 `stack:"uint,16"`
		}{}, "do not fit"},
		{"uint of 65 bits", &struct {
			A uint64 `stack:"uint,65"`
		}{}, "N in 1..64"},
		{"uint without bits", &struct {
			A uint64 `stack:"uint"`
		}{}, "want uint,N"},
		{"uint into a signed integer", &struct {
			A int64 `stack:"uint,8"`
		}{}, "want a Go unsigned integer"},
		{"coins into uint64", &struct {
			A uint64 `stack:"coins"`
		}{}, "want a Go *big.Int"},
		{"nullable integer", &struct {
			A *big.Int `stack:"coins?"`
		}{}, "only addr and cell may be null"},
		{"unexported field", &struct {
			a bool `stack:"bool"`
		}{}, "not exported"},
		{"not a pointer", struct {
			A bool `stack:"bool"`
		}{}, "want a pointer to a struct"},
		{"pointer to a non-struct", new(int), "is not a struct"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := decodeStack("test_getter", one, tc.dst)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "test_getter") {
				t.Errorf("error %v; want one naming test_getter and saying %q", err, tc.want)
			}
		})
	}
}

func TestDecodeSingle(t *testing.T) {
	var a *address.Address
	if err := decodeSingle("owner", []any{addrSlice(testAddr)}, "addr", &a); err != nil || !a.Equals(testAddr) {
		t.Errorf("owner = %v, %v", a, err)
	}
	var c *cell.Cell
	if err := decodeSingle("request", []any{nil}, "cell?", &c); err != nil || c != nil {
		t.Errorf("request = %v, %v; want nil, nil", c, err)
	}
	for _, tc := range []struct {
		name string
		vals []any
		tag  string
		dst  any
		want string
	}{
		{"no value", nil, "bool", new(bool), "returned 0 values, want 1"},
		{"two values", []any{big.NewInt(0), big.NewInt(0)}, "bool", new(bool), "returned 2 values, want 1"},
		{"null owner", []any{nil}, "addr", new(*address.Address), "got null"},
		{"version out of range", []any{pow2(32)}, "uint,32", new(uint32), "out of range for uint32"},
		{"tag on the wrong type", []any{big.NewInt(0)}, "bool", new(uint32), "want a Go bool"},
		{"not a pointer", []any{big.NewInt(0)}, "bool", false, "want a pointer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := decodeSingle("getter", tc.vals, tc.tag, tc.dst)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "get-method getter") {
				t.Errorf("error %v; want one naming the getter and saying %q", err, tc.want)
			}
		})
	}
}

// FuzzDecodeStack builds stacks of every kind of value (nulls, integers of
// any size and sign, cells and slices of any bits, addresses, tuples) from
// the input and decodes them into the real views: an error is fine, a
// panic is not. `go test` runs the seeds; `go test -fuzz` explores.
func FuzzDecodeStack(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{1, 5, 2, 3, 0xff, 0xfe, 0, 5, 7, 3, 4, 1, 2, 3, 4, 6, 4, 9})
	f.Add(bytes.Repeat([]byte{2, 33, 0x80}, 14))
	f.Fuzz(func(t *testing.T, data []byte) {
		next := func() byte {
			if len(data) == 0 {
				return 0
			}
			b := data[0]
			data = data[1:]
			return b
		}
		take := func(n int) []byte {
			n = min(n, len(data))
			b := data[:n]
			data = data[n:]
			return b
		}
		var vals []any
		for len(data) > 0 && len(vals) < 20 {
			switch next() % 7 {
			case 0:
				vals = append(vals, nil)
			case 1:
				vals = append(vals, big.NewInt(int64(int8(next()))))
			case 2:
				n := new(big.Int).SetBytes(take(int(next() % 40)))
				if next()%2 == 1 {
					n.Neg(n)
				}
				vals = append(vals, n)
			case 3, 4:
				bits := uint(next()) % 64
				b := cell.BeginCell().MustStoreSlice(append(take(8), make([]byte, 8)...), bits)
				if next()%2 == 1 {
					b.MustStoreRef(cell.BeginCell().MustStoreSlice(take(4), uint(len(data)%4)*8).EndCell())
				}
				if len(data)%2 == 0 {
					vals = append(vals, b.EndCell())
				} else {
					vals = append(vals, b.ToSlice())
				}
			case 5:
				h := append(take(32), make([]byte, 32)...)[:32]
				vals = append(vals, addrSlice(address.NewAddress(0, next(), h)))
			case 6:
				vals = append(vals, []any{big.NewInt(int64(next()))})
			}
		}
		var a allKinds
		_ = decodeStack("fuzz", vals, &a)
		var w WorkerStateView
		_ = decodeStack("fuzz", vals, &w)
		var j JobTermsView
		_ = decodeStack("fuzz", vals, &j)
		for i := range vals {
			for _, tag := range []string{"addr?", "cell", "snake", "u256", "bool"} {
				var dst any
				switch tag {
				case "addr?":
					dst = new(*address.Address)
				case "cell":
					dst = new(*cell.Cell)
				case "snake":
					dst = new(string)
				case "u256":
					dst = new([32]byte)
				case "bool":
					dst = new(bool)
				}
				_ = decodeSingle("fuzz", vals[i:i+1], tag, dst)
			}
		}
	})
}
