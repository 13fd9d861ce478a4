package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/big"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cocoon-network/cocoon/bindings"
	"github.com/cocoon-network/cocoon/offchain/chain/chaintest"
	"github.com/cocoon-network/cocoon/offchain/chain/toncenter"
	"github.com/cocoon-network/cocoon/offchain/channel"
)

var soakRequests = flag.Int("cocoon.soak.requests", 0, "requests the money soak sends through the gateway (make soak); 0 skips it")

// moneySoakResult is what the money soak reports (and writes to
// $COCOON_SOAK_OUT.money).
type moneySoakResult struct {
	Seed      uint64         `json:"seed"`
	Requests  int            `json:"requests"`
	Outcomes  map[string]int `json:"outcomes"`
	Kills     map[string]int `json:"kills"`
	Channels  int            `json:"channels"`
	Signed    string         `json:"gateway_signed_nanoton"`
	PaidChain string         `json:"paid_to_workers_on_chain_nanoton"`
	AppUsage  string         `json:"usage_reported_to_apps_nanoton"`
	// LedgerLost is what killed workers' ledgers forgot of charges the
	// gateway paid (written behind; a SIGKILL loses the last write).
	LedgerLost int64   `json:"worker_ledger_lost_at_kills_nanoton"`
	Seconds    float64 `json:"seconds"`
}

// soakPriceIn and soakPriceOut are the workers' prices in the money soak,
// TON per million tokens.
const soakPriceIn, soakPriceOut = "0.5", "1.5"

