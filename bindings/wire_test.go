package bindings

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"go/ast"
	"go/constant"
	"go/parser"
	"go/token"
	"go/types"
	"math/big"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/xssnick/tonutils-go/address"
	"github.com/xssnick/tonutils-go/tvm/cell"
)

// cellOf builds a cell by hand, for layouts the encoder refuses to write.
func cellOf(build func(b *cell.Builder)) *cell.Cell {
	b := cell.BeginCell()
	build(b)
	return b.EndCell()
}

// withExtra returns c with n more zero bits and, if ref is set, one more
// reference: a cell longer than its layout.
func withExtra(c *cell.Cell, n uint, ref bool) *cell.Cell {
	b := c.ToBuilder()
	b.MustStoreUInt(0, n)
	if ref {
		b.MustStoreRef(cell.BeginCell().EndCell())
	}
	return b.EndCell()
}

func TestStrictDecode(t *testing.T) {
	terms := MustCell(Encode(sampleTerms()))
	tail := terms.MustPeekRef(0)
	termsCutShort := cellOf(func(b *cell.Builder) { // the head of JobTerms without its tail reference
		s := terms.BeginParse()
		b.MustStoreSlice(s.MustLoadSlice(terms.BitsSize()), terms.BitsSize())
	})
	termsLongTail := cellOf(func(b *cell.Builder) {
		s := terms.BeginParse()
		b.MustStoreSlice(s.MustLoadSlice(terms.BitsSize()), terms.BitsSize())
		b.MustStoreRef(withExtra(tail, 1, false))
	})
	jobCreate := func(t *cell.Cell) *cell.Cell {
		return cellOf(func(b *cell.Builder) {
			b.MustStoreUInt(uint64(OpJobCreate), 32).MustStoreUInt(1, 64).MustStoreRef(t).MustStoreMaybeRef(nil)
		})
	}
	setTreasury := func(a *address.Address) *cell.Cell {
		return cellOf(func(b *cell.Builder) {
			b.MustStoreUInt(uint64(OpSetTreasury), 32).MustStoreUInt(1, 64).MustStoreAddr(a)
		})
	}
	price := MustCell(Encode(ModelPrice{PriceIn: big.NewInt(1), PriceOut: big.NewInt(2)}))
	models := cell.NewDict(256)
	if err := models.Set(cellOf(func(b *cell.Builder) { b.MustStoreSlice(make([]byte, 32), 256) }), withExtra(price, 2, false)); err != nil {
		t.Fatal(err)
	}
	extern := address.NewAddressExt(0, 8, []byte{0xab})

	cases := []struct {
		name string
		body *cell.Cell
		want string // the error names the message (or layout) and the field
	}{
		{"trailing bits", withExtra(MustCell(Encode(TopUp{QueryID: 1})), 3, false), "TopUp: 3 bits and 0 references left over after its last field, QueryID"},
		{"trailing ref", withExtra(MustCell(Encode(TopUp{QueryID: 1})), 0, true), "TopUp: 0 bits and 1 references left over"},
		{"trailing bits in a referenced cell", jobCreate(withExtra(terms, 1, false)), "JobCreate.Terms: 1 bits and 0 references left over after its last field, IsPublic"},
		{"trailing ref in a referenced cell", jobCreate(withExtra(terms, 0, true)), "JobCreate.Terms: 0 bits and 1 references left over"},
		{"trailing bits in the terms' tail", jobCreate(termsLongTail), "JobCreate.Terms tail cell: 1 bits and 0 references left over after its last field, IsPublic"},
		{"trailing bits in a map value", cellOf(func(b *cell.Builder) { b.MustStoreMaybeRef(models.AsCell()) }), "Models[0000000000000000000000000000000000000000000000000000000000000000]: 2 bits and 0 references left over after its last field, PriceOut"},
		{"missing ref", cellOf(func(b *cell.Builder) { b.MustStoreUInt(uint64(OpJobCreate), 32).MustStoreUInt(1, 64) }), "JobCreate.Terms: no more refs"},
		{"missing ref in a referenced cell", jobCreate(termsCutShort), "JobCreate.Terms: tail cell: no more refs"},
		{"Maybe bit set, reference missing", cellOf(func(b *cell.Builder) {
			b.MustStoreUInt(uint64(OpUpgradeCode), 32).MustStoreUInt(1, 64).MustStoreUInt(0b100, 3)
		}), "UpgradeCode.RootCode: "},
		{"cut short", cellOf(func(b *cell.Builder) { b.MustStoreUInt(uint64(OpTopUp), 32).MustStoreUInt(0, 10) }), "TopUp.QueryID: "},
		{"none address where required", setTreasury(address.NewAddressNone()), "SetTreasury.Treasury: addr_none where an address is required"},
		{"none address where required, nested", jobCreate(MustCell(Encode(struct {
			ModelID [32]byte         `tlb:"bits 256"`
			Worker  *address.Address `tlb:"addr" tolk:"address?"`
		}{}))), "JobCreate.Terms.Worker: addr_none where an address is required"},
		{"non-standard address", setTreasury(extern), "SetTreasury.Treasury: EXT:"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			if strings.Contains(tc.want, "Models[") {
				_, err = DecodeModels(tc.body.MustPeekRef(0))
			} else {
				_, err = DecodeBody(tc.body)
			}
			if err == nil {
				t.Fatal("decoded without an error")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not say %q", err, tc.want)
			}
		})
	}
}

