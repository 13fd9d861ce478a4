// Command gatewaybench measures what the request path adds to an engine:
// a Go load generator streams "50 chunks of 128 bytes" answers from the
// reference engine served directly over HTTP, and the same engine behind
// Cocoon as users run it: `cocoon up` (devnet, a worker reaching the
// engine over HTTP as it reaches vLLM, a gateway paying over a payment
// channel on the devnet: real vouchers, the worker's real ledger), at
// concurrency 1 and 30, unpaced and paced like a GPU (2 ms before each
// chunk). A second table splits the path into processes (gateway, worker
// with the engine in-process, IOU vouchers) to read each one's CPU time
// per request from /proc.
//
//	make build && go run ./scripts/gatewaybench [-out docs/PERFORMANCE.md] [-n1 300] [-n30 3000]
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cocoon-network/cocoon/bindings"
	"github.com/cocoon-network/cocoon/offchain/attest/atls"
	"github.com/cocoon-network/cocoon/offchain/chain"
	"github.com/cocoon-network/cocoon/offchain/client"
	"github.com/cocoon-network/cocoon/offchain/gateway"
	"github.com/cocoon-network/cocoon/offchain/inference"
	"github.com/cocoon-network/cocoon/offchain/inference/reference"
	"github.com/cocoon-network/cocoon/offchain/seal"
	"github.com/cocoon-network/cocoon/offchain/worker"
	"github.com/cocoon-network/cocoon/scripts/internal/docsection"
)

const (
	model  = "bench"
	prompt = "stream 50 chunks of 128 bytes"
	apiKey = "sk-bench-0123456789abcdef"
)

func main() {
	if len(os.Args) > 1 && strings.HasPrefix(os.Args[1], "serve-") {
		if err := serve(os.Args[1], os.Args[2:]); err != nil {
			log.Fatal(err)
		}
		return
	}
	out := flag.String("out", "", "Markdown file whose gatewaybench section is rewritten (default: print only)")
	n1 := flag.Int("n1", 300, "requests at concurrency 1")
	n30 := flag.Int("n30", 3000, "requests at concurrency 30")
	flag.Parse()
	if err := run(*out, *n1, *n30); err != nil {
		log.Fatal(err)
	}
}

// child is a server process started from this binary.
type child struct {
	cmd  *exec.Cmd
	line string // the first line it printed
}

func startChild(args ...string) (*child, error) {
	cmd := exec.Command(os.Args[0], args...)
	cmd.Stderr = os.Stderr
	return startCmd(cmd, args[0])
}

// startCmd starts cmd and waits for the first line it prints on stdout;
// the rest of its stdout is discarded.
func startCmd(cmd *exec.Cmd, name string) (*child, error) {
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		_ = cmd.Process.Kill()
		return nil, fmt.Errorf("%s printed nothing: %w", name, err)
	}
	go func() { _, _ = io.Copy(io.Discard, out) }()
	return &child{cmd: cmd, line: strings.TrimSpace(line)}, nil
}

func (c *child) stop() { _ = c.cmd.Process.Kill(); _ = c.cmd.Wait() }

// cpu is the process's user+system CPU time, from /proc/PID/stat.
func (c *child) cpu() (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", c.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+2:]))
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	const ticks = 100 // USER_HZ on Linux
	return time.Duration(ut+st) * time.Second / ticks, nil
}

// result is one load run.
type result struct {
	name     string
	conc, n  int
	rps      float64
	p50, p99 time.Duration
	ttft50   time.Duration            // time to the first content chunk, p50
	cpu      map[string]time.Duration // per request, by process
}

