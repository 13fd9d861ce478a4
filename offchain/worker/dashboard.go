package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/cocoon-network/cocoon/bindings"
	"github.com/cocoon-network/cocoon/offchain/chain/readers"
	"github.com/cocoon-network/cocoon/offchain/channel"
	"github.com/cocoon-network/cocoon/offchain/client"
	"github.com/cocoon-network/cocoon/offchain/dashboard"
	"github.com/cocoon-network/cocoon/offchain/onlineproto"
	"github.com/cocoon-network/cocoon/offchain/tonamount"
)

// dashboardChainTTL is how long the chain part of the dashboard is reused:
// the page polls every few seconds, toncenter's anonymous limit is about
// one request per second.
const dashboardChainTTL = 10 * time.Second

// evidenceWarnAge is when the dashboard starts warning that the evidence
// needs refreshing: clients refuse it after client.DefaultMaxEvidenceAge.
const evidenceWarnAge = client.DefaultMaxEvidenceAge * 5 / 6

// Dashboard is what GET /api/dashboard returns and the page at / shows.
type Dashboard struct {
	Time              time.Time           `json:"time"`
	Status            string              `json:"status"` // ok, degraded
	Worker            string              `json:"worker"`
	Root              string              `json:"root"`
	Owner             string              `json:"owner"`
	Engine            string              `json:"engine"`
	EngineDescription string              `json:"engine_description"`
	GPU               string              `json:"gpu"`
	TEE               string              `json:"tee"`
	EvidenceCreated   time.Time           `json:"evidence_created"`
	EvidenceAgeSec    int64               `json:"evidence_age_seconds"`
	Capacity          DashboardCapacity   `json:"capacity"`
	Chain             *DashboardChain     `json:"chain,omitempty"`
	ChainError        string              `json:"chain_error,omitempty"`
	Totals            map[string]int      `json:"totals"` // outcome -> jobs kept in the store
	Hours             []ActivityBucket    `json:"hours"`  // the last 24 hours
	Online            DashboardOnline     `json:"online"`
	Registration      RegistrationStatus  `json:"registration"` // the daemon's renewal of it (renewal.go)
	Warnings          []dashboard.Warning `json:"warnings"`
}

// DashboardOnline is the online (gateway) endpoint: its requests and what
// its payers owe in open payment channels.
type DashboardOnline struct {
	Scheme   string             `json:"scheme"` // "" until payments run
	Slots    int                `json:"slots"`
	Busy     int                `json:"busy"`
	Queued   int                `json:"queued"`
	Requests map[string]float64 `json:"requests"` // outcome -> requests since start
	// Channels, Unclaimed and Deposits cover the payee's channels not yet
	// closed: Unclaimed is what their vouchers pay beyond what commits
	// already withdrew, Deposits what their payers put in.
	Channels  int    `json:"channels"`
	Unclaimed string `json:"unclaimed_ton"`
	Deposits  string `json:"deposits_ton"`
}

// DashboardCapacity is how much of the worker's limits is in use.
type DashboardCapacity struct {
	MaxConcurrent int `json:"max_concurrent"`
	InFlight      int `json:"in_flight"`
	MaxUploads    int `json:"max_uploads"`
	Uploading     int `json:"uploading"`
}

// DashboardChain is the part of the dashboard read from the chain.
type DashboardChain struct {
	Seqno              uint32       `json:"seqno"`
	LagSeconds         float64      `json:"lag_seconds"`
	Registered         bool         `json:"registered"`
	ContractStatus     string       `json:"contract_status"`
	Stake              string       `json:"stake_ton"`
	MinStake           string       `json:"min_stake_ton"`
	Earnings           string       `json:"earnings_ton"` // withdrawable now
	TotalEarned        string       `json:"total_earned_ton"`
	Slashed            string       `json:"slashed_ton"`
	FeesPaid           string       `json:"fees_paid_ton"`
	JobsCompleted      uint64       `json:"jobs_completed"`
	JobsFailed         uint64       `json:"jobs_failed"`
	JobsSlashed        uint64       `json:"jobs_slashed"`
	UnbondingEnds      *time.Time   `json:"unbonding_ends,omitempty"`
	AttestationMatches bool         `json:"attestation_matches"`
	Days               []DayPayload `json:"days"` // from the contract's history, newest first
	read               time.Time
	minStake           bool // stake below Root's minimum
}

