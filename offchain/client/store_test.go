package client

import (
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cocoon-network/cocoon/offchain/seal"
)

func TestStoreRoundTrip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "jobs")
	s := &Store{Dir: dir}
	key, err := seal.GenerateKey(seal.SuiteX25519MLKEM768)
	if err != nil {
		t.Fatal(err)
	}
	j := &Job{
		Address: testAddr("job"), Root: testAddr("root"), Client: testAddr("client"), Worker: testAddr("worker"),
		Endpoint: "https://w.example", Nonce: 1<<63 + 5, Model: "m", RequestHash: [32]byte{1, 2, 3}, Deadline: 1_800_000_600,
		MaxInputTokens: 300, MaxOutputTokens: 100, PriceIn: big.NewInt(1e9), PriceOut: big.NewInt(3e9), Escrow: big.NewInt(60_000_300),
		InlineRequest: true, Insecure: true, CreatedAt: time.Unix(1_800_000_000, 0).UTC(), key: key,
	}
	if err := s.Save(j); err != nil {
		t.Fatal(err)
	}
	if err := s.Save(j); err == nil {
		t.Fatal("a job was saved twice over itself")
	}
	for _, ext := range []string{".json", ".key"} {
		st, err := os.Stat(filepath.Join(dir, baseName(j.Address)+ext))
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %04o", ext, st.Mode().Perm())
		}
	}
	if st, _ := os.Stat(dir); st.Mode().Perm() != 0o700 {
		t.Errorf("dir mode %04o", st.Mode().Perm())
	}
	got, err := s.Load(j.Address)
	if err != nil {
		t.Fatal(err)
	}
	if !got.CanOpen() || !got.key.Public().Equal(key.Public()) {
		t.Error("the key did not round-trip")
	}
	got.key, j.key = nil, nil
	if !got.Address.Equals(j.Address) || !got.Root.Equals(j.Root) || !got.Client.Equals(j.Client) || !got.Worker.Equals(j.Worker) ||
		got.Nonce != j.Nonce || got.RequestHash != j.RequestHash || got.Deadline != j.Deadline || got.Escrow.Cmp(j.Escrow) != 0 ||
		got.PriceOut.Cmp(j.PriceOut) != 0 || !got.CreatedAt.Equal(j.CreatedAt) || !got.Insecure || !got.InlineRequest ||
		got.Endpoint != j.Endpoint || got.MaxInputTokens != 300 || got.MaxOutputTokens != 100 || got.Model != "m" {
		t.Errorf("record did not round-trip:\n got %+v\nwant %+v", got, j)
	}

	if _, err := s.Load(testAddr("other")); !errors.Is(err, ErrUnknownJob) {
		t.Errorf("Load of an unknown job: %v", err)
	}
	// A key others can read is refused (it may have been copied).
	keyPath := filepath.Join(dir, baseName(j.Address)+".key")
	if err := os.Chmod(keyPath, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Load(j.Address); err == nil || !strings.Contains(err.Error(), "0644") && !strings.Contains(err.Error(), "mode") {
		t.Errorf("Load with a readable key: %v", err)
	}
	// Without its key file the job still loads: it can be followed and
	// refunded, not opened.
	if err := os.Remove(keyPath); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Load(j.Address); err != nil || got.CanOpen() {
		t.Errorf("Load without the key: %v, can open %v", err, got != nil && got.CanOpen())
	}
	if err := s.Remove(j.Address); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Load(j.Address); !errors.Is(err, ErrUnknownJob) {
		t.Errorf("after Remove: %v", err)
	}
}

func TestStoreRefusesBadRecords(t *testing.T) {
	dir := t.TempDir()
	s := &Store{Dir: dir}
	a := testAddr("job")
	for name, content := range map[string]string{
		"not JSON":      "{",
		"version 2":     `{"version":2}`,
		"bad hash":      `{"version":1,"job":"` + a.StringRaw() + `","root":"` + a.StringRaw() + `","client":"` + a.StringRaw() + `","worker":"` + a.StringRaw() + `","request_hash":"zz","price_in":"1","price_out":"1","escrow":"1"}`,
		"another job":   `{"version":1,"job":"` + testAddr("x").StringRaw() + `","root":"` + a.StringRaw() + `","client":"` + a.StringRaw() + `","worker":"` + a.StringRaw() + `","request_hash":"` + strings.Repeat("00", 32) + `","price_in":"1","price_out":"1","escrow":"1"}`,
		"negative fund": `{"version":1,"job":"` + a.StringRaw() + `","root":"` + a.StringRaw() + `","client":"` + a.StringRaw() + `","worker":"` + a.StringRaw() + `","request_hash":"` + strings.Repeat("00", 32) + `","price_in":"-1","price_out":"1","escrow":"1"}`,
	} {
		if err := os.WriteFile(filepath.Join(dir, baseName(a)+".json"), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Load(a); err == nil || errors.Is(err, ErrUnknownJob) {
			t.Errorf("%s: Load = %v", name, err)
		}
	}
}
