package httpapi

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/xssnick/tonutils-go/address"

	"github.com/cocoon-network/cocoon/offchain/boc/boctest"
)

// rawRPC posts one JSON-RPC call and returns the status and the decoded
// body, whatever they are; an empty or non-JSON reply is an error.
func (f *fixture) rawRPC(method string, params map[string]any) (int, map[string]any, error) {
	b, err := json.Marshal(map[string]any{"id": "1", "jsonrpc": "2.0", "method": method, "params": params})
	if err != nil {
		return 0, nil, err
	}
	resp, err := http.Post(f.srv.URL+"/api/v2/jsonRPC", "application/json", bytes.NewReader(b))
	if err != nil {
		return 0, nil, fmt.Errorf("%s: no answer: %w", method, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, nil, fmt.Errorf("%s: reading the answer: %w", method, err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		return resp.StatusCode, nil, fmt.Errorf("%s: HTTP %d with a body that is not JSON: %q", method, resp.StatusCode, raw)
	}
	return resp.StatusCode, m, nil
}

// The second hostile sweep's cases (issue 24), kept as a regression suite:
// each once killed the devnet (SIGABRT in libemulator) or answered 500.
// Every one is now a 4xx naming the problem, or a toncenter-shaped 200,
// and none reaches an emulator that dies on it.
func TestSweepRegressions(t *testing.T) {
	f := newFixture(t)
	genesis := f.e.GenesisAddress().String()
	stackOf := func(typ string, c []byte) []any {
		return []any{[]any{typ, base64.StdEncoding.EncodeToString(c)}}
	}
	type tc struct {
		name   string
		method string
		params map[string]any
		status int
		want   string
	}
	var cases []tc
	for name, c := range boctest.Exotic() {
		rootExotic := !strings.HasPrefix(name, "ordinary")
		for _, typ := range []string{"tvm.Cell", "tvm.Slice", "tvm.Builder"} {
			status, want := 0, "" // 200 or 400: what the TVM makes of it
			switch {
			case strings.Contains(name, "pruned") && !strings.HasPrefix(name, "Merkle"):
				status, want = 400, "level mask"
			case typ == "tvm.Slice" && rootExotic:
				status, want = 400, "exotic cell"
			case name == "library reference" && typ == "tvm.Cell":
				status = 200
			}
			cases = append(cases, tc{name + " as " + typ, "runGetMethod",
				map[string]any{"address": genesis, "method": "seqno", "stack": stackOf(typ, c)}, status, want})
		}
	}
	nobody := address.NewAddress(0, 0, bytes.Repeat([]byte{0x42}, 32)).String()
	cases = append(cases,
		tc{"get-method on a nonexistent account", "runGetMethod", map[string]any{"address": nobody, "method": "seqno"}, 200, ""},
		tc{"fee of a message the wallet refuses", "estimateFee", map[string]any{"address": genesis, "body": "te6ccgEBAQEAAgAAAA=="}, 422, "not accepted"},
		tc{"fee of a deploy with junk code", "estimateFee", map[string]any{"address": nobody, "body": "te6ccgEBAQEAAgAAAA==",
			"init_code": "te6ccgEBAQEAAwAAAf8=", "init_data": "te6ccgEBAQEAAgAAAA=="}, 422, "not accepted"},
		tc{"fee for a nonexistent account", "estimateFee", map[string]any{"address": nobody, "body": "te6ccgEBAQEAAgAAAA=="}, 422, "not accepted"},
	)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, res, err := f.rawRPC(c.method, c.params)
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case c.status == 0 && status != 200 && status != 400:
				t.Fatalf("HTTP %d, want 200 or 400: %v", status, res)
			case c.status != 0 && status != c.status:
				t.Fatalf("HTTP %d, want %d: %v", status, c.status, res)
			}
			t.Logf("HTTP %d %s", status, errorOf(res))
			if msg := errorOf(res); !strings.Contains(msg, c.want) {
				t.Errorf("error %q does not say %q", msg, c.want)
			}
			if c.name == "get-method on a nonexistent account" {
				r := res["result"].(map[string]any)
				if r["exit_code"] != float64(-13) {
					t.Errorf("exit_code %v, want -13 as toncenter answers", r["exit_code"])
				}
			}
		})
	}
	// The checkers stopped every case before the emulator: no child died.
	if st := f.e.Stats(); st.EmulatorCrashes != 0 {
		t.Errorf("%d emulator processes died: a checker let an input through", st.EmulatorCrashes)
	}
	f.rpc(t, "runGetMethod", map[string]any{"address": genesis, "method": "seqno"}, 200)
}
