package keyseal

import (
	"context"
	"crypto/sha256"
	"encoding/json"

	"github.com/cocoon-network/cocoon/offchain/internal/keyfile"
)

// DevSealer seals under a key kept in a plain file (0600) next to the
// sealed blob: the host can read both. For devnets and tests only; every
// caller must say INSECURE.
type DevSealer struct{ KeyFile string }

// Kind implements Sealer.
func (DevSealer) Kind() string { return "dev" }

// Insecure implements Sealer: always.
func (DevSealer) Insecure() bool { return true }

// RootKey implements Sealer: sha256 of the key file's secret, created on
// first use.
func (d DevSealer) RootKey(context.Context, json.RawMessage) ([32]byte, json.RawMessage, error) {
	k, _, err := keyfile.LoadOrCreate(d.KeyFile, "dev sealing key")
	if err != nil {
		return [32]byte{}, nil, err
	}
	return sha256.Sum256(k.Seed()), nil, nil
}
