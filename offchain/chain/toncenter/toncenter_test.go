package toncenter

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/xssnick/tonutils-go/address"
	"github.com/xssnick/tonutils-go/tvm/cell"

	"github.com/cocoon-network/cocoon/offchain/chain"
)

// Fixtures. The transaction is a real mainnet transaction (internal message,
// no actions); the cells are small hand-made ones.
const (
	fxAddr       = "EQAZ3Z3iWsk1eBFkE_iWEAYc8o9S2vFYE3O9hnH3q939ZMmq"
	fxTxBOC      = "te6cckECBgEAAT4AA69xndneJayTV4EWQT+JYQBhzyj1La8VgTc72Gcfer3f1kAAAkTZTT8wnXz8rcjgXrvUYMLEIAINjjv9M22kscLQtT95EnCTQJCQAAJE2U0/MBZNCB/QABQIAgEFAIJy047h4rcyiyTo44NrsoiqnJYhi5qB56j9KQ4aTM8KZdqb6ST/nX8WsjinauR9udL1Z2nBsMHMsPqVUiggMYQBCQEBoAMBq2gBIvPZK2+zavxVrbjk6O+OIQHktIjVQPMbGCbrFeEhuSsABndneJayTV4EWQT+JYQBhzyj1La8VgTc72Gcfer3f1kEBAYe1+YAAEibKafmEMmhA/rABABoc2LQnAAAJE2U0/MDYBBirUfACABzHxKGZF5s7RG1LposB8qw1upCOQtblp/SBKDgMSlM0AARBAhASaAYehICbsfcRQ=="
	fxTxLT       = 39915628000009
	fxTxHash     = "6XiXMuJdR7zIaKuxuIuj4RqCwUkUHbCA0ikMyco8Ahw="
	fxTxPrevLT   = 39915628000001
	fxTxPrevHash = "18/K3I4F671GDCxCACDY47/TNtpLHC0LU/eRJwk0CQk="
	fxTxNow      = 1691386365
	fxZeroHash   = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="

	fxCode     = "te6cckEBAQEACgAAEP8A9KQT9LzyFyK4Yg=="
	fxCodeHash = "33c467c599e26d4f8c9ca8f950618d5a3f6df938f093b630288c3e0dc4f51161"
	fxData     = "te6cckEBAQEAKwAAUQAAAAUpqaMXAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAABAuOVcrA=="
	// fxCellRef is 0xdeadbeef with one ref holding 8 bits of 7.
	fxCellRef     = "te6cckEBAgEACgABCN6tvu8BAAIHg8r5UA=="
	fxCellRefHash = "5b6c34a44fb4d3a16079d49e55e39d18d4cfeb1f66fc0136cc5dbe7242b0585f"
	// fxSliceAddr is a slice holding fxAddr as MsgAddress.
	fxSliceAddr = "te6cckEBAQEAJAAAQ4ADO7O8S1kmrwIsgn8SwgDDnlHqW14rAm53sM4+9Xu/rJBLXTjW"
	// fxExtMsg is an external inbound message to fxAddr with body fxCellRef.
	fxExtMsg     = "te6cckEBAwEAMAABRYgAM7s7xLWSavAiyCfxLCAMOeUepbXisCbnewzj71e7+sgMAQEI3q2+7wIAAgcEUh2e"
	fxExtMsgHash = "0FbYGGvjtbkIq+pjGgWF6Cqy1NIwstMImWK1UnjQatg="
)

