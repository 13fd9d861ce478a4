// Package tdxtest is a complete Intel-shaped PKI for tests: its own root,
// PCK platform CA, PCK leaf with SGX extensions, TCB signing key and
// quoting enclave. It signs v4 and v5 TDX quotes and collateral that the
// real verifier checks once the fake root is injected, so that paths one
// production quote cannot reach (v5, TD 1.5, matching TCB levels,
// revocation, end-to-end bundles) run for real.
package tdxtest

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"testing"
	"time"

	"github.com/cocoon-network/cocoon/offchain/attest"
	"github.com/cocoon-network/cocoon/offchain/attest/tdx"
)

// Quote layout constants (Intel's TDX DCAP quote formats v4/v5).
const (
	BodyTD10     = 2
	BodyTD15     = 3
	td10BodySize = 584
	td15BodySize = 648
	qeReportSize = 384
)

var intelQEVendorID = []byte{0x93, 0x9a, 0x72, 0x33, 0xf7, 0x9c, 0x4c, 0xa9, 0x94, 0x0a, 0x0d, 0xb3, 0x95, 0x7f, 0x06, 0x07}

// Intel is the fake PKI. Exported fields describe the platform its PCK
// certificate claims.
type Intel struct {
	t              testing.TB
	rootKey, caKey *ecdsa.PrivateKey
	pckKey, tcbKey *ecdsa.PrivateKey
	attKey         *ecdsa.PrivateKey

	Root, CA, PCK, TCBSigner *x509.Certificate
	FMSPC                    string
	PCESVN                   int
	CPUSVN                   [16]byte
	QESVN                    uint16
	QEMRSigner               [32]byte
	NotBefore, NotAfter      time.Time
	// EvaluationDataNumber is the tcbEvaluationDataNumber the collateral
	// carries: 0 means 17 (the TCB recovery a stale PCS cache would serve
	// is a lower one).
	EvaluationDataNumber int
}

var (
	oidSGX   = asn1.ObjectIdentifier{1, 2, 840, 113741, 1, 13, 1}
	oidPPID  = asn1.ObjectIdentifier{1, 2, 840, 113741, 1, 13, 1, 1}
	oidTCB   = asn1.ObjectIdentifier{1, 2, 840, 113741, 1, 13, 1, 2}
	oidPCEID = asn1.ObjectIdentifier{1, 2, 840, 113741, 1, 13, 1, 3}
	oidFMSPC = asn1.ObjectIdentifier{1, 2, 840, 113741, 1, 13, 1, 4}
)

type attr struct {
	Type  asn1.ObjectIdentifier
	Value any
}

// New makes a fresh PKI whose certificates are valid 2024..2034.
func New(t testing.TB) *Intel {
	t.Helper()
	f := &Intel{t: t, FMSPC: "00906ed50000", PCESVN: 13, QESVN: 8,
		NotBefore: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), NotAfter: time.Date(2034, 1, 1, 0, 0, 0, 0, time.UTC)}
	for i := range f.CPUSVN {
		f.CPUSVN[i] = byte(3 + i%2)
	}
	f.QEMRSigner[0] = 0xdc
	key := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	f.rootKey, f.caKey, f.pckKey, f.tcbKey, f.attKey = key(), key(), key(), key(), key()
	f.Root = f.cert(&x509.Certificate{Subject: pkix.Name{CommonName: "Intel SGX Root CA"}, IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}, nil, f.rootKey, f.rootKey)
	f.CA = f.cert(&x509.Certificate{Subject: pkix.Name{CommonName: "Intel SGX PCK Platform CA"}, IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}, f.Root, f.caKey, f.rootKey)
	f.TCBSigner = f.cert(&x509.Certificate{Subject: pkix.Name{CommonName: "Intel SGX TCB Signing"},
		KeyUsage: x509.KeyUsageDigitalSignature}, f.Root, f.tcbKey, f.rootKey)
	// Six extensions, as go-tdx-guest's pcs package requires of a PCK.
	f.PCK = f.cert(&x509.Certificate{Subject: pkix.Name{CommonName: "Intel SGX PCK Certificate"},
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageDigitalSignature, SubjectKeyId: []byte{1, 2, 3, 4},
		CRLDistributionPoints: []string{"https://example.invalid/pckcrl"},
		ExtraExtensions:       []pkix.Extension{{Id: oidSGX, Value: f.sgxExtension()}}}, f.CA, f.pckKey, f.caKey)
	return f
}

