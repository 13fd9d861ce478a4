// Package collateral fetches the TCB collateral a worker serves beside its
// evidence: Intel's TCB info, QE identity and CRLs from the Provisioning
// Certification Service (PCS) for TDX, and AMD's VCEK, ASK/ARK and CRL
// from the Key Distribution Service (KDS) for SEV-SNP. What it fetches is
// checked against the embedded Intel and AMD roots before it is served, so
// a worker never hands out collateral that every client would refuse.
// Keeper refreshes it in the background.
package collateral

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/google/go-sev-guest/kds"
	"github.com/google/go-sev-guest/verify/trust"
	"github.com/google/go-tdx-guest/pcs"

	"github.com/cocoon-network/cocoon/offchain/attest"
	"github.com/cocoon-network/cocoon/offchain/attest/sevsnp"
	"github.com/cocoon-network/cocoon/offchain/attest/tdx"
)

// Default service addresses; every one is configurable (Fetcher), e.g.
// for a caching proxy, a cloud provider's PCCS, or a test server.
const (
	DefaultIntelPCS     = "https://api.trustedservices.intel.com"
	DefaultIntelRootCRL = "https://certificates.trustedservices.intel.com/IntelSGXRootCA.der"
	DefaultAMDKDS       = "https://kdsintf.amd.com"
)

// maxResponse bounds one fetched document (TCB info is ~10 KiB).
const maxResponse = 256 << 10

// ErrNotNeeded means the evidence type has no collateral (dev, GPU-only).
var ErrNotNeeded = errors.New("this evidence type has no TCB collateral")

