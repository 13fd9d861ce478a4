package gateway

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// journal remembers, across a crash of the gateway process, which
// attempts it had sent to workers and not yet settled, so that a restarted
// gateway fetches their receipts (GET /v1/receipts/{id}) and pays exactly
// what the workers charged for them: without it, a gateway killed with
// requests in flight left the workers charged and never paid.
//
// Each event is one line written with one write(2) and no fsync: it
// survives the process dying (kill -9, an OOM kill, a panic) but not the
// machine; what a machine crash loses is at most the attempts in flight,
// which then show in unpaid (the workers report them) instead of being
// paid. The journal never causes a double payment: an attempt whose
// payment began is recorded with the cumulative total its voucher carries,
// and on restart it counts as paid when the stored voucher reaches that
// total.
type journal struct {
	path string
	// durable makes every voucher signed so far durable (the payer's
	// store writes vouchers behind); nil when they are durable at once.
	durable func() error

	mu   sync.Mutex
	f    *os.File
	open map[string]*journalEntry // by key(id, worker)
	size int64
	// paid are attempts settled with a payment whose voucher may not be
	// on disk yet: their end is written after the next durable().
	paid []string
}

// journalSettleEvery is how often the ends of paid attempts are written,
// each batch after one durable() of the vouchers that paid them.
const journalSettleEvery = 100 * time.Millisecond

// journalEntry is one attempt: what the restarted gateway needs to check
// and pay its receipt.
type journalEntry struct {
	Op        string `json:"op"` // "start", "pay", "end"
	ID        string `json:"id"`
	Worker    string `json:"worker"` // raw address
	Payer     string `json:"payer,omitempty"`
	Model     string `json:"model,omitempty"`
	MaxTokens uint32 `json:"max_tokens,omitempty"`
	InBound   uint32 `json:"in_bound,omitempty"`
	At        int64  `json:"at,omitempty"` // unix ms the attempt was sent
	// Total is, on "pay", the cumulative total the worker's voucher
	// carries once this attempt is paid.
	Total string `json:"total,omitempty"`

	held bool // a receipt is being collected: the attempt's end waits for it
}

func journalKey(id, worker string) string { return id + "\x00" + worker }

// journalRotate is the size past which the journal is rewritten with only
// the attempts still open.
const journalRotate = 8 << 20

// openJournal opens (or creates) the journal at path and returns the
// attempts an earlier process left open, each with its last event ("pay"
// when its payment had begun).
func openJournal(path string) (*journal, []journalEntry, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, nil, fmt.Errorf("gateway journal: %w", err)
	}
	open := map[string]*journalEntry{}
	var order []string
	if f, err := os.Open(path); err == nil {
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 4096), 1<<20)
		for sc.Scan() {
			var e journalEntry
			if json.Unmarshal(sc.Bytes(), &e) != nil || e.ID == "" {
				continue // a line torn by the crash
			}
			k := journalKey(e.ID, e.Worker)
			switch e.Op {
			case "start":
				if _, ok := open[k]; !ok {
					order = append(order, k)
				}
				open[k] = &e
			case "pay":
				if s := open[k]; s != nil {
					s.Op, s.Total = "pay", e.Total
				}
			case "end":
				delete(open, k)
			}
		}
		f.Close()
		if err := sc.Err(); err != nil && !errors.Is(err, bufio.ErrTooLong) {
			return nil, nil, fmt.Errorf("reading the gateway journal %s: %w", path, err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, nil, fmt.Errorf("gateway journal: %w", err)
	}
	var left []journalEntry
	for _, k := range order {
		if e := open[k]; e != nil {
			left = append(left, *e)
		}
	}
	j := &journal{path: path, open: map[string]*journalEntry{}}
	// Start the file afresh with what is still open.
	if err := j.rewrite(left); err != nil {
		return nil, nil, err
	}
	return j, left, nil
}

