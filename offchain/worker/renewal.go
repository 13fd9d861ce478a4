package worker

import (
	"context"
	"fmt"
	"math/big"
	"strings"
	"sync"
	"time"

	"github.com/cocoon-network/cocoon/bindings"
	"github.com/cocoon-network/cocoon/offchain/chain"
	"github.com/cocoon-network/cocoon/offchain/chain/readers"
	"github.com/cocoon-network/cocoon/offchain/owner"
	"github.com/cocoon-network/cocoon/offchain/tonamount"
	"github.com/cocoon-network/cocoon/offchain/wallet"
)

// A registration lasts bindings.RegistrationTTL (an hour) so that Root's
// revocations reach every worker within it; the daemon renews it with a
// Renew signed by the worker key and paid by the gas wallet, under exactly
// the profile and terms the owner agreed to. It never agrees to anything:
// when Root's terms changed without the owner's consent it stops renewing
// and says so until the owner runs `cocoon worker update --accept-terms`.

// renewAhead is how long before the registration lapses the daemon renews
// it: a sixth of its life (10 minutes), so that several failed tries with
// backoff still fit, while a renewal comes every ~50 minutes (each costs
// fees: docs/CONTRACTS.md).
const renewAhead = bindings.RegistrationTTL * time.Second / 6

// renewCheck is how often the daemon looks at its registration at most.
const renewCheck = time.Minute

// problemRepeat is how often the same registration problem is logged again.
const problemRepeat = 10 * time.Minute

// Registration states the dashboard and the renewal metric report.
const (
	RegistrationValid        = "valid"         // active, renewed in time
	RegistrationNotActive    = "not_active"    // the Worker contract is not active (unbonding, inactive, slashed, not registered)
	RegistrationTermsChanged = "terms_changed" // Root's terms are not the ones the owner agreed to: no renewal
	RegistrationNoGasWallet  = "no_gas_wallet" // nothing to pay renewals with: the registration will lapse
	RegistrationLapsed       = "lapsed"        // valid-until passed: offers are declined
)

// RegistrationStatus is the daemon's view of its registration.
type RegistrationStatus struct {
	State      string    `json:"state"`
	ValidUntil time.Time `json:"valid_until"`
	Problem    string    `json:"problem,omitempty"` // what the owner must do, when anything
	// GasLow says the gas wallet holds less than lowGasBalance (a few
	// hours of renewals); empty otherwise.
	GasLow string `json:"gas_low,omitempty"`
}

// lowGasBalance is the gas wallet balance below which the daemon warns:
// about ten renewals, eight hours.
const lowGasBalance = 200_000_000 // nanoton

// renewal keeps the registration alive and reports on it.
type renewal struct {
	d   *Daemon
	gas *wallet.Wallet

	mu         sync.Mutex
	status     RegistrationStatus
	gasLow     string // as of the last renewal
	lastLogged map[string]time.Time
}

func (r *renewal) Status() RegistrationStatus {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.status
	s.GasLow = r.gasLow
	return s
}

