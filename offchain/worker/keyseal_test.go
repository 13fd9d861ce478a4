package worker

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cocoon-network/cocoon/offchain/attest"
	"github.com/cocoon-network/cocoon/offchain/attest/atls"
	"github.com/cocoon-network/cocoon/offchain/attest/dev"
	"github.com/cocoon-network/cocoon/offchain/attest/keyseal"
	"github.com/cocoon-network/cocoon/offchain/attest/keyseal/keysealtest"
	"github.com/cocoon-network/cocoon/offchain/seal"
)

// Sealed keys come back on the same image after a "reboot" (a fresh load)
// and not on another; the plain files are gone.
func TestSealKeys(t *testing.T) {
	ctx := context.Background()
	fw := &keysealtest.Firmware{CommittedTCB: 7}
	fw.ChipSecret[0], fw.Measurement[0] = 1, 1
	for _, c := range []struct {
		name  string
		s     keyseal.Sealer
		other keyseal.Sealer
	}{
		{"sevsnp", keyseal.SNPSealer{Deriver: fw, TCBVersion: 7}, keyseal.SNPSealer{Deriver: &keysealtest.Firmware{ChipSecret: fw.ChipSecret, Measurement: [48]byte{2}, CommittedTCB: 7}, TCBVersion: 7}},
		{"dev", keyseal.DevSealer{KeyFile: filepath.Join(t.TempDir(), "seal.key")}, keyseal.DevSealer{KeyFile: filepath.Join(t.TempDir(), "other.key")}},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "keys")
			id, err := InitIdentity(ctx, dir, seal.SuiteX25519)
			if err != nil {
				t.Fatal(err)
			}
			if err := SealKeys(ctx, dir, c.s); err != nil {
				t.Fatal(err)
			}
			for _, f := range keyFiles {
				if _, err := os.Stat(filepath.Join(dir, f)); !os.IsNotExist(err) {
					t.Errorf("plain %s still there: %v", f, err)
				}
			}
			if st, err := os.Stat(filepath.Join(dir, sealedKeysFile)); err != nil || st.Mode().Perm() != 0o600 {
				t.Fatalf("sealed file: %v", err)
			}
			if _, err := LoadIdentity(dir); err == nil || !strings.Contains(err.Error(), "sealed") {
				t.Fatalf("LoadIdentity of sealed keys: %v", err)
			}
			if _, err := OpenIdentity(ctx, dir, nil); err == nil || !strings.Contains(err.Error(), "configure [sealing]") {
				t.Fatalf("no sealer: %v", err)
			}
			got, err := OpenIdentity(ctx, dir, c.s)
			if err != nil {
				t.Fatal(err)
			}
			if !got.SignKey.Equal(id.SignKey) || !got.TLSKey.Equal(id.TLSKey) || !got.HPKE.Public().Equal(id.HPKE.Public()) || got.EvidenceHash() != id.EvidenceHash() {
				t.Fatal("the unsealed identity differs")
			}
			if _, err := OpenIdentity(ctx, dir, c.other); err == nil {
				t.Fatal("another image opened the keys")
			}
			if err := SealKeys(ctx, dir, c.s); err == nil {
				t.Fatal("sealing twice: the plain keys are gone, so this must fail")
			}
		})
	}
}