// Fetcher fetches collateral over HTTP. The zero value uses Intel's and
// AMD's public services and roots.
type Fetcher struct {
	// HTTP is the client; nil means one with a 30 s timeout.
	HTTP *http.Client
	// IntelPCS is the PCS base URL (…/sgx|tdx/certification/v4/…).
	IntelPCS string
	// IntelRootCRL is the URL of the Intel SGX Root CA's CRL.
	IntelRootCRL string
	// AMDKDS is the KDS base URL (…/vcek/v1/{product line}/…).
	AMDKDS string
	// IntelRoots check what PCS serves; nil: Intel's SGX Root CA.
	IntelRoots []*x509.Certificate
	// AMDRoots check what KDS serves; nil: the AMD roots go-sev-guest embeds.
	AMDRoots map[string][]*trust.AMDRootCerts
	// SNPProductLine names the product line (Milan, Genoa) when neither a
	// carried VCEK nor the report says it; empty: refuse to guess.
	SNPProductLine string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

func (f *Fetcher) now() time.Time {
	if f.Now != nil {
		return f.Now()
	}
	return time.Now()
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return strings.TrimRight(s, "/")
}

// Fetch fetches the collateral for bundle b's evidence.
func (f *Fetcher) Fetch(ctx context.Context, b *attest.Bundle) (*attest.Collateral, error) {
	c := &attest.Collateral{Version: attest.CollateralVersion, TEE: b.TEE, FetchedAt: f.now().Unix()}
	var err error
	switch b.TEE {
	case attest.TEETDX:
		c.TDX, err = f.FetchTDX(ctx, b.Evidence)
	case attest.TEESEVSNP:
		c.SNP, err = f.FetchSNP(ctx, b.Evidence, b.Cert(sevsnp.CertVCEK))
	default:
		return nil, fmt.Errorf("%s: %w", b.TEE, ErrNotNeeded)
	}
	if err != nil {
		return nil, err
	}
	return c, c.Validate()
}

// FetchTDX fetches Intel's collateral for the platform that signed quote:
// TCB info for its FMSPC, the TD QE identity, the CRL of the CA that issued
// its PCK certificate, and the root CA's CRL.
func (f *Fetcher) FetchTDX(ctx context.Context, quote []byte) (*tdx.CollateralFiles, error) {
	q, err := tdx.ParseQuote(quote)
	if err != nil {
		return nil, fmt.Errorf("TDX collateral: %w", err)
	}
	chain, err := parsePEMChain(q.PCKChainPEM)
	if err != nil || len(chain) < 2 {
		return nil, fmt.Errorf("TDX collateral: the quote's PCK chain: %v", err)
	}
	ext, err := pcs.PckCertificateExtensions(chain[0])
	if err != nil {
		return nil, fmt.Errorf("TDX collateral: PCK certificate extensions: %w", err)
	}
	ca := "platform"
	if strings.Contains(chain[1].Subject.CommonName, "Processor") {
		ca = "processor"
	}
	base := orDefault(f.IntelPCS, DefaultIntelPCS)
	var files tdx.CollateralFiles
	if files.TCBInfo, files.TCBInfoChain, err = f.get(ctx, base+"/tdx/certification/v4/tcb?fmspc="+url.QueryEscape(ext.FMSPC), "TCB-Info-Issuer-Chain", "SGX-TCB-Info-Issuer-Chain"); err != nil {
		return nil, fmt.Errorf("TDX TCB info: %w", err)
	}
	if files.QEIdentity, files.QEIdentityChain, err = f.get(ctx, base+"/tdx/certification/v4/qe/identity", "SGX-Enclave-Identity-Issuer-Chain"); err != nil {
		return nil, fmt.Errorf("TDX QE identity: %w", err)
	}
	if files.PCKCRL, files.PCKCRLChain, err = f.get(ctx, base+"/sgx/certification/v4/pckcrl?ca="+ca+"&encoding=der", "SGX-PCK-CRL-Issuer-Chain"); err != nil {
		return nil, fmt.Errorf("PCK CRL: %w", err)
	}
	if files.RootCACRL, _, err = f.get(ctx, orDefault(f.IntelRootCRL, DefaultIntelRootCRL)); err != nil {
		return nil, fmt.Errorf("the Intel root CA CRL: %w", err)
	}
	c, err := tdx.ParseCollateral(&files, f.IntelRoots)
	if err != nil {
		return nil, fmt.Errorf("TDX collateral from %s: %w", base, err)
	}
	if !strings.EqualFold(c.TCBInfo.Fmspc, ext.FMSPC) {
		return nil, fmt.Errorf("TDX collateral from %s: TCB info is for FMSPC %s, asked for %s", base, c.TCBInfo.Fmspc, ext.FMSPC)
	}
	return &files, nil
}

// FetchSNP fetches AMD's collateral for report: the product line's ASK and
// ARK, its CRL, and the VCEK for the report's chip and reported TCB unless
// vcek (the host-provisioned one) is given.
func (f *Fetcher) FetchSNP(ctx context.Context, report, vcek []byte) (*attest.SNPCollateral, error) {
	rep, err := sevsnp.ParseReport(report)
	if err != nil {
		return nil, fmt.Errorf("SEV-SNP collateral: %w", err)
	}
	line, err := f.productLine(rep, vcek)
	if err != nil {
		return nil, err
	}
	base := orDefault(f.AMDKDS, DefaultAMDKDS) + "/vcek/v1/" + line
	out := &attest.SNPCollateral{ProductLine: line}
	if len(vcek) == 0 {
		if line == "Turin" {
			return nil, errors.New("SEV-SNP collateral: Turin VCEKs are looked up by an 8-byte chip id and FMC SPL this build does not compute; provision the VCEK in the host's certificate table")
		}
		tcb := kds.DecomposeTCBVersion(kds.TCBVersion(rep.Proto.GetReportedTcb()))
		u := fmt.Sprintf("%s/%s?blSPL=%d&teeSPL=%d&snpSPL=%d&ucodeSPL=%d", base, hex.EncodeToString(rep.Proto.GetChipId()), tcb.BlSpl, tcb.TeeSpl, tcb.SnpSpl, tcb.UcodeSpl)
		if out.VCEK, _, err = f.get(ctx, u); err != nil {
			return nil, fmt.Errorf("VCEK: %w", err)
		}
	}
	chainPEM, _, err := f.get(ctx, base+"/cert_chain")
	if err != nil {
		return nil, fmt.Errorf("AMD cert chain: %w", err)
	}
	if out.ASK, out.ARK, err = kds.ParseProductCertChain(chainPEM); err != nil {
		return nil, fmt.Errorf("AMD cert chain from %s: %w", base, err)
	}
	if out.CRL, _, err = f.get(ctx, base+"/crl"); err != nil {
		return nil, fmt.Errorf("AMD CRL: %w", err)
	}
	if err := f.checkSNP(line, out); err != nil {
		return nil, fmt.Errorf("AMD collateral from %s: %w", base, err)
	}
	return out, nil
}

// checkSNP checks that the ARK served is a trusted one, that it signed the
// ASK, and that it signed the CRL.
func (f *Fetcher) checkSNP(line string, c *attest.SNPCollateral) error {
	roots := f.AMDRoots
	if roots == nil {
		var err error
		if roots, err = sevsnp.DefaultRoots(); err != nil {
			return err
		}
	}
	ark, err := x509.ParseCertificate(c.ARK)
	if err != nil {
		return fmt.Errorf("ARK: %w", err)
	}
	ask, err := x509.ParseCertificate(c.ASK)
	if err != nil {
		return fmt.Errorf("ASK: %w", err)
	}
	trusted := false
	for _, r := range roots[line] {
		if r.ProductCerts != nil && r.ProductCerts.Ark != nil && bytes.Equal(r.ProductCerts.Ark.RawSubjectPublicKeyInfo, ark.RawSubjectPublicKeyInfo) {
			trusted = true
		}
	}
	if !trusted {
		return fmt.Errorf("the ARK served is not a trusted ARK-%s", line)
	}
	if err := ask.CheckSignatureFrom(ark); err != nil {
		return fmt.Errorf("the ASK served is not signed by the ARK: %w", err)
	}
	crl, err := sevsnp.ParseCRL(c.CRL)
	if err != nil {
		return err
	}
	if err := crl.CheckSignatureFrom(ark); err != nil {
		return fmt.Errorf("the CRL served is not signed by ARK-%s: %w", line, err)
	}
	return nil
}

// productLine names the report's AMD product line: from the VCEK's
// product name, else the report's CPUID (report version 3 on), else the
// configured one.
func (f *Fetcher) productLine(rep *sevsnp.Report, vcek []byte) (string, error) {
	if len(vcek) > 0 {
		if cert, err := x509.ParseCertificate(vcek); err == nil {
			if ext, err := kds.VcekCertificateExtensions(cert); err == nil {
				if line := kds.ProductLineOfProductName(ext.ProductName); knownLine(line) {
					return line, nil
				}
			}
		}
	}
	if fms := rep.Proto.GetCpuid1EaxFms(); fms != 0 {
		if line := kds.ProductLineFromFms(fms); knownLine(line) {
			return line, nil
		}
	}
	if f.SNPProductLine != "" {
		return f.SNPProductLine, nil
	}
	return "", errors.New("SEV-SNP collateral: cannot tell the report's product line (no VCEK, no CPUID in the report); configure it")
}

// get fetches u and returns its body and the first of headers present,
// URL-decoded (PCS sends issuer chains percent-encoded).
func (f *Fetcher) get(ctx context.Context, u string, headers ...string) ([]byte, []byte, error) {
	hc := f.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, nil, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse+1))
	if err != nil {
		return nil, nil, fmt.Errorf("GET %s: %w", u, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, nil, fmt.Errorf("GET %s: HTTP %d", u, resp.StatusCode)
	}
	if len(body) > maxResponse {
		return nil, nil, fmt.Errorf("GET %s: more than %d bytes", u, maxResponse)
	}
	if len(body) == 0 {
		return nil, nil, fmt.Errorf("GET %s: empty answer", u)
	}
	if len(headers) == 0 {
		return body, nil, nil
	}
	for _, h := range headers {
		if v := resp.Header.Get(h); v != "" {
			dec, err := url.PathUnescape(v)
			if err != nil {
				return nil, nil, fmt.Errorf("GET %s: header %s: %w", u, h, err)
			}
			return body, []byte(dec), nil
		}
	}
	return nil, nil, fmt.Errorf("GET %s: no %s header", u, headers[0])
}

func parsePEMChain(b []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for {
		var blk *pem.Block
		if blk, b = pem.Decode(b); blk == nil {
			break
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, errors.New("no certificates")
	}
	return out, nil
}

func knownLine(line string) bool { return line == "Milan" || line == "Genoa" || line == "Turin" }
