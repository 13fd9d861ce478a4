package devnet

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"maps"

	"github.com/xssnick/tonutils-go/tvm/cell"

	"github.com/cocoon-network/cocoon/offchain/boc"
	"github.com/cocoon-network/cocoon/offchain/devnet/emulator"
)

// maxLibraries bounds how many libraries a devnet keeps.
const maxLibraries = 1024

// maxLibraryDepth bounds a library's cell depth. The emulators take all
// libraries in one dictionary, a HashmapE 256 whose forks each consume a key
// bit: at most 256 forks, the value cell and the root sit above a library,
// and the whole must stay within boc.MaxDepth whatever the hashes are.
const maxLibraryDepth = boc.MaxDepth - 256 - 3

// PublishLibrary makes code a public library of the devnet: an account
// whose code is contracts.LibraryRef(code) runs it. On testnet and mainnet a
// masterchain account publishes libraries (SETLIBCODE); the devnet has no
// masterchain state, so this is the devnet's stand-in for that step.
//
// The library is stored only after the new dictionary of all libraries has
// been built and accepted by an emulator in the sandbox: a library the
// emulator refuses would otherwise stop every later get-method and every
// restart, and one it dies on costs a sandbox child, not the devnet.
func (e *Engine) PublishLibrary(code *cell.Cell) error {
	if err := checkLibrary(code); err != nil {
		return fmt.Errorf("publishing a library: %w", err)
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
	next := withLibrary(e.libs, h, code)
	dict, err := e.tryLibraries(next)
	if err != nil {
		return fmt.Errorf("publishing a library: %w", err)
	}
	if err := e.txEmu.SetLibs(dict); err != nil {
		return fmt.Errorf("publishing a library: %w", err)
	}
	if err := e.store.putLibrary(code.Hash(), code.ToBOC()); err != nil {
		if e.libsB64 != "" {
			_ = e.txEmu.SetLibs(e.libsB64)
		}
		return fmt.Errorf("publishing a library: %w", err)
	}
	e.libs, e.libsB64 = next, dict
	return nil
}

// withLibrary is a new map of libs plus c under hash h: libs stays as it
// is until the dictionary with c in it is accepted.
func withLibrary(libs map[string]*cell.Cell, h string, c *cell.Cell) map[string]*cell.Cell {
	next := make(map[string]*cell.Cell, len(libs)+1)
	maps.Copy(next, libs)
	next[h] = c
	return next
}

// checkLibrary is what a library must be on its own: present, an ordinary
// cell, shallow enough to sit in the dictionary.
func checkLibrary(code *cell.Cell) error {
	if code == nil {
		return errors.New("no code")
	}
	var depth uint16
	var typ cell.Type
	if err := boc.Do("reading the library", func() error {
		depth, typ = code.Depth(), code.GetType()
		return nil
	}); err != nil {
		return err
	}
	if typ != cell.OrdinaryCellType {
		return fmt.Errorf("the library's root is an exotic cell (type %d); code is an ordinary cell", typ)
	}
	if depth > maxLibraryDepth {
		return fmt.Errorf("the library's cells are nested %d deep (at most %d)", depth, maxLibraryDepth)
	}
	return nil
}

// tryLibraries builds the dictionary of libs and has an emulator in the
// sandbox load it; it returns the dictionary as the emulators take it.
func (e *Engine) tryLibraries(libs map[string]*cell.Cell) (string, error) {
	if len(libs) == 0 {
		return "", nil
	}
	var dict string
	err := boc.Do("building the library dictionary", func() error {
		d := cell.NewDict(256)
		for h, c := range libs {
			key := cell.BeginCell().MustStoreSlice([]byte(h), 256).EndCell()
			if err := d.Set(key, cell.BeginCell().MustStoreRef(c).EndCell()); err != nil {
				return err
			}
		}
		dict = base64.StdEncoding.EncodeToString(d.AsCell().ToBOC())
		return nil
	})
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), emulator.DefaultCallTimeout)
	defer cancel()
	if err := e.sandbox.CheckLibs(ctx, dict); err != nil {
		if errors.Is(err, emulator.ErrCrashed) {
			e.log.Warn("an emulator process died loading a library", "error", err)
		}
		return "", fmt.Errorf("the emulator refuses the library: %w", err)
	}
	return dict, nil
}

// loadLibraries reads the published libraries at Open. A stored library
// the emulator refuses (a data directory written before libraries were
// checked) is skipped with a warning instead of keeping the devnet from
// starting; it stays in the store.
func (e *Engine) loadLibraries() error {
	e.libs = map[string]*cell.Cell{}
	raw, err := e.store.libraries()
	if err != nil {
		return err
	}
	all := map[string]*cell.Cell{}
	for _, b := range raw {
		c, err := boc.Parse(b)
		if err == nil {
			err = checkLibrary(c)
		}
		if err != nil {
			e.log.Warn("stored library skipped", "error", err)
			continue
		}
		all[string(c.Hash())] = c
	}
	if dict, err := e.tryLibraries(all); err == nil {
		e.libs, e.libsB64 = all, dict
	} else {
		// One of them is refused: add them one at a time, keeping the good ones.
		for h, c := range all {
			next := withLibrary(e.libs, h, c)
			dict, err := e.tryLibraries(next)
			if err != nil {
				e.log.Warn("stored library skipped", "hash", fmt.Sprintf("%x", c.Hash()), "error", err)
				continue
			}
			e.libs, e.libsB64 = next, dict
		}
	}
	// The sandbox only checked them; block production runs in-process and
	// needs them on its own emulator.
	if e.libsB64 != "" {
		return e.txEmu.SetLibs(e.libsB64)
	}
	return nil
}
