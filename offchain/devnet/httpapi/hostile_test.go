package httpapi

import (
	"bufio"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/xssnick/tonutils-go/address"
	"github.com/xssnick/tonutils-go/tvm/cell"

	"github.com/cocoon-network/cocoon/offchain/boc/boctest"
	"github.com/cocoon-network/cocoon/offchain/devnet"
	"github.com/cocoon-network/cocoon/offchain/internal/httpserve"
)

// errorOf is the error text of a failed answer.
func errorOf(res map[string]any) string {
	s, _ := res["error"].(string)
	return s
}

// Every malformed BOC, wherever the API takes one, is a 400 that names the
// problem (issue 12: these were handler panics).
func TestMalformedBOCsAnswer400(t *testing.T) {
	f := newFixture(t)
	genesis := f.e.GenesisAddress().String()
	for _, tc := range boctest.Cases() {
		if tc.BOC == nil {
			continue // a missing parameter, tested in TestErrors
		}
		b := base64.StdEncoding.EncodeToString(tc.BOC)
		for _, call := range []struct {
			name string
			do   func() map[string]any
		}{
			{"sendBoc", func() map[string]any { return f.rpc(t, "sendBoc", map[string]any{"boc": b}, 400) }},
			{"sendBocReturnHash", func() map[string]any {
				return f.post(t, "/api/v2/sendBocReturnHash", map[string]any{"boc": b}, 400)
			}},
			{"estimateFee body", func() map[string]any {
				return f.rpc(t, "estimateFee", map[string]any{"address": genesis, "body": b}, 400)
			}},
			{"estimateFee init_code", func() map[string]any {
				return f.rpc(t, "estimateFee", map[string]any{"address": genesis, "body": "te6ccgEBAQEAAgAAAA==", "init_code": b}, 400)
			}},
			{"runGetMethod stack", func() map[string]any {
				return f.rpc(t, "runGetMethod", map[string]any{"address": genesis, "method": "seqno", "stack": []any{[]any{"tvm.Cell", b}}}, 400)
			}},
			{"library", func() map[string]any { return f.post(t, "/devnet/library", map[string]any{"boc": b}, 400) }},
		} {
			t.Run(tc.Name+"/"+call.name, func(t *testing.T) {
				if msg := errorOf(call.do()); !strings.Contains(msg, tc.Want) {
					t.Errorf("error %q does not say %q", msg, tc.Want)
				}
			})
		}
	}
	// The devnet still works.
	f.rpc(t, "runGetMethod", map[string]any{"address": genesis, "method": "seqno"}, 200)
}

func TestBadStackAndAddressesAnswer400(t *testing.T) {
	f := newFixture(t)
	genesis := f.e.GenesisAddress().String()
	wc5 := address.NewAddress(0, 5, make([]byte, 32)).String()
	// Valid alone, one level too deep once put under a stack.
	deep := base64.StdEncoding.EncodeToString(boctest.Chain(1023))
	big280 := "0x" + new(big.Int).Lsh(big.NewInt(1), 279).Text(16)
	for _, tc := range []struct {
		name   string
		method string
		params map[string]any
		want   string
	}{
		{"280-bit integer", "runGetMethod", map[string]any{"address": genesis, "method": "seqno", "stack": []any{[]any{"num", big280}}}, "does not fit"},
		{"2^256", "runGetMethod", map[string]any{"address": genesis, "method": "seqno", "stack": []any{[]any{"num", "0x1" + strings.Repeat("0", 64)}}}, "does not fit"},
		{"stack not an array", "runGetMethod", map[string]any{"address": genesis, "method": "seqno", "stack": "{}"}, "must be an array"},
		{"1023-deep cell argument", "runGetMethod", map[string]any{"address": genesis, "method": "seqno", "stack": []any{[]any{"tvm.Cell", deep}}}, "malformed BOC"},
		{"workchain 5: runGetMethod", "runGetMethod", map[string]any{"address": wc5, "method": "seqno"}, "workchain 5"},
		{"workchain 5: getTransactions", "getTransactions", map[string]any{"address": wc5}, "workchain 5"},
		{"workchain 5: getAddressInformation", "getAddressInformation", map[string]any{"address": wc5}, "workchain 5"},
		{"workchain 5: estimateFee", "estimateFee", map[string]any{"address": wc5, "body": "te6ccgEBAQEAAgAAAA=="}, "workchain 5"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if msg := errorOf(f.rpc(t, tc.method, tc.params, 400)); !strings.Contains(msg, tc.want) {
				t.Errorf("error %q does not say %q", msg, tc.want)
			}
		})
	}
	max := "0x" + new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 256), big.NewInt(1)).Text(16)
	f.rpc(t, "runGetMethod", map[string]any{"address": genesis, "method": "seqno", "stack": []any{[]any{"num", max}}}, 200)
}

