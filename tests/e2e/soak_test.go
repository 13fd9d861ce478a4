package e2e

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cocoon-network/cocoon/offchain/chain"
	"github.com/cocoon-network/cocoon/offchain/client"
	"github.com/cocoon-network/cocoon/offchain/wallet"
	"github.com/cocoon-network/cocoon/offchain/worker"
)

var (
	soakJobs    = flag.Int("cocoon.soak.jobs", 0, "jobs the soak test runs (make soak); 0 skips it")
	soakSeed    = flag.Uint64("cocoon.soak.seed", 1, "seed of the soak test's kills")
	soakClients = flag.Int("cocoon.soak.clients", 4, "client wallets submitting at once")
)

// soakResult is what make soak reports (and writes to $COCOON_SOAK_OUT).
type soakResult struct {
	Seed                              uint64         `json:"seed"`
	Jobs                              int            `json:"jobs"`
	Completed, Failed, Expired, Other int            `json:"-"`
	Outcomes                          map[string]int `json:"outcomes"`
	NotDeployed                       int            `json:"not_deployed"`
	Lost                              int            `json:"lost"`
	MultipleReceipts                  int            `json:"jobs_with_more_than_one_receipt"`
	PaidTwice                         int            `json:"jobs_paid_twice"`
	WorkerKills, DevnetKills          int            `json:"-"`
	Kills                             map[string]int `json:"kills"`
	Seconds                           float64        `json:"seconds"`
}

// TestSoak (make soak) pushes jobs through a devnet and a worker while
// both are killed with SIGKILL at random and restarted, then checks that
// no job is lost (each one closed: completed, failed or refunded), none
// has more than one receipt and none paid the worker twice.
func TestSoak(t *testing.T) {
	if *soakJobs <= 0 {
		t.Skip("make soak runs this test (-cocoon.soak.jobs=N)")
	}
	began := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 110*time.Minute)
	defer cancel()
	rng := rand.New(rand.NewPCG(*soakSeed, 0x50a4))
	c := newCluster(t)
	a := newApp(t, c)
	c.worker.kill()
	c.editWorkerConfig(t, map[string]string{"max_concurrent": "16", "token_delay": `"2ms"`})
	c.startWorker(t)
	var mu sync.Mutex // guards c.worker and c.devnet against the killer

	wallets := make([]*wallet.Wallet, *soakClients)
	for i := range wallets {
		f, err := wallet.Load(c.newWallet(t, fmt.Sprintf("soak-client-%d", i), "1000"))
		if err != nil {
			t.Fatal(err)
		}
		if wallets[i], err = f.Open(wallet.WithPollInterval(100 * time.Millisecond)); err != nil {
			t.Fatal(err)
		}
	}

	res := soakResult{Seed: *soakSeed, Jobs: *soakJobs, Outcomes: map[string]int{}, Kills: map[string]int{}}
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
			mu.Lock()
			if rng.IntN(10) < 7 {
				c.worker.kill()
				time.Sleep(time.Duration(200+rng.IntN(1500)) * time.Millisecond)
				c.worker = start(t, "worker", "worker", "run", "--config", c.workerConfig())
				res.Kills["worker"]++
			} else {
				c.devnet.kill()
				time.Sleep(time.Duration(200+rng.IntN(1500)) * time.Millisecond)
				c.devnet = start(t, "devnet", "devnet", "start", "--data", filepath.Join(c.dir, "devnet"),
					"--listen", strings.TrimPrefix(c.network, "http://"), "--block-interval", "100ms")
				res.Kills["devnet"]++
			}
			mu.Unlock()
		}
	}()

	// Submit from every client wallet at once; a submission that fails
	// (the devnet was down) is tried again with a new job.
	var jobsMu sync.Mutex
	var jobs []*client.Job
	var wg sync.WaitGroup
	per := (*soakJobs + len(wallets) - 1) / len(wallets)
	for i, w := range wallets {
		wg.Add(1)
		sdk := client.New(a.net, client.Options{Dir: t.TempDir(), PollInterval: 100 * time.Millisecond})
		go func() {
			defer wg.Done()
			for n := 0; n < per && i*per+n < *soakJobs; {
				job, err := sdk.Submit(ctx, client.SubmitRequest{Wallet: w, Root: a.root, Model: model,
					Prompt: fmt.Sprintf("soak %d-%d", i, n), MaxOutputTokens: 8, Deadline: 2 * time.Minute})
				if job != nil {
					jobsMu.Lock()
					jobs = append(jobs, job)
					jobsMu.Unlock()
				}
				if err != nil {
					if ctx.Err() != nil {
						return
					}
					time.Sleep(time.Second)
					if job == nil {
						continue // nothing was sent: the same job again
					}
				}
				n++
			}
		}()
	}
	wg.Wait()
	close(stopKills)
	<-killerDone
	waitHTTP(t, c.network+"/healthz", 30*time.Second)
	waitHTTP(t, c.workerURL+"/healthz", 30*time.Second)

	// Let the worker finish what it can, then refund what passed its deadline.
	open := settle(t, ctx, a, jobs, 90*time.Second)
	if len(open) > 0 {
		postJSON(t, c.network+"/devnet/advance", map[string]any{"seconds": 300})
		for _, job := range open {
			if _, err := a.sdk.Refund(ctx, a.wallet, job); err != nil {
				t.Logf("refunding %s: %v", job.Address, err)
			}
		}
		open = settle(t, ctx, a, open, 60*time.Second)
	}
	res.Lost = len(open)

	paid := map[string]int{}
	h, err := worker.ReadHistory(ctx, a.net, a.workerAddress(t, c), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range h.Entries {
		if e.Kind == worker.EventPaid {
			paid[e.Job.StringRaw()]++
		}
	}
	for _, job := range jobs {
		out, err := a.sdk.Status(ctx, job)
		if err != nil {
			t.Fatalf("status of %s: %v", job.Address, err)
		}
		if out.State == client.StateUnknown {
			res.NotDeployed++
			continue
		}
		res.Outcomes[string(out.State)]++
		if n := receipts(t, ctx, a.net, job.Address); n > 1 {
			res.MultipleReceipts++
		}
		if paid[job.Address.StringRaw()] > 1 {
			res.PaidTwice++
		}
	}
	res.Seconds = time.Since(began).Seconds()
	raw, _ := json.MarshalIndent(res, "", "  ")
	t.Logf("soak result:\n%s", raw)
	if p := os.Getenv("COCOON_SOAK_OUT"); p != "" {
		if err := os.WriteFile(p, raw, 0o644); err != nil {
			t.Error(err)
		}
	}
	if res.Lost > 0 || res.MultipleReceipts > 0 || res.PaidTwice > 0 {
		t.Fatalf("%d lost, %d with more than one receipt, %d paid twice", res.Lost, res.MultipleReceipts, res.PaidTwice)
	}
}

// settle waits up to within for the jobs to close and returns those still open.
func settle(t *testing.T, ctx context.Context, a *app, jobs []*client.Job, within time.Duration) []*client.Job {
	t.Helper()
	deadline := time.Now().Add(within)
	open := jobs
	for len(open) > 0 && time.Now().Before(deadline) {
		var still []*client.Job
		for _, job := range open {
			acc, err := a.net.Account(ctx, job.Address)
			if err != nil || (acc.Status == chain.StatusActive) {
				still = append(still, job)
			}
		}
		open = still
		if len(open) > 0 {
			time.Sleep(time.Second)
		}
	}
	return open
}
