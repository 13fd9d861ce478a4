package readers_test

import (
	"context"
	"errors"
	"math/big"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/xssnick/tonutils-go/address"

	"github.com/cocoon-network/cocoon/bindings"
	"github.com/cocoon-network/cocoon/offchain/chain"
	"github.com/cocoon-network/cocoon/offchain/chain/readers"
	"github.com/cocoon-network/cocoon/offchain/contracttest"
)

// TestReadersOnDevnet reads a deployed Root back, and checks that a Worker
// or Job that does not exist reads as not deployed while a get-method that
// fails on a live account stays an ordinary error.
func TestReadersOnDevnet(t *testing.T) {
	ctx := context.Background()
	env, err := contracttest.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer env.Close()
	owner, err := env.NewWallet(ctx, "owner", contracttest.TON("10"))
	if err != nil {
		t.Fatal(err)
	}
	params := bindings.RootParams{MinWorkerStake: big.NewInt(1e9), UnbondingDelay: 60, ProtocolFeeBps: 100, Treasury: owner.Address, MinJobDeadline: 30, MaxJobDeadline: 3600, SlashBps: 100}
	rootAddr, _, err := env.DeployRoot(ctx, owner, params)
	if err != nil {
		t.Fatal(err)
	}
	root := readers.NewRoot(env.Chain, rootAddr)
	got, err := root.GetRootParams(ctx)
	if err != nil {
		t.Fatalf("params: %v", err)
	}
	if diff := cmp.Diff(params, *got, cmp.Comparer(func(a, b *big.Int) bool { return a.Cmp(b) == 0 }), cmp.Comparer(func(a, b *address.Address) bool { return a.Equals(b) })); diff != "" {
		t.Errorf("params read back (-deployed +read):\n%s", diff)
	}
	if o, err := root.Owner(ctx); err != nil || !o.Equals(owner.Address) {
		t.Errorf("owner = %v, %v; want %s", o, err, owner.Address)
	}

	missingWorker := bindings.WorkerAddress(rootAddr, owner.Address, [32]byte{1})
	wd, err := readers.NewWorker(env.Chain, missingWorker).WorkerData(ctx)
	if err != nil || wd.Deployed || wd.AccountStatus == chain.StatusActive {
		t.Errorf("worker_data of a missing worker = %+v, %v; want not deployed, no error", wd, err)
	}
	_, err = readers.NewWorker(env.Chain, missingWorker).WorkerState(ctx)
	var nd *readers.NotDeployedError
	if !errors.Is(err, readers.ErrNotDeployed) || !errors.As(err, &nd) || !nd.Address.Equals(missingWorker) {
		t.Errorf("worker_state of a missing worker: %v; want a NotDeployedError for %s", err, missingWorker)
	}
	jd, err := readers.NewJob(env.Chain, bindings.JobAddress(rootAddr, owner.Address, 7)).JobData(ctx)
	if err != nil || jd.Deployed {
		t.Errorf("job_data of a missing job = %+v, %v; want not deployed, no error", jd, err)
	}

	// Root is active but has no worker_data: that is a failure to report,
	// not a missing contract.
	if _, err := readers.NewWorker(env.Chain, rootAddr).WorkerData(ctx); err == nil || errors.Is(err, readers.ErrNotDeployed) {
		t.Errorf("worker_data on Root: %v; want an error that is not ErrNotDeployed", err)
	}
}
