package e2e

import (
	"context"
	"math/big"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cocoon-network/cocoon/offchain/chain/chaintest"
	"github.com/cocoon-network/cocoon/offchain/channel"
	"github.com/cocoon-network/cocoon/offchain/devnet"
)

// Ctrl-C on `cocoon up` after a short session leaves every channel the
// gateway used closed on chain, each worker paid exactly the last voucher
// (issue 18: after 6 requests of a few tokens the log said "payment
// channel closed" while the chain showed the channel open and the worker's
// 0.000069 TON never paid: the close's payout was below its forwarding
// fee). The devnet keeps its state in --data, so the chain is read after
// the process is gone.
func TestUpInterruptSettlesEveryChannel(t *testing.T) {
	data := filepath.Join(t.TempDir(), "up")
	listen := freePort(t)
	const key = "sk-e2e-up-0123456789abcdef"
	p := start(t, "up", "up", "--data", data, "--listen", listen, "--workers", "2", "--api-key", key, "--block-interval", "20ms")
	deadline := time.Now().Add(2 * time.Minute)
	for !strings.Contains(p.out.String(), "OPENAI_BASE_URL=") {
		select {
		case <-p.done:
			t.Fatalf("cocoon up exited before it served:\n%s", tail(p.out.String(), 3000))
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("cocoon up never printed OPENAI_BASE_URL")
		}
		time.Sleep(100 * time.Millisecond)
	}
	base := "http://" + listen
	// What it printed is kept in DIR/env (0600: the API key), the Root
	// address too, for `. DIR/env` in another terminal.
	env, err := os.ReadFile(filepath.Join(data, "env"))
	if fi, serr := os.Stat(filepath.Join(data, "env")); err != nil || serr != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("DIR/env: %v, %v", err, serr)
	}
	for _, want := range []string{"OPENAI_BASE_URL=" + base + "/v1\n", "OPENAI_API_KEY=" + key + "\n", "COCOON_NETWORK=http://", "COCOON_ROOT="} {
		if !strings.Contains(string(env), want) || !strings.Contains(p.out.String(), want) {
			t.Fatalf("DIR/env and stdout should both have %q:\n%s", want, env)
		}
	}
	deadline = time.Now().Add(60 * time.Second)
	for chat(base, key, "warm up repeat 20 words") != nil {
		if time.Now().After(deadline) {
			t.Fatal("cocoon up never served a request")
		}
		time.Sleep(200 * time.Millisecond)
	}
	if errs := chatMany(base, key, 6, 2); len(errs) > 0 {
		t.Fatalf("%d of 6 requests failed: %v", len(errs), errs[0])
	}

	if err := syscall.Kill(p.cmd.Process.Pid, syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.done:
	case <-time.After(2 * time.Minute):
		t.Fatal("cocoon up did not stop within 2 minutes of Ctrl-C")
	}
	out := p.out.String()
	if code := p.cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("cocoon up exited %d after Ctrl-C:\n%s", code, tail(out, 3000))
	}
	if strings.Contains(out, "not closed on chain") || regexp.MustCompile(`level=ERROR`).MatchString(out) {
		t.Fatalf("cocoon up reported a problem on the way out:\n%s", tail(out, 3000))
	}

	// What the gateway signed, against what the chain shows.
	store, err := channel.OpenStore(filepath.Join(data, "gateway"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	recs, err := store.List()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	e, err := devnet.Open(ctx, devnet.Options{Dir: filepath.Join(data, "devnet")})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	paid := new(big.Int)
	for _, r := range recs {
		if r.Role != channel.RolePayer {
			continue
		}
		oc, err := channel.Read(ctx, e, r.Address)
		if err != nil {
			t.Fatal(err)
		}
		if oc.Status != channel.StatusClosed || r.Phase != channel.PhaseClosed {
			t.Errorf("channel %s: %s on chain, %s in the gateway's store; want both closed", r.Terms.ID, oc.Status, r.Phase)
			continue
		}
		if oc.Paid.Cmp(r.Sent()) != 0 || r.Sent().Sign() == 0 {
			t.Errorf("channel %s paid the worker %s, its last voucher is for %s", r.Terms.ID, oc.Paid, r.Sent())
		}
		if got := chaintest.SentTo(t, ctx, e, r.Address, r.Terms.PayeeAddress); got.Cmp(r.Sent()) != 0 {
			t.Errorf("channel %s sent the worker's owner %s, want exactly %s", r.Terms.ID, got, r.Sent())
		}
		paid.Add(paid, oc.Paid)
	}
	if paid.Sign() == 0 {
		t.Fatalf("no channel paid anything (%d records)", len(recs))
	}
	t.Logf("%d channel records; workers paid %s nanoton in all", len(recs), paid)
}
