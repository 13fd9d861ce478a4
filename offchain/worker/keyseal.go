package worker

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/cocoon-network/cocoon/offchain/attest"
	"github.com/cocoon-network/cocoon/offchain/attest/atls"
	"github.com/cocoon-network/cocoon/offchain/attest/collateral"
	"github.com/cocoon-network/cocoon/offchain/attest/keyseal"
	"github.com/cocoon-network/cocoon/offchain/attest/sevsnp"
	"github.com/cocoon-network/cocoon/offchain/chain"
	"github.com/cocoon-network/cocoon/offchain/chain/netflag"
	"github.com/cocoon-network/cocoon/offchain/chain/readers"
	"github.com/cocoon-network/cocoon/offchain/client"
	"github.com/cocoon-network/cocoon/offchain/internal/atomicfile"
	"github.com/cocoon-network/cocoon/offchain/seal"
)

// Sealed keys: the three private key files of a keys dir, encrypted
// together under a key only the same TEE image gets again
// (offchain/attest/keyseal), replacing the plain files.
const (
	sealedKeysFile = "keys.sealed"
	sealedLabel    = "worker-keys"
)

// SealingConfig is the [sealing] section of the worker config.
type SealingConfig struct {
	// Kind: "" keeps plain key files (mode 0600, readable by the host
	// after a reboot: dev and test networks), "sevsnp" (key derived by
	// the AMD secure processor), "key-release" (TDX: a key-release
	// service), "dev" (the sealed format under a plain key file: insecure,
	// for tests).
	Kind string `toml:"kind"`
	// KeyReleaseURL is the key-release service (https). The service is
	// trusted only when its attested image is on Root's allow-list (the
	// host, who writes this file, cannot point the worker at a service of
	// its own); dev services only while Root is in test mode.
	KeyReleaseURL string `toml:"key_release_url"`
	// KeyReleaseService was a pin of the service's evidence hash chosen by
	// the host: refused now (Root's allow-list judges the service).
	KeyReleaseService string `toml:"key_release_service"`
	// KeyReleaseImage, "TEE:hex image hash", narrows the services trusted
	// to one image, which must also be on Root's allow-list.
	KeyReleaseImage string `toml:"key_release_image"`

	// allow replaces Root's allow-list (tests); nil: Root's, read over
	// the config's network.
	allow attest.AllowList
}

// serviceAllowList is what judges a key-release service's image: Root's
// allow-list (over the config's network), narrowed to one image when the
// config names it.
func (sc SealingConfig) serviceAllowList(ctx context.Context, cfg *Config) (attest.AllowList, error) {
	al := sc.allow
	if al == nil {
		root, err := chain.ParseAddress(cfg.Root)
		if err != nil {
			return nil, fmt.Errorf("sealing: the key-release service is judged by Root's allow-list: config root: %w", err)
		}
		net, err := netflag.Open(ctx, cfg.Network)
		if err != nil {
			return nil, fmt.Errorf("sealing: the key-release service is judged by Root's allow-list: network: %w", err)
		}
		al = client.ChainAllowList{Root: readers.NewRoot(net, root)}
	}
	if sc.KeyReleaseImage == "" {
		return al, nil
	}
	tee, h, ok := strings.Cut(sc.KeyReleaseImage, ":")
	img, err := hex.DecodeString(h)
	if !ok || err != nil || len(img) != 32 {
		return nil, errors.New(`sealing.key_release_image: want "TEE:hex image hash" of the key-release service`)
	}
	return oneImage{AllowList: al, tee: tee, image: img}, nil
}

// oneImage is an allow-list narrowed to one image.
type oneImage struct {
	attest.AllowList
	tee   string
	image []byte
}

func (o oneImage) MeasurementAllowed(ctx context.Context, tee string, hash []byte) (bool, error) {
	if tee != o.tee || !bytes.Equal(hash, o.image) {
		return false, nil
	}
	return o.AllowList.MeasurementAllowed(ctx, tee, hash)
}