func mustB64(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustCell(t *testing.T, s string) *cell.Cell {
	t.Helper()
	c, err := cell.FromBOC(mustB64(t, s))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func fxAddress() *address.Address { return address.MustParseAddr(fxAddr) }

func TestEndpointURL(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"https://toncenter.com", "https://toncenter.com/api/v2/jsonRPC"},
		{"https://toncenter.com/", "https://toncenter.com/api/v2/jsonRPC"},
		{"https://toncenter.com/api/v2", "https://toncenter.com/api/v2/jsonRPC"},
		{"https://toncenter.com/api/v2/", "https://toncenter.com/api/v2/jsonRPC"},
		{"https://toncenter.com/api/v2/jsonRPC", "https://toncenter.com/api/v2/jsonRPC"},
		{"http://127.0.0.1:8081/prefix/api/v2/jsonRPC/", "http://127.0.0.1:8081/prefix/api/v2/jsonRPC"},
		{" http://localhost:1 ", "http://localhost:1/api/v2/jsonRPC"},
	}
	for _, tt := range tests {
		if got := EndpointURL(tt.in); got != tt.want {
			t.Errorf("EndpointURL(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestParseInt(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    string
		wantErr bool
	}{
		{"0x0", "0", false},
		{"0x1f", "31", false},
		{"-0x1f", "-31", false},
		{"0XFF", "255", false},
		{"123", "123", false},
		{"-123", "-123", false},
		{"0x" + strings.Repeat("f", 64), new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 256), big.NewInt(1)).String(), false},
		{"", "", true},
		{"-", "", true},
		{"0x", "", true},
		{"--1", "", true},
		{"0x-1", "", true},
		{"12a", "", true},
		{"0xzz", "", true},
	}
	for _, tt := range tests {
		got, err := parseInt(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("parseInt(%q) error = %v, wantErr %v", tt.in, err, tt.wantErr)
			continue
		}
		if err == nil && got.String() != tt.want {
			t.Errorf("parseInt(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestAccount(t *testing.T) {
	t.Parallel()
	const lastTx = `{"@type":"internal.transactionId","lt":"39915628000009","hash":"` + fxTxHash + `"}`
	const noTx = `{"@type":"internal.transactionId","lt":"0","hash":"` + fxZeroHash + `"}`
	const blockID = `{"@type":"ton.blockIdExt","workchain":-1,"shard":"-9223372036854775808","seqno":43112541,"root_hash":"xk6Qz9xwsTj7D8VwmSI6RXO7hqf1CeQh5ybbcTvDAJg=","file_hash":"Z3G8c6S/NwbOcOsK4c1rT16spI9MLRIW5Kr4wfHXIhI="}`
	tests := []struct {
		name       string
		result     string
		wantStatus chain.AccountStatus
		wantBal    string
		wantCode   string // hex hash, "" for none
		wantData   bool
		wantLastLT uint64
		wantFrozen []byte
	}{
		{
			name:       "active",
			result:     `{"@type":"raw.fullAccountState","balance":"1500000000","extra_currencies":[],"code":"` + fxCode + `","data":"` + fxData + `","last_transaction_id":` + lastTx + `,"block_id":` + blockID + `,"frozen_hash":"","sync_utime":1730000000,"@extra":"1730000000.1:0:0.5","state":"active"}`,
			wantStatus: chain.StatusActive, wantBal: "1500000000", wantCode: fxCodeHash, wantData: true, wantLastLT: fxTxLT,
		},
		{
			name:       "never seen is nonexist",
			result:     `{"@type":"raw.fullAccountState","balance":"0","extra_currencies":[],"code":"","data":"","last_transaction_id":` + noTx + `,"block_id":` + blockID + `,"frozen_hash":"","sync_utime":1730000000,"state":"uninitialized"}`,
			wantStatus: chain.StatusNonexist, wantBal: "0",
		},
		{
			name:       "funded but not deployed is uninit",
			result:     `{"@type":"raw.fullAccountState","balance":1000000000,"code":"","data":"","last_transaction_id":` + lastTx + `,"block_id":` + blockID + `,"frozen_hash":"","sync_utime":1730000000,"state":"uninitialized"}`,
			wantStatus: chain.StatusUninit, wantBal: "1000000000", wantLastLT: fxTxLT,
		},
		{
			name:       "balance as a number beyond float precision",
			result:     `{"balance":12345678901234567890,"code":"","data":"","last_transaction_id":` + lastTx + `,"frozen_hash":"","state":"uninitialized"}`,
			wantStatus: chain.StatusUninit, wantBal: "12345678901234567890", wantLastLT: fxTxLT,
		},
		{
			name:       "frozen",
			result:     `{"@type":"raw.fullAccountState","balance":"0","code":"","data":"","last_transaction_id":` + lastTx + `,"block_id":` + blockID + `,"frozen_hash":"` + fxTxPrevHash + `","sync_utime":1730000000,"state":"frozen"}`,
			wantStatus: chain.StatusFrozen, wantBal: "0", wantLastLT: fxTxLT, wantFrozen: mustB64(t, fxTxPrevHash),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFake(t, map[string][]reply{"getAddressInformation": ok(tt.result)})
			acc, err := f.client().Account(context.Background(), fxAddress())
			if err != nil {
				t.Fatal(err)
			}
			if acc.Status != tt.wantStatus {
				t.Errorf("status = %s, want %s", acc.Status, tt.wantStatus)
			}
			if acc.Balance.String() != tt.wantBal {
				t.Errorf("balance = %s, want %s", acc.Balance, tt.wantBal)
			}
			if tt.wantCode == "" && acc.Code != nil || tt.wantCode != "" && (acc.Code == nil || hex.EncodeToString(acc.Code.Hash()) != tt.wantCode) {
				t.Errorf("code = %v, want hash %q", acc.Code, tt.wantCode)
			}
			if (acc.Data != nil) != tt.wantData {
				t.Errorf("data = %v, want present %v", acc.Data, tt.wantData)
			}
			if acc.LastTx.LT != tt.wantLastLT {
				t.Errorf("last lt = %d, want %d", acc.LastTx.LT, tt.wantLastLT)
			}
			if tt.wantLastLT == 0 && !acc.LastTx.IsZero() {
				t.Errorf("last tx = %+v, want zero", acc.LastTx)
			}
			if tt.wantLastLT != 0 && !bytes.Equal(acc.LastTx.Hash, mustB64(t, fxTxHash)) {
				t.Errorf("last tx hash = %x", acc.LastTx.Hash)
			}
			if !bytes.Equal(acc.FrozenHash, tt.wantFrozen) {
				t.Errorf("frozen hash = %x, want %x", acc.FrozenHash, tt.wantFrozen)
			}
			if !acc.Address.Equals(fxAddress()) {
				t.Errorf("address = %s", acc.Address)
			}
			reqs := f.requests()
			if len(reqs) != 1 || reqs[0].Method != "getAddressInformation" || param(t, reqs[0], "address") != fxAddr {
				t.Errorf("requests = %+v", reqs)
			}
		})
	}
}

func TestAccountBadState(t *testing.T) {
	t.Parallel()
	f := newFake(t, map[string][]reply{"getAddressInformation": ok(`{"balance":"0","state":"weird","last_transaction_id":{"lt":"0","hash":""}}`)})
	_, err := f.client().Account(context.Background(), fxAddress())
	if err == nil || !strings.Contains(err.Error(), `unknown account state "weird"`) {
		t.Fatalf("err = %v", err)
	}
}

func TestRunGetMethodStack(t *testing.T) {
	t.Parallel()
	cellRef := `{"bytes":"` + fxCellRef + `","object":{"data":{"b64":"3q2+7w==","len":32},"refs":[{"data":{"b64":"Bw==","len":8},"refs":[],"special":false}],"special":false}}`
	type check func(t *testing.T, v any)
	isInt := func(want string) check {
		return func(t *testing.T, v any) {
			t.Helper()
			n, isBig := v.(*big.Int)
			if !isBig || n.String() != want {
				t.Errorf("got %T %v, want *big.Int %s", v, v, want)
			}
		}
	}
	isCell := func(wantHash string) check {
		return func(t *testing.T, v any) {
			t.Helper()
			c, isC := v.(*cell.Cell)
			if !isC || hex.EncodeToString(c.Hash()) != wantHash {
				t.Errorf("got %T %v, want cell with hash %s", v, v, wantHash)
			}
		}
	}
	isSliceAddr := func(t *testing.T, v any) {
		t.Helper()
		s, isS := v.(*cell.Slice)
		if !isS {
			t.Fatalf("got %T, want *cell.Slice", v)
		}
		a, err := s.LoadAddr()
		if err != nil || !a.Equals(fxAddress()) {
			t.Errorf("slice holds %v (%v), want %s", a, err, fxAddr)
		}
	}
	isNil := func(t *testing.T, v any) {
		t.Helper()
		if v != nil {
			t.Errorf("got %T %v, want nil", v, v)
		}
	}
	isTuple := func(items ...check) check {
		return func(t *testing.T, v any) {
			t.Helper()
			tup, isT := v.([]any)
			if !isT || len(tup) != len(items) {
				t.Fatalf("got %T %v, want tuple of %d", v, v, len(items))
			}
			for i, c := range items {
				c(t, tup[i])
			}
		}
	}
	tests := []struct {
		name  string
		entry string
		check check
	}{
		{"num hex", `["num","0x1f4"]`, isInt("500")},
		{"num negative hex", `["num","-0x1f4"]`, isInt("-500")},
		{"num zero", `["num","0x0"]`, isInt("0")},
		{"num decimal", `["num","12345678901234567890123"]`, isInt("12345678901234567890123")},
		{"cell", `["cell",` + cellRef + `]`, isCell(fxCellRefHash)},
		{"tvm.Cell with bare bytes", `["tvm.Cell","` + fxCellRef + `"]`, isCell(fxCellRefHash)},
		{"slice", `["slice",{"bytes":"` + fxSliceAddr + `"}]`, isSliceAddr},
		{"tvm.Slice", `["tvm.Slice",{"bytes":"` + fxSliceAddr + `"}]`, isSliceAddr},
		{"null", `["null"]`, isNil},
		{"null with value", `["null",null]`, isNil},
		{"empty tuple", `["tuple",{"@type":"tvm.tuple","elements":[]}]`, isTuple()},
		{
			"tuple of every element kind",
			`["tuple",{"@type":"tvm.tuple","elements":[
				{"@type":"tvm.stackEntryNumber","number":{"@type":"tvm.numberDecimal","number":"123"}},
				{"@type":"tvm.stackEntryNumber","number":{"@type":"tvm.numberDecimal","number":"-7"}},
				{"@type":"tvm.stackEntryCell","cell":{"@type":"tvm.cell","bytes":"` + fxCellRef + `"}},
				{"@type":"tvm.stackEntrySlice","slice":{"@type":"tvm.slice","bytes":"` + fxSliceAddr + `"}},
				{"@type":"tvm.stackEntryTuple","tuple":{"@type":"tvm.tuple","elements":[
					{"@type":"tvm.stackEntryNumber","number":{"@type":"tvm.numberDecimal","number":"1"}},
					{"@type":"tvm.stackEntryUnsupported"}
				]}},
				{"@type":"tvm.stackEntryList","list":{"@type":"tvm.list","elements":[]}}
			]}]`,
			isTuple(isInt("123"), isInt("-7"), isCell(fxCellRefHash), isSliceAddr, isTuple(isInt("1"), isNil), isTuple()),
		},
		{
			"list",
			`["list",{"@type":"tvm.list","elements":[{"@type":"tvm.stackEntryNumber","number":{"@type":"tvm.numberDecimal","number":"5"}}]}]`,
			isTuple(isInt("5")),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFake(t, map[string][]reply{"runGetMethod": ok(`{"@type":"smc.runResult","gas_used":1234,"stack":[` + tt.entry + `],"exit_code":0,"@extra":"x"}`)})
			res, err := f.client().RunGetMethod(context.Background(), fxAddress(), "get_thing")
			if err != nil {
				t.Fatal(err)
			}
			if len(res) != 1 {
				t.Fatalf("got %d entries, want 1", len(res))
			}
			tt.check(t, res[0])
		})
	}
}

func TestRunGetMethodBadStack(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, entry, wantErr string }{
		{"unknown type", `["continuation",{}]`, `unknown entry type "continuation"`},
		{"bad number", `["num","0xzz"]`, "invalid integer"},
		{"bad boc", `["cell",{"bytes":"AAAA"}]`, "parsing BOC"},
		{"unknown element", `["tuple",{"elements":[{"@type":"tvm.stackEntryFoo"}]}]`, `unknown entry type "tvm.stackEntryFoo"`},
		{"not a pair", `"num"`, "not a [type, value] pair"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFake(t, map[string][]reply{"runGetMethod": ok(`{"gas_used":1,"stack":[` + tt.entry + `],"exit_code":0}`)})
			_, err := f.client().RunGetMethod(context.Background(), fxAddress(), "m")
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), "stack entry 0") {
				t.Fatalf("err = %v, want containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestRunGetMethodExitCodes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		code    int
		wantErr bool
	}{{0, false}, {1, false}, {-13, true}, {11, true}, {2, true}}
	for _, tt := range tests {
		f := newFake(t, map[string][]reply{"runGetMethod": ok(`{"gas_used":100,"stack":[["num","0x5"]],"exit_code":` + big.NewInt(int64(tt.code)).String() + `}`)})
		res, err := f.client().RunGetMethod(context.Background(), fxAddress(), "seqno")
		if !tt.wantErr {
			if err != nil || len(res) != 1 {
				t.Errorf("exit %d: res %v, err %v", tt.code, res, err)
			}
			continue
		}
		var gme *chain.GetMethodError
		if !errors.As(err, &gme) || gme.ExitCode != tt.code || gme.Method != "seqno" {
			t.Errorf("exit %d: err = %v, want *chain.GetMethodError", tt.code, err)
		}
	}
}

func TestRunGetMethodRequest(t *testing.T) {
	t.Parallel()
	f := newFake(t, map[string][]reply{"runGetMethod": ok(`{"gas_used":1,"stack":[],"exit_code":0}`)})
	sl := mustCell(t, fxSliceAddr).BeginParse()
	args := []any{big.NewInt(-5), 7, uint64(1) << 63, mustCell(t, fxCellRef), sl, mustCell(t, fxCellRef).ToBuilder()}
	if _, err := f.client().RunGetMethod(context.Background(), fxAddress(), "get_wallet_address", args...); err != nil {
		t.Fatal(err)
	}
	r := f.requests()[0]
	if param(t, r, "method") != "get_wallet_address" || param(t, r, "address") != fxAddr {
		t.Errorf("params = %v", r.Params)
	}
	got, _ := param(t, r, "stack").([]any)
	want := [][2]string{
		{"num", "-5"}, {"num", "7"}, {"num", "9223372036854775808"},
		{"tvm.Cell", fxCellRef}, {"tvm.Slice", fxSliceAddr}, {"tvm.Builder", fxCellRef},
	}
	if len(got) != len(want) {
		t.Fatalf("stack = %v", got)
	}
	for i, w := range want {
		e, _ := got[i].([]any)
		if len(e) != 2 || e[0] != w[0] {
			t.Errorf("stack[%d] = %v, want type %s", i, got[i], w[0])
			continue
		}
		if strings.HasPrefix(w[0], "tvm.") {
			// BOC flags may differ from the fixture; compare cell hashes.
			if !bytes.Equal(mustCell(t, e[1].(string)).Hash(), mustCell(t, w[1]).Hash()) {
				t.Errorf("stack[%d] cell differs", i)
			}
		} else if e[1] != w[1] {
			t.Errorf("stack[%d] = %v, want %v", i, e, w)
		}
	}
}

func TestRunGetMethodBadArgs(t *testing.T) {
	t.Parallel()
	f := newFake(t, nil)
	for _, arg := range []any{nil, []any{1}, "str", (*big.Int)(nil)} {
		if _, err := f.client().RunGetMethod(context.Background(), fxAddress(), "m", arg); err == nil {
			t.Errorf("arg %#v: no error", arg)
		}
	}
	if n := len(f.requests()); n != 0 {
		t.Errorf("%d requests sent for bad arguments", n)
	}
}

func TestSendExternal(t *testing.T) {
	t.Parallel()
	wantHash := mustB64(t, fxExtMsgHash)
	tests := []struct {
		name     string
		result   string
		boc      string
		wantErr  string
		wantHash bool
		wantSent bool
	}{
		{"server hash matches", `{"@type":"raw.extMessageInfo","hash":"` + fxExtMsgHash + `","hash_norm":"` + fxTxHash + `"}`, fxExtMsg, "", true, true},
		{"server returns hex hash", `{"hash":"` + hex.EncodeToString(wantHash) + `"}`, fxExtMsg, "", true, true},
		{"server returns no hash", `{"@type":"ok"}`, fxExtMsg, "", true, true},
		{"server hash differs", `{"hash":"` + fxTxHash + `"}`, fxExtMsg, "server reports hash", true, true},
		{"not a BOC", `{}`, "AAAA", "parsing external message BOC", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFake(t, map[string][]reply{"sendBocReturnHash": ok(tt.result)})
			got, err := f.client().SendExternal(context.Background(), mustB64(t, tt.boc))
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
			if tt.wantHash != bytes.Equal(got, wantHash) {
				t.Errorf("hash = %x, want %x: %v", got, wantHash, tt.wantHash)
			}
			reqs := f.requests()
			if !tt.wantSent {
				if len(reqs) != 0 {
					t.Errorf("sent %d requests", len(reqs))
				}
				return
			}
			if len(reqs) != 1 || param(t, reqs[0], "boc") != tt.boc {
				t.Errorf("requests = %+v", reqs)
			}
		})
	}
}

