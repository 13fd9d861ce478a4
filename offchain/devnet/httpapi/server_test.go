package httpapi

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/xssnick/tonutils-go/address"
	"github.com/xssnick/tonutils-go/tlb"
	"github.com/xssnick/tonutils-go/ton/wallet"
	"github.com/xssnick/tonutils-go/tvm/cell"

	"github.com/cocoon-network/cocoon/offchain/devnet"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

type fixture struct {
	e    *devnet.Engine
	srv  *httptest.Server
	w    *wallet.Wallet
	addr *address.Address
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	e, err := devnet.Open(context.Background(), devnet.Options{Dir: t.TempDir(), Clock: devnet.FixedClock(t0)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	srv := httptest.NewServer(New(e, nil).Handler())
	t.Cleanup(srv.Close)
	key := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, 32))
	w, err := wallet.FromPrivateKeyWithOptions(key, wallet.ConfigV5R1Final{NetworkGlobalID: -239})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{e: e, srv: srv, w: w, addr: w.WalletAddress()}
}

// fund funds the fixture's wallet through the HTTP faucet while a block is
// produced concurrently.
func (f *fixture) fund(t *testing.T, nano int64) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 50; i++ {
			time.Sleep(20 * time.Millisecond)
			f.e.ProduceBlock(context.Background())
		}
	}()
	res := f.post(t, "/devnet/faucet", map[string]any{"address": f.addr.String(), "amount": big.NewInt(nano).String()}, http.StatusOK)
	if res["ok"] != true {
		t.Fatalf("faucet: %v", res)
	}
	<-done
}

