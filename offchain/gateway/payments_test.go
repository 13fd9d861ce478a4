package gateway

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/xssnick/tonutils-go/address"

	"github.com/cocoon-network/cocoon/offchain/client"
	"github.com/cocoon-network/cocoon/offchain/internal/httpserve"
	"github.com/cocoon-network/cocoon/offchain/onlineproto"
)

// The gateway's unpaid counts what a worker reports it charged beyond the
// gateway's vouchers, not only what receipts the gateway holds proved: an
// abandoned stream whose receipt could not be fetched is a charge the
// gateway never saw (issue 18).
func TestUnpaidIncludesWhatTheWorkerReports(t *testing.T) {
	charged := "900"
	var askedAs string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/vouchers" || r.Method != http.MethodPost {
			http.NotFound(w, r)
			return
		}
		askedAs = r.Header.Get(onlineproto.HeaderPayer)
		httpserve.WriteJSON(w, http.StatusOK, map[string]string{"charged": charged, "paid": "300", "scheme": "iou"})
	}))
	defer srv.Close()
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	p, err := newPayments(&IOUPayer{Key: key}, nil, newMetrics(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	u := &upstream{w: &client.Worker{Address: address.NewAddress(0, 0, make([]byte, 32))}, base: srv.URL, hc: srv.Client()}
	a := p.acct(u.key())
	a.mu.Lock()
	a.worker, a.payer = u, "payer-1"
	a.paid, a.covered = big.NewInt(500), big.NewInt(300) // receipts proved 500, vouchers cover 300
	a.mu.Unlock()
	if got := p.unpaid(); got.Cmp(big.NewInt(200)) != 0 {
		t.Fatalf("unpaid before any report: %s, want 200", got)
	}
	// The periodic pass signs a voucher for the 500 the receipts proved
	// and asks the worker (its report is stale).
	p.catchUp(context.Background())
	if askedAs != "payer-1" {
		t.Fatalf("the worker was asked as payer %q", askedAs)
	}
	if got := p.unpaid(); got.Cmp(big.NewInt(400)) != 0 {
		t.Fatalf("unpaid with vouchers for 500 and the worker reporting 900 charged: %s, want 400", got)
	}
	// Garbage in a report is ignored: the last good one stands.
	charged = "lots"
	p.askReport(context.Background(), a, u, "payer-1")
	if got := p.unpaid(); got.Cmp(big.NewInt(400)) != 0 {
		t.Fatalf("unpaid after a garbage report: %s, want 400", got)
	}
	// A worker reporting less than the receipts proved changes nothing.
	charged = "100"
	p.askReport(context.Background(), a, u, "payer-1")
	if got := p.unpaid(); got.Sign() != 0 {
		t.Fatalf("unpaid with the worker reporting 100 charged: %s, want 0", got)
	}
}