// DayPayload is one UTC day of the contract's history, for the page.
type DayPayload struct {
	Day         string `json:"day"`
	Paid        int    `json:"paid"`
	Failed      int    `json:"failed"`
	SlashedJobs int    `json:"slashed"`
	Earned      string `json:"earned_ton"`
	EarnedNano  string `json:"earned_nanoton"`
	SlashedNano string `json:"slashed_nanoton"`
}

// dashboardCache keeps the last chain read for dashboardChainTTL, and the
// page (offchain/dashboard) the worker serves at /.
type dashboardCache struct {
	mu    sync.Mutex
	chain *DashboardChain

	once sync.Once
	page *dashboard.Dashboard
}

// dashboardPage is the page at / and its data at /api/dashboard, made on
// first use: Handler and Run share it.
func (d *Daemon) dashboardPage() *dashboard.Dashboard {
	d.dash.once.Do(func() {
		page, err := dashboard.New(dashboard.ProviderFunc(d.dashboardSnapshot), dashboard.Options{Logger: d.log})
		if err != nil {
			panic(err) // only a nil provider or bad options fail, and these are fixed here
		}
		d.dash.page = page
	})
	return d.dash.page
}

// dashboardRoutes serves the dashboard: the page at exactly /, its
// assets under /dashboard/, its data at /api/dashboard.
func (d *Daemon) dashboardRoutes(mux *http.ServeMux) { d.dashboardPage().Register(mux) }

