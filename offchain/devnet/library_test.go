package devnet

import (
	"context"
	"strings"
	"testing"

	"github.com/xssnick/tonutils-go/tvm/cell"

	"github.com/cocoon-network/cocoon/offchain/boc"
	"github.com/cocoon-network/cocoon/offchain/boc/boctest"
)

// badProof is a Merkle proof whose stored hash is not its child's: its
// shape passes boc.Check and tonutils-go builds it, but TON's cell loader
// (the emulator) refuses it.
func badProof() *cell.Cell {
	child := cell.BeginCell().MustStoreUInt(1, 8).EndCell()
	c := cell.BeginCell().MustStoreUInt(uint64(cell.MerkleProofCellType), 8).
		MustStoreSlice(make([]byte, 32), 256).MustStoreUInt(0, 16).
		MustStoreRef(child).EndCell()
	c.UnsafeModify(cell.LevelMask{}, true)
	return c
}

func chainCell(t *testing.T, depth int) *cell.Cell {
	t.Helper()
	c, err := boc.Parse(boctest.Chain(depth))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestPublishLibraryRefusesWhatWouldBrickTheDevnet(t *testing.T) {
	dir := t.TempDir()
	e := openTest(t, dir)
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		code *cell.Cell
		want string
	}{
		{"no code", nil, "no code"},
		{"exotic root", badProof(), "exotic cell"},
		{"malformed cell inside", cell.BeginCell().MustStoreRef(badProof()).EndCell(), "emulator refuses"},
		{"1023 deep", chainCell(t, 1023), "nested 1023 deep"},
		{"one over the bound", chainCell(t, maxLibraryDepth+1), "at most"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := e.PublishLibrary(tc.code)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error saying %q", err, tc.want)
			}
		})
	}
	if err := e.PublishLibrary(chainCell(t, maxLibraryDepth)); err != nil {
		t.Fatalf("library at the depth bound: %v", err)
	}
	if err := e.PublishLibrary(cell.BeginCell().MustStoreUInt(0xC0DE, 16).EndCell()); err != nil {
		t.Fatalf("a second library: %v", err)
	}
	if _, err := e.RunGetMethod(ctx, e.GenesisAddress(), "seqno"); err != nil {
		t.Fatalf("get-method after refused libraries: %v", err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	e = openTest(t, dir)
	if n := e.Stats().Libraries; n != 2 {
		t.Errorf("%d libraries after restart, want 2", n)
	}
	if _, err := e.RunGetMethod(ctx, e.GenesisAddress(), "seqno"); err != nil {
		t.Fatalf("get-method after restart: %v", err)
	}
}

// A data directory written before libraries were checked (issue 12: an odd
// exotic cell, a 1023-deep chain beside a second library) starts, skipping
// the libraries it cannot use and keeping the others.
func TestOpenSkipsUnusableStoredLibraries(t *testing.T) {
	dir := t.TempDir()
	e := openTest(t, dir)
	good := cell.BeginCell().MustStoreUInt(0xC0DE, 16).EndCell()
	deep := chainCell(t, 1023)
	inside := cell.BeginCell().MustStoreRef(badProof()).EndCell()
	for _, c := range []*cell.Cell{good, deep, inside} {
		if err := e.store.putLibrary(c.Hash(), c.ToBOC()); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.store.putLibrary(make([]byte, 32), boctest.OddExotic()); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	e = openTest(t, dir)
	if n := e.Stats().Libraries; n != 1 {
		t.Errorf("%d libraries after opening, want 1 (the good one)", n)
	}
	if _, err := e.RunGetMethod(context.Background(), e.GenesisAddress(), "seqno"); err != nil {
		t.Fatalf("get-method: %v", err)
	}
}
