// Package wallet keeps a TON wallet's secret in a local file and sends
// transfers from it through any chain.Network, without a liteclient.
//
// Address derivation and message signing are tonutils-go's (ton/wallet);
// this package only supplies what tonutils-go would fetch over a
// liteclient (the seqno and whether the wallet is deployed) from
// chain.Network instead.
package wallet

import (
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"runtime"
	"strings"

	"github.com/xssnick/tonutils-go/address"
	tonwallet "github.com/xssnick/tonutils-go/ton/wallet"

	"github.com/cocoon-network/cocoon/offchain/internal/atomicfile"
)

// Version is a wallet contract version.
type Version string

const (
	V5R1 Version = "v5r1" // wallet v5 (W5), the default
	V4R2 Version = "v4r2"
)

// DefaultVersion is the version New uses unless told otherwise.
const DefaultVersion = V5R1

// Network global ids, which v5r1 wallets sign into every message and
// which therefore change their address.
const (
	MainnetGlobalID int32 = -239 // mainnet, and Cocoon's devnet
	TestnetGlobalID int32 = -3
)

// MnemonicWords is the length of the mnemonics this package creates and accepts.
const MnemonicWords = 24

// ParseVersion reads a version name as written in files and flags.
func ParseVersion(s string) (Version, error) {
	switch v := Version(strings.ToLower(strings.TrimSpace(s))); v {
	case V5R1, V4R2:
		return v, nil
	}
	return "", fmt.Errorf("unknown wallet version %q (want %s or %s)", s, V5R1, V4R2)
}

// File is the content of a wallet file. The mnemonic is the wallet's only
// secret: whoever reads it owns the funds.
type File struct {
	Version  Version `json:"version"`
	Mnemonic string  `json:"mnemonic"`
	// NetworkGlobalID is signed into v5r1 messages and so part of a v5r1
	// wallet's identity (and address); unused by v4r2.
	NetworkGlobalID int32 `json:"network_global_id,omitempty"`
	Workchain       int8  `json:"workchain"`

	// key caches the private key derived from Mnemonic (derivation runs
	// 100000 PBKDF2 rounds); keyOf is the mnemonic it was derived from.
	key   ed25519.PrivateKey
	keyOf string
}

// New creates a wallet with a fresh random mnemonic. A v5r1 wallet gets
// MainnetGlobalID; set NetworkGlobalID before Save for another network.
func New(version Version) (*File, error) {
	if _, err := ParseVersion(string(version)); err != nil {
		return nil, err
	}
	f := &File{Version: version, Mnemonic: strings.Join(tonwallet.NewSeed(), " ")}
	if version == V5R1 {
		f.NetworkGlobalID = MainnetGlobalID
	}
	if _, err := f.PrivateKey(); err != nil {
		return nil, fmt.Errorf("deriving key of the new mnemonic: %w", err)
	}
	return f, nil
}

// String never shows the mnemonic, so a File can be logged or printed by
// mistake without leaking it.
func (f File) String() string {
	return fmt.Sprintf("wallet.File{Version:%s NetworkGlobalID:%d Workchain:%d Mnemonic:<redacted>}", f.Version, f.NetworkGlobalID, f.Workchain)
}

// GoString keeps %#v from printing the mnemonic.
func (f File) GoString() string { return f.String() }

// LogValue keeps slog (whose JSON handler would marshal the fields) from
// logging the mnemonic.
func (f File) LogValue() slog.Value { return slog.StringValue(f.String()) }

// Validate checks the version, network id, workchain and mnemonic.
func (f *File) Validate() error {
	if _, err := ParseVersion(string(f.Version)); err != nil {
		return err
	}
	if f.Version == V5R1 && f.NetworkGlobalID == 0 {
		return fmt.Errorf("a %s wallet needs network_global_id (%d for mainnet and devnet, %d for testnet)", V5R1, MainnetGlobalID, TestnetGlobalID)
	}
	if f.Workchain != 0 && f.Workchain != -1 {
		return fmt.Errorf("workchain %d is not 0 or -1", f.Workchain)
	}
	_, err := f.PrivateKey()
	return err
}

// PrivateKey derives the wallet's ed25519 key from the mnemonic.
func (f *File) PrivateKey() (ed25519.PrivateKey, error) {
	if f.key != nil && f.keyOf == f.Mnemonic {
		return f.key, nil
	}
	key, err := mnemonicKey(f.Mnemonic)
	if err != nil {
		return nil, err
	}
	f.key, f.keyOf = key, f.Mnemonic
	return key, nil
}