func run(out string, n1, n30 int) error {
	tmp, err := os.MkdirTemp("", "gatewaybench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	engine, err := startChild("serve-engine", "0")
	if err != nil {
		return err
	}
	defer engine.stop()
	users, err := usersPath(tmp, n1, n30)
	if err != nil {
		return err
	}
	wk, err := startChild("serve-worker", tmp)
	if err != nil {
		return err
	}
	defer wk.stop()
	gw, err := startChild("serve-gateway", wk.line)
	if err != nil {
		return err
	}
	defer gw.stop()

	var results []result
	for _, conc := range []int{1, 30} {
		n := n1
		if conc == 30 {
			n = n30
		}
		r, err := load("engine direct", "http://"+engine.line, "", conc, n, map[string]*child{"engine": engine})
		if err != nil {
			return err
		}
		results = append(results, r)
		r, err = load("gateway → worker → engine", "http://"+gw.line, apiKey, conc, n, map[string]*child{"gateway": gw, "worker": wk})
		if err != nil {
			return err
		}
		results = append(results, r)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "## Gateway overhead (`go run ./scripts/gatewaybench`)\n\n")
	b.WriteString(users)
	load, _ := os.ReadFile("/proc/loadavg")
	fmt.Fprintf(&b, "Streamed answers of 50 chunks × 128 bytes from the reference engine, on this machine (%d CPUs, shared; load average %s at the end), %s.\n",
		runtime.NumCPU(), strings.Join(strings.Fields(string(load))[:min(3, len(strings.Fields(string(load))))], " "), time.Now().UTC().Format("2006-01-02"))
	fmt.Fprintf(&b, "(a) the engine behind a bare OpenAI-compatible HTTP server; (b) gateway → worker over attested TLS, with a\n")
	fmt.Fprintf(&b, "signed usage receipt, a checked IOU voucher per request and a signed capacity report per answer → the same engine.\n")
	fmt.Fprintf(&b, "Each server is its own process; CPU per request is its user+system time from /proc over the run (10 ms ticks).\n")
	fmt.Fprintf(&b, "The worker and the gateway flush a delta only when the next one has not arrived yet, so the reference engine's\n")
	fmt.Fprintf(&b, "instant bursts leave in few writes while a real engine's tokens leave one by one; (a) flushes every chunk.\n")
	fmt.Fprintf(&b, "On this shared machine runs differ by 15%% or more with the load; Telegram's Cocoon measured 25–30%% of direct and +1.8–2.1 ms here.\n\n")
	fmt.Fprintf(&b, "Split into processes (a second configuration, not the default: IOU vouchers, the engine inside the worker):\n\n")
	fmt.Fprintf(&b, "| path | concurrency | requests | req/s | p50 ms | p99 ms | CPU ms/request |\n|---|---:|---:|---:|---:|---:|---|\n")
	for _, r := range results {
		var cpu []string
		for _, k := range []string{"engine", "gateway", "worker"} {
			if d, ok := r.cpu[k]; ok {
				cpu = append(cpu, fmt.Sprintf("%s %.3f", k, float64(d)/1e6))
			}
		}
		fmt.Fprintf(&b, "| %s | %d | %d | %.0f | %.2f | %.2f | %s |\n", r.name, r.conc, r.n, r.rps, float64(r.p50)/1e6, float64(r.p99)/1e6, strings.Join(cpu, ", "))
	}
	direct30, gw30 := results[2], results[3]
	direct1, gw1 := results[0], results[1]
	fmt.Fprintf(&b, "\nSplit: (b) reaches %.0f%% of (a)'s req/s at concurrency 30 and adds %.2f ms to p50 at concurrency 1.\n",
		100*gw30.rps/direct30.rps, float64(gw1.p50-direct1.p50)/1e6)
	fmt.Print(b.String())
	if out != "" {
		return docsection.Write(out, "gatewaybench", b.String())
	}
	return nil
}

// load sends n streamed requests, conc at a time, and reads each to its end.
func load(name, base, key string, conc, n int, procs map[string]*child) (result, error) {
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64, MaxIdleConns: 64}}
	body, _ := json.Marshal(map[string]any{"model": model, "stream": true, "max_tokens": 64,
		"messages": []any{map[string]string{"role": "user", "content": prompt}}})
	one := func() (time.Duration, time.Duration, error) {
		req, _ := http.NewRequest(http.MethodPost, base+"/v1/chat/completions", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		start := time.Now()
		resp, err := hc.Do(req)
		if err != nil {
			return 0, 0, err
		}
		defer resp.Body.Close()
		// The first content chunk's arrival, then the rest.
		var ttft time.Duration
		buf := make([]byte, 32<<10)
		got := 0
		for {
			k, err := resp.Body.Read(buf)
			if ttft == 0 && bytes.Contains(buf[:k], []byte(`"content"`)) {
				ttft = time.Since(start)
			}
			got += k
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return 0, 0, err
			}
		}
		if resp.StatusCode != 200 || got < 50*128 {
			return 0, 0, fmt.Errorf("%s: HTTP %d, %d bytes", name, resp.StatusCode, got)
		}
		return time.Since(start), ttft, nil
	}
	for range 20 { // warm up connections and caches
		if _, _, err := one(); err != nil {
			return result{}, err
		}
	}
	before := map[string]time.Duration{}
	for k, c := range procs {
		before[k], _ = c.cpu()
	}
	lat := make([]time.Duration, n)
	ttfts := make([]time.Duration, n)
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	next := make(chan int)
	start := time.Now()
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				d, f, err := one()
				if err != nil {
					mu.Lock()
					first = cmpOr(first, err)
					mu.Unlock()
				}
				lat[i], ttfts[i] = d, f
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	elapsed := time.Since(start)
	if first != nil {
		return result{}, first
	}
	r := result{name: name, conc: conc, n: n, rps: float64(n) / elapsed.Seconds(), cpu: map[string]time.Duration{}}
	for k, c := range procs {
		after, _ := c.cpu()
		r.cpu[k] = (after - before[k]) / time.Duration(n)
	}
	slices.Sort(lat)
	slices.Sort(ttfts)
	r.p50, r.p99, r.ttft50 = lat[n/2], lat[min(n-1, n*99/100)], ttfts[n/2]
	return r, nil
}

