package operator

import (
	"context"
	"math/big"
	"testing"
	"time"

	"github.com/cocoon-network/cocoon/bindings"
	"github.com/cocoon-network/cocoon/offchain/chain/readers"
	"github.com/cocoon-network/cocoon/offchain/devnet"
	"github.com/cocoon-network/cocoon/offchain/wallet/wallettest"
)

func TestOwnerOperations(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	e, err := devnet.Open(ctx, devnet.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	go e.Run(ctx, 20*time.Millisecond)
	owner := wallettest.Funded(t, ctx, wallettest.Faucet(e), big.NewInt(5e9))
	stranger := wallettest.Funded(t, ctx, wallettest.Faucet(e), big.NewInt(5e9))
	params := bindings.RootParams{MinWorkerStake: big.NewInt(1e9), UnbondingDelay: bindings.MinUnbondingDelay(3600), Treasury: owner.Address(), MinJobDeadline: 30, MaxJobDeadline: 3600, SlashBps: 100, ProtocolFeeBps: 100}
	op, _, err := Deploy(ctx, e, owner, params)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := Deploy(ctx, e, owner, params); err == nil {
		t.Fatal("deployed the same Root twice")
	}

	model := bindings.AddModel{QueryID: 7, ModelID: bindings.ModelID("m"), Info: bindings.ModelInfo{MinPriceIn: big.NewInt(1), MinPriceOut: big.NewInt(2)}}
	res, err := op.Do(ctx, model)
	if err != nil {
		t.Fatal(err)
	}
	if res.RootTx == nil || res.Version == 0 {
		t.Fatalf("result of an accepted operation: %+v", res)
	}
	cases := []struct {
		name string
		op   *Operator
		msg  bindings.Message
		want bindings.ExitCode
	}{
		{"not the owner", &Operator{Net: e, Wallet: stranger, Root: op.Root}, model, bindings.ErrNotOwner},
		{"fee over 100%", op, bindings.SetParams{Params: bindings.RootParams{MinWorkerStake: big.NewInt(1), Treasury: owner.Address(), ProtocolFeeBps: 10001, MaxJobDeadline: 1}}, bindings.ErrBadArgument},
		{"unknown TEE", op, bindings.AddMeasurement{TEE: 9}, bindings.ErrBadTEE},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.op.Do(ctx, tc.msg)
			if !IsRefused(err, tc.want) {
				t.Fatalf("got %v, want a refusal with %s", err, tc.want)
			}
		})
	}
	// A refused operation changed nothing.
	if v, err := readers.NewRoot(e, op.Root).Version(ctx); err != nil || v != res.Version {
		t.Fatalf("version after refusals %d (%v), want %d", v, err, res.Version)
	}
}
