package seal

import (
	"bytes"
	"crypto/hpke"
	"encoding/hex"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

// hpkeVector is one base-mode test vector in the RFC 9180 JSON layout.
type hpkeVector struct {
	Source      string `json:"source"`
	Suite       string `json:"suite"`
	Mode        int    `json:"mode"`
	KEM         uint16 `json:"kem_id"`
	KDF         uint16 `json:"kdf_id"`
	AEAD        uint16 `json:"aead_id"`
	Info        string `json:"info"`
	IkmE        string `json:"ikmE"`
	IkmR        string `json:"ikmR"`
	SkRm        string `json:"skRm"`
	PkRm        string `json:"pkRm"`
	Enc         string `json:"enc"`
	Encryptions []struct {
		AAD string `json:"aad"`
		PT  string `json:"pt"`
		CT  string `json:"ct"`
	} `json:"encryptions"`
	Exports []struct {
		Context string `json:"exporter_context"`
		L       int    `json:"L"`
		Value   string `json:"exported_value"`
	} `json:"exports"`
}

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

// TestHPKEVectors checks both suites against published vectors: RFC 9180
// A.2.1 for x25519 and draft-ietf-hpke-pq for x25519-mlkem768. Only the
// recipient side can be checked: crypto/hpke draws the sender's ephemeral
// randomness internally and offers no way to inject the vectors' ikmE
// (testing/cryptotest.SetGlobalRandom seeds it, it cannot choose it), so
// Seal is covered by round trips and the pinned envelopes below instead.
func TestHPKEVectors(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "hpke-vectors.json"))
	if err != nil {
		t.Fatal(err)
	}
	var vectors []hpkeVector
	if err := json.Unmarshal(data, &vectors); err != nil {
		t.Fatal(err)
	}
	if len(vectors) != len(Suites()) {
		t.Fatalf("%d vectors, want one per suite (%d)", len(vectors), len(Suites()))
	}
	for _, v := range vectors {
		t.Run(v.Suite, func(t *testing.T) {
			suite, err := ParseSuite(v.Suite)
			if err != nil {
				t.Fatal(err)
			}
			p, err := suite.params()
			if err != nil {
				t.Fatal(err)
			}
			if v.Mode != 0 || p.kem.ID() != v.KEM || p.kdf.ID() != v.KDF || p.aead.ID() != v.AEAD {
				t.Fatalf("suite %s is (%#04x,%#04x,%#04x), vector is mode %d (%#04x,%#04x,%#04x)",
					suite, p.kem.ID(), p.kdf.ID(), p.aead.ID(), v.Mode, v.KEM, v.KDF, v.AEAD)
			}
			skRm, pkRm, enc, info := unhex(t, v.SkRm), unhex(t, v.PkRm), unhex(t, v.Enc), unhex(t, v.Info)

			// Key derivation and both key encodings.
			derived, err := p.kem.DeriveKeyPair(unhex(t, v.IkmR))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(derived.PublicKey().Bytes(), pkRm) {
				t.Errorf("DeriveKeyPair(ikmR) public key = %x, want %x", derived.PublicKey().Bytes(), pkRm)
			}
			priv, err := ParsePrivateKey(append([]byte{byte(suite)}, skRm...))
			if err != nil {
				t.Fatal(err)
			}
			pub, err := ParsePublicKey(append([]byte{byte(suite)}, pkRm...))
			if err != nil {
				t.Fatal(err)
			}
			if !priv.Public().Equal(pub) {
				t.Errorf("public key of skRm differs from pkRm")
			}
			if len(enc) != p.encSize || len(pkRm) != p.publicSize {
				t.Errorf("vector sizes enc=%d pk=%d, suite params say %d and %d", len(enc), len(pkRm), p.encSize, p.publicSize)
			}
			if suite == SuiteX25519 {
				// For DHKEM, enc is the ephemeral public key derived from ikmE.
				eph, err := p.kem.DeriveKeyPair(unhex(t, v.IkmE))
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(eph.PublicKey().Bytes(), enc) {
					t.Errorf("DeriveKeyPair(ikmE) = %x, want enc %x", eph.PublicKey().Bytes(), enc)
				}
			}

			// Sequence 0 through the same code path as Open.
			first := v.Encryptions[0]
			got, err := openRaw(p, priv.key, info, unhex(t, first.AAD), enc, unhex(t, first.CT))
			if err != nil {
				t.Fatalf("openRaw(sequence 0): %v", err)
			}
			if !bytes.Equal(got, unhex(t, first.PT)) {
				t.Errorf("sequence 0 plaintext %x, want %x", got, first.PT)
			}
			if _, err := openRaw(p, priv.key, info, unhex(t, v.Encryptions[1].AAD), enc, unhex(t, first.CT)); err == nil {
				t.Error("sequence 0 ciphertext opened under another aad")
			}

			// Later sequence numbers and the key schedule's exporter, which
			// pins the derived secrets beyond the first AEAD key and nonce.
			r, err := hpke.NewRecipient(enc, priv.key, p.kdf, p.aead, info)
			if err != nil {
				t.Fatal(err)
			}
			for i, e := range v.Encryptions {
				got, err := r.Open(unhex(t, e.AAD), unhex(t, e.CT))
				if err != nil {
					t.Fatalf("sequence %d: %v", i, err)
				}
				if !bytes.Equal(got, unhex(t, e.PT)) {
					t.Errorf("sequence %d plaintext %x, want %s", i, got, e.PT)
				}
			}
			for _, x := range v.Exports {
				got, err := r.Export(string(unhex(t, x.Context)), x.L)
				if err != nil {
					t.Fatal(err)
				}
				if hex.EncodeToString(got) != x.Value {
					t.Errorf("export %q: %x, want %s", x.Context, got, x.Value)
				}
			}
		})
	}
}

