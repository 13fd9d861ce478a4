package worker

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xssnick/tonutils-go/address"
	"github.com/xssnick/tonutils-go/tlb"
	tonwallet "github.com/xssnick/tonutils-go/ton/wallet"
	"github.com/xssnick/tonutils-go/tvm/cell"

	"github.com/cocoon-network/cocoon/bindings"
	"github.com/cocoon-network/cocoon/offchain/attest/dev"
	"github.com/cocoon-network/cocoon/offchain/chain"
	"github.com/cocoon-network/cocoon/offchain/chain/readers"
	"github.com/cocoon-network/cocoon/offchain/devnet"
	"github.com/cocoon-network/cocoon/offchain/inference"
	"github.com/cocoon-network/cocoon/offchain/inference/reference"
	"github.com/cocoon-network/cocoon/offchain/operator"
	"github.com/cocoon-network/cocoon/offchain/owner"
	"github.com/cocoon-network/cocoon/offchain/seal"
	"github.com/cocoon-network/cocoon/offchain/wallet"
	"github.com/cocoon-network/cocoon/offchain/wallet/wallettest"
)

const testModel = "cocoon-reference"

// net is a devnet with a test-mode Root that allows the dev worker image
// and the test model, and funded owner and client wallets.
type testNet struct {
	e      *devnet.Engine
	op     *operator.Operator
	root   *address.Address
	owner  *wallet.Wallet
	client *wallet.Wallet
}

func newWallet(t *testing.T, ctx context.Context, e *devnet.Engine, ton int64) *wallet.Wallet {
	t.Helper()
	return wallettest.Funded(t, ctx, wallettest.Faucet(e), new(big.Int).Mul(big.NewInt(ton), big.NewInt(1e9)))
}

