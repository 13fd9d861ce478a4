package tdx

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/google/go-tdx-guest/pcs"

	"github.com/cocoon-network/cocoon/offchain/attest/check"
)

// Names of the checks Verify runs, in order.
const (
	CheckHeader            = "tdx_header"
	CheckPCKChain          = "pck_chain"
	CheckPCKRevocation     = "pck_revocation"
	CheckQuoteSignature    = "quote_signature"
	CheckQEReportSignature = "qe_report_signature"
	CheckQEReportBinding   = "qe_report_binding"
	CheckCollateral        = "collateral"
	CheckTDXModule         = "tdx_module"
	CheckQEIdentity        = "qe_identity"
	CheckTCBLevel          = "tcb_level"
)

// Verifier checks quotes offline. The zero value trusts Intel's SGX Root
// CA and evaluates no TCB status.
type Verifier struct {
	// Roots are the trust anchors of PCK chains; nil means Intel's.
	Roots []*x509.Certificate
	// Collateral supplies TCB info, QE identity and CRLs; nil leaves the
	// TCB status unknown.
	Collateral CollateralSource
}

// Result is what a verified quote established.
type Result struct {
	Quote *Quote
	PCK   *x509.Certificate
	FMSPC string
	TCB   TCB
}

// Verify runs every check on q at time now, logging each, and returns the
// first failure as a *check.Error.
func (v *Verifier) Verify(ctx context.Context, q *Quote, now time.Time, log *check.Log) (*Result, error) {
	res := &Result{Quote: q, TCB: TCB{Status: StatusUnknown}}
	roots := v.Roots
	if roots == nil {
		roots = IntelRoots()
	}

	if q.AttestationKeyType != attKeyECDSAP256 {
		return nil, log.Failf(CheckHeader, "attestation key type %d is not ECDSA P-256 (%d)", q.AttestationKeyType, attKeyECDSAP256)
	}
	if q.QEVendorID != intelQEVendorID {
		return nil, log.Failf(CheckHeader, "QE vendor id %x is not Intel's", q.QEVendorID)
	}
	log.Pass(CheckHeader, fmt.Sprintf("quote v%d, TD report type %d", q.Version, q.BodyType))

	chain, err := verifyPCKChain(q, roots, now)
	if err != nil {
		return nil, log.Fail(CheckPCKChain, err)
	}
	res.PCK = chain[0]
	ext, err := pcs.PckCertificateExtensions(chain[0])
	if err != nil {
		return nil, log.Fail(CheckPCKChain, fmt.Errorf("PCK certificate SGX extensions: %w", err))
	}
	res.FMSPC = ext.FMSPC
	log.Pass(CheckPCKChain, fmt.Sprintf("PCK %q → %q → %q, FMSPC %s", chain[0].Subject.CommonName, chain[1].Subject.CommonName, chain[2].Subject.CommonName, ext.FMSPC))

	var coll *Collateral
	if v.Collateral != nil {
		coll, err = v.Collateral.Collateral(ctx, ext.FMSPC)
		if err != nil {
			return nil, log.Fail(CheckCollateral, err)
		}
	}

	// Revocation fails closed: collateral that judges the TCB must come
	// with both CRLs, or a revoked PCK would pass as UpToDate whenever its
	// holder left them out. Without collateral the status stays unknown
	// (and the policy decides: attest.Policy.RequireTCBStatus).
	switch {
	case coll == nil:
		log.Skip(CheckPCKRevocation, "no collateral: revocation unknown")
	case coll.RootCACRL == nil || coll.PCKCRL == nil:
		var missing []string
		if coll.RootCACRL == nil {
			missing = append(missing, "the root CA CRL")
		}
		if coll.PCKCRL == nil {
			missing = append(missing, "the PCK CRL")
		}
		return nil, log.Failf(CheckPCKRevocation, "the collateral lacks %s: the PCK certificate chain's revocation cannot be checked", strings.Join(missing, " and "))
	default:
		if err := checkRevocation(coll, chain, now); err != nil {
			return nil, log.Fail(CheckPCKRevocation, err)
		}
		log.Pass(CheckPCKRevocation, "not revoked per the root CA CRL and the PCK CRL")
	}

	if err := verifyQuoteSignature(q); err != nil {
		return nil, log.Fail(CheckQuoteSignature, err)
	}
	log.Pass(CheckQuoteSignature, "")

	if err := chain[0].CheckSignature(x509.ECDSAWithSHA256, q.QEReportRaw, rsToDER(q.QEReportSig[:])); err != nil {
		return nil, log.Fail(CheckQEReportSignature, fmt.Errorf("QE report is not signed by the PCK key: %w", err))
	}
	log.Pass(CheckQEReportSignature, "")

	// The QE vouches for the attestation key by putting
	// sha256(attestation key ‖ QE auth data) in its report data.
	h := sha256.New()
	h.Write(q.AttestationKey[:])
	h.Write(q.QEAuthData)
	var want [64]byte
	h.Sum(want[:0])
	if want != q.QEReport.ReportData {
		return nil, log.Failf(CheckQEReportBinding, "QE report data does not hash the attestation key")
	}
	log.Pass(CheckQEReportBinding, "")

	if coll == nil {
		for _, name := range []string{CheckCollateral, CheckTDXModule, CheckQEIdentity, CheckTCBLevel} {
			log.Skip(name, "no collateral: TCB status unknown")
		}
		return res, nil
	}
	if err := collateralCurrent(coll, ext, now); err != nil {
		return nil, log.Fail(CheckCollateral, err)
	}
	log.Pass(CheckCollateral, fmt.Sprintf("TCB evaluation data number %d, next update %s", coll.TCBInfo.TcbEvaluationDataNumber, coll.TCBInfo.NextUpdate.UTC().Format(time.RFC3339)))

	module, err := matchTDXModule(&q.Body, &coll.TCBInfo)
	if err != nil {
		return nil, log.Fail(CheckTDXModule, err)
	}
	log.Pass(CheckTDXModule, module)

	qe, err := matchQEIdentity(&q.QEReport, &coll.QEIdentity)
	if err != nil {
		return nil, log.Fail(CheckQEIdentity, err)
	}
	log.Pass(CheckQEIdentity, qe)

	res.TCB = TCB{Module: module, QE: qe, EvaluationDataNumber: coll.TCBInfo.TcbEvaluationDataNumber}
	detail := ""
	if lvl := matchTCBLevel(&q.Body, ext, &coll.TCBInfo); lvl != nil {
		res.TCB.Platform, res.TCB.TCBDate, res.TCB.AdvisoryIDs = string(lvl.TcbStatus), lvl.TcbDate, lvl.AdvisoryIDs
	} else {
		// Not a failure of this check: whether such a platform is acceptable
		// is the policy's decision, like every other status.
		res.TCB.Platform = StatusNotSupported
		detail = fmt.Sprintf("no TCB level is reached by PCESVN %d, CPUSVN %x, TEE TCB SVN %x; ",
			ext.TCB.PCESvn, ext.TCB.CPUSvnComponents, q.Body.TEETCBSVN)
	}
	res.TCB.Status = worst(res.TCB.Platform, module, qe)
	log.Pass(CheckTCBLevel, detail+"status "+res.TCB.Status)
	return res, nil
}

