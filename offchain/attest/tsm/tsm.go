// Package tsm asks the kernel for a TEE quote or report through Linux's
// configfs-tsm interface (Documentation/ABI/testing/configfs-tsm), which
// serves TDX (provider tdx_guest) and SEV-SNP (provider sev_guest) alike.
//
// The protocol: create a report entry (mkdir), write the 64-byte report
// data to inblob, read outblob (the kernel produces the quote on that
// read), optionally read auxblob (SEV-SNP: the host's certificate table),
// read provider, then remove the entry. Every write bumps the entry's
// generation counter; reading generation after each read and comparing it
// with the number of our own writes proves no other writer changed the
// request between our write and our read.
package tsm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// DefaultRoot is where configfs-tsm lives on Linux.
const DefaultRoot = "/sys/kernel/config/tsm"

// ErrUnavailable means this machine has no configfs-tsm report interface
// (no TEE guest driver, or configfs not mounted).
var ErrUnavailable = errors.New("configfs-tsm is not available")

// Client requests reports under Root.
type Client struct {
	// Root is the configfs-tsm directory; empty means DefaultRoot.
	Root string
	// FS performs the file operations; nil means the real filesystem.
	// Tests put a kernel emulation here (package tsmtest).
	FS FS
}

// Request is one report request.
type Request struct {
	ReportData [64]byte
	// Privilege is the SEV-SNP VMPL to request at; nil leaves the kernel's
	// default.
	Privilege *uint
	// AuxBlob asks for the auxiliary blob too (SEV-SNP certificate table).
	AuxBlob bool
}

// Response is what the kernel returned.
type Response struct {
	Provider string // e.g. tdx_guest, sev_guest
	OutBlob  []byte // the quote or report
	AuxBlob  []byte
}

// GenerationError means another writer touched the entry mid-request.
type GenerationError struct {
	Attribute string
	Got, Want uint64
}

func (e *GenerationError) Error() string {
	return fmt.Sprintf("configfs-tsm generation is %d after reading %s, want %d: another writer changed the request", e.Got, e.Attribute, e.Want)
}

// FS is the set of file operations a report request needs.
type FS interface {
	MkdirTemp(dir, pattern string) (string, error)
	ReadFile(name string) ([]byte, error)
	WriteFile(name string, data []byte) error
	Remove(name string) error
}

// OSFS is FS on the real filesystem.
type OSFS struct{}

func (OSFS) MkdirTemp(dir, pattern string) (string, error) { return os.MkdirTemp(dir, pattern) }
func (OSFS) ReadFile(name string) ([]byte, error)          { return os.ReadFile(name) }

// WriteFile writes without O_CREATE or O_TRUNC: configfs attributes exist
// once the entry does and accept one write each.
func (OSFS) WriteFile(name string, data []byte) error {
	f, err := os.OpenFile(name, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// Remove removes the entry directory; configfs refuses RemoveAll's
// unlinking of attributes, and rmdir alone is what releases the entry.
func (OSFS) Remove(name string) error { return os.Remove(name) }

func (c *Client) root() string {
	if c.Root == "" {
		return DefaultRoot
	}
	return c.Root
}

func (c *Client) files() FS {
	if c.FS == nil {
		return OSFS{}
	}
	return c.FS
}

// Available reports whether the report interface exists under Root.
func (c *Client) Available() error {
	st, err := os.Stat(filepath.Join(c.root(), "report"))
	if err != nil || !st.IsDir() {
		return fmt.Errorf("%w: no %s", ErrUnavailable, filepath.Join(c.root(), "report"))
	}
	return nil
}

// Report runs one request. The entry is removed whatever happens.
func (c *Client) Report(ctx context.Context, req Request) (resp *Response, err error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := c.Available(); err != nil {
		return nil, err
	}
	fs := c.files()
	entry, err := fs.MkdirTemp(filepath.Join(c.root(), "report"), "cocoon-")
	if err != nil {
		return nil, fmt.Errorf("create configfs-tsm report entry: %w", err)
	}
	defer func() {
		if rmErr := fs.Remove(entry); rmErr != nil && err == nil {
			err = fmt.Errorf("remove configfs-tsm report entry %s: %w", entry, rmErr)
		}
	}()

	e := &openEntry{fs: fs, dir: entry}
	if e.generation, err = e.readGeneration(); err != nil {
		return nil, err
	}
	if err := e.write("inblob", req.ReportData[:]); err != nil {
		return nil, err
	}
	if req.Privilege != nil {
		if err := e.write("privlevel", []byte(strconv.FormatUint(uint64(*req.Privilege), 10))); err != nil {
			return nil, err
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	resp = &Response{}
	if resp.OutBlob, err = e.read("outblob"); err != nil {
		return nil, err
	}
	if len(resp.OutBlob) == 0 {
		return nil, errors.New("configfs-tsm returned an empty outblob")
	}
	if req.AuxBlob {
		if resp.AuxBlob, err = e.read("auxblob"); err != nil {
			return nil, err
		}
	}
	provider, err := e.read("provider")
	if err != nil {
		return nil, err
	}
	resp.Provider = strings.TrimSpace(string(provider))
	return resp, nil
}

type openEntry struct {
	fs         FS
	dir        string
	generation uint64 // what generation must read: one more per write
}

func (e *openEntry) write(attr string, data []byte) error {
	if err := e.fs.WriteFile(filepath.Join(e.dir, attr), data); err != nil {
		return fmt.Errorf("write configfs-tsm %s: %w", attr, err)
	}
	e.generation++
	return nil
}

func (e *openEntry) read(attr string) ([]byte, error) {
	data, err := e.fs.ReadFile(filepath.Join(e.dir, attr))
	if err != nil {
		return nil, fmt.Errorf("read configfs-tsm %s: %w", attr, err)
	}
	got, err := e.readGeneration()
	if err != nil {
		return nil, err
	}
	if got != e.generation {
		return nil, &GenerationError{Attribute: attr, Got: got, Want: e.generation}
	}
	return data, nil
}

func (e *openEntry) readGeneration() (uint64, error) {
	b, err := e.fs.ReadFile(filepath.Join(e.dir, "generation"))
	if err != nil {
		return 0, fmt.Errorf("read configfs-tsm generation: %w", err)
	}
	g, err := strconv.ParseUint(string(bytes.TrimSpace(b)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("configfs-tsm generation %q: %w", bytes.TrimSpace(b), err)
	}
	return g, nil
}
