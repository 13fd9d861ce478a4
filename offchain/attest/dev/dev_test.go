package dev

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cocoon-network/cocoon/offchain/attest/check"
)

func TestSignParseVerify(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	other, _, _ := ed25519.GenerateKey(rand.Reader)
	var rd [64]byte
	copy(rd[:], "report data")
	raw, err := Sign(priv, "cocoon-worker:1", rd)
	if err != nil {
		t.Fatal(err)
	}
	st, err := Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	m := Measurement("cocoon-worker:1")
	if st.Image != "cocoon-worker:1" || string(st.ReportData) != string(rd[:]) || m == Measurement("cocoon-worker:2") {
		t.Errorf("statement %+v", st)
	}
	for _, c := range []struct {
		name    string
		edit    func(*Statement)
		signers [][]byte
		ok      bool
	}{
		{"good", func(*Statement) {}, nil, true},
		{"good, known signer", func(*Statement) {}, [][]byte{other, pub}, true},
		{"unknown signer", func(*Statement) {}, [][]byte{other}, false},
		{"image changed", func(s *Statement) { s.Image = "other" }, nil, false},
		{"report data changed", func(s *Statement) { s.ReportData[0] ^= 1 }, nil, false},
		{"signature changed", func(s *Statement) { s.Signature[0] ^= 1 }, nil, false},
	} {
		s, _ := Parse(raw)
		c.edit(s)
		err := Verify(s, c.signers, &check.Log{})
		if (err == nil) != c.ok || (err != nil && check.Name(err) != CheckSignature) {
			t.Errorf("%s: %v", c.name, err)
		}
	}
	if _, err := Sign(priv, "", rd); err == nil {
		t.Error("empty image signed")
	}
}

func TestParseRefusals(t *testing.T) {
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	raw, _ := Sign(priv, "img", [64]byte{})
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	edit := func(k string, v any) []byte {
		c := map[string]any{}
		for a, b := range m {
			c[a] = b
		}
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
		b, _ := json.Marshal(c)
		return b
	}
	for name, in := range map[string][]byte{
		"unknown field":    edit("extra", 1),
		"version 2":        edit("version", 2),
		"no image":         edit("image", nil),
		"short reportdata": edit("report_data", "AAAA"),
		"short signer":     edit("signer", "AAAA"),
		"no signature":     edit("signature", nil),
		"trailing data":    append(append([]byte(nil), raw...), []byte(" {}")...),
		"not JSON":         []byte("\x04\x00"),
	} {
		if _, err := Parse(in); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestKeyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dev.key")
	k1, created, err := LoadOrCreateKey(path)
	if err != nil || !created {
		t.Fatalf("create: %v %v", created, err)
	}
	st, _ := os.Stat(path)
	if st.Mode().Perm() != 0o600 {
		t.Errorf("mode %04o", st.Mode().Perm())
	}
	k2, created, err := LoadOrCreateKey(path)
	if err != nil || created || !k1.Equal(k2) {
		t.Fatalf("reload: %v %v", created, err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadKey(path); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("readable key accepted: %v", err)
	}
	bad := filepath.Join(t.TempDir(), "bad.key")
	_ = os.WriteFile(bad, []byte("not pem"), 0o600)
	if _, _, err := LoadOrCreateKey(bad); err == nil {
		t.Error("garbage key accepted")
	}
}
