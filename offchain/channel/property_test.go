package channel

import (
	"errors"
	"fmt"
	"math/big"
	"math/rand/v2"
	"testing"

	"github.com/cocoon-network/cocoon/offchain/chain/chaintest"
)

// TestRandomSequences plays random sequences of payments (some lost on
// the way, some replayed, some beyond the deposit), top-ups, commits and
// restarts of either side, and ends each with one of the four ways to
// close. Whatever happened:
//   - the payee is paid at least the best voucher it holds,
//   - the payer never pays more than it signed,
//   - the channel creates and loses no TON: every nanoton that entered it
//     left as a payout, an excess or a fee, and it ends empty.
func TestRandomSequences(t *testing.T) {
	for seed := uint64(1); seed <= 8; seed++ {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) { playSequence(t, seed) })
	}
}

func playSequence(t *testing.T, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 0x636f636f6f6e))
	env := newTestEnv(t)
	terms := env.open(ton("0.5"))
	id := terms.ID
	var issued []SignedState // every voucher the payer signed, in order
	held := func() *SignedState { return env.record(env.payeeStore, id).Voucher }
	steps := 20 + rng.IntN(20)
	for i := 0; i < steps; i++ {
		switch r := rng.IntN(100); {
		case r < 55: // a request is paid
			amount := big.NewInt(int64(1+rng.IntN(60)) * 1_000_000)
			rec := env.record(env.payerStore, id)
			v, err := env.payer.Pay(id, amount)
			if over := new(big.Int).Add(rec.Sent(), amount).Cmp(rec.Deposit) > 0; over {
				if !errors.Is(err, ErrOverDeposit) {
					t.Fatalf("step %d: paying past the deposit: %v", i, err)
				}
				continue
			}
			if err != nil {
				t.Fatalf("step %d: %v", i, err)
			}
			issued = append(issued, v)
			if rng.IntN(10) < 8 { // most vouchers arrive
				if _, err := env.payee.Receive(env.ctx, v); err != nil {
					t.Fatalf("step %d: receiving voucher %d: %v", i, v.Seqno, err)
				}
			}
		case r < 62: // an old voucher is replayed
			if len(issued) < 2 {
				continue
			}
			old := issued[rng.IntN(len(issued)-1)]
			h := held()
			if h != nil && old.Seqno <= h.Seqno {
				if _, err := env.payee.Receive(env.ctx, old); !errors.Is(err, ErrStale) {
					t.Fatalf("step %d: replayed voucher %d (holding %d): %v", i, old.Seqno, h.Seqno, err)
				}
			}
		case r < 72: // top-up
			if _, err := env.payer.TopUp(env.ctx, id, big.NewInt(int64(1+rng.IntN(3))*100_000_000)); err != nil {
				t.Fatalf("step %d: top-up: %v", i, err)
			}
		case r < 82: // commit
			h := held()
			if h == nil || h.Sent.Cmp(env.record(env.payeeStore, id).Withdrawn) <= 0 {
				continue
			}
			if _, err := env.payee.Commit(env.ctx, id); err != nil {
				t.Fatalf("step %d: commit: %v", i, err)
			}
		case r < 91:
			env.restartPayer()
		default:
			env.restartPayee()
		}
	}

	signed := new(big.Int)
	if len(issued) > 0 {
		signed = issued[len(issued)-1].Sent
	}
	h := held()
	holds := new(big.Int)
	if h != nil {
		holds = h.Sent
	}
	mode := int(seed % 4) // every way to close, twice
	if h == nil && mode == 3 {
		mode = 0 // the payee closes alone only with a voucher
	}
	paidBefore := env.onChain(terms).Paid
	switch mode {
	case 0: // cooperative, proposed by the payer at what it signed
		if _, err := env.payer.Close(env.ctx, id, env.payee); err != nil {
			t.Fatalf("cooperative close: %v", err)
		}
	case 1: // the payer closes alone; the watcher answers in time
		if err := env.payer.ForceClose(env.ctx, id); err != nil {
			t.Fatal(err)
		}
		if _, err := env.payee.CheckOnce(env.ctx); err != nil {
			t.Fatal(err)
		}
		env.passQuarantine()
		if _, err := env.payee.CheckOnce(env.ctx); err != nil {
			t.Fatal(err)
		}
	case 2: // the payer closes alone; the watcher was down for the quarantine
		if err := env.payer.ForceClose(env.ctx, id); err != nil {
			t.Fatal(err)
		}
		env.passQuarantine()
		acts, err := env.payee.CheckOnce(env.ctx)
		if err != nil || len(acts) != 1 || acts[0].Err != nil {
			t.Fatalf("watcher after the quarantine: %+v, %v", acts, err)
		}
	case 3: // the payee closes alone
		if _, err := env.payee.Close(env.ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	if oc := env.onChain(terms); oc.Status != StatusClosed {
		t.Fatalf("close mode %d left the channel %s", mode, oc.Status)
	}

	// Exactly: what the payer signed when it proposes the close, else the
	// payee's voucher, plus the payer's close bond when the payee had to
	// answer a close the payer started alone.
	want := new(big.Int).Set(holds)
	switch {
	case mode == 0:
		want.Set(signed)
	case (mode == 1 || mode == 2) && holds.Cmp(paidBefore) > 0:
		want.Add(want, big.NewInt(closeBond))
	}
	paid := env.paidToPayee(terms)
	t.Logf("%d vouchers signed (%s), payee held %s, close mode %d, payee paid %s", len(issued), signed, holds, mode, paid)
	if paid.Cmp(want) != 0 {
		t.Errorf("close mode %d: payee paid %s, want %s (held %s, signed %s)", mode, paid, want, holds, signed)
	}
	env.checkConservation(terms)
}

// checkConservation replays the channel's history (chaintest.Conserved:
// every nanoton in is out again or paid as fees) and requires that the
// closed channel ends empty.
func (env *testEnv) checkConservation(terms Terms) {
	env.t.Helper()
	addr, _ := terms.Address()
	if bal := chaintest.Conserved(env.t, env.ctx, env.e, addr); bal.Sign() != 0 {
		env.t.Fatalf("closed channel still holds %s", bal)
	}
}