func cmpOr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// serve runs one server process; its first stdout line says how to reach it.
func serve(what string, args []string) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	eng := reference.New(reference.Config{})
	switch what {
	case "serve-engine":
		// args[0]: milliseconds before each chunk (a GPU's pace).
		ms, err := strconv.Atoi(args[0])
		if err != nil {
			return err
		}
		eng = reference.New(reference.Config{TokenDelay: time.Duration(ms) * time.Millisecond})
		fmt.Println(ln.Addr().String())
		return http.Serve(ln, engineHandler(eng))
	case "serve-worker":
		return serveWorker(ln, eng, args[0])
	case "serve-gateway":
		return serveGateway(ln, args[0])
	}
	return fmt.Errorf("unknown %s", what)
}

// engineHandler is a bare OpenAI-compatible streaming endpoint in front
// of the engine: what an app would reach without Cocoon.
func engineHandler(eng inference.Engine) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Model     string              `json:"model"`
			Messages  []inference.Message `json:"messages"`
			MaxTokens int                 `json:"max_tokens"`
		}
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		s, err := eng.Chat(r.Context(), inference.Request{Model: req.Model, Messages: req.Messages, MaxTokens: req.MaxTokens})
		if err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		defer s.Close()
		w.Header().Set("Content-Type", "text/event-stream")
		fl := w.(http.Flusher)
		for {
			d, err := s.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return
			}
			b, _ := json.Marshal(map[string]any{"object": "chat.completion.chunk", "model": req.Model,
				"choices": []any{map[string]any{"index": 0, "delta": map[string]string{"content": d}}}})
			fmt.Fprintf(w, "data: %s\n\n", b)
			fl.Flush()
		}
		io.WriteString(w, "data: [DONE]\n\n")
	})
}

// workerInfo is what the gateway process needs to know of the worker.
type workerInfo struct {
	Endpoint    string `json:"endpoint"`
	Address     string `json:"address"`
	Key         []byte `json:"key"`
	Attestation []byte `json:"attestation"`
}

