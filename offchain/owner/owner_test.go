package owner_test

import (
	"context"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xssnick/tonutils-go/address"

	"github.com/cocoon-network/cocoon/bindings"
	"github.com/cocoon-network/cocoon/offchain/attest/dev"
	"github.com/cocoon-network/cocoon/offchain/chain/readers"
	"github.com/cocoon-network/cocoon/offchain/devnet"
	"github.com/cocoon-network/cocoon/offchain/operator"
	"github.com/cocoon-network/cocoon/offchain/owner"
	"github.com/cocoon-network/cocoon/offchain/seal"
	"github.com/cocoon-network/cocoon/offchain/wallet"
	"github.com/cocoon-network/cocoon/offchain/wallet/wallettest"
	"github.com/cocoon-network/cocoon/offchain/worker"
)

const testModel = "cocoon-reference"

func ton(n int64) *big.Int { return new(big.Int).Mul(big.NewInt(n), big.NewInt(1e9)) }

// setup is a devnet with a test-mode Root that allows the dev worker image
// and the test model, a funded owner wallet and a worker's registration.
func setup(t *testing.T, ctx context.Context) (*devnet.Engine, *wallet.Wallet, owner.Registration) {
	t.Helper()
	n := setupNet(t, ctx)
	return n.e, n.owner, n.reg
}

// testNet is setup's network with the operator and the worker key.
type testNet struct {
	e     *devnet.Engine
	op    *operator.Operator
	owner *wallet.Wallet
	reg   owner.Registration
	id    *worker.Identity
	fund  func(*big.Int) *wallet.Wallet
}