func TestStrictDecodeOpcode(t *testing.T) {
	cases := []struct {
		name string
		body *cell.Cell
		want string
	}{
		{"unknown opcode", cellOf(func(b *cell.Builder) { b.MustStoreUInt(0x12345678, 32).MustStoreUInt(1, 64) }), "opcode 0x12345678: not a Cocoon message"},
		{"too short for an opcode", cellOf(func(b *cell.Builder) { b.MustStoreUInt(0xc0c0, 16) }), "not a Cocoon message"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeBody(tc.body)
			if !errors.Is(err, ErrUnknownOpcode) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want ErrUnknownOpcode saying %q", err, tc.want)
			}
		})
	}
	if _, ok := OpcodeOf(RootParams{}); ok {
		t.Error("RootParams, a layout, has an opcode")
	}
	if got := OpcodeName(0x12345678); got != "op 0x12345678" {
		t.Errorf("OpcodeName of an unknown opcode = %q", got)
	}
	if got := OpcodeName(OpJobClosed); got != "JobClosed" {
		t.Errorf("OpcodeName(OpJobClosed) = %q", got)
	}
	_, err := Parse[Withdraw](MustCell(Encode(TopUp{QueryID: 1})))
	if !errors.Is(err, ErrUnknownOpcode) || !strings.Contains(err.Error(), "body is not Withdraw (opcode 0xc0c00034)") {
		t.Fatalf("Parse[Withdraw] of a TopUp: %v", err)
	}
}

func TestStrictEncode(t *testing.T) {
	cases := []struct {
		name string
		v    any
		want string
	}{
		{"nil address where required", SetTreasury{}, "SetTreasury.Treasury: an address is required"},
		{"none address where required", ProposeOwner{NewOwner: address.NewAddressNone()}, "ProposeOwner.NewOwner: an address is required"},
		{"nil address where required, nested", JobCreate{Terms: JobTerms{}}, "JobCreate.Terms.Worker: an address is required"},
		{"non-standard address", Accept{Treasury: address.NewAddressExt(0, 8, []byte{1})}, "Accept.Treasury: EXT:"},
		{"negative coins", Offer{Client: testAddr(1), PriceIn: big.NewInt(-1)}, "Offer.PriceIn: negative value -1"},
		{"coins too large", JobClosed{Fee: new(big.Int).Lsh(big.NewInt(1), 120)}, "JobClosed.Fee: "},
		{"coins too large in a map value", RegisterWorker{Owner: testAddr(1), Models: Models{{}: {PriceOut: new(big.Int).Lsh(big.NewInt(1), 120)}}}, "RegisterWorker.Models[0000000000000000000000000000000000000000000000000000000000000000].Value.PriceOut: "},
		{"missing cell", Activate{Snapshot: ParamsSnapshot{Treasury: testAddr(1)}}, "Activate.Snapshot.JobCode: "},
		{"not a struct", 42, "not a message or layout"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Encode(tc.v)
			if err == nil {
				t.Fatal("encoded without an error")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not say %q", err, tc.want)
			}
		})
	}
}

