package gateway

import (
	"context"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"time"

	"github.com/cocoon-network/cocoon/offchain/channel"
	"github.com/cocoon-network/cocoon/offchain/dashboard"
	"github.com/cocoon-network/cocoon/offchain/onlineproto"
	"github.com/cocoon-network/cocoon/offchain/tonamount"
)

// budgetWarnShare is the share of the budget spent (in percent) from which
// the dashboard warns that it is running out.
const budgetWarnShare = 90

// requestOutcomes are the chart's series: cocoon_gateway_requests_total by
// outcome, in the order the legend lists them, with their colour.
var requestOutcomes = []struct {
	key, label string
	level      dashboard.Level
}{
	{outcomeOK, "Answered", dashboard.LevelOK},
	{outcomeRetried, "Retried on another worker", dashboard.LevelWarn},
	{outcomeBusy, "Busy (429)", dashboard.LevelWarn},
	{outcomeNoWorker, "No worker", dashboard.LevelBad},
	{outcomeFailed, "Failed mid-answer", dashboard.LevelBad},
	{outcomeBadReceipt, "Bad receipt", dashboard.LevelBad},
	{outcomeClientErr, "Client error", ""},
	{outcomeCancelled, "Cancelled by the app", ""},
}

func newDashboard(g *Gateway) (*dashboard.Dashboard, error) {
	return dashboard.New(dashboard.ProviderFunc(g.dashboardSnapshot), dashboard.Options{Logger: g.log})
}

