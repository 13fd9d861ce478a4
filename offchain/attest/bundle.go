// Package attest is Cocoon's TEE evidence: one versioned bundle format
// carrying Intel TDX, AMD SEV-SNP, NVIDIA GPU or (insecure) dev evidence
// together with the public keys it vouches for, and one Verify that applies
// a policy to it and names the first check that refuses.
//
// The format, the report-data binding and every check name are documented
// in docs/ATTESTATION.md.
package attest

import (
	"bytes"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"
)

// TEE types.
const (
	TEETDX    = "tdx"
	TEESEVSNP = "sevsnp"
	TEENVIDIA = "nvidia_cc"
	TEEDev    = "dev"
)

// BundleVersion is the only bundle version this package reads and writes.
const BundleVersion = 1

// Limits that keep a hostile bundle small; real ones are ~10 KiB.
const (
	MaxBundleSize = 256 << 10
	MaxKeys       = 16
	MaxKeyName    = 32
	MaxKeySize    = 4096
	MaxNonceSize  = 64
	MaxGPUs       = 16
	MaxModels     = 64
	MaxModelName  = 128
)

// Well-known key names.
const (
	KeyEd25519 = "ed25519" // the worker's receipt-signing key, 32 bytes
	KeyHPKE    = "hpke"    // the worker's HPKE envelope public key
	KeyTLS     = "tls"     // an attested-TLS certificate's SubjectPublicKeyInfo (DER)
)

// Key is a named public key the evidence vouches for.
type Key struct {
	Name   string `json:"name"`
	Public []byte `json:"public"`
}

// Blob is a named piece of collateral carried with evidence (DER
// certificates, PEM chains).
type Blob struct {
	Name string `json:"name"`
	Data []byte `json:"data"`
}

// GPUEvidence is one GPU's evidence, bound to the bundle through its nonce.
type GPUEvidence struct {
	TEE      string `json:"tee"` // nvidia_cc
	Evidence []byte `json:"evidence"`
	Certs    []Blob `json:"certs,omitempty"`
	// CCMode is the GPU's confidential-computing mode as the attested
	// image read it from the driver when it collected the report:
	// GPUCCOn or GPUCCDevTools. Hopper reports do not sign it; it is
	// believed because the CPU TEE's measured image wrote it (and refuses
	// to attest a GPU whose CC mode is off).
	CCMode string `json:"cc_mode,omitempty"`
}

// GPU CC modes a bundle may state.
const (
	GPUCCOn       = "on"
	GPUCCDevTools = "devtools"
)

// Bundle is the evidence a worker serves. Its JSON encoding (Encode) is
// canonical: Decode refuses any other spelling, so a bundle has exactly one
// encoding and BundleHash is well defined.
type Bundle struct {
	Version   int           `json:"version"`
	TEE       string        `json:"tee"`
	Evidence  []byte        `json:"evidence"`
	Certs     []Blob        `json:"certs,omitempty"`
	GPUs      []GPUEvidence `json:"gpus,omitempty"`
	Keys      []Key         `json:"keys"`
	Nonce     []byte        `json:"nonce,omitempty"`
	CreatedAt int64         `json:"created_at"` // Unix seconds
	// Weights are the model weights the worker hashed before it started
	// serving (offchain/worker/weights.go), sorted by model. The report
	// data commits to them, so the hardware vouches that the measured
	// image checked exactly these.
	Weights []ModelWeights `json:"weights,omitempty"`
	// KeyHolding is how the worker holds its keys at rest, as the attested
	// image states it (one of the KeyHolding* values; empty: not stated).
	// The report data commits to it, so a client can require sealed keys.
	KeyHolding string `json:"key_holding,omitempty"`
}

