// Package atls is attested mutual TLS: each side presents a self-signed
// certificate whose critical extension carries its attest.Bundle, and the
// bundle vouches (as key "tls") for the certificate's own public key. The
// TLS handshake proves possession of that key, the bundle proves which TEE
// image holds it, and the peer's policy decides.
package atls

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/cocoon-network/cocoon/offchain/attest"
	"github.com/cocoon-network/cocoon/offchain/attest/check"
)

// OIDEvidence identifies the certificate extension that carries the
// canonical encoding of an attest.Bundle: 2.25.1112282546.1. It lies under
// the registration-free UUID arc 2.25 (ITU-T X.667). A genuine UUID arc is
// a 128-bit number, which Go's X.509 parser refuses (it reads OID arcs up
// to 31 bits), so the arc is a random 31-bit number instead; real UUID
// arcs are never that small, so it cannot collide with them.
func OIDEvidence() asn1.ObjectIdentifier { return asn1.ObjectIdentifier{2, 25, 1112282546, 1} }

// Names of the checks this package adds to attest's.
const (
	CheckCertificate = "tls_certificate"
	CheckExtension   = "evidence_extension"
	CheckKeyBinding  = "tls_key_binding"
)

// DefaultValidity is how long NewIdentity's certificates are valid.
const DefaultValidity = 24 * time.Hour

// Identity is one side's certificate with the bundle inside it.
type Identity struct {
	Certificate tls.Certificate
	Bundle      *attest.Bundle
}

// NewIdentity makes a fresh ECDSA P-256 TLS key, asks src (and gpus, when
// not nil) for evidence vouching for keys plus the TLS key, and wraps the
// bundle into a self-signed certificate valid for validity (0: 24 h).
func NewIdentity(ctx context.Context, src attest.Source, gpus attest.GPUSource, keys []attest.Key, now time.Time, validity time.Duration) (*Identity, error) {
	if validity <= 0 {
		validity = DefaultValidity
	}
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("atls: generate TLS key: %w", err)
	}
	spki, err := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("atls: encode TLS key: %w", err)
	}
	all := append([]attest.Key{{Name: attest.KeyTLS, Public: spki}}, keys...)
	b, err := attest.NewBundle(ctx, src, gpus, all, nil, now)
	if err != nil {
		return nil, fmt.Errorf("atls: %w", err)
	}
	return IdentityFromBundle(priv, b, now, validity)
}

// IdentityFromBundle wraps an existing bundle, which must vouch for priv's
// public key as "tls", into a self-signed certificate.
func IdentityFromBundle(priv *ecdsa.PrivateKey, b *attest.Bundle, now time.Time, validity time.Duration) (*Identity, error) {
	raw, err := b.Encode()
	if err != nil {
		return nil, fmt.Errorf("atls: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("atls: serial: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "cocoon attested " + b.TEE},
		NotBefore:    now.Add(-time.Minute),
		NotAfter:     now.Add(validity),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		ExtraExtensions: []pkix.Extension{{
			Id: OIDEvidence(), Critical: true, Value: raw,
		}},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		return nil, fmt.Errorf("atls: create certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("atls: parse certificate: %w", err)
	}
	if err := keyBound(leaf, b); err != nil {
		return nil, fmt.Errorf("atls: %w", err)
	}
	return &Identity{Certificate: tls.Certificate{Certificate: [][]byte{der}, PrivateKey: priv, Leaf: leaf}, Bundle: b}, nil
}

// Verifier checks a peer's certificate.
type Verifier struct {
	// Attest verifies the bundle; nil means attest's zero Verifier.
	Attest *attest.Verifier
	Policy *attest.Policy
	// ExpectedKeys must be among the peer bundle's keys (e.g. the worker's
	// ed25519 key as its Worker contract records it).
	ExpectedKeys []attest.Key
	// Timeout bounds one verification: tls.Config.VerifyConnection gets no
	// context, and the allow-list may be on chain. 0 means 10 s.
	Timeout time.Duration
}

// VerifyCertificate checks that cert carries a bundle that passes the
// policy and vouches for cert's own key.
func (v *Verifier) VerifyCertificate(ctx context.Context, cert *x509.Certificate) (*attest.Result, error) {
	return v.VerifyCertificateWithCollateral(ctx, cert, nil)
}

// VerifyCertificateWithCollateral is VerifyCertificate with the TCB
// collateral the peer supplied beside its certificate (nil: none), for
// verifiers whose policy requires a known TCB status.
func (v *Verifier) VerifyCertificateWithCollateral(ctx context.Context, cert *x509.Certificate, coll *attest.Collateral) (*attest.Result, error) {
	log := &check.Log{}
	fail := func(err *check.Error) (*attest.Result, error) {
		return &attest.Result{Checks: log.Results}, err
	}
	var raw []byte
	for _, e := range cert.Extensions {
		if e.Id.Equal(OIDEvidence()) {
			raw = e.Value
		}
	}
	for _, oid := range cert.UnhandledCriticalExtensions {
		if !oid.Equal(OIDEvidence()) {
			return fail(log.Failf(CheckCertificate, "certificate has an unknown critical extension %s", oid))
		}
	}
	if raw == nil {
		return fail(log.Failf(CheckExtension, "certificate carries no evidence extension %s", OIDEvidence()))
	}
	b, err := attest.Decode(raw)
	if err != nil {
		return fail(log.Fail(CheckExtension, err))
	}
	log.Pass(CheckExtension, b.TEE)
	if err := keyBound(cert, b); err != nil {
		return fail(log.Fail(CheckKeyBinding, err))
	}
	log.Pass(CheckKeyBinding, "")

	av := v.Attest
	if av == nil {
		av = &attest.Verifier{}
	}
	res, err := av.VerifyWithCollateral(ctx, b, coll, v.ExpectedKeys, nil, v.Policy)
	res.Checks = append(log.Results, res.Checks...)
	return res, err
}

// keyBound checks that the bundle's "tls" key is the certificate's key.
func keyBound(cert *x509.Certificate, b *attest.Bundle) error {
	for _, k := range b.Keys {
		if k.Name == attest.KeyTLS {
			if string(k.Public) != string(cert.RawSubjectPublicKeyInfo) {
				return errors.New("the certificate's key is not the key the evidence vouches for as \"tls\"")
			}
			return nil
		}
	}
	return errors.New("the evidence vouches for no \"tls\" key")
}

// verifyConnection is tls.Config.VerifyConnection. It runs on full and
// resumed handshakes alike, unlike VerifyPeerCertificate.
func (v *Verifier) verifyConnection(cs tls.ConnectionState) error {
	if len(cs.PeerCertificates) == 0 {
		return &check.Error{Check: CheckCertificate, Err: errors.New("the peer sent no certificate")}
	}
	t := v.Timeout
	if t <= 0 {
		t = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), t)
	defer cancel()
	_, err := v.VerifyCertificate(ctx, cs.PeerCertificates[0])
	return err
}

