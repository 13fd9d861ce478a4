package collateral

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-sev-guest/verify/trust"

	"github.com/cocoon-network/cocoon/offchain/attest"
	"github.com/cocoon-network/cocoon/offchain/attest/check"
	"github.com/cocoon-network/cocoon/offchain/attest/sevsnp"
	"github.com/cocoon-network/cocoon/offchain/attest/tdx"
)

func read(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("../testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// doc is one document a fake PCS/KDS serves, with an optional issuer-chain
// header.
type doc struct {
	body   []byte
	header string
	chain  []byte
}

// fakeService serves docs by path and query, and records what was asked.
type fakeService struct {
	mu    sync.Mutex
	docs  map[string]doc
	asked []string
}

func serve(t *testing.T, docs map[string]doc) (*fakeService, *httptest.Server) {
	s := &fakeService{docs: docs}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.asked = append(s.asked, r.URL.RequestURI())
		d, ok := s.docs[r.URL.RequestURI()]
		s.mu.Unlock()
		if !ok {
			http.NotFound(w, r)
			return
		}
		if d.header != "" {
			// PCS percent-encodes its issuer-chain headers.
			w.Header().Set(d.header, url.PathEscape(string(d.chain)))
		}
		_, _ = w.Write(d.body)
	}))
	t.Cleanup(srv.Close)
	return s, srv
}

// intelDocs is what Intel's PCS served for the shipped production quote
// (go-tdx-guest's test data, FMSPC 50806f000000, platform CA).
func intelDocs(t *testing.T) map[string]doc {
	dir := "tdx/collateral/"
	return map[string]doc{
		"/tdx/certification/v4/tcb?fmspc=50806f000000":          {read(t, dir+"tcb_info.json"), "TCB-Info-Issuer-Chain", read(t, dir+"tcb_info_issuer_chain.pem")},
		"/tdx/certification/v4/qe/identity":                     {read(t, dir+"qe_identity.json"), "SGX-Enclave-Identity-Issuer-Chain", read(t, dir+"qe_identity_issuer_chain.pem")},
		"/sgx/certification/v4/pckcrl?ca=platform&encoding=der": {read(t, dir+"pck_crl.der"), "SGX-PCK-CRL-Issuer-Chain", read(t, dir+"pck_crl_issuer_chain.pem")},
		"/IntelSGXRootCA.der":                                   {body: read(t, dir+"root_ca_crl.der")},
	}
}