// How a worker holds its keys at rest (Bundle.KeyHolding).
const (
	KeyHoldingPlain      = "plain"       // key files the host can read after a reboot
	KeyHoldingDev        = "dev"         // sealed under a plain key file: no better than plain
	KeyHoldingSEVSNP     = "sevsnp"      // sealed to the SEV-SNP firmware's key for the measured image
	KeyHoldingKeyRelease = "key-release" // sealed under a key an attested key-release service gives the measured image
)

// KeysSealed reports whether h keeps keys from the host.
func KeysSealed(h string) bool { return h == KeyHoldingSEVSNP || h == KeyHoldingKeyRelease }

// ModelWeights is one model's weights hash as the worker computed it (the
// value Root's model entry pins as weights_hash).
type ModelWeights struct {
	Model string `json:"model"` // public name; its id on chain is sha256(name)
	Hash  []byte `json:"hash"`  // 32 bytes
}

// WeightsFor returns the weights hash the bundle attests for model, or nil.
func (b *Bundle) WeightsFor(model string) []byte {
	for _, w := range b.Weights {
		if w.Model == model {
			return w.Hash
		}
	}
	return nil
}

// Created is CreatedAt as a time.
func (b *Bundle) Created() time.Time { return time.Unix(b.CreatedAt, 0).UTC() }

// Cert returns the carried blob called name, or nil.
func (b *Bundle) Cert(name string) []byte { return findBlob(b.Certs, name) }

func findBlob(blobs []Blob, name string) []byte {
	for _, c := range blobs {
		if c.Name == name {
			return c.Data
		}
	}
	return nil
}

// Validate checks the bundle's shape: version, TEE type, key names and
// sizes, and that keys are sorted by name without duplicates.
func (b *Bundle) Validate() error {
	if b.Version != BundleVersion {
		return fmt.Errorf("bundle version %d (this build reads %d)", b.Version, BundleVersion)
	}
	switch b.TEE {
	case TEETDX, TEESEVSNP, TEENVIDIA, TEEDev:
	default:
		return fmt.Errorf("unknown TEE type %q", b.TEE)
	}
	if len(b.Evidence) == 0 {
		return errors.New("bundle carries no evidence")
	}
	if len(b.GPUs) > MaxGPUs {
		return fmt.Errorf("bundle carries %d GPUs (at most %d)", len(b.GPUs), MaxGPUs)
	}
	if err := validBlobs(b.Certs); err != nil {
		return err
	}
	for i, g := range b.GPUs {
		if g.TEE != TEENVIDIA || len(g.Evidence) == 0 {
			return fmt.Errorf("GPU evidence %d: TEE %q with %d bytes (want %s evidence)", i, g.TEE, len(g.Evidence), TEENVIDIA)
		}
		if err := validBlobs(g.Certs); err != nil {
			return fmt.Errorf("GPU evidence %d: %w", i, err)
		}
	}
	if len(b.Keys) == 0 {
		return errors.New("bundle vouches for no keys")
	}
	if err := ValidateKeys(b.Keys); err != nil {
		return err
	}
	if len(b.Nonce) > MaxNonceSize {
		return fmt.Errorf("nonce is %d bytes (at most %d)", len(b.Nonce), MaxNonceSize)
	}
	if err := validKeyHolding(b.KeyHolding); err != nil {
		return err
	}
	return ValidateWeights(b.Weights)
}

func validKeyHolding(h string) error {
	switch h {
	case "", KeyHoldingPlain, KeyHoldingDev, KeyHoldingSEVSNP, KeyHoldingKeyRelease:
		return nil
	}
	return fmt.Errorf("unknown key holding %q", h)
}

// ValidateWeights checks model names, hash sizes and order (sorted by
// model, unique).
func ValidateWeights(ws []ModelWeights) error {
	if len(ws) > MaxModels {
		return fmt.Errorf("%d model weights (at most %d)", len(ws), MaxModels)
	}
	for i, w := range ws {
		if w.Model == "" || len(w.Model) > MaxModelName {
			return fmt.Errorf("weights %d: model name is %d bytes (1 to %d)", i, len(w.Model), MaxModelName)
		}
		if len(w.Hash) != 32 {
			return fmt.Errorf("weights of %q: hash is %d bytes, not 32", w.Model, len(w.Hash))
		}
		if i > 0 && ws[i-1].Model >= w.Model {
			return fmt.Errorf("weights are not sorted by model without duplicates (%q after %q)", w.Model, ws[i-1].Model)
		}
	}
	return nil
}

