package worker

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/xssnick/tonutils-go/address"

	"github.com/cocoon-network/cocoon/offchain/chain"
	"github.com/cocoon-network/cocoon/offchain/chain/readers"
	"github.com/cocoon-network/cocoon/offchain/internal/httpserve"
)

// MaxRequestBody bounds a posted request envelope.
const MaxRequestBody = 16 << 20

// Handler serves the worker's HTTP API:
//
//	GET  /                          the dashboard page (GET /api/dashboard: its data)
//	GET  /api/worker                the daemon's state as the dashboard reads it (Dashboard, JSON)
//	GET  /healthz                   status, engine, GPUs, attestation type
//	GET  /metrics                   Prometheus text format
//	GET  /evidence                  the evidence bundle (its sha256 is on chain)
//	GET  /collateral                TDX/SEV-SNP TCB collateral for the evidence
//	POST /v1/jobs/{job}/request     a request envelope too large to be inline
//	GET  /v1/jobs/{job}/result      a result envelope too large to be inline
func (d *Daemon) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", d.healthz)
	mux.Handle("GET /metrics", d.metrics.Handler())
	mux.HandleFunc("GET /evidence", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		_, _ = w.Write(d.id.Evidence)
	})
	mux.HandleFunc("GET /collateral", d.serveCollateral)
	mux.HandleFunc("POST /v1/jobs/{job}/request", d.postRequest)
	mux.HandleFunc("GET /v1/jobs/{job}/result", d.getResult)
	d.online.register(mux)
	d.dashboardRoutes(mux)
	mux.HandleFunc("GET /api/worker", d.serveState)
	return mux
}

func httpError(w http.ResponseWriter, status int, format string, a ...any) {
	httpserve.WriteJSON(w, status, map[string]string{"error": fmt.Sprintf(format, a...)})
}

func (d *Daemon) healthz(w http.ResponseWriter, r *http.Request) {
	status := map[string]any{
		"status":             "ok",
		"worker":             d.self.String(),
		"root":               d.root.String(),
		"engine":             d.engine.Name(),
		"engine_description": d.engine.Description(),
		"attestation":        d.id.Bundle.TEE,
		"gpu":                d.gpu,
		"max_concurrent":     d.cfg.MaxConcurrent,
		"jobs_in_flight":     len(d.sem),
	}
	if d.id.Bundle.TEE == "dev" {
		status["warning"] = "INSECURE: dev attestation, not hardware-backed"
	}
	if info, err := d.net.MasterchainInfo(r.Context()); err == nil {
		status["chain_seqno"] = info.Seqno
		status["chain_time"] = info.Time
	} else {
		status["status"] = "degraded"
		status["chain_error"] = err.Error()
	}
	httpserve.WriteJSON(w, http.StatusOK, status)
}

// postRequest takes a request envelope for one of this worker's jobs,
// checked against the job's on-chain commitment before it is kept. The job
// is checked before a byte of the body is read, and only MaxUploads bodies
// are in memory at once, so posts for jobs that do not exist cost nothing.
func (d *Daemon) postRequest(w http.ResponseWriter, r *http.Request) {
	job, ok := d.jobFromPath(w, r)
	if !ok {
		return
	}
	if r.ContentLength > MaxRequestBody {
		httpError(w, http.StatusRequestEntityTooLarge, "request of %d bytes is over the limit of %d", r.ContentLength, MaxRequestBody)
		return
	}
	t, ok := d.ourJob(w, r, job)
	if !ok {
		return
	}
	if rec, err := d.store.Get(job.StringRaw()); err == nil && rec.State >= StateRequest {
		// The job already holds its request (a client retrying a post
		// that went through): nothing to read.
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"ok":true}` + "\n"))
		return
	}
	select {
	case d.uploads <- struct{}{}:
		defer func() { <-d.uploads }()
	default:
		d.metrics.UploadsRefused.Inc()
		w.Header().Set("Retry-After", "1")
		httpError(w, http.StatusServiceUnavailable, "too many uploads at once; retry shortly")
		return
	}
	body, err := readBody(w, r, MaxRequestBody)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			httpError(w, http.StatusRequestEntityTooLarge, "request over %d bytes", MaxRequestBody)
			return
		}
		httpError(w, http.StatusBadRequest, "reading body: %v", err)
		return
	}
	if sha256.Sum256(body) != t.RequestHash {
		httpError(w, http.StatusConflict, "request does not match the job's commitment (sha256)")
		return
	}
	if err := d.store.PutPosted(job.StringRaw(), body, time.Now()); err != nil {
		d.log.Error("storing a posted request", "job", job.String(), "error", err)
		httpError(w, http.StatusInternalServerError, "storing the request failed")
		return
	}
	d.notifyPosted(job.StringRaw())
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"ok":true}` + "\n"))
}

