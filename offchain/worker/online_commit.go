package worker

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"time"

	"github.com/cocoon-network/cocoon/offchain/channel"
)

// The commit exchange: a cooperative commit needs the payer's
// countersignature, and a worker has no address to reach a gateway at
// (gateways need no public endpoint). So the worker asks in its answers and
// the gateway, the HTTP client, runs the exchange:
//
//  1. every answer to a payer whose channel is due (uncommitted earnings
//     above online.commit_above, or any at all while the worker shuts
//     down) carries HeaderCommit with the amount the worker wants to
//     withdraw;
//  2. the gateway posts {"channel": id} to PathCommit; the worker signs its
//     commit proposal (channel.Payee.Commit) and answers with it;
//  3. the gateway countersigns it (channel.Payer.Cosign refuses anything
//     above the vouchers it signed) and posts it to PathCommitCosigned; the
//     worker submits it on chain with its gas wallet and answers once the
//     contract has paid its owner.
const (
	// HeaderCommit is on answers to a payer whose channel the worker wants
	// to commit: the uncommitted amount, nanoton.
	HeaderCommit = "Cocoon-Commit"
	// PathCommit: POST {"channel": id} → the worker's signed proposal.
	PathCommit = "/v1/channel/commit"
	// PathCommitCosigned: POST the countersigned proposal → CommitResult.
	PathCommitCosigned = "/v1/channel/commit/cosigned"
)

// CommitRequest is the body of PathCommit.
type CommitRequest struct {
	Channel channel.ID `json:"channel"`
}

// CommitResult is the answer of PathCommitCosigned.
type CommitResult struct {
	Channel channel.ID `json:"channel"`
	// Withdrawn is the channel's cumulative withdrawal to the worker's
	// owner after the commit (nanoton; the contract deducts the payout's
	// forwarding fee from what arrives).
	Withdrawn string `json:"withdrawn,omitempty"`
	// Pending (HTTP 202): submitted, not yet seen on chain when the
	// worker answered.
	Pending bool `json:"pending,omitempty"`
}

// cosignedWait is how long PathCommitCosigned waits for the chain before
// answering 202 (below the worker's default one-minute write timeout).
const cosignedWait = 45 * time.Second

// commitTimeout bounds one exchange: the gateway's countersignature and
// the commit's submission on chain.
const commitTimeout = 2 * time.Minute

// commitExchange is one commit under way: channel.Payee.Commit runs in its
// own goroutine and calls Cosign, which hands the proposal to the
// PathCommit handler and waits for the gateway's countersignature from the
// PathCommitCosigned handler.
type commitExchange struct {
	payer    string
	proposal chan *channel.Settlement // buffered 1
	answer   chan *channel.Settlement // buffered 1
	done     chan struct{}
	result   *channel.Settlement
	err      error
}

// Cosign implements channel.Cosigner.
func (x *commitExchange) Cosign(ctx context.Context, s *channel.Settlement) (*channel.Settlement, error) {
	x.proposal <- s
	select {
	case got := <-x.answer:
		return got, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("waiting for the payer's countersignature: %w", ctx.Err())
	}
}

// commitWanted is the amount to ask payer to commit, or nil: the payer's
// channel must be open with earnings past the threshold (any, while the
// worker shuts down), and the worker must have a gas wallet to submit.
func (o *online) commitWanted(payer string) *big.Int {
	o.mu.Lock()
	p, above, closing, busy := o.payee, o.commitAbove, o.closing, o.commits
	o.mu.Unlock()
	if p == nil || !o.canCommit {
		return nil
	}
	id, err := channel.ParseID(payer)
	if err != nil {
		return nil
	}
	o.mu.Lock()
	_, running := busy[id]
	o.mu.Unlock()
	if running {
		return nil
	}
	rec, err := p.Channel(id)
	if err != nil || rec.Phase != channel.PhaseOpen {
		return nil
	}
	u := rec.Uncommitted()
	if u.Sign() <= 0 || (!closing && u.Cmp(above) <= 0) {
		return nil
	}
	return u
}

// setCommitHeader asks payer for a commit when one is due.
func (o *online) setCommitHeader(w http.ResponseWriter, payer string) {
	if amt := o.commitWanted(payer); amt != nil {
		w.Header().Set(HeaderCommit, amt.String())
	}
}

