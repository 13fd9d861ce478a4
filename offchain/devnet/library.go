package devnet

import (
	"encoding/base64"
	"errors"
	"fmt"

	"github.com/xssnick/tonutils-go/tvm/cell"
)

// maxLibraries bounds how many libraries a devnet keeps.
const maxLibraries = 1024

// PublishLibrary makes code a public library of the devnet: an account
// whose code is chain.LibraryRef(code) runs it. On testnet and mainnet a
// masterchain account publishes libraries (SETLIBCODE); the devnet has no
// masterchain state, so this is the devnet's stand-in for that step.
func (e *Engine) PublishLibrary(code *cell.Cell) error {
	if code == nil {
		return errors.New("publishing a library: no code")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return errors.New("devnet closed")
	}
	h := string(code.Hash())
	if _, ok := e.libs[h]; ok {
		return nil
	}
	if len(e.libs) >= maxLibraries {
		return fmt.Errorf("publishing a library: the devnet already holds %d", maxLibraries)
	}
	if err := e.store.putLibrary(code.Hash(), code.ToBOC()); err != nil {
		return fmt.Errorf("publishing a library: %w", err)
	}
	e.libs[h] = code
	return e.applyLibsLocked()
}

// loadLibraries reads the published libraries at Open.
func (e *Engine) loadLibraries() error {
	e.libs = map[string]*cell.Cell{}
	raw, err := e.store.libraries()
	if err != nil {
		return err
	}
	for _, b := range raw {
		c, err := cell.FromBOC(b)
		if err != nil {
			return fmt.Errorf("stored library: %w", err)
		}
		e.libs[string(c.Hash())] = c
	}
	return e.applyLibsLocked()
}

// applyLibsLocked hands the library dictionary to the emulators.
func (e *Engine) applyLibsLocked() error {
	if len(e.libs) == 0 {
		e.libsB64 = ""
		return nil
	}
	d := cell.NewDict(256)
	for h, c := range e.libs {
		key := cell.BeginCell().MustStoreSlice([]byte(h), 256).EndCell()
		if err := d.Set(key, cell.BeginCell().MustStoreRef(c).EndCell()); err != nil {
			return fmt.Errorf("library dictionary: %w", err)
		}
	}
	e.libsB64 = base64.StdEncoding.EncodeToString(d.AsCell().ToBOC())
	return e.txEmu.SetLibs(e.libsB64)
}