func transactionsResult(txID string) string {
	return `[{"@type":"raw.transaction","address":{"@type":"accountAddress","account_address":"` + fxAddr + `"},"utime":1691386365,"data":"` + fxTxBOC + `","transaction_id":` + txID + `,"fee":"0","storage_fee":"0","other_fee":"0","in_msg":{"@type":"raw.message","source":"EQAREREREREREREREREREREREREREREREREREREREREREeYT","destination":"` + fxAddr + `","value":"1000000","fwd_fee":"0","ihr_fee":"0","created_lt":"39915628000008","body_hash":"lqKW0iTyhcZ77pPDD4owkVfw2qNdxbh+QQt4YwoJz8c=","msg_data":{"@type":"msg.dataRaw","body":"te6cckEBAQEAAgAAAEysuc0=","init_state":""},"message":""},"out_msgs":[]}]`
}

func TestTransactions(t *testing.T) {
	t.Parallel()
	goodID := `{"@type":"internal.transactionId","lt":"39915628000009","hash":"` + fxTxHash + `"}`
	tests := []struct {
		name    string
		from    chain.TxID
		result  string
		addr    string
		limit   int
		wantErr string
		wantLT  any // lt param, nil if absent
	}{
		{name: "latest", result: transactionsResult(goodID), addr: fxAddr, limit: 10},
		{name: "from a transaction", from: chain.TxID{LT: fxTxLT, Hash: mustB64(t, fxTxHash)}, result: transactionsResult(goodID), addr: fxAddr, limit: 1, wantLT: "39915628000009"},
		{name: "empty history", result: `[]`, addr: fxAddr, limit: 10},
		{name: "transaction_id disagrees with data", result: transactionsResult(`{"lt":"39915628000009","hash":"` + fxZeroHash + `"}`), addr: fxAddr, limit: 10, wantErr: "does not match data"},
		{name: "transaction of another account", result: transactionsResult(goodID), addr: "EQAREREREREREREREREREREREREREREREREREREREREREeYT", limit: 10, wantErr: "belongs to account"},
		{name: "bad data", result: `[{"utime":1,"data":"AAAA","transaction_id":` + goodID + `}]`, addr: fxAddr, limit: 10, wantErr: "parsing data BOC"},
		{name: "zero limit", result: `[]`, addr: fxAddr, limit: 0, wantErr: "not positive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFake(t, map[string][]reply{"getTransactions": ok(tt.result)})
			addr := address.MustParseAddr(tt.addr)
			txs, err := f.client().Transactions(context.Background(), addr, tt.from, tt.limit)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			r := f.requests()[0]
			if param(t, r, "address") != tt.addr || param(t, r, "limit") != float64(tt.limit) || param(t, r, "archival") != true {
				t.Errorf("params = %v", r.Params)
			}
			if param(t, r, "lt") != tt.wantLT {
				t.Errorf("lt param = %v, want %v", param(t, r, "lt"), tt.wantLT)
			}
			if tt.from.IsZero() {
				if _, present := r.Params["hash"]; present {
					t.Errorf("hash param sent for a zero from")
				}
			} else if param(t, r, "hash") != fxTxHash {
				t.Errorf("hash param = %v", param(t, r, "hash"))
			}
			if tt.result == `[]` {
				if len(txs) != 0 {
					t.Errorf("got %d transactions", len(txs))
				}
				return
			}
			if len(txs) != 1 {
				t.Fatalf("got %d transactions", len(txs))
			}
			tx := txs[0]
			if tx.ID.LT != fxTxLT || !bytes.Equal(tx.ID.Hash, mustB64(t, fxTxHash)) {
				t.Errorf("id = %d %x", tx.ID.LT, tx.ID.Hash)
			}
			if tx.PrevID.LT != fxTxPrevLT || !bytes.Equal(tx.PrevID.Hash, mustB64(t, fxTxPrevHash)) {
				t.Errorf("prev id = %d %x", tx.PrevID.LT, tx.PrevID.Hash)
			}
			if tx.Now != fxTxNow || !bytes.Equal(tx.BOC, mustB64(t, fxTxBOC)) || !tx.Account.Equals(addr) {
				t.Errorf("now %d, account %s", tx.Now, tx.Account)
			}
			if tx.Tx == nil || !bytes.Equal(tx.Tx.Hash, tx.ID.Hash) || tx.Tx.LT != fxTxLT || tx.Tx.IO.In == nil {
				t.Errorf("decoded tx = %+v", tx.Tx)
			}
		})
	}
}