// verifyPCKChain parses the quote's PCK chain and verifies it to roots at
// now; it returns leaf, intermediate, root (the root as carried).
func verifyPCKChain(q *Quote, roots []*x509.Certificate, now time.Time) ([]*x509.Certificate, error) {
	ders, err := pckChainDER(q.PCKChainPEM)
	if err != nil {
		return nil, err
	}
	chain := make([]*x509.Certificate, len(ders))
	for i, der := range ders {
		if chain[i], err = x509.ParseCertificate(der); err != nil {
			return nil, fmt.Errorf("PCK chain certificate %d: %w", i, err)
		}
	}
	opts := x509.VerifyOptions{
		Roots:         x509.NewCertPool(),
		Intermediates: x509.NewCertPool(),
		CurrentTime:   now,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	}
	for _, r := range roots {
		opts.Roots.AddCert(r)
	}
	opts.Intermediates.AddCert(chain[1])
	if _, err := chain[0].Verify(opts); err != nil {
		return nil, fmt.Errorf("PCK certificate does not chain to a trusted root: %w", err)
	}
	if _, ok := chain[0].PublicKey.(*ecdsa.PublicKey); !ok {
		return nil, errors.New("PCK key is not ECDSA")
	}
	return chain, nil
}

func verifyQuoteSignature(q *Quote) error {
	pub, err := ecdsaP256(q.AttestationKey[:])
	if err != nil {
		return fmt.Errorf("attestation key: %w", err)
	}
	digest := sha256.Sum256(q.Signed)
	r := new(big.Int).SetBytes(q.Signature[:32])
	s := new(big.Int).SetBytes(q.Signature[32:])
	if !ecdsa.Verify(pub, digest[:], r, s) {
		return errors.New("the attestation key's signature over header and TD report does not verify")
	}
	return nil
}