// Chain time is 32-bit: a move past its end is refused and leaves the time
// as it was (issue 12: 2600000000 wrapped it for good).
func TestAdvanceRefusesWhatDoesNotFit(t *testing.T) {
	f := newFixture(t)
	for _, sec := range []any{2600000000, 9223372037, "18446744074", -1, "1e3", math.MaxUint32 + 1} {
		t.Run(fmt.Sprint(sec), func(t *testing.T) {
			f.post(t, "/devnet/advance", map[string]any{"seconds": sec}, 400)
		})
	}
	if st := f.e.Stats(); st.Time != uint32(t0.Unix()) {
		t.Fatalf("chain time %d after refused moves, want %d", st.Time, t0.Unix())
	}
	last := math.MaxUint32 - t0.Unix()
	res := f.post(t, "/devnet/advance", map[string]any{"seconds": last}, 200)["result"].(map[string]any)
	if res["time"] != float64(math.MaxUint32) {
		t.Fatalf("advancing to the last second: %v", res)
	}
	f.post(t, "/devnet/advance", map[string]any{"seconds": 1}, 400)
	res = f.post(t, "/devnet/advance", map[string]any{"seconds": 0}, 200)["result"].(map[string]any)
	if res["time"] != float64(math.MaxUint32) {
		t.Fatalf("time after a refused move past the end: %v", res)
	}
}

// Libraries that the emulator would refuse, or that would make the
// dictionary of all libraries too deep, are refused before anything is
// stored: the data directory restarts and serves afterwards.
func TestBadLibrariesLeaveDataDirStartable(t *testing.T) {
	dir := t.TempDir()
	open := func() (*devnet.Engine, *httptest.Server) {
		e, err := devnet.Open(context.Background(), devnet.Options{Dir: dir, Clock: devnet.FixedClock(t0)})
		if err != nil {
			t.Fatalf("opening the data directory: %v", err)
		}
		return e, httptest.NewServer(New(e, nil).Handler())
	}
	e, srv := open()
	f := &fixture{e: e, srv: srv}
	post := func(raw []byte, status int) string {
		return errorOf(f.post(t, "/devnet/library", map[string]any{"boc": base64.StdEncoding.EncodeToString(raw)}, status))
	}
	if msg := post(boctest.OddExotic(), 400); !strings.Contains(msg, "pruned branch") {
		t.Errorf("odd exotic cell: %q", msg)
	}
	if msg := post(boctest.Chain(1023), 400); !strings.Contains(msg, "nested 1023 deep") {
		t.Errorf("1023-deep chain: %q", msg)
	}
	post(boctest.Chain(700), 200)
	second := cell.BeginCell().MustStoreUInt(0xC0C0, 16).EndCell()
	post(second.ToBOC(), 200)
	genesis := e.GenesisAddress().String()
	f.rpc(t, "runGetMethod", map[string]any{"address": genesis, "method": "seqno"}, 200)
	srv.Close()
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}

	e, srv = open()
	defer e.Close()
	defer srv.Close()
	f = &fixture{e: e, srv: srv}
	f.rpc(t, "runGetMethod", map[string]any{"address": genesis, "method": "seqno"}, 200)
	if n := e.Stats().Libraries; n != 2 {
		t.Errorf("%d libraries after restart, want 2", n)
	}
}

