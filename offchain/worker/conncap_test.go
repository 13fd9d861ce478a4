package worker

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/cocoon-network/cocoon/offchain/attest/atls"
	"github.com/cocoon-network/cocoon/offchain/inference/reference"
)

// Junk connections up to the worker's whole connection cap, from several
// addresses, do not keep a gateway from its evidence and capacity report
// (issue 24: 256 idle sockets made a new TLS handshake time out, and
// re-opened every 10 s kept the worker off the network).
func TestJunkConnectionsDoNotLockOutGateways(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	n := setupNet(t, ctx)
	cfg, id, ln := registerWorkerAt(t, ctx, n, "https")
	d, err := New(cfg, id, Options{Network: n.e, Engine: reference.New(reference.Config{})})
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = d.Run(ctx, ln) }()
	u, err := url.Parse(cfg.PublicURL)
	if err != nil {
		t.Fatal(err)
	}
	gateway := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: atls.PinnedConfig(sha256.Sum256(id.Evidence)), DisableKeepAlives: true}}
	fetch := func(path string) error {
		resp, err := gateway.Get(cfg.PublicURL + path)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if _, err := io.Copy(io.Discard, resp.Body); err != nil {
			return err
		}
		if resp.StatusCode >= 500 && path == "/evidence" {
			return fmt.Errorf("HTTP %d", resp.StatusCode)
		}
		return nil
	}
	for fetch("/evidence") != nil { // the daemon is starting
		if ctx.Err() != nil {
			t.Fatal("the worker never answered")
		}
		time.Sleep(20 * time.Millisecond)
	}

	// The attacker: the whole cap in silent TCP connections, 32 from each
	// of 8 loopback addresses (each under its per-address share).
	var junk []net.Conn
	for i := range cfg.HTTP.MaxConnections {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 1, byte(1+i%8))}, Timeout: 5 * time.Second}
		c, err := d.DialContext(ctx, "tcp", u.Host)
		if err != nil {
			t.Fatalf("junk connection %d: %v", i, err)
		}
		junk = append(junk, c)
	}
	defer func() {
		for _, c := range junk {
			c.Close()
		}
	}()
	for _, path := range []string{"/evidence", "/v1/capacity", "/healthz"} {
		if err := fetch(path); err != nil {
			t.Fatalf("GET %s while %d junk connections are held: %v", path, len(junk), err)
		}
	}
	// And again with the junk re-opened, as the attack repeats.
	for i, c := range junk {
		c.Close()
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 1, byte(1+i%8))}, Timeout: 5 * time.Second}
		if junk[i], err = d.DialContext(ctx, "tcp", u.Host); err != nil {
			t.Fatalf("junk connection %d again: %v", i, err)
		}
	}
	if err := fetch("/v1/capacity"); err != nil {
		t.Fatalf("GET /v1/capacity after the junk was re-opened: %v", err)
	}
}