func setupNet(t *testing.T, ctx context.Context) *testNet {
	t.Helper()
	e, err := devnet.Open(ctx, devnet.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	go e.Run(ctx, 20*time.Millisecond)
	n := &testNet{e: e}
	op := newWallet(t, ctx, e, 10)
	n.owner = newWallet(t, ctx, e, 100)
	n.client = newWallet(t, ctx, e, 100)
	o, _, err := operator.Deploy(ctx, e, op, bindings.RootParams{
		MinWorkerStake: big.NewInt(1e9), UnbondingDelay: bindings.MinUnbondingDelay(86400), ProtocolFeeBps: 500, Treasury: op.Address(),
		MinJobDeadline: 30, MaxJobDeadline: 86400, SlashBps: 1000, TestMode: true,
	})
	if err != nil {
		t.Fatalf("deploying Root: %v", err)
	}
	n.root, n.op = o.Root, o
	if _, err := o.Do(ctx, bindings.AddMeasurement{TEE: bindings.TEEDev, Measurement: dev.Measurement(DevImage)}); err != nil {
		t.Fatalf("allowing the dev measurement: %v", err)
	}
	if _, err := o.Do(ctx, bindings.AddModel{ModelID: bindings.ModelID(testModel), Info: bindings.ModelInfo{MinPriceIn: big.NewInt(1e8), MinPriceOut: big.NewInt(1e8)}}); err != nil {
		t.Fatalf("adding the model: %v", err)
	}
	return n
}

// registerWorker creates and registers a worker without running it.
func registerWorker(t *testing.T, ctx context.Context, n *testNet) (*Config, *Identity, net.Listener) {
	t.Helper()
	return registerWorkerAt(t, ctx, n, "http")
}

// registerWorkerAt is registerWorker with the endpoint's scheme: "https"
// makes the daemon serve attested TLS.
func registerWorkerAt(t *testing.T, ctx context.Context, n *testNet, scheme string) (*Config, *Identity, net.Listener) {
	t.Helper()
	dir := t.TempDir()
	id, err := InitIdentity(ctx, filepath.Join(dir, "keys"), seal.SuiteX25519)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := scheme + "://" + ln.Addr().String()
	cfgText := []byte(strings.Join([]string{
		`network = "devnet"`, `root = "` + n.root.String() + `"`, `owner = "` + n.owner.Address().String() + `"`,
		`public_url = "` + url + `"`, `poll_interval = "20ms"`, `max_concurrent = 2`,
		`[[models]]`, `name = "` + testModel + `"`, `price_in = "0.5"`, `price_out = "1.5"`,
	}, "\n"))
	if err := os.WriteFile(filepath.Join(dir, "config.toml"), cfgText, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := LoadConfig(filepath.Join(dir, "config.toml"))
	if err != nil {
		t.Fatal(err)
	}
	reg, err := Registration(cfg, id)
	if err != nil {
		t.Fatal(err)
	}
	v, err := owner.Register(ctx, n.e, n.owner, reg, big.NewInt(5e9))
	if err != nil {
		t.Fatalf("registering the worker: %v", err)
	}
	if v.Status != bindings.WorkerActive {
		t.Fatalf("worker status after registration: %s", v.Status)
	}
	return cfg, id, ln
}

// startWorker creates, registers and runs a worker.
func startWorker(t *testing.T, ctx context.Context, n *testNet) *Daemon {
	t.Helper()
	cfg, id, ln := registerWorker(t, ctx, n)
	return runWorker(t, ctx, n, cfg, id, ln)
}

// runWorker runs a registered worker's daemon with the reference engine
// until ctx ends.
func runWorker(t *testing.T, ctx context.Context, n *testNet, cfg *Config, id *Identity, ln net.Listener) *Daemon {
	t.Helper()
	d, err := New(cfg, id, Options{Network: n.e, Engine: reference.New(reference.Config{})})
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		if err := d.Run(ctx, ln); err != nil && ctx.Err() == nil {
			t.Errorf("daemon: %v", err)
		}
	}()
	return d
}

// submit deploys a job for the prompt with the request inline, as a client
// does, and returns the job's address and the client's result key.
func submit(t *testing.T, ctx context.Context, n *testNet, id *Identity, prompt string, maxOut uint32) (*address.Address, *seal.PrivateKey) {
	t.Helper()
	job, ck, _ := submitWith(t, ctx, n, id, prompt, maxOut, true)
	return job, ck
}

// submitWith is submit with the request inline or left for the client to
// post; it also returns the request envelope.
func submitWith(t *testing.T, ctx context.Context, n *testNet, id *Identity, prompt string, maxOut uint32, inline bool) (*address.Address, *seal.PrivateKey, []byte) {
	t.Helper()
	return submitDue(t, ctx, n, id, prompt, maxOut, inline, 600)
}

// submitDue is submitWith with the job's deadline due seconds from now.
func submitDue(t *testing.T, ctx context.Context, n *testNet, id *Identity, prompt string, maxOut uint32, inline bool, due uint32) (*address.Address, *seal.PrivateKey, []byte) {
	t.Helper()
	var nb [8]byte
	_, _ = rand.Read(nb[:])
	nonce := binary.BigEndian.Uint64(nb[:])
	job := bindings.JobAddress(n.root, n.client.Address(), nonce)
	ck, err := seal.GenerateKey(seal.SuiteX25519)
	if err != nil {
		t.Fatal(err)
	}
	chat := &inference.ChatRequest{V: inference.PlaintextVersion, Model: testModel, MaxTokens: int(maxOut),
		Messages: []inference.Message{{Role: "user", Content: prompt}}, ResultKey: ck.Public().Marshal()}
	pt, err := chat.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	env, err := seal.SealRequest(id.HPKE.Public(), jobAddr(job), pt)
	if err != nil {
		t.Fatal(err)
	}
	now, _ := n.e.MasterchainInfo(ctx)
	terms := bindings.JobTerms{
		ModelID: bindings.ModelID(testModel), Worker: workerAddr(t, n, id),
		PriceIn: big.NewInt(5e8), PriceOut: big.NewInt(15e8), MaxIn: 1000, MaxOut: maxOut,
		Deadline: now.Time + due, ClientHPKEKey: seal.Commitment(ck.Public()), RequestHash: sha256.Sum256(env),
	}
	var reqCell *cell.Cell
	if inline {
		if reqCell, err = bindings.BytesCell(env); err != nil {
			t.Fatal(err)
		}
	}
	body, err := bindings.Encode(bindings.JobCreate{QueryID: 1, Terms: terms, Request: reqCell})
	if err != nil {
		t.Fatal(err)
	}
	si, err := bindings.JobStateInit(n.root, n.client.Address(), nonce)
	if err != nil {
		t.Fatal(err)
	}
	escrow := new(big.Int).Add(bindings.MaxCost(terms), big.NewInt(1e8))
	msg := &tonwallet.Message{Mode: tonwallet.PayGasSeparately + tonwallet.IgnoreErrors, InternalMessage: &tlb.InternalMessage{
		IHRDisabled: true, Bounce: true, DstAddr: job, Amount: tlb.FromNanoTON(escrow), StateInit: si, Body: body,
	}}
	if _, err := n.client.Send(ctx, n.e, msg); err != nil {
		t.Fatalf("deploying the job: %v", err)
	}
	return job, ck, env
}

// waitClosed waits until the job account is gone and returns its receipt.
func waitClosed(t *testing.T, ctx context.Context, n *testNet, job *address.Address) *bindings.Receipt {
	t.Helper()
	waitGone(t, ctx, n, job)
	txs, err := n.e.Transactions(ctx, job, chain.TxID{}, 10)
	if err != nil {
		t.Fatal(err)
	}
	for _, tx := range txs {
		if tx.Tx.IO.In != nil && tx.Tx.IO.In.MsgType == tlb.MsgTypeExternalIn {
			_, r, err := bindings.ParseReceiptBody(tx.Tx.IO.In.AsExternalIn().Body)
			if err != nil {
				t.Fatal(err)
			}
			return r
		}
	}
	t.Fatal("the job closed without a receipt")
	return nil
}

func TestWorkerServesJobEndToEnd(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	n := setupNet(t, ctx)
	d := startWorker(t, ctx, n)

	job, ck := submit(t, ctx, n, d.id, "What is the capital of France?", 64)
	r := waitClosed(t, ctx, n, job)
	if r.Failed || r.Result == nil {
		t.Fatalf("receipt: failed=%v inline result=%v", r.Failed, r.Result != nil)
	}
	env, err := bindings.CellBytes(r.Result, bindings.InlineResultLimit)
	if err != nil {
		t.Fatal(err)
	}
	if seal.CiphertextHash(env) != r.ResultHash {
		t.Fatal("inline result does not match its hash")
	}
	pt, err := seal.OpenResult(ck, jobAddr(job), env)
	if err != nil {
		t.Fatalf("opening the result: %v", err)
	}
	res, err := inference.ParseChatResult(pt)
	if err != nil {
		t.Fatal(err)
	}
	if res.Content == "" || res.Usage == nil || uint32(res.Usage.OutputTokens) != r.OutputTokens {
		t.Fatalf("result %+v, receipt tokens %d/%d", res, r.InputTokens, r.OutputTokens)
	}
	st, err := readers.NewWorker(n.e, d.Address()).WorkerState(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.JobsCompleted != 1 || st.Earnings.Sign() <= 0 {
		t.Fatalf("worker counters after the job: %d completed, earnings %s", st.JobsCompleted, st.Earnings)
	}
	t.Logf("answer: %q (%d in, %d out tokens)", res.Content, r.InputTokens, r.OutputTokens)
}

func workerAddr(t *testing.T, n *testNet, id *Identity) *address.Address {
	t.Helper()
	return bindings.WorkerAddress(n.root, n.owner.Address(), bindings.PublicKey256(id.SignKey.Public().(ed25519.PublicKey)))
}

// waitGone waits until the job's account is gone (closed one way or another).
func waitGone(t *testing.T, ctx context.Context, n *testNet, job *address.Address) {
	t.Helper()
	for {
		acc, err := n.e.Account(ctx, job)
		if err != nil {
			t.Fatal(err)
		}
		if acc.Status == chain.StatusNonexist {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("job %s still open (%s)", job, acc.Status)
		case <-time.After(50 * time.Millisecond):
		}
	}
}