func TestMasterchainInfo(t *testing.T) {
	t.Parallel()
	const info = `{"@type":"blocks.masterchainInfo","last":{"@type":"ton.blockIdExt","workchain":-1,"shard":"-9223372036854775808","seqno":43112541,"root_hash":"xk6Qz9xwsTj7D8VwmSI6RXO7hqf1CeQh5ybbcTvDAJg=","file_hash":"Z3G8c6S/NwbOcOsK4c1rT16spI9MLRIW5Kr4wfHXIhI="},"state_root_hash":"4KEKgXR4Jt0x5YSFu9GdLLqw6ZoK7Tbc8y2CZpX9x4Y=","init":{"@type":"ton.blockIdExt","workchain":-1,"shard":"-9223372036854775808","seqno":0,"root_hash":"F6OpKZKqvqeFp6CQmFomXNMfMj2EnaUSOXN+Mh+wVWk=","file_hash":"XplPz01CXAps5qeSWUtxcyBfdAo5zVb1N979KLSKD24="}`
	const header = `{"@type":"blocks.header","id":{"@type":"ton.blockIdExt","workchain":-1,"shard":"-9223372036854775808","seqno":43112541,"root_hash":"xk6Qz9xwsTj7D8VwmSI6RXO7hqf1CeQh5ybbcTvDAJg=","file_hash":"Z3G8c6S/NwbOcOsK4c1rT16spI9MLRIW5Kr4wfHXIhI="},"global_id":-239,"version":0,"after_merge":false,"after_split":false,"before_split":false,"want_merge":true,"want_split":false,"validator_list_hash_short":123,"catchain_seqno":456,"min_ref_mc_seqno":43112538,"is_key_block":false,"prev_key_block_seqno":43110000,"start_lt":"51200000000000","end_lt":"51200000000004","gen_utime":1730000123,"vert_seqno":1,"prev_blocks":[]}`
	headerErr := []reply{{status: 500, body: `{"ok":false,"error":"LITE_SERVER_NOTREADY: block is not applied","code":500}`}}
	tests := []struct {
		name     string
		replies  map[string][]reply
		wantTime uint32
		wantErr  string
	}{
		{"header", map[string][]reply{"getMasterchainInfo": ok(info + `}`), "getBlockHeader": ok(header)}, 1730000123, ""},
		{"header fails, utime fallback", map[string][]reply{"getMasterchainInfo": ok(info + `,"utime":1730000100}`), "getBlockHeader": headerErr}, 1730000100, ""},
		{"header without gen_utime, utime fallback", map[string][]reply{"getMasterchainInfo": ok(info + `,"utime":1730000100}`), "getBlockHeader": ok(`{"@type":"blocks.header"}`)}, 1730000100, ""},
		{"header without gen_utime, no fallback", map[string][]reply{"getMasterchainInfo": ok(info + `}`), "getBlockHeader": ok(`{"@type":"blocks.header"}`)}, 0, "has no gen_utime"},
		{"header fails, no fallback", map[string][]reply{"getMasterchainInfo": ok(info + `}`), "getBlockHeader": headerErr}, 0, "LITE_SERVER_NOTREADY"},
		{"info fails", map[string][]reply{"getMasterchainInfo": {{status: 503, body: "<html>Service Unavailable</html>"}}}, 0, "HTTP 503"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFake(t, tt.replies)
			mi, err := f.client().MasterchainInfo(context.Background())
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if mi.Seqno != 43112541 || mi.Time != tt.wantTime {
				t.Errorf("info = %+v, want seqno 43112541 time %d", mi, tt.wantTime)
			}
			reqs := f.requests()
			h := reqs[len(reqs)-1]
			if h.Method != "getBlockHeader" || param(t, h, "workchain") != float64(-1) || param(t, h, "shard") != "-9223372036854775808" || param(t, h, "seqno") != float64(43112541) {
				t.Errorf("header request = %+v", h)
			}
		})
	}
}

