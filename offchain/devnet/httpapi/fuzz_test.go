package httpapi

import (
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"math/big"
	"sort"
	"testing"

	"github.com/xssnick/tonutils-go/address"
	"github.com/xssnick/tonutils-go/tvm/cell"

	"github.com/cocoon-network/cocoon/offchain/boc/boctest"
)

// FuzzDevnetAPI drives runGetMethod, sendBoc and estimateFee through the
// real emulator with stacks and BOCs generated from the fuzzer's bytes:
// hand-shaped cells (exotic ones included, well-formed or not), the known
// malformed BOCs, valid cells, integers at TVM's bounds. It fails when the
// devnet answers 5xx, answers nothing, or an emulator process dies (the
// sandbox keeps the devnet alive, but a death means a checker let an input
// through). `go test` runs the seeds; CI runs the fuzzer for a bounded
// time (make fuzz-api).
func FuzzDevnetAPI(f *testing.F) {
	for _, seed := range [][]byte{
		{}, {0}, {1, 2, 3}, {0, 1, 8, 66, 2}, {1, 9, 70, 3}, {2, 10, 138, 4},
		[]byte("runGetMethod with a slice of a library"), {0, 3, 1, 8, 66, 2, 0, 0, 0, 0},
		{0, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}, {1, 255, 255, 255}, {2, 0x21, 0x22},
	} {
		f.Add(seed)
	}
	fx := newFixture(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		g := &gen{b: data}
		method, params := g.call(fx)
		status, res, err := fx.rawRPC(method, params)
		if err != nil {
			t.Fatalf("%s %v: %v", method, params, err)
		}
		if status >= 500 {
			t.Fatalf("%s %v: HTTP %d: %v", method, params, status, res)
		}
		if n := fx.e.Stats().EmulatorCrashes; n != 0 {
			t.Fatalf("%s %v: an emulator process died (%d so far): a checker let the input through", method, params, n)
		}
	})
}

// gen turns fuzzer bytes into API calls; past the end of its input it
// reads zeros, so every input is a call.
type gen struct {
	b   []byte
	off int
}

func (g *gen) byte() byte {
	if g.off >= len(g.b) {
		return 0
	}
	g.off++
	return g.b[g.off-1]
}

func (g *gen) bytes(n int) []byte {
	out := make([]byte, n)
	for i := range out {
		out[i] = g.byte()
	}
	return out
}

func (g *gen) call(fx *fixture) (string, map[string]any) {
	genesis := fx.e.GenesisAddress().String()
	addrs := []string{genesis, address.NewAddress(0, 0, make([]byte, 32)).String(), fx.addr.String()}
	addr := addrs[int(g.byte())%len(addrs)]
	switch g.byte() % 3 {
	case 0:
		methods := []string{"seqno", "get_public_key", "get_subwallet_id", "is_plugin_installed", "0", "85143", "-1"}
		stack := make([]any, int(g.byte())%5)
		for i := range stack {
			stack[i] = g.stackEntry()
		}
		return "runGetMethod", map[string]any{"address": addr, "method": methods[int(g.byte())%len(methods)], "stack": stack}
	case 1:
		return "sendBoc", map[string]any{"boc": g.boc()}
	default:
		p := map[string]any{"address": addr, "body": g.boc(), "ignore_chksig": g.byte()%2 == 0}
		if g.byte()%2 == 0 {
			p["init_code"], p["init_data"] = g.boc(), g.boc()
		}
		return "estimateFee", p
	}
}

func (g *gen) stackEntry() []any {
	switch g.byte() % 7 {
	case 0:
		n := new(big.Int).SetBytes(g.bytes(int(g.byte()) % 40))
		if g.byte()%2 == 1 {
			n.Neg(n)
		}
		return []any{"num", "0x" + n.Text(16)}
	case 1:
		return []any{"null"}
	case 2:
		return []any{"tvm.Cell", g.boc()}
	case 3:
		return []any{"tvm.Slice", g.boc()}
	case 4:
		return []any{"tvm.Builder", g.boc()}
	case 5:
		return []any{"tvm.Tuple", []any{}}
	default:
		return []any{"num", fmt.Sprint(int8(g.byte()))}
	}
}

// boc is base64 of: a known malformed BOC, a well-formed exotic cell, a
// valid ordinary cell, or cells shaped from the input (often malformed).
func (g *gen) boc() string {
	var raw []byte
	switch g.byte() % 4 {
	case 0:
		cases := boctest.Cases()
		raw = cases[int(g.byte())%len(cases)].BOC
	case 1:
		ex := boctest.Exotic()
		names := make([]string, 0, len(ex))
		for n := range ex {
			names = append(names, n)
		}
		sort.Strings(names)
		raw = ex[names[int(g.byte())%len(names)]]
	case 2:
		data := g.bytes(int(g.byte()) % 32)
		b := cell.BeginCell().MustStoreSlice(data, uint(g.byte())%(uint(len(data))*8+1))
		if g.byte()%2 == 0 {
			b.MustStoreRef(cell.BeginCell().MustStoreUInt(uint64(g.byte()), 8).EndCell())
		}
		raw = b.EndCell().ToBOC()
	default:
		cells := make([]boctest.Cell, 1+int(g.byte())%4)
		for i := range cells {
			c := boctest.Cell{D1: g.byte(), D2: g.byte()}
			c.Data = g.bytes((int(c.D2) + 1) / 2)
			for r := range int(c.D1 & 7) {
				if r >= 4 {
					break
				}
				c.Refs = append(c.Refs, i+1+int(g.byte())%len(cells))
			}
			cells[i] = c
		}
		raw = boctest.Serialize(cells)
		if g.byte()%4 == 0 {
			raw = binary.BigEndian.AppendUint16(raw, uint16(g.byte()))
		}
	}
	return base64.StdEncoding.EncodeToString(raw)
}
