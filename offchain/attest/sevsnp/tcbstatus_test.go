package sevsnp

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/google/go-sev-guest/verify/trust"
)

func TestTCBStatus(t *testing.T) {
	raw, vcekDER := testdata(t)
	rep, err := ParseReport(raw)
	if err != nil {
		t.Fatal(err)
	}
	vcek, err := x509.ParseCertificate(vcekDER)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2023, 7, 1, 0, 0, 0, 0, time.UTC)
	ca := func(name string, serial int64) (*x509.Certificate, *ecdsa.PrivateKey) {
		k, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: name}, IsCA: true,
			BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCRLSign | x509.KeyUsageCertSign,
			NotBefore: now.AddDate(-1, 0, 0), NotAfter: now.AddDate(10, 0, 0)}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
		if err != nil {
			t.Fatal(err)
		}
		c, _ := x509.ParseCertificate(der)
		return c, k
	}
	// An ARK/ASK pair standing in for AMD's (whose keys we lack): TCBStatus
	// trusts whatever root the chain check settled on.
	ark, arkKey := ca("ARK-Milan", 1)
	ask, _ := ca("SEV-Milan", 0x10001)
	other, otherKey := ca("ARK-Other", 2)
	crl := func(signer *x509.Certificate, key *ecdsa.PrivateKey, next time.Time, revoked ...*big.Int) []byte {
		var entries []x509.RevocationListEntry
		for _, s := range revoked {
			entries = append(entries, x509.RevocationListEntry{SerialNumber: s, RevocationTime: now.AddDate(0, -1, 0)})
		}
		der, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{Number: big.NewInt(1), ThisUpdate: now.AddDate(0, -1, 0),
			NextUpdate: next, RevokedCertificateEntries: entries}, signer, key)
		if err != nil {
			t.Fatal(err)
		}
		return der
	}
	res := &Result{Report: rep, Signer: CertVCEK, Cert: vcek,
		Root: &trust.AMDRootCerts{ProductLine: "Milan", ProductCerts: &trust.ProductCerts{Ark: ark, Ask: ask}}}
	later := now.AddDate(0, 1, 0)
	reported := rep.Proto.GetReportedTcb()
	for _, c := range []struct {
		name    string
		crl     []byte
		min     uint64
		status  string
		wantErr string
	}{
		{"nothing revoked", crl(ark, arkKey, later), 0, StatusUpToDate, ""},
		{"at the minimum TCB", crl(ark, arkKey, later), reported, StatusUpToDate, ""},
		{"below the minimum TCB", crl(ark, arkKey, later), reported + 1<<56, StatusOutOfDate, ""},
		{"ASK revoked", crl(ark, arkKey, later, ask.SerialNumber), 0, StatusRevoked, ""},
		{"VCEK revoked", crl(ark, arkKey, later, vcek.SerialNumber), 0, StatusRevoked, ""},
		{"CRL by another ARK", crl(other, otherKey, later), 0, "", "not signed by ARK-Milan"},
		{"CRL expired", crl(ark, arkKey, now.AddDate(0, 0, -1)), 0, "", "expired"},
		{"not a CRL", []byte("garbage"), 0, "", "AMD CRL"},
	} {
		t.Run(c.name, func(t *testing.T) {
			status, detail, err := TCBStatus(res, c.crl, c.min, now)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("err = %v, want %q", err, c.wantErr)
				}
				return
			}
			if err != nil || status != c.status || detail == "" {
				t.Fatalf("status %q (%s), err %v; want %q", status, detail, err, c.status)
			}
		})
	}
}