// SortWeights returns ws sorted by model, as bundles hold them.
func SortWeights(ws []ModelWeights) []ModelWeights {
	out := append([]ModelWeights(nil), ws...)
	sort.Slice(out, func(i, j int) bool { return out[i].Model < out[j].Model })
	return out
}

// validBlobs refuses empty names or data: JSON could spell those two ways
// (null or ""), and a bundle must have one encoding.
func validBlobs(blobs []Blob) error {
	for i, c := range blobs {
		if c.Name == "" || len(c.Data) == 0 {
			return fmt.Errorf("carried certificate %d (%q) has an empty name or no data", i, c.Name)
		}
	}
	return nil
}

// ValidateKeys checks key names, sizes and order (sorted by name, unique).
func ValidateKeys(keys []Key) error {
	if len(keys) > MaxKeys {
		return fmt.Errorf("%d keys (at most %d)", len(keys), MaxKeys)
	}
	for i, k := range keys {
		if err := validKeyName(k.Name); err != nil {
			return err
		}
		if len(k.Public) == 0 || len(k.Public) > MaxKeySize {
			return fmt.Errorf("key %q is %d bytes (1 to %d)", k.Name, len(k.Public), MaxKeySize)
		}
		if k.Name == KeyEd25519 && len(k.Public) != 32 {
			return fmt.Errorf("key %q is %d bytes (an Ed25519 public key is 32)", k.Name, len(k.Public))
		}
		if i > 0 && keys[i-1].Name >= k.Name {
			return fmt.Errorf("keys are not sorted by name without duplicates (%q after %q)", k.Name, keys[i-1].Name)
		}
	}
	return nil
}

func validKeyName(n string) error {
	if n == "" || len(n) > MaxKeyName {
		return fmt.Errorf("key name %q is not 1 to %d characters", n, MaxKeyName)
	}
	for _, c := range []byte(n) {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return fmt.Errorf("key name %q may hold only a-z, 0-9, '_' and '-'", n)
		}
	}
	return nil
}

