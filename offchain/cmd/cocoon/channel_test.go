package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/xssnick/tonutils-go/address"

	"github.com/cocoon-network/cocoon/offchain/channel"
	"github.com/cocoon-network/cocoon/offchain/client/clienttest"
	"github.com/cocoon-network/cocoon/offchain/devnet"
	"github.com/cocoon-network/cocoon/offchain/devnet/httpapi"
	"github.com/cocoon-network/cocoon/offchain/internal/keyfile"
	"github.com/cocoon-network/cocoon/offchain/wallet"
)

// channelSideT is one side of a channel kept in a directory that the
// test opens in process between CLI runs (bbolt allows one opener).
type channelSideT struct {
	mu    sync.Mutex
	store *channel.Store
	c     channel.Cosigner
}

func (s *channelSideT) handler(path string, accept bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.c == nil {
			http.Error(w, "side closed", http.StatusServiceUnavailable)
			return
		}
		if accept {
			channel.AcceptHandler(s.c.(*channel.Payee)).ServeHTTP(w, r)
			return
		}
		channel.CosignHandler(s.c).ServeHTTP(w, r)
	})
}

func (s *channelSideT) set(st *channel.Store, c channel.Cosigner) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.store != nil {
		s.store.Close()
	}
	s.store, s.c = st, c
}

func fundedWalletFile(t *testing.T, e *devnet.Engine, path string, nano *big.Int) *wallet.File {
	t.Helper()
	f, err := wallet.New(wallet.V5R1)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Save(path, false); err != nil {
		t.Fatal(err)
	}
	addr, _ := f.Address()
	if _, err := e.Faucet(context.Background(), addr, nano); err != nil {
		t.Fatal(err)
	}
	return f
}

