package tdx

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/google/go-tdx-guest/pcs"
)

// Collateral directory layout (docs/ATTESTATION.md, "Collateral directory").
// Each file is what Intel PCS v4 serves, saved as is; the issuer chains are
// the URL-decoded values of PCS's *-Issuer-Chain response headers.
const (
	FileTCBInfo            = "tcb_info.json" // or tcb_info_<fmspc>.json, preferred when present
	FileTCBInfoChain       = "tcb_info_issuer_chain.pem"
	FileQEIdentity         = "qe_identity.json"
	FileQEIdentityChain    = "qe_identity_issuer_chain.pem"
	FilePCKCRL             = "pck_crl.der" // optional, DER or PEM
	FilePCKCRLChain        = "pck_crl_issuer_chain.pem"
	FileRootCACRL          = "root_ca_crl.der" // optional, DER or PEM
	tcbSigningCommonName   = "Intel SGX TCB Signing"
	expectedTCBInfoID      = "TDX"
	expectedTCBInfoVersion = 3
	expectedQEIdentityID   = "TD_QE"
	expectedQEIdVersion    = 2
)

// CollateralFiles holds the raw collateral as Intel PCS serves it.
// Its JSON form (field names as the file names of the collateral
// directory, byte strings in base64) is how a worker serves it beside its
// evidence (attest.Collateral).
type CollateralFiles struct {
	TCBInfo         []byte `json:"tcb_info"`
	TCBInfoChain    []byte `json:"tcb_info_issuer_chain"`
	QEIdentity      []byte `json:"qe_identity"`
	QEIdentityChain []byte `json:"qe_identity_issuer_chain"`
	PCKCRL          []byte `json:"pck_crl,omitempty"`              // optional
	PCKCRLChain     []byte `json:"pck_crl_issuer_chain,omitempty"` // with PCKCRL
	RootCACRL       []byte `json:"root_ca_crl,omitempty"`          // optional
}

// Collateral is TCB info, QE identity and optional CRLs whose signatures
// have been checked against the trust anchors. What depends on the time of
// verification (issue dates, next updates, certificate validity) is checked
// per quote by Verifier.
type Collateral struct {
	TCBInfo        pcs.TcbInfo
	TCBInfoSigner  *x509.Certificate
	QEIdentity     pcs.EnclaveIdentity
	QEIdentitySign *x509.Certificate
	// Root is the trust anchor the signers chain to.
	Root *x509.Certificate

	RootCACRL *x509.RevocationList // nil when not supplied
	PCKCRL    *x509.RevocationList // nil when not supplied
	// PCKCRLIssuer is the CA that signed PCKCRL, already chained to Root.
	PCKCRLIssuer *x509.Certificate
}

// CollateralSource hands out verified collateral for a platform's FMSPC.
type CollateralSource interface {
	Collateral(ctx context.Context, fmspc string) (*Collateral, error)
}

// ErrNoCollateral means the source has nothing for that platform.
var ErrNoCollateral = errors.New("no collateral")

// DirSource reads collateral from a directory once per FMSPC, verifies it,
// and keeps the result in memory: collateral changes at most daily while
// quotes arrive per connection.
type DirSource struct {
	dir   string
	roots []*x509.Certificate

	mu    sync.Mutex
	cache map[string]*Collateral
}

// NewDirSource serves collateral from dir, trusting roots (nil: Intel's).
func NewDirSource(dir string, roots []*x509.Certificate) *DirSource {
	if roots == nil {
		roots = IntelRoots()
	}
	return &DirSource{dir: dir, roots: roots, cache: map[string]*Collateral{}}
}