func TestFetchTDX(t *testing.T) {
	quote := read(t, "tdx/quote_v4.dat")
	at := time.Date(2023, 7, 1, 1, 0, 0, 0, time.UTC)
	tampered := intelDocs(t)
	tcb := tampered["/tdx/certification/v4/tcb?fmspc=50806f000000"]
	tcb.body = bytes.Replace(tcb.body, []byte(`"tcbEvaluationDataNumber":15`), []byte(`"tcbEvaluationDataNumber":16`), 1)
	tampered["/tdx/certification/v4/tcb?fmspc=50806f000000"] = tcb
	noHeader := intelDocs(t)
	qe := noHeader["/tdx/certification/v4/qe/identity"]
	qe.header = ""
	noHeader["/tdx/certification/v4/qe/identity"] = qe
	noCRL := intelDocs(t)
	delete(noCRL, "/IntelSGXRootCA.der")

	for _, c := range []struct {
		name    string
		docs    map[string]doc
		wantErr string
	}{
		{"Intel's collateral", intelDocs(t), ""},
		{"TCB info altered in transit", tampered, "signature does not verify"},
		{"no issuer chain header", noHeader, "no SGX-Enclave-Identity-Issuer-Chain header"},
		{"root CA CRL missing", noCRL, "HTTP 404"},
	} {
		t.Run(c.name, func(t *testing.T) {
			svc, srv := serve(t, c.docs)
			f := &Fetcher{IntelPCS: srv.URL + "/", IntelRootCRL: srv.URL + "/IntelSGXRootCA.der", Now: func() time.Time { return at }}
			b := &attest.Bundle{Version: 1, TEE: attest.TEETDX, Evidence: quote, Keys: []attest.Key{{Name: attest.KeyEd25519, Public: make([]byte, 32)}}, CreatedAt: at.Unix()}
			coll, err := f.Fetch(context.Background(), b)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("err = %v, want %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(svc.asked) != 4 || coll.FetchedAt != at.Unix() || !bytes.Equal(coll.TDX.PCKCRL, read(t, "tdx/collateral/pck_crl.der")) ||
				!bytes.Equal(coll.TDX.TCBInfoChain, read(t, "tdx/collateral/tcb_info_issuer_chain.pem")) {
				t.Fatalf("asked %v, collateral %+v", svc.asked, coll)
			}
			// What the worker fetched lets a client judge the platform
			// offline: it is below every level Intel lists.
			raw, err := coll.Encode()
			if err != nil {
				t.Fatal(err)
			}
			served, err := attest.DecodeCollateral(raw)
			if err != nil {
				t.Fatal(err)
			}
			v := &attest.Verifier{Now: func() time.Time { return at }}
			res, err := v.VerifyWithCollateral(context.Background(), b, served, nil, nil, attest.DefaultPolicy(attest.NoAllowList{}))
			if check.Name(err) != attest.CheckTCBStatus || res.TCBStatus != tdx.StatusNotSupported {
				t.Fatalf("verify with fetched collateral: %v, status %s", err, res.TCBStatus)
			}
		})
	}
}

func TestFetchNothingForDev(t *testing.T) {
	_, err := (&Fetcher{}).Fetch(context.Background(), &attest.Bundle{TEE: attest.TEEDev})
	if err == nil || !strings.Contains(err.Error(), ErrNotNeeded.Error()) {
		t.Fatalf("err = %v", err)
	}
}

// fakeAMD is an ARK/ASK pair standing in for AMD's, whose keys we lack.
type fakeAMD struct {
	ark, ask *x509.Certificate
	arkKey   *ecdsa.PrivateKey
}

func newFakeAMD(t *testing.T) *fakeAMD {
	mk := func(cn string, serial int64, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (*x509.Certificate, *ecdsa.PrivateKey) {
		k, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn}, IsCA: true, BasicConstraintsValid: true,
			KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign, NotBefore: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), NotAfter: time.Date(2045, 1, 1, 0, 0, 0, 0, time.UTC)}
		if parent == nil {
			parent, parentKey = tmpl, k
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &k.PublicKey, parentKey)
		if err != nil {
			t.Fatal(err)
		}
		c, _ := x509.ParseCertificate(der)
		return c, k
	}
	f := &fakeAMD{}
	f.ark, f.arkKey = mk("ARK-Milan", 1, nil, nil)
	f.ask, _ = mk("SEV-Milan", 2, f.ark, f.arkKey)
	return f
}

func (f *fakeAMD) chain() []byte {
	return append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: f.ask.Raw}), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: f.ark.Raw})...)
}