func serveWorker(ln net.Listener, eng inference.Engine, dir string) error {
	id, err := worker.InitIdentity(context.Background(), filepath.Join(dir, "keys"), seal.SuiteX25519)
	if err != nil {
		return err
	}
	cfgText, err := worker.RenderConfig(worker.InitValues{Network: "bench", Root: "0:" + strings.Repeat("11", 32), Owner: "0:" + strings.Repeat("22", 32),
		Listen: ln.Addr().String(), PublicURL: "https://" + ln.Addr().String(), Model: model})
	if err != nil {
		return err
	}
	cfgText += "\n[online]\nmax_concurrent = 64\nqueue = 64\npayments = \"iou\"\ncredit = \"100\"\n"
	path := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(path, []byte(cfgText), 0o600); err != nil {
		return err
	}
	cfg, err := worker.LoadConfig(path)
	if err != nil {
		return err
	}
	d, err := worker.New(cfg, id, worker.Options{Engine: eng})
	if err != nil {
		return err
	}
	tid, err := id.TLSIdentity(time.Now())
	if err != nil {
		return err
	}
	h := id.EvidenceHash()
	info, _ := json.Marshal(workerInfo{Endpoint: "https://" + ln.Addr().String(), Address: d.Address().String(),
		Key: id.SignKey.Public().(ed25519.PublicKey), Attestation: h[:]})
	fmt.Println(string(info))
	return http.Serve(tls.NewListener(ln, atls.ServerOnlyConfig(tid)), d.Handler())
}

type fixedSource struct{ w *client.Worker }

func (s fixedSource) Discover(context.Context, string) ([]*client.Worker, bool, error) {
	return []*client.Worker{s.w}, false, nil
}

func serveGateway(ln net.Listener, infoJSON string) error {
	var info workerInfo
	if err := json.Unmarshal([]byte(infoJSON), &info); err != nil {
		return err
	}
	addr, err := chain.ParseAddress(info.Address)
	if err != nil {
		return err
	}
	w := &client.Worker{Address: addr, Endpoint: info.Endpoint, WorkerKey: ed25519.PublicKey(info.Key),
		Price: bindings.ModelPrice{PriceIn: big.NewInt(5e8), PriceOut: big.NewInt(15e8)}}
	copy(w.AttestationHash[:], info.Attestation)
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	g, err := gateway.New(gateway.Config{Source: fixedSource{w}, Models: []string{model}, APIKeys: []string{apiKey},
		Payer: &gateway.IOUPayer{Key: key}, RefreshInterval: time.Hour})
	if err != nil {
		return err
	}
	go func() { _ = g.Run(context.Background()) }()
	<-g.Found()
	fmt.Println(ln.Addr().String())
	_, served := g.Serve(ln)
	return <-served
}