// serveState answers GET /api/worker with the daemon's state, for tools
// (cocoon worker status) that need its values rather than the page's.
func (d *Daemon) serveState(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), dashboard.DefaultTimeout)
	defer cancel()
	dash, err := d.Dashboard(ctx)
	if err != nil {
		httpError(w, http.StatusServiceUnavailable, "reading the worker's state: %v", err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(dash)
}

// Dashboard gathers the worker's state for the page at /.
func (d *Daemon) Dashboard(ctx context.Context) (*Dashboard, error) {
	d.mu.Lock()
	store := d.store
	d.mu.Unlock()
	if store == nil {
		return nil, errors.New("the worker's state is not open")
	}
	now := time.Now()
	act, err := store.Activity(now, time.Hour, 24)
	if err != nil {
		return nil, fmt.Errorf("reading the job records: %w", err)
	}
	d.mu.Lock()
	inFlight := len(d.running)
	d.mu.Unlock()
	dash := &Dashboard{
		Time: now.UTC(), Status: "ok",
		Worker: d.self.String(), Root: d.root.String(), Owner: d.owner.String(),
		Engine: d.engine.Name(), EngineDescription: d.engine.Description(), GPU: d.gpu,
		TEE: d.id.Bundle.TEE, EvidenceCreated: d.id.Bundle.Created(),
		EvidenceAgeSec: int64(now.Sub(d.id.Bundle.Created()).Seconds()),
		Capacity: DashboardCapacity{MaxConcurrent: d.cfg.MaxConcurrent, InFlight: inFlight,
			MaxUploads: d.cfg.HTTP.MaxUploads, Uploading: len(d.uploads)},
		Totals: act.Totals, Hours: act.Buckets, Warnings: []dashboard.Warning{},
	}
	warn := func(level dashboard.Level, format string, a ...any) {
		dash.Warnings = append(dash.Warnings, dashboard.Warning{Level: level, Text: fmt.Sprintf(format, a...)})
	}
	if d.id.Bundle.TEE == "dev" {
		warn(dashboard.LevelBad, "INSECURE: dev attestation, not hardware-backed; only test-mode networks accept this worker")
	}
	if age := now.Sub(d.id.Bundle.Created()); age > evidenceWarnAge {
		warn(dashboard.LevelWarn, "the attestation evidence is %d days old; clients refuse it after %d days: run cocoon worker attest and update",
			int(age.Hours()/24), int(client.DefaultMaxEvidenceAge.Hours()/24))
	}
	if inFlight >= d.cfg.MaxConcurrent {
		warn(dashboard.LevelWarn, "at capacity: %d jobs in flight of max_concurrent %d; more are declined with a failure receipt", inFlight, d.cfg.MaxConcurrent)
	}
	if n := act.Buckets[len(act.Buckets)-1].Outcomes[OutcomeExpired] + act.Buckets[len(act.Buckets)-2].Outcomes[OutcomeExpired]; n > 0 {
		warn(dashboard.LevelBad, "%d jobs expired in the last two hours: each one slashed the stake", n)
	}
	if dash.Online, err = d.dashboardOnline(); err != nil {
		return nil, err
	}
	dash.Registration = d.renewal.Status()
	if g := dash.Registration.GasLow; g != "" {
		warn(dashboard.LevelWarn, "%s", g)
	}
	switch reg := dash.Registration; {
	case reg.State == RegistrationValid && !reg.ValidUntil.IsZero() && reg.ValidUntil.Sub(now) < renewAhead/2:
		warn(dashboard.LevelWarn, "the registration lapses at %s and is not renewed yet", reg.ValidUntil.UTC().Format(time.RFC3339))
	case reg.Problem != "" && reg.State != RegistrationNotActive:
		// not active: the contract status warning below says it
		warn(dashboard.LevelBad, "registration: %s", reg.Problem)
	}
	ch, err := d.dashboardChain(ctx, now)
	if err != nil {
		dash.Status = "degraded"
		dash.ChainError = err.Error()
		warn(dashboard.LevelBad, "cannot read the chain: %v", err)
		return dash, nil
	}
	dash.Chain = ch
	switch {
	case !ch.Registered:
		warn(dashboard.LevelBad, "no Worker contract on chain: run cocoon worker register")
	case ch.ContractStatus == bindings.WorkerUnbonding.String() && ch.UnbondingEnds != nil:
		warn(dashboard.LevelWarn, "unbonding: the worker takes no jobs; the stake can be withdrawn from %s", ch.UnbondingEnds.Format(time.RFC3339))
	case ch.ContractStatus != bindings.WorkerActive.String():
		warn(dashboard.LevelBad, "the Worker contract is %s: it takes no jobs", ch.ContractStatus)
	}
	if ch.Registered && !ch.AttestationMatches {
		warn(dashboard.LevelBad, "the evidence registered on chain is not this worker's: run cocoon worker update")
	}
	if ch.minStake {
		warn(dashboard.LevelBad, "the stake is below Root's minimum of %s TON: top it up", ch.MinStake)
	}
	if ch.LagSeconds > 60 {
		warn(dashboard.LevelWarn, "the chain's latest block is %.0f s old", ch.LagSeconds)
	}
	return dash, nil
}

// dashboardOnline reads the online endpoint's load, its requests by
// outcome (from the metrics /metrics serves) and its payment channels.
func (d *Daemon) dashboardOnline() (DashboardOnline, error) {
	o := d.online
	o.mu.Lock()
	on := DashboardOnline{Slots: cap(o.slots), Busy: len(o.slots), Queued: o.queued}
	payee := o.payee
	if o.vouchers != nil {
		on.Scheme = o.vouchers.Scheme()
	}
	o.mu.Unlock()
	var err error
	if on.Requests, err = dashboard.CountersByLabel(d.metrics.Registry(), "cocoon_worker_online_requests_total", "outcome"); err != nil {
		return on, err
	}
	unclaimed, deposits := new(big.Int), new(big.Int)
	if payee != nil {
		chans, err := payee.Channels()
		if err != nil {
			return on, fmt.Errorf("reading the payment channels: %w", err)
		}
		for _, c := range chans {
			if c.Phase == channel.PhaseClosed {
				continue
			}
			on.Channels++
			if left := new(big.Int).Sub(c.Sent(), nonNil(c.Withdrawn)); left.Sign() > 0 {
				unclaimed.Add(unclaimed, left)
			}
			deposits.Add(deposits, nonNil(c.Deposit))
		}
	}
	on.Unclaimed, on.Deposits = tonamount.Format(unclaimed), tonamount.Format(deposits)
	return on, nil
}

func nonNil(n *big.Int) *big.Int {
	if n == nil {
		return new(big.Int)
	}
	return n
}

// dashboardChain reads (or reuses, within dashboardChainTTL) the chain part.
func (d *Daemon) dashboardChain(ctx context.Context, now time.Time) (*DashboardChain, error) {
	d.dash.mu.Lock()
	defer d.dash.mu.Unlock()
	if c := d.dash.chain; c != nil && now.Sub(c.read) < dashboardChainTTL {
		return c, nil
	}
	info, err := d.net.MasterchainInfo(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading the chain head: %w", err)
	}
	c := &DashboardChain{read: now, Seqno: info.Seqno, LagSeconds: now.Sub(time.Unix(int64(info.Time), 0)).Seconds(), Days: []DayPayload{}}
	w := readers.NewWorker(d.net, d.self)
	data, err := w.WorkerData(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading the Worker contract: %w", err)
	}
	if data.Deployed {
		st, err := w.WorkerState(ctx)
		if err != nil {
			return nil, fmt.Errorf("reading the Worker contract's state: %w", err)
		}
		params, err := readers.NewRoot(d.net, d.root).GetRootParams(ctx)
		if err != nil {
			return nil, fmt.Errorf("reading Root's parameters: %w", err)
		}
		terms, err := w.RegisteredTerms(ctx)
		if err != nil {
			return nil, fmt.Errorf("reading the Worker contract's terms: %w", err)
		}
		h, err := ReadHistory(ctx, d.net, d.self, 256)
		if err != nil {
			return nil, err
		}
		c.Registered = true
		c.ContractStatus = data.Status.String()
		c.Stake, c.MinStake = tonamount.Format(st.Stake), tonamount.Format(params.MinWorkerStake)
		c.minStake = st.Stake.Cmp(params.MinWorkerStake) < 0
		c.Earnings, c.TotalEarned = tonamount.Format(st.Earnings), tonamount.Format(st.TotalEarned)
		c.Slashed, c.FeesPaid = tonamount.Format(h.Slashed), tonamount.Format(h.Fees)
		c.JobsCompleted, c.JobsFailed, c.JobsSlashed = st.JobsCompleted, st.JobsFailed, st.JobsSlashed
		c.AttestationMatches = st.AttestationHash == d.id.EvidenceHash()
		if data.Status == bindings.WorkerUnbonding && terms != nil {
			ends := time.Unix(int64(st.UnbondingSince)+int64(terms.WithdrawDelay())+1, 0).UTC()
			c.UnbondingEnds = &ends
		}
		for _, day := range h.Days() {
			c.Days = append(c.Days, DayPayload{Day: day.Day, Paid: day.Paid, Failed: day.Failed, SlashedJobs: day.SlashedJobs,
				Earned: tonamount.Format(day.Earned), EarnedNano: day.Earned.String(), SlashedNano: day.Slashed.String()})
		}
	}
	d.dash.chain = c
	return c, nil
}

// jobSeries are the job outcomes the charts show, with their colour.
var jobSeries = []dashboard.Series{
	{Key: OutcomeCompleted, Label: "Completed", Level: dashboard.LevelOK},
	{Key: OutcomeFailed, Label: "Failed (refunded)", Level: dashboard.LevelWarn},
	{Key: OutcomeExpired, Label: "Expired (slashed)", Level: dashboard.LevelBad},
	{Key: OutcomeClosed, Label: "Closed otherwise"},
}

// dashboardSnapshot is the worker as the page at / shows it.
func (d *Daemon) dashboardSnapshot(ctx context.Context) (*dashboard.Snapshot, error) {
	w, err := d.Dashboard(ctx)
	if err != nil {
		return nil, err
	}
	return w.Snapshot(), nil
}

// Snapshot lays the worker's state out for the page: panels, counters for
// the live chart, and the histories of the job store and the contract.
func (w *Dashboard) Snapshot() *dashboard.Snapshot {
	s := &dashboard.Snapshot{
		Title: "Cocoon worker", Subject: w.Worker, Warnings: w.Warnings,
		ChartTitle: "Jobs and online requests",
	}
	f := func(key, label, value string) dashboard.Field {
		return dashboard.Field{Key: key, Label: label, Value: value}
	}
	ton := func(v string) string { return v + " TON" }

	contract := dashboard.Panel{Title: "Worker contract"}
	earnings := dashboard.Panel{Title: "Earnings"}
	jobs := dashboard.Panel{Title: "Jobs"}
	switch c := w.Chain; {
	case c == nil:
		s.Status, s.Level = "chain unreachable", dashboard.LevelBad
		contract.Fields = append(contract.Fields, dashboard.Field{Key: "contract-status", Label: "Status", Value: "unknown",
			Note: w.ChainError, Level: dashboard.LevelBad})
	case !c.Registered:
		s.Status, s.Level = "not registered", dashboard.LevelBad
		contract.Fields = append(contract.Fields, dashboard.Field{Key: "contract-status", Label: "Status", Value: "not registered",
			Note: "cocoon worker register", Level: dashboard.LevelBad})
	default:
		s.Status = c.ContractStatus
		switch c.ContractStatus {
		case bindings.WorkerActive.String():
			s.Level = dashboard.LevelOK
		case bindings.WorkerUnbonding.String(), bindings.WorkerPending.String():
			s.Level = dashboard.LevelWarn
		default:
			s.Level = dashboard.LevelBad
		}
		stake := dashboard.Field{Key: "stake", Label: "Stake", Value: ton(c.Stake), Note: "Root's minimum: " + ton(c.MinStake)}
		if c.minStake {
			stake.Level = dashboard.LevelBad
		}
		unbonding := f("unbonding", "Unbonding", "no")
		if c.UnbondingEnds != nil {
			unbonding = dashboard.Field{Key: "unbonding", Label: "Unbonding ends", Value: c.UnbondingEnds.Format("2006-01-02 15:04 UTC"),
				Note: "then the owner can withdraw", Level: dashboard.LevelWarn}
		}
		contract.Fields = append(contract.Fields,
			dashboard.Field{Key: "contract-status", Label: "Status", Value: c.ContractStatus, Level: s.Level}, stake, unbonding)
		earnings.Fields = append(earnings.Fields,
			dashboard.Field{Key: "earnings", Label: "Withdrawable", Value: ton(c.Earnings), Note: "on chain, in the Worker contract"},
			f("total-earned", "Earned in total", ton(c.TotalEarned)),
			f("slashed", "Slashed", ton(c.Slashed)),
			f("fees", "Contract fees paid", ton(c.FeesPaid)))
		jobs.Fields = append(jobs.Fields, dashboard.Field{Key: "chain-jobs", Label: "On chain",
			Value: fmt.Sprintf("%d completed · %d failed · %d slashed", c.JobsCompleted, c.JobsFailed, c.JobsSlashed),
			Note:  "the Worker contract's counters"})
	}
	contract.Fields = append(contract.Fields, f("worker", "Worker", w.Worker), f("owner", "Owner", w.Owner))
	channels := dashboard.Field{Key: "channel-earnings", Label: "In open channels", Value: ton(w.Online.Unclaimed),
		Note: fmt.Sprintf("%d channels, %s TON deposited by payers; not yet committed on chain", w.Online.Channels, w.Online.Deposits)}
	if w.Online.Scheme != onlineproto.ChannelScheme {
		channels.Note = "payment channels are off (scheme: " + orNone(w.Online.Scheme) + ")"
	}
	earnings.Fields = append(earnings.Fields, channels)

	var kept []string
	for _, ser := range jobSeries {
		kept = append(kept, fmt.Sprintf("%d %s", w.Totals[ser.Key], ser.Key))
	}
	answered, other := 0.0, 0.0
	for outcome, n := range w.Online.Requests {
		if outcome == "completed" {
			answered += n
		} else {
			other += n
		}
	}
	jobs.Fields = append(jobs.Fields,
		dashboard.Field{Key: "totals", Label: "Closed on this worker", Value: strings.Join(kept, " · ")},
		f("online-requests", "Online requests", fmt.Sprintf("%.0f answered · %.0f not", answered, other)))

	capacity := dashboard.Panel{Title: "Capacity", Fields: []dashboard.Field{
		f("jobs-in-flight", "Jobs in flight", fmt.Sprintf("%d of %d", w.Capacity.InFlight, w.Capacity.MaxConcurrent)),
		f("uploads", "Uploads being read", fmt.Sprintf("%d of %d", w.Capacity.Uploading, w.Capacity.MaxUploads)),
		f("online-slots", "Online slots busy", fmt.Sprintf("%d of %d", w.Online.Busy, w.Online.Slots)),
		f("online-queue", "Online queue", fmt.Sprint(w.Online.Queued)),
	}}
	if w.Capacity.InFlight >= w.Capacity.MaxConcurrent {
		capacity.Fields[0].Level = dashboard.LevelWarn
	}

	tee := dashboard.Field{Key: "tee", Label: "Attestation", Value: w.TEE}
	if w.TEE == "dev" {
		tee.Level, tee.Note = dashboard.LevelBad, "not hardware-backed: NOT SECURE"
	}
	age := dashboard.Field{Key: "evidence-age", Label: "Evidence age", Value: ageText(time.Duration(w.EvidenceAgeSec) * time.Second),
		Note: "created " + w.EvidenceCreated.Format("2006-01-02 15:04 UTC")}
	if time.Duration(w.EvidenceAgeSec)*time.Second > evidenceWarnAge {
		age.Level = dashboard.LevelWarn
	}
	node := dashboard.Panel{Title: "Attestation and engine", Fields: []dashboard.Field{tee, age}}
	if w.Chain != nil && w.Chain.Registered {
		match := dashboard.Field{Key: "evidence-on-chain", Label: "Evidence on chain", Value: "this worker's", Level: dashboard.LevelOK}
		if !w.Chain.AttestationMatches {
			match.Value, match.Level = "another", dashboard.LevelBad
		}
		node.Fields = append(node.Fields, match)
	}
	node.Fields = append(node.Fields, dashboard.Field{Key: "engine", Label: "Engine", Value: w.Engine, Note: w.EngineDescription},
		f("gpu", "GPU", orNone(w.GPU)))
	if w.Chain != nil {
		node.Fields = append(node.Fields, f("chain", "Chain head", fmt.Sprintf("block %d, %.0f s ago", w.Chain.Seqno, w.Chain.LagSeconds)))
	}
	s.Panels = []dashboard.Panel{contract, earnings, jobs, capacity, node}

	// The live chart: what the job store and the online endpoint counted.
	for _, ser := range jobSeries {
		s.Counters = append(s.Counters, dashboard.Counter{Key: "job-" + ser.Key, Label: "Jobs " + strings.ToLower(ser.Label),
			Level: ser.Level, Value: float64(w.Totals[ser.Key])})
	}
	s.Counters = append(s.Counters,
		dashboard.Counter{Key: "online-answered", Label: "Online answered", Value: answered},
		dashboard.Counter{Key: "online-other", Label: "Online refused or failed", Value: other})

	s.Histories = append(s.Histories, jobsPerHour(w.Hours))
	if w.Chain != nil && len(w.Chain.Days) > 0 {
		s.Histories = append(s.Histories, payPerDay(w.Chain.Days))
	}
	return s
}

// jobsPerHour charts the job records' outcomes per hour.
func jobsPerHour(hours []ActivityBucket) dashboard.History {
	h := dashboard.History{Key: "jobs-per-hour", Title: "Jobs closed per hour (24 h)", Series: jobSeries,
		IntervalSeconds: time.Hour.Seconds(), Slots: 24}
	for _, b := range hours {
		bar := dashboard.Bar{Start: b.Start.UnixMilli(), End: b.Start.Add(time.Hour).UnixMilli()}
		for _, ser := range jobSeries {
			bar.Values = append(bar.Values, float64(b.Outcomes[ser.Key]))
		}
		h.Bars = append(h.Bars, bar)
	}
	return h
}

// payPerDay charts the Worker contract's history: pay and slashes per day.
func payPerDay(days []DayPayload) dashboard.History {
	h := dashboard.History{Key: "pay-per-day", Title: "Pay per day (the contract's history)", Unit: "TON",
		IntervalSeconds: (24 * time.Hour).Seconds(), Slots: 14,
		Series: []dashboard.Series{
			{Key: "earned", Label: "Earned", Level: dashboard.LevelOK},
			{Key: "slashed", Label: "Slashed", Level: dashboard.LevelBad},
		}}
	for i := len(days) - 1; i >= 0; i-- { // oldest first
		day, err := time.Parse(time.DateOnly, days[i].Day)
		if err != nil {
			continue
		}
		h.Bars = append(h.Bars, dashboard.Bar{Start: day.UnixMilli(), End: day.AddDate(0, 0, 1).UnixMilli(),
			Values: []float64{nanoToTON(days[i].EarnedNano), nanoToTON(days[i].SlashedNano)}})
	}
	return h
}

// nanoToTON is a decimal nanoton amount in TON, for a chart's scale.
func nanoToTON(nano string) float64 {
	n, ok := new(big.Float).SetString(nano)
	if !ok {
		return 0
	}
	v, _ := new(big.Float).Quo(n, big.NewFloat(1e9)).Float64()
	return v
}

func ageText(d time.Duration) string {
	switch {
	case d < 2*time.Hour:
		return fmt.Sprintf("%d min", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d h", int(d.Hours()))
	}
	return fmt.Sprintf("%d days", int(d.Hours()/24))
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
