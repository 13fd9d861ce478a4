package wallet

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// fxMnemonic is a fixed test mnemonic (never funded anywhere). The
// addresses below were computed with this package and cross-checked with
// @ton/ton (WalletContractV5R1 / WalletContractV4).
const fxMnemonic = "arena brave phrase sauce lend similar able trap morning there share dolphin convince unveil sad moon patch grass pattern fruit door seminar basic valid"

// fxBadChecksum has valid words in an order that is not a TON mnemonic.
const fxBadChecksum = "brave arena phrase sauce lend similar able trap morning there share dolphin convince unveil sad moon patch grass pattern fruit door seminar basic valid"

func writeFile(t *testing.T, content string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "wallet.json")
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil { // WriteFile's mode is subject to umask
		t.Fatal(err)
	}
	return p
}

// assertNoMnemonic fails if s contains any word of mnemonic as a whole
// word ("valid" is a mnemonic word, "invalid" is fine).
func assertNoMnemonic(t *testing.T, s string, mnemonic string) {
	t.Helper()
	secret := map[string]bool{}
	for _, w := range strings.Fields(mnemonic) {
		secret[w] = true
	}
	isLetter := func(r rune) bool { return r >= 'a' && r <= 'z' }
	for _, w := range strings.FieldsFunc(s, func(r rune) bool { return !isLetter(r) }) {
		if secret[w] {
			t.Errorf("%q reveals mnemonic word %q", s, w)
		}
	}
}

func TestNewSaveLoad(t *testing.T) {
	t.Parallel()
	tests := []struct {
		version    Version
		wantGlobal int32
	}{
		{V5R1, MainnetGlobalID},
		{V4R2, 0},
	}
	for _, tt := range tests {
		t.Run(string(tt.version), func(t *testing.T) {
			t.Parallel()
			f, err := New(tt.version)
			if err != nil {
				t.Fatal(err)
			}
			if n := len(strings.Fields(f.Mnemonic)); n != 24 {
				t.Fatalf("mnemonic has %d words", n)
			}
			if f.NetworkGlobalID != tt.wantGlobal || f.Workchain != 0 {
				t.Errorf("new file = %v", f)
			}
			path := filepath.Join(t.TempDir(), "w.json")
			if err := f.Save(path, false); err != nil {
				t.Fatal(err)
			}
			st, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if st.Mode().Perm() != 0o600 {
				t.Errorf("mode = %04o, want 0600", st.Mode().Perm())
			}
			raw, _ := os.ReadFile(path)
			var generic map[string]any
			if err := json.Unmarshal(raw, &generic); err != nil {
				t.Fatal(err)
			}
			if generic["version"] != string(tt.version) || generic["mnemonic"] != f.Mnemonic || generic["workchain"] != float64(0) {
				t.Errorf("file content = %s", raw)
			}
			if _, present := generic["network_global_id"]; present != (tt.wantGlobal != 0) {
				t.Errorf("network_global_id present = %v in %s", present, raw)
			}
			g, err := Load(path)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(f, g, cmpopts.IgnoreUnexported(File{})); diff != "" {
				t.Errorf("loaded wallet differs from the saved one (-saved +loaded):\n%s", diff)
			}
			a1, err := f.Address()
			if err != nil {
				t.Fatal(err)
			}
			a2, err := g.Address()
			if err != nil {
				t.Fatal(err)
			}
			if !a1.Equals(a2) {
				t.Errorf("address changed across save/load: %s vs %s", a1, a2)
			}
		})
	}
}

func TestNewRejectsUnknownVersion(t *testing.T) {
	t.Parallel()
	if _, err := New("v3r2"); err == nil || !strings.Contains(err.Error(), "unknown wallet version") {
		t.Fatalf("err = %v", err)
	}
}

func TestSaveOverwrite(t *testing.T) {
	t.Parallel()
	f := &File{Version: V5R1, Mnemonic: fxMnemonic, NetworkGlobalID: MainnetGlobalID}
	path := writeFile(t, "old content", 0o644)

	err := f.Save(path, false)
	if !errors.Is(err, fs.ErrExist) || !strings.Contains(err.Error(), "refusing to overwrite") {
		t.Fatalf("Save without overwrite: err = %v", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "old content" {
		t.Fatalf("existing file changed: %q", b)
	}

	if err := f.Save(path, true); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("mode after overwrite = %04o, want 0600", st.Mode().Perm())
	}
	if _, err := Load(path); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("temporary files left behind: %v", entries)
	}
}

func TestSaveRefusesInvalid(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "w.json")
	f := &File{Version: V5R1, Mnemonic: "too short", NetworkGlobalID: MainnetGlobalID}
	if err := f.Save(path, false); err == nil {
		t.Fatal("saved an invalid wallet")
	}
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("file created for an invalid wallet: %v", err)
	}
}

func TestLoadPermissions(t *testing.T) {
	t.Parallel()
	content := `{"version":"v5r1","mnemonic":"` + fxMnemonic + `","network_global_id":-239,"workchain":0}`
	tests := []struct {
		mode    os.FileMode
		wantErr bool
	}{
		{0o600, false},
		{0o400, false},
		{0o640, true},
		{0o644, true},
		{0o604, true},
		{0o620, true},
		{0o666, true},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%04o", tt.mode), func(t *testing.T) {
			t.Parallel()
			path := writeFile(t, content, tt.mode)
			_, err := Load(path)
			if !tt.wantErr {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil {
				t.Fatal("loaded a file others can access")
			}
			if !strings.Contains(err.Error(), "chmod 600 "+path) || !strings.Contains(err.Error(), fmt.Sprintf("%04o", tt.mode)) {
				t.Errorf("err = %v, want the mode and a chmod hint", err)
			}
		})
	}
}

