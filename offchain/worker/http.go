package worker

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/cocoon-network/cocoon/bindings"
	"github.com/cocoon-network/cocoon/offchain/chain"
)

// MaxRequestBody bounds a posted request envelope.
const MaxRequestBody = 16 << 20

// Handler serves the worker's HTTP API:
//
//	GET  /healthz                   status, engine, GPUs, attestation type
//	GET  /metrics                   Prometheus text format
//	GET  /evidence                  the evidence bundle (its sha256 is on chain)
//	GET  /collateral                TDX/SEV-SNP TCB collateral for the evidence
//	POST /v1/jobs/{job}/request     a request envelope too large to be inline
//	GET  /v1/jobs/{job}/result      a result envelope too large to be inline
func (d *Daemon) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", d.healthz)
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		_, _ = d.metrics.WriteTo(w)
	})
	mux.HandleFunc("GET /evidence", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		_, _ = w.Write(d.id.Evidence)
	})
	mux.HandleFunc("GET /collateral", d.serveCollateral)
	mux.HandleFunc("POST /v1/jobs/{job}/request", d.postRequest)
	mux.HandleFunc("GET /v1/jobs/{job}/result", d.getResult)
	return mux
}

func httpError(w http.ResponseWriter, status int, format string, a ...any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": fmt.Sprintf(format, a...)})
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
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(status)
}

// postRequest takes a request envelope for one of this worker's jobs,
// checked against the job's on-chain commitment before it is kept.
func (d *Daemon) postRequest(w http.ResponseWriter, r *http.Request) {
	job, err := chain.ParseAddress(r.PathValue("job"))
	if err != nil {
		httpError(w, http.StatusBadRequest, "job: %v", err)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxRequestBody+1))
	if err != nil {
		httpError(w, http.StatusBadRequest, "reading body: %v", err)
		return
	}
	if len(body) > MaxRequestBody {
		httpError(w, http.StatusRequestEntityTooLarge, "request over %d bytes", MaxRequestBody)
		return
	}
	t, err := d.terms(r.Context(), job)
	if err != nil {
		if errors.Is(err, bindings.ErrNotDeployed) {
			httpError(w, http.StatusNotFound, "no job at %s", job)
			return
		}
		httpError(w, http.StatusBadGateway, "reading the job from the chain: %v", err)
		return
	}
	if !t.Worker.Equals(d.self) {
		httpError(w, http.StatusNotFound, "job %s is for another worker", job)
		return
	}
	if sha256.Sum256(body) != t.RequestHash {
		httpError(w, http.StatusConflict, "request does not match the job's commitment (sha256)")
		return
	}
	if err := d.store.PutPosted(job.StringRaw(), body); err != nil {
		httpError(w, http.StatusInternalServerError, "storing request: %v", err)
		return
	}
	d.notifyPosted(job.StringRaw())
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"ok":true}` + "\n"))
}

// getResult serves a sealed result: only the client's key opens it, and
// its sha256 is in the receipt on chain, so it needs no access control.
func (d *Daemon) getResult(w http.ResponseWriter, r *http.Request) {
	job, err := chain.ParseAddress(r.PathValue("job"))
	if err != nil {
		httpError(w, http.StatusBadRequest, "job: %v", err)
		return
	}
	rec, err := d.store.Get(job.StringRaw())
	if err != nil || rec.State < StateSealed || rec.Result == nil {
		httpError(w, http.StatusNotFound, "no result for job %s (yet)", job)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	_, _ = w.Write(rec.Result)
}