// Collateral implements CollateralSource.
func (s *DirSource) Collateral(ctx context.Context, fmspc string) (*Collateral, error) {
	fmspc = strings.ToLower(fmspc)
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.cache[fmspc]; ok {
		return c, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	files, err := ReadCollateralDir(s.dir, fmspc)
	if err != nil {
		return nil, err
	}
	c, err := ParseCollateral(files, s.roots)
	if err != nil {
		return nil, fmt.Errorf("collateral in %s: %w", s.dir, err)
	}
	s.cache[fmspc] = c
	return c, nil
}

// ReadCollateralDir loads the files of the collateral directory layout.
// A per-platform tcb_info_<fmspc>.json wins over tcb_info.json.
func ReadCollateralDir(dir, fmspc string) (*CollateralFiles, error) {
	read := func(name string, optional bool) ([]byte, error) {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			if optional && errors.Is(err, os.ErrNotExist) {
				return nil, nil
			}
			if errors.Is(err, os.ErrNotExist) {
				return nil, fmt.Errorf("%w: %s is missing from %s", ErrNoCollateral, name, dir)
			}
			return nil, fmt.Errorf("read collateral: %w", err)
		}
		return b, nil
	}
	var f CollateralFiles
	var err error
	if fmspc != "" {
		if f.TCBInfo, err = read("tcb_info_"+fmspc+".json", true); err != nil {
			return nil, err
		}
	}
	if f.TCBInfo == nil {
		if f.TCBInfo, err = read(FileTCBInfo, false); err != nil {
			return nil, err
		}
	}
	for _, x := range []struct {
		name     string
		dst      *[]byte
		optional bool
	}{
		{FileTCBInfoChain, &f.TCBInfoChain, false},
		{FileQEIdentity, &f.QEIdentity, false},
		{FileQEIdentityChain, &f.QEIdentityChain, false},
		{FilePCKCRL, &f.PCKCRL, true},
		{FilePCKCRLChain, &f.PCKCRLChain, true},
		{FileRootCACRL, &f.RootCACRL, true},
	} {
		if *x.dst, err = read(x.name, x.optional); err != nil {
			return nil, err
		}
	}
	return &f, nil
}

// ParseCollateral parses the files and checks every signature in them
// against roots: TCB info and QE identity by Intel's TCB signing key, the
// root CA CRL by the root, the PCK CRL by its issuing CA.
func ParseCollateral(f *CollateralFiles, roots []*x509.Certificate) (*Collateral, error) {
	if roots == nil {
		roots = IntelRoots()
	}
	c := &Collateral{}
	var err error
	var tcbRaw, qeRaw json.RawMessage
	if c.TCBInfoSigner, c.Root, tcbRaw, err = signedBody(f.TCBInfo, f.TCBInfoChain, "tcbInfo", roots); err != nil {
		return nil, fmt.Errorf("tcb info: %w", err)
	}
	if err := json.Unmarshal(tcbRaw, &c.TCBInfo); err != nil {
		return nil, fmt.Errorf("tcb info: %w", err)
	}
	if c.TCBInfo.ID != expectedTCBInfoID || c.TCBInfo.Version != expectedTCBInfoVersion {
		return nil, fmt.Errorf("tcb info is %q version %d (want %q version %d)", c.TCBInfo.ID, c.TCBInfo.Version, expectedTCBInfoID, expectedTCBInfoVersion)
	}
	if len(c.TCBInfo.TcbLevels) == 0 {
		return nil, errors.New("tcb info has no TCB levels")
	}
	if c.QEIdentitySign, _, qeRaw, err = signedBody(f.QEIdentity, f.QEIdentityChain, "enclaveIdentity", roots); err != nil {
		return nil, fmt.Errorf("qe identity: %w", err)
	}
	if err := json.Unmarshal(qeRaw, &c.QEIdentity); err != nil {
		return nil, fmt.Errorf("qe identity: %w", err)
	}
	if c.QEIdentity.ID != expectedQEIdentityID || c.QEIdentity.Version != expectedQEIdVersion {
		return nil, fmt.Errorf("qe identity is %q version %d (want %q version %d)", c.QEIdentity.ID, c.QEIdentity.Version, expectedQEIdentityID, expectedQEIdVersion)
	}
	if len(c.QEIdentity.TcbLevels) == 0 {
		return nil, errors.New("qe identity has no TCB levels")
	}
	if f.RootCACRL != nil {
		crl, err := parseCRL(f.RootCACRL)
		if err != nil {
			return nil, fmt.Errorf("root CA CRL: %w", err)
		}
		if err := crl.CheckSignatureFrom(c.Root); err != nil {
			return nil, fmt.Errorf("root CA CRL is not signed by the root: %w", err)
		}
		c.RootCACRL = crl
	}
	if f.PCKCRL != nil {
		crl, err := parseCRL(f.PCKCRL)
		if err != nil {
			return nil, fmt.Errorf("PCK CRL: %w", err)
		}
		chain, err := parsePEMChain(f.PCKCRLChain)
		if err != nil {
			return nil, fmt.Errorf("PCK CRL issuer chain: %w", err)
		}
		if _, err := chainTo(chain[0], chain[1:], roots); err != nil {
			return nil, fmt.Errorf("PCK CRL issuer: %w", err)
		}
		if err := crl.CheckSignatureFrom(chain[0]); err != nil {
			return nil, fmt.Errorf("PCK CRL is not signed by its issuer chain: %w", err)
		}
		c.PCKCRL, c.PCKCRLIssuer = crl, chain[0]
	}
	return c, nil
}

