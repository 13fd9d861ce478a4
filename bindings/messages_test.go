package bindings

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"reflect"
	"strings"
	"testing"

	"github.com/xssnick/tonutils-go/address"
	"github.com/xssnick/tonutils-go/tvm/cell"
)

func testAddr(b byte) *address.Address {
	return address.NewAddress(0, 0, bytes.Repeat([]byte{b}, 32))
}

func h(s string) [32]byte { return sha256.Sum256([]byte(s)) }

func ton(x float64) *big.Int { return big.NewInt(int64(x * 1e9)) }

func sampleModels() Models {
	return Models{
		ModelID("llama-3-8b"): {PriceIn: big.NewInt(100_000), PriceOut: big.NewInt(300_000)},
		ModelID("qwen-2.5"):   {PriceIn: big.NewInt(0), PriceOut: new(big.Int).Lsh(big.NewInt(1), 119)},
	}
}

func sampleParams() RootParams {
	return RootParams{
		MinWorkerStake: ton(10), UnbondingDelay: 7 * 86400, ProtocolFeeBps: 250, Treasury: testAddr(0x77),
		MinJobDeadline: 60, MaxJobDeadline: 86400, SlashBps: 1000, TestMode: true,
	}
}

func sampleSnapshot() ParamsSnapshot {
	return ParamsSnapshot{
		MinStake: ton(10), UnbondingDelay: 3600, SlashBps: 500, FeeBps: 250, Treasury: testAddr(0x77),
		MinJobDeadline: 60, MaxJobDeadline: 86400, JobCode: cell.BeginCell().MustStoreUInt(0xdead, 16).EndCell(),
	}
}

func sampleProfile() WorkerProfile {
	return WorkerProfile{
		HPKEKey: h("hpke"), AttestationHash: h("evidence"), TEE: TEETDX, Measurement: h("mrtd"),
		Models: sampleModels(), Endpoint: "https://worker.example:8443/" + strings.Repeat("x", 200),
	}
}

func sampleTerms() JobTerms {
	return JobTerms{
		ModelID: ModelID("llama-3-8b"), Worker: testAddr(0x22), PriceIn: big.NewInt(100_000), PriceOut: big.NewInt(300_000),
		MaxIn: 4096, MaxOut: 1024, Deadline: 1_767_229_200, ClientHPKEKey: h("client"), RequestHash: h("request"),
		Callback: testAddr(0x33), IsPublic: true,
	}
}

