package e2e

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cocoon-network/cocoon/bindings"
	"github.com/cocoon-network/cocoon/offchain/chain"
	"github.com/cocoon-network/cocoon/offchain/chain/toncenter"
	"github.com/cocoon-network/cocoon/offchain/client"
	"github.com/cocoon-network/cocoon/offchain/tonamount"
)

// buildBadWorker compiles the misbehaving worker (internal/badworker), a
// program only this test uses.
func buildBadWorker(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	out := filepath.Join(t.TempDir(), "badworker")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, "./internal/badworker")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building internal/badworker: %v\n%s", err, b)
	}
	return out
}

// badRewrite is one receipt a badworker tampered with (its Rewrite).
type badRewrite struct {
	RequestID           string `json:"request_id"`
	InputTokens         uint32 `json:"input_tokens"`
	MaxTokens           uint32 `json:"max_tokens"`
	HonestOutputTokens  uint32 `json:"honest_output_tokens"`
	ClaimedOutputTokens uint32 `json:"claimed_output_tokens"`
	HonestCost          string `json:"honest_cost"`
	ClaimedCost         string `json:"claimed_cost"`
}

func badRewrites(t *testing.T, w *gwWorker) []badRewrite {
	t.Helper()
	var rs []badRewrite
	getJSON(t, w.url+"/badworker/rewrites", &rs)
	return rs
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET %s: HTTP %d: %s", url, resp.StatusCode, b)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}

// scrape returns a Prometheus text exposition.
func scrape(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// metricSum adds the samples of metric name whose labels include every
// (label, value) pair of want.
func metricSum(text, name string, want ...string) float64 {
	sum := 0.0
	for _, line := range strings.Split(text, "\n") {
		rest, ok := strings.CutPrefix(line, name)
		if !ok {
			continue
		}
		labels := ""
		if l, r, ok := strings.Cut(rest, "}"); ok && strings.HasPrefix(rest, "{") {
			labels, rest = l[1:], r
		} else if !strings.HasPrefix(rest, " ") {
			continue // another metric whose name starts with name
		}
		match := true
		for i := 0; i+1 < len(want); i += 2 {
			match = match && strings.Contains(","+labels+",", ","+want[i]+`="`+want[i+1]+`",`)
		}
		if v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64); match && err == nil {
			sum += v
		}
	}
	return sum
}

func rawAddress(t *testing.T, addr string) string {
	t.Helper()
	a, err := chain.ParseAddress(addr)
	if err != nil {
		t.Fatal(err)
	}
	return a.StringRaw()
}

func nanoFloat(v *big.Int) float64 {
	f, _ := new(big.Float).SetInt(v).Float64()
	return f
}

// Two misbehaving workers, each a real process (the worker daemon behind a
// proxy that tampers with its usage receipts: internal/badworker), next to
// an honest one behind a real gateway: one overclaims output tokens (its
// receipt re-signed with its own key), one signs its receipts with another
// key. Every app request succeeds; each bad worker serves one request, is
// dropped, and is paid only what its receipt proves (nothing for the bad
// signature; the request's token limit for the overclaim) in the gateway's
// metrics, its dashboard, its channel vouchers and the worker's own
// account; the honest worker serves everything else and is paid in full.
func TestGatewayDropsMisbehavingWorkers(t *testing.T) {
	program := buildBadWorker(t)
	c := newCluster(t)
	var st struct {
		Worker string `json:"worker"`
	}
	cliJSON(t, &st, "worker", "status", "--config", c.workerConfig())
	honest := &gwWorker{name: "worker", dir: c.workerDir, url: c.workerURL, addr: st.Worker, proc: c.worker}
	bad := map[string]*gwWorker{}
	for _, mode := range []string{"overclaim", "wrong-key"} {
		w := c.registerWorker(t, mode, map[string]string{"poll_interval": `"100ms"`})
		w.proc = startProgram(t, mode, program, "--config", w.config(), "--mode", mode)
		waitHTTP(t, w.url+"/healthz", 30*time.Second)
		bad[mode] = w
	}
	over, wrong := bad["overclaim"], bad["wrong-key"]
	overRaw, wrongRaw, honestRaw := rawAddress(t, over.addr), rawAddress(t, wrong.addr), rawAddress(t, honest.addr)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// The workers as the gateway sees them on chain: keys and prices.
	rootAddr, err := chain.ParseAddress(c.root)
	if err != nil {
		t.Fatal(err)
	}
	found, err := client.Discover(ctx, toncenter.New(c.network), rootAddr, model, client.DiscoverOptions{})
	if err != nil {
		t.Fatal(err)
	}
	onChain := map[string]*client.Worker{}
	for _, w := range found.Workers {
		onChain[w.Address.StringRaw()] = w
	}
	for _, a := range []string{honestRaw, overRaw, wrongRaw} {
		if onChain[a] == nil {
			t.Fatalf("worker %s is not discoverable through Root", a)
		}
	}

	gwWallet := c.newWallet(t, "gateway", "20")
	gwData := filepath.Join(c.dir, "gateway")
	const key = "sk-e2e-0123456789abcdef"
	listen := freePort(t)
	base := "http://" + listen
	gw := start(t, "gateway", "gateway", "--network", c.network, "--root", c.root, "--wallet", gwWallet,
		"--listen", listen, "--model", model, "--api-key", key, "--refresh", "1s", "--data", gwData)
	waitHTTP(t, base+"/healthz", 30*time.Second)
	health := func() (h struct {
		Models map[string]map[string]int `json:"models"`
		Spent  string                    `json:"spent_nanoton"`
		Unpaid string                    `json:"unpaid_nanoton"`
	}) {
		getJSON(t, base+"/healthz", &h)
		return h
	}
	for health().Models[model]["healthy"] != 3 {
		if ctx.Err() != nil {
			t.Fatal("the gateway did not discover the three workers")
		}
		time.Sleep(100 * time.Millisecond)
	}

	// One request at a time until the gateway has tried both bad workers:
	// each then serves exactly one request before it is dropped.
	const requests = "cocoon_gateway_requests_total"
	sent := 0
	for {
		m := scrape(t, base)
		if metricSum(m, requests, "worker", overRaw) > 0 && metricSum(m, requests, "worker", wrongRaw) > 0 {
			break
		}
		if sent == 200 {
			t.Fatalf("after %d requests the gateway has not tried both bad workers", sent)
		}
		if err := chatCtx(ctx, base, key, fmt.Sprintf("request %d repeat 20 words", sent)); err != nil {
			t.Fatalf("request %d: %v", sent, err)
		}
		sent++
	}
	// Requests go on, all to the honest worker.
	const more = 20
	for i := range more {
		if err := chatCtx(ctx, base, key, fmt.Sprintf("later request %d repeat 20 words", i)); err != nil {
			t.Fatalf("after the drops, request %d: %v", i, err)
		}
	}
	total := sent + more

	m := scrape(t, base)
	for _, w := range []struct{ name, raw, reason string }{{"overclaim", overRaw, "overclaim"}, {"wrong-key", wrongRaw, "bad_signature"}} {
		if n, all := metricSum(m, requests, "worker", w.raw, "outcome", "bad_receipt"), metricSum(m, requests, "worker", w.raw); n != 1 || all != 1 {
			t.Errorf("%s: %v bad_receipt of %v requests in the gateway's metrics, want 1 of 1", w.name, n, all)
		}
		if n := metricSum(m, "cocoon_gateway_workers_dropped_total", "reason", w.reason); n != 1 {
			t.Errorf("workers dropped for %s: %v, want 1", w.reason, n)
		}
	}
	if n := metricSum(m, requests, "worker", honestRaw, "outcome", "ok"); n != float64(total-2) {
		t.Errorf("the honest worker answered %v requests, want %d", n, total-2)
	}
	if n := metricSum(m, requests, "outcome", "ok") + metricSum(m, requests, "outcome", "bad_receipt"); n != float64(total) {
		t.Errorf("%v answered attempts for %d requests, want one each", n, total)
	}

	// What each bad worker claimed, as its proxy saw it: one request each.
	overRW, wrongRW := badRewrites(t, over), badRewrites(t, wrong)
	if len(overRW) != 1 || len(wrongRW) != 1 {
		t.Fatalf("rewritten receipts: overclaim %d, wrong-key %d, want one each (a dropped worker gets no more requests)", len(overRW), len(wrongRW))
	}
	rw := overRW[0]
	if rw.ClaimedOutputTokens <= rw.MaxTokens || rw.HonestOutputTokens > rw.MaxTokens || rw.MaxTokens != 40 {
		t.Fatalf("the overclaim was not one: %+v", rw)
	}
	// The overclaimer is paid what the request allowed at its registered
	// price, not what it claimed; the bad signature is paid nothing.
	price := onChain[overRaw].Price
	proven := bindings.Charge(price.PriceIn, price.PriceOut, rw.InputTokens, rw.MaxTokens)
	claimed, ok := new(big.Int).SetString(rw.ClaimedCost, 10)
	if !ok || claimed.Cmp(proven) <= 0 {
		t.Fatalf("claimed cost %q is not above the proven %s", rw.ClaimedCost, proven)
	}
	const spend = "cocoon_gateway_spend_nanoton_total"
	if got := metricSum(m, spend, "worker", overRaw); got != nanoFloat(proven) {
		t.Errorf("the overclaiming worker was paid %v nanoton, want the proven %s (it claimed %s)", got, proven, claimed)
	}
	if got := metricSum(m, spend, "worker", wrongRaw); got != 0 {
		t.Errorf("the worker with the bad signature was paid %v nanoton, want 0", got)
	}
	honestPaid := metricSum(m, spend, "worker", honestRaw)
	if honestPaid <= 0 {
		t.Errorf("the honest worker was paid %v", honestPaid)
	}

	// /healthz: two dropped, one serving, everything proven covered by vouchers.
	for {
		h := health()
		if h.Models[model]["dropped"] != 2 || h.Models[model]["healthy"] != 1 {
			t.Fatalf("gateway health after the drops: %+v", h.Models)
		}
		if h.Spent != strconv.FormatFloat(honestPaid+nanoFloat(proven), 'f', 0, 64) {
			t.Fatalf("gateway spent %s, the metrics say %v + %s", h.Spent, honestPaid, proven)
		}
		if h.Unpaid == "0" {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("usage not covered by vouchers: %+v", h)
		}
		time.Sleep(100 * time.Millisecond)
	}

	// The dashboard says the same, in a snapshot taken after the last
	// request (it reuses one for a couple of seconds).
	settled := time.Now()
	var view struct {
		SnapshotTime time.Time `json:"snapshot_time"`
		Snapshot     struct {
			Status string `json:"status"`
			Panels []struct {
				Fields []struct{ Key, Value, Note string } `json:"fields"`
			} `json:"panels"`
			Counters []struct {
				Key   string  `json:"key"`
				Value float64 `json:"value"`
			} `json:"counters"`
			Warnings []struct{ Text string } `json:"warnings"`
		} `json:"snapshot"`
	}
	for getJSON(t, base+"/api/dashboard", &view); !view.SnapshotTime.After(settled); getJSON(t, base+"/api/dashboard", &view) {
		if ctx.Err() != nil {
			t.Fatalf("the dashboard shows no snapshot after %s (latest %s)", settled, view.SnapshotTime)
		}
		time.Sleep(100 * time.Millisecond)
	}
	snap := view.Snapshot
	if snap.Status != "serving" {
		t.Errorf("dashboard status %q, want serving", snap.Status)
	}
	fields := map[string]string{}
	for _, p := range snap.Panels {
		for _, f := range p.Fields {
			fields[f.Key] = f.Value + " (" + f.Note + ")"
		}
	}
	if f := fields["workers:"+model]; !strings.HasPrefix(f, "1 usable of 3") || !strings.Contains(f, "2 dropped") {
		t.Errorf("dashboard workers: %q", f)
	}
	for _, ct := range snap.Counters {
		if ct.Key == "bad_receipt" && ct.Value != 2 {
			t.Errorf("dashboard bad receipts: %v, want 2", ct.Value)
		}
	}
	for _, w := range []struct {
		addr, reason string
	}{{onChain[overRaw].Address.String(), "overclaim"}, {onChain[wrongRaw].Address.String(), "bad_signature"}} {
		want := "worker " + w.addr + " was dropped (" + w.reason + ")"
		found := false
		for _, warn := range snap.Warnings {
			found = found || strings.Contains(warn.Text, want)
		}
		if !found {
			t.Errorf("no dashboard warning %q in %+v", want, snap.Warnings)
		}
	}

	// The workers' own accounts: the overclaimer holds a voucher for the
	// proven amount once it arrives; the other holds none.
	const paid = "cocoon_worker_online_paid_nanoton_total"
	for metricSum(scrape(t, over.url), paid) != nanoFloat(proven) {
		if ctx.Err() != nil {
			t.Fatalf("the overclaiming worker holds a voucher for %v nanoton, want %s", metricSum(scrape(t, over.url), paid), proven)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if got := metricSum(scrape(t, wrong.url), paid); got != 0 {
		t.Errorf("the worker with the bad signature holds a voucher for %v nanoton", got)
	}

	// The gateway's channel store: one channel per worker (opened before
	// its first request), each voucher exactly what was proven.
	gw.kill()
	var chans []struct {
		Role     string `json:"role"`
		PayeeKey string `json:"payee_key"`
		Sent     string `json:"sent"`
	}
	cliJSON(t, &chans, "channel", "status", "--dir", gwData)
	want := map[string]*big.Int{
		hex.EncodeToString(onChain[honestRaw].WorkerKey): big.NewInt(int64(honestPaid)),
		hex.EncodeToString(onChain[overRaw].WorkerKey):   proven,
		hex.EncodeToString(onChain[wrongRaw].WorkerKey):  new(big.Int),
	}
	if len(chans) != len(want) {
		t.Fatalf("the gateway holds %d channels, want %d: %+v", len(chans), len(want), chans)
	}
	for _, ch := range chans {
		sent, err := tonamount.Parse(ch.Sent)
		w, ok := want[ch.PayeeKey]
		if err != nil || !ok || ch.Role != "payer" || sent.Cmp(w) != 0 {
			t.Errorf("channel to %s (%s): vouchers for %s TON, want %s nanoton", ch.PayeeKey, ch.Role, ch.Sent, w)
		}
	}
}