func (f *fixture) post(t *testing.T, path string, body any, wantStatus int) map[string]any {
	t.Helper()
	b, _ := json.Marshal(body)
	resp, err := http.Post(f.srv.URL+path, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return decode(t, resp, wantStatus)
}

func (f *fixture) rpc(t *testing.T, method string, params map[string]any, wantStatus int) map[string]any {
	t.Helper()
	res := f.post(t, "/api/v2/jsonRPC", map[string]any{"id": "1", "jsonrpc": "2.0", "method": method, "params": params}, wantStatus)
	if res["id"] != "1" || res["jsonrpc"] != "2.0" {
		t.Errorf("%s: JSON-RPC envelope missing id/jsonrpc: %v", method, res)
	}
	return res
}

func (f *fixture) get(t *testing.T, method string, q url.Values, wantStatus int) map[string]any {
	t.Helper()
	resp, err := http.Get(f.srv.URL + "/api/v2/" + method + "?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	return decode(t, resp, wantStatus)
}

func decode(t *testing.T, resp *http.Response, wantStatus int) map[string]any {
	t.Helper()
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != wantStatus {
		t.Fatalf("HTTP %d, want %d: %s", resp.StatusCode, wantStatus, raw)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("response is not JSON: %s", raw)
	}
	if wantStatus != http.StatusOK {
		if m["ok"] != false || m["error"] == "" || m["code"] != float64(wantStatus) {
			t.Errorf("error envelope %v", m)
		}
	}
	return m
}

func (f *fixture) transferBOC(t *testing.T, seqno uint32, to *address.Address, nano uint64) string {
	t.Helper()
	spec := f.w.GetSpec().(*wallet.SpecV5R1Final)
	spec.SetSeqnoFetcher(func(context.Context, uint32) (uint32, error) { return seqno, nil })
	msg := &wallet.Message{Mode: 3, InternalMessage: &tlb.InternalMessage{IHRDisabled: true, DstAddr: to, Amount: tlb.FromNanoTONU(nano), Body: cell.BeginCell().EndCell()}}
	ext, err := f.w.PrepareExternalMessageForMany(context.Background(), seqno == 0, []*wallet.Message{msg})
	if err != nil {
		t.Fatal(err)
	}
	c, _ := tlb.ToCell(ext)
	return base64.StdEncoding.EncodeToString(c.ToBOC())
}

func TestAccountEndpoints(t *testing.T) {
	f := newFixture(t)
	a := f.addr.String()
	// Before funding: an unknown account is "uninitialized" with zero balance.
	res := f.rpc(t, "getAddressInformation", map[string]any{"address": a}, 200)["result"].(map[string]any)
	if res["state"] != "uninitialized" || res["balance"] != "0" {
		t.Fatalf("unknown account: %v", res)
	}
	f.fund(t, 3_000_000_000)
	for _, tc := range []struct {
		method string
		check  func(any) bool
	}{
		{"getAddressBalance", func(r any) bool { return r == "3000000000" }},
		{"getAddressState", func(r any) bool { return r == "uninitialized" }},
		{"getAddressInformation", func(r any) bool {
			m := r.(map[string]any)
			lt := m["last_transaction_id"].(map[string]any)
			return m["balance"] == "3000000000" && lt["lt"] != "0" && m["code"] == "" && m["block_id"].(map[string]any)["@type"] == "ton.blockIdExt"
		}},
		{"getWalletInformation", func(r any) bool { m := r.(map[string]any); return m["wallet"] == false && m["balance"] == "3000000000" }},
		{"getExtendedAddressInformation", func(r any) bool { m := r.(map[string]any); return m["balance"] == "3000000000" }},
	} {
		// Each method answers the same over JSON-RPC and over GET, with either address form.
		viaRPC := f.rpc(t, tc.method, map[string]any{"address": a}, 200)["result"]
		viaGET := f.get(t, tc.method, url.Values{"address": {f.addr.StringRaw()}}, 200)["result"]
		if !tc.check(viaRPC) || !tc.check(viaGET) {
			t.Errorf("%s: rpc %v, get %v", tc.method, viaRPC, viaGET)
		}
	}
	// Deploy the wallet, then it is reported as a v5r1 wallet with seqno 1.
	other := address.NewAddress(0, 0, bytes.Repeat([]byte{1}, 32))
	f.rpc(t, "sendBoc", map[string]any{"boc": f.transferBOC(t, 0, other, 1_000_000)}, 200)
	if err := f.e.Settle(context.Background(), 5); err != nil {
		t.Fatal(err)
	}
	wi := f.rpc(t, "getWalletInformation", map[string]any{"address": a}, 200)["result"].(map[string]any)
	if wi["wallet"] != true || wi["wallet_type"] != "wallet v5 r1" || wi["seqno"] != float64(1) || wi["account_state"] != "active" {
		t.Errorf("wallet information after deploy: %v", wi)
	}
}

func TestRunGetMethodAndTransactions(t *testing.T) {
	f := newFixture(t)
	f.fund(t, 3_000_000_000)
	other := address.NewAddress(0, 0, bytes.Repeat([]byte{1}, 32))
	r := f.rpc(t, "sendBocReturnHash", map[string]any{"boc": f.transferBOC(t, 0, other, 1_000_000)}, 200)["result"].(map[string]any)
	if h, _ := base64.StdEncoding.DecodeString(r["hash"].(string)); len(h) != 32 {
		t.Errorf("sendBocReturnHash hash %v", r)
	}
	if err := f.e.Settle(context.Background(), 5); err != nil {
		t.Fatal(err)
	}
	gm := f.rpc(t, "runGetMethod", map[string]any{"address": f.addr.String(), "method": "seqno", "stack": []any{}}, 200)["result"].(map[string]any)
	stack := gm["stack"].([]any)
	if gm["exit_code"] != float64(0) || len(stack) != 1 || stack[0].([]any)[0] != "num" || stack[0].([]any)[1] != "0x1" {
		t.Errorf("runGetMethod seqno: %v", gm)
	}
	pk := f.get(t, "runGetMethod", url.Values{"address": {f.addr.String()}, "method": {"get_public_key"}, "stack": {"[]"}}, 200)["result"].(map[string]any)
	if pk["stack"].([]any)[0].([]any)[0] != "num" {
		t.Errorf("get_public_key over GET: %v", pk)
	}
	// A method that does not exist reports TVM's exit code rather than an HTTP error.
	bad := f.rpc(t, "runGetMethod", map[string]any{"address": f.addr.String(), "method": "nope", "stack": []any{}}, 200)["result"].(map[string]any)
	if bad["exit_code"] != float64(11) {
		t.Errorf("unknown get-method exit code %v", bad["exit_code"])
	}

	txs := f.rpc(t, "getTransactions", map[string]any{"address": f.addr.String(), "limit": 10}, 200)["result"].([]any)
	if len(txs) != 2 {
		t.Fatalf("%d transactions, want 2 (funding, transfer)", len(txs))
	}
	newest, oldest := txs[0].(map[string]any), txs[1].(map[string]any)
	nid := newest["transaction_id"].(map[string]any)
	oid := oldest["transaction_id"].(map[string]any)
	if nid["lt"].(string) <= oid["lt"].(string) && len(nid["lt"].(string)) <= len(oid["lt"].(string)) {
		t.Errorf("not newest first: %v then %v", nid, oid)
	}
	if newest["in_msg"].(map[string]any)["source"] != "" || len(newest["out_msgs"].([]any)) != 1 {
		t.Errorf("transfer transaction: %v", newest)
	}
	if oldest["in_msg"].(map[string]any)["value"] != "3000000000" {
		t.Errorf("funding transaction in_msg %v", oldest["in_msg"])
	}
	// Paging: start at the oldest by (lt, hash), hash in hex as @ton/ton sends it, or base64.
	hashB64 := oid["hash"].(string)
	raw, _ := base64.StdEncoding.DecodeString(hashB64)
	for _, h := range []string{hashB64, strings.ToLower(hexOf(raw))} {
		page := f.rpc(t, "getTransactions", map[string]any{"address": f.addr.String(), "limit": 5, "lt": oid["lt"], "hash": h}, 200)["result"].([]any)
		if len(page) != 1 || page[0].(map[string]any)["transaction_id"].(map[string]any)["hash"] != hashB64 {
			t.Errorf("page from oldest with hash %s: %d entries", h, len(page))
		}
	}
	// A wrong hash for that lt is not found.
	f.rpc(t, "getTransactions", map[string]any{"address": f.addr.String(), "limit": 5, "lt": oid["lt"], "hash": base64.StdEncoding.EncodeToString(make([]byte, 32))}, 404)

	mc := f.rpc(t, "getMasterchainInfo", nil, 200)["result"].(map[string]any)
	seqno := mc["last"].(map[string]any)["seqno"].(float64)
	hdr := f.rpc(t, "getBlockHeader", map[string]any{"workchain": -1, "shard": masterShard, "seqno": seqno}, 200)["result"].(map[string]any)
	if hdr["gen_utime"] == nil || hdr["id"].(map[string]any)["seqno"] != seqno {
		t.Errorf("block header %v", hdr)
	}
	fee := f.rpc(t, "estimateFee", map[string]any{"address": f.addr.String(), "body": bodyOf(t, f.transferBOC(t, 1, other, 1_000)), "ignore_chksig": true}, 200)["result"].(map[string]any)
	sf := fee["source_fees"].(map[string]any)
	if sf["gas_fee"].(float64) <= 0 || sf["in_fwd_fee"].(float64) <= 0 {
		t.Errorf("estimateFee %v", fee)
	}
}

func hexOf(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, x := range b {
		out = append(out, digits[x>>4], digits[x&15])
	}
	return string(out)
}

// bodyOf extracts the body of a serialized external message.
func bodyOf(t *testing.T, b64 string) string {
	raw, _ := base64.StdEncoding.DecodeString(b64)
	c, _ := cell.FromBOC(raw)
	var ext tlb.ExternalMessage
	if err := tlb.LoadFromCell(&ext, c.BeginParse()); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(ext.Body.ToBOC())
}

func TestErrors(t *testing.T) {
	f := newFixture(t)
	a := f.addr.String()
	cases := []struct {
		name   string
		method string
		params map[string]any
		status int
		want   string
	}{
		{"missing address", "getAddressBalance", map[string]any{}, 400, `"address" is required`},
		{"bad address", "getAddressBalance", map[string]any{"address": "nope"}, 400, "address"},
		{"bad boc", "sendBoc", map[string]any{"boc": "bm90IGEgYm9j"}, 400, "malformed BOC"},
		{"not base64", "sendBoc", map[string]any{"boc": "***"}, 400, "base64"},
		{"not accepted", "sendBoc", map[string]any{"boc": f.transferBOC(t, 5, f.addr, 1)}, 422, "cannot apply external message"},
		{"bad stack", "runGetMethod", map[string]any{"address": a, "method": "seqno", "stack": [][]any{{"num", "zz"}}}, 400, "not an integer"},
		{"limit too big", "getTransactions", map[string]any{"address": a, "limit": 1000}, 400, "limit"},
		{"unknown method", "getEverything", map[string]any{}, 404, "not served"},
		{"no such block", "getBlockHeader", map[string]any{"workchain": -1, "seqno": 99999}, 404, "not found"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := f.rpc(t, tc.method, tc.params, tc.status)
			if msg, _ := res["error"].(string); !strings.Contains(msg, tc.want) {
				t.Errorf("error %q does not mention %q", msg, tc.want)
			}
		})
	}
	// Malformed JSON-RPC bodies.
	resp, err := http.Post(f.srv.URL+"/api/v2/jsonRPC", "application/json", strings.NewReader("{not json"))
	if err != nil {
		t.Fatal(err)
	}
	decode(t, resp, 400)
	f.post(t, "/devnet/faucet", map[string]any{"address": a, "amount": "-5"}, 400)
	f.post(t, "/devnet/advance", map[string]any{"seconds": "soon"}, 400)
}

func TestAdvanceAndHealth(t *testing.T) {
	f := newFixture(t)
	res := f.post(t, "/devnet/advance", map[string]any{"seconds": 3600}, 200)["result"].(map[string]any)
	if res["time"] != float64(t0.Unix()+3600) {
		t.Errorf("block after advancing one hour: %v", res)
	}
	resp, err := http.Get(f.srv.URL + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("healthz: %v %v", resp, err)
	}
	resp.Body.Close()
}

func TestPublishLibrary(t *testing.T) {
	f := newFixture(t)
	code := cell.BeginCell().MustStoreUInt(0xC0C0, 16).EndCell()
	res := f.post(t, "/devnet/library", map[string]any{"boc": base64.StdEncoding.EncodeToString(code.ToBOC())}, 200)["result"].(map[string]any)
	if res["hash"] != hexOf(code.Hash()) {
		t.Errorf("published library hash %v, want %x", res["hash"], code.Hash())
	}
	f.post(t, "/devnet/library", map[string]any{"boc": "bm90IGEgYm9j"}, 400)
	f.post(t, "/devnet/library", map[string]any{}, 400)
}