func TestEstimateFee(t *testing.T) {
	t.Parallel()
	f := newFake(t, map[string][]reply{"estimateFee": ok(`{"@type":"query.fees","source_fees":{"@type":"fees","in_fwd_fee":1234000,"storage_fee":17,"gas_fee":"3308000","fwd_fee":666672},"destination_fees":[],"@extra":"1"}`)})
	body := mustCell(t, fxCellRef)
	fees, err := f.client().EstimateFee(context.Background(), fxAddress(), body, mustCell(t, fxCode), nil, true)
	if err != nil {
		t.Fatal(err)
	}
	want := chain.Fees{InFwdFee: 1234000, StorageFee: 17, GasFee: 3308000, FwdFee: 666672}
	if diff := cmp.Diff(want, *fees); diff != "" {
		t.Errorf("fees (-want +got):\n%s", diff)
	}
	if fees.Total() != 1234000+17+3308000+666672 {
		t.Errorf("total fee %d", fees.Total())
	}
	r := f.requests()[0]
	if param(t, r, "address") != fxAddr || param(t, r, "ignore_chksig") != true || param(t, r, "init_data") != "" {
		t.Errorf("params = %v", r.Params)
	}
	if !bytes.Equal(mustCell(t, param(t, r, "body").(string)).Hash(), body.Hash()) || !bytes.Equal(mustCell(t, param(t, r, "init_code").(string)).Hash(), mustCell(t, fxCode).Hash()) {
		t.Errorf("body/init_code differ: %v", r.Params)
	}
}

