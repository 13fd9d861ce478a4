package e2e

import (
	"bytes"
	"encoding/json"
	"net/http"
	"path/filepath"
	"testing"
	"time"
)

// A gateway killed with SIGKILL and started again on the same data goes on
// paying its channel from where its vouchers were: 10 requests, kill -9,
// 15 more, and the worker holds a voucher for exactly what it charged for
// all 25 (issue 18: the restarted gateway counted from zero, its vouchers
// were refused as older, and the worker stayed short by the first run).
func TestGatewayRestartPaysExactly(t *testing.T) {
	c := newCluster(t)
	gwWallet := c.newWallet(t, "gateway", "20")
	const key = "sk-e2e-restart-0123456789"
	listen := freePort(t)
	base := "http://" + listen
	data := filepath.Join(c.dir, "gateway")
	startGateway := func() *proc {
		gw := start(t, "gateway", "gateway", "--network", c.network, "--root", c.root, "--wallet", gwWallet,
			"--listen", listen, "--model", model, "--api-key", key, "--refresh", "1s", "--data", data)
		waitHTTP(t, base+"/healthz", 30*time.Second)
		// The first request waits for discovery (and, the first time, the
		// channel to open).
		deadline := time.Now().Add(60 * time.Second)
		for chat(base, key, "warm up repeat 20 words") != nil {
			if time.Now().After(deadline) {
				t.Fatal("the gateway never served a request")
			}
			time.Sleep(200 * time.Millisecond)
		}
		return gw
	}

	gw := startGateway()
	if errs := chatMany(base, key, 10, 1); len(errs) > 0 {
		t.Fatalf("first run: %d of 10 failed: %v", len(errs), errs[0])
	}
	gw.kill()
	var chans []struct {
		ID   string `json:"id"`
		Role string `json:"role"`
	}
	cliJSON(t, &chans, "channel", "status", "--dir", data)
	if len(chans) != 1 || chans[0].Role != "payer" {
		t.Fatalf("the gateway's channels: %+v", chans)
	}

	gw = startGateway()
	if errs := chatMany(base, key, 15, 3); len(errs) > 0 {
		t.Fatalf("after kill -9: %d of 15 failed: %v", len(errs), errs[0])
	}
	if n := completedOnline(t, c.workerURL); n != 27 {
		t.Fatalf("the worker completed %d requests, want 27 (25 and two warm-ups)", n)
	}
	// The worker's account of that payer: every charge paid, to the
	// nanoton, once the last voucher is delivered.
	var acct struct{ Charged, Paid string }
	deadline := time.Now().Add(20 * time.Second)
	for {
		req, _ := http.NewRequest(http.MethodPost, c.workerURL+"/v1/vouchers", bytes.NewReader(nil))
		req.Header.Set("Cocoon-Payer", chans[0].ID)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		err = json.NewDecoder(resp.Body).Decode(&acct)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if acct.Charged == acct.Paid && acct.Paid != "0" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("worker charged %s nanoton, holds vouchers for %s", acct.Charged, acct.Paid)
		}
		time.Sleep(200 * time.Millisecond)
	}
	gw.kill()
	cliJSON(t, &chans, "channel", "status", "--dir", data)
	if len(chans) != 1 {
		t.Fatalf("the restarted gateway opened another channel: %+v", chans)
	}
}