func parseCRL(b []byte) (*x509.RevocationList, error) {
	if blk, _ := pem.Decode(b); blk != nil {
		b = blk.Bytes
	}
	return x509.ParseRevocationList(b)
}

// signedBody checks a PCS JSON response {"<field>": {...}, "signature": hex}:
// the issuer chain's leaf must be Intel's TCB signing certificate, chain to
// a root, and sign the exact bytes of the field's value.
func signedBody(body, chainPEM []byte, field string, roots []*x509.Certificate) (signer, root *x509.Certificate, raw json.RawMessage, err error) {
	var env map[string]json.RawMessage
	if err := json.Unmarshal(body, &env); err != nil {
		return nil, nil, nil, fmt.Errorf("parse: %w", err)
	}
	raw, ok := env[field]
	if !ok {
		return nil, nil, nil, fmt.Errorf("no %q in the response", field)
	}
	var sigHex string
	if err := json.Unmarshal(env["signature"], &sigHex); err != nil {
		return nil, nil, nil, fmt.Errorf("signature: %w", err)
	}
	sig, err := hex.DecodeString(sigHex)
	if err != nil || len(sig) != ecdsaSigSize {
		return nil, nil, nil, errors.New("signature is not 64 hex-encoded bytes")
	}
	chain, err := parsePEMChain(chainPEM)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("issuer chain: %w", err)
	}
	signer = chain[0]
	if signer.Subject.CommonName != tcbSigningCommonName {
		return nil, nil, nil, fmt.Errorf("signed by %q, not %q", signer.Subject.CommonName, tcbSigningCommonName)
	}
	if root, err = chainTo(signer, chain[1:], roots); err != nil {
		return nil, nil, nil, fmt.Errorf("issuer chain: %w", err)
	}
	pub, ok := signer.PublicKey.(*ecdsa.PublicKey)
	if !ok {
		return nil, nil, nil, errors.New("signing key is not ECDSA")
	}
	digest := sha256.Sum256(raw)
	if !ecdsa.Verify(pub, digest[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])) {
		return nil, nil, nil, errors.New("signature does not verify")
	}
	return signer, root, raw, nil
}

// chainTo verifies that cert chains through intermediates to one of roots
// and returns that root. Validity periods are not checked here (the
// collateral is cached and the time of use is not known yet): x509 runs at
// the latest NotBefore in the chain, and callers check validity when they use the result.
func chainTo(cert *x509.Certificate, intermediates, roots []*x509.Certificate) (*x509.Certificate, error) {
	at := cert.NotBefore
	for _, c := range intermediates {
		if c.NotBefore.After(at) {
			at = c.NotBefore
		}
	}
	opts := x509.VerifyOptions{
		Roots:         x509.NewCertPool(),
		Intermediates: x509.NewCertPool(),
		CurrentTime:   at.Add(time.Second),
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	}
	for _, r := range roots {
		opts.Roots.AddCert(r)
	}
	for _, c := range intermediates {
		opts.Intermediates.AddCert(c)
	}
	chains, err := cert.Verify(opts)
	if err != nil {
		return nil, err
	}
	return chains[0][len(chains[0])-1], nil
}

// validAt says why c is not valid at now, or nil.
func validAt(c *x509.Certificate, now time.Time, what string) error {
	if now.Before(c.NotBefore) || now.After(c.NotAfter) {
		return fmt.Errorf("%s %q is valid %s..%s, not at %s", what, c.Subject.CommonName,
			c.NotBefore.UTC().Format(time.RFC3339), c.NotAfter.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	return nil
}

// sameKey reports whether two certificates carry the same public key.
func sameKey(a, b *x509.Certificate) bool {
	return bytes.Equal(a.RawSubjectPublicKeyInfo, b.RawSubjectPublicKeyInfo)
}