// Roots returns the fake root as a trust anchor list.
func (f *Intel) Roots() []*x509.Certificate { return []*x509.Certificate{f.Root} }

func (f *Intel) sgxExtension() []byte {
	comp := func(i int) asn1.ObjectIdentifier { return append(append(asn1.ObjectIdentifier{}, oidTCB...), i) }
	var comps []attr
	for i := 0; i < 16; i++ {
		comps = append(comps, attr{comp(i + 1), int(f.CPUSVN[i])})
	}
	comps = append(comps, attr{comp(17), f.PCESVN}, attr{comp(18), f.CPUSVN[:]})
	fm, _ := hex.DecodeString(f.FMSPC)
	der, err := asn1.Marshal([]attr{{oidPPID, make([]byte, 16)}, {oidTCB, comps}, {oidPCEID, []byte{0, 0}}, {oidFMSPC, fm}})
	if err != nil {
		f.t.Fatal(err)
	}
	return der
}

func (f *Intel) cert(tmpl, parent *x509.Certificate, key, signer *ecdsa.PrivateKey) *x509.Certificate {
	f.t.Helper()
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		f.t.Fatal(err)
	}
	tmpl.SerialNumber = serial
	tmpl.NotBefore, tmpl.NotAfter = f.NotBefore, f.NotAfter
	if parent == nil {
		parent = tmpl
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, signer)
	if err != nil {
		f.t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		f.t.Fatal(err)
	}
	return c
}