// dashboardSnapshot is what the page at / shows: whether apps can be
// served, the workers per model and their routing state, capacity,
// payments against the budget, and requests by outcome.
func (g *Gateway) dashboardSnapshot(context.Context) (*dashboard.Snapshot, error) {
	now := time.Now()
	s := &dashboard.Snapshot{
		Title:      "Cocoon gateway",
		Subject:    "models: " + strings.Join(g.cfg.Models, ", "),
		ChartTitle: "Requests by outcome",
	}
	warn := func(level dashboard.Level, format string, a ...any) {
		s.Warnings = append(s.Warnings, dashboard.Warning{Level: level, Text: fmt.Sprintf(format, a...)})
	}

	g.mu.RLock()
	testMode := g.testMode
	pools := make(map[string][]*upstream, len(g.pools))
	for m, us := range g.pools {
		pools[m] = slices.Clone(us)
	}
	all := make([]*upstream, 0, len(g.byAddr))
	for _, u := range g.byAddr {
		all = append(all, u)
	}
	g.mu.RUnlock()

	workers := dashboard.Panel{Title: "Workers"}
	servable := 0
	for _, model := range g.cfg.Models {
		states := map[string]int{}
		for _, u := range pools[model] {
			states[u.state(now)]++
		}
		usable := states[stateHealthy] + states[stateProbing]
		f := dashboard.Field{
			Key: "workers:" + model, Label: model,
			Value: fmt.Sprintf("%d usable of %d", usable, len(pools[model])),
			Note: fmt.Sprintf("%d healthy · %d probing · %d circuit open · %d dropped",
				states[stateHealthy], states[stateProbing], states[stateCoolingOff], states[stateDropped]),
			Level: dashboard.LevelOK,
		}
		if usable == 0 {
			f.Level = dashboard.LevelBad
			warn(dashboard.LevelBad, "no usable worker for %s: its requests fail with no_worker", model)
		} else {
			servable++
		}
		workers.Fields = append(workers.Fields, f)
	}
	slices.SortFunc(all, func(a, b *upstream) int { return strings.Compare(a.key(), b.key()) })
	for _, u := range all {
		u.mu.Lock()
		reason := u.dropped
		u.mu.Unlock()
		if reason != "" {
			warn(dashboard.LevelWarn, "worker %s was dropped (%s): it gets no more requests", u.w.Address.String(), reason)
		}
	}

	var slots, free, queue, inFlight int
	var rate float64
	for _, u := range all {
		inFlight += int(u.outstanding.Load())
		if c := u.capacitySnapshot(); c != nil {
			slots, free, queue, rate = slots+c.Slots, free+c.Free, queue+c.Queue, rate+c.TokensPerSecond
		}
	}
	capacity := dashboard.Panel{Title: "Capacity", Fields: []dashboard.Field{
		{Key: "free-slots", Label: "Free slots", Value: fmt.Sprintf("%d of %d", free, slots), Note: "as the workers last reported"},
		{Key: "queued", Label: "Queued at workers", Value: fmt.Sprint(queue)},
		{Key: "in-flight", Label: "Requests in flight", Value: fmt.Sprint(inFlight)},
		{Key: "tokens-per-second", Label: "Tokens per second", Value: fmt.Sprintf("%.1f", rate)},
	}}

	spent, unpaid := g.payments.spentTotal(), g.payments.unpaid()
	budgetSpent := false
	payments := dashboard.Panel{Title: "Payments", Fields: []dashboard.Field{
		{Key: "scheme", Label: "Scheme", Value: g.cfg.Payer.Scheme()},
		{Key: "spent", Label: "Paid to workers", Value: tonamount.Format(spent) + " TON"},
		{Key: "unpaid", Label: "Owed beyond vouchers", Value: tonamount.Format(unpaid) + " TON",
			Note: "usage proven by receipts a voucher does not cover yet"},
	}}
	if b := g.cfg.Budget; b != nil {
		left := new(big.Int).Sub(b, spent)
		f := dashboard.Field{Key: "budget", Label: "Budget left", Value: tonamount.Format(left) + " TON",
			Note: "of " + tonamount.Format(b) + " TON"}
		used := new(big.Int).Mul(spent, big.NewInt(100))
		switch {
		case left.Sign() <= 0:
			f.Level, budgetSpent = dashboard.LevelBad, true
			warn(dashboard.LevelBad, "the budget of %s TON is spent: requests are refused", tonamount.Format(b))
		case b.Sign() > 0 && used.Cmp(new(big.Int).Mul(b, big.NewInt(budgetWarnShare))) >= 0:
			f.Level = dashboard.LevelWarn
			warn(dashboard.LevelWarn, "%s TON of the budget is left", tonamount.Format(left))
		}
		payments.Fields = append(payments.Fields, f)
	} else {
		payments.Fields = append(payments.Fields, dashboard.Field{Key: "budget", Label: "Budget", Value: "no cap"})
	}
	if cp, ok := g.cfg.Payer.(*ChannelPayer); ok {
		f, err := channelField(cp)
		if err != nil {
			return nil, err
		}
		payments.Fields = append(payments.Fields, f)
	}
	if g.cfg.Payer.Scheme() == onlineproto.IOUScheme {
		warn(dashboard.LevelWarn, "payments are IOUs, not backed by a deposit on chain: workers may refuse them")
	}
	if testMode {
		warn(dashboard.LevelBad, "Root is in test mode: dev attestation and plain http workers are admitted (NOT SECURE)")
	}

	byOutcome, err := dashboard.CountersByLabel(g.metrics.reg, "cocoon_gateway_requests_total", "outcome")
	if err != nil {
		return nil, err
	}
	requests := dashboard.Panel{Title: "Requests since start"}
	for _, o := range requestOutcomes {
		s.Counters = append(s.Counters, dashboard.Counter{Key: o.key, Label: o.label, Level: o.level, Value: byOutcome[o.key]})
		requests.Fields = append(requests.Fields, dashboard.Field{Key: "requests:" + o.key, Label: o.label, Value: fmt.Sprint(byOutcome[o.key])})
	}
	s.Panels = []dashboard.Panel{workers, capacity, payments, requests}

	switch {
	case budgetSpent:
		s.Status, s.Level = "budget spent", dashboard.LevelBad
	case servable == len(g.cfg.Models):
		s.Status, s.Level = "serving", dashboard.LevelOK
	case servable > 0:
		s.Status, s.Level = "degraded", dashboard.LevelWarn
	default:
		s.Status, s.Level = "no workers", dashboard.LevelBad
	}
	return s, nil
}

// channelField sums the gateway's payment channels not yet closed: what
// it deposited, and what is left once its vouchers are paid.
func channelField(cp *ChannelPayer) (dashboard.Field, error) {
	recs, err := cp.Payer.Channels()
	if err != nil {
		return dashboard.Field{}, fmt.Errorf("reading the payment channels: %w", err)
	}
	open := 0
	deposits, sent := new(big.Int), new(big.Int)
	for _, r := range recs {
		if r.Phase == channel.PhaseClosed {
			continue
		}
		open++
		if r.Deposit != nil {
			deposits.Add(deposits, r.Deposit)
		}
		sent.Add(sent, r.Sent())
	}
	left := new(big.Int).Sub(deposits, sent)
	return dashboard.Field{Key: "channels", Label: "Left in channels", Value: tonamount.Format(left) + " TON",
		Note: fmt.Sprintf("%d open, %s TON deposited, %s TON paid by vouchers", open, tonamount.Format(deposits), tonamount.Format(sent))}, nil
}