// ecdsaP256 builds a P-256 public key from a raw X‖Y point, refusing
// points off the curve.
func ecdsaP256(xy []byte) (*ecdsa.PublicKey, error) {
	return ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append([]byte{4}, xy...))
}

// rsToDER turns a raw r‖s ECDSA signature into ASN.1 DER.
func rsToDER(sig []byte) []byte {
	half := len(sig) / 2
	der, err := asn1.Marshal(struct{ R, S *big.Int }{new(big.Int).SetBytes(sig[:half]), new(big.Int).SetBytes(sig[half:])})
	if err != nil {
		return nil // unreachable: two non-negative integers always marshal
	}
	return der
}

func checkRevocation(c *Collateral, chain []*x509.Certificate, now time.Time) error {
	if crl := c.RootCACRL; crl != nil {
		if now.After(crl.NextUpdate) {
			return fmt.Errorf("root CA CRL expired at %s", crl.NextUpdate.UTC().Format(time.RFC3339))
		}
		if !bytes.Equal(chain[1].RawIssuer, c.Root.RawSubject) {
			return errors.New("root CA CRL is from another root than the one the PCK intermediate chains to")
		}
		for _, r := range crl.RevokedCertificateEntries {
			if r.SerialNumber.Cmp(chain[1].SerialNumber) == 0 {
				return fmt.Errorf("PCK intermediate %q was revoked at %s", chain[1].Subject.CommonName, r.RevocationTime.UTC().Format(time.RFC3339))
			}
		}
	}
	if crl := c.PCKCRL; crl != nil {
		if now.After(crl.NextUpdate) {
			return fmt.Errorf("PCK CRL expired at %s", crl.NextUpdate.UTC().Format(time.RFC3339))
		}
		if !sameKey(c.PCKCRLIssuer, chain[1]) {
			return fmt.Errorf("PCK CRL is from %q, the PCK was issued by %q", c.PCKCRLIssuer.Subject.CommonName, chain[1].Subject.CommonName)
		}
		for _, r := range crl.RevokedCertificateEntries {
			if r.SerialNumber.Cmp(chain[0].SerialNumber) == 0 {
				return fmt.Errorf("PCK certificate was revoked at %s", r.RevocationTime.UTC().Format(time.RFC3339))
			}
		}
	}
	return nil
}

// collateralCurrent checks what in the cached collateral depends on time
// and on the platform: validity windows, and that the TCB info is for this
// platform's FMSPC and PCE.
func collateralCurrent(c *Collateral, ext *pcs.PckExtensions, now time.Time) error {
	ti, qi := &c.TCBInfo, &c.QEIdentity
	if now.Before(ti.IssueDate) || now.After(ti.NextUpdate) {
		return fmt.Errorf("TCB info is valid %s..%s, not at %s", ti.IssueDate.UTC().Format(time.RFC3339), ti.NextUpdate.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	if now.Before(qi.IssueDate) || now.After(qi.NextUpdate) {
		return fmt.Errorf("QE identity is valid %s..%s, not at %s", qi.IssueDate.UTC().Format(time.RFC3339), qi.NextUpdate.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	for _, x := range []struct {
		c    *x509.Certificate
		what string
	}{{c.TCBInfoSigner, "TCB info signer"}, {c.QEIdentitySign, "QE identity signer"}, {c.Root, "root"}} {
		if err := validAt(x.c, now, x.what); err != nil {
			return err
		}
	}
	if !equalFold(ti.Fmspc, ext.FMSPC) {
		return fmt.Errorf("TCB info is for FMSPC %s, the PCK certificate says %s", ti.Fmspc, ext.FMSPC)
	}
	if !equalFold(ti.PceID, ext.PCEID) {
		return fmt.Errorf("TCB info is for PCEID %s, the PCK certificate says %s", ti.PceID, ext.PCEID)
	}
	return nil
}

func equalFold(a, b string) bool { return bytes.EqualFold([]byte(a), []byte(b)) }