// mnemonicKey checks a TON mnemonic and derives its key. Its errors never
// quote the mnemonic's words: they end up in logs and terminals.
func mnemonicKey(mnemonic string) (ed25519.PrivateKey, error) {
	words := strings.Fields(mnemonic)
	if len(words) != MnemonicWords {
		return nil, fmt.Errorf("invalid mnemonic: %d words, want %d", len(words), MnemonicWords)
	}
	key, err := tonwallet.SeedToPrivateKeyWithOptions(words)
	if err != nil {
		// tonutils-go's message quotes the offending word; only its kind is kept.
		if strings.Contains(err.Error(), "unknown word") {
			return nil, errors.New("invalid mnemonic: a word is not in the TON word list")
		}
		return nil, errors.New("invalid mnemonic: checksum mismatch (not a TON mnemonic)")
	}
	return key, nil
}

// versionConfig is the tonutils-go description of the wallet contract.
func (f *File) versionConfig() (tonwallet.VersionConfig, error) {
	switch f.Version {
	case V5R1:
		return tonwallet.ConfigV5R1Final{NetworkGlobalID: f.NetworkGlobalID, Workchain: f.Workchain}, nil
	case V4R2:
		return tonwallet.V4R2, nil
	}
	return nil, fmt.Errorf("unknown wallet version %q", f.Version)
}

// Address returns the wallet's address, bounceable. A wallet is not
// deployed until its first outgoing transfer, so fund it through the
// non-bounceable form (see Addresses), or the funds bounce back.
func (f *File) Address() (*address.Address, error) {
	key, err := f.PrivateKey()
	if err != nil {
		return nil, err
	}
	return f.addressOf(key.Public().(ed25519.PublicKey))
}

func (f *File) addressOf(pub ed25519.PublicKey) (*address.Address, error) {
	cfg, err := f.versionConfig()
	if err != nil {
		return nil, err
	}
	addr, err := tonwallet.AddressFromPubKey(pub, cfg, f.subwallet(), f.Workchain)
	if err != nil {
		return nil, fmt.Errorf("deriving %s wallet address: %w", f.Version, err)
	}
	addr.SetBounce(true)
	addr.SetTestnetOnly(f.Version == V5R1 && f.NetworkGlobalID == TestnetGlobalID)
	return addr, nil
}

// subwallet is the wallet id tonutils-go and other wallet apps use by
// default, so the same mnemonic gives the same address everywhere.
func (f *File) subwallet() uint32 {
	if f.Version == V5R1 {
		return 0
	}
	return tonwallet.DefaultSubwallet
}

// Addresses is a wallet address in the forms people need.
type Addresses struct {
	Raw           string `json:"raw"`
	Bounceable    string `json:"bounceable"`
	NonBounceable string `json:"non_bounceable"`
}

// FormatAddresses renders addr in raw, bounceable and non-bounceable forms.
func FormatAddresses(addr *address.Address) Addresses {
	return Addresses{
		Raw:           addr.StringRaw(),
		Bounceable:    addr.Bounce(true).String(),
		NonBounceable: addr.Bounce(false).String(),
	}
}

// Save writes the wallet to path as JSON, readable by its owner only. It
// refuses to replace an existing file unless overwrite is set; an
// overwrite replaces the file atomically, so a crash leaves the old or
// the new wallet, never a torn one.
func (f *File) Save(path string, overwrite bool) error {
	if err := f.Validate(); err != nil {
		return fmt.Errorf("saving wallet to %s: %w", path, err)
	}
	data, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding wallet: %w", err)
	}
	data = append(data, '\n')
	if overwrite {
		if err := atomicfile.Replace(path, data, 0o600); err != nil {
			return fmt.Errorf("replacing wallet file %s: %w", path, err)
		}
		return nil
	}
	if err := atomicfile.Create(path, data, 0o600); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("wallet file %s already exists; refusing to overwrite it: %w", path, err)
		}
		return fmt.Errorf("writing wallet file %s: %w", path, err)
	}
	return nil
}

// Load reads and validates a wallet file. It refuses a file that anyone
// but its owner may read or write: such a mnemonic may already be exposed.
func Load(path string) (*File, error) {
	in, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("opening wallet file: %w", err)
	}
	defer in.Close()
	st, err := in.Stat()
	if err != nil {
		return nil, fmt.Errorf("checking wallet file %s: %w", path, err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("wallet file %s is not a regular file", path)
	}
	// Windows has no POSIX permission bits to check.
	if perm := st.Mode().Perm(); perm&0o077 != 0 && runtime.GOOS != "windows" {
		return nil, fmt.Errorf("wallet file %s is accessible by group or others (mode %04o); run: chmod 600 %s", path, perm, path)
	}
	var f File
	dec := json.NewDecoder(in)
	if err := dec.Decode(&f); err != nil {
		// The decoder's error may quote file content, i.e. mnemonic words.
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return nil, fmt.Errorf("reading wallet file %s: invalid JSON at byte %d", path, se.Offset)
		}
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return nil, fmt.Errorf("reading wallet file %s: field %q has the wrong type", path, te.Field)
		}
		return nil, fmt.Errorf("reading wallet file %s: invalid JSON", path)
	}
	if err := f.Validate(); err != nil {
		return nil, fmt.Errorf("wallet file %s: %w", path, err)
	}
	return &f, nil
}