// sampleMessages has one fully populated value of every message type, and
// variants where optional fields are absent.
func sampleMessages() []Message {
	code := cell.BeginCell().MustStoreUInt(1, 8).EndCell()
	noCallback := sampleTerms()
	noCallback.Callback = nil
	noCallback.IsPublic = false
	params := sampleParams()
	return []Message{
		SetParams{QueryID: 1, Params: sampleParams()},
		AddMeasurement{QueryID: 2, TEE: TEESEVSNP, Measurement: h("m")},
		RemoveMeasurement{QueryID: 3, TEE: TEENvidiaCC, Measurement: h("m2")},
		AddModel{QueryID: 4, ModelID: ModelID("llama"), Info: ModelInfo{WeightsHash: h("w"), MinPriceIn: big.NewInt(5), MinPriceOut: big.NewInt(6), RequireGPU: true}},
		RemoveModel{QueryID: 5, ModelID: ModelID("llama")},
		SetTreasury{QueryID: 6, Treasury: testAddr(9)},
		UpgradeCode{QueryID: 7, RootCode: code, JobCode: code},
		UpgradeCode{QueryID: 7},
		ProposeOwner{QueryID: 8, NewOwner: testAddr(8)},
		AcceptOwnership{QueryID: 9},
		RegisterWorker{QueryID: 10, Owner: testAddr(1), WorkerKey: h("wk"), Stake: ton(12.5), TEE: TEEDev, Measurement: h("dev"), Models: sampleModels()},
		RegisterWorker{QueryID: 10, Owner: testAddr(1), WorkerKey: h("wk"), Stake: big.NewInt(0), TEE: TEETDX},
		WorkerDeactivated{QueryID: 11, Owner: testAddr(1), WorkerKey: h("wk"), Reason: DeactivatedSlashed},
		Activate{QueryID: 12, Snapshot: sampleSnapshot()},
		Reject{QueryID: 13, Reason: uint16(ErrStakeTooLow)},
		WorkerActivatedEvent{Worker: testAddr(2), WorkerKey: h("wk"), TEE: TEETDX, Measurement: h("mrtd"), Version: 42},
		WorkerDeactivatedEvent{Worker: testAddr(2), Reason: DeactivatedUnbonding},
		WorkerRegister{QueryID: 14, Profile: sampleProfile(), Agreed: h("agreed")},
		WorkerUpdate{QueryID: 15, Profile: WorkerProfile{TEE: TEEDev, Endpoint: ""}, Agreed: h("agreed")},
		TopUp{QueryID: 16},
		RequestUnbond{QueryID: 17},
		Withdraw{QueryID: 18},
		WithdrawEarnings{QueryID: 19},
		Offer{QueryID: 20, Client: testAddr(3), Nonce: 1<<64 - 1, ModelID: ModelID("m"), PriceIn: big.NewInt(7), PriceOut: big.NewInt(8), Deadline: 99},
		JobPaid{QueryID: 21, Client: testAddr(3), Nonce: 5, Fee: ton(0.001)},
		JobFailed{QueryID: 22, Client: testAddr(3), Nonce: 6},
		Slash{QueryID: 23, Client: testAddr(3), Nonce: 7, MaxCost: ton(0.25), Deadline: 1_800_000_000},
		AgreeTerms{QueryID: 33, Next: h("next")},
		Renew{QueryID: 34, Signature: make([]byte, 64)},
		RenewAuth{Worker: testAddr(5), ValidUntil: 1_800_003_600},
		Accept{QueryID: 24, WorkerKey: h("wk"), FeeBps: 10000, Treasury: testAddr(0x77)},
		Decline{QueryID: 25, Reason: uint16(ErrPriceTooLow)},
		SlashCompensation{QueryID: 26, Job: testAddr(4)},
		RegistrationRejected{QueryID: 27, Reason: uint16(ErrNoModels)},
		StakeReturned{QueryID: 28},
		EarningsPaid{QueryID: 29},
		ApplyChange{QueryID: 31},
		CancelChange{QueryID: 32},
		ChangeAnnouncedEvent{EffectiveAt: 1 << 30, Change: PendingChange{EffectiveAt: 1 << 30, Params: &params, JobCode: cell.BeginCell().MustStoreUInt(7, 8).EndCell()}},
		ChangeAppliedEvent{Version: 9},
		SlashForfeit{QueryID: 30, Job: testAddr(4)},
		ProtocolFees{QueryID: 31},
		JobCreate{QueryID: 30, Terms: sampleTerms(), Request: cell.BeginCell().MustStoreBinarySnake(bytes.Repeat([]byte{1}, 300)).EndCell()},
		JobCreate{QueryID: 30, Terms: noCallback},
		Cancel{QueryID: 31},
		Refund{QueryID: 32},
		JobClosed{QueryID: 33, Reason: ClosedOfferBounced},
		JobCallback{QueryID: 35, Job: testAddr(4), ResultHash: h("res"), Result: cell.BeginCell().MustStoreUInt(5, 3).EndCell()},
		JobCallback{QueryID: 35, Job: testAddr(4), ResultHash: h("res")},
		Receipt{Job: testAddr(4), RequestHash: h("request"), ResultHash: h("result"), InputTokens: 1000, OutputTokens: 200, Failed: true, Result: cell.BeginCell().EndCell()},
		Excesses{QueryID: 36},
	}
}