func TestErrors(t *testing.T) {
	t.Parallel()
	const good = `{"ok":true,"result":{"@type":"blocks.header","gen_utime":1}}`
	rateLimited := reply{status: 429, body: `{"ok":false,"error":"Ratelimit exceed","code":429}`}
	tests := []struct {
		name      string
		replies   []reply
		wantErr   []string // substrings
		wantCalls int
		notFound  bool
	}{
		{"ok:false code 400", []reply{{status: 400, body: `{"ok":false,"error":"Incorrect address: invalid checksum","code":400}`}}, []string{"toncenter getBlockHeader", "HTTP 400", "Incorrect address"}, 1, false},
		{"ok:false code 500 with HTTP 200", []reply{{body: `{"ok":false,"error":"LITE_SERVER_UNKNOWN: cannot load block","code":500}`}}, []string{"HTTP 200", "code 500", "LITE_SERVER_UNKNOWN"}, 1, false},
		{"HTTP 500 non-JSON, retried twice", []reply{{status: 500, body: "Internal Server Error"}}, []string{"HTTP 500", "non-JSON response: Internal Server Error"}, 3, false},
		{"HTTP 502 empty, retried until exhausted", []reply{{status: 502}}, []string{"HTTP 502", "(empty body)"}, 4, false},
		{"a server restarting: 500, 503, then success", []reply{{status: 500, body: "Internal Server Error"}, {status: 503}, {body: good}}, nil, 3, false},
		{"a connection dropped, then success", []reply{{hangup: true}, {hangup: true}, {body: good}}, nil, 3, false},
		{"JSON-RPC error object", []reply{{body: `{"jsonrpc":"2.0","id":1,"error":{"code":-32601,"message":"Method not found"}}`}}, []string{"code -32601", "Method not found"}, 1, false},
		{"404 is not found", []reply{{status: 404, body: `{"ok":false,"error":"block not found","code":404}`}}, []string{"HTTP 404", "block not found"}, 1, true},
		{"ok without result", []reply{{body: `{"ok":true}`}}, []string{"no result"}, 1, false},
		{"429 then success", []reply{rateLimited, rateLimited, {body: good}}, nil, 3, false},
		{"429 with Retry-After then success", []reply{{status: 429, body: `{"ok":false,"error":"Ratelimit exceed","code":429}`, header: map[string]string{"Retry-After": "1"}}, {body: good}}, nil, 2, false},
		{"429 exhausted", []reply{rateLimited}, []string{"HTTP 429", "Ratelimit exceed"}, 4, false},
		{"JSON-RPC success shape", []reply{{body: `{"jsonrpc":"2.0","id":"1","result":{"gen_utime":1}}`}}, nil, 1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFake(t, map[string][]reply{"getBlockHeader": tt.replies})
			var out blockHeaderJSON
			err := f.client(WithAPIKey("secret-key")).call(context.Background(), "getBlockHeader", map[string]any{"seqno": 1}, &out)
			if len(tt.wantErr) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				if out.GenUtime.Int64() != 1 {
					t.Errorf("gen_utime = %s", out.GenUtime.String())
				}
			} else {
				if err == nil {
					t.Fatal("no error")
				}
				for _, s := range tt.wantErr {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("err = %q, want containing %q", err, s)
					}
				}
				var te *Error
				if !errors.As(err, &te) || te.Method != "getBlockHeader" {
					t.Errorf("err %v is not a *toncenter.Error for the method", err)
				}
				if errors.Is(err, chain.ErrNotFound) != tt.notFound {
					t.Errorf("errors.Is(err, ErrNotFound) = %v, want %v", !tt.notFound, tt.notFound)
				}
			}
			reqs := f.requests()
			if len(reqs) != tt.wantCalls {
				t.Errorf("%d calls, want %d", len(reqs), tt.wantCalls)
			}
			for _, r := range reqs {
				if r.APIKey != "secret-key" {
					t.Errorf("X-API-Key = %q", r.APIKey)
				}
			}
		})
	}
}