// pinnedEnvelope is one committed key + envelope pair. These pin the
// envelope format across releases: a change that stops them opening is a
// format change and needs a new Version, not new vectors.
type pinnedEnvelope struct {
	Suite          string `json:"suite"`
	PrivateKey     string `json:"private_key"` // PrivateKey.Marshal
	PublicKey      string `json:"public_key"`  // PublicKey.Marshal
	Commitment     string `json:"commitment"`
	Purpose        string `json:"purpose"`
	Job            string `json:"job"` // JobAddr, 36 bytes
	Plaintext      string `json:"plaintext"`
	Envelope       string `json:"envelope"`
	CiphertextHash string `json:"ciphertext_hash"`
}

var updateVectors = flag.Bool("update-vectors", false,
	"write a fresh testdata/envelopes.json (only when deliberately defining a new format version)")

const pinnedPath = "testdata/envelopes.json"

func TestPinnedEnvelopes(t *testing.T) {
	if *updateVectors {
		writePinned(t)
	}
	data, err := os.ReadFile(pinnedPath)
	if err != nil {
		t.Fatal(err)
	}
	var pinned []pinnedEnvelope
	if err := json.Unmarshal(data, &pinned); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, v := range pinned {
		t.Run(v.Suite+"/"+v.Purpose, func(t *testing.T) {
			seen[v.Suite] = true
			priv, err := ParsePrivateKey(unhex(t, v.PrivateKey))
			if err != nil {
				t.Fatal(err)
			}
			if priv.Suite().String() != v.Suite {
				t.Errorf("key suite %s, vector says %s", priv.Suite(), v.Suite)
			}
			if got := hex.EncodeToString(priv.Public().Marshal()); got != v.PublicKey {
				t.Errorf("public key %s, want %s", got, v.PublicKey)
			}
			if c := Commitment(priv.Public()); hex.EncodeToString(c[:]) != v.Commitment {
				t.Errorf("commitment %x, want %s", c, v.Commitment)
			}
			env := unhex(t, v.Envelope)
			if h := CiphertextHash(env); hex.EncodeToString(h[:]) != v.CiphertextHash {
				t.Errorf("ciphertext hash %x, want %s", h, v.CiphertextHash)
			}
			job := JobAddr(unhex(t, v.Job))
			pt, err := Open(priv, Purpose(v.Purpose), job, env)
			if err != nil {
				t.Fatalf("pinned envelope no longer opens: %v", err)
			}
			if string(pt) != v.Plaintext {
				t.Errorf("plaintext %q, want %q", pt, v.Plaintext)
			}
		})
	}
	for _, s := range Suites() {
		if !seen[s.String()] {
			t.Errorf("no pinned envelope for suite %s", s)
		}
	}
}

func writePinned(t *testing.T) {
	t.Helper()
	job := NewJobAddr(0, [32]byte{0xc0, 0xc0, 0x0a, 0x01, 31: 0xff})
	var out []pinnedEnvelope
	for _, s := range Suites() {
		priv, err := GenerateKey(s)
		if err != nil {
			t.Fatal(err)
		}
		raw, err := priv.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		for _, purpose := range []Purpose{PurposeRequest, PurposeResult} {
			pt := `{"v":1,"pinned":"` + s.String() + " " + string(purpose) + `"}`
			env, err := Seal(priv.Public(), purpose, job, []byte(pt))
			if err != nil {
				t.Fatal(err)
			}
			c, h := Commitment(priv.Public()), CiphertextHash(env)
			out = append(out, pinnedEnvelope{
				Suite: s.String(), PrivateKey: hex.EncodeToString(raw),
				PublicKey: hex.EncodeToString(priv.Public().Marshal()), Commitment: hex.EncodeToString(c[:]),
				Purpose: string(purpose), Job: hex.EncodeToString(job[:]), Plaintext: pt,
				Envelope: hex.EncodeToString(env), CiphertextHash: hex.EncodeToString(h[:]),
			})
		}
	}
	data, err := json.MarshalIndent(out, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pinnedPath, append(data, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
}