// NewSealer builds the sealer the config names, or nil for plain files.
// For key release it makes a fresh attested TLS identity with src (the
// worker's TEE) and fetches its collateral with cfg's [collateral].
func NewSealer(ctx context.Context, cfg *Config, src attest.Source, bundle *attest.Bundle) (keyseal.Sealer, error) {
	sc := cfg.Sealing
	switch sc.Kind {
	case "":
		return nil, nil
	case "dev":
		return keyseal.DevSealer{KeyFile: filepath.Join(cfg.Path(cfg.KeysDir), "dev-seal.key")}, nil
	case "sevsnp":
		s := keyseal.SNPSealer{Deriver: keyseal.FirmwareDeriver{}}
		if bundle != nil && bundle.TEE == attest.TEESEVSNP {
			rep, err := sevsnp.ParseReport(bundle.Evidence)
			if err != nil {
				return nil, fmt.Errorf("sealing: %w", err)
			}
			s.TCBVersion = rep.Proto.GetCommittedTcb()
		}
		return s, nil
	case "key-release":
		if sc.KeyReleaseService != "" {
			return nil, errors.New("sealing.key_release_service: a pin the host chooses is no longer trusted; the service is judged by Root's allow-list (key_release_image narrows it to one image)")
		}
		// A dev key-release service holds its keys in a plain file: a
		// hardware-TEE worker's keys would be no safer than the host.
		if tee, _, _ := strings.Cut(sc.KeyReleaseImage, ":"); tee == attest.TEEDev && (bundle == nil || bundle.TEE != attest.TEEDev) {
			return nil, errors.New("sealing.key_release_image: a dev key-release service is accepted only by dev workers (test networks)")
		}
		al, err := sc.serviceAllowList(ctx, cfg)
		if err != nil {
			return nil, err
		}
		// The service's certificate carries no collateral, so its TCB
		// status is not judged here; its image is, against Root's
		// allow-list (and Root's test mode for dev evidence).
		p := attest.DefaultPolicy(al)
		p.RequireTCBStatus = false
		byImage := &atls.Verifier{Policy: p}
		if src == nil {
			return nil, errors.New("sealing: key release needs the worker's TEE to attest its request")
		}
		id, err := atls.NewIdentity(ctx, src, nil, nil, time.Now(), time.Hour)
		if err != nil {
			return nil, fmt.Errorf("sealing: attested TLS identity: %w", err)
		}
		c := &keyseal.ReleaseClient{URL: sc.KeyReleaseURL, ServiceVerifier: byImage, Identity: id}
		if coll, err := (&collateral.Fetcher{IntelPCS: cfg.Collateral.IntelPCS, IntelRootCRL: cfg.Collateral.IntelRootCRL,
			AMDKDS: cfg.Collateral.AMDKDS, SNPProductLine: cfg.Collateral.SNPProductLine}).Fetch(ctx, id.Bundle); err == nil {
			c.Collateral, _ = coll.Encode()
		} else {
			slog.Warn("sealing: no collateral for the key-release request; a service requiring a TCB status will refuse", "err", err)
		}
		return keyseal.ReleaseSealer{Client: c, Label: sealedLabel}, nil
	}
	return nil, fmt.Errorf("sealing.kind %q: want sevsnp, key-release, dev or nothing", sc.Kind)
}

// keyFiles are the private key files a sealed blob holds.
var keyFiles = []string{signKeyFile, hpkeKeyFile, tlsKeyFile}

// SealKeys replaces the plain key files in dir by one blob sealed with s,
// after checking that s opens it again. Afterwards only a TEE that s gives
// the same key (the same image) can load the worker's identity.
func SealKeys(ctx context.Context, dir string, s keyseal.Sealer) error {
	files := map[string][]byte{}
	for _, f := range keyFiles {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			return fmt.Errorf("sealing keys: %w", err)
		}
		files[f] = b
	}
	if err := sealFiles(ctx, dir, s, files); err != nil {
		return err
	}
	for _, f := range keyFiles {
		if err := os.Remove(filepath.Join(dir, f)); err != nil {
			return fmt.Errorf("sealing keys: removing the plain %s: %w", f, err)
		}
	}
	return nil
}

// sealFiles writes the key files' contents to dir as one blob sealed with
// s, after checking that s opens it again.
func sealFiles(ctx context.Context, dir string, s keyseal.Sealer, files map[string][]byte) error {
	plain, err := json.Marshal(files)
	if err != nil {
		return err
	}
	blob, err := keyseal.Seal(ctx, s, sealedLabel, plain)
	if err != nil {
		return err
	}
	if back, err := keyseal.Unseal(ctx, s, sealedLabel, blob); err != nil || string(back) != string(plain) {
		return fmt.Errorf("sealing keys: the sealed blob does not open again (%v); nothing sealed", err)
	}
	if err := atomicfile.Replace(filepath.Join(dir, sealedKeysFile), blob, 0o600); err != nil {
		return fmt.Errorf("sealing keys: %w", err)
	}
	return nil
}

// OpenIdentity loads the identity in dir: from the sealed blob with s
// when the keys are sealed, else from the plain key files (s unused).
func OpenIdentity(ctx context.Context, dir string, s keyseal.Sealer) (*Identity, error) {
	blob, err := os.ReadFile(filepath.Join(dir, sealedKeysFile))
	if errors.Is(err, os.ErrNotExist) {
		return LoadIdentity(dir)
	}
	if err != nil {
		return nil, fmt.Errorf("reading sealed keys: %w", err)
	}
	if s == nil {
		return nil, fmt.Errorf("the keys in %s are sealed: configure [sealing] with the sealer that sealed them", dir)
	}
	plain, err := keyseal.Unseal(ctx, s, sealedLabel, blob)
	if err != nil {
		return nil, fmt.Errorf("unsealing the worker's keys: %w", err)
	}
	var files map[string][]byte
	if err := json.Unmarshal(plain, &files); err != nil {
		return nil, fmt.Errorf("sealed keys: %w", err)
	}
	sign, err := parsePKCS8(files[signKeyFile], "worker signing key")
	if err != nil {
		return nil, err
	}
	ed, ok := sign.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("worker signing key: a %T, not Ed25519", sign)
	}
	tk, err := parsePKCS8(files[tlsKeyFile], "worker TLS key")
	if err != nil {
		return nil, err
	}
	tlsKey, ok := tk.(*ecdsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("worker TLS key: a %T, not ECDSA", tk)
	}
	blk, _ := pem.Decode(files[hpkeKeyFile])
	if blk == nil {
		return nil, errors.New("sealed HPKE key: not PEM")
	}
	hpke, err := seal.ParsePrivateKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("sealed HPKE key: %w", err)
	}
	return identityWithEvidence(dir, ed, hpke, tlsKey)
}

