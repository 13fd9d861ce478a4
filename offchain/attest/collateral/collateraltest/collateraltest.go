// Package collateraltest serves a collateral directory (the layout of
// `cocoon attest verify --collateral`) the way Intel's PCS serves it, for
// tests of code that fetches collateral.
package collateraltest

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/cocoon-network/cocoon/offchain/attest/tdx"
)

// IntelPCS serves dir's TCB info (for any FMSPC), QE identity, PCK CRL
// and root CA CRL, with PCS's percent-encoded issuer-chain headers. The
// root CA CRL is at /IntelSGXRootCA.der.
func IntelPCS(t testing.TB, dir string) *httptest.Server {
	t.Helper()
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	type doc struct {
		body          []byte
		header, chain string
	}
	docs := map[string]doc{
		"/tdx/certification/v4/tcb":         {read(tdx.FileTCBInfo), "TCB-Info-Issuer-Chain", string(read(tdx.FileTCBInfoChain))},
		"/tdx/certification/v4/qe/identity": {read(tdx.FileQEIdentity), "SGX-Enclave-Identity-Issuer-Chain", string(read(tdx.FileQEIdentityChain))},
		"/sgx/certification/v4/pckcrl":      {read(tdx.FilePCKCRL), "SGX-PCK-CRL-Issuer-Chain", string(read(tdx.FilePCKCRLChain))},
		"/IntelSGXRootCA.der":               {body: read(tdx.FileRootCACRL)},
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d, ok := docs[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		if d.header != "" {
			w.Header().Set(d.header, url.PathEscape(d.chain))
		}
		_, _ = w.Write(d.body)
	}))
	t.Cleanup(srv.Close)
	return srv
}