// TestOptionalValues checks what Tolk's nullable fields and nil Go values
// become: nil coins are zero, a nil `address?` is addr_none and reads back
// as nil, a nil `Cell<T>?` is a 0 bit.
func TestOptionalValues(t *testing.T) {
	nilCoins := MustCell(Encode(JobClosed{QueryID: 1}))
	zeroCoins := MustCell(Encode(JobClosed{QueryID: 1, Charge: new(big.Int), Fee: new(big.Int)}))
	if string(nilCoins.Hash()) != string(zeroCoins.Hash()) {
		t.Error("nil coins are not encoded as zero")
	}
	js := JobState{Terms: sampleTerms()}
	js.Terms.Callback = nil
	c := MustCell(Encode(js))
	got, err := Parse[JobState](c)
	if err != nil {
		t.Fatal(err)
	}
	if got.Treasury != nil || got.Terms.Callback != nil {
		t.Errorf("addr_none read back as %v / %v, want nil", got.Treasury, got.Terms.Callback)
	}
	ws, err := Parse[WorkerStorage](MustCell(Encode(WorkerStorage{Root: testAddr(1), Owner: testAddr(2)})))
	if err != nil || ws.State != nil {
		t.Errorf("WorkerStorage without state: %+v, %v", ws, err)
	}
}

// layouts are the types Encode and Parse are used with besides messages.
func layouts() []any {
	return []any{RootStorage{}, WorkerStorage{}, JobStorage{}, AgreedTerms{}, receiptBody{}, relayData{}, modelsDict{}}
}

// TestTagWidths checks each `## N` tag against its Go type: tlb writes the
// low N bits of a wider value without a word, so they must be the same.
func TestTagWidths(t *testing.T) {
	seen := map[reflect.Type]bool{}
	var walk func(tp reflect.Type)
	walk = func(tp reflect.Type) {
		for tp.Kind() == reflect.Pointer || tp.Kind() == reflect.Map {
			tp = tp.Elem()
		}
		if tp.Kind() != reflect.Struct || seen[tp] || tp.PkgPath() != reflect.TypeFor[TopUp]().PkgPath() {
			return
		}
		seen[tp] = true
		for i := 0; i < tp.NumField(); i++ {
			f := tp.Field(i)
			tag := f.Tag.Get("tlb")
			if n, ok := strings.CutPrefix(tag, "## "); ok {
				if bits, _ := strconv.Atoi(n); f.Type.Kind() < reflect.Uint8 || f.Type.Kind() > reflect.Uint64 || f.Type.Bits() != bits {
					t.Errorf("%s.%s is a %s tagged %q", tp.Name(), f.Name, f.Type, tag)
				}
			}
			if _, vt, ok := strings.Cut(tag, "-> "); ok && strings.HasPrefix(vt, "## ") {
				if bits, _ := strconv.Atoi(vt[3:]); f.Type.Elem().Bits() != bits {
					t.Errorf("%s.%s has %s values tagged %q", tp.Name(), f.Name, f.Type.Elem(), tag)
				}
			}
			walk(f.Type)
		}
	}
	for _, m := range messages() {
		walk(m.t)
	}
	for _, v := range layouts() {
		walk(reflect.TypeOf(v))
	}
	if len(seen) < 50 {
		t.Errorf("walked %d types; the walk misses some", len(seen))
	}
}

