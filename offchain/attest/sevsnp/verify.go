package sevsnp

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"time"

	"github.com/google/go-sev-guest/abi"
	spb "github.com/google/go-sev-guest/proto/sevsnp"
	"github.com/google/go-sev-guest/validate"
	"github.com/google/go-sev-guest/verify"
	"github.com/google/go-sev-guest/verify/trust"

	"github.com/cocoon-network/cocoon/offchain/attest/check"
)

// Names of the checks Verify runs, in order.
const (
	CheckCertChain       = "vcek_chain"
	CheckReportSignature = "report_signature"
	CheckAMDRules        = "amd_kds_rules"
	CheckTCB             = "snp_tcb"
)

// Names of the certificates a bundle carries (DER).
const (
	CertVCEK = "vcek"
	CertVLEK = "vlek"
	CertASK  = "ask"
	CertARK  = "ark"
)

// Certs are the endorsement certificates carried with a report, DER.
type Certs struct {
	VCEK, VLEK, ASK, ARK []byte
}

// Verifier checks reports offline against AMD's roots.
type Verifier struct {
	// Roots maps AMD product lines (Milan, Genoa, Turin) to trusted
	// ARK/ASK[/ASVK] sets; nil means the AMD roots go-sev-guest embeds.
	Roots map[string][]*trust.AMDRootCerts
}

// Result is what a verified report established.
type Result struct {
	Report *Report
	Signer string
	Cert   *x509.Certificate
	// Root is the trusted AMD root set the endorsement certificate chained
	// to: its ARK signs the product line's CRL.
	Root *trust.AMDRootCerts
}

// DefaultRoots returns the AMD roots embedded in go-sev-guest, for VCEK
// (ASK) and VLEK (ASVK) chains of every product line it knows.
func DefaultRoots() (map[string][]*trust.AMDRootCerts, error) {
	out := map[string][]*trust.AMDRootCerts{}
	for _, x := range []struct {
		line string
		pem  []byte
	}{
		{"Milan", trust.AskArkMilanVcekBytes}, {"Milan", trust.AskArkMilanVlekBytes},
		{"Genoa", trust.AskArkGenoaVcekBytes}, {"Genoa", trust.AskArkGenoaVlekBytes},
		{"Turin", trust.AskArkTurinVcekBytes}, {"Turin", trust.AskArkTurinVlekBytes},
	} {
		// Decoded block by block: kds.ParseProductCertChain refuses the
		// trailing newline of the Turin VLEK bundle go-sev-guest ships.
		var ders [][]byte
		for rest := x.pem; ; {
			var blk *pem.Block
			if blk, rest = pem.Decode(rest); blk == nil {
				break
			}
			ders = append(ders, blk.Bytes)
		}
		if len(ders) != 2 {
			return nil, fmt.Errorf("AMD %s root bundle holds %d certificates, want ASK and ARK", x.line, len(ders))
		}
		r := trust.AMDRootCertsProduct(x.line)
		if err := r.Decode(ders[0], ders[1]); err != nil {
			return nil, fmt.Errorf("AMD %s roots: %w", x.line, err)
		}
		out[x.line] = append(out[x.line], r)
	}
	return out, nil
}

// Verify checks rep with the carried certificates at time now.
func (v *Verifier) Verify(ctx context.Context, rep *Report, certs Certs, now time.Time, log *check.Log) (*Result, error) {
	roots := v.Roots
	if roots == nil {
		var err error
		if roots, err = DefaultRoots(); err != nil {
			return nil, log.Fail(CheckCertChain, err)
		}
	}
	signer, err := rep.Signer()
	if err != nil {
		return nil, log.Fail(CheckCertChain, err)
	}
	der := certs.VCEK
	key := abi.VcekReportSigner
	if signer == CertVLEK {
		der, key = certs.VLEK, abi.VlekReportSigner
	}
	if len(der) == 0 {
		return nil, log.Failf(CheckCertChain, "the report is signed by the %s but no %s certificate was supplied", signer, signer)
	}
	cert, err := trust.ParseCert(der)
	if err != nil {
		return nil, log.Fail(CheckCertChain, fmt.Errorf("%s certificate: %w", signer, err))
	}
	line, root, err := chainToAMD(cert, key, roots, now)
	if err != nil {
		return nil, log.Fail(CheckCertChain, err)
	}
	log.Pass(CheckCertChain, fmt.Sprintf("%s → ASK → ARK-%s", signer, line))

	if err := verify.SnpReportSignature(rep.Raw, cert); err != nil {
		return nil, log.Fail(CheckReportSignature, err)
	}
	log.Pass(CheckReportSignature, "")

	// go-sev-guest's own end-to-end verification adds AMD's KDS certificate
	// rules (subjects, issuers, product names, extensions) on top of the
	// two checks above, with network fetching disabled.
	att := &spb.Attestation{Report: rep.Proto, CertificateChain: &spb.CertificateChain{
		VcekCert: certs.VCEK, VlekCert: certs.VLEK, AskCert: certs.ASK, ArkCert: certs.ARK,
		Extras: map[string][]byte{},
	}}
	opts := &verify.Options{DisableCertFetching: true, Now: now, TrustedRoots: roots}
	if err := verify.SnpAttestationContext(ctx, att, opts); err != nil {
		return nil, log.Fail(CheckAMDRules, err)
	}
	log.Pass(CheckAMDRules, "")

	// The endorsement key is specific to a TCB; the report must claim the
	// TCB its certificate was issued for, and the chip it was issued to.
	// Whether a debuggable guest is acceptable is the caller's policy
	// (Report.Debug); the rest of the guest policy is the image's.
	vopts := &validate.Options{
		GuestPolicy:               abi.SnpPolicy{SMT: true, MigrateMA: true, Debug: true, CXLAllowed: true},
		PermitProvisionalFirmware: true,
	}
	if err := validate.SnpAttestation(att, vopts); err != nil {
		return nil, log.Fail(CheckTCB, err)
	}
	log.Pass(CheckTCB, fmt.Sprintf("reported TCB %#016x", rep.Proto.GetReportedTcb()))
	return &Result{Report: rep, Signer: signer, Cert: cert, Root: root}, nil
}

// chainToAMD verifies cert to any trusted ARK through its ASK (VCEK) or
// ASVK (VLEK) and returns the product line and the roots it chained to.
func chainToAMD(cert *x509.Certificate, key abi.ReportSigner, roots map[string][]*trust.AMDRootCerts, now time.Time) (string, *trust.AMDRootCerts, error) {
	var lastErr error
	for line, rs := range roots {
		for _, r := range rs {
			opts := r.X509Options(now, key)
			if opts == nil {
				continue
			}
			if _, err := cert.Verify(*opts); err != nil {
				lastErr = err
				continue
			}
			return line, r, nil
		}
	}
	if lastErr == nil {
		lastErr = fmt.Errorf("no trusted AMD root for %v certificates", key)
	}
	return "", nil, fmt.Errorf("%v certificate does not chain to a trusted AMD root: %w", key, lastErr)
}