// ServerConfig serves id and requires, then verifies, an attested client
// certificate. Certificate chains are not used: InsecureSkipVerify only
// turns off WebPKI chain building, while verifyConnection does the checking
// and the handshake itself still proves the peer holds the certificate's key.
func ServerConfig(id *Identity, v *Verifier) *tls.Config {
	return &tls.Config{
		MinVersion:       tls.VersionTLS13,
		Certificates:     []tls.Certificate{id.Certificate},
		ClientAuth:       tls.RequireAnyClientCert,
		VerifyConnection: v.verifyConnection,
	}
}

// ClientConfig presents id and verifies the server's attested certificate.
func ClientConfig(id *Identity, v *Verifier) *tls.Config {
	return &tls.Config{
		MinVersion:         tls.VersionTLS13,
		Certificates:       []tls.Certificate{id.Certificate},
		InsecureSkipVerify: true, // WebPKI does not apply; verifyConnection checks the evidence
		VerifyConnection:   v.verifyConnection,
	}
}

// PeerBundle returns the bundle in a verified connection's peer certificate.
func PeerBundle(cs tls.ConnectionState) (*attest.Bundle, error) {
	if len(cs.PeerCertificates) == 0 {
		return nil, errors.New("atls: no peer certificate")
	}
	for _, e := range cs.PeerCertificates[0].Extensions {
		if e.Id.Equal(OIDEvidence()) {
			return attest.Decode(e.Value)
		}
	}
	return nil, errors.New("atls: peer certificate carries no evidence")
}

// ServerOnlyConfig serves id to clients that present no certificate: apps
// reaching a worker are not in a TEE, so only the server side is attested.
// The client checks the server with VerifyServerConfig.
func ServerOnlyConfig(id *Identity) *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{id.Certificate},
		ClientAuth:   tls.NoClientCert,
	}
}

// VerifyServerConfig is the client side of ServerOnlyConfig: no client
// certificate, and the server's attested certificate verified by v.
func VerifyServerConfig(v *Verifier) *tls.Config {
	return &tls.Config{
		MinVersion:         tls.VersionTLS13,
		InsecureSkipVerify: true, // WebPKI does not apply; verifyConnection checks the evidence
		VerifyConnection:   v.verifyConnection,
	}
}

// PinnedConfig is the client side of ServerOnlyConfig for a peer whose
// evidence the client has already verified by other means (a worker's
// bundle, checked against Root and registered on chain by its sha256): the
// server's certificate must carry exactly that bundle, vouching for the
// certificate's key. The handshake then proves the server holds the key the
// attested enclave vouched for.
func PinnedConfig(bundleHash [32]byte) *tls.Config {
	return &tls.Config{
		MinVersion:         tls.VersionTLS13,
		InsecureSkipVerify: true, // WebPKI does not apply; VerifyConnection pins the evidence
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return &check.Error{Check: CheckCertificate, Err: errors.New("the peer sent no certificate")}
			}
			b, err := PeerBundle(cs)
			if err != nil {
				return &check.Error{Check: CheckExtension, Err: err}
			}
			if err := keyBound(cs.PeerCertificates[0], b); err != nil {
				return &check.Error{Check: CheckKeyBinding, Err: err}
			}
			h, err := b.BundleHash()
			if err != nil {
				return &check.Error{Check: CheckExtension, Err: err}
			}
			if h != bundleHash {
				return &check.Error{Check: CheckExtension, Err: fmt.Errorf("the certificate carries evidence %x, want %x", h, bundleHash)}
			}
			return nil
		},
	}
}