// usersPath measures the engine directly and through `cocoon up` (its
// default: payment channels on the devnet, the worker reaching the engine
// over HTTP), unpaced and paced, in the same run, and returns the
// section's first table.
func usersPath(tmp string, n1, n30 int) (string, error) {
	bin, err := filepath.Abs(filepath.Join("bin", "cocoon"))
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(bin); err != nil {
		return "", fmt.Errorf("bin/cocoon not found (run make build first, from the repository root): %w", err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "As users run it: `cocoon up --workers 2 --engine-url` (devnet, workers reaching the engine over HTTP, a gateway paying\n")
	fmt.Fprintf(&b, "over a payment channel on the devnet: a real voucher per answer, the worker's real ledger) against the same engine\n")
	fmt.Fprintf(&b, "served directly, in one run. Paced: the engine sleeps 2 ms before each of the 50 chunks, like a GPU. `cocoon up` is one\n")
	fmt.Fprintf(&b, "process (devnet, worker and gateway together): its CPU per request is the whole path's.\n\n")
	fmt.Fprintf(&b, "| path | pace | concurrency | requests | req/s | p50 ms | p99 ms | first token p50 ms | CPU ms/request |\n|---|---|---:|---:|---:|---:|---:|---:|---|\n")
	var summary []string
	for _, pace := range []int{0, 2} {
		engine, err := startChild("serve-engine", strconv.Itoa(pace))
		if err != nil {
			return "", err
		}
		up, err := startUp(bin, filepath.Join(tmp, fmt.Sprintf("up-%d", pace)), engine.line)
		if err != nil {
			engine.stop()
			return "", err
		}
		var rs []result
		for _, conc := range []int{1, 30} {
			n := n1
			if conc == 30 {
				n = n30
			}
			d, err := load("engine direct", "http://"+engine.line, "", conc, n, map[string]*child{"engine": engine})
			if err != nil {
				return "", err
			}
			u, err := load("`cocoon up` (channels)", strings.TrimSuffix(up.line, "/v1"), apiKey, conc, n, map[string]*child{"cocoon up": up, "engine": engine})
			if err != nil {
				return "", err
			}
			rs = append(rs, d, u)
		}
		for _, r := range rs {
			var cpu []string
			for _, k := range []string{"engine", "cocoon up"} {
				if d, ok := r.cpu[k]; ok {
					cpu = append(cpu, fmt.Sprintf("%s %.3f", k, float64(d)/1e6))
				}
			}
			paced := "none"
			if pace > 0 {
				paced = fmt.Sprintf("%d ms/chunk", pace)
			}
			fmt.Fprintf(&b, "| %s | %s | %d | %d | %.0f | %.2f | %.2f | %.2f | %s |\n", r.name, paced, r.conc, r.n, r.rps,
				float64(r.p50)/1e6, float64(r.p99)/1e6, float64(r.ttft50)/1e6, strings.Join(cpu, ", "))
		}
		d1, u1, d30, u30 := rs[0], rs[1], rs[2], rs[3]
		if pace == 0 {
			summary = append(summary, fmt.Sprintf("unpaced: %.0f%% of direct req/s at concurrency 30 (target ≥ 90%%), %+.2f ms p50 at concurrency 1 (target < +0.5 ms), CPU %.3f ms per request beyond the engine's (target < 0.5)",
				100*u30.rps/d30.rps, float64(u1.p50-d1.p50)/1e6, float64(u30.cpu["cocoon up"])/1e6))
		} else {
			summary = append(summary, fmt.Sprintf("paced: %+.2f ms to the whole answer (target < +1 ms) and %+.2f ms to the first token (target < +0.5 ms) at concurrency 1; %.0f%% of direct req/s at concurrency 30",
				float64(u1.p50-d1.p50)/1e6, float64(u1.ttft50-d1.ttft50)/1e6, 100*u30.rps/d30.rps))
		}
		up.interrupt()
		engine.stop()
	}
	fmt.Fprintf(&b, "\n%s.\n\n", strings.Join(summary, "; "))
	return b.String(), nil
}

// startUp runs `cocoon up` with two workers (16 slots each) in front of the engine at
// engineAddr; its first stdout line is OPENAI_BASE_URL=….
func startUp(bin, dir, engineAddr string) (*child, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	listen := ln.Addr().String()
	ln.Close()
	logf, err := os.Create(dir + ".log")
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "up", "--data", dir, "--workers", "2", "--listen", listen, "--api-key", apiKey,
		"--engine-url", "http://"+engineAddr+"/v1", "--model", model)
	cmd.Stderr = logf
	c, err := startCmd(cmd, "cocoon up (its log: "+logf.Name()+")")
	if err != nil {
		return nil, err
	}
	c.line = strings.TrimPrefix(c.line, "OPENAI_BASE_URL=")
	return c, nil
}

// interrupt stops a child as Ctrl-C does (cocoon up closes its channels).
func (c *child) interrupt() {
	_ = c.cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { _ = c.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(time.Minute):
		_ = c.cmd.Process.Kill()
		<-done
	}
}