func TestLoadInvalid(t *testing.T) {
	t.Parallel()
	words := strings.Fields(fxMnemonic)
	unknownWord := strings.Join(append([]string{"zzzzqqq"}, words[1:]...), " ")
	tests := []struct {
		name    string
		content string
		wantErr string
	}{
		{"not JSON", `version: v5r1 mnemonic: ` + fxMnemonic, "invalid JSON"},
		{"truncated JSON", `{"version":"v5r1","mnemonic":"` + fxMnemonic, "invalid JSON"},
		{"wrong type", `{"version":"v5r1","mnemonic":["` + strings.Join(words, `","`) + `"]}`, `field "mnemonic" has the wrong type`},
		{"12 words", `{"version":"v5r1","network_global_id":-239,"mnemonic":"` + strings.Join(words[:12], " ") + `"}`, "12 words, want 24"},
		{"empty mnemonic", `{"version":"v5r1","network_global_id":-239,"mnemonic":""}`, "0 words, want 24"},
		{"unknown word", `{"version":"v5r1","network_global_id":-239,"mnemonic":"` + unknownWord + `"}`, "not in the TON word list"},
		{"bad checksum", `{"version":"v5r1","network_global_id":-239,"mnemonic":"` + fxBadChecksum + `"}`, "checksum mismatch"},
		{"unknown version", `{"version":"v3r2","mnemonic":"` + fxMnemonic + `"}`, `unknown wallet version "v3r2"`},
		{"v5r1 without network id", `{"version":"v5r1","mnemonic":"` + fxMnemonic + `"}`, "needs network_global_id"},
		{"bad workchain", `{"version":"v4r2","workchain":5,"mnemonic":"` + fxMnemonic + `"}`, "workchain 5"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := writeFile(t, tt.content, 0o600)
			_, err := Load(path)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want containing %q", err, tt.wantErr)
			}
			assertNoMnemonic(t, err.Error(), fxMnemonic)
			if strings.Contains(err.Error(), "zzzzqqq") {
				t.Errorf("error reveals a mnemonic word: %v", err)
			}
		})
	}
}

func TestLoadMissing(t *testing.T) {
	t.Parallel()
	_, err := Load(filepath.Join(t.TempDir(), "nope.json"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("err = %v", err)
	}
}

func TestAddressPinned(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		file File
		want Addresses
	}{
		{
			"v5r1 mainnet",
			File{Version: V5R1, Mnemonic: fxMnemonic, NetworkGlobalID: MainnetGlobalID},
			Addresses{
				Raw:           "0:3000560b74d9c3e7200d200a34f5079ed75d769517355fd67721fe6efdb40dd1",
				Bounceable:    "EQAwAFYLdNnD5yANIAo09Qee1112lRc1X9Z3If5u_bQN0etK",
				NonBounceable: "UQAwAFYLdNnD5yANIAo09Qee1112lRc1X9Z3If5u_bQN0baP",
			},
		},
		{
			"v5r1 testnet",
			File{Version: V5R1, Mnemonic: fxMnemonic, NetworkGlobalID: TestnetGlobalID},
			Addresses{
				Raw:           "0:c104eb9d782fe2a756cbf3bbf68f0cd558933cee67f0e85efc42609687cf2106",
				Bounceable:    "kQDBBOudeC_ip1bL87v2jwzVWJM87mfw6F78QmCWh88hBqdt",
				NonBounceable: "0QDBBOudeC_ip1bL87v2jwzVWJM87mfw6F78QmCWh88hBvqo",
			},
		},
		{
			"v5r1 masterchain",
			File{Version: V5R1, Mnemonic: fxMnemonic, NetworkGlobalID: MainnetGlobalID, Workchain: -1},
			Addresses{
				Raw:           "-1:867fb00a13c9d54574ba47b41e235ac78fad1158294f8b19b2b52026ab72faea",
				Bounceable:    "Ef-Gf7AKE8nVRXS6R7QeI1rHj60RWClPixmytSAmq3L66lBB",
				NonBounceable: "Uf-Gf7AKE8nVRXS6R7QeI1rHj60RWClPixmytSAmq3L66g2E",
			},
		},
		{
			"v4r2",
			File{Version: V4R2, Mnemonic: fxMnemonic},
			Addresses{
				Raw:           "0:f792d10ab2a4b69ebd9a21b0eb8e524efb731aba804bca2d4edfef19a5336b63",
				Bounceable:    "EQD3ktEKsqS2nr2aIbDrjlJO-3MauoBLyi1O3-8ZpTNrY3lu",
				NonBounceable: "UQD3ktEKsqS2nr2aIbDrjlJO-3MauoBLyi1O3-8ZpTNrYySr",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a, err := tt.file.Address()
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, FormatAddresses(a)); diff != "" {
				t.Errorf("addresses (-want +got):\n%s", diff)
			}
			if !a.IsBounceable() {
				t.Errorf("Address() is not bounceable")
			}
		})
	}
}

func TestFileNeverPrintsMnemonic(t *testing.T) {
	t.Parallel()
	f := &File{Version: V5R1, Mnemonic: fxMnemonic, NetworkGlobalID: MainnetGlobalID}
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("wallet", "file", f, "value", *f)
	slog.New(slog.NewTextHandler(&logged, nil)).Info("wallet", "file", f)
	for _, s := range []string{fmt.Sprint(f), fmt.Sprintf("%v %+v %#v %s", f, f, f, f), fmt.Sprintf("%+v", *f), logged.String()} {
		assertNoMnemonic(t, s, fxMnemonic)
		if !strings.Contains(s, "redacted") {
			t.Errorf("%q does not say the mnemonic is redacted", s)
		}
	}
}
