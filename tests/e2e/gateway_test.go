package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// gwWorker is one worker process of the gateway test.
type gwWorker struct {
	name, dir, url, addr string
	proc                 *proc
}

func (w *gwWorker) config() string { return filepath.Join(w.dir, "config.toml") }

// addWorker creates, registers and starts another worker of c, with a slow
// reference engine so that requests are in flight long enough to kill it.
func (c *cluster) addWorker(t *testing.T, name string) *gwWorker {
	t.Helper()
	w := c.registerWorker(t, name, map[string]string{"poll_interval": `"100ms"`, "token_delay": `"10ms"`})
	w.start(t)
	return w
}

// registerWorker creates a worker of c with the config keys kv and
// registers it on chain; the caller starts it.
func (c *cluster) registerWorker(t *testing.T, name string, kv map[string]string) *gwWorker {
	t.Helper()
	w := &gwWorker{name: name, dir: filepath.Join(c.dir, name)}
	listen := freePort(t)
	w.url = "http://" + listen
	cli(t, "worker", "init", "--out", w.dir, "--network", c.network, "--root", c.root,
		"--owner", c.walletAddress(t, c.owner), "--model", model, "--listen", listen)
	setConfig(t, w.config(), kv)
	cli(t, "worker", "register", "--config", w.config(), "--owner-wallet", c.owner, "--stake", "10")
	var st struct {
		Worker string `json:"worker"`
	}
	cliJSON(t, &st, "worker", "status", "--config", w.config())
	w.addr = st.Worker
	return w
}

func (w *gwWorker) start(t *testing.T) {
	t.Helper()
	w.proc = start(t, w.name, "worker", "run", "--config", w.config())
	waitHTTP(t, w.url+"/healthz", 30*time.Second)
}

func setConfig(t *testing.T, path string, kv map[string]string) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	text := string(raw)
	for k, v := range kv {
		re := regexp.MustCompile(`(?m)^#?\s*` + regexp.QuoteMeta(k) + `\s*=.*$`)
		if !re.MatchString(text) {
			t.Fatalf("%s has no %s key", path, k)
		}
		text = re.ReplaceAllString(text, k+" = "+v)
	}
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

// completedOnline reads a worker's count of completed online requests.
func completedOnline(t *testing.T, url string) int {
	t.Helper()
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	m := regexp.MustCompile(`cocoon_worker_online_requests_total\{outcome="completed"\} (\d+)`).FindSubmatch(b)
	if m == nil {
		return 0
	}
	n, _ := strconv.Atoi(string(m[1]))
	return n
}

// chat sends one non-stream request through the gateway.
func chat(base, key, prompt string) error {
	return chatCtx(context.Background(), base, key, prompt)
}

// chatCtx is chat bounded by ctx.
func chatCtx(ctx context.Context, base, key, prompt string) error {
	body, _ := json.Marshal(map[string]any{"model": model, "max_tokens": 40, "messages": []any{map[string]string{"role": "user", "content": prompt}}})
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/v1/chat/completions", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return fmt.Errorf("HTTP %d: %s", resp.StatusCode, b)
	}
	var out struct {
		Choices []struct {
			Message struct{ Content string } `json:"message"`
		} `json:"choices"`
	}
	if err := json.Unmarshal(b, &out); err != nil || len(out.Choices) != 1 || len(strings.Fields(out.Choices[0].Message.Content)) != 20 {
		return fmt.Errorf("answer %s (%v)", b, err)
	}
	return nil
}

// chatMany sends n requests, conc at a time, and returns the failures.
func chatMany(base, key string, n, conc int) []error {
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
	)
	sem := make(chan struct{}, conc)
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := chat(base, key, fmt.Sprintf("request %d repeat 20 words", i)); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return errs
}

