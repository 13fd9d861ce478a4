package seal

import (
	"bytes"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/cocoon-network/cocoon/offchain/internal/atomicfile"
)

// pemType labels a key file so that a misplaced file is recognised.
const pemType = "COCOON HPKE PRIVATE KEY"

// maxKeyFileSize bounds what LoadKey reads; a real key file is ~120 bytes.
const maxKeyFileSize = 4 << 10

// EncodeKey is the file content SaveKey writes (PEM).
func EncodeKey(k *PrivateKey) ([]byte, error) {
	raw, err := k.Marshal()
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: pemType, Bytes: raw}), nil
}

// SaveKey writes k to path as a PEM block of PrivateKey.Marshal, with mode
// 0600. It refuses to replace an existing file: the chain holds the
// commitment of the worker's public key, so overwriting the private key
// would orphan every job sealed to it. The file appears complete or not at
// all (internal/atomicfile.Create).
func SaveKey(path string, k *PrivateKey) error {
	if k == nil {
		return fmt.Errorf("seal: saving key to %s: no key", path)
	}
	data, err := EncodeKey(k)
	if err != nil {
		return err
	}
	if err := atomicfile.Create(path, data, 0o600); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("seal: saving key to %s: file exists; refusing to replace a key", path)
		}
		return fmt.Errorf("seal: saving key to %s: %w", path, err)
	}
	return nil
}

// LoadKey reads a key file written by SaveKey. It refuses a file that group
// or others can access (any of mode 0077), as ssh does, because such a key
// may already have been copied.
func LoadKey(path string) (*PrivateKey, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("seal: loading key: %w", err)
	}
	defer f.Close()
	// Stat the open file, not the path, so the checked file is the read one.
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("seal: loading key %s: %w", path, err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("seal: loading key %s: not a regular file", path)
	}
	if perm := st.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("%w: %s has mode %04o (chmod 600 it)", ErrKeyFilePermissions, path, perm)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("seal: loading key %s: %w", path, err)
	}
	if len(data) > maxKeyFileSize {
		return nil, fmt.Errorf("%w: key file %s is larger than %d bytes", ErrMalformed, path, maxKeyFileSize)
	}
	block, rest := pem.Decode(data)
	if block == nil || block.Type != pemType {
		return nil, fmt.Errorf("%w: %s holds no %q PEM block", ErrMalformed, path, pemType)
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, fmt.Errorf("%w: %s has data after its key", ErrMalformed, path)
	}
	k, err := ParsePrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("loading key %s: %w", path, err)
	}
	return k, nil
}