func crlBy(t *testing.T, ca *x509.Certificate, key *ecdsa.PrivateKey) []byte {
	der, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{Number: big.NewInt(1),
		ThisUpdate: ca.NotBefore, NextUpdate: ca.NotAfter}, ca, key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func TestFetchSNP(t *testing.T) {
	report, vcek := read(t, "sevsnp/report.bin"), read(t, "sevsnp/vcek.der")
	rep, _ := sevsnp.ParseReport(report)
	amd := newFakeAMD(t)
	other := newFakeAMD(t)
	vcekPath := "/vcek/v1/Milan/" + hex.EncodeToString(rep.Proto.GetChipId()) + "?blSPL=2&teeSPL=0&snpSPL=5&ucodeSPL=68"
	fakeRoots := map[string][]*trust.AMDRootCerts{"Milan": {{ProductLine: "Milan", ProductCerts: &trust.ProductCerts{Ark: amd.ark, Ask: amd.ask}}}}

	for _, c := range []struct {
		name    string
		docs    map[string]doc
		roots   map[string][]*trust.AMDRootCerts
		vcek    []byte
		line    string
		wantErr string
	}{
		{"VCEK looked up by chip and TCB", map[string]doc{
			vcekPath: {body: vcek}, "/vcek/v1/Milan/cert_chain": {body: amd.chain()}, "/vcek/v1/Milan/crl": {body: crlBy(t, amd.ark, amd.arkKey)},
		}, fakeRoots, nil, "Milan", ""},
		{"host-provisioned VCEK names the product line", map[string]doc{
			"/vcek/v1/Milan/cert_chain": {body: amd.chain()}, "/vcek/v1/Milan/crl": {body: crlBy(t, amd.ark, amd.arkKey)},
		}, fakeRoots, vcek, "", ""},
		// With AMD's real roots, AMD's real Milan chain (go-sev-guest's
		// test data) is accepted, and a CRL AMD did not sign is not.
		{"CRL not signed by AMD's ARK", map[string]doc{
			"/vcek/v1/Milan/cert_chain": {body: trust.AskArkMilanVcekBytes}, "/vcek/v1/Milan/crl": {body: crlBy(t, amd.ark, amd.arkKey)},
		}, nil, vcek, "", "CRL served is not signed by ARK-Milan"},
		{"an ARK nobody trusts", map[string]doc{
			"/vcek/v1/Milan/cert_chain": {body: other.chain()}, "/vcek/v1/Milan/crl": {body: crlBy(t, other.ark, other.arkKey)},
		}, nil, vcek, "", "not a trusted ARK-Milan"},
		{"product line unknown", nil, nil, nil, "", "product line"},
		{"KDS down", map[string]doc{}, fakeRoots, vcek, "", "HTTP 404"},
	} {
		t.Run(c.name, func(t *testing.T) {
			svc, srv := serve(t, c.docs)
			f := &Fetcher{AMDKDS: srv.URL, AMDRoots: c.roots, SNPProductLine: c.line}
			b := &attest.Bundle{Version: 1, TEE: attest.TEESEVSNP, Evidence: report, Keys: []attest.Key{{Name: attest.KeyEd25519, Public: make([]byte, 32)}}}
			if c.vcek != nil {
				b.Certs = []attest.Blob{{Name: sevsnp.CertVCEK, Data: c.vcek}}
			}
			coll, err := f.Fetch(context.Background(), b)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("err = %v, want %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("%v (asked %v)", err, svc.asked)
			}
			s := coll.SNP
			if s.ProductLine != "Milan" || !bytes.Equal(s.ARK, amd.ark.Raw) || !bytes.Equal(s.ASK, amd.ask.Raw) || len(s.CRL) == 0 {
				t.Fatalf("collateral %+v", s)
			}
			if (c.vcek == nil) != bytes.Equal(s.VCEK, vcek) {
				t.Errorf("VCEK fetched %v, served %d bytes (asked %v)", c.vcek == nil, len(s.VCEK), svc.asked)
			}
		})
	}
}

func TestKeeperKeepsTheLastGoodCopy(t *testing.T) {
	quote := read(t, "tdx/quote_v4.dat")
	docs := intelDocs(t)
	svc, srv := serve(t, docs)
	k := &Keeper{Fetcher: &Fetcher{IntelPCS: srv.URL, IntelRootCRL: srv.URL + "/IntelSGXRootCA.der"},
		Bundle: &attest.Bundle{Version: 1, TEE: attest.TEETDX, Evidence: quote}}
	if k.Current() != nil {
		t.Fatal("collateral before any fetch")
	}
	if err := k.RefreshOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	good := k.Current()
	if _, err := attest.DecodeCollateral(good); err != nil {
		t.Fatal(err)
	}
	svc.mu.Lock()
	svc.docs = map[string]doc{}
	svc.mu.Unlock()
	if err := k.RefreshOnce(context.Background()); err == nil {
		t.Fatal("refresh against a dead service succeeded")
	}
	if !bytes.Equal(k.Current(), good) {
		t.Fatal("a failed refresh dropped the last good collateral")
	}
}
