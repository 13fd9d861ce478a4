package worker

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/cocoon-network/cocoon/offchain/attest"
	"github.com/cocoon-network/cocoon/offchain/attest/atls"
	"github.com/cocoon-network/cocoon/offchain/attest/keyseal"
	"github.com/cocoon-network/cocoon/offchain/internal/atomicfile"
	"github.com/cocoon-network/cocoon/offchain/internal/keyfile"
	"github.com/cocoon-network/cocoon/offchain/seal"
)

// Files under a worker's keys dir.
const (
	signKeyFile  = "worker.key"     // Ed25519: signs receipts (0600)
	hpkeKeyFile  = "hpke.key"       // HPKE: opens requests (0600)
	tlsKeyFile   = "tls.key"        // ECDSA P-256: the attested TLS certificate (0600)
	devKeyFile   = "dev-attest.key" // dev attestation signer (0600), dev only
	evidenceFile = "evidence.bin"   // the evidence bundle served at /evidence
)

// DevImage is the image name the dev attestation of `cocoon worker init`
// states; its measurement is sha256 of it (attest/dev.Measurement).
const DevImage = "cocoon-worker-dev"

// Identity is the worker's keys and the evidence that vouches for them.
type Identity struct {
	SignKey  ed25519.PrivateKey
	HPKE     *seal.PrivateKey
	TLSKey   *ecdsa.PrivateKey // its public key is the bundle's "tls" key
	Evidence []byte            // encoded bundle
	Bundle   *attest.Bundle
}

// EvidenceHash is what the Worker contract stores as its attestation hash.
func (id *Identity) EvidenceHash() [32]byte { return sha256.Sum256(id.Evidence) }

// Measurement returns the bundle's image hash as Root's allow-list stores
// it (attest.Measurement).
func (id *Identity) Measurement() ([32]byte, error) {
	return attest.Measurement(id.Bundle.TEE, id.Bundle.Evidence)
}

// Reattest replaces the evidence in dir with fresh evidence from src for
// the same keys (evidence ages out of clients' policies), with every GPU's
// evidence from gpus (nil: none) and the model weights the worker checked
// (VerifyWeights) bound to the same report data; the new hash must then
// reach the Worker contract (cocoon worker update).
//
// holding is how the keys are held at rest (KeyHolding), which the
// evidence states so that clients can require sealed keys.
func Reattest(ctx context.Context, dir string, src attest.Source, gpus attest.GPUSource, holding string, weights []attest.ModelWeights) (*Identity, error) {
	id, err := LoadIdentity(dir)
	if err != nil {
		// Sealed keys need not be opened: the public keys are in the
		// current evidence, which was checked against them when sealed.
		if _, serr := os.Stat(filepath.Join(dir, sealedKeysFile)); serr != nil {
			return nil, err
		}
		raw, rerr := os.ReadFile(filepath.Join(dir, evidenceFile))
		if rerr != nil {
			return nil, fmt.Errorf("reading evidence: %w", rerr)
		}
		b, derr := attest.Decode(raw)
		if derr != nil {
			return nil, fmt.Errorf("evidence %s: %w", filepath.Join(dir, evidenceFile), derr)
		}
		id = &Identity{Evidence: raw, Bundle: b}
	}
	nonce := make([]byte, 32)
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	b, err := attest.NewBundleHolding(ctx, src, gpus, id.Bundle.Keys, nonce, time.Now(), holding, weights...)
	if err != nil {
		return nil, err
	}
	raw, err := b.Encode()
	if err != nil {
		return nil, err
	}
	if err := atomicfile.Replace(filepath.Join(dir, evidenceFile), raw, 0o644); err != nil {
		return nil, fmt.Errorf("writing evidence: %w", err)
	}
	id.Evidence, id.Bundle = raw, b
	return id, nil
}

// DevSourceFor is the dev attestation source of the worker keys dir.
func DevSourceFor(dir string) (*attest.DevSource, error) {
	k, err := keyfile.Load(filepath.Join(dir, devKeyFile), "dev attestation key")
	if err != nil {
		return nil, err
	}
	return &attest.DevSource{Key: k, Image: DevImage}, nil
}

// InitIdentity creates new keys in dir and evidence for them. Only `dev`
// attestation can be produced outside a TEE; on TDX or SEV-SNP hardware use
// `cocoon attest generate` inside the enclave with the keys written here.
func InitIdentity(ctx context.Context, dir string, suite seal.Suite) (*Identity, error) {
	return InitIdentityWith(ctx, dir, suite, InitOptions{})
}

// InitOptions are InitIdentityWith's choices beyond the suite.
type InitOptions struct {
	// Source attests the new keys; nil: dev evidence (DevImage).
	Source attest.Source
	// Sealer, when set, seals the keys at creation: they are written only
	// sealed, never in clear. It gets the new evidence (a key-release
	// sealer's request needs it); Holding is what the evidence states.
	Sealer  func(*attest.Bundle) (keyseal.Sealer, error)
	Holding string
}

