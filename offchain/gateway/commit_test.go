package gateway

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/xssnick/tonutils-go/address"

	"github.com/cocoon-network/cocoon/bindings"
	"github.com/cocoon-network/cocoon/offchain/attest/dev"
	"github.com/cocoon-network/cocoon/offchain/channel"
	"github.com/cocoon-network/cocoon/offchain/client"
	"github.com/cocoon-network/cocoon/offchain/devnet"
	"github.com/cocoon-network/cocoon/offchain/inference/reference"
	"github.com/cocoon-network/cocoon/offchain/operator"
	"github.com/cocoon-network/cocoon/offchain/owner"
	"github.com/cocoon-network/cocoon/offchain/seal"
	"github.com/cocoon-network/cocoon/offchain/wallet"
	"github.com/cocoon-network/cocoon/offchain/wallet/wallettest"
	"github.com/cocoon-network/cocoon/offchain/worker"
)

// channelNet is a devnet with a test-mode Root, one real worker daemon
// (0.001 TON a token, committing past 0.05 TON from its gas wallet) and a
// gateway paying it over a channel with the given deposit and policy.
type channelNet struct {
	e           *devnet.Engine
	d           *worker.Daemon
	g           *Gateway
	srv         *httptest.Server
	store       *channel.Store
	ownerWallet *wallet.Wallet
	// chat sends request i through the gateway: its status and body.
	chat func(i int) (int, []byte)
}

