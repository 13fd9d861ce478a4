package keyfile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestKeyFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "k.pem")
	k, created, err := LoadOrCreate(p, "test key")
	if err != nil || !created {
		t.Fatalf("create: %v %v", created, err)
	}
	st, _ := os.Stat(p)
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %o", st.Mode().Perm())
	}
	k2, created, err := LoadOrCreate(p, "test key")
	if err != nil || created || !k.Equal(k2) {
		t.Fatalf("reload: %v %v", created, err)
	}
	if _, err := Create(p, "test key"); err == nil {
		t.Fatal("Create overwrote an existing key")
	}
	if err := os.Chmod(p, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(p, "test key"); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("world-readable key: %v", err)
	}
	bad := filepath.Join(dir, "bad.pem")
	if err := os.WriteFile(bad, []byte("nope"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(bad, "test key"); err == nil {
		t.Fatal("garbage accepted as a key")
	}
}
