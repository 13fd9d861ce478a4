package atomicfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

func TestWrite(t *testing.T) {
	for _, tc := range []struct {
		name     string
		write    func(string, []byte, fs.FileMode) error
		existing string // "" : path does not exist before
		perm     fs.FileMode
		wantErr  error
		want     string // content afterwards
	}{
		{name: "replace creates", write: Replace, perm: 0o644, want: "new"},
		{name: "replace replaces", write: Replace, existing: "old", perm: 0o600, want: "new"},
		{name: "create creates", write: Create, perm: 0o600, want: "new"},
		{name: "create refuses an existing file", write: Create, existing: "old", perm: 0o600, wantErr: fs.ErrExist, want: "old"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "f.json")
			if tc.existing != "" {
				if err := os.WriteFile(path, []byte(tc.existing), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			err := tc.write(path, []byte("new"), tc.perm)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			got, rerr := os.ReadFile(path)
			if rerr != nil {
				t.Fatal(rerr)
			}
			if string(got) != tc.want {
				t.Errorf("content %q, want %q", got, tc.want)
			}
			st, serr := os.Stat(path)
			if serr != nil {
				t.Fatal(serr)
			}
			if err == nil && st.Mode().Perm() != tc.perm {
				t.Errorf("mode %04o, want %04o", st.Mode().Perm(), tc.perm)
			}
			assertOnly(t, dir, "f.json")
		})
	}
}

// The mode is the one asked for, whatever the process umask says.
func TestModeIgnoresUmask(t *testing.T) {
	old := syscall.Umask(0o077)
	defer syscall.Umask(old)
	path := filepath.Join(t.TempDir(), "evidence.bin")
	if err := Replace(path, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o644 {
		t.Errorf("mode %04o, want 0644", st.Mode().Perm())
	}
}

// A write that cannot be put in place leaves no temporary file behind.
func TestFailureLeavesNoTemporaryFile(t *testing.T) {
	dir := t.TempDir()
	// rename(2) and link(2) both refuse a directory as the target.
	if err := os.Mkdir(filepath.Join(dir, "target"), 0o700); err != nil {
		t.Fatal(err)
	}
	for name, write := range map[string]func(string, []byte, fs.FileMode) error{"replace": Replace, "create": Create} {
		if err := write(filepath.Join(dir, "target"), []byte("x"), 0o600); err == nil {
			t.Errorf("%s over a directory: no error", name)
		}
	}
	assertOnly(t, dir, "target")
	if err := Replace(filepath.Join(dir, "missing", "f"), []byte("x"), 0o600); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("write into a missing directory: err = %v, want fs.ErrNotExist", err)
	}
}

func assertOnly(t *testing.T, dir, name string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 1 || ents[0].Name() != name {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Errorf("directory holds %v, want only %s", names, name)
	}
}