func newChannelNet(t *testing.T, ctx context.Context, deposit *big.Int, policy channel.PayerPolicy, engine reference.Config) *channelNet {
	t.Helper()
	e, err := devnet.Open(ctx, devnet.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	// Blocks go on until every later cleanup (the worker's commit at
	// shutdown waits for the chain) has run.
	runCtx, stopRun := context.WithCancel(context.Background())
	t.Cleanup(stopRun)
	go e.Run(runCtx, 20*time.Millisecond)
	ton := func(n int64) *big.Int { return new(big.Int).Mul(big.NewInt(n), big.NewInt(1e9)) }
	fund := wallettest.Faucet(e)
	op := wallettest.Funded(t, ctx, fund, ton(10))
	ownerWallet := wallettest.Funded(t, ctx, fund, ton(100))
	gwWallet := wallettest.Funded(t, ctx, fund, ton(100))
	o, _, err := operator.Deploy(ctx, e, op, bindings.RootParams{
		MinWorkerStake: ton(1), UnbondingDelay: bindings.MinUnbondingDelay(86400), ProtocolFeeBps: 500, Treasury: op.Address(),
		MinJobDeadline: 30, MaxJobDeadline: 86400, SlashBps: 1000, TestMode: true,
	})
	if err != nil {
		t.Fatalf("deploying Root: %v", err)
	}
	if _, err := o.Do(ctx, bindings.AddMeasurement{TEE: bindings.TEEDev, Measurement: dev.Measurement(worker.DevImage)}); err != nil {
		t.Fatal(err)
	}
	if _, err := o.Do(ctx, bindings.AddModel{ModelID: bindings.ModelID(testModel), Info: bindings.ModelInfo{MinPriceIn: big.NewInt(1e8), MinPriceOut: big.NewInt(1e8)}}); err != nil {
		t.Fatal(err)
	}

	// The worker: 0.001 TON per token, commits past 0.05 TON, with a gas
	// wallet that pays the commit.
	dir := t.TempDir()
	id, err := worker.InitIdentity(ctx, filepath.Join(dir, "keys"), seal.SuiteX25519)
	if err != nil {
		t.Fatal(err)
	}
	gas, err := wallet.New(wallet.V5R1)
	if err != nil {
		t.Fatal(err)
	}
	if err := gas.Save(filepath.Join(dir, "gas.wallet"), false); err != nil {
		t.Fatal(err)
	}
	gasAddr, _ := gas.Address()
	if err := fund(ctx, gasAddr, ton(2)); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String()
	cfgText := strings.Join([]string{
		`network = "devnet"`, `root = "` + o.Root.String() + `"`, `owner = "` + ownerWallet.Address().String() + `"`,
		`public_url = "` + url + `"`, `poll_interval = "20ms"`, `max_concurrent = 2`,
		`[online]`, `gas_wallet = "gas.wallet"`, `commit_above = "0.05"`, `credit = "1"`,
		`[[models]]`, `name = "` + testModel + `"`, `price_in = "1000"`, `price_out = "1000"`,
	}, "\n")
	if err := os.WriteFile(filepath.Join(dir, "config.toml"), []byte(cfgText), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := worker.LoadConfig(filepath.Join(dir, "config.toml"))
	if err != nil {
		t.Fatal(err)
	}
	reg, err := worker.Registration(cfg, id)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := owner.Register(ctx, e, ownerWallet, reg, ton(5)); err != nil {
		t.Fatalf("registering the worker: %v", err)
	}
	d, err := worker.New(cfg, id, worker.Options{Network: e, Engine: reference.New(engine)})
	if err != nil {
		t.Fatal(err)
	}
	wctx, stopWorker := context.WithCancel(ctx)
	workerDone := make(chan struct{})
	go func() { _ = d.Run(wctx, ln); close(workerDone) }()
	t.Cleanup(func() { stopWorker(); <-workerDone })
	waitUp(t, url+"/healthz")

	// The gateway: a channel payer over the same chain.
	store, err := channel.OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	cp, err := channel.NewPayer(channel.PayerConfig{Net: e, Wallet: gwWallet, Key: key, Store: store, Poll: 20 * time.Millisecond, Policy: policy})
	if err != nil {
		t.Fatal(err)
	}
	payer := &ChannelPayer{Payer: cp, Store: store, Deposit: deposit}
	src := &staticSource{workers: []*client.Worker{{
		Address: d.Address(), Owner: ownerWallet.Address(), Endpoint: url, AttestationHash: id.EvidenceHash(),
		WorkerKey: id.SignKey.Public().(ed25519.PublicKey),
		Price:     bindings.ModelPrice{PriceIn: ton(1000), PriceOut: ton(1000)},
	}}}
	g, err := New(Config{Source: src, Models: []string{testModel}, APIKeys: []string{testKey}, Payer: payer,
		PollInterval: 50 * time.Millisecond, RefreshInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	gctx, stopGateway := context.WithCancel(ctx)
	gwDone := make(chan struct{})
	go func() { _ = g.Run(gctx); close(gwDone) }()
	t.Cleanup(func() { stopGateway(); <-gwDone })
	<-g.Found()
	srv := httptest.NewServer(g.Handler())
	t.Cleanup(srv.Close)
	tg := &testGateway{g: g, srv: srv}
	chat := func(i int) (int, []byte) {
		t.Helper()
		resp := tg.do(t, "POST", "/v1/chat/completions",
			fmt.Sprintf(`{"model":%q,"max_tokens":10,"messages":[{"role":"user","content":"request %d"}]}`, testModel, i), nil)
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode, b
	}
	return &channelNet{e: e, d: d, g: g, srv: srv, store: store, ownerWallet: ownerWallet, chat: chat}
}

// A worker whose earnings pass online.commit_above commits them by itself
// (its watcher submits the gateway's latest voucher; the gateway takes no
// part): the owner is paid on chain while the channel stays open, and
// later vouchers keep working. Real worker daemon and gateway, devnet
// chain.
func TestWorkerCommitsItsEarnings(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cn := newChannelNet(t, ctx, big.NewInt(1e9), channel.DefaultPayerPolicy(), reference.Config{})
	e, d, g, store, ownerWallet := cn.e, cn.d, cn.g, cn.store, cn.ownerWallet
	chat := func(i int) {
		t.Helper()
		if code, b := cn.chat(i); code != 200 {
			t.Fatalf("request %d: HTTP %d: %s", i, code, b)
		}
	}

	ownerBefore := balance(t, ctx, e, ownerWallet.Address())
	// Each request costs about 0.015 TON: the commit is due after a few.
	const n = 8
	for i := range n {
		chat(i)
	}
	var chanID channel.ID
	recs, err := store.List()
	if err != nil || len(recs) != 1 {
		t.Fatalf("gateway channels: %d, %v", len(recs), err)
	}
	chanID = recs[0].Terms.ID
	chAddr, _ := recs[0].Terms.Address()
	var oc *channel.OnChain
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(50 * time.Millisecond) {
		if oc, err = channel.Read(ctx, e, chAddr); err == nil && oc.Paid.Sign() > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no commit on chain after %d requests past the threshold (%v)", n, err)
		}
	}
	if oc.Status != channel.StatusOpen {
		t.Fatalf("channel %s after the commit, want open", oc.Status)
	}
	// What was committed is covered by vouchers the gateway signed.
	rec, _ := store.Get(chanID)
	if oc.Paid.Cmp(rec.Sent()) > 0 || oc.Paid.Cmp(big.NewInt(5e7)) <= 0 {
		t.Fatalf("withdrawn %s: not within (threshold, signed %s]", oc.Paid, rec.Sent())
	}
	// The owner got it, plus what the commit message's value (0.005 TON,
	// from the worker's gas wallet) left after the gas, less the payout's
	// forwarding fee (under 0.001 TON).
	var got *big.Int
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		got = new(big.Int).Sub(balance(t, ctx, e, ownerWallet.Address()), ownerBefore)
		if got.Sign() > 0 || time.Now().After(deadline) {
			break
		}
	}
	if extra := new(big.Int).Sub(got, oc.Paid); extra.Cmp(big.NewInt(-1e6)) <= 0 || extra.Cmp(big.NewInt(5e6)) >= 0 {
		t.Fatalf("owner received %s for a commit of %s", got, oc.Paid)
	}

	// Later vouchers keep working on the open channel.
	for i := range 3 {
		chat(n + i)
	}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		_, paid := d.Ledger().Balance(chanID.String())
		if r, _ := store.Get(chanID); paid.Cmp(r.Sent()) == 0 && paid.Cmp(oc.Paid) > 0 && g.payments.unpaid().Sign() == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("vouchers after the commit did not arrive: paid %s", paid)
		}
	}
}

