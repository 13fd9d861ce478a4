// Package tdx parses and verifies Intel TDX quotes (versions 4 and 5) and
// produces them through Linux configfs-tsm.
//
// Parsing is our own, bounds-checked and fuzzed: go-tdx-guest v0.3.1's
// abi.QuoteToProto reads only v4 and slices unchecked lengths. Its pcs
// package is used for the PCK certificate's SGX extensions and for Intel's
// collateral JSON types.
package tdx

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"fmt"
)

// Sizes and constants from Intel's "TDX DCAP Quote Generation Library and
// Quote Verification Library" (quote formats v4 and v5).
const (
	headerSize       = 48
	td10BodySize     = 584
	td15BodySize     = 648
	qeReportSize     = 384
	ecdsaSigSize     = 64
	ecdsaKeySize     = 64
	ReportDataSize   = 64
	MeasurementSize  = 48
	teeTypeTDX       = 0x81
	attKeyECDSAP256  = 2
	certTypePCKChain = 5
	certTypeQEReport = 6
	bodyTypeTD10     = 2
	bodyTypeTD15     = 3
)

// intelQEVendorID is the QE vendor id of Intel's own quoting enclave.
var intelQEVendorID = [16]byte{0x93, 0x9a, 0x72, 0x33, 0xf7, 0x9c, 0x4c, 0xa9, 0x94, 0x0a, 0x0d, 0xb3, 0x95, 0x7f, 0x06, 0x07}

// Quote is a parsed TDX quote. Byte slices alias the input.
type Quote struct {
	Version            uint16
	AttestationKeyType uint16
	TEEType            uint32
	QEVendorID         [16]byte
	UserData           [20]byte
	// BodyType is 2 (TD report 1.0) or 3 (TD report 1.5); v4 quotes are always 2.
	BodyType uint16
	Body     TDReport

	Signature      [ecdsaSigSize]byte // ECDSA P-256 r‖s over Signed
	AttestationKey [ecdsaKeySize]byte // raw X‖Y
	QEReport       EnclaveReport
	QEReportRaw    []byte
	QEReportSig    [ecdsaSigSize]byte
	QEAuthData     []byte
	// PCKChainPEM is the PCK leaf ‖ intermediate ‖ root chain as carried.
	PCKChainPEM []byte

	// Signed is what the attestation key signs: the header and the body
	// (v5: with the body's type and size in between).
	Signed []byte
	// Trailing counts bytes after the declared signature data; some quote
	// providers pad their output, and those bytes are not signed.
	Trailing int
}

// TDReport is the TD quote body (TDREPORT's measured fields).
type TDReport struct {
	TEETCBSVN      [16]byte
	MRSEAM         [MeasurementSize]byte
	MRSignerSEAM   [MeasurementSize]byte
	SEAMAttributes [8]byte
	TDAttributes   [8]byte
	XFAM           [8]byte
	MRTD           [MeasurementSize]byte
	MRConfigID     [MeasurementSize]byte
	MROwner        [MeasurementSize]byte
	MROwnerConfig  [MeasurementSize]byte
	RTMR           [4][MeasurementSize]byte
	ReportData     [ReportDataSize]byte
	// TD 1.5 bodies only.
	TEETCBSVN2  [16]byte
	MRServiceTD [MeasurementSize]byte
}

// EnclaveReport is the SGX report body of the quoting enclave.
type EnclaveReport struct {
	CPUSVN     [16]byte
	MiscSelect uint32
	Attributes [16]byte
	MREnclave  [32]byte
	MRSigner   [32]byte
	ISVProdID  uint16
	ISVSVN     uint16
	ReportData [64]byte
}

// Debug reports whether the TD was launched debuggable (TD_ATTRIBUTES bit
// 0): the host can then read its memory, so it protects nothing.
func (r *TDReport) Debug() bool { return r.TDAttributes[0]&1 != 0 }

// ImageHash is the value Root's allow-list stores for a TDX image:
// sha256(MRTD ‖ RTMR0 ‖ RTMR1 ‖ RTMR2 ‖ RTMR3). MRTD covers the initial TD
// memory (firmware); RTMR0..3 cover firmware configuration, kernel, command
// line and initrd as extended at boot, so together they pin the image.
func (r *TDReport) ImageHash() [32]byte {
	h := sha256.New()
	h.Write(r.MRTD[:])
	for i := range r.RTMR {
		h.Write(r.RTMR[i][:])
	}
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// ErrNotQuote marks input that is not a TDX quote at all (wrong version or
// TEE type), as opposed to a malformed one; detection uses it.
var ErrNotQuote = errors.New("not a TDX quote")

// reader is a bounds-checked cursor: every read either fits or sets err.
type reader struct {
	b   []byte
	off int
	err error
}

func (r *reader) next(n int, what string) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > len(r.b)-r.off {
		r.err = fmt.Errorf("%s: need %d bytes at offset %d, have %d", what, n, r.off, len(r.b)-r.off)
		return nil
	}
	s := r.b[r.off : r.off+n : r.off+n]
	r.off += n
	return s
}

func (r *reader) u16(what string) uint16 {
	if s := r.next(2, what); s != nil {
		return binary.LittleEndian.Uint16(s)
	}
	return 0
}

func (r *reader) u32(what string) uint32 {
	if s := r.next(4, what); s != nil {
		return binary.LittleEndian.Uint32(s)
	}
	return 0
}

func (r *reader) into(dst []byte, what string) {
	if s := r.next(len(dst), what); s != nil {
		copy(dst, s)
	}
}