// InitIdentityWith is InitIdentity with another attestation source and,
// optionally, sealing at creation.
func InitIdentityWith(ctx context.Context, dir string, suite seal.Suite, o InitOptions) (*Identity, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating keys dir: %w", err)
	}
	for _, f := range []string{signKeyFile, hpkeKeyFile, tlsKeyFile, evidenceFile, sealedKeysFile} {
		if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
			return nil, fmt.Errorf("%s already exists: refusing to replace a worker's keys", filepath.Join(dir, f))
		}
	}
	_, sign, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	hpke, err := seal.GenerateKey(suite)
	if err != nil {
		return nil, err
	}
	tlsKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tlsPub, err := x509.MarshalPKIXPublicKey(&tlsKey.PublicKey)
	if err != nil {
		return nil, err
	}
	files := map[string][]byte{}
	if files[signKeyFile], err = keyfile.Encode("worker signing key", sign); err != nil {
		return nil, err
	}
	if files[hpkeKeyFile], err = seal.EncodeKey(hpke); err != nil {
		return nil, err
	}
	if files[tlsKeyFile], err = keyfile.Encode("worker TLS key", tlsKey); err != nil {
		return nil, err
	}
	src := o.Source
	if src == nil {
		devKey, _, err := keyfile.LoadOrCreate(filepath.Join(dir, devKeyFile), "dev attestation key")
		if err != nil {
			return nil, err
		}
		src = &attest.DevSource{Key: devKey, Image: DevImage}
	}
	nonce := make([]byte, 32)
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	keys := []attest.Key{
		{Name: attest.KeyEd25519, Public: sign.Public().(ed25519.PublicKey)},
		{Name: attest.KeyHPKE, Public: hpke.Public().Marshal()},
		{Name: attest.KeyTLS, Public: tlsPub},
	}
	holding := o.Holding
	if o.Sealer == nil && o.Source != nil {
		holding = attest.KeyHoldingPlain
	}
	b, err := attest.NewBundleHolding(ctx, src, nil, keys, nonce, time.Now(), holding)
	if err != nil {
		return nil, err
	}
	raw, err := b.Encode()
	if err != nil {
		return nil, err
	}
	if o.Sealer != nil {
		s, err := o.Sealer(b)
		if err != nil {
			return nil, err
		}
		if err := sealFiles(ctx, dir, s, files); err != nil {
			return nil, err
		}
	} else {
		for _, f := range keyFiles {
			if err := atomicfile.Create(filepath.Join(dir, f), files[f], 0o600); err != nil {
				return nil, fmt.Errorf("writing %s: %w", f, err)
			}
		}
	}
	if err := atomicfile.Create(filepath.Join(dir, evidenceFile), raw, 0o644); err != nil {
		return nil, fmt.Errorf("writing evidence: %w", err)
	}
	return &Identity{SignKey: sign, HPKE: hpke, TLSKey: tlsKey, Evidence: raw, Bundle: b}, nil
}

// LoadIdentity reads the plain keys and evidence from dir and checks that
// the evidence vouches for exactly these keys (OpenIdentity also reads
// sealed keys).
func LoadIdentity(dir string) (*Identity, error) {
	if _, err := os.Stat(filepath.Join(dir, sealedKeysFile)); err == nil {
		return nil, fmt.Errorf("the keys in %s are sealed: configure [sealing] with the sealer that sealed them", dir)
	}
	sign, err := keyfile.Load(filepath.Join(dir, signKeyFile), "worker signing key")
	if err != nil {
		return nil, err
	}
	hpke, err := seal.LoadKey(filepath.Join(dir, hpkeKeyFile))
	if err != nil {
		return nil, err
	}
	k, err := keyfile.LoadAny(filepath.Join(dir, tlsKeyFile), "worker TLS key")
	if err != nil {
		return nil, err
	}
	tlsKey, ok := k.(*ecdsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("worker TLS key: a %T, not an ECDSA key", k)
	}
	return identityWithEvidence(dir, sign, hpke, tlsKey)
}

// identityWithEvidence reads dir's evidence for the keys, checking that it
// vouches for them.
func identityWithEvidence(dir string, sign ed25519.PrivateKey, hpke *seal.PrivateKey, tlsKey *ecdsa.PrivateKey) (*Identity, error) {
	raw, err := os.ReadFile(filepath.Join(dir, evidenceFile))
	if err != nil {
		return nil, fmt.Errorf("reading evidence: %w", err)
	}
	b, err := attest.Decode(raw)
	if err != nil {
		return nil, fmt.Errorf("evidence %s: %w", filepath.Join(dir, evidenceFile), err)
	}
	id := &Identity{SignKey: sign, HPKE: hpke, TLSKey: tlsKey, Evidence: raw, Bundle: b}
	if err := id.checkBinding(); err != nil {
		return nil, err
	}
	return id, nil
}

// checkBinding refuses evidence made for other keys: serving it would make
// every careful client refuse this worker.
func (id *Identity) checkBinding() error {
	tlsPub, err := x509.MarshalPKIXPublicKey(&id.TLSKey.PublicKey)
	if err != nil {
		return err
	}
	want := map[string][]byte{
		attest.KeyEd25519: id.SignKey.Public().(ed25519.PublicKey),
		attest.KeyHPKE:    id.HPKE.Public().Marshal(),
		attest.KeyTLS:     tlsPub,
	}
	for name, pub := range want {
		found := false
		for _, k := range id.Bundle.Keys {
			if k.Name == name {
				found = string(k.Public) == string(pub)
			}
		}
		if !found {
			return fmt.Errorf("the evidence does not vouch for this worker's %s key: regenerate it for these keys", name)
		}
	}
	return nil
}

// TLSIdentity is the attested TLS certificate for the worker's HTTPS
// endpoint: self-signed, carrying the same evidence bundle whose hash is on
// chain, which vouches for the certificate's key.
func (id *Identity) TLSIdentity(now time.Time) (*atls.Identity, error) {
	return atls.IdentityFromBundle(id.TLSKey, id.Bundle, now, 365*24*time.Hour)
}