// rewrite replaces the file with the given open attempts (and then those
// of j.open); j.mu held or j not shared yet.
func (j *journal) rewrite(extra []journalEntry) error {
	tmp := j.path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("gateway journal: %w", err)
	}
	w := bufio.NewWriter(f)
	var size int64
	put := func(e journalEntry) {
		start := e
		start.Op, start.Total = "start", ""
		lines := []journalEntry{start}
		if e.Op == "pay" {
			lines = append(lines, journalEntry{Op: "pay", ID: e.ID, Worker: e.Worker, Total: e.Total})
		}
		for _, ev := range lines {
			b, _ := json.Marshal(ev)
			n, _ := w.Write(append(b, '\n'))
			size += int64(n)
		}
	}
	for _, e := range extra {
		put(e)
	}
	for _, e := range j.open {
		put(*e)
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("gateway journal: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("gateway journal: %w", err)
	}
	f.Close()
	if err := os.Rename(tmp, j.path); err != nil {
		return fmt.Errorf("gateway journal: %w", err)
	}
	if j.f != nil {
		j.f.Close()
	}
	if j.f, err = os.OpenFile(j.path, os.O_APPEND|os.O_WRONLY, 0o600); err != nil {
		return fmt.Errorf("gateway journal: %w", err)
	}
	j.size = size
	return nil
}

// write appends one event; j.mu held. A failed write is reported but does
// not stop the request: the journal only narrows what a crash can cost.
func (j *journal) write(e *journalEntry) error {
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	n, err := j.f.Write(append(b, '\n'))
	j.size += int64(n)
	if err == nil && j.size > journalRotate {
		err = j.rewrite(nil)
	}
	return err
}

// begin records an attempt sent to a worker.
func (j *journal) begin(id, worker, payer string, req *request) error {
	if j == nil {
		return nil
	}
	e := &journalEntry{Op: "start", ID: id, Worker: worker, Payer: payer, Model: req.model, MaxTokens: req.maxTokens, InBound: req.inBound, At: time.Now().UnixMilli()}
	j.mu.Lock()
	defer j.mu.Unlock()
	j.open[journalKey(id, worker)] = e
	return j.write(e)
}