func parsePKCS8(b []byte, what string) (any, error) {
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("sealed %s: not a PKCS#8 PEM block", what)
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("sealed %s: %w", what, err)
	}
	return k, nil
}

// SourceFor is the attestation source of a worker whose evidence is tee:
// the TEE's own, or for dev the keys dir's dev signer.
func SourceFor(dir, tee string) (attest.Source, error) {
	switch tee {
	case attest.TEETDX:
		return &attest.TDXSource{}, nil
	case attest.TEESEVSNP:
		return &attest.SNPSource{}, nil
	case attest.TEEDev:
		return DevSourceFor(dir)
	}
	return nil, fmt.Errorf("no attestation source for %s evidence", tee)
}

// OpenConfiguredIdentity loads the identity of cfg's keys dir with the
// sealer cfg names: what `cocoon worker run` does at start.
func OpenConfiguredIdentity(ctx context.Context, cfg *Config, log *slog.Logger) (*Identity, error) {
	if log == nil {
		log = slog.Default()
	}
	dir := cfg.Path(cfg.KeysDir)
	raw, err := os.ReadFile(filepath.Join(dir, evidenceFile))
	if err != nil {
		return nil, fmt.Errorf("reading evidence: %w", err)
	}
	b, err := attest.Decode(raw)
	if err != nil {
		return nil, fmt.Errorf("evidence %s: %w", filepath.Join(dir, evidenceFile), err)
	}
	src, err := SourceFor(dir, b.TEE)
	if err != nil {
		return nil, err
	}
	s, err := NewSealer(ctx, cfg, src, b)
	if err != nil {
		return nil, err
	}
	// A hardware-TEE worker's keys are the enclave's only while they are
	// sealed to it: plain files (or the dev sealer's plain key file) are
	// readable by the host after a reboot, and clients could not tell.
	if b.TEE != attest.TEEDev && (s == nil || s.Insecure()) {
		how := "plain files"
		if s != nil {
			how = "sealed under a plain key file (sealing.kind dev)"
		}
		return nil, fmt.Errorf("refusing to run a %s worker whose keys are %s its host can read after a reboot: set [sealing] kind to %q or \"key-release\" and run cocoon worker seal", b.TEE, how, sealKindFor(b.TEE))
	}
	// The evidence states how the keys are held; a worker whose keys are
	// held otherwise (sealed since, or the sealer changed) must re-attest,
	// or clients would be told something untrue.
	if stated, held := b.KeyHolding, KeyHolding(cfg); stated != "" && stated != held {
		return nil, fmt.Errorf("the evidence says the keys are held %q, this worker holds them %q: run cocoon worker attest, then cocoon worker update", stated, held)
	}
	id, err := OpenIdentity(ctx, dir, s)
	if err != nil {
		return nil, err
	}
	if s != nil && s.Insecure() {
		log.Warn("INSECURE: the worker's keys are sealed under a plain key file (sealing.kind dev)")
	}
	return id, nil
}

// KeyHolding is how cfg's worker holds its keys at rest, as its evidence
// states it (attest.KeyHolding*): sealed by the configured sealer once
// cocoon worker seal has run, plain files before.
func KeyHolding(cfg *Config) string {
	if _, err := os.Stat(filepath.Join(cfg.Path(cfg.KeysDir), sealedKeysFile)); err != nil {
		return attest.KeyHoldingPlain
	}
	return HoldingOf(cfg.Sealing.Kind)
}

// HoldingOf is how keys sealed by a sealing kind are held.
func HoldingOf(kind string) string {
	switch kind {
	case "dev":
		return attest.KeyHoldingDev
	case "sevsnp":
		return attest.KeyHoldingSEVSNP
	case "key-release":
		return attest.KeyHoldingKeyRelease
	}
	return attest.KeyHoldingPlain
}

// SealingSection is the [sealing] section of a config for these values
// (each quoted by the TOML encoder), empty for kind "".
func SealingSection(kind, url, image string) (string, error) {
	if kind == "" {
		return "", nil
	}
	var b strings.Builder
	b.WriteString("\n[sealing]\n")
	for _, kv := range [][2]string{{"kind", kind}, {"key_release_url", url}, {"key_release_image", image}} {
		if kv[1] == "" {
			continue
		}
		q, err := tomlString(kv[1])
		if err != nil {
			return "", err
		}
		b.WriteString(kv[0] + " = " + q + "\n")
	}
	return b.String(), nil
}

// sealKindFor is the firmware sealing of a TEE, where it has one.
func sealKindFor(tee string) string {
	if tee == attest.TEESEVSNP {
		return "sevsnp"
	}
	return "key-release"
}
