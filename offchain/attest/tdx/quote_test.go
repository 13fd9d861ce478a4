package tdx

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-tdx-guest/abi"
	pb "github.com/google/go-tdx-guest/proto/tdx"
)

func realQuote(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile("../testdata/tdx/quote_v4.dat")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestParseRealQuoteMatchesGoTDXGuest parses Intel's production quote with
// our parser and go-tdx-guest's and compares every field both expose.
func TestParseRealQuoteMatchesGoTDXGuest(t *testing.T) {
	raw := realQuote(t)
	q, err := ParseQuote(raw)
	if err != nil {
		t.Fatal(err)
	}
	anyq, err := abi.QuoteToProto(raw)
	if err != nil {
		t.Fatal(err)
	}
	ref := anyq.(*pb.QuoteV4)
	b, rb := &q.Body, ref.GetTdQuoteBody()
	for _, c := range []struct {
		name      string
		got, want []byte
	}{
		{"tee_tcb_svn", b.TEETCBSVN[:], rb.GetTeeTcbSvn()},
		{"mr_seam", b.MRSEAM[:], rb.GetMrSeam()},
		{"mr_signer_seam", b.MRSignerSEAM[:], rb.GetMrSignerSeam()},
		{"seam_attributes", b.SEAMAttributes[:], rb.GetSeamAttributes()},
		{"td_attributes", b.TDAttributes[:], rb.GetTdAttributes()},
		{"xfam", b.XFAM[:], rb.GetXfam()},
		{"mr_td", b.MRTD[:], rb.GetMrTd()},
		{"mr_config_id", b.MRConfigID[:], rb.GetMrConfigId()},
		{"mr_owner", b.MROwner[:], rb.GetMrOwner()},
		{"mr_owner_config", b.MROwnerConfig[:], rb.GetMrOwnerConfig()},
		{"rtmr0", b.RTMR[0][:], rb.GetRtmrs()[0]},
		{"rtmr3", b.RTMR[3][:], rb.GetRtmrs()[3]},
		{"report_data", b.ReportData[:], rb.GetReportData()},
		{"signature", q.Signature[:], ref.GetSignedData().GetSignature()},
		{"attestation_key", q.AttestationKey[:], ref.GetSignedData().GetEcdsaAttestationKey()},
		{"qe_report_signature", q.QEReportSig[:], ref.GetSignedData().GetCertificationData().GetQeReportCertificationData().GetQeReportSignature()},
		{"qe_auth_data", q.QEAuthData, ref.GetSignedData().GetCertificationData().GetQeReportCertificationData().GetQeAuthData().GetData()},
		{"pck_chain", q.PCKChainPEM, ref.GetSignedData().GetCertificationData().GetQeReportCertificationData().GetPckCertificateChainData().GetPckCertChain()},
		{"qe_mr_signer", q.QEReport.MRSigner[:], ref.GetSignedData().GetCertificationData().GetQeReportCertificationData().GetQeReport().GetMrSigner()},
		{"trailing", raw[len(raw)-q.Trailing:], ref.GetExtraBytes()},
	} {
		if !bytes.Equal(c.got, c.want) {
			t.Errorf("%s: ours %x, go-tdx-guest %x", c.name, c.got, c.want)
		}
	}
	if q.Version != 4 || q.Trailing != 39 || len(q.Signed) != headerSize+td10BodySize {
		t.Errorf("version %d, trailing %d, signed %d bytes", q.Version, q.Trailing, len(q.Signed))
	}
}

// v5From rewraps a v4 quote as v5 with a TD 1.0 or 1.5 body: the
// signature no longer verifies, but the layout is exactly v5's.
func v5From(t testing.TB, v4 []byte, td15 bool) []byte {
	t.Helper()
	var out bytes.Buffer
	hdr := append([]byte(nil), v4[:headerSize]...)
	binary.LittleEndian.PutUint16(hdr, 5)
	out.Write(hdr)
	body := v4[headerSize : headerSize+td10BodySize]
	if td15 {
		out.Write(binary.LittleEndian.AppendUint16(nil, bodyTypeTD15))
		out.Write(binary.LittleEndian.AppendUint32(nil, td15BodySize))
		out.Write(body)
		out.Write(bytes.Repeat([]byte{0xaa}, 16))
		out.Write(bytes.Repeat([]byte{0xbb}, 48))
	} else {
		out.Write(binary.LittleEndian.AppendUint16(nil, bodyTypeTD10))
		out.Write(binary.LittleEndian.AppendUint32(nil, td10BodySize))
		out.Write(body)
	}
	out.Write(v4[headerSize+td10BodySize:])
	return out.Bytes()
}

func TestParseV5(t *testing.T) {
	v4 := realQuote(t)
	q4, err := ParseQuote(v4)
	if err != nil {
		t.Fatal(err)
	}
	for _, td15 := range []bool{false, true} {
		q, err := ParseQuote(v5From(t, v4, td15))
		if err != nil {
			t.Fatalf("td15=%v: %v", td15, err)
		}
		wantType, wantSigned := uint16(bodyTypeTD10), headerSize+6+td10BodySize
		if td15 {
			wantType, wantSigned = bodyTypeTD15, headerSize+6+td15BodySize
		}
		if q.Version != 5 || q.BodyType != wantType || len(q.Signed) != wantSigned {
			t.Errorf("td15=%v: version %d type %d signed %d", td15, q.Version, q.BodyType, len(q.Signed))
		}
		type shared struct {
			MRTD        [MeasurementSize]byte
			ReportData  [64]byte
			PCKChainPEM []byte
		}
		if diff := cmp.Diff(shared{q4.Body.MRTD, q4.Body.ReportData, q4.PCKChainPEM}, shared{q.Body.MRTD, q.Body.ReportData, q.PCKChainPEM}); diff != "" {
			t.Errorf("td15=%v: fields differ from the v4 quote (-v4 +v5):\n%s", td15, diff)
		}
		if td15 && (q.Body.TEETCBSVN2[0] != 0xaa || q.Body.MRServiceTD[47] != 0xbb) {
			t.Errorf("TD 1.5 fields not parsed")
		}
		if q.Body.ImageHash() != q4.Body.ImageHash() {
			t.Errorf("td15=%v: image hash differs", td15)
		}
	}
}

func TestParseQuoteRefusals(t *testing.T) {
	v4 := realQuote(t)
	mod := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), v4...)) }
	for _, c := range []struct {
		name    string
		in      []byte
		notTDX  bool
		wantErr bool
	}{
		{"empty", nil, true, true},
		{"short header", v4[:20], true, true},
		{"version 3", mod(func(b []byte) []byte { b[0] = 3; return b }), true, true},
		{"SGX tee type", mod(func(b []byte) []byte { b[4] = 0; return b }), true, true},
		{"truncated body", v4[:300], false, true},
		{"truncated signature data", v4[:1000], false, true},
		{"signature data length past end", mod(func(b []byte) []byte {
			binary.LittleEndian.PutUint32(b[headerSize+td10BodySize:], 1<<30)
			return b
		}), false, true},
		{"wrong certification data type", mod(func(b []byte) []byte {
			b[headerSize+td10BodySize+4+128] = 5
			return b
		}), false, true},
		{"v5 SGX body type", mod(func(b []byte) []byte {
			v5 := v5From(t, b, false)
			v5[headerSize] = 1
			return v5
		}), false, true},
		{"v5 body size mismatch", mod(func(b []byte) []byte {
			v5 := v5From(t, b, true)
			v5[headerSize+2] = 0
			return v5
		}), false, true},
		{"trailing bytes", append(append([]byte(nil), v4...), 1, 2, 3), false, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseQuote(c.in)
			if (err != nil) != c.wantErr {
				t.Fatalf("err = %v, want error %v", err, c.wantErr)
			}
			if err != nil && errors.Is(err, ErrNotQuote) != c.notTDX {
				t.Errorf("errors.Is(ErrNotQuote) = %v for %v", !c.notTDX, err)
			}
		})
	}
	// Every prefix of a real quote either parses or fails cleanly.
	for n := 0; n < len(v4); n += 7 {
		if _, err := ParseQuote(v4[:n]); err == nil && n < len(v4)-39 {
			t.Fatalf("prefix of %d bytes parsed", n)
		}
	}
}