// A message the chain refuses is answered 500 by toncenter; no retry
// changes that, so the sending methods retry only what never reached the
// server or a gateway error.
func TestSendRetries(t *testing.T) {
	t.Parallel()
	refused := reply{status: 500, body: `{"ok":false,"error":"cannot apply external message to current state","code":500}`}
	tests := []struct {
		name      string
		replies   []reply
		wantErr   bool
		wantCalls int
	}{
		{"refused message: not retried", []reply{refused}, true, 1},
		{"gateway down, then sent", []reply{{status: 503}, {body: `{"ok":true,"result":{"@type":"ok"}}`}}, false, 2},
		{"connection dropped, then sent", []reply{{hangup: true}, {body: `{"ok":true,"result":{"@type":"ok"}}`}}, false, 2},
		{"bad request: not retried", []reply{{status: 400, body: `{"ok":false,"error":"bad boc","code":400}`}}, true, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFake(t, map[string][]reply{"sendBoc": tt.replies})
			err := f.client().call(context.Background(), "sendBoc", map[string]any{"boc": "te6c"}, nil)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if n := len(f.requests()); n != tt.wantCalls {
				t.Errorf("%d calls, want %d", n, tt.wantCalls)
			}
		})
	}
}

func TestRetryRespectsContext(t *testing.T) {
	t.Parallel()
	f := newFake(t, map[string][]reply{"getMasterchainInfo": {{status: 429, body: `{"ok":false,"error":"Ratelimit exceed","code":429}`}}})
	c := New(f.srv.URL, WithRetry(10, time.Hour))
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.MasterchainInfo(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want deadline exceeded", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Errorf("retry wait ignored the context")
	}
	if n := len(f.requests()); n != 1 {
		t.Errorf("%d calls, want 1", n)
	}
}

func TestNoAPIKeyHeaderByDefault(t *testing.T) {
	t.Parallel()
	f := newFake(t, map[string][]reply{"getBlockHeader": {{body: `{"ok":true,"result":{}}`}}})
	if err := f.client().call(context.Background(), "getBlockHeader", map[string]any{}, nil); err != nil {
		t.Fatal(err)
	}
	if k := f.requests()[0].APIKey; k != "" {
		t.Errorf("X-API-Key = %q, want none", k)
	}
}