// TestMoneySoak (make soak) pays three workers over channels through one
// gateway while the gateway, the workers and the devnet are killed with
// SIGKILL at random and restarted; the load mixes whole answers, streams
// and streams the app abandons after the first token. Then the gateway
// stops (closing every channel) and the chain is checked: every channel
// closed, each worker's owner paid exactly the gateway's last voucher on
// it (the charges whose receipts the gateway accepted, in flight at a
// kill included); no worker charged more than it was paid; the usage
// apps were told of is within what was paid (the rest is what streams
// they abandoned used); each channel's history conserves TON to the
// nanoton.
func TestMoneySoak(t *testing.T) {
	if *soakRequests <= 0 {
		t.Skip("make soak runs this test (-cocoon.soak.requests=N)")
	}
	began := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Minute)
	defer cancel()
	rng := rand.New(rand.NewPCG(*soakSeed, 0x3011e7))
	c := newCluster(t)
	prices := map[string]string{"price_in": `"` + soakPriceIn + `"`, "price_out": `"` + soakPriceOut + `"`, "token_delay": `"1ms"`}
	c.worker.kill()
	setConfig(t, c.workerConfig(), prices)
	workers := []*gwWorker{{name: "worker", dir: c.workerDir, url: c.workerURL}}
	workers[0].start(t)
	for _, name := range []string{"worker2", "worker3"} {
		w := c.registerWorker(t, name, map[string]string{"poll_interval": `"100ms"`, "price_in": prices["price_in"], "price_out": prices["price_out"], "token_delay": prices["token_delay"]})
		w.start(t)
		workers = append(workers, w)
	}
	gwWallet := c.newWallet(t, "gateway", "50")
	const key = "sk-e2e-money-soak-0123456789"
	listen := freePort(t)
	base := "http://" + listen
	gwData := filepath.Join(c.dir, "gateway")
	startGateway := func() *proc {
		return start(t, "gateway", "gateway", "--network", c.network, "--root", c.root, "--wallet", gwWallet, "--listen", listen,
			"--model", model, "--api-key", key, "--refresh", "1s", "--data", gwData, "--deposit", "2", "--close-channels-on-exit")
	}
	var mu sync.Mutex // guards the processes against the killer
	gw := startGateway()
	waitHTTP(t, base+"/healthz", 30*time.Second)

	res := moneySoakResult{Seed: *soakSeed, Requests: *soakRequests, Outcomes: map[string]int{}, Kills: map[string]int{}}
	killed := map[string]int{} // by worker name
	var resMu sync.Mutex
	appUsage := new(big.Int)
	priceIn, priceOut := tonPerMillion(t, soakPriceIn), tonPerMillion(t, soakPriceOut)

	stopKills := make(chan struct{})
	killerDone := make(chan struct{})
	go func() {
		defer close(killerDone)
		for {
			select {
			case <-stopKills:
				return
			case <-time.After(time.Duration(1000+rng.IntN(2000)) * time.Millisecond):
			}
			pause := time.Duration(200+rng.IntN(1500)) * time.Millisecond
			mu.Lock()
			switch k := rng.IntN(10); {
			case k < 5:
				w := workers[rng.IntN(len(workers))]
				w.proc.kill()
				killed[w.name]++
				time.Sleep(pause)
				w.proc = start(t, w.name, "worker", "run", "--config", w.config())
				res.Kills["worker"]++
			case k < 8:
				gw.kill()
				time.Sleep(pause)
				gw = startGateway()
				res.Kills["gateway"]++
			default:
				c.devnet.kill()
				time.Sleep(pause)
				c.devnet = start(t, "devnet", "devnet", "start", "--data", filepath.Join(c.dir, "devnet"),
					"--listen", strings.TrimPrefix(c.network, "http://"), "--block-interval", "100ms")
				res.Kills["devnet"]++
			}
			mu.Unlock()
		}
	}()

	// The load: 8 apps at once, until the requests are all sent.
	var sent atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for sent.Add(1) <= int64(*soakRequests) && ctx.Err() == nil {
				kind := "whole"
				switch r := rand.IntN(10); {
				case r == 0:
					kind = "abandoned"
				case r < 3:
					kind = "stream"
				}
				in, out, err := soakRequest(ctx, base, key, kind)
				outcome := kind
				if err != nil {
					outcome = kind + " failed"
				}
				resMu.Lock()
				res.Outcomes[outcome]++
				if err == nil && kind != "abandoned" {
					appUsage.Add(appUsage, bindings.Charge(priceIn, priceOut, in, out))
				}
				resMu.Unlock()
				if err != nil {
					time.Sleep(100 * time.Millisecond) // something is down: an app backs off
				}
			}
		})
	}
	wg.Wait()
	close(stopKills)
	<-killerDone
	t.Logf("load done in %s: %v; kills %v", time.Since(began).Round(time.Second), res.Outcomes, res.Kills)

	// Everything up again; the gateway delivers its last vouchers and
	// closes every channel when it stops.
	waitHTTP(t, c.network+"/healthz", 60*time.Second)
	for _, w := range workers {
		waitHTTP(t, w.url+"/healthz", 60*time.Second)
	}
	waitHTTP(t, base+"/healthz", 60*time.Second)
	if err := chat(base, key, "last one repeat 20 words"); err != nil {
		t.Logf("a last request: %v", err)
	}
	// The workers' own accounts of the gateway, before it closes.
	store := func() []*channel.Record {
		st, err := channel.OpenStore(gwData)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		recs, err := st.List()
		if err != nil {
			t.Fatal(err)
		}
		return recs
	}
	time.Sleep(time.Second) // the gateway gathers vouchers over 100 ms, then delivers
	if err := syscall.Kill(gw.cmd.Process.Pid, syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case <-gw.done:
	case <-time.After(3 * time.Minute):
		t.Fatal("the gateway did not stop within 3 minutes of SIGINT")
	}
	if code := gw.cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("the gateway exited %d:\n%s", code, tail(gw.out.String(), 3000))
	}

	net := toncenter.New(c.network)
	signed, paidOnChain := new(big.Int), new(big.Int)
	recs := store()
	for _, r := range recs {
		if r.Role != channel.RolePayer {
			continue
		}
		res.Channels++
		oc, err := channel.Read(ctx, net, r.Address)
		if err != nil {
			t.Fatal(err)
		}
		if oc.Status != channel.StatusClosed {
			t.Errorf("channel %s is %s on chain after the gateway stopped (its store says %s; failure %+v)", r.Terms.ID, oc.Status, r.Phase, r.Failure)
			continue
		}
		if oc.Paid.Cmp(r.Sent()) != 0 {
			t.Errorf("channel %s paid %s on chain, the gateway's last voucher is for %s", r.Terms.ID, oc.Paid, r.Sent())
		}
		if got := chaintest.SentTo(t, ctx, net, r.Address, r.Terms.PayeeAddress); got.Cmp(r.Sent()) != 0 {
			t.Errorf("channel %s sent the worker's owner %s, the last voucher is for %s", r.Terms.ID, got, r.Sent())
		}
		chaintest.Conserved(t, ctx, net, r.Address)
		signed.Add(signed, r.Sent())
		paidOnChain.Add(paidOnChain, oc.Paid)
	}
	// Each worker's own account: what it charged the gateway (its ledger)
	// against the vouchers it holds. More charged than paid would be a
	// receipt the gateway never paid: a failure. Less is allowed only for
	// a worker that was killed: its ledger is written behind the answers
	// and a SIGKILL loses the charges of its last few milliseconds, whose
	// receipts the gateway did get and pay.
	for _, w := range workers {
		for _, r := range recs {
			if r.Role != channel.RolePayer {
				continue
			}
			c, p, ok := workerAccount(w.url, r.Terms.ID.String())
			if !ok {
				continue
			}
			switch c.Cmp(p) {
			case 1:
				t.Errorf("%s charged channel %s %s, more than the %s its vouchers pay: a receipt went unpaid", w.name, r.Terms.ID, c, p)
			case -1:
				if killed[w.name] == 0 {
					t.Errorf("%s, never killed, charged channel %s %s and holds vouchers for %s", w.name, r.Terms.ID, c, p)
				}
				res.LedgerLost += new(big.Int).Sub(p, c).Int64()
			}
		}
	}
	res.Signed, res.PaidChain, res.AppUsage = signed.String(), paidOnChain.String(), appUsage.String()
	res.Seconds = time.Since(began).Seconds()
	out, _ := json.MarshalIndent(res, "", "  ")
	t.Logf("money soak: %s", out)
	if p := os.Getenv("COCOON_SOAK_OUT"); p != "" {
		_ = os.WriteFile(p+".money", out, 0o644)
	}
	if signed.Sign() == 0 || signed.Cmp(paidOnChain) != 0 {
		t.Fatalf("the gateway signed %s in all, the channels paid %s", signed, paidOnChain)
	}
	// Apps saw usage for every answer they read to the end; abandoned
	// streams are charged what they sent, which apps never see.
	if appUsage.Cmp(signed) > 0 {
		t.Fatalf("apps were told of usage worth %s, more than the workers were paid (%s)", appUsage, signed)
	}
}