// SortKeys returns keys sorted by name, as bundles hold them.
func SortKeys(keys []Key) []Key {
	out := append([]Key(nil), keys...)
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// reportDataContext starts every report-data preimage; it keeps Cocoon's
// report data from colliding with any other protocol's.
const reportDataContext = "cocoon-attest-report-data-v1"

// ReportDataPreimage is the canonical encoding of keys ‖ nonce that report
// data commits to. keys must satisfy ValidateKeys. Layout (integers big
// endian):
//
//	"cocoon-attest-report-data-v1"            28 bytes
//	u8  number of keys
//	per key, in name order: u8 len(name) ‖ name ‖ u16 len(public) ‖ public
//	u8  len(nonce) ‖ nonce                    0..64 bytes
//	u64 created_at                            Unix seconds
//	only when there are model weights:
//	u8  number of models
//	per model, in name order: u8 len(model) ‖ model ‖ hash (32 bytes)
//	only when the key holding is stated:
//	u8  0 (a weights section never starts with 0) ‖ u8 len(holding) ‖ holding
//
// The creation time is part of the nonce that the hardware signs: without
// it a worker could restamp old evidence and pass any freshness check.
// The weights section is absent, not empty, without weights, so bundles
// made before it existed keep their report data.
func ReportDataPreimage(keys []Key, nonce []byte, createdAt int64, weights ...ModelWeights) ([]byte, error) {
	return reportDataPreimage(keys, nonce, createdAt, weights, "")
}

func reportDataPreimage(keys []Key, nonce []byte, createdAt int64, weights []ModelWeights, holding string) ([]byte, error) {
	if err := ValidateKeys(keys); err != nil {
		return nil, err
	}
	if len(nonce) > MaxNonceSize {
		return nil, fmt.Errorf("nonce is %d bytes (at most %d)", len(nonce), MaxNonceSize)
	}
	var buf bytes.Buffer
	buf.WriteString(reportDataContext)
	buf.WriteByte(byte(len(keys)))
	for _, k := range keys {
		buf.WriteByte(byte(len(k.Name)))
		buf.WriteString(k.Name)
		buf.Write(binary.BigEndian.AppendUint16(nil, uint16(len(k.Public))))
		buf.Write(k.Public)
	}
	buf.WriteByte(byte(len(nonce)))
	buf.Write(nonce)
	buf.Write(binary.BigEndian.AppendUint64(nil, uint64(createdAt)))
	if len(weights) > 0 {
		if err := ValidateWeights(weights); err != nil {
			return nil, err
		}
		buf.WriteByte(byte(len(weights)))
		for _, w := range weights {
			buf.WriteByte(byte(len(w.Model)))
			buf.WriteString(w.Model)
			buf.Write(w.Hash)
		}
	}
	if holding != "" {
		if err := validKeyHolding(holding); err != nil {
			return nil, err
		}
		buf.WriteByte(0)
		buf.WriteByte(byte(len(holding)))
		buf.WriteString(holding)
	}
	return buf.Bytes(), nil
}

// ReportData is sha512(ReportDataPreimage): the 64 bytes the TEE report
// carries (TDX REPORTDATA, SEV-SNP REPORT_DATA, dev report_data; a GPU's
// SPDM nonce is its first 32 bytes).
func ReportData(keys []Key, nonce []byte, createdAt int64, weights ...ModelWeights) ([64]byte, error) {
	pre, err := ReportDataPreimage(keys, nonce, createdAt, weights...)
	if err != nil {
		return [64]byte{}, err
	}
	return sha512.Sum512(pre), nil
}

// ReportData is the report data this bundle's evidence must carry.
func (b *Bundle) ReportData() ([64]byte, error) {
	pre, err := reportDataPreimage(b.Keys, b.Nonce, b.CreatedAt, b.Weights, b.KeyHolding)
	if err != nil {
		return [64]byte{}, err
	}
	return sha512.Sum512(pre), nil
}

// Encode returns the canonical encoding: compact JSON, fields in the order
// of the Bundle type, byte strings in standard base64.
func (b *Bundle) Encode() ([]byte, error) {
	if err := b.Validate(); err != nil {
		return nil, fmt.Errorf("encode bundle: %w", err)
	}
	out, err := json.Marshal(b)
	if err != nil {
		return nil, fmt.Errorf("encode bundle: %w", err)
	}
	return out, nil
}

// Decode parses a canonical bundle encoding and validates it.
func Decode(raw []byte) (*Bundle, error) {
	if len(raw) > MaxBundleSize {
		return nil, fmt.Errorf("bundle is %d bytes (at most %d)", len(raw), MaxBundleSize)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var b Bundle
	if err := dec.Decode(&b); err != nil {
		return nil, fmt.Errorf("decode bundle: %w", err)
	}
	canon, err := b.Encode()
	if err != nil {
		return nil, fmt.Errorf("decode bundle: %w", err)
	}
	if !bytes.Equal(canon, raw) {
		return nil, errors.New("decode bundle: not in canonical encoding (re-encode it with attest.Bundle.Encode)")
	}
	return &b, nil
}

// BundleHash is sha256 of the canonical encoding: what a Worker contract
// stores as its attestation hash.
func (b *Bundle) BundleHash() ([32]byte, error) {
	raw, err := b.Encode()
	if err != nil {
		return [32]byte{}, err
	}
	return sha256.Sum256(raw), nil
}