// ParseQuote parses a v4 or v5 TDX quote. Bytes after the declared
// signature data are tolerated and counted in Quote.Trailing.
func ParseQuote(b []byte) (*Quote, error) {
	if len(b) < headerSize {
		return nil, fmt.Errorf("%w: %d bytes is shorter than a quote header", ErrNotQuote, len(b))
	}
	q := &Quote{}
	r := &reader{b: b}
	q.Version = r.u16("version")
	q.AttestationKeyType = r.u16("attestation key type")
	q.TEEType = r.u32("tee type")
	if q.Version != 4 && q.Version != 5 {
		return nil, fmt.Errorf("%w: quote version %d (want 4 or 5)", ErrNotQuote, q.Version)
	}
	if q.TEEType != teeTypeTDX {
		return nil, fmt.Errorf("%w: tee type %#x (TDX is %#x)", ErrNotQuote, q.TEEType, teeTypeTDX)
	}
	r.next(4, "reserved")
	r.into(q.QEVendorID[:], "qe vendor id")
	r.into(q.UserData[:], "user data")

	bodySize := td10BodySize
	q.BodyType = bodyTypeTD10
	if q.Version == 5 {
		q.BodyType = r.u16("body type")
		size := r.u32("body size")
		switch {
		case q.BodyType == bodyTypeTD10 && size == td10BodySize:
		case q.BodyType == bodyTypeTD15 && size == td15BodySize:
			bodySize = td15BodySize
		default:
			return nil, fmt.Errorf("v5 body type %d with size %d is not a TD report (want 2/%d or 3/%d)",
				q.BodyType, size, td10BodySize, td15BodySize)
		}
	}
	body := r.next(bodySize, "td report body")
	if r.err != nil {
		return nil, r.err
	}
	parseBody(body, &q.Body)
	q.Signed = b[:r.off:r.off]

	sigLen := r.u32("signature data length")
	sig := r.next(int(sigLen), "signature data")
	if r.err != nil {
		return nil, r.err
	}
	q.Trailing = len(b) - r.off
	if err := parseSignatureData(sig, q); err != nil {
		return nil, err
	}
	return q, nil
}

func parseBody(b []byte, t *TDReport) {
	r := &reader{b: b}
	r.into(t.TEETCBSVN[:], "tee tcb svn")
	r.into(t.MRSEAM[:], "mr seam")
	r.into(t.MRSignerSEAM[:], "mr signer seam")
	r.into(t.SEAMAttributes[:], "seam attributes")
	r.into(t.TDAttributes[:], "td attributes")
	r.into(t.XFAM[:], "xfam")
	r.into(t.MRTD[:], "mr td")
	r.into(t.MRConfigID[:], "mr config id")
	r.into(t.MROwner[:], "mr owner")
	r.into(t.MROwnerConfig[:], "mr owner config")
	for i := range t.RTMR {
		r.into(t.RTMR[i][:], "rtmr")
	}
	r.into(t.ReportData[:], "report data")
	if len(b) == td15BodySize {
		r.into(t.TEETCBSVN2[:], "tee tcb svn 2")
		r.into(t.MRServiceTD[:], "mr service td")
	}
}

func parseSignatureData(b []byte, q *Quote) error {
	r := &reader{b: b}
	r.into(q.Signature[:], "quote signature")
	r.into(q.AttestationKey[:], "attestation key")
	certType := r.u16("certification data type")
	certData := r.next(int(r.u32("certification data size")), "certification data")
	if r.err != nil {
		return r.err
	}
	if certType != certTypeQEReport {
		return fmt.Errorf("certification data type %d is not QE report certification data (%d)", certType, certTypeQEReport)
	}
	r = &reader{b: certData}
	q.QEReportRaw = r.next(qeReportSize, "qe report")
	r.into(q.QEReportSig[:], "qe report signature")
	q.QEAuthData = r.next(int(r.u16("qe auth data size")), "qe auth data")
	innerType := r.u16("pck certification data type")
	q.PCKChainPEM = r.next(int(r.u32("pck certification data size")), "pck certification data")
	if r.err != nil {
		return r.err
	}
	if innerType != certTypePCKChain {
		return fmt.Errorf("inner certification data type %d is not a PCK certificate chain (%d)", innerType, certTypePCKChain)
	}
	parseEnclaveReport(q.QEReportRaw, &q.QEReport)
	return nil
}

func parseEnclaveReport(b []byte, e *EnclaveReport) {
	r := &reader{b: b}
	r.into(e.CPUSVN[:], "cpu svn")
	e.MiscSelect = r.u32("misc select")
	r.next(28, "reserved")
	r.into(e.Attributes[:], "attributes")
	r.into(e.MREnclave[:], "mr enclave")
	r.next(32, "reserved")
	r.into(e.MRSigner[:], "mr signer")
	r.next(96, "reserved")
	e.ISVProdID = r.u16("isv prod id")
	e.ISVSVN = r.u16("isv svn")
	r.next(60, "reserved")
	r.into(e.ReportData[:], "report data")
}

// pckChainDER splits the carried PEM chain into DER certificates, leaf
// first. Quote generators terminate the PEM with NUL bytes; those and any
// other non-PEM text between blocks are ignored, but a chain without
// exactly three certificates is refused.
func pckChainDER(chain []byte) ([][]byte, error) {
	var ders [][]byte
	rest := bytes.TrimRight(chain, "\x00")
	for {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("PCK chain holds a %q PEM block", blk.Type)
		}
		ders = append(ders, blk.Bytes)
	}
	if len(ders) != 3 {
		return nil, fmt.Errorf("PCK chain holds %d certificates (want leaf, intermediate, root)", len(ders))
	}
	return ders, nil
}