// soakRequest sends one request of kind "whole", "stream" (read to the
// end, with usage) or "abandoned" (left after the first token) and
// returns the usage the app was told of.
func soakRequest(ctx context.Context, base, key, kind string) (in, out uint32, err error) {
	body := map[string]any{"model": model, "max_tokens": 20, "messages": []any{map[string]string{"role": "user", "content": "soak repeat 20 words"}}}
	if kind != "whole" {
		body["stream"] = true
		body["stream_options"] = map[string]bool{"include_usage": true}
	}
	b, _ := json.Marshal(body)
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/v1/chat/completions", bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return 0, 0, fmt.Errorf("HTTP %d: %s", resp.StatusCode, msg)
	}
	type usage struct {
		Prompt     uint32 `json:"prompt_tokens"`
		Completion uint32 `json:"completion_tokens"`
	}
	if kind == "whole" {
		var whole struct{ Usage *usage }
		if err := json.NewDecoder(resp.Body).Decode(&whole); err != nil || whole.Usage == nil {
			return 0, 0, fmt.Errorf("answer without usage: %v", err)
		}
		return whole.Usage.Prompt, whole.Usage.Completion, nil
	}
	sc := bufio.NewScanner(resp.Body)
	var u *usage
	for sc.Scan() {
		d, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok {
			continue
		}
		if kind == "abandoned" && strings.Contains(d, `"content"`) {
			return 0, 0, nil // the app leaves after the first token
		}
		if strings.Contains(d, `"error"`) {
			return 0, 0, fmt.Errorf("stream ended with %s", d)
		}
		var ch struct{ Usage *usage }
		if json.Unmarshal([]byte(d), &ch) == nil && ch.Usage != nil {
			u = ch.Usage
		}
	}
	if u == nil {
		return 0, 0, fmt.Errorf("stream without usage (%v)", sc.Err())
	}
	return u.Prompt, u.Completion, nil
}

// tonPerMillion is a price in TON per million tokens, in nanoton.
func tonPerMillion(t *testing.T, s string) *big.Int {
	t.Helper()
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		t.Fatalf("price %q", s)
	}
	r.Mul(r, big.NewRat(1e9, 1))
	return new(big.Int).Quo(r.Num(), r.Denom())
}

// workerAccount asks a worker what it charged payer and holds vouchers
// for (POST /v1/vouchers without a voucher); ok is false when the worker
// never served that payer.
func workerAccount(url, payer string) (charged, paid *big.Int, ok bool) {
	req, _ := http.NewRequest(http.MethodPost, url+"/v1/vouchers", http.NoBody)
	req.Header.Set("Cocoon-Payer", payer)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, nil, false
	}
	defer resp.Body.Close()
	var acct struct{ Charged, Paid string }
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&acct) != nil {
		return nil, nil, false
	}
	charged, ok1 := new(big.Int).SetString(acct.Charged, 10)
	paid, ok2 := new(big.Int).SetString(acct.Paid, 10)
	if !ok1 || !ok2 || (charged.Sign() == 0 && paid.Sign() == 0) {
		return nil, nil, false
	}
	return charged, paid, true
}
