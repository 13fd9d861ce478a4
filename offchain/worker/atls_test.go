package worker

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cocoon-network/cocoon/offchain/client"
	"github.com/cocoon-network/cocoon/offchain/inference/reference"
)

// A worker with an https endpoint serves attested TLS, and the client SDK
// reaches it pinned to the evidence the Worker contract registered: the
// evidence fetch and a result too large for the receipt both travel over it.
func TestAttestedTLSEndpoint(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	n := setupNet(t, ctx)
	cfg, id, ln := registerWorkerAt(t, ctx, n, "https")
	d, err := New(cfg, id, Options{Network: n.e, Engine: reference.New(reference.Config{})})
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = d.Run(ctx, ln) }()

	// A plain WebPKI client cannot talk to it: the certificate is only
	// meaningful with its evidence.
	if _, err := http.Get(cfg.PublicURL + "/healthz"); err == nil {
		t.Fatal("a WebPKI client accepted the attested self-signed certificate")
	}

	c := client.New(n.e, client.Options{Dir: t.TempDir(), PollInterval: 50 * time.Millisecond})
	job, err := c.Submit(ctx, client.SubmitRequest{Wallet: n.client, Root: n.root, Model: testModel,
		Prompt: "over attested TLS repeat 300 words", MaxOutputTokens: 400})
	if err != nil {
		t.Fatal(err)
	}
	out, err := c.Wait(ctx, job)
	if err != nil {
		t.Fatal(err)
	}
	if out.Receipt.Result != nil || len(strings.Fields(out.Answer.Content)) < 300 {
		t.Fatalf("the large answer did not come over the attested endpoint: inline=%v, %d words", out.Receipt.Result != nil, len(strings.Fields(out.Answer.Content)))
	}
}
