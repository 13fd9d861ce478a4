// Package wallettest gives tests funded wallets: a fresh v5r1 key, opened
// with a short poll interval, funded from a devnet.
package wallettest

import (
	"context"
	"math/big"
	"testing"
	"time"

	"github.com/xssnick/tonutils-go/address"

	"github.com/cocoon-network/cocoon/offchain/devnet"
	"github.com/cocoon-network/cocoon/offchain/wallet"
)

// FundFunc sends nano nanoton to an address and returns once it arrived.
type FundFunc func(ctx context.Context, to *address.Address, nano *big.Int) error

// Faucet funds from a devnet engine's faucet.
func Faucet(e *devnet.Engine) FundFunc {
	return func(ctx context.Context, to *address.Address, nano *big.Int) error {
		_, err := e.Faucet(ctx, to, nano)
		return err
	}
}

// Funded returns a new v5r1 wallet holding nano nanoton (not yet deployed:
// its first send deploys it). opts come after the test default poll interval.
func Funded(t testing.TB, ctx context.Context, fund FundFunc, nano *big.Int, opts ...wallet.Option) *wallet.Wallet {
	t.Helper()
	f, err := wallet.New(wallet.V5R1)
	if err != nil {
		t.Fatal(err)
	}
	w, err := f.Open(append([]wallet.Option{wallet.WithPollInterval(20 * time.Millisecond)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	if err := fund(ctx, w.Address(), nano); err != nil {
		t.Fatalf("funding a test wallet: %v", err)
	}
	return w
}
