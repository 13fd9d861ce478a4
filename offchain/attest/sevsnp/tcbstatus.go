package sevsnp

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"time"

	"github.com/google/go-sev-guest/kds"
)

// TCB statuses of an SEV-SNP platform, named as Intel names TDX ones so
// that one policy judges both. AMD publishes no status feed; what can be
// known offline is revocation (AMD's CRL, signed by the product's ARK) and
// whether the reported TCB reaches a minimum the verifier's policy sets.
const (
	StatusUpToDate  = "UpToDate"
	StatusOutOfDate = "OutOfDate"
	StatusRevoked   = "Revoked"
)

// ParseCRL parses AMD's CRL (KDS serves DER; PEM is accepted too).
func ParseCRL(b []byte) (*x509.RevocationList, error) {
	if blk, _ := pem.Decode(b); blk != nil {
		b = blk.Bytes
	}
	crl, err := x509.ParseRevocationList(b)
	if err != nil {
		return nil, fmt.Errorf("AMD CRL: %w", err)
	}
	return crl, nil
}

// TCBStatus judges a verified report with AMD's CRL (DER) at time now:
// Revoked when the CRL lists the ASK/ASVK or the endorsement certificate,
// OutOfDate when the report's REPORTED_TCB does not reach minTCB in every
// component (0: no minimum), UpToDate otherwise. The CRL must be signed by
// the ARK the report chained to and not be past its next update.
func TCBStatus(res *Result, crlDER []byte, minTCB uint64, now time.Time) (status, detail string, err error) {
	if res == nil || res.Root == nil || res.Root.ProductCerts == nil || res.Root.ProductCerts.Ark == nil {
		return "", "", errors.New("no trusted ARK to check the AMD CRL against")
	}
	crl, err := ParseCRL(crlDER)
	if err != nil {
		return "", "", err
	}
	pc := res.Root.ProductCerts
	if err := crl.CheckSignatureFrom(pc.Ark); err != nil {
		return "", "", fmt.Errorf("AMD CRL is not signed by ARK-%s: %w", res.Root.ProductLine, err)
	}
	if now.After(crl.NextUpdate) {
		return "", "", fmt.Errorf("AMD CRL expired at %s", crl.NextUpdate.UTC().Format(time.RFC3339))
	}
	for _, c := range []struct {
		cert *x509.Certificate
		what string
	}{{pc.Ask, "ASK"}, {pc.Asvk, "ASVK"}, {res.Cert, res.Signer}} {
		if c.cert == nil {
			continue
		}
		for _, r := range crl.RevokedCertificateEntries {
			if r.SerialNumber.Cmp(c.cert.SerialNumber) == 0 {
				return StatusRevoked, fmt.Sprintf("the %s (serial %s) was revoked at %s", c.what, c.cert.SerialNumber, r.RevocationTime.UTC().Format(time.RFC3339)), nil
			}
		}
	}
	reported := kds.TCBVersion(res.Report.Proto.GetReportedTcb())
	if minTCB != 0 && !kds.TCBPartsLE(kds.DecomposeTCBVersion(kds.TCBVersion(minTCB)), kds.DecomposeTCBVersion(reported)) {
		return StatusOutOfDate, fmt.Sprintf("reported TCB %#016x is below the minimum %#016x", uint64(reported), minTCB), nil
	}
	return StatusUpToDate, fmt.Sprintf("not revoked per AMD's CRL, reported TCB %#016x", uint64(reported)), nil
}