// A worker refuses a request its channel's deposit cannot cover
// (insufficient_deposit); the gateway then tops the channel up and the
// next try is served: the app sees a retryable 503 at most, never a loss.
func TestGatewayTopsUpWhenTheWorkerAsks(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	// 0.05 TON lasts about three requests; the gateway's own policy never
	// tops up, so only the worker's refusal can.
	deposit := big.NewInt(5e7)
	cn := newChannelNet(t, ctx, deposit, channel.PayerPolicy{TopUpBelow: new(big.Int), TopUpAmount: deposit}, reference.Config{})
	served, refused := 0, 0
	for i := 0; served < 8; i++ {
		code, b := cn.chat(i)
		switch {
		case code == 200:
			served++
		case code == 503 && strings.Contains(string(b), "payment_pending"):
			refused++
			if refused > 100 {
				t.Fatalf("still waiting for a top-up after %d tries: %s", refused, b)
			}
			time.Sleep(100 * time.Millisecond)
		default:
			t.Fatalf("request %d: HTTP %d: %s", i, code, b)
		}
	}
	recs, err := cn.store.List()
	if err != nil || len(recs) != 1 {
		t.Fatalf("gateway channels: %d, %v", len(recs), err)
	}
	if refused == 0 || recs[0].Deposit.Cmp(deposit) <= 0 {
		t.Fatalf("deposit %s after %d refusals: the gateway never topped up", recs[0].Deposit, refused)
	}
	charged, _ := cn.d.Ledger().Balance(recs[0].Terms.ID.String())
	if charged.Cmp(recs[0].Deposit) > 0 {
		t.Fatalf("the worker charged %s against a deposit of %s", charged, recs[0].Deposit)
	}
}

// Streams the app abandons after the first token are paid exactly what the
// worker charged for the tokens it sent: the gateway fetches each one's
// receipt from the worker (GET /v1/receipts/{id}) and pays it, so after 100
// abandoned streams both sides agree to the nanoton and the worker's credit
// for the gateway is untouched (issue 18: they were charged, never paid,
// and used up the credit, after which every request got 503).
func TestAbandonedStreamsArePaidExactly(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cn := newChannelNet(t, ctx, big.NewInt(1e9), channel.DefaultPayerPolicy(), reference.Config{TokenDelay: 5 * time.Millisecond})
	const n = 100
	errBusy := errors.New("busy")
	abandon := func(i int) error {
		body := fmt.Sprintf(`{"model":%q,"stream":true,"max_tokens":60,"messages":[{"role":"user","content":"abandoned %d repeat 60 words"}]}`, testModel, i)
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, cn.srv.URL+"/v1/chat/completions", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+testKey)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if resp.StatusCode == http.StatusTooManyRequests {
			return errBusy // the worker's two slots: an app retries
		}
		if resp.StatusCode != 200 {
			b, _ := io.ReadAll(resp.Body)
			return fmt.Errorf("HTTP %d: %s", resp.StatusCode, b)
		}
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if strings.Contains(sc.Text(), `"content"`) {
				return nil // the first token came: the app leaves
			}
		}
		return fmt.Errorf("no token before the stream ended: %v", sc.Err())
	}
	for i := range n {
		err := abandon(i)
		for tries := 0; errors.Is(err, errBusy) && tries < 100; tries++ {
			time.Sleep(20 * time.Millisecond)
			err = abandon(i)
		}
		if err != nil {
			t.Fatalf("stream %d: %v", i, err)
		}
	}
	cn.g.collecting.Wait()
	recs, err := cn.store.List()
	if err != nil || len(recs) != 1 {
		t.Fatalf("gateway channels: %d, %v", len(recs), err)
	}
	payer := recs[0].Terms.ID.String()
	var charged, paid *big.Int
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		charged, paid = cn.d.Ledger().Balance(payer)
		if charged.Sign() > 0 && charged.Cmp(paid) == 0 && cn.g.payments.unpaid().Sign() == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %d abandoned streams the worker charged %s, holds vouchers for %s; the gateway owes %s beyond them",
				n, charged, paid, cn.g.payments.unpaid())
		}
	}
	if spent := cn.g.Spent(); spent.Cmp(charged) != 0 {
		t.Fatalf("the gateway paid %s, the worker charged %s", spent, charged)
	}
	// Charged for what was sent, not for 60 tokens each: the input and a
	// few tokens per stream (the price is 0.001 TON a token).
	full := new(big.Int).Mul(big.NewInt(n*(60+20)), big.NewInt(1e6))
	if charged.Cmp(full) >= 0 {
		t.Fatalf("charged %s for %d abandoned streams: as much as full answers", charged, n)
	}
	if got := testutil.ToFloat64(cn.g.metrics.collected); got < n/2 {
		t.Fatalf("%v receipts collected for %d abandoned streams", got, n)
	}
}

func balance(t *testing.T, ctx context.Context, e *devnet.Engine, a *address.Address) *big.Int {
	t.Helper()
	acc, err := e.Account(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	return acc.Balance
}

func waitUp(t *testing.T, url string) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if resp, err := http.Get(url); err == nil {
			resp.Body.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not come up", url)
		}
	}
}
