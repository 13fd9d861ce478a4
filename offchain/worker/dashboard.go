package worker

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net/http"
	"sync"
	"time"

	"github.com/cocoon-network/cocoon/bindings"
	"github.com/cocoon-network/cocoon/offchain/channel"
	"github.com/cocoon-network/cocoon/offchain/client"
	"github.com/cocoon-network/cocoon/offchain/tonamount"
)

// The dashboard's page, script and style ship inside the binary: a miner's
// browser loads nothing from anywhere else.
//
//go:embed dashboard
var dashboardFiles embed.FS

// dashboardChainTTL is how long the chain part of the dashboard is reused:
// the page polls every few seconds, toncenter's anonymous limit is about
// one request per second.
const dashboardChainTTL = 10 * time.Second

// evidenceWarnAge is when the dashboard starts warning that the evidence
// needs refreshing: clients refuse it after client.DefaultMaxEvidenceAge.
const evidenceWarnAge = client.DefaultMaxEvidenceAge * 5 / 6

// Dashboard is what GET /api/dashboard returns and the page at / shows.
type Dashboard struct {
	Time              time.Time         `json:"time"`
	Status            string            `json:"status"` // ok, degraded
	Worker            string            `json:"worker"`
	Root              string            `json:"root"`
	Owner             string            `json:"owner"`
	Engine            string            `json:"engine"`
	EngineDescription string            `json:"engine_description"`
	GPU               string            `json:"gpu"`
	TEE               string            `json:"tee"`
	EvidenceCreated   time.Time         `json:"evidence_created"`
	EvidenceAgeSec    int64             `json:"evidence_age_seconds"`
	Capacity          DashboardCapacity `json:"capacity"`
	Chain             *DashboardChain   `json:"chain,omitempty"`
	ChainError        string            `json:"chain_error,omitempty"`
	Channels          *ChannelEarnings  `json:"channels,omitempty"` // online payments by channel
	Totals            map[string]int    `json:"totals"`             // outcome -> jobs kept in the store
	Hours             []ActivityBucket  `json:"hours"`              // the last 24 hours
	Warnings          []string          `json:"warnings"`
}

// ChannelEarnings is what the online endpoint's payment channels hold for
// the worker: paid by vouchers, of which withdrawn on chain by commits.
type ChannelEarnings struct {
	Open      int    `json:"open"`
	Closed    int    `json:"closed"`
	Received  string `json:"received_ton"`  // cumulative vouchers
	Withdrawn string `json:"withdrawn_ton"` // committed or paid out on chain
	Pending   string `json:"pending_ton"`   // received, not yet on chain
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
}

// dashboardCache keeps the last chain read for dashboardChainTTL.
type dashboardCache struct {
	mu    sync.Mutex
	chain *DashboardChain
}

