package worker

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/cocoon-network/cocoon/bindings"
	"github.com/cocoon-network/cocoon/offchain/chain/readers"
)

// The daemon keeps its registration alive with its own key and gas wallet
// (no cold wallet), and never past a change of Root's terms its owner did
// not agree to: then it stops renewing, says why, and the registration
// lapses with the worker's stake untouched.
func TestDaemonRenewsItsRegistration(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	n := setupNet(t, ctx)
	cfg, id, ln := registerWorker(t, ctx, n)
	cfg.Online.GasWallet = saveGasWallet(t, ctx, n, cfg)
	d := runWorker(t, ctx, n, cfg, id, ln)
	w := readers.NewWorker(n.e, d.Address())
	first, err := w.Registration(ctx)
	if err != nil {
		t.Fatal(err)
	}
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		for !ok() {
			select {
			case <-ctx.Done():
				t.Fatalf("waiting for %s: %v (registration status %+v)", what, ctx.Err(), d.renewal.Status())
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	waitFor("the daemon's first check", func() bool { return d.renewal.Status().State == RegistrationValid })
	if got := testutil.ToFloat64(d.metrics.Renewals.WithLabelValues("renewed")); got != 0 {
		t.Fatalf("%v renewals of a fresh registration", got)
	}

	// Within renewAhead of the lapse: renewed under the same terms.
	if err := n.e.AdvanceTime(bindings.RegistrationTTL*time.Second - renewAhead + time.Minute); err != nil {
		t.Fatal(err)
	}
	var renewed *readers.RegistrationView
	waitFor("a renewal", func() bool {
		renewed, err = w.Registration(ctx)
		return err == nil && renewed.ValidUntil > first.ValidUntil && renewed.PendingQuery == 0
	})
	if renewed.Agreed != first.Agreed {
		t.Fatal("the renewal changed the terms agreed")
	}
	waitFor("the renewal's metric", func() bool { return testutil.ToFloat64(d.metrics.Renewals.WithLabelValues("renewed")) == 1 })
	if got := testutil.ToFloat64(d.metrics.RegistrationValidUntil); got != float64(renewed.ValidUntil) {
		t.Errorf("valid-until gauge %v, want %d", got, renewed.ValidUntil)
	}

	// Root's owner raises the slash rate; the owner does not agree.
	params, err := readers.NewRoot(n.e, n.root).GetRootParams(ctx)
	if err != nil {
		t.Fatal(err)
	}
	harsher := *params
	harsher.SlashBps = 5000
	if _, err := n.op.Do(ctx, bindings.SetParams{QueryID: 1, Params: harsher}); err != nil {
		t.Fatal(err)
	}
	if err := n.e.AdvanceTime(bindings.ChangeTimelock * time.Second); err != nil {
		t.Fatal(err)
	}
	if _, err := n.op.Do(ctx, bindings.ApplyChange{QueryID: 2}); err != nil {
		t.Fatal(err)
	}
	waitFor("the terms_changed state", func() bool { return d.renewal.Status().State == RegistrationTermsChanged })
	st := d.renewal.Status()
	if !strings.Contains(st.Problem, "slash per expired job 10% → 50%") || !strings.Contains(st.Problem, "cocoon worker update --accept-terms") {
		t.Errorf("the problem does not name the change and the way out: %q", st.Problem)
	}
	dash, err := d.Dashboard(ctx)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, warning := range dash.Warnings {
		found = found || strings.Contains(warning.Text, "Root's terms changed")
	}
	if !found || dash.Registration.State != RegistrationTermsChanged {
		t.Errorf("the dashboard does not say the terms changed: %+v", dash.Warnings)
	}
	// Nothing was sent: the worker is still active (its registration
	// lapsed), under the terms it agreed to, its stake whole.
	after, err := w.Registration(ctx)
	if err != nil || after.ValidUntil != renewed.ValidUntil || after.Agreed != first.Agreed {
		t.Fatalf("registration %+v (%v) after the change, want it as renewed", after, err)
	}
	if data, err := w.WorkerData(ctx); err != nil || data.Status != bindings.WorkerActive {
		t.Fatalf("worker %+v, %v", data, err)
	}
}
