package worker

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"

	"github.com/xssnick/tonutils-go/address"

	"github.com/cocoon-network/cocoon/offchain/attest"
	"github.com/cocoon-network/cocoon/offchain/attest/collateral/collateraltest"
	"github.com/cocoon-network/cocoon/offchain/inference/reference"
	"github.com/cocoon-network/cocoon/offchain/seal"
)

// A TDX worker serves the collateral it fetched from the configured PCS at
// GET /collateral; a dev worker has none.
func TestServeCollateral(t *testing.T) {
	ctx := context.Background()
	pcs := collateraltest.IntelPCS(t, "../attest/testdata/tdx/collateral")
	quote, err := os.ReadFile("../attest/testdata/tdx/quote_v4.dat")
	if err != nil {
		t.Fatal(err)
	}
	id, err := InitIdentity(ctx, t.TempDir(), seal.SuiteX25519)
	if err != nil {
		t.Fatal(err)
	}
	root := address.NewAddress(0, 0, make([]byte, 32))
	cfg := &Config{Root: root.String(), Owner: root.String(), MaxConcurrent: 1,
		Collateral: CollateralConfig{IntelPCS: pcs.URL, IntelRootCRL: pcs.URL + "/IntelSGXRootCA.der"}}
	get := func(d *Daemon) (int, []byte) {
		srv := httptest.NewServer(d.Handler())
		defer srv.Close()
		resp, err := http.Get(srv.URL + "/collateral")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, body
	}

	dev, err := New(cfg, id, Options{Engine: reference.New(reference.Config{})})
	if err != nil {
		t.Fatal(err)
	}
	if code, body := get(dev); code != http.StatusNotFound || !json.Valid(body) {
		t.Fatalf("dev worker: %d %s", code, body)
	}

	tdxID := *id
	tdxID.Bundle = &attest.Bundle{Version: 1, TEE: attest.TEETDX, Evidence: quote, Keys: id.Bundle.Keys}
	d, err := New(cfg, &tdxID, Options{Engine: reference.New(reference.Config{})})
	if err != nil {
		t.Fatal(err)
	}
	if code, _ := get(d); code != http.StatusServiceUnavailable {
		t.Fatalf("before the first fetch: %d", code)
	}
	if err := d.collateral.RefreshOnce(ctx); err != nil {
		t.Fatal(err)
	}
	code, body := get(d)
	if code != http.StatusOK {
		t.Fatalf("after the fetch: %d %s", code, body)
	}
	c, err := attest.DecodeCollateral(body)
	if err != nil || c.TEE != attest.TEETDX || len(c.TDX.PCKCRL) == 0 {
		t.Fatalf("served collateral: %v %+v", err, c)
	}
}
