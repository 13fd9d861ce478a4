package client

import (
	"context"
	"fmt"

	"github.com/cocoon-network/cocoon/bindings"
	"github.com/cocoon-network/cocoon/offchain/attest"
	"github.com/cocoon-network/cocoon/offchain/chain/readers"
)

// ChainAllowList is Root's on-chain allow-list as an attest.AllowList: a
// worker's image hash must be one the network's operator allowed for its
// TEE type, and dev (insecure) evidence passes only while Root is in test
// mode. Reading it from the chain, rather than from a local file, is what
// makes every client apply the same policy the contracts enforced at the
// worker's registration, including later removals.
type ChainAllowList struct {
	Root *readers.Root
}

var _ attest.AllowList = ChainAllowList{}

// MeasurementAllowed implements attest.AllowList with Root's
// is_measurement_allowed(tee, hash).
func (a ChainAllowList) MeasurementAllowed(ctx context.Context, tee string, hash []byte) (bool, error) {
	t, err := bindings.ParseTEE(tee)
	if err != nil {
		return false, err
	}
	if len(hash) != 32 {
		return false, fmt.Errorf("%s image hash is %d bytes; Root's allow-list holds 32-byte hashes", tee, len(hash))
	}
	ok, err := a.Root.IsMeasurementAllowed(ctx, t, [32]byte(hash))
	if err != nil {
		return false, fmt.Errorf("asking Root %s whether %s image %x is allowed: %w", a.Root.Address, tee, hash, err)
	}
	return ok, nil
}

// TestMode implements attest.AllowList with Root's params().testMode.
func (a ChainAllowList) TestMode(ctx context.Context) (bool, error) {
	p, err := a.Root.GetRootParams(ctx)
	if err != nil {
		return false, fmt.Errorf("reading Root %s params: %w", a.Root.Address, err)
	}
	return p.TestMode, nil
}

// fixedTestMode answers TestMode from a value read once per discovery, so
// that checking N workers reads Root's params once rather than N times
// (and all N are judged under the same answer).
type fixedTestMode struct {
	ChainAllowList
	testMode bool
}

func (f fixedTestMode) TestMode(context.Context) (bool, error) { return f.testMode, nil }
