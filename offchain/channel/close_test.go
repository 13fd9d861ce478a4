package channel

import (
	"errors"
	"math/big"
	"testing"
)

// A close whose payout the contract cannot send (300,000 nanoton, below
// the forwarding fee) fails in its action phase: the channel stays open
// and nothing is paid. The caller is told so, instead of a close reported
// done while the chain shows the channel open (issue 18).
func TestCloseThatFailsOnChainIsReported(t *testing.T) {
	env := newTestEnv(t)
	terms := env.open(ton("1"))
	v, err := env.payer.SignVoucher(terms.ID, big.NewInt(300_000))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := env.payee.Receive(env.ctx, v); err != nil {
		t.Fatal(err)
	}
	_, err = env.payer.Close(env.ctx, terms.ID, env.payee)
	var re *RefusedError
	if !errors.As(err, &re) || !re.Action {
		t.Fatalf("cooperative close of a 300,000-nanoton channel: %v, want an action-phase failure", err)
	}
	if oc := env.onChain(terms); oc.Status != StatusOpen || oc.Paid.Sign() != 0 {
		t.Fatalf("after the failed close the chain shows %s, paid %s", oc.Status, oc.Paid)
	}
	// The payee alone fares no better, and says so too.
	if _, err := env.payee.Close(env.ctx, terms.ID); !errors.As(err, &re) || !re.Action {
		t.Fatalf("the payee's close: %v, want an action-phase failure", err)
	}
	// When the payer then closes alone, the watcher does not pay gas for
	// the same failing close again.
	if err := env.payer.ForceClose(env.ctx, terms.ID); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		acts, err := env.payee.CheckOnce(env.ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range acts {
			if a.Did == "challenged" || a.Did == "closed" {
				t.Fatalf("the watcher tried the failing close again: %+v", a)
			}
		}
	}
}