// serveWithLimits serves a fresh devnet's API as cocoon devnet start does,
// with the given limits.
func serveWithLimits(t *testing.T, l httpserve.Limits) string {
	t.Helper()
	e, err := devnet.Open(context.Background(), devnet.Options{Dir: t.TempDir(), Clock: devnet.FixedClock(t0)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := New(e, nil).HTTPServer(l)
	go srv.Serve(srv.Listener(ln))
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// readUntilClosed reads what the server sends until it closes the
// connection. The deadline only keeps a broken server from hanging the
// test; it is not what is asserted.
func readUntilClosed(t *testing.T, c net.Conn) string {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(time.Minute))
	got, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("the server did not close the connection: %v (read %q)", err, got)
	}
	return string(got)
}

// A client that announces a body and sends nothing is dropped after the
// read timeout (issue 12: held for over 70 s).
func TestSlowClientIsDropped(t *testing.T) {
	l := DefaultLimits()
	l.ReadTimeout = 300 * time.Millisecond
	addr := serveWithLimits(t, l)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "POST /api/v2/jsonRPC HTTP/1.1\r\nHost: devnet\r\nContent-Type: application/json\r\nContent-Length: 1000000\r\n\r\n")
	got := readUntilClosed(t, c)
	if got != "" && !strings.Contains(got, "400 Bad Request") {
		t.Errorf("answer before closing: %q", got)
	}
}

// With MaxConns 1, a connection left idle after its request gives its slot
// to the next client instead of keeping it waiting (issue 24: 256 idle
// sockets kept a server off the network).
func TestIdleConnectionGivesWayAtTheCap(t *testing.T) {
	l := DefaultLimits()
	l.MaxConns = 1
	addr := serveWithLimits(t, l)
	request := "GET /healthz HTTP/1.1\r\nHost: devnet\r\n\r\n"
	first, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	fmt.Fprint(first, request)
	resp, err := http.ReadResponse(bufio.NewReader(first), nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("first connection: %v %v", resp, err)
	}
	// first stays open (keep-alive), idle, holding the only slot; past the
	// guard's one-second grace it is fair game.
	time.Sleep(1100 * time.Millisecond)
	second, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	fmt.Fprint(second, request)
	second.SetReadDeadline(time.Now().Add(time.Minute))
	resp, err = http.ReadResponse(bufio.NewReader(second), nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("second connection while the first idles: %v %v", resp, err)
	}
	first.SetReadDeadline(time.Now().Add(time.Minute))
	if n, err := first.Read(make([]byte, 1)); n != 0 || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("the idle connection was not closed: %d %v", n, err)
	}
}

func TestMetrics(t *testing.T) {
	f := newFixture(t)
	f.fund(t, 1_000_000_000)
	f.rpc(t, "getAddressBalance", map[string]any{"address": f.addr.String()}, 200)
	f.rpc(t, "noSuchMethod", nil, 404)
	resp, err := http.Get(f.srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	text := string(raw)
	st := f.e.Stats()
	if st.Transactions < 2 {
		t.Fatalf("stats after a faucet transfer: %+v", st)
	}
	for _, want := range []string{
		fmt.Sprintf("cocoon_devnet_transactions_total %d\n", st.Transactions),
		fmt.Sprintf("cocoon_devnet_blocks_total %d\n", st.Blocks),
		fmt.Sprintf("cocoon_devnet_block_seqno %d\n", st.Seqno),
		`cocoon_devnet_requests_total{code="200",method="getAddressBalance"} 1`,
		`cocoon_devnet_requests_total{code="404",method="other"} 1`,
		"# TYPE cocoon_devnet_transactions_total counter",
		"go_goroutines",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

// A handler's panic is a 500 with the JSON envelope, not a dropped
// connection.
func TestHandlerPanicAnswers500(t *testing.T) {
	f := newFixture(t)
	s := New(f.e, nil)
	h := s.recoverPanics(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("a bug") }))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/v2/x", nil))
	if rec.Code != 500 || !strings.Contains(rec.Body.String(), `"error":"internal error serving /api/v2/x"`) {
		t.Fatalf("got %d %s", rec.Code, rec.Body)
	}
}