// PEM encodes certificates.
func PEM(certs ...*x509.Certificate) []byte {
	var b bytes.Buffer
	for _, c := range certs {
		_ = pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	return b.Bytes()
}

func (f *Intel) sign(key *ecdsa.PrivateKey, msg []byte) []byte {
	d := sha256.Sum256(msg)
	r, s, err := ecdsa.Sign(rand.Reader, key, d[:])
	if err != nil {
		f.t.Fatal(err)
	}
	out := make([]byte, 64)
	r.FillBytes(out[:32])
	s.FillBytes(out[32:])
	return out
}

// Quote builds a signed quote of version 4 or 5 with a TD 1.0 (BodyTD10)
// or, for v5, TD 1.5 (BodyTD15) body. MRSIGNERSEAM and SEAM attributes are
// zero (Intel's module), TD attributes have DEBUG clear unless debug.
func (f *Intel) Quote(version, bodyType uint16, teeTCBSVN [16]byte, reportData [64]byte, debug bool) []byte {
	var hdr bytes.Buffer
	_ = binary.Write(&hdr, binary.LittleEndian, version)
	_ = binary.Write(&hdr, binary.LittleEndian, uint16(2)) // ECDSA P-256
	_ = binary.Write(&hdr, binary.LittleEndian, uint32(0x81))
	hdr.Write(make([]byte, 4))
	hdr.Write(intelQEVendorID)
	hdr.Write(make([]byte, 20))

	body := make([]byte, td10BodySize)
	copy(body, teeTCBSVN[:])
	for i := 0x88; i < td10BodySize-64; i++ { // MRTD onwards: recognizable filler
		body[i] = byte(i)
	}
	if debug {
		body[0x78] = 1
	}
	copy(body[td10BodySize-64:], reportData[:])
	signed := hdr.Bytes()
	if version == 5 {
		size := uint32(td10BodySize)
		if bodyType == BodyTD15 {
			size = td15BodySize
			body = append(body, bytes.Repeat([]byte{7}, td15BodySize-td10BodySize)...)
		}
		signed = binary.LittleEndian.AppendUint16(signed, bodyType)
		signed = binary.LittleEndian.AppendUint32(signed, size)
	}
	signed = append(signed, body...)

	attPoint, err := f.attKey.PublicKey.Bytes()
	if err != nil {
		f.t.Fatal(err)
	}
	attPub := attPoint[1:]
	authData := []byte("qe auth data, 32 bytes of it....")
	qe := make([]byte, qeReportSize)
	qe[48] = 0x11                                    // attributes
	copy(qe[128:160], f.QEMRSigner[:])               // MRSIGNER
	binary.LittleEndian.PutUint16(qe[256:], 2)       // ISVPRODID
	binary.LittleEndian.PutUint16(qe[258:], f.QESVN) // ISVSVN
	h := sha256.Sum256(append(append([]byte(nil), attPub...), authData...))
	copy(qe[320:], h[:])

	var cert bytes.Buffer
	cert.Write(qe)
	cert.Write(f.sign(f.pckKey, qe))
	_ = binary.Write(&cert, binary.LittleEndian, uint16(len(authData)))
	cert.Write(authData)
	chain := append(PEM(f.PCK, f.CA, f.Root), 0)
	_ = binary.Write(&cert, binary.LittleEndian, uint16(5))
	_ = binary.Write(&cert, binary.LittleEndian, uint32(len(chain)))
	cert.Write(chain)

	var sig bytes.Buffer
	sig.Write(f.sign(f.attKey, signed))
	sig.Write(attPub)
	_ = binary.Write(&sig, binary.LittleEndian, uint16(6))
	_ = binary.Write(&sig, binary.LittleEndian, uint32(cert.Len()))
	sig.Write(cert.Bytes())

	out := append([]byte(nil), signed...)
	out = binary.LittleEndian.AppendUint32(out, uint32(sig.Len()))
	return append(out, sig.Bytes()...)
}

// Level is one TCB level of the fake TCB info.
type Level struct {
	SGX, TDX [16]byte
	PCESVN   int
	Status   string
}

func svns(b [16]byte) []map[string]int {
	out := make([]map[string]int, 16)
	for i := range b {
		out[i] = map[string]int{"svn": int(b[i])}
	}
	return out
}

// Collateral signs TCB info with levels and a QE identity whose single
// level has qeStatus, with both CRLs (revoking nothing); issue..next is
// their validity window.
func (f *Intel) Collateral(levels []Level, qeStatus string, issue, next time.Time) *tdx.CollateralFiles {
	eval := f.EvaluationDataNumber
	if eval == 0 {
		eval = 17
	}
	var tl []map[string]any
	for _, l := range levels {
		tl = append(tl, map[string]any{
			"tcb":       map[string]any{"sgxtcbcomponents": svns(l.SGX), "pcesvn": l.PCESVN, "tdxtcbcomponents": svns(l.TDX)},
			"tcbDate":   "2024-01-01T00:00:00Z",
			"tcbStatus": l.Status,
		})
	}
	tcbInfo, _ := json.Marshal(map[string]any{
		"id": "TDX", "version": 3, "issueDate": issue, "nextUpdate": next, "fmspc": f.FMSPC, "pceId": "0000",
		"tcbType": 0, "tcbEvaluationDataNumber": eval,
		"tdxModule": map[string]string{"mrsigner": hex.EncodeToString(make([]byte, 48)), "attributes": "0000000000000000", "attributesMask": "FFFFFFFFFFFFFFFF"},
		"tcbLevels": tl,
	})
	qeID, _ := json.Marshal(map[string]any{
		"id": "TD_QE", "version": 2, "issueDate": issue, "nextUpdate": next, "tcbEvaluationDataNumber": eval,
		"miscselect": "00000000", "miscselectMask": "FFFFFFFF",
		"attributes": "11000000000000000000000000000000", "attributesMask": "FBFFFFFFFFFFFFFF0000000000000000",
		"mrsigner": hex.EncodeToString(f.QEMRSigner[:]), "isvprodid": 2,
		"tcbLevels": []map[string]any{{"tcb": map[string]int{"isvsvn": int(f.QESVN)}, "tcbDate": "2024-01-01T00:00:00Z", "tcbStatus": qeStatus}},
	})
	env := func(field string, body []byte) []byte {
		return []byte(fmt.Sprintf(`{"%s":%s,"signature":"%s"}`, field, body, hex.EncodeToString(f.sign(f.tcbKey, body))))
	}
	chain := PEM(f.TCBSigner, f.Root)
	files := &tdx.CollateralFiles{
		TCBInfo: env("tcbInfo", tcbInfo), TCBInfoChain: chain,
		QEIdentity: env("enclaveIdentity", qeID), QEIdentityChain: chain,
	}
	f.CRLs(files, next)
	return files
}

// CRLs sets the root CA CRL and the PCK CRL (revoking the given PCK
// serials), valid until next.
func (f *Intel) CRLs(files *tdx.CollateralFiles, next time.Time, revokedPCK ...*big.Int) {
	mk := func(issuer *x509.Certificate, key *ecdsa.PrivateKey, revoked []*big.Int) []byte {
		var entries []x509.RevocationListEntry
		for _, s := range revoked {
			entries = append(entries, x509.RevocationListEntry{SerialNumber: s, RevocationTime: f.NotBefore})
		}
		der, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{
			Number: big.NewInt(1), ThisUpdate: f.NotBefore, NextUpdate: next, RevokedCertificateEntries: entries,
		}, issuer, key)
		if err != nil {
			f.t.Fatal(err)
		}
		return der
	}
	files.RootCACRL = mk(f.Root, f.rootKey, nil)
	files.PCKCRL = mk(f.CA, f.caKey, revokedPCK)
	files.PCKCRLChain = PEM(f.CA, f.Root)
}

