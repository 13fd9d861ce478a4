// Command devnetbench measures devnet throughput against @ton/sandbox on the
// same machine in the same run, and the devnet server's memory with 10,000
// accounts, and writes the results into docs/PERFORMANCE.md (between its
// devnetbench markers). `make bench` runs it.
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"github.com/cocoon-network/cocoon/scripts/internal/docsection"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/xssnick/tonutils-go/address"
)

func main() {
	out := flag.String("out", "docs/PERFORMANCE.md", "Markdown file to update")
	n := flag.Int("n", 2000, "transfers and chains per workload")
	accounts := flag.Int("accounts", 10000, "accounts to create for the memory measurement")
	flag.Parse()
	if err := run(*out, *n, *accounts); err != nil {
		fmt.Fprintln(os.Stderr, "devnetbench:", err)
		os.Exit(1)
	}
}

type sandboxResult struct {
	Engine          string  `json:"engine"`
	TransfersPerSec float64 `json:"transfers_per_sec"`
	Chain3PerSec    float64 `json:"chain3_per_sec"`
	Node            string  `json:"node"`
}

func run(out string, n, accounts int) error {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()

	fmt.Fprintln(os.Stderr, "devnetbench: devnet workloads (go test -bench) ...")
	devnet, err := goBench(ctx, n)
	if err != nil {
		return err
	}
	fmt.Fprintln(os.Stderr, "devnetbench: the same workloads on @ton/sandbox ...")
	sb, err := sandbox(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "devnetbench: server memory with %d accounts ...\n", accounts)
	idle, full, err := serverMemory(ctx, accounts)
	if err != nil {
		return err
	}

	var b strings.Builder
	b.WriteString("## Devnet throughput (vs @ton/sandbox)\n\n")
	fmt.Fprintf(&b, "Measured %s on %d cores (%s, %s), command: `make bench` (`go run ./scripts/devnetbench`).\n", time.Now().UTC().Format("2006-01-02"), runtime.NumCPU(), runtime.GOOS+"/"+runtime.GOARCH, runtime.Version())
	fmt.Fprintf(&b, "Same workload both sides, signing done before timing: 100 deployed wallet v5r1 accounts; a *transfer* is a signed external sending 0.01 TON to another wallet (2 transactions); a *chain* is a wallet sending 0.05 TON to relay A → B → C (4 transactions, `contracts/relay.tolk`). The devnet numbers include the acceptance check of every external message, block production and the atomic commit to disk.\n\n")
	fmt.Fprintf(&b, "| workload | devnet | %s (%s) | ratio |\n|---|---:|---:|---:|\n", sb.Engine, sb.Node)
	fmt.Fprintf(&b, "| wallet transfers/s | %.0f | %.0f | %.1f× |\n", devnet["transfers/s"], sb.TransfersPerSec, devnet["transfers/s"]/sb.TransfersPerSec)
	fmt.Fprintf(&b, "| 3-contract chains/s | %.0f | %.0f | %.1f× |\n\n", devnet["chains/s"], sb.Chain3PerSec, devnet["chains/s"]/sb.Chain3PerSec)
	fmt.Fprintf(&b, "Target: at least 2× the sandbox's transfers per second.\n\n")
	fmt.Fprintf(&b, "Server memory (`cocoon devnet start`, VmRSS): %.1f MiB after start, %.1f MiB with %d funded accounts.\n", idle, full, accounts)
	if err := docsection.Write(out, "devnetbench", b.String()); err != nil {
		return err
	}
	fmt.Print(b.String())
	return nil
}

var benchLine = regexp.MustCompile(`([0-9.]+) (transfers/s|chains/s)`)

