// Package atomicfile writes a whole file so that a reader, or the file
// system after a crash or power cut, sees the old content or the new, never
// part of it: the data goes to a temporary file in the same directory with
// the final mode, is fsynced, is moved into place by one rename(2) or
// link(2), and the directory is fsynced so the new name itself survives.
//
// Written here rather than taken from a library: google/renameio, the
// well-kept choice, only replaces, while keys, wallets and job records need
// the never-overwrite variant (link(2) refuses an existing name), and the
// whole job is the ~60 lines below.
package atomicfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// Replace writes data to path with permissions perm, replacing any file
// already there.
func Replace(path string, data []byte, perm fs.FileMode) error {
	return write(path, data, perm, os.Rename)
}

// Create writes data to path with permissions perm, but only where path
// does not exist yet: otherwise it fails with an error matching
// fs.ErrExist and leaves the existing file as it was. It is for files
// whose loss would cost something (keys, wallets, records of money). It
// needs a file system with hard links, as every Linux one has.
func Create(path string, data []byte, perm fs.FileMode) error {
	return write(path, data, perm, os.Link)
}

// write puts data in a temporary file next to path and hands both names to
// place, which must make path name the temporary file's content.
func write(path string, data []byte, perm fs.FileMode, place func(tmp, path string) error) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	// After a rename the temporary name is already gone; after a link or
	// any failure it still names the temporary file.
	defer os.Remove(tmp)
	// CreateTemp makes the file 0600; set the wanted mode before any data
	// arrives, so the mode does not depend on the umask either.
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := place(tmp, path); err != nil {
		return err
	}
	return syncDir(dir)
}

// syncDir makes the directory entry that was just added durable. A file
// system that cannot sync a directory (EINVAL) has no such step to take.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("syncing directory %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) {
		return fmt.Errorf("syncing directory %s: %w", dir, err)
	}
	return nil
}