// transactionCount is how many transactions the chain holds for addr
// (fewer than 100: the accounts counted here have a handful).
func transactionCount(t *testing.T, network, addr string) int {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": 1, "method": "getTransactions", "params": map[string]any{"address": addr, "limit": 100}})
	resp, err := http.Post(network+"/api/v2/jsonRPC", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		OK     bool  `json:"ok"`
		Result []any `json:"result"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || !out.OK {
		t.Fatalf("getTransactions %s: %v", addr, err)
	}
	if len(out.Result) == 100 {
		t.Fatalf("%s has 100 or more transactions: too many to count this way", addr)
	}
	return len(out.Result)
}

// Three workers behind one gateway, each a process: load reaches all of
// them; one killed mid-run costs no request (those in flight go to the
// others before their answer reaches the app); the others keep serving;
// restarted, it gets traffic again. 200 requests add no transaction to the
// chain, and a marker prompt is found in no log and no file.
func TestGatewayThreeWorkers(t *testing.T) {
	c := newCluster(t)
	setConfig(t, c.workerConfig(), map[string]string{"token_delay": `"10ms"`})
	c.worker.kill()
	c.startWorker(t)
	var st struct {
		Worker string `json:"worker"`
	}
	cliJSON(t, &st, "worker", "status", "--config", c.workerConfig())
	workers := []*gwWorker{{name: "worker", dir: c.workerDir, url: c.workerURL, addr: st.Worker, proc: c.worker}}
	workers = append(workers, c.addWorker(t, "worker2"), c.addWorker(t, "worker3"))

	gwWallet := c.newWallet(t, "gateway", "20")
	const key = "sk-e2e-0123456789abcdef"
	listen := freePort(t)
	base := "http://" + listen
	gw := start(t, "gateway", "gateway", "--network", c.network, "--root", c.root, "--wallet", gwWallet,
		"--listen", listen, "--model", model, "--api-key", key, "--refresh", "1s", "--data", filepath.Join(c.dir, "gateway"))
	waitHTTP(t, base+"/healthz", 30*time.Second)
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(base + "/healthz")
		if err == nil {
			var h struct {
				Models map[string]map[string]int `json:"models"`
			}
			_ = json.NewDecoder(resp.Body).Decode(&h)
			resp.Body.Close()
			if h.Models[model]["healthy"] == 3 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("the gateway did not discover the three workers")
		}
		time.Sleep(200 * time.Millisecond)
	}

	// Load reaches every worker.
	if errs := chatMany(base, key, 30, 10); len(errs) > 0 {
		t.Fatalf("%d of 30 failed: %v", len(errs), errs[0])
	}
	for _, w := range workers {
		if completedOnline(t, w.url) == 0 {
			t.Fatalf("%s got no requests", w.name)
		}
	}

	// Kill worker2 while requests are in flight: none of them fails.
	done := make(chan []error, 1)
	before2 := completedOnline(t, workers[1].url)
	go func() { done <- chatMany(base, key, 60, 12) }()
	deadline = time.Now().Add(60 * time.Second)
	for completedOnline(t, workers[1].url) < before2+3 {
		if time.Now().After(deadline) {
			t.Fatal("worker2 got no share of the second batch")
		}
		time.Sleep(20 * time.Millisecond)
	}
	workers[1].proc.kill()
	if errs := <-done; len(errs) > 0 {
		t.Fatalf("%d of 60 failed around the kill: %v", len(errs), errs[0])
	}
	if errs := chatMany(base, key, 20, 5); len(errs) > 0 {
		t.Fatalf("after the kill %d of 20 failed: %v", len(errs), errs[0])
	}

	// It comes back and gets traffic again.
	workers[1].start(t)
	deadline = time.Now().Add(60 * time.Second)
	for completedOnline(t, workers[1].url) == 0 {
		if errs := chatMany(base, key, 6, 3); len(errs) > 0 {
			t.Fatalf("after the restart: %v", errs[0])
		}
		if time.Now().After(deadline) {
			t.Fatal("the restarted worker got no traffic")
		}
	}

	// 200 requests, no chain transaction: every payment is a voucher.
	gwAddr := c.walletAddress(t, gwWallet)
	counted := append([]string{gwAddr}, workers[0].addr, workers[1].addr, workers[2].addr)
	before := make([]int, len(counted))
	for i, a := range counted {
		before[i] = transactionCount(t, c.network, a)
	}
	const marker = "marker-narwhal-5821"
	errs := chatMany(base, key, 200, 16)
	if len(errs) > 0 {
		t.Fatalf("%d of 200 failed: %v", len(errs), errs[0])
	}
	if err := chat(base, key, marker+" repeat 20 words"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond) // a few blocks
	for i, a := range counted {
		if n := transactionCount(t, c.network, a); n != before[i] {
			t.Fatalf("%s has %d transactions after 200 requests, %d before", a, n, before[i])
		}
	}

	// Everything served is paid by channel vouchers (channels opened on
	// first use, before the count above).
	deadline = time.Now().Add(20 * time.Second)
	for {
		var h struct {
			Payment string `json:"payment"`
			Spent   string `json:"spent_nanoton"`
			Unpaid  string `json:"unpaid_nanoton"`
		}
		resp, err := http.Get(base + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		_ = json.NewDecoder(resp.Body).Decode(&h)
		resp.Body.Close()
		if h.Payment != "channel" || h.Spent == "0" {
			t.Fatalf("gateway health %+v", h)
		}
		if h.Unpaid == "0" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("usage not covered by vouchers: %+v", h)
		}
		time.Sleep(200 * time.Millisecond)
	}

	// The marker is in no log and no file.
	for _, p := range append([]*proc{gw, c.devnet}, workers[0].proc, workers[1].proc, workers[2].proc) {
		if strings.Contains(p.out.String(), marker) {
			t.Fatalf("%s logged the prompt", p.name)
		}
	}
	gw.kill()
	for _, w := range workers {
		w.proc.kill()
	}
	if hits := grepTree(t, c.dir, marker); len(hits) > 0 {
		t.Fatalf("the prompt is on disk: %v", hits)
	}
}
