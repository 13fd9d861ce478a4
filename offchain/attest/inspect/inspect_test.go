package inspect_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"os"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cocoon-network/cocoon/offchain/attest"
	"github.com/cocoon-network/cocoon/offchain/attest/inspect"
)

func readFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("../testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func devBundle(t *testing.T) []byte {
	t.Helper()
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	b, err := attest.NewBundle(context.Background(), &attest.DevSource{Key: key, Image: "img"}, nil,
		[]attest.Key{{Name: attest.KeyEd25519, Public: make([]byte, 32)}}, nil, time.Unix(1_750_000_000, 0),
		attest.ModelWeights{Model: "m", Hash: make([]byte, 32)})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := b.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func TestEvidence(t *testing.T) {
	quote := readFile(t, "tdx/quote_v4.dat")
	snp := readFile(t, "sevsnp/report.bin")
	gpu := readFile(t, "nvidia/report.bin")
	tdxBundle, err := json.Marshal(&attest.Bundle{Version: 1, TEE: attest.TEETDX, Evidence: quote,
		Keys: []attest.Key{{Name: attest.KeyEd25519, Public: make([]byte, 32)}}, CreatedAt: 1_750_000_000})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name      string
		raw       []byte
		tee       string // the TEE whose measurement image_hash must be
		evidence  []byte // of that TEE; nil: the raw file itself
		wantType  string
		wantFirst []string // the fields that lead, in order
	}{
		{name: "tdx quote", raw: quote, tee: attest.TEETDX, wantType: attest.KindTDX,
			wantFirst: []string{"type", "version", "tee_type", "body_type", "qe_vendor_id"}},
		{name: "sevsnp report", raw: snp, tee: attest.TEESEVSNP, wantType: attest.KindSNP,
			wantFirst: []string{"type", "version", "guest_svn", "policy", "debug"}},
		{name: "nvidia report", raw: gpu, tee: attest.TEENVIDIA, wantType: attest.KindNVIDIA,
			wantFirst: []string{"type", "spdm_version", "request_nonce", "measurement_blocks", "image_hash"}},
		{name: "tdx bundle", raw: tdxBundle, tee: attest.TEETDX, evidence: quote, wantType: attest.KindBundle,
			wantFirst: []string{"type", "version", "tee", "created_at", "bundle_hash", "keys", "nonce", "report_data", "evidence"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := inspect.Evidence(tc.raw)
			if err != nil {
				t.Fatal(err)
			}
			if got := f.Get("type"); got != tc.wantType {
				t.Errorf("type %v, want %s", got, tc.wantType)
			}
			if diff := cmp.Diff(tc.wantFirst, f.Keys()[:len(tc.wantFirst)]); diff != "" {
				t.Errorf("leading fields (-want +got):\n%s", diff)
			}
			ev, m := f, tc.raw
			if tc.evidence != nil {
				ev, m = f.Get("evidence").(*inspect.Fields), tc.evidence
			}
			want, err := attest.Measurement(tc.tee, m)
			if err != nil {
				t.Fatal(err)
			}
			if got := ev.Get("image_hash"); got != hex.EncodeToString(want[:]) {
				t.Errorf("image_hash %v, want the allow-list measurement %x", got, want)
			}
		})
	}
}

// A dev bundle is flagged insecure, and its statement and weights are shown.
func TestEvidenceDevBundle(t *testing.T) {
	f, err := inspect.Evidence(devBundle(t))
	if err != nil {
		t.Fatal(err)
	}
	if w, _ := f.Get("warning").(string); w == "" {
		t.Error("a dev bundle is shown without its warning")
	}
	ev := f.Get("evidence").(*inspect.Fields)
	if ev.Get("type") != "dev_statement" || ev.Get("image") != "img" {
		t.Errorf("dev evidence shown as %v / %v", ev.Get("type"), ev.Get("image"))
	}
	ws, _ := f.Get("weights").([]*inspect.Fields)
	if len(ws) != 1 || ws[0].Get("model") != "m" {
		t.Errorf("weights %v", ws)
	}
}

// JSON keeps the fields' order.
func TestFieldsJSONOrder(t *testing.T) {
	f, err := inspect.Evidence(readFile(t, "sevsnp/report.bin"))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	var keys []string
	if _, err := dec.Token(); err != nil { // {
		t.Fatal(err)
	}
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatal(err)
		}
	}
	if diff := cmp.Diff(f.Keys(), keys); diff != "" {
		t.Errorf("JSON key order (-fields +json):\n%s", diff)
	}
}

func TestEvidenceRefusesGarbage(t *testing.T) {
	for name, raw := range map[string][]byte{
		"empty":             nil,
		"not evidence":      []byte("hello, world"),
		"truncated quote":   readFile(t, "tdx/quote_v4.dat")[:200],
		"broken bundle":     []byte(`{"version":1,"tee":"tdx"`),
		"bundle, bad quote": []byte(`{"version":1,"tee":"tdx","evidence":"AAAA","keys":[],"created_at":1}`),
	} {
		if _, err := inspect.Evidence(raw); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