// TestOpcodesMatchTolk checks every `struct (0x...) Name` of types.tolk
// against the message of that name, and the Op constants against both.
func TestOpcodesMatchTolk(t *testing.T) {
	src, err := os.ReadFile("../contracts/common/types.tolk")
	if err != nil {
		t.Fatal(err)
	}
	tolk := map[string]uint32{}
	for _, m := range regexp.MustCompile(`(?m)^struct \((0x[0-9a-f]{8})\) (\w+)`).FindAllStringSubmatch(string(src), -1) {
		op, _ := strconv.ParseUint(m[1], 0, 32)
		tolk[m[2]] = uint32(op)
	}
	goOps := map[string]uint32{}
	for _, m := range messages() {
		op, ok := OpcodeOf(reflect.New(m.t).Interface())
		if !ok || op != m.op {
			t.Errorf("%s's tag says 0x%08x (%v), the table 0x%08x", m.t.Name(), op, ok, m.op)
		}
		goOps[m.t.Name()] = op
	}
	if !reflect.DeepEqual(tolk, goOps) {
		t.Errorf("types.tolk messages %v\nGo messages %v", tolk, goOps)
	}

	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "messages.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	info := &types.Info{Defs: map[*ast.Ident]types.Object{}}
	_, _ = (&types.Config{Error: func(error) {}}).Check("bindings", fset, []*ast.File{f}, info)
	consts := 0
	for id, obj := range info.Defs {
		c, ok := obj.(*types.Const)
		if !ok || !strings.HasPrefix(id.Name, "Op") {
			continue
		}
		consts++
		v, _ := constant.Uint64Val(c.Val())
		if name := strings.TrimPrefix(id.Name, "Op"); goOps[name] != uint32(v) {
			t.Errorf("%s = 0x%08x, but %s's tag says 0x%08x", id.Name, v, name, goOps[name])
		}
	}
	if consts != len(goOps) {
		t.Errorf("%d Op constants for %d messages", consts, len(goOps))
	}
	if ops := Opcodes(); len(ops) != len(goOps) {
		t.Errorf("Opcodes() lists %d opcodes for %d messages", len(ops), len(goOps))
	}
}

// FuzzDecodeBody feeds DecodeBody a sample message's opcode and references
// with other bits: it must refuse or decode without panicking, and what it
// decodes must encode again.
func FuzzDecodeBody(f *testing.F) {
	samples := sampleMessages()
	for i, m := range samples {
		c := MustCell(Encode(m))
		f.Add(uint8(i), c.BeginParse().MustLoadSlice(c.BitsSize())[4:])
	}
	f.Fuzz(func(t *testing.T, which uint8, data []byte) {
		sample := MustCell(Encode(samples[int(which)%len(samples)]))
		op := sample.BeginParse().MustLoadUInt(32)
		if len(data) > (1023-32)/8 {
			data = data[:(1023-32)/8]
		}
		b := cell.BeginCell().MustStoreUInt(op, 32).MustStoreSlice(data, uint(8*len(data)))
		for i := 0; i < int(sample.RefsNum()); i++ {
			b.MustStoreRef(sample.MustPeekRef(i))
		}
		m, err := DecodeBody(b.EndCell())
		if err != nil {
			return
		}
		again, err := Encode(m)
		if err != nil {
			t.Fatalf("decoded %+v does not encode: %v", m, err)
		}
		if _, err := DecodeBody(again); err != nil {
			t.Fatalf("re-encoded %+v does not decode: %v", m, err)
		}
	})
}

// TestWireUnchanged pins the cells of every sample message and of full
// storages: first to what the hand-written codec this package had before its
// messages were declared with tlb tags produced, since then re-pinned only
// when the contracts' wire changed on purpose (contracts v3: Slash's deadline,
// WorkerState.Renewer and Agreement, WorkerCounters.Slashed, AgreeTerms, Renew, ModelInfo.RequireGPU).
func TestWireUnchanged(t *testing.T) {
	snap, params := sampleSnapshot(), sampleParams()
	codes := ChildCodes{WorkerCode: cell.BeginCell().MustStoreUInt(1, 4).EndCell(), JobCode: cell.BeginCell().MustStoreUInt(2, 4).EndCell()}
	values := []any{
		RootStorage{Owner: testAddr(1), PendingOwner: testAddr(2), Version: 7, Params: params,
			Measurements: map[[32]byte]TEE{h("a"): TEETDX, h("b"): TEEDev},
			Models:       map[[32]byte]ModelInfo{ModelID("x"): {WeightsHash: h("w"), MinPriceIn: big.NewInt(1), MinPriceOut: big.NewInt(2), RequireGPU: true}, ModelID("y"): {}},
			Codes:        ChildCodes{WorkerCode: codes.WorkerCode, JobCode: codes.JobCode, Pending: &PendingChange{EffectiveAt: 5, Params: &params, RootCode: codes.JobCode}},
		},
		WorkerStorage{Root: testAddr(1), Owner: testAddr(2), WorkerKey: h("k"), Status: WorkerActive, State: &WorkerState{
			Stake: ton(20), Earnings: ton(0.5), UnbondingSince: 12345, Renewer: testAddr(9), Agreement: Agreement{Agreed: h("ag"), Next: [32]byte{7}}, FeesOwed: ton(0.02), Profile: sampleProfile(),
			Counters: WorkerCounters{JobsCompleted: 3, JobsFailed: 1, JobsSlashed: 2, TotalEarned: ton(1.5), Slashed: map[uint32]uint8{1_800_000_000: 2, 1_800_000_100: 1}}, Snapshot: &snap, PendingQuery: 99,
		}},
		JobStorage{Root: testAddr(1), Client: testAddr(3), Nonce: 42, Status: JobAccepted, State: &JobState{
			Terms: sampleTerms(), Request: cell.BeginCell().MustStoreUInt(1, 1).EndCell(), WorkerKey: h("wk"), FeeBps: 250, Treasury: testAddr(0x77), CreatedAt: 1000, OfferID: 1 << 50,
		}},
		TermsOf(params, h("jc")),
	}
	values = append(values, sampleMessages()...)
	all := sha256.New()
	for _, v := range values {
		c, err := Encode(v)
		if err != nil {
			t.Fatalf("%T: %v", v, err)
		}
		all.Write(c.Hash())
	}
	if got := hex.EncodeToString(all.Sum(nil)); got != "02cc4eca53cc67652d44c703c4d3c6ae3fcb3693844eb7a74bf835cc16383b4b" {
		t.Errorf("the samples hash to %s, not to what the hand-written codec produced", got)
	}
}

