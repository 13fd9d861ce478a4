package seal

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

func TestSaveLoadKey(t *testing.T) {
	for _, s := range Suites() {
		t.Run(s.String(), func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "worker.hpke")
			k := mustKey(t, s)
			if err := SaveKey(path, k); err != nil {
				t.Fatal(err)
			}
			st, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if st.Mode().Perm() != 0o600 {
				t.Errorf("key file mode %04o, want 0600", st.Mode().Perm())
			}
			back, err := LoadKey(path)
			if err != nil {
				t.Fatal(err)
			}
			if !back.Public().Equal(k.Public()) {
				t.Error("loaded key differs")
			}
			if err := SaveKey(path, mustKey(t, s)); err == nil {
				t.Error("SaveKey replaced an existing key file")
			}
			if again, err := LoadKey(path); err != nil || !again.Public().Equal(k.Public()) {
				t.Errorf("key changed after the refused overwrite: %v", err)
			}
			entries, _ := os.ReadDir(dir)
			if len(entries) != 1 {
				t.Errorf("%d files left in the directory, want 1 (temporary files leaked)", len(entries))
			}
		})
	}
}

func TestLoadKeyRefuses(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good")
	if err := SaveKey(good, mustKey(t, SuiteX25519)); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, mode os.FileMode, content []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, content, 0o600); err != nil {
			t.Fatal(err)
		}
		// Chmod after writing: WriteFile's mode is filtered by the umask.
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cases := []struct {
		name string
		path string
		want error
	}{
		{"group readable", write("g", 0o640, data), ErrKeyFilePermissions},
		{"world readable", write("o", 0o604, data), ErrKeyFilePermissions},
		{"group writable", write("gw", 0o620, data), ErrKeyFilePermissions},
		{"not PEM", write("raw", 0o600, []byte("hello")), ErrMalformed},
		{"wrong PEM type", write("type", 0o600, []byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")), ErrMalformed},
		{"trailing data", write("trail", 0o600, append(append([]byte(nil), data...), "junk"...)), ErrMalformed},
		{"too large", write("big", 0o600, make([]byte, maxKeyFileSize+1)), ErrMalformed},
		{"missing", filepath.Join(dir, "nope"), fs.ErrNotExist},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := LoadKey(tc.path); !errors.Is(err, tc.want) {
				t.Errorf("LoadKey = %v, want %v", err, tc.want)
			}
		})
	}
	if _, err := LoadKey(dir); err == nil {
		t.Error("LoadKey accepted a directory")
	}
	if err := SaveKey(filepath.Join(dir, "missing-dir", "k"), mustKey(t, SuiteX25519)); err == nil {
		t.Error("SaveKey into a missing directory succeeded")
	}
}
