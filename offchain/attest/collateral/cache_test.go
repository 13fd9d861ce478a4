package collateral

import (
	"context"
	"testing"
	"time"

	"github.com/cocoon-network/cocoon/offchain/attest"
)

// A verifier's cache fetches once per evidence and TTL, fetches again
// after it, and asks for nothing for evidence without collateral.
func TestCacheReusesWithinTTL(t *testing.T) {
	quote := read(t, "tdx/quote_v4.dat")
	at := time.Date(2023, 7, 1, 1, 0, 0, 0, time.UTC)
	now := at
	svc, srv := serve(t, intelDocs(t))
	c := &Cache{Fetcher: &Fetcher{IntelPCS: srv.URL + "/", IntelRootCRL: srv.URL + "/IntelSGXRootCA.der", Now: func() time.Time { return now }}, TTL: time.Hour}
	b := &attest.Bundle{Version: 1, TEE: attest.TEETDX, Evidence: quote, Keys: []attest.Key{{Name: attest.KeyEd25519, Public: make([]byte, 32)}}, CreatedAt: at.Unix()}
	for i, step := range []struct {
		after time.Duration
		asked int // requests to the PCS so far
	}{{0, 4}, {59 * time.Minute, 4}, {61 * time.Minute, 8}} {
		now = at.Add(step.after)
		coll, err := c.Fetch(context.Background(), b)
		if err != nil || coll.TDX == nil || len(coll.TDX.PCKCRL) == 0 {
			t.Fatalf("fetch %d: %+v, %v", i, coll, err)
		}
		if len(svc.asked) != step.asked {
			t.Fatalf("after %s: %d requests to the PCS, want %d", step.after, len(svc.asked), step.asked)
		}
	}
	dev := &attest.Bundle{Version: 1, TEE: attest.TEEDev, Evidence: []byte("{}")}
	if _, err := c.Fetch(context.Background(), dev); err == nil {
		t.Fatal("collateral for dev evidence")
	}
}
