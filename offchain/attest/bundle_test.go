package attest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
)

func sampleBundle() *Bundle {
	return &Bundle{
		Version:  BundleVersion,
		TEE:      TEEDev,
		Evidence: []byte("evidence"),
		Keys: []Key{
			{Name: KeyEd25519, Public: bytes.Repeat([]byte{1}, 32)},
			{Name: KeyHPKE, Public: bytes.Repeat([]byte{2}, 32)},
		},
		Nonce:     []byte{9, 9},
		CreatedAt: 1700000000,
	}
}

func TestEncodeDecodeCanonical(t *testing.T) {
	b := sampleBundle()
	raw, err := b.Encode()
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(raw)
	if err != nil {
		t.Fatal(err)
	}
	h1, _ := b.BundleHash()
	h2, _ := got.BundleHash()
	if h1 != sha256.Sum256(raw) || h1 != h2 {
		t.Errorf("bundle hash is not sha256 of the encoding")
	}
	for _, c := range []struct {
		name string
		in   string
	}{
		{"whitespace", strings.Replace(string(raw), ",", ", ", 1)},
		{"field order", strings.Replace(string(raw), `{"version":1,"tee":"dev"`, `{"tee":"dev","version":1`, 1)},
		{"unknown field", strings.Replace(string(raw), `{"version":1`, `{"extra":1,"version":1`, 1)},
		{"empty certs", strings.Replace(string(raw), `,"keys"`, `,"certs":[],"keys"`, 1)},
		{"trailing newline", string(raw) + "\n"},
		{"version 2", strings.Replace(string(raw), `"version":1`, `"version":2`, 1)},
		{"unknown tee", strings.Replace(string(raw), `"tee":"dev"`, `"tee":"sgx"`, 1)},
		{"huge", string(raw) + strings.Repeat(" ", MaxBundleSize)},
	} {
		if _, err := Decode([]byte(c.in)); err == nil {
			t.Errorf("%s: accepted", c.name)
		}
	}
}

func TestValidate(t *testing.T) {
	for _, c := range []struct {
		name string
		edit func(*Bundle)
		ok   bool
	}{
		{"good", func(*Bundle) {}, true},
		{"no keys", func(b *Bundle) { b.Keys = nil }, false},
		{"unsorted keys", func(b *Bundle) { b.Keys[0], b.Keys[1] = b.Keys[1], b.Keys[0] }, false},
		{"duplicate keys", func(b *Bundle) { b.Keys[1].Name = KeyEd25519 }, false},
		{"short ed25519", func(b *Bundle) { b.Keys[0].Public = b.Keys[0].Public[:31] }, false},
		{"bad key name", func(b *Bundle) { b.Keys[1].Name = "HPKE" }, false},
		{"long nonce", func(b *Bundle) { b.Nonce = make([]byte, 65) }, false},
		{"no evidence", func(b *Bundle) { b.Evidence = nil }, false},
		{"empty cert", func(b *Bundle) { b.Certs = []Blob{{Name: "vcek"}} }, false},
		{"gpu of another kind", func(b *Bundle) { b.GPUs = []GPUEvidence{{TEE: TEETDX, Evidence: []byte{1}}} }, false},
	} {
		b := sampleBundle()
		c.edit(b)
		if err := b.Validate(); (err == nil) != c.ok {
			t.Errorf("%s: %v", c.name, err)
		}
	}
}

// TestReportDataVector pins the report-data encoding documented in
// docs/ATTESTATION.md; other implementations can test against it.
func TestReportDataVector(t *testing.T) {
	b := sampleBundle()
	pre, err := ReportDataPreimage(b.Keys, b.Nonce, b.CreatedAt)
	if err != nil {
		t.Fatal(err)
	}
	wantPre := hex.EncodeToString([]byte("cocoon-attest-report-data-v1")) +
		"02" +
		"07" + hex.EncodeToString([]byte("ed25519")) + "0020" + strings.Repeat("01", 32) +
		"04" + hex.EncodeToString([]byte("hpke")) + "0020" + strings.Repeat("02", 32) +
		"02" + "0909" +
		"000000006553f100"
	if hex.EncodeToString(pre) != wantPre {
		t.Errorf("preimage\n got %x\nwant %s", pre, wantPre)
	}
	rd, _ := b.ReportData()
	// sha512 of the preimage above, computed independently (Python hashlib).
	const want = "5afc15a3f98db2bfa2a1bd4deb68e53eb0e679a73d90bfc3ef5d125ad88aade3d4ac9eabb2e11ddd5e55be8f5c9f4cbe9ce52ffd5bfe6452d05590c51f6044ac"
	if hex.EncodeToString(rd[:]) != want {
		t.Errorf("report data %x, want %s", rd, want)
	}
	// Any change to keys, nonce or time changes the report data.
	for _, edit := range []func(*Bundle){
		func(b *Bundle) { b.Keys[0].Public[0] ^= 1 },
		func(b *Bundle) { b.Keys[1].Name = "x25519" },
		func(b *Bundle) { b.Nonce = nil },
		func(b *Bundle) { b.CreatedAt++ },
	} {
		o := sampleBundle()
		edit(o)
		if ord, _ := ReportData(SortKeys(o.Keys), o.Nonce, o.CreatedAt); ord == rd {
			t.Error("report data did not change")
		}
	}
}

func TestBundleWeights(t *testing.T) {
	keys := []Key{{Name: KeyEd25519, Public: make([]byte, 32)}}
	h := bytes.Repeat([]byte{7}, 32)
	plain, err := ReportData(keys, nil, 1700000000)
	if err != nil {
		t.Fatal(err)
	}
	with, err := ReportData(keys, nil, 1700000000, ModelWeights{Model: "m", Hash: h})
	if err != nil || with == plain {
		t.Fatalf("weights do not change the report data: %v", err)
	}
	other, _ := ReportData(keys, nil, 1700000000, ModelWeights{Model: "n", Hash: h})
	if other == with {
		t.Fatal("the model name is not bound")
	}
	for _, ws := range [][]ModelWeights{
		{{Model: "b", Hash: h}, {Model: "a", Hash: h}},
		{{Model: "a", Hash: h}, {Model: "a", Hash: h}},
		{{Model: "a", Hash: h[:31]}},
		{{Model: "", Hash: h}},
	} {
		if _, err := ReportData(keys, nil, 1, ws...); err == nil {
			t.Errorf("%v: accepted", ws)
		}
		b := &Bundle{Version: 1, TEE: TEEDev, Evidence: []byte{1}, Keys: keys, Weights: ws}
		if _, err := b.Encode(); err == nil {
			t.Errorf("%v: encoded", ws)
		}
	}
	b := &Bundle{Version: 1, TEE: TEEDev, Evidence: []byte{1}, Keys: keys, Weights: []ModelWeights{{Model: "m", Hash: h}}}
	raw, err := b.Encode()
	if err != nil {
		t.Fatal(err)
	}
	d, err := Decode(raw)
	if err != nil || !bytes.Equal(d.WeightsFor("m"), h) || d.WeightsFor("x") != nil {
		t.Fatalf("round trip: %v %+v", err, d)
	}
}
