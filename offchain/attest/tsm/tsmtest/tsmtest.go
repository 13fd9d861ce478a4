// Package tsmtest emulates the kernel side of configfs-tsm on a plain
// directory tree, for tests of code that requests quotes through tsm.
package tsmtest

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/cocoon-network/cocoon/offchain/attest/tsm"
)

// Kernel is a configfs-tsm emulation: a new entry gets its attributes,
// every write bumps generation, and reading outblob calls Quote with what
// was written to inblob.
type Kernel struct {
	tsm.OSFS
	Provider string
	Quote    func(inblob []byte) []byte
	Aux      []byte
	// Meddle plays another writer between our write and our read.
	Meddle bool
}

// Client returns a tsm.Client on a fresh directory tree served by k.
func (k *Kernel) Client(t testing.TB) *tsm.Client {
	root := t.TempDir()
	if err := os.Mkdir(filepath.Join(root, "report"), 0o755); err != nil {
		t.Fatal(err)
	}
	return &tsm.Client{Root: root, FS: k}
}

// MkdirTemp creates an entry with its attributes, as configfs does.
func (k *Kernel) MkdirTemp(dir, pattern string) (string, error) {
	d, err := os.MkdirTemp(dir, pattern)
	if err != nil {
		return "", err
	}
	for name, v := range map[string]string{"generation": "0\n", "provider": k.Provider + "\n", "inblob": "", "outblob": "", "auxblob": "", "privlevel": ""} {
		if err := os.WriteFile(filepath.Join(d, name), []byte(v), 0o644); err != nil {
			return "", err
		}
	}
	return d, nil
}

func bump(dir string) error {
	g, err := os.ReadFile(filepath.Join(dir, "generation"))
	if err != nil {
		return err
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(g)))
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "generation"), []byte(strconv.Itoa(n+1)+"\n"), 0o644)
}

// WriteFile writes an attribute and bumps the generation.
func (k *Kernel) WriteFile(name string, data []byte) error {
	if err := k.OSFS.WriteFile(name, data); err != nil {
		return err
	}
	return bump(filepath.Dir(name))
}

// ReadFile reads an attribute; outblob and auxblob are generated.
func (k *Kernel) ReadFile(name string) ([]byte, error) {
	dir := filepath.Dir(name)
	switch filepath.Base(name) {
	case "outblob":
		in, err := os.ReadFile(filepath.Join(dir, "inblob"))
		if err != nil {
			return nil, err
		}
		if k.Meddle {
			if err := bump(dir); err != nil {
				return nil, err
			}
		}
		return k.Quote(in), nil
	case "auxblob":
		return k.Aux, nil
	}
	return os.ReadFile(name)
}

// Remove removes an entry; configfs does that with rmdir alone, a plain
// tree needs its files removed too.
func (k *Kernel) Remove(name string) error { return os.RemoveAll(name) }