// equalValues compares decoded values with what was encoded: big.Ints by
// value (nil is zero), addresses by workchain and hash, cells by hash, and
// nil maps equal to empty ones.
func equalValues(a, b reflect.Value, path string) error {
	if a.Kind() == reflect.Interface {
		a, b = a.Elem(), b.Elem()
	}
	if !a.IsValid() || !b.IsValid() {
		if a.IsValid() != b.IsValid() {
			return fmt.Errorf("%s: one side missing", path)
		}
		return nil
	}
	switch x := a.Interface().(type) {
	case *big.Int:
		y := b.Interface().(*big.Int)
		if nzCmp(x, y) != 0 {
			return fmt.Errorf("%s: %v != %v", path, x, y)
		}
		return nil
	case *address.Address:
		y := b.Interface().(*address.Address)
		if (x == nil) != (y == nil) || (x != nil && !x.Equals(y)) {
			return fmt.Errorf("%s: %v != %v", path, x, y)
		}
		return nil
	case *cell.Cell:
		y := b.Interface().(*cell.Cell)
		if (x == nil) != (y == nil) || (x != nil && !bytes.Equal(x.Hash(), y.Hash())) {
			return fmt.Errorf("%s: cells differ", path)
		}
		return nil
	}
	switch a.Kind() {
	case reflect.Pointer:
		if a.IsNil() || b.IsNil() {
			if a.IsNil() != b.IsNil() {
				return fmt.Errorf("%s: nil vs non-nil", path)
			}
			return nil
		}
		return equalValues(a.Elem(), b.Elem(), path)
	case reflect.Struct:
		for i := 0; i < a.NumField(); i++ {
			if !a.Type().Field(i).IsExported() {
				continue // the opcode (`_ tlb.Magic`) and layout markers hold no value
			}
			if err := equalValues(a.Field(i), b.Field(i), path+"."+a.Type().Field(i).Name); err != nil {
				return err
			}
		}
		return nil
	case reflect.Map:
		if a.Len() != b.Len() {
			return fmt.Errorf("%s: %d entries vs %d", path, a.Len(), b.Len())
		}
		for _, k := range a.MapKeys() {
			bv := b.MapIndex(k)
			if !bv.IsValid() {
				return fmt.Errorf("%s: key %v missing", path, k)
			}
			if err := equalValues(a.MapIndex(k), bv, fmt.Sprintf("%s[%x]", path, k)); err != nil {
				return err
			}
		}
		return nil
	}
	if !reflect.DeepEqual(a.Interface(), b.Interface()) {
		return fmt.Errorf("%s: %v != %v", path, a.Interface(), b.Interface())
	}
	return nil
}

func nzCmp(x, y *big.Int) int { return nz(x).Cmp(nz(y)) }

func TestMessagesRoundTrip(t *testing.T) {
	seen := map[uint32]bool{}
	for i, m := range sampleMessages() {
		name := fmt.Sprintf("%d_%T", i, m)
		t.Run(name, func(t *testing.T) {
			op, ok := OpcodeOf(m)
			if !ok {
				t.Fatalf("%T has no opcode", m)
			}
			seen[op] = true
			c, err := Encode(m)
			if err != nil {
				t.Fatal(err)
			}
			if got := c.BeginParse().MustLoadUInt(32); uint32(got) != op {
				t.Fatalf("cell starts with 0x%08x, want opcode 0x%08x", got, op)
			}
			got, err := DecodeBody(c)
			if err != nil {
				t.Fatal(err)
			}
			if reflect.TypeOf(got).Elem() != reflect.TypeOf(m) {
				t.Fatalf("decoded as %T", got)
			}
			if err := equalValues(reflect.ValueOf(m), reflect.ValueOf(got).Elem(), reflect.TypeOf(m).Name()); err != nil {
				t.Fatal(err)
			}
			again, err := Encode(got)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(again.Hash(), c.Hash()) {
				t.Fatal("re-encoding the decoded message gives another cell")
			}
			// The contracts read strictly: a cell with a trailing bit is another layout.
			longer := cell.BeginCell().MustStoreBuilder(c.ToBuilder()).MustStoreUInt(0, 1).EndCell()
			if _, err := DecodeBody(longer); err == nil {
				t.Fatal("a body with a trailing bit was accepted")
			}
			// ... and so is one cut short.
			if c.BitsSize() > 40 {
				s := c.BeginParse()
				short := cell.BeginCell().MustStoreSlice(s.MustLoadSlice(c.BitsSize()-1), c.BitsSize()-1)
				for j := 0; j < int(c.RefsNum()); j++ {
					short.MustStoreRef(c.MustPeekRef(j))
				}
				if _, err := DecodeBody(short.EndCell()); err == nil {
					t.Fatal("a body one bit short was accepted")
				}
			}
		})
	}
	for _, op := range Opcodes() {
		if !seen[op] {
			t.Errorf("opcode 0x%08x has no round-trip sample", op)
		}
	}
}