// commitPropose serves PathCommit: it starts a commit of the payer's
// channel and answers with the worker's signed proposal.
func (o *online) commitPropose(w http.ResponseWriter, r *http.Request) {
	o.mu.Lock()
	p, can := o.payee, o.canCommit
	o.mu.Unlock()
	if p == nil || !can {
		apiError(w, http.StatusServiceUnavailable, "server_error", "commits_unavailable",
			"this worker submits no channel commits (payments = %q, online.gas_wallet set: %v)", o.cfg.Payments, can)
		return
	}
	payer, ok := o.payer(w, r)
	if !ok {
		return
	}
	var req CommitRequest
	if !readCommitJSON(w, r, &req) {
		return
	}
	if req.Channel.String() != payer {
		apiError(w, http.StatusForbidden, "invalid_request_error", "wrong_channel", "channel %s is not the payer's (%s)", req.Channel, payer)
		return
	}
	o.mu.Lock()
	if _, busy := o.commits[req.Channel]; busy {
		o.mu.Unlock()
		apiError(w, http.StatusConflict, "invalid_request_error", "commit_in_progress", "a commit of channel %s is under way", req.Channel)
		return
	}
	x := &commitExchange{payer: payer, proposal: make(chan *channel.Settlement, 1), answer: make(chan *channel.Settlement, 1), done: make(chan struct{})}
	o.commits[req.Channel] = x
	o.mu.Unlock()
	o.commitWG.Add(1)
	go func() {
		defer o.commitWG.Done()
		// The commit outlives the request that started it (it waits for
		// the countersignature posted separately) but not its timeout.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), commitTimeout)
		defer cancel()
		x.result, x.err = p.Commit(ctx, req.Channel, x)
		if x.err != nil {
			o.d.log.Warn("channel commit failed", "channel", req.Channel.String(), "error", x.err)
		}
		close(x.done)
		o.mu.Lock()
		delete(o.commits, req.Channel)
		o.mu.Unlock()
	}()
	select {
	case s := <-x.proposal:
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(s)
	case <-x.done:
		apiError(w, http.StatusConflict, "invalid_request_error", "commit_refused", "%v", x.err)
	case <-r.Context().Done():
	}
}

// commitCosigned serves PathCommitCosigned: the gateway's countersigned
// proposal; the worker submits it and answers once it is on chain.
func (o *online) commitCosigned(w http.ResponseWriter, r *http.Request) {
	payer, ok := o.payer(w, r)
	if !ok {
		return
	}
	var s channel.Settlement
	if !readCommitJSON(w, r, &s) {
		return
	}
	o.mu.Lock()
	x := o.commits[s.Channel]
	o.mu.Unlock()
	if x == nil || x.payer != payer {
		apiError(w, http.StatusNotFound, "invalid_request_error", "no_commit", "no commit of channel %s is waiting for a countersignature", s.Channel)
		return
	}
	select {
	case x.answer <- &s:
	default:
		apiError(w, http.StatusConflict, "invalid_request_error", "commit_in_progress", "channel %s: a countersignature was already posted", s.Channel)
		return
	}
	select {
	case <-x.done:
	case <-r.Context().Done():
		return
	case <-time.After(cosignedWait):
		// Still on its way to the chain: answer before the server's write
		// timeout; the worker's log and the channel say how it ended.
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusAccepted)
		_ = json.NewEncoder(w).Encode(CommitResult{Channel: s.Channel, Pending: true})
		return
	}
	if x.err != nil {
		// The countersignature or the submission failed: nothing was paid.
		apiError(w, http.StatusUnprocessableEntity, "invalid_request_error", "commit_failed", "%v", x.err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(CommitResult{Channel: s.Channel, Withdrawn: x.result.Withdraw.String()})
}

// maxCommitBody bounds the exchange's bodies (a settlement is < 1 KiB).
const maxCommitBody = 16 << 10

func readCommitJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxCommitBody))
	if err != nil {
		apiError(w, http.StatusRequestEntityTooLarge, "invalid_request_error", "body_too_large", "request body: %v", err)
		return false
	}
	if err := json.Unmarshal(body, v); err != nil {
		apiError(w, http.StatusBadRequest, "invalid_request_error", "bad_body", "request body: %v", err)
		return false
	}
	return true
}

// waitCommits waits up to d for the commits under way (shutdown: the
// channel store closes after them).
func (o *online) waitCommits(d time.Duration) {
	done := make(chan struct{})
	go func() {
		o.commitWG.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(d):
		o.d.log.Warn("a channel commit is still under way at shutdown; the channel stays safe (the next run's watcher, or a close)")
	}
}