// run checks the registration until ctx ends; chain errors are retried
// with backoff, never fatal.
func (r *renewal) run(ctx context.Context) {
	failures := 0
	for {
		wait, err := r.check(ctx)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			failures++
			wait = chain.Backoff(r.d.cfg.PollInterval.Duration, maxRetryWait*4, failures)
			r.d.metrics.Renewals.WithLabelValues("error").Inc()
			r.d.log.Warn("checking or renewing the registration failed; retrying", "failures_in_a_row", failures, "retry_in", wait, "error", err)
		} else {
			failures = 0
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

// check looks at the registration once, renews it when it is due, and
// returns when to look again.
func (r *renewal) check(ctx context.Context) (time.Duration, error) {
	d := r.d
	w := readers.NewWorker(d.net, d.self)
	data, err := w.WorkerData(ctx)
	if err != nil {
		return 0, fmt.Errorf("reading the Worker contract: %w", err)
	}
	reg, err := w.Registration(ctx)
	if err != nil && data.Deployed {
		return 0, fmt.Errorf("reading the registration: %w", err)
	}
	info, err := d.net.MasterchainInfo(ctx)
	if err != nil {
		return 0, fmt.Errorf("reading the chain's time: %w", err)
	}
	now := time.Unix(int64(info.Time), 0)
	next := min(renewCheck, 30*d.cfg.PollInterval.Duration)
	if !data.Deployed || data.Status != bindings.WorkerActive {
		status := "not registered"
		if data.Deployed {
			status = data.Status.String()
		}
		r.set(RegistrationStatus{State: RegistrationNotActive,
			Problem: fmt.Sprintf("the Worker contract is %s: it takes no jobs; the owner re-registers with cocoon worker update (or registers with cocoon worker register)", status)})
		return next, nil
	}
	validUntil := time.Unix(int64(reg.ValidUntil), 0)
	if reg.PendingQuery != 0 {
		return next, nil // a registration or renewal is in flight
	}
	left := validUntil.Sub(now)
	if left > renewAhead {
		r.set(RegistrationStatus{State: RegistrationValid, ValidUntil: validUntil})
		r.announced(ctx, reg)
		return min(next, left-renewAhead), nil
	}
	// Due. The daemon renews only under the terms the owner agreed to: a
	// Renew under others would leave the worker inactive at once.
	current, err := readers.NewRoot(d.net, d.root).AgreedTerms(ctx)
	if err != nil {
		return 0, fmt.Errorf("reading Root's terms: %w", err)
	}
	h, err := current.Hash()
	if err != nil {
		return 0, err
	}
	lapse := "lapses at " + validUntil.UTC().Format(time.RFC3339)
	if left <= 0 {
		lapse = "lapsed at " + validUntil.UTC().Format(time.RFC3339) + ": offers are declined"
	}
	if h != reg.Agreed && h != reg.NextAgreed {
		changes := []string{"(the terms the registration holds could not be read)"}
		if registered, err := w.RegisteredTerms(ctx); err == nil && registered != nil {
			changes = registered.Changes(current)
		}
		r.set(RegistrationStatus{State: RegistrationTermsChanged, ValidUntil: validUntil,
			Problem: fmt.Sprintf("Root's terms changed without the owner's consent (%s); the daemon does not renew under them and the registration %s; review and agree with cocoon worker update --accept-terms, or unbond",
				strings.Join(changes, "; "), lapse)})
		d.metrics.Renewals.WithLabelValues("terms_changed").Inc()
		return next, nil
	}
	if r.gas == nil {
		r.set(RegistrationStatus{State: RegistrationNoGasWallet, ValidUntil: validUntil,
			Problem: "online.gas_wallet is not set, so the daemon cannot renew the registration, which " + lapse + "; set it (cocoon worker init writes one), or the owner renews with cocoon worker update"})
		return next, nil
	}
	after, err := owner.Renew(ctx, d.net, r.gas, d.self, d.id.SignKey)
	if err != nil {
		if after != nil {
			// Root answered, and not with a renewal: the worker is no
			// longer active (a revoked measurement or model).
			d.metrics.Renewals.WithLabelValues("refused").Inc()
			r.set(RegistrationStatus{State: RegistrationNotActive, ValidUntil: validUntil, Problem: err.Error()})
			return next, nil
		}
		if left <= 0 {
			r.set(RegistrationStatus{State: RegistrationLapsed, ValidUntil: validUntil, Problem: "the registration " + lapse + " and renewing failed: " + err.Error()})
		}
		return 0, err
	}
	validUntil = time.Unix(int64(after.ValidUntil), 0)
	d.metrics.Renewals.WithLabelValues("renewed").Inc()
	d.log.Info("registration renewed", "valid_until", validUntil.UTC().Format(time.RFC3339))
	gasLow := ""
	if acc, err := d.net.Account(ctx, r.gas.Address()); err == nil && acc.Balance.Cmp(big.NewInt(lowGasBalance)) < 0 {
		gasLow = fmt.Sprintf("the gas wallet %s holds %s TON, a few hours of renewals (about 0.018 TON each): fund it, or the registration lapses", r.gas.Address(), tonamount.Format(acc.Balance))
		r.logOnce("gas", "LOW GAS: "+gasLow)
	}
	r.mu.Lock()
	r.gasLow = gasLow
	r.mu.Unlock()
	r.set(RegistrationStatus{State: RegistrationValid, ValidUntil: validUntil})
	return next, nil
}

// announced warns the owner, ahead of time, of a change Root announced
// that the owner has not agreed to: when it applies, the worker stops.
func (r *renewal) announced(ctx context.Context, reg *readers.RegistrationView) {
	root := readers.NewRoot(r.d.net, r.d.root)
	next, at, err := root.AnnouncedTerms(ctx)
	if err != nil || next == nil {
		return
	}
	h, err := next.Hash()
	if err != nil || h == reg.Agreed || h == reg.NextAgreed {
		return
	}
	current, err := root.AgreedTerms(ctx)
	if err != nil {
		return
	}
	r.logOnce("announced", "Root announced new terms the owner has not agreed to; when they apply the daemon stops renewing and the worker stops taking jobs; review and agree in advance with cocoon worker update --accept-terms",
		"effective", at.UTC().Format(time.RFC3339), "changes", strings.Join(current.Changes(*next), "; "))
}

// set records the status and logs a problem (once per problemRepeat).
func (r *renewal) set(s RegistrationStatus) {
	r.mu.Lock()
	r.status = s
	r.mu.Unlock()
	if s.ValidUntil.IsZero() {
		r.d.metrics.RegistrationValidUntil.Set(0)
	} else {
		r.d.metrics.RegistrationValidUntil.Set(float64(s.ValidUntil.Unix()))
	}
	if s.Problem != "" {
		r.logOnce(s.State+s.Problem, "REGISTRATION: "+s.Problem, "state", s.State)
	}
}

func (r *renewal) logOnce(key, msg string, args ...any) {
	r.mu.Lock()
	last, seen := r.lastLogged[key]
	if seen && time.Since(last) < problemRepeat {
		r.mu.Unlock()
		return
	}
	if r.lastLogged == nil {
		r.lastLogged = map[string]time.Time{}
	}
	r.lastLogged[key] = time.Now()
	r.mu.Unlock()
	r.d.log.Error(msg, args...)
}