func setupNet(t *testing.T, ctx context.Context) *testNet {
	t.Helper()
	e, err := devnet.Open(ctx, devnet.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	go e.Run(ctx, 20*time.Millisecond)
	fund := wallettest.Faucet(e)
	op := wallettest.Funded(t, ctx, fund, ton(10))
	ownerWallet := wallettest.Funded(t, ctx, fund, ton(100))
	o, _, err := operator.Deploy(ctx, e, op, bindings.RootParams{
		MinWorkerStake: ton(1), UnbondingDelay: bindings.MinUnbondingDelay(86400), ProtocolFeeBps: 500, Treasury: op.Address(),
		MinJobDeadline: 30, MaxJobDeadline: 86400, SlashBps: 1000, TestMode: true,
	})
	if err != nil {
		t.Fatalf("deploying Root: %v", err)
	}
	for _, m := range []bindings.Message{
		bindings.AddMeasurement{TEE: bindings.TEEDev, Measurement: dev.Measurement(worker.DevImage)},
		bindings.AddModel{ModelID: bindings.ModelID(testModel), Info: bindings.ModelInfo{MinPriceIn: big.NewInt(1e8), MinPriceOut: big.NewInt(1e8)}},
	} {
		if _, err := o.Do(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	id, err := worker.InitIdentity(ctx, filepath.Join(dir, "keys"), seal.SuiteX25519)
	if err != nil {
		t.Fatal(err)
	}
	text, err := worker.RenderConfig(worker.InitValues{Network: "devnet", Root: o.Root.String(), Owner: ownerWallet.Address().String(),
		Listen: "127.0.0.1:0", PublicURL: "http://127.0.0.1:1", Model: testModel})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.toml"), []byte(text), 0o600); err != nil {
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
	return &testNet{e: e, op: o, owner: ownerWallet, reg: reg, id: id,
		fund: func(v *big.Int) *wallet.Wallet { return wallettest.Funded(t, ctx, fund, v) }}
}

// Registration goes from the wallet the config names as owner only; with
// it the worker becomes active.
func TestRegister(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	e, ownerWallet, reg := setup(t, ctx)
	for _, tc := range []struct {
		name    string
		mod     func(*owner.Registration)
		wantErr string
	}{
		{"another owner", func(r *owner.Registration) { r.Owner = address.NewAddress(0, 0, make([]byte, 32)) }, "the wallet is"},
		{"no root", func(r *owner.Registration) { r.Root = nil }, "no Root"},
		{"short signing key", func(r *owner.Registration) { r.SignKey = r.SignKey[:31] }, "signing key has 31 bytes"},
	} {
		bad := reg
		tc.mod(&bad)
		if _, err := owner.Register(ctx, e, ownerWallet, bad, ton(5)); err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Fatalf("%s: %v, want an error with %q", tc.name, err, tc.wantErr)
		}
	}
	// A stake below Root's minimum is refused before anything is sent,
	// with the minimum and the fees named.
	before, _ := e.Account(ctx, ownerWallet.Address())
	if _, err := owner.Register(ctx, e, ownerWallet, reg, big.NewInt(5e8)); err == nil || !strings.Contains(err.Error(), "below Root's minimum worker stake of 1.000000000 TON") {
		t.Fatalf("a stake below the minimum: %v", err)
	}
	if after, _ := e.Account(ctx, ownerWallet.Address()); after.Balance.Cmp(before.Balance) != 0 {
		t.Fatal("the refused registration cost the owner")
	}
	v, err := owner.Register(ctx, e, ownerWallet, reg, ton(5))
	if err != nil {
		t.Fatal(err)
	}
	if v.Status != bindings.WorkerActive {
		t.Fatalf("status after registration: %s", v.Status)
	}
	if _, err := owner.Register(ctx, e, ownerWallet, reg, ton(5)); err == nil || !strings.Contains(err.Error(), "already registered") {
		t.Fatalf("registering twice: %v, want already registered", err)
	}
}

// A top-up over the owner's balance is refused before anything is sent
// (no transaction, no gas paid), like wallet send; one within it goes
// through and raises the stake.
func TestTopUpChecksTheBalance(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	e, ownerWallet, reg := setup(t, ctx)
	if _, err := owner.Register(ctx, e, ownerWallet, reg, ton(5)); err != nil {
		t.Fatal(err)
	}
	self := bindings.WorkerAddress(reg.Root, reg.Owner, bindings.PublicKey256(reg.SignKey))
	o := &owner.Worker{Net: e, Wallet: ownerWallet, Address: self}
	before, err := e.Account(ctx, ownerWallet.Address())
	if err != nil {
		t.Fatal(err)
	}
	tooMuch := new(big.Int).Mul(big.NewInt(99_999_999), big.NewInt(1e9))
	err = o.TopUp(ctx, tooMuch)
	if err == nil || !strings.Contains(err.Error(), "less than") {
		t.Fatalf("top-up over the balance: %v, want a balance error", err)
	}
	after, err := e.Account(ctx, ownerWallet.Address())
	if err != nil {
		t.Fatal(err)
	}
	if after.LastTx.LT != before.LastTx.LT || after.Balance.Cmp(before.Balance) != 0 {
		t.Fatalf("the refused top-up still sent a transaction: balance %s → %s", before.Balance, after.Balance)
	}
	st0, err := readers.NewWorker(e, self).WorkerState(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := o.TopUp(ctx, big.NewInt(1e9)); err != nil {
		t.Fatalf("top-up within the balance: %v", err)
	}
	st1, err := readers.NewWorker(e, self).WorkerState(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st1.Stake.Cmp(st0.Stake) <= 0 {
		t.Fatalf("stake %s → %s after a top-up", st0.Stake, st1.Stake)
	}
}

// Terms change only with the owner's consent: the daemon's renewal (worker
// key, gas wallet) keeps the terms agreed; a change Root applies stops the
// worker until the owner agrees, in advance (AgreeAnnounced) or after
// (Update with acceptTerms), and Update names the changes first.
func TestTermsNeedConsent(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	n := setupNet(t, ctx)
	if _, err := owner.Register(ctx, n.e, n.owner, n.reg, ton(5)); err != nil {
		t.Fatal(err)
	}
	addr := bindings.WorkerAddress(n.reg.Root, n.reg.Owner, bindings.PublicKey256(n.reg.SignKey))
	gas := n.fund(ton(2))
	o := &owner.Worker{Net: n.e, Wallet: n.owner, Address: addr}
	renew := func() (*readers.RegistrationView, error) { return owner.Renew(ctx, n.e, gas, addr, n.id.SignKey) }
	before, err := readers.NewWorker(n.e, addr).Registration(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.e.AdvanceTime(10 * time.Minute); err != nil {
		t.Fatal(err)
	}
	after, err := renew()
	if err != nil || after.ValidUntil <= before.ValidUntil || after.Agreed != before.Agreed {
		t.Fatalf("renewal: %+v, %v (before %+v)", after, err, before)
	}

	params, err := readers.NewRoot(n.e, n.reg.Root).GetRootParams(ctx)
	if err != nil {
		t.Fatal(err)
	}
	apply := func(p bindings.RootParams) {
		t.Helper()
		if _, err := n.op.Do(ctx, bindings.SetParams{QueryID: 1, Params: p}); err != nil {
			t.Fatal(err)
		}
		if err := n.e.AdvanceTime(bindings.ChangeTimelock * time.Second); err != nil {
			t.Fatal(err)
		}
		if _, err := n.op.Do(ctx, bindings.ApplyChange{QueryID: 2}); err != nil {
			t.Fatal(err)
		}
	}

	// Agreed in advance: the renewal after the change keeps the worker.
	harsher := *params
	harsher.SlashBps = 2000
	if _, err := n.op.Do(ctx, bindings.SetParams{QueryID: 1, Params: harsher}); err != nil {
		t.Fatal(err)
	}
	changes, _, err := o.AgreeAnnounced(ctx, n.reg.Root)
	if err != nil || len(changes) != 1 || !strings.Contains(changes[0], "slash per expired job 10% → 20%") {
		t.Fatalf("AgreeAnnounced: %q, %v", changes, err)
	}
	if err := n.e.AdvanceTime(bindings.ChangeTimelock * time.Second); err != nil {
		t.Fatal(err)
	}
	if _, err := n.op.Do(ctx, bindings.ApplyChange{QueryID: 2}); err != nil {
		t.Fatal(err)
	}
	if _, err := renew(); err != nil {
		t.Fatalf("renewal under terms agreed in advance: %v", err)
	}

	// Not agreed: the renewal leaves the worker inactive, Update names the
	// change and needs the owner's consent.
	greedier := harsher
	greedier.ProtocolFeeBps = 1000
	apply(greedier)
	if _, err := renew(); err == nil || !strings.Contains(err.Error(), "inactive") {
		t.Fatalf("renewal under terms not agreed: %v, want the worker inactive", err)
	}
	profile := n.reg.Profile
	var tc *owner.TermsChangedError
	if _, err := o.Update(ctx, profile, false); !errors.As(err, &tc) || len(tc.Changes) != 1 || !strings.Contains(tc.Changes[0], "protocol fee 5% → 10%") {
		t.Fatalf("Update without consent: %v", err)
	}
	if v, err := o.Update(ctx, profile, true); err != nil || v.Status != bindings.WorkerActive {
		t.Fatalf("Update with consent: %+v, %v", v, err)
	}
}
