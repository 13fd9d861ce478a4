package channel

import (
	"context"
	"errors"
	"math/big"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xssnick/tonutils-go/address"

	"github.com/cocoon-network/cocoon/offchain/chain"
)

// countingNet counts the chain reads made through it.
type countingNet struct {
	chain.Network
	reads atomic.Int64
}

func (n *countingNet) Account(ctx context.Context, a *address.Address) (*chain.Account, error) {
	n.reads.Add(1)
	return n.Network.Account(ctx, a)
}

func (n *countingNet) RunGetMethod(ctx context.Context, a *address.Address, m string, args ...any) ([]any, error) {
	n.reads.Add(1)
	return n.Network.RunGetMethod(ctx, a, m, args...)
}

// Agreeing terms costs a payer nothing, so unfunded terms are bounded per
// client address and in all, cost no chain read per watcher pass, and are
// forgotten after OpeningTTL (issue 18: 300 junk terms were kept and read
// from the chain on every pass, forever).
func TestUnfundedTermsAreBoundedAndExpire(t *testing.T) {
	env := newTestEnv(t)
	net := &countingNet{Network: env.e}
	payee := func(ttl time.Duration) *Payee {
		p, err := NewPayee(PayeeConfig{Net: net, Key: env.payeeKey, Payout: env.payout, Wallet: env.payeeW, Store: env.payeeStore,
			Poll: 5 * time.Millisecond, Policy: PayeePolicy{OpeningTTL: ttl, MaxOpeningPerSource: 3, MaxOpening: 5}})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	p := payee(time.Hour)
	accept := func(p *Payee, source string) error {
		terms, err := env.payer.NewTerms(env.payee.PublicKey(), env.payout)
		if err != nil {
			t.Fatal(err)
		}
		_, err = p.Accept(env.ctx, terms, source)
		return err
	}
	for i, tc := range []struct {
		source string
		full   bool
	}{{"a", false}, {"a", false}, {"a", false}, {"a", true}, {"b", false}, {"b", false}, {"c", true}} {
		err := accept(p, tc.source)
		if full := errors.Is(err, ErrTooManyOpening); full != tc.full || (err != nil && !full) {
			t.Fatalf("terms %d from %s: %v, want refused=%v", i, tc.source, err, tc.full)
		}
	}
	net.reads.Store(0)
	for range 3 {
		if acts, err := p.CheckOnce(env.ctx); err != nil || len(acts) != 0 {
			t.Fatalf("watcher pass over unfunded terms: %v, %v", acts, err)
		}
	}
	if n := net.reads.Load(); n != 0 {
		t.Fatalf("%d chain reads for 5 unfunded terms in 3 watcher passes", n)
	}

	// One of them funded meanwhile: it stays; the others are forgotten
	// once past the TTL, with one read each.
	funded := env.open(ton("1"))
	if _, err := env.payeeStore.Get(funded.ID); err != nil {
		t.Fatal(err)
	}
	expiring := payee(time.Nanosecond)
	acts, err := expiring.CheckOnce(env.ctx)
	if err != nil {
		t.Fatal(err)
	}
	expired := 0
	for _, a := range acts {
		if a.Did == "expired" && a.Err == nil {
			expired++
		}
	}
	recs, _ := listRole(env.payeeStore, RolePayee)
	if expired != 5 || len(recs) != 1 || recs[0].Terms.ID != funded.ID || recs[0].Phase != PhaseOpen {
		t.Fatalf("expired %d (want 5), kept %d records", expired, len(recs))
	}
	if err := accept(p, "a"); err != nil {
		t.Fatalf("new terms from a after its old ones expired: %v", err)
	}
	if d := recs[0].Deposit; d.Cmp(big.NewInt(1e9)) != 0 {
		t.Fatalf("funded channel's deposit %s", d)
	}
}