// readBody reads a body of at most limit bytes into one buffer of the
// announced size, instead of growing (and doubling) one as it goes.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	var buf bytes.Buffer
	if r.ContentLength > 0 {
		buf.Grow(int(min(r.ContentLength, limit)) + bytes.MinRead)
	}
	_, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, limit))
	return buf.Bytes(), err
}

// jobFromPath parses {job}: a basechain address, where every Job lives.
func (d *Daemon) jobFromPath(w http.ResponseWriter, r *http.Request) (*address.Address, bool) {
	job, err := chain.ParseAddress(r.PathValue("job"))
	if err != nil {
		httpError(w, http.StatusBadRequest, "job: %v", err)
		return nil, false
	}
	if job.Workchain() != 0 {
		httpError(w, http.StatusBadRequest, "job: %s is in workchain %d; jobs live in workchain 0", job, job.Workchain())
		return nil, false
	}
	return job, true
}

// ourJob reads the terms of the job at {job} and answers 404 unless it is
// a Cocoon job for this worker. Only a failure to reach the chain is a
// 5xx (503, worth retrying); what the address holds is the client's input.
func (d *Daemon) ourJob(w http.ResponseWriter, r *http.Request, job *address.Address) (*readers.JobTermsView, bool) {
	unavailable := func(err error) {
		d.log.Warn("reading a job for an upload", "job", job.String(), "error", err)
		w.Header().Set("Retry-After", "2")
		httpError(w, http.StatusServiceUnavailable, "the worker cannot read the chain right now; retry shortly")
	}
	// The account first: an address with nothing deployed (the common
	// case of a bad or hostile request) is answered without a get-method.
	acc, err := d.net.Account(r.Context(), job)
	if err != nil {
		unavailable(err)
		return nil, false
	}
	if acc.Status != chain.StatusActive {
		httpError(w, http.StatusNotFound, "no job at %s", job)
		return nil, false
	}
	t, err := d.terms(r.Context(), job)
	var gm *chain.GetMethodError
	switch {
	case errors.Is(err, readers.ErrNotDeployed):
		httpError(w, http.StatusNotFound, "no job at %s", job)
		return nil, false
	case errors.As(err, &gm):
		httpError(w, http.StatusNotFound, "%s is not a Cocoon job (job_terms exits with %d)", job, gm.ExitCode)
		return nil, false
	case err != nil:
		unavailable(err)
		return nil, false
	case !t.Worker.Equals(d.self):
		httpError(w, http.StatusNotFound, "job %s is for another worker", job)
		return nil, false
	}
	return t, true
}

// getResult serves a sealed result: only the client's key opens it, and
// its sha256 is in the receipt on chain, so it needs no access control.
func (d *Daemon) getResult(w http.ResponseWriter, r *http.Request) {
	job, ok := d.jobFromPath(w, r)
	if !ok {
		return
	}
	rec, err := d.store.Get(job.StringRaw())
	if err == nil && rec.Pruned {
		httpError(w, http.StatusNotFound, "the result of job %s was deleted %s after the job closed", job, d.cfg.Retention.Duration)
		return
	}
	if err != nil || rec.State < StateSealed || rec.Result == nil {
		httpError(w, http.StatusNotFound, "no result for job %s (yet)", job)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	_, _ = w.Write(rec.Result)
}
