package demo

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestDemo(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	dir := filepath.Join(t.TempDir(), "demo")
	var out bytes.Buffer
	const prompt = "zebra-quartz-7731 is a secret word"
	sum, err := Run(ctx, Options{Dir: dir, Prompt: prompt, Out: &out})
	if err != nil {
		t.Fatalf("demo: %v\n%s", err, out.String())
	}
	if sum.Jobs != 3 || sum.WorkerEarned.Sign() <= 0 || sum.Refunded.Sign() <= 0 || sum.Fees.Sign() <= 0 {
		t.Fatalf("summary %+v", sum)
	}
	final := regexp.MustCompile(`(?m)^demo: 3 jobs completed, worker earned \d+\.\d{9} TON, client refunded \d+\.\d{9} TON, fees \d+\.\d{9} TON$`)
	if !final.MatchString(out.String()) {
		t.Fatalf("no final line in:\n%s", out.String())
	}
	// Then the requests through the gateway, paid over a channel: the
	// worker got exactly what the gateway's vouchers promised, and the
	// channel's fees are shown beside a Job's.
	if sum.Requests != 5 || sum.ChannelPaid.Sign() <= 0 || sum.ChannelFees.Sign() <= 0 {
		t.Fatalf("channel summary: %d requests, paid %v, fees %v", sum.Requests, sum.ChannelPaid, sum.ChannelFees)
	}
	perAnswer := regexp.MustCompile(`(?m)^demo: chain fees per answer: \d+\.\d{9} TON as a Job, \d+\.\d{9} TON over the channel \(5 requests`)
	if !perAnswer.MatchString(out.String()) || strings.Count(out.String(), "  request ") != 5 {
		t.Fatalf("no requests through the gateway in:\n%s", out.String())
	}
	// The answers quote the prompt: the app opened them.
	if n := strings.Count(out.String(), "echo: zebra-quartz-7731"); n != 3 {
		t.Fatalf("%d opened answers quote the prompt, want 3:\n%s", n, out.String())
	}
	for _, sub := range []string{"devnet", "worker", "client"} {
		if st, err := os.Stat(filepath.Join(dir, sub)); err != nil || !st.IsDir() {
			t.Errorf("%s/ missing under the data dir", sub)
		}
	}
	// The prompt was sealed before it left the app: neither the chain nor
	// the worker kept it in clear.
	for _, sub := range []string{"devnet", "worker"} {
		filepath.WalkDir(filepath.Join(dir, sub), func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				if b, _ := os.ReadFile(p); bytes.Contains(b, []byte("zebra-quartz-7731")) {
					t.Errorf("the prompt appears in clear in %s", p)
				}
			}
			return nil
		})
	}
	// A second run into the same directory is refused, not mixed in.
	if _, err := Run(ctx, Options{Dir: dir, Out: &out}); err == nil {
		t.Fatal("a demo ran into a used directory")
	}
}
