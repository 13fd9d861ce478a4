// Package keyseal keeps a worker's private keys across reboots without
// letting them leave the TEE: key files are encrypted under a key only the
// same TEE image can obtain again.
//
//   - SEV-SNP: the AMD secure processor derives the key in the guest
//     (MSG_KEY_REQ) from the chip's VCEK secret mixed with the launch
//     measurement, guest policy and TCB version (SNPSealer).
//   - TDX has no sealing instruction, so a small key-release service, itself
//     running in a TEE, hands a key to whoever presents, over mutual
//     attested TLS, evidence of an allowed image, derived from its master
//     secret and that image's measurement (Server, ReleaseSealer).
//   - dev: a key file next to the sealed keys, which protects nothing and
//     says so (DevSealer).
//
// The threat model is in docs/ATTESTATION.md ("Keys that survive
// reboots").
package keyseal

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
)

// Sealer encrypts and decrypts secrets under a key bound to the TEE image.
type Sealer interface {
	// Kind names the sealer in sealed blobs: sevsnp, key-release, dev.
	Kind() string
	// Insecure reports whether the host can read what is sealed.
	Insecure() bool
	// RootKey returns the 32-byte key bound to this image for params (the
	// sealer's own parameters recorded in the blob, so that unsealing asks
	// for the same key); params nil asks for the current parameters.
	RootKey(ctx context.Context, params json.RawMessage) (key [32]byte, used json.RawMessage, err error)
}

// ErrUnseal means a sealed blob could not be opened: another image, another
// chip or TCB, another key-release master, or a tampered blob.
var ErrUnseal = errors.New("cannot unseal: the key this TEE gets is not the one the secret was sealed with (another image, platform or key service), or the blob was altered")

// blob is the sealed format: JSON, the AEAD's associated data binding the
// sealer kind, its parameters and the label.
type blob struct {
	Version    int             `json:"version"`
	Kind       string          `json:"kind"`
	Label      string          `json:"label"`
	Params     json.RawMessage `json:"params,omitempty"`
	Nonce      []byte          `json:"nonce"`
	Ciphertext []byte          `json:"ciphertext"`
}

const blobVersion = 1

// MaxSealed bounds a sealed blob read back from disk.
const MaxSealed = 1 << 20

// Seal encrypts secret under s's key for label (what the secret is, e.g.
// "worker-keys"; a blob opens only under the same label).
func Seal(ctx context.Context, s Sealer, label string, secret []byte) ([]byte, error) {
	root, params, err := s.RootKey(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("seal (%s): %w", s.Kind(), err)
	}
	b := &blob{Version: blobVersion, Kind: s.Kind(), Label: label, Params: params, Nonce: make([]byte, 12)}
	if _, err := rand.Read(b.Nonce); err != nil {
		return nil, err
	}
	aead, err := newAEAD(root, label)
	if err != nil {
		return nil, err
	}
	b.Ciphertext = aead.Seal(nil, b.Nonce, secret, b.aad())
	return json.Marshal(b)
}

// Unseal decrypts a blob made by Seal with a sealer of the same kind.
func Unseal(ctx context.Context, s Sealer, label string, sealed []byte) ([]byte, error) {
	if len(sealed) > MaxSealed {
		return nil, fmt.Errorf("sealed blob is %d bytes (at most %d)", len(sealed), MaxSealed)
	}
	dec := json.NewDecoder(bytes.NewReader(sealed))
	dec.DisallowUnknownFields()
	var b blob
	if err := dec.Decode(&b); err != nil {
		return nil, fmt.Errorf("sealed blob: %w", err)
	}
	switch {
	case b.Version != blobVersion:
		return nil, fmt.Errorf("sealed blob version %d (this build reads %d)", b.Version, blobVersion)
	case b.Kind != s.Kind():
		return nil, fmt.Errorf("the blob was sealed by %s, this worker unseals with %s", b.Kind, s.Kind())
	case b.Label != label:
		return nil, fmt.Errorf("the blob holds %q, not %q", b.Label, label)
	case len(b.Nonce) != 12:
		return nil, errors.New("sealed blob: nonce is not 12 bytes")
	}
	root, _, err := s.RootKey(ctx, b.Params)
	if err != nil {
		return nil, fmt.Errorf("unseal (%s): %w", s.Kind(), err)
	}
	aead, err := newAEAD(root, label)
	if err != nil {
		return nil, err
	}
	out, err := aead.Open(nil, b.Nonce, b.Ciphertext, b.aad())
	if err != nil {
		return nil, ErrUnseal
	}
	return out, nil
}

func (b *blob) aad() []byte {
	aad, _ := json.Marshal([]any{"cocoon-sealed-v1", b.Kind, b.Label, b.Params})
	return aad
}

// newAEAD is AES-256-GCM under HKDF-SHA256(root, info "cocoon-seal-v1 "‖label).
func newAEAD(root [32]byte, label string) (cipher.AEAD, error) {
	k, err := hkdf.Key(sha256.New, root[:], nil, "cocoon-seal-v1 "+label, 32)
	if err != nil {
		return nil, err
	}
	blk, err := aes.NewCipher(k)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(blk)
}