func TestPCKChainDER(t *testing.T) {
	q, err := ParseQuote(realQuote(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name  string
		chain []byte
		n     int
	}{
		{"real with NUL padding", append(append([]byte(nil), q.PCKChainPEM...), 0, 0, 0), 3},
		{"two certificates", q.PCKChainPEM[:bytes.LastIndex(q.PCKChainPEM, []byte("-----BEGIN"))], 0},
		{"empty", nil, 0},
		{"key block", []byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"), 0},
	} {
		ders, err := pckChainDER(c.chain)
		if (err == nil) != (c.n == 3) || len(ders) != c.n {
			t.Errorf("%s: %d certificates, err %v", c.name, len(ders), err)
		}
	}
}

// FuzzParseQuote: no input may panic or hang the parser; whatever parses
// must have a consistent signed region.
func FuzzParseQuote(f *testing.F) {
	v4 := realQuote(f)
	f.Add(v4)
	f.Add(v5From(f, v4, false))
	f.Add(v5From(f, v4, true))
	f.Add(v4[:700])
	f.Fuzz(func(t *testing.T, b []byte) {
		q, err := ParseQuote(b)
		if err != nil {
			return
		}
		if len(q.Signed) > len(b) || q.Trailing < 0 || q.Trailing > len(b) {
			t.Fatalf("inconsistent quote: signed %d trailing %d of %d", len(q.Signed), q.Trailing, len(b))
		}
		_, _ = pckChainDER(q.PCKChainPEM)
	})
}