func goBench(ctx context.Context, n int) (map[string]float64, error) {
	cmd := exec.CommandContext(ctx, "go", "test", "-run", "^$", "-bench", ".", "-benchtime", fmt.Sprintf("%dx", n), "-count", "1", "./offchain/devnet/")
	cmd.Stderr = os.Stderr
	raw, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go test -bench: %w\n%s", err, raw)
	}
	res := map[string]float64{}
	for _, m := range benchLine.FindAllStringSubmatch(string(raw), -1) {
		v, _ := strconv.ParseFloat(m[1], 64)
		res[m[2]] = v
	}
	if res["transfers/s"] == 0 || res["chains/s"] == 0 {
		return nil, fmt.Errorf("benchmark output lacks results:\n%s", raw)
	}
	return res, nil
}

func sandbox(ctx context.Context) (*sandboxResult, error) {
	cmd := exec.CommandContext(ctx, "node", "bench.mjs")
	cmd.Dir = filepath.Join("tests", "sandboxbench")
	cmd.Stderr = os.Stderr
	raw, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("node tests/sandboxbench/bench.mjs (did make run npm ci there?): %w", err)
	}
	var r sandboxResult
	lines := bytes.Split(bytes.TrimSpace(raw), []byte("\n"))
	if err := json.Unmarshal(lines[len(lines)-1], &r); err != nil {
		return nil, fmt.Errorf("sandbox output: %w: %s", err, raw)
	}
	if r.TransfersPerSec == 0 || r.Chain3PerSec == 0 {
		return nil, fmt.Errorf("sandbox reported no throughput: %s", raw)
	}
	return &r, nil
}

// serverMemory starts bin/cocoon devnet start, funds accounts through the
// faucet and reads the process's resident memory before and after.
func serverMemory(ctx context.Context, accounts int) (idleMiB, fullMiB float64, err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, 0, err
	}
	addr := ln.Addr().String()
	ln.Close()
	dir, err := os.MkdirTemp("", "devnetbench-")
	if err != nil {
		return 0, 0, err
	}
	defer os.RemoveAll(dir)
	cmd := exec.CommandContext(ctx, filepath.Join("bin", "cocoon"), "--log-level", "warn", "devnet", "start", "--data", dir, "--listen", addr, "--block-interval", "50ms")
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return 0, 0, fmt.Errorf("starting bin/cocoon (run make build): %w", err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	base := "http://" + addr
	if err := waitHealthy(ctx, base); err != nil {
		return 0, 0, err
	}
	if idleMiB, err = rssMiB(cmd.Process.Pid); err != nil {
		return 0, 0, err
	}
	jobs := make(chan int)
	errs := make(chan error, 1)
	var wg sync.WaitGroup
	for w := 0; w < 255; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				if err := faucet(ctx, base, i); err != nil {
					select {
					case errs <- err:
					default:
					}
				}
			}
		}()
	}
	for i := 0; i < accounts; i++ {
		jobs <- i
		if i%2000 == 1999 {
			fmt.Fprintf(os.Stderr, "devnetbench: %d accounts funded\n", i+1)
		}
	}
	close(jobs)
	wg.Wait()
	select {
	case err := <-errs:
		return 0, 0, err
	default:
	}
	fullMiB, err = rssMiB(cmd.Process.Pid)
	return idleMiB, fullMiB, err
}

func waitHealthy(ctx context.Context, base string) error {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(base + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return errors.New("devnet server did not become healthy in 30s")
}

func faucet(ctx context.Context, base string, i int) error {
	h := sha256.Sum256([]byte(fmt.Sprintf("devnetbench account %d", i)))
	a := address.NewAddress(0, 0, h[:])
	body, _ := json.Marshal(map[string]string{"address": a.String(), "amount": "1000000000"})
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/devnet/faucet", bytes.NewReader(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return fmt.Errorf("faucet: HTTP %d: %s", resp.StatusCode, raw)
	}
	return nil
}

func rssMiB(pid int) (float64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if rest, ok := strings.CutPrefix(s.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 64)
			return kb / 1024, err
		}
	}
	return 0, errors.New("VmRSS not found")
}
