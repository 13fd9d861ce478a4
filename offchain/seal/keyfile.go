package seal

import (
	"bytes"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// pemType labels a key file so that a misplaced file is recognised.
const pemType = "COCOON HPKE PRIVATE KEY"

// maxKeyFileSize bounds what LoadKey reads; a real key file is ~120 bytes.
const maxKeyFileSize = 4 << 10

// SaveKey writes k to path as a PEM block of PrivateKey.Marshal, with mode
// 0600. It refuses to replace an existing file: the chain holds the
// commitment of the worker's public key, so overwriting the private key
// would orphan every job sealed to it. The file appears complete or not at
// all (written to a temporary file, then linked into place).
func SaveKey(path string, k *PrivateKey) error {
	if k == nil {
		return fmt.Errorf("seal: saving key to %s: no key", path)
	}
	raw, err := k.Marshal()
	if err != nil {
		return err
	}
	data := pem.EncodeToMemory(&pem.Block{Type: pemType, Bytes: raw})
	dir := filepath.Dir(path)
	// os.CreateTemp creates the file with mode 0600 (before umask).
	tmp, err := os.CreateTemp(dir, ".hpke-key-*")
	if err != nil {
		return fmt.Errorf("seal: saving key to %s: %w", path, err)
	}
	tmpName := tmp.Name()
	defer os.Remove(tmpName) // after the link, only the temporary name goes
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("seal: saving key to %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("seal: saving key to %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("seal: saving key to %s: %w", path, err)
	}
	// link(2) fails if path exists, unlike rename(2): no silent overwrite.
	if err := os.Link(tmpName, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("seal: saving key to %s: file exists; refusing to replace a key", path)
		}
		return fmt.Errorf("seal: saving key to %s: %w", path, err)
	}
	if d, err := os.Open(dir); err == nil {
		// Persist the new directory entry; best effort, the file itself is synced.
		_ = d.Sync()
		d.Close()
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