// A string held in a reference is read as whole bytes only: tonutils-go's
// own snake reader would drop the stray bits of a cell and decode a
// different endpoint than the one on chain.
func TestStrictDecodeSnakeString(t *testing.T) {
	register := func(endpoint *cell.Cell) *cell.Cell {
		profile := cellOf(func(b *cell.Builder) {
			b.MustStoreSlice(make([]byte, 32), 256).MustStoreSlice(make([]byte, 32), 256).MustStoreUInt(uint64(TEEDev), 8).
				MustStoreSlice(make([]byte, 32), 256).MustStoreDict(nil).MustStoreRef(endpoint)
		})
		return cellOf(func(b *cell.Builder) {
			b.MustStoreUInt(uint64(OpWorkerRegister), 32).MustStoreUInt(1, 64).MustStoreRef(profile).MustStoreSlice(make([]byte, 32), 256)
		})
	}
	whole := cellOf(func(b *cell.Builder) { b.MustStoreSlice([]byte("https://w"), 72) })
	m, err := DecodeBody(register(whole))
	if err != nil {
		t.Fatalf("a whole-byte endpoint: %v", err)
	}
	if got := m.(*WorkerRegister).Profile.Endpoint; got != "https://w" {
		t.Fatalf("endpoint %q, want https://w", got)
	}
	stray := cellOf(func(b *cell.Builder) { b.MustStoreSlice([]byte("https://w"), 72).MustStoreUInt(1, 3) })
	if _, err := DecodeBody(register(stray)); err == nil || !strings.Contains(err.Error(), "WorkerRegister.Profile.Endpoint") || !strings.Contains(err.Error(), "whole bytes") {
		t.Fatalf("an endpoint with 3 stray bits: %v, want an error naming the field and whole bytes", err)
	}
}

// The channel's messages carry contracts/channel.tolk's opcodes, and each
// of its message structs has a Go declaration (Channel + the Tolk name).
func TestChannelOpcodesMatchTolk(t *testing.T) {
	src, err := os.ReadFile("../contracts/channel.tolk")
	if err != nil {
		t.Fatal(err)
	}
	goOps := map[string]uint32{}
	for _, m := range []any{ChannelTopUp{}, ChannelCommit{}, ChannelClose{}, ChannelStartClose{}, ChannelFinish{}} {
		op, ok := OpcodeOf(m)
		if !ok {
			t.Fatalf("%T has no opcode", m)
		}
		goOps[strings.TrimPrefix(reflect.TypeOf(m).Name(), "Channel")] = op
	}
	tolk := map[string]uint32{}
	for _, m := range regexp.MustCompile(`(?m)^struct \((0x[0-9a-f]{8})\) (\w+)`).FindAllStringSubmatch(string(src), -1) {
		op, _ := strconv.ParseUint(m[1], 0, 32)
		tolk[m[2]] = uint32(op)
	}
	if diff := cmp.Diff(tolk, goOps); diff != "" {
		t.Errorf("channel.tolk messages vs Go (-tolk +go):\n%s", diff)
	}
}