func TestDecodeBodyUnknown(t *testing.T) {
	for _, c := range []*cell.Cell{
		cell.BeginCell().EndCell(),
		cell.BeginCell().MustStoreUInt(0x12345678, 32).EndCell(),
		cell.BeginCell().MustStoreUInt(0xc0c0, 16).EndCell(),
	} {
		if _, err := DecodeBody(c); !errors.Is(err, ErrUnknownOpcode) {
			t.Errorf("DecodeBody(%s) = %v, want ErrUnknownOpcode", c.Dump(), err)
		}
	}
	// Parse checks the opcode against the type asked for.
	c := MustCell(Encode(TopUp{QueryID: 1}))
	if _, err := Parse[Withdraw](c); err == nil {
		t.Error("a TopUp parsed as Withdraw")
	}
	if m, err := Parse[TopUp](c); err != nil || m.QueryID != 1 {
		t.Errorf("Parse[TopUp] = %+v, %v", m, err)
	}
}

func TestStorageRoundTrip(t *testing.T) {
	codes := ChildCodes{WorkerCode: cell.BeginCell().MustStoreUInt(1, 4).EndCell(), JobCode: cell.BeginCell().MustStoreUInt(2, 4).EndCell()}
	snap := sampleSnapshot()
	cases := []struct {
		name  string
		v     any
		parse func(*cell.Cell) (any, error)
	}{
		{"RootStorage", RootStorage{
			Owner: testAddr(1), PendingOwner: testAddr(2), Version: 7, Params: sampleParams(),
			Measurements: map[[32]byte]TEE{h("a"): TEETDX, h("b"): TEEDev},
			Models:       map[[32]byte]ModelInfo{ModelID("x"): {WeightsHash: h("w"), MinPriceIn: big.NewInt(1), MinPriceOut: big.NewInt(2)}},
			Codes:        codes,
		}, func(c *cell.Cell) (any, error) { return Parse[RootStorage](c) }},
		{"RootStorage empty", RootStorage{Owner: testAddr(1), Params: sampleParams(), Codes: codes},
			func(c *cell.Cell) (any, error) { return Parse[RootStorage](c) }},
		{"WorkerStorage initial", WorkerStorage{Root: testAddr(1), Owner: testAddr(2), WorkerKey: h("k")},
			func(c *cell.Cell) (any, error) { return Parse[WorkerStorage](c) }},
		{"WorkerStorage active", WorkerStorage{Root: testAddr(1), Owner: testAddr(2), WorkerKey: h("k"), Status: WorkerActive, State: &WorkerState{
			Stake: ton(20), Earnings: ton(0.5), UnbondingSince: 12345, Renewer: testAddr(9), Agreement: Agreement{Agreed: h("ag"), Next: [32]byte{7}}, FeesOwed: ton(0.02), Profile: sampleProfile(),
			Counters: WorkerCounters{JobsCompleted: 3, JobsFailed: 1, JobsSlashed: 2, TotalEarned: ton(1.5), Slashed: map[uint32]uint8{1_800_000_000: 2, 1_800_000_100: 1}}, Snapshot: &snap,
		}}, func(c *cell.Cell) (any, error) { return Parse[WorkerStorage](c) }},
		{"WorkerStorage pending", WorkerStorage{Root: testAddr(1), Owner: testAddr(2), WorkerKey: h("k"), Status: WorkerPending, State: &WorkerState{
			Stake: ton(20), Earnings: big.NewInt(0), PendingQuery: 1 << 40, Profile: sampleProfile(), Counters: WorkerCounters{TotalEarned: big.NewInt(0)},
		}}, func(c *cell.Cell) (any, error) { return Parse[WorkerStorage](c) }},
		{"JobStorage initial", JobStorage{Root: testAddr(1), Client: testAddr(3), Nonce: 42},
			func(c *cell.Cell) (any, error) { return Parse[JobStorage](c) }},
		{"JobStorage accepted", JobStorage{Root: testAddr(1), Client: testAddr(3), Nonce: 42, Status: JobAccepted, State: &JobState{
			Terms: sampleTerms(), Request: cell.BeginCell().MustStoreUInt(1, 1).EndCell(), WorkerKey: h("wk"), FeeBps: 250, Treasury: testAddr(0x77), CreatedAt: 1000, OfferID: 1 << 50,
		}}, func(c *cell.Cell) (any, error) { return Parse[JobStorage](c) }},
		{"JobStorage offered", JobStorage{Root: testAddr(1), Client: testAddr(3), Nonce: 42, Status: JobOffered, State: &JobState{Terms: sampleTerms(), CreatedAt: 1000}},
			func(c *cell.Cell) (any, error) { return Parse[JobStorage](c) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Encode(tc.v)
			if err != nil {
				t.Fatal(err)
			}
			got, err := tc.parse(c)
			if err != nil {
				t.Fatal(err)
			}
			if err := equalValues(reflect.ValueOf(tc.v), reflect.ValueOf(got).Elem(), tc.name); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestGoldenLayouts pins sizes and bits that follow directly from Tolk's
// rules, so that a symmetric mistake in both halves of the codec shows.
func TestGoldenLayouts(t *testing.T) {
	cases := []struct {
		name      string
		v         any
		bits      uint
		refs      int
		prefixHex string // the first bits, in hex, when checked
	}{
		{"TopUp", TopUp{QueryID: 7}, 96, 0, "c0c000320000000000000007"},
		{"Excesses", Excesses{QueryID: 1}, 96, 0, "d53276db0000000000000001"},
		{"Cancel", Cancel{QueryID: 0}, 96, 0, "c0c000610000000000000000"},
		// address 267 bits: 10 0 int8 wc, 256 hash
		{"WorkerStorage initial", WorkerStorage{Root: testAddr(1), Owner: testAddr(2), WorkerKey: h("k")}, 267 + 267 + 256 + 8 + 1, 0, "80002020202020202020"},
		{"JobStorage initial", JobStorage{Root: testAddr(1), Client: testAddr(3), Nonce: 42}, 267 + 267 + 64 + 8 + 1, 0, ""},
		// coins: 4-bit length then the bytes; 10 TON = 0x02540be400 is 5 bytes
		{"RootParams", sampleParams(), 4 + 40 + 32 + 16 + 267 + 32 + 32 + 16 + 1, 0, "502540be400"},
		{"Receipt no result", Receipt{Job: testAddr(4), InputTokens: 1}, 32 + 267 + 256 + 256 + 32 + 32 + 1 + 1, 0, "c0c00070"},
		{"JobClosed", JobClosed{QueryID: 1, Reason: 4}, 32 + 64 + 16 + 4 + 4 + 256, 0, "c0c00063000000000000000100040"},
		// `address?` null is addr_none: two zero bits, no Maybe bit
		{"SetTreasury", SetTreasury{Treasury: testAddr(0)}, 32 + 64 + 267, 0, ""},
		{"UpgradeCode none", UpgradeCode{}, 32 + 64 + 3, 0, ""},
		{"JobCreate", JobCreate{Terms: sampleTerms()}, 32 + 64 + 1, 1, ""},
		{"WorkerActivatedEvent", WorkerActivatedEvent{Worker: testAddr(1)}, 32 + 267 + 256 + 8 + 256 + 32, 0, "c0c000e1"},
		{"WorkerRegister", WorkerRegister{Profile: sampleProfile()}, 32 + 64 + 256, 1, "c0c00030"},
		{"Activate", Activate{Snapshot: sampleSnapshot()}, 32 + 64, 1, "c0c00020"},
		// JobTerms: the last four fields in a reference (JobTermsTail)
		{"JobTerms", sampleTerms(), 256 + 267 + (4 + 24) + (4 + 24) + 32 + 32 + 32, 1, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Encode(tc.v)
			if err != nil {
				t.Fatal(err)
			}
			if c.BitsSize() != tc.bits || int(c.RefsNum()) != tc.refs {
				t.Errorf("%d bits, %d refs; want %d bits, %d refs", c.BitsSize(), c.RefsNum(), tc.bits, tc.refs)
			}
			if tc.prefixHex != "" {
				n := uint(len(tc.prefixHex) * 4)
				got := c.BeginParse().MustLoadSlice(n)
				if g := hex.EncodeToString(got); !strings.HasPrefix(g, tc.prefixHex) {
					t.Errorf("starts with %s, want %s", g, tc.prefixHex)
				}
			}
		})
	}

	// The endpoint is a snake string: long URLs continue in a reference.
	p := sampleProfile()
	pc := MustCell(Encode(p))
	ep := pc.MustPeekRef(int(pc.RefsNum()) - 1)
	if ep.RefsNum() != 1 {
		t.Errorf("a %d-byte endpoint should spill into one reference, has %d", len(p.Endpoint), ep.RefsNum())
	}
	// map<uint256, ModelPrice> is a HashmapE: the Maybe bit is set and the
	// root is the first reference of the profile.
	if pc.RefsNum() != 2 {
		t.Errorf("profile has %d refs, want 2 (models dict, endpoint)", pc.RefsNum())
	}
	empty := MustCell(Encode(WorkerProfile{TEE: TEETDX}))
	if empty.BitsSize() != 256+256+8+256+1 || empty.RefsNum() != 1 {
		t.Errorf("profile without models: %d bits %d refs", empty.BitsSize(), empty.RefsNum())
	}
}

func TestBuildErrors(t *testing.T) {
	neg := big.NewInt(-1)
	cases := []struct {
		name string
		v    any
	}{
		{"missing address", SetTreasury{}},
		{"none address where required", ProposeOwner{NewOwner: address.NewAddressNone()}},
		{"negative coins", Offer{Client: testAddr(1), PriceIn: neg}},
		{"coins too large", RegisterWorker{Owner: testAddr(1), Stake: new(big.Int).Lsh(big.NewInt(1), 120)}},
		{"missing job code", Activate{Snapshot: ParamsSnapshot{Treasury: testAddr(1)}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Encode(tc.v); err == nil {
				t.Fatal("built without an error")
			} else {
				t.Log(err)
			}
		})
	}
}

func TestReceiptSigning(t *testing.T) {
	key := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, 32))
	other := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{8}, 32))
	r := Receipt{Job: testAddr(4), RequestHash: h("req"), ResultHash: h("res"), InputTokens: 10, OutputTokens: 20}
	body, err := SignReceipt(key, r)
	if err != nil {
		t.Fatal(err)
	}
	if body.BitsSize() != 512 || body.RefsNum() != 1 {
		t.Fatalf("receipt body: %d bits %d refs, want 512 bits and 1 ref", body.BitsSize(), body.RefsNum())
	}
	rc := body.MustPeekRef(0)
	if !bytes.Equal(rc.Hash(), MustCell(Encode(r)).Hash()) {
		t.Fatal("the referenced receipt is not the receipt")
	}
	sig := body.BeginParse().MustLoadSlice(512)
	if !ed25519.Verify(key.Public().(ed25519.PublicKey), rc.Hash(), sig) {
		t.Fatal("signature is not over the receipt cell hash")
	}
	got, err := VerifyReceipt(key.Public().(ed25519.PublicKey), body)
	if err != nil || got.InputTokens != 10 {
		t.Fatalf("VerifyReceipt: %+v %v", got, err)
	}
	if _, err := VerifyReceipt(other.Public().(ed25519.PublicKey), body); err == nil {
		t.Fatal("verified under another key")
	}
	boc, err := ReceiptMessage(key, r)
	if err != nil {
		t.Fatal(err)
	}
	msg, err := cell.FromBOC(boc)
	if err != nil {
		t.Fatal(err)
	}
	// ext_in_msg_info$10 src:addr_none dest:MsgAddressInt import_fee:0 ...
	s := msg.BeginParse()
	if tag := s.MustLoadUInt(2); tag != 0b10 {
		t.Fatalf("external message tag %b", tag)
	}
	if src := s.MustLoadAddr(); !src.IsAddrNone() {
		t.Fatalf("source %s, want none", src)
	}
	if dst := s.MustLoadAddr(); !dst.Equals(r.Job) {
		t.Fatalf("destination %s, want the job", dst)
	}
	if _, err := SignReceipt(key[:10], r); err == nil {
		t.Fatal("signed with a truncated key")
	}
}

func TestParseRootEvent(t *testing.T) {
	act := WorkerActivatedEvent{Worker: testAddr(2), WorkerKey: h("k"), TEE: TEETDX, Measurement: h("m"), Version: 3}
	ev, err := ParseRootEvent(MustCell(Encode(act)))
	if err != nil {
		t.Fatal(err)
	}
	if a, ok := ev.(*WorkerActivatedEvent); !ok || a.Version != 3 || !a.Worker.Equals(act.Worker) {
		t.Fatalf("got %#v", ev)
	}
	ev, err = ParseRootEvent(MustCell(Encode(WorkerDeactivatedEvent{Worker: testAddr(2), Reason: 2})))
	if d, ok := ev.(*WorkerDeactivatedEvent); err != nil || !ok || d.Reason != 2 {
		t.Fatalf("got %#v, %v", ev, err)
	}
	if _, err := ParseRootEvent(MustCell(Encode(TopUp{}))); err == nil {
		t.Fatal("a TopUp parsed as a Root event")
	}
}
