package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/cocoon-network/cocoon/offchain/attest/keyseal"
)

// The service's master secret is made once, sealed, and the same after a
// restart; under another sealing key it does not open.
func TestKeyReleaseMaster(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "master.sealed")
	s := keyseal.DevSealer{KeyFile: path + ".key"}
	m1, err := loadOrCreateMaster(ctx, path, s)
	if err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("sealed master: %v", err)
	}
	m2, err := loadOrCreateMaster(ctx, path, s)
	if err != nil || m1 != m2 || m1 == [32]byte{} {
		t.Fatalf("restart: %v, same %v", err, m1 == m2)
	}
	if _, err := loadOrCreateMaster(ctx, path, keyseal.DevSealer{KeyFile: filepath.Join(dir, "other.key")}); err == nil {
		t.Fatal("the master opened under another key")
	}
}