func TestOpenConfiguredIdentity(t *testing.T) {
	ctx := context.Background()
	base := t.TempDir()
	cfg := &Config{KeysDir: "keys", dir: base, Sealing: SealingConfig{Kind: "dev"}}
	id, err := InitIdentity(ctx, cfg.Path(cfg.KeysDir), seal.SuiteX25519)
	if err != nil {
		t.Fatal(err)
	}
	// Plain keys load whatever the sealing config says.
	if got, err := OpenConfiguredIdentity(ctx, cfg, nil); err != nil || !got.SignKey.Equal(id.SignKey) {
		t.Fatalf("plain keys: %v", err)
	}
	s, err := NewSealer(ctx, cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := SealKeys(ctx, cfg.Path(cfg.KeysDir), s); err != nil {
		t.Fatal(err)
	}
	if got, err := OpenConfiguredIdentity(ctx, cfg, nil); err != nil || !got.SignKey.Equal(id.SignKey) {
		t.Fatalf("sealed keys: %v", err)
	}
	for _, sc := range []SealingConfig{{Kind: "tpm"}, {Kind: "key-release", KeyReleaseService: "zz"}} {
		c := *cfg
		c.Sealing = sc
		if _, err := NewSealer(ctx, &c, nil, nil); err == nil {
			t.Errorf("%+v: accepted", sc)
		}
	}
	// Evidence that says the keys are held otherwise than they are is
	// refused until the worker re-attests.
	stale := *id.Bundle
	stale.KeyHolding = attest.KeyHoldingKeyRelease
	stale.Evidence = append([]byte(nil), id.Bundle.Evidence...)
	rawStale, err := stale.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(cfg.Path(cfg.KeysDir), evidenceFile), rawStale, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenConfiguredIdentity(ctx, cfg, nil); err == nil || !strings.Contains(err.Error(), `the evidence says the keys are held "key-release", this worker holds them "dev"`) {
		t.Errorf("evidence stating another key holding: %v", err)
	}
	// A hardware-TEE worker refuses keys its host can read (issue 22):
	// plain files or the dev sealer, and a dev key-release service.
	tdxBundle := &attest.Bundle{Version: 1, TEE: attest.TEETDX, Evidence: []byte{1}, Keys: id.Bundle.Keys, CreatedAt: id.Bundle.CreatedAt}
	raw, err := tdxBundle.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(cfg.Path(cfg.KeysDir), evidenceFile), raw, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, sc := range []SealingConfig{{}, {Kind: "dev"}} {
		c := *cfg
		c.Sealing = sc
		if _, err := OpenConfiguredIdentity(ctx, &c, nil); err == nil || !strings.Contains(err.Error(), "its host can read after a reboot") {
			t.Errorf("tdx worker with sealing %+v: %v, want a refusal", sc, err)
		}
	}
	c := *cfg
	c.Sealing = SealingConfig{Kind: "key-release", KeyReleaseImage: "dev:" + strings.Repeat("ab", 32)}
	if _, err := NewSealer(ctx, &c, nil, tdxBundle); err == nil || !strings.Contains(err.Error(), "only by dev workers") {
		t.Errorf("tdx worker with a dev key-release service: %v", err)
	}
}

// A worker (dev evidence) seals its keys with a key-release service it
// recognises by the service's image, and gets them back on the next start
// while the service's policy allows its image.
func TestSealKeysWithKeyRelease(t *testing.T) {
	ctx := context.Background()
	workerImage := dev.Measurement(DevImage)
	al := &attest.StaticAllowList{Test: true, Allowed: map[string][][]byte{attest.TEEDev: {workerImage[:]}}}
	svcKey := ed25519.NewKeyFromSeed(make([]byte, 32))
	svcID, err := atls.NewIdentity(ctx, &attest.DevSource{Key: svcKey, Image: "key-release"}, nil, nil, time.Now(), 0)
	if err != nil {
		t.Fatal(err)
	}
	s := &keyseal.Server{Policy: attest.DefaultPolicy(al)}
	s.Master[0] = 5
	srv := httptest.NewUnstartedServer(s.Handler())
	srv.TLS = keyseal.TLSConfig(svcID)
	srv.StartTLS()
	defer srv.Close()
	svcImage := dev.Measurement("key-release")

	base := t.TempDir()
	// Root's allow-list (here a static one in test mode) judges the service.
	rootAllow := &attest.StaticAllowList{Test: true, Allowed: map[string][][]byte{attest.TEEDev: {svcImage[:], workerImage[:]}}}
	cfg := &Config{KeysDir: "keys", dir: base, Sealing: SealingConfig{Kind: "key-release", KeyReleaseURL: srv.URL,
		KeyReleaseImage: "dev:" + hex.EncodeToString(svcImage[:]), allow: rootAllow}}
	id, err := InitIdentity(ctx, cfg.Path(cfg.KeysDir), seal.SuiteX25519)
	if err != nil {
		t.Fatal(err)
	}
	src, err := SourceFor(cfg.Path(cfg.KeysDir), attest.TEEDev)
	if err != nil {
		t.Fatal(err)
	}
	sealer, err := NewSealer(ctx, cfg, src, id.Bundle)
	if err != nil {
		t.Fatal(err)
	}
	if err := SealKeys(ctx, cfg.Path(cfg.KeysDir), sealer); err != nil {
		t.Fatal(err)
	}
	got, err := OpenConfiguredIdentity(ctx, cfg, nil)
	if err != nil || !got.SignKey.Equal(id.SignKey) {
		t.Fatalf("reopen: %v", err)
	}
	// The service stops allowing this image: the keys stay shut.
	al.Allowed = map[string][][]byte{}
	if _, err := OpenConfiguredIdentity(ctx, cfg, nil); err == nil || !strings.Contains(err.Error(), "measurement_allowed") {
		t.Fatalf("image no longer allowed: %v", err)
	}
	// A service of another image is not asked at all.
	other := *cfg
	other.Sealing.KeyReleaseImage = "dev:" + hex.EncodeToString(workerImage[:])
	al.Allowed = map[string][][]byte{attest.TEEDev: {workerImage[:]}}
	if _, err := OpenConfiguredIdentity(ctx, &other, nil); err == nil {
		t.Fatal("a key service of another image was trusted")
	}
	// Root no longer allows the service's image: the host's config alone
	// cannot make it trusted (issue 22).
	rootAllow.Allowed = map[string][][]byte{attest.TEEDev: {workerImage[:]}}
	if _, err := OpenConfiguredIdentity(ctx, cfg, nil); err == nil || !strings.Contains(err.Error(), "measurement_allowed") {
		t.Fatalf("a key service Root does not allow: %v", err)
	}
	// A pin of the service's evidence chosen by the host is refused.
	pinned := *cfg
	pinned.Sealing.KeyReleaseService = strings.Repeat("ab", 32)
	if _, err := NewSealer(ctx, &pinned, src, id.Bundle); err == nil || !strings.Contains(err.Error(), "Root's allow-list") {
		t.Fatalf("a host-chosen pin: %v", err)
	}
}

// With a sealer at creation the keys never reach the disk in clear: only
// the sealed blob is written, the evidence states how they are held, and
// the identity opens again through the sealer (issue 22).
func TestInitIdentitySealed(t *testing.T) {
	ctx := context.Background()
	base := t.TempDir()
	cfg := &Config{KeysDir: "keys", dir: base, Sealing: SealingConfig{Kind: "dev"}}
	dir := cfg.Path(cfg.KeysDir)
	id, err := InitIdentityWith(ctx, dir, seal.SuiteX25519, InitOptions{Holding: HoldingOf("dev"),
		Sealer: func(b *attest.Bundle) (keyseal.Sealer, error) { return NewSealer(ctx, cfg, nil, b) }})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range keyFiles {
		if _, err := os.Stat(filepath.Join(dir, f)); !os.IsNotExist(err) {
			t.Errorf("%s is on disk (%v): the keys were written in clear", f, err)
		}
	}
	if id.Bundle.KeyHolding != attest.KeyHoldingDev {
		t.Errorf("evidence states key holding %q, want %q", id.Bundle.KeyHolding, attest.KeyHoldingDev)
	}
	got, err := OpenConfiguredIdentity(ctx, cfg, nil)
	if err != nil || !got.SignKey.Equal(id.SignKey) || !got.HPKE.Public().Equal(id.HPKE.Public()) {
		t.Fatalf("opening the sealed identity: %v", err)
	}
	if _, err := InitIdentityWith(ctx, dir, seal.SuiteX25519, InitOptions{}); err == nil {
		t.Error("a second identity over a sealed one")
	}
}