// cliDevnet is a devnet producing blocks until ctx ends, served over its
// toncenter-compatible HTTP API as cocoon devnet start serves it.
func cliDevnet(t *testing.T, ctx context.Context) (*devnet.Engine, *httptest.Server) {
	t.Helper()
	e, err := devnet.Open(ctx, devnet.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	go e.Run(ctx, 20*time.Millisecond)
	srv := httptest.NewServer(httpapi.New(e, nil).Handler())
	t.Cleanup(srv.Close)
	return e, srv
}

func TestChannelCommandsOnDevnet(t *testing.T) {
	isolateEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	e, srv := cliDevnet(t, ctx)

	dir := t.TempDir()
	payerDir, payeeDir := filepath.Join(dir, "app"), filepath.Join(dir, "worker")
	appWallet, workerWallet := filepath.Join(dir, "app.wallet"), filepath.Join(dir, "worker.wallet")
	fundedWalletFile(t, e, appWallet, big.NewInt(20e9))
	fundedWalletFile(t, e, workerWallet, big.NewInt(2e9))
	workerKeyPath := filepath.Join(dir, "worker.key")
	workerKey, err := keyfile.Create(workerKeyPath, "worker key")
	if err != nil {
		t.Fatal(err)
	}
	raw := make([]byte, 32)
	rand.Read(raw)
	payout := address.NewAddress(0, 0, raw)

	// The worker's side runs in process, serving its channel endpoint.
	payeeSide := &channelSideT{}
	openPayee := func() *channel.Payee {
		st, err := channel.OpenStore(payeeDir)
		if err != nil {
			t.Fatal(err)
		}
		p, err := channel.NewPayee(channel.PayeeConfig{Net: e, Key: workerKey, Payout: payout, Store: st, Poll: 20 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		payeeSide.set(st, p)
		return p
	}
	payee := openPayee()
	mux := http.NewServeMux()
	mux.Handle(channel.PathAccept, payeeSide.handler(channel.PathAccept, true))
	mux.Handle(channel.PathCosign, payeeSide.handler(channel.PathCosign, false))
	workerSrv := httptest.NewServer(mux)
	defer workerSrv.Close()

	net := []string{"--network", srv.URL}
	out, err := runCLI(t, append([]string{"channel", "open", "--wallet", appWallet, "--dir", payerDir, "--peer", workerSrv.URL,
		"--payee-key", fmt.Sprintf("%x", []byte(workerKey.Public().(ed25519.PublicKey))), "--payout", payout.String(),
		"--deposit", "2", "--quarantine", "1h", "--json"}, net...)...)
	if err != nil {
		t.Fatal(err)
	}
	var opened []struct{ ID, Phase, Deposit string }
	if err := json.Unmarshal([]byte(out), &opened); err != nil || len(opened) != 1 {
		t.Fatalf("open --json printed %q (%v)", out, err)
	}
	if opened[0].Phase != "open" || opened[0].Deposit != "2.000000000" {
		t.Fatalf("opened %+v", opened[0])
	}
	id, err := channel.ParseID(opened[0].ID)
	if err != nil {
		t.Fatal(err)
	}

	// The app pays three requests (what the gateway does in process).
	payerStore, err := channel.OpenStore(payerDir)
	if err != nil {
		t.Fatal(err)
	}
	payerKey, _, _ := keyfile.LoadOrCreate(filepath.Join(payerDir, "payer.key"), "channel payer key")
	payer, err := channel.NewPayer(channel.PayerConfig{Net: e, Key: payerKey, Store: payerStore})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		v, err := payer.Pay(id, big.NewInt(10_000_000))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := payee.Receive(ctx, v); err != nil {
			t.Fatal(err)
		}
	}
	payerStore.Close()

	out, err = runCLI(t, append([]string{"channel", "topup", "--wallet", appWallet, "--dir", payerDir, "--channel", id.String(), "--amount", "1"}, net...)...)
	if err != nil || !strings.Contains(out, "3.000000000") {
		t.Fatalf("topup: %v\n%s", err, out)
	}
	out, err = runCLI(t, append([]string{"channel", "status", "--dir", payerDir, "--json"}, net...)...)
	if err != nil {
		t.Fatal(err)
	}
	type status struct {
		Sent, Left, Settlement string
		Chain                  struct{ Status, Deposit string }
	}
	var st []status
	if err := json.Unmarshal([]byte(out), &st); err != nil || len(st) != 1 {
		t.Fatalf("status --json printed %q (%v)", out, err)
	}
	want := status{Sent: "0.030000000", Left: "2.970000000", Settlement: "open"}
	want.Chain.Status, want.Chain.Deposit = "open", "3.000000000"
	if diff := cmp.Diff(want, st[0]); diff != "" {
		t.Fatalf("status (-want +got):\n%s", diff)
	}

	// The worker commits through the CLI, alone: the app's voucher is all
	// the contract needs.
	payeeSide.set(nil, nil)
	out, err = runCLI(t, append([]string{"channel", "commit", "--wallet", workerWallet, "--key", workerKeyPath, "--dir", payeeDir,
		"--channel", id.String(), "--json"}, net...)...)
	if err != nil {
		t.Fatalf("commit: %v\n%s", err, out)
	}
	var committed struct{ Result, Withdrawn string }
	if err := json.Unmarshal([]byte(out), &committed); err != nil || committed.Withdrawn != "0.030000000" {
		t.Fatalf("commit --json printed %q (%v)", out, err)
	}

	// The app closes through the CLI; the worker approves in process.
	openPayee()
	out, err = runCLI(t, append([]string{"channel", "close", "--wallet", appWallet, "--dir", payerDir, "--channel", id.String(), "--peer", workerSrv.URL}, net...)...)
	// The worker committed its 0.03 before: the close pays it nothing
	// more, and the payer gets back its unspent deposit and the reserve.
	if err != nil || !strings.Contains(out, "closed") || !regexp.MustCompile(`at the close: 0\.000000000 TON to the worker's owner, 2\.9[89]\d+ TON back to the payer`).MatchString(out) {
		t.Fatalf("close: %v\n%s", err, out)
	}
	out, err = runCLI(t, append([]string{"channel", "status", "--dir", payerDir}, net...)...)
	// Closed in the store (PHASE) and on chain (CHAIN: the tombstone).
	if err != nil || strings.Count(out, "closed") < 2 {
		t.Fatalf("status after close: %v\n%s", err, out)
	}
	out, err = runCLI(t, append([]string{"channel", "status", "--dir", payerDir, "--json"}, net...)...)
	st = nil
	if err != nil || json.Unmarshal([]byte(out), &st) != nil || len(st) != 1 {
		t.Fatalf("status --json after close: %v\n%s", err, out)
	}
	// Nothing left to promise after the close, and settled.
	want = status{Sent: "0.030000000", Left: "0.000000000", Settlement: "settled"}
	want.Chain.Status, want.Chain.Deposit = "closed", "3.000000000"
	if diff := cmp.Diff(want, st[0]); diff != "" {
		t.Fatalf("status after close (-want +got):\n%s", diff)
	}

	// Bad input is a usage error naming the flag.
	for _, args := range [][]string{
		{"channel", "topup", "--wallet", appWallet, "--dir", payerDir, "--channel", "xyz", "--amount", "1"},
		{"channel", "topup", "--wallet", appWallet, "--dir", payerDir, "--channel", id.String(), "--amount", "-1"},
		{"channel", "close", "--wallet", appWallet, "--dir", payerDir, "--channel", id.String()},
		{"channel", "commit", "--wallet", appWallet, "--dir", payerDir, "--channel", id.String()},
	} {
		if _, err := runCLI(t, append(args, net...)...); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
}

// An app names the Worker contract and nothing else: channel open verifies
// the worker as discovery does and takes its endpoint, worker key and
// owner from there; flags beside --worker that disagree are refused before
// anything is sent.
func TestChannelOpenWithWorker(t *testing.T) {
	c := newCLINet(t)
	w := c.net.NewWorkerWith("w", clienttest.WorkerOptions{PriceIn: 1_000_000_000, PriceOut: 3_000_000_000, GasWallet: true})
	c.net.Run(20 * time.Millisecond)
	payerDir := filepath.Join(t.TempDir(), "payer")
	base := []string{"channel", "open", "--network", c.url, "--wallet", c.walletArg, "--dir", payerDir, "--deposit", "1", "--json"}
	for _, bad := range []struct {
		args []string
		want string
	}{
		{[]string{"--worker", w.Address.String()}, "--model is required with --worker"},
		{[]string{"--worker", w.Address.String(), "--model", c.net.Model, "--payee-key", strings.Repeat("ab", 32)}, "--payee-key " + strings.Repeat("ab", 32) + " disagrees"},
		{[]string{"--worker", w.Address.String(), "--model", c.net.Model, "--payout", c.net.Root.String()}, "--payout"},
		{[]string{}, "--peer is required without --worker"},
	} {
		if _, err := runCLI(t, append(base, bad.args...)...); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%v: %v, want %q", bad.args, err, bad.want)
		}
	}
	out, err := runCLI(t, append(base, "--worker", w.Address.String(), "--model", c.net.Model)...)
	if err != nil {
		t.Fatal(err)
	}
	var opened []struct{ ID, Phase, Deposit, Payee string }
	if err := json.Unmarshal([]byte(out), &opened); err != nil || len(opened) != 1 || opened[0].Phase != "open" || opened[0].Deposit != "1.000000000" {
		t.Fatalf("open --json printed %q (%v)", out, err)
	}
	// The worker's side of it, from its config: while the daemon runs it
	// holds the store, and the command says what to do instead.
	for _, args := range [][]string{
		{"channel", "status", "--config", w.Config},
		{"channel", "commit", "--network", c.url, "--config", w.Config, "--channel", opened[0].ID},
	} {
		if _, err := runCLI(t, args...); err == nil || !strings.Contains(err.Error(), "the worker daemon is running and holds its channel store") {
			t.Errorf("%v while the daemon runs: %v", args, err)
		}
	}
	if _, err := runCLI(t, "channel", "status", "--config", w.Config, "--dir", payerDir); err == nil || !strings.Contains(err.Error(), "leave out --dir") {
		t.Errorf("--config with --dir: %v", err)
	}
}