// paying records that the attempt's payment begins and the cumulative
// total the worker's voucher will carry with it.
func (j *journal) paying(id, worker string, total *big.Int) error {
	if j == nil {
		return nil
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	e := j.open[journalKey(id, worker)]
	if e == nil {
		return nil
	}
	e.Op, e.Total = "pay", total.String()
	return j.write(&journalEntry{Op: "pay", ID: id, Worker: worker, Total: e.Total})
}

// hold keeps the attempt open after it returns: its receipt is being
// collected, and end comes from the collector.
func (j *journal) hold(id, worker string) {
	if j == nil {
		return
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if e := j.open[journalKey(id, worker)]; e != nil {
		e.held = true
	}
}

// end records that the attempt is settled (paid, or nothing to pay).
// Unless force, an attempt held for collection stays open.
func (j *journal) end(id, worker string, force bool) error {
	if j == nil {
		return nil
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	k := journalKey(id, worker)
	e := j.open[k]
	if e == nil || (e.held && !force) {
		return nil
	}
	if e.Op == "pay" && j.durable != nil {
		// Ended once its voucher is on disk (settlePaid): a crash before
		// leaves it open, and the next run checks the stored voucher.
		j.paid = append(j.paid, k)
		return nil
	}
	delete(j.open, k)
	return j.write(&journalEntry{Op: "end", ID: id, Worker: worker})
}

// settlePaid makes the vouchers of the paid attempts durable and then
// writes their ends.
func (j *journal) settlePaid() error {
	if j == nil {
		return nil
	}
	j.mu.Lock()
	batch := j.paid
	j.paid = nil
	j.mu.Unlock()
	if len(batch) == 0 {
		return nil
	}
	if err := j.durable(); err != nil {
		j.mu.Lock()
		j.paid = append(batch, j.paid...)
		j.mu.Unlock()
		return err
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	for _, k := range batch {
		e := j.open[k]
		if e == nil {
			continue
		}
		delete(j.open, k)
		if err := j.write(&journalEntry{Op: "end", ID: e.ID, Worker: e.Worker}); err != nil {
			return err
		}
	}
	return nil
}

// settleLoop writes the ends of paid attempts every journalSettleEvery
// until ctx ends, and once more then.
func (j *journal) settleLoop(ctx context.Context, log func(error)) {
	if j == nil {
		return
	}
	t := time.NewTicker(journalSettleEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			if err := j.settlePaid(); err != nil {
				log(err)
			}
			return
		case <-t.C:
			if err := j.settlePaid(); err != nil {
				log(err)
			}
		}
	}
}

// add takes an attempt an earlier process left open (recovery ends it).
func (j *journal) add(e journalEntry) {
	if j == nil {
		return
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	j.open[journalKey(e.ID, e.Worker)] = &e
}

func (j *journal) close() error {
	if j == nil {
		return nil
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f == nil {
		return nil
	}
	err := j.f.Close()
	j.f = nil
	return err
}

// orphanWait bounds how long a restarted gateway tries to settle the
// attempts an earlier run left open: workers keep receipts 10 minutes
// (and at most 8,192), so much later there would be nothing to fetch.
const orphanWait = 2 * time.Minute

// recoverOrphans settles the attempts an earlier run of the gateway left
// open: one whose payment had begun is done when the worker's stored
// voucher reaches the total it was to carry; otherwise its receipt is
// fetched from the worker and paid exactly, as if the answer had just
// ended. What cannot be settled within orphanWait (the worker is gone,
// or forgot the receipt) is logged; the worker reports the charge, and
// unpaid shows it.
func (g *Gateway) recoverOrphans(ctx context.Context) {
	select {
	case <-g.found:
	case <-ctx.Done():
		return
	}
	rp := g.cfg.Payer.(ResumingPayer) // New requires it with a journal
	kp, _ := g.cfg.Payer.(KeepingPayer)
	left := g.orphans
	for _, e := range left {
		g.journal.add(e)
	}
	deadline := time.Now().Add(orphanWait)
	paid, nothing := 0, 0
	for len(left) > 0 && time.Now().Before(deadline) && ctx.Err() == nil {
		var again []journalEntry
		for _, e := range left {
			u := g.upstreamByAddr(e.Worker)
			if u == nil {
				again = append(again, e)
				continue
			}
			if kp != nil {
				kp.Resume(ctx, u.w, u.hc) // the channel the attempt was paid on
			}
			if e.Op == "pay" {
				total, _ := new(big.Int).SetString(e.Total, 10)
				if promised, err := rp.Promised(u.w); err == nil && total != nil && promised.Cmp(total) >= 0 {
					_ = g.journal.end(e.ID, e.Worker, true) // its voucher was stored before the crash
					continue
				}
			}
			rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			su, err := g.fetchReceipt(rctx, u, e.Payer, e.ID)
			cancel()
			// A worker notices a vanished gateway at its next write and
			// then charges: until the answer could still be running, no
			// receipt may only mean not yet.
			running := time.Since(time.UnixMilli(e.At)) < g.cfg.FirstTokenTimeout+time.Duration(e.MaxTokens)*g.cfg.PerTokenTimeout+5*time.Second
			switch {
			case errors.Is(err, errNoReceipt) && running:
				again = append(again, e)
			case errors.Is(err, errNoReceipt):
				nothing++
				_ = g.journal.end(e.ID, e.Worker, true)
			case err != nil:
				again = append(again, e)
			default:
				g.settle(u, e.Payer, &request{model: e.Model, maxTokens: e.MaxTokens, inBound: e.InBound}, e.ID, su, false)
				g.metrics.collected.Inc()
				paid++
				_ = g.journal.end(e.ID, e.Worker, true)
			}
		}
		left = again
		if len(left) > 0 {
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
		}
	}
	g.log.Info("settled the requests an earlier run left in flight", "paid", paid, "nothing_charged", nothing, "unsettled", len(left))
	for _, e := range left {
		g.log.Warn("a request an earlier run left in flight could not be settled; what its worker charged stays unpaid", "worker", e.Worker, "request", e.ID)
	}
}