func (d *Daemon) dashboardRoutes(mux *http.ServeMux) {
	static, err := fs.Sub(dashboardFiles, "dashboard")
	if err != nil {
		panic(err) // the embedded directory is part of the binary
	}
	files := http.FileServerFS(static)
	page := func(w http.ResponseWriter, r *http.Request) {
		// Everything the page runs comes from here; nothing inline.
		w.Header().Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		files.ServeHTTP(w, r)
	}
	mux.HandleFunc("GET /{$}", page)
	mux.HandleFunc("GET /dashboard.js", page)
	mux.HandleFunc("GET /dashboard.css", page)
	mux.HandleFunc("GET /api/dashboard", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 15*time.Second)
		defer cancel()
		dash, err := d.Dashboard(ctx)
		if err != nil {
			d.log.Warn("building the dashboard", "error", err)
			httpError(w, http.StatusServiceUnavailable, "the dashboard is not available yet: %v", err)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_ = json.NewEncoder(w).Encode(dash)
	})
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
		Totals: act.Totals, Hours: act.Buckets, Warnings: []string{},
	}
	warn := func(format string, a ...any) { dash.Warnings = append(dash.Warnings, fmt.Sprintf(format, a...)) }
	if d.id.Bundle.TEE == "dev" {
		warn("INSECURE: dev attestation, not hardware-backed; only test-mode networks accept this worker")
	}
	if age := now.Sub(d.id.Bundle.Created()); age > evidenceWarnAge {
		warn("the attestation evidence is %d days old; clients refuse it after %d days: run cocoon worker attest and update",
			int(age.Hours()/24), int(client.DefaultMaxEvidenceAge.Hours()/24))
	}
	if inFlight >= d.cfg.MaxConcurrent {
		warn("at capacity: %d jobs in flight of max_concurrent %d; more are declined with a failure receipt", inFlight, d.cfg.MaxConcurrent)
	}
	if n := act.Buckets[len(act.Buckets)-1].Outcomes[OutcomeExpired] + act.Buckets[len(act.Buckets)-2].Outcomes[OutcomeExpired]; n > 0 {
		warn("%d jobs expired in the last two hours: each one slashed the stake", n)
	}
	if ce, err := d.channelEarnings(); err != nil {
		warn("reading the payment channels: %v", err)
	} else {
		dash.Channels = ce
	}
	ch, err := d.dashboardChain(ctx, now)
	if err != nil {
		dash.Status = "degraded"
		dash.ChainError = err.Error()
		warn("cannot read the chain: %v", err)
		return dash, nil
	}
	dash.Chain = ch
	switch {
	case !ch.Registered:
		warn("no Worker contract on chain: run cocoon worker register")
	case ch.ContractStatus != bindings.WorkerActive.String():
		warn("the Worker contract is %s: it takes no jobs", ch.ContractStatus)
	}
	if ch.Registered && !ch.AttestationMatches {
		warn("the evidence registered on chain is not this worker's: run cocoon worker update")
	}
	if ch.minStake {
		warn("the stake is below Root's minimum of %s TON: top it up", ch.MinStake)
	}
	if ch.LagSeconds > 60 {
		warn("the chain's latest block is %.0f s old", ch.LagSeconds)
	}
	return dash, nil
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
	w := bindings.NewWorker(d.net, d.self)
	data, err := w.WorkerData(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading the Worker contract: %w", err)
	}
	if data.Deployed {
		st, err := w.WorkerState(ctx)
		if err != nil {
			return nil, fmt.Errorf("reading the Worker contract's state: %w", err)
		}
		params, err := bindings.NewRoot(d.net, d.root).GetRootParams(ctx)
		if err != nil {
			return nil, fmt.Errorf("reading Root's parameters: %w", err)
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
		if data.Status == bindings.WorkerUnbonding {
			ends := time.Unix(int64(st.UnbondingSince)+int64(params.UnbondingDelay), 0).UTC()
			c.UnbondingEnds = &ends
		}
		for _, day := range h.Days() {
			c.Days = append(c.Days, DayPayload{Day: day.Day, Paid: day.Paid, Failed: day.Failed, SlashedJobs: day.SlashedJobs,
				Earned: tonamount.Format(day.Earned), EarnedNano: day.Earned.String()})
		}
	}
	d.dash.chain = c
	return c, nil
}

// channelEarnings sums the payee side of the online endpoint's payment
// channels; nil when the worker takes no channel payments.
func (d *Daemon) channelEarnings() (*ChannelEarnings, error) {
	if d.online == nil {
		return nil, nil
	}
	d.online.mu.Lock()
	payee := d.online.payee
	d.online.mu.Unlock()
	if payee == nil {
		return nil, nil
	}
	recs, err := payee.Channels()
	if err != nil {
		return nil, err
	}
	ce := &ChannelEarnings{}
	received, withdrawn := new(big.Int), new(big.Int)
	for _, r := range recs {
		if r.Phase == channel.PhaseClosed {
			ce.Closed++
		} else {
			ce.Open++
		}
		received.Add(received, r.Sent())
		if r.Withdrawn != nil {
			withdrawn.Add(withdrawn, r.Withdrawn)
		}
	}
	ce.Received, ce.Withdrawn = tonamount.Format(received), tonamount.Format(withdrawn)
	ce.Pending = tonamount.Format(new(big.Int).Sub(received, withdrawn))
	return ce, nil
}
