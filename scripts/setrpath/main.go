// Command setrpath rewrites the run path of an ELF binary in place.
//
// cgo links the binary with a run path into the Go module cache, where
// tongo ships libemulator.so. `make build` copies the library beside the
// binary and uses this tool to make the binary look there ($ORIGIN) and
// nowhere else, so bin/ can be moved or the module cache cleaned.
//
// The new path must not be longer than the old one: the string is
// overwritten in .dynstr, padded with NULs.
package main

import (
	"debug/elf"
	"errors"
	"fmt"
	"os"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: setrpath BINARY NEW_RUNPATH   (e.g. setrpath bin/cocoon '$ORIGIN')")
		os.Exit(2)
	}
	if err := setRunpath(os.Args[1], os.Args[2]); err != nil {
		fmt.Fprintln(os.Stderr, "setrpath:", err)
		os.Exit(1)
	}
}

func setRunpath(path, runpath string) error {
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("reading %s: %w", path, err)
	}
	dyn := f.Section(".dynamic")
	dynstr := f.Section(".dynstr")
	if dyn == nil || dynstr == nil {
		f.Close()
		return fmt.Errorf("%s is not dynamically linked", path)
	}
	data, err := dyn.Data()
	if err != nil {
		f.Close()
		return err
	}
	strs, err := dynstr.Data()
	if err != nil {
		f.Close()
		return err
	}
	strOff := dynstr.Offset
	bo := f.ByteOrder
	f.Close()
	if f.Class != elf.ELFCLASS64 {
		return errors.New("only 64-bit ELF binaries are supported")
	}
	found := 0
	out, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer out.Close()
	for i := 0; i+16 <= len(data); i += 16 {
		tag := elf.DynTag(bo.Uint64(data[i:]))
		if tag != elf.DT_RUNPATH && tag != elf.DT_RPATH {
			continue
		}
		off := bo.Uint64(data[i+8:])
		end := off
		for end < uint64(len(strs)) && strs[end] != 0 {
			end++
		}
		old := string(strs[off:end])
		if len(runpath) > len(old) {
			return fmt.Errorf("new run path %q is longer than the old %q", runpath, old)
		}
		buf := make([]byte, len(old))
		copy(buf, runpath)
		if _, err := out.WriteAt(buf, int64(strOff+off)); err != nil {
			return err
		}
		found++
	}
	if found == 0 {
		return fmt.Errorf("%s has no run path to rewrite", path)
	}
	return out.Close()
}