// Source serves one verified collateral to a tdx.Verifier.
type Source struct{ C *tdx.Collateral }

// Collateral implements tdx.CollateralSource.
func (s Source) Collateral(context.Context, string) (*tdx.Collateral, error) { return s.C, nil }

// MustCollateral verifies files against the fake root.
func (f *Intel) MustCollateral(files *tdx.CollateralFiles) *tdx.Collateral {
	f.t.Helper()
	c, err := tdx.ParseCollateral(files, f.Roots())
	if err != nil {
		f.t.Fatal(err)
	}
	return c
}

// Verifier returns a tdx.Verifier that trusts the fake root and uses
// collateral with one UpToDate level matching the platform, valid for a
// year from 2025-01-01.
func (f *Intel) Verifier(tdxSVN [16]byte) *tdx.Verifier {
	from := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	files := f.Collateral([]Level{{SGX: f.CPUSVN, TDX: tdxSVN, PCESVN: f.PCESVN, Status: "UpToDate"}}, "UpToDate", from, from.AddDate(1, 0, 0))
	return &tdx.Verifier{Roots: f.Roots(), Collateral: Source{f.MustCollateral(files)}}
}

// Bundle is a TDX bundle whose quote, signed by this PKI for a platform at
// TEE TCB SVN svn, vouches for keys and nonce at time at.
func (f *Intel) Bundle(keys []attest.Key, nonce []byte, at time.Time, svn [16]byte) *attest.Bundle {
	f.t.Helper()
	keys = attest.SortKeys(keys)
	rd, err := attest.ReportData(keys, nonce, at.Unix())
	if err != nil {
		f.t.Fatal(err)
	}
	b := &attest.Bundle{Version: attest.BundleVersion, TEE: attest.TEETDX, Evidence: f.Quote(4, BodyTD10, svn, rd, false),
		Keys: keys, Nonce: nonce, CreatedAt: at.Unix()}
	if err := b.Validate(); err != nil {
		f.t.Fatal(err)
	}
	return b
}

// ServedCollateral is the collateral a worker on this platform (TEE TCB
// SVN svn) would serve: one TCB level the platform reaches, with status,
// CRLs, valid from..from+1 year.
func (f *Intel) ServedCollateral(status string, svn [16]byte, from time.Time) *attest.Collateral {
	files := f.Collateral([]Level{{SGX: f.CPUSVN, TDX: svn, PCESVN: f.PCESVN, Status: status}}, "UpToDate", from, from.AddDate(1, 0, 0))
	f.CRLs(files, from.AddDate(1, 0, 0))
	return &attest.Collateral{Version: attest.CollateralVersion, TEE: attest.TEETDX, FetchedAt: from.Unix(), TDX: files}
}
