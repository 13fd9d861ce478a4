// Package keyfile stores Ed25519 private keys as PKCS#8 PEM files that only
// their owner can read.
package keyfile

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/cocoon-network/cocoon/offchain/internal/atomicfile"
)

// Create generates a key and writes it to path (mode 0600); an existing
// file is never overwritten. what names the key in errors.
func Create(path, what string) (ed25519.PrivateKey, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generating %s: %w", what, err)
	}
	return priv, Save(path, what, priv)
}

// Encode is the file content Save writes: PKCS#8 PEM.
func Encode(what string, priv any) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, fmt.Errorf("encoding %s: %w", what, err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// Save writes any private key x509 can encode as PKCS#8 (Ed25519, ECDSA)
// to path (mode 0600), never overwriting an existing file.
func Save(path, what string, priv any) error {
	data, err := Encode(what, priv)
	if err != nil {
		return err
	}
	if err := atomicfile.Create(path, data, 0o600); err != nil {
		return fmt.Errorf("writing %s %s: %w", what, path, err)
	}
	return nil
}

// Load reads an Ed25519 key written by Create, refusing a file others can read.
func Load(path, what string) (ed25519.PrivateKey, error) {
	k, err := LoadAny(path, what)
	if err != nil {
		return nil, err
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%s %s: a %T, not an Ed25519 key", what, path, k)
	}
	return priv, nil
}

// LoadAny reads a PKCS#8 key written by Save, refusing a file others can read.
func LoadAny(path, what string) (any, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%s %s has mode %04o: others can read it (chmod 600)", what, path, st.Mode().Perm())
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	block, rest := pem.Decode(raw)
	if block == nil || block.Type != "PRIVATE KEY" || len(rest) != 0 {
		return nil, fmt.Errorf("%s %s: not a single PEM PRIVATE KEY block", what, path)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", what, path, err)
	}
	return k, nil
}

// LoadOrCreate loads the key at path, or creates it when the file does not exist.
func LoadOrCreate(path, what string) (ed25519.PrivateKey, bool, error) {
	k, err := Load(path, what)
	if err == nil {
		return k, false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, false, err
	}
	k, err = Create(path, what)
	return k, err == nil, err
}
