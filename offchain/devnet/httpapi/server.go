// Package httpapi serves a devnet engine as a toncenter v2 compatible HTTP
// API, so that other processes and third-party TON clients (tonutils-go,
// @ton/ton, tonweb) use the devnet as they would use testnet or mainnet.
//
// Beside the toncenter methods it serves a few devnet-only endpoints under
// /devnet/: a faucet and test controls of time and blocks.
package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/cocoon-network/cocoon/offchain/boc"
	"github.com/cocoon-network/cocoon/offchain/chain"
	"github.com/cocoon-network/cocoon/offchain/devnet"
)

// maxBody bounds a request body: a BOC larger than this is not a message.
const maxBody = 1 << 20

// Server is the HTTP API over one engine.
type Server struct {
	e   *devnet.Engine
	log *slog.Logger
	// FaucetTimeout bounds how long a faucet request waits for inclusion.
	FaucetTimeout time.Duration
	methods       map[string]method
	metrics       *metrics
}

// params are a request's parameters, from a query string or a JSON object.
type params map[string]any

type method func(ctx context.Context, p params) (any, error)

// apiError is an error with the HTTP status toncenter would answer.
type apiError struct {
	code int
	msg  string
}

func (e *apiError) Error() string { return e.msg }

func badRequest(format string, a ...any) error {
	return &apiError{code: http.StatusBadRequest, msg: fmt.Sprintf(format, a...)}
}

// New returns a server for the engine.
func New(e *devnet.Engine, log *slog.Logger) *Server {
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s := &Server{e: e, log: log, FaucetTimeout: 60 * time.Second}
	s.methods = map[string]method{
		"getAddressInformation":         s.getAddressInformation,
		"getAddressBalance":             s.getAddressBalance,
		"getAddressState":               s.getAddressState,
		"getWalletInformation":          s.getWalletInformation,
		"getExtendedAddressInformation": s.getExtendedAddressInformation,
		"runGetMethod":                  s.runGetMethod,
		"sendBoc":                       s.sendBoc,
		"sendBocReturnHash":             s.sendBocReturnHash,
		"getTransactions":               s.getTransactions,
		"getMasterchainInfo":            s.getMasterchainInfo,
		"getBlockHeader":                s.getBlockHeader,
		"estimateFee":                   s.estimateFee,
	}
	s.metrics = newMetrics(e, s.methods)
	return s
}

// Handler returns the HTTP handler.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", s.healthz)
	mux.Handle("GET /metrics", s.metrics.handler())
	mux.HandleFunc("POST /api/v2/jsonRPC", s.jsonRPC)
	mux.HandleFunc("/api/v2/{method}", s.rest)
	mux.HandleFunc("POST /devnet/faucet", s.faucet)
	mux.HandleFunc("POST /devnet/advance", s.advance)
	mux.HandleFunc("POST /devnet/block", s.produceBlock)
	mux.HandleFunc("POST /devnet/library", s.publishLibrary)
	return s.recoverPanics(mux)
}

// recoverPanics answers a handler's panic with a 500 and a JSON error
// instead of a dropped connection, and logs it: a panic is a bug to fix.
func (s *Server) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.Error("handler panicked", "path", r.URL.Path, "panic", v)
				s.reply(w, nil, nil, fmt.Errorf("internal error serving %s", r.URL.Path))
			}
		}()
		next.ServeHTTP(w, r)
	})
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	info, err := s.e.MasterchainInfo(r.Context())
	if err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"ok": true, "seqno": info.Seqno, "time": info.Time})
}

// rest serves GET /api/v2/method?params and POST /api/v2/method with a JSON body.
func (s *Server) rest(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("method")
	m, ok := s.methods[name]
	if !ok {
		err := &apiError{code: http.StatusNotFound, msg: fmt.Sprintf("method %q is not served by the devnet", name)}
		s.metrics.request(name, err)
		s.reply(w, nil, nil, err)
		return
	}
	var p params
	switch r.Method {
	case http.MethodGet:
		p = queryParams(r.URL.Query())
	case http.MethodPost:
		if err := decodeBody(r, &p); err != nil {
			s.reply(w, nil, nil, err)
			return
		}
	default:
		s.reply(w, nil, nil, &apiError{code: http.StatusMethodNotAllowed, msg: "use GET or POST"})
		return
	}
	res, err := m(r.Context(), p)
	s.metrics.request(name, err)
	s.reply(w, nil, res, err)
}

func queryParams(q url.Values) params {
	p := params{}
	for k, v := range q {
		if len(v) > 0 {
			p[k] = v[0]
		}
	}
	return p
}

func decodeBody(r *http.Request, v any) error {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return badRequest("reading request body: %v", err)
	}
	if len(body) > maxBody {
		return &apiError{code: http.StatusRequestEntityTooLarge, msg: "request body over 1 MiB"}
	}
	if len(strings.TrimSpace(string(body))) == 0 {
		return nil
	}
	if err := json.Unmarshal(body, v); err != nil {
		return badRequest("request body is not valid JSON: %v", err)
	}
	return nil
}

type rpcRequest struct {
	ID      any    `json:"id"`
	JSONRPC string `json:"jsonrpc"`
	Method  string `json:"method"`
	Params  params `json:"params"`
}

func (s *Server) jsonRPC(w http.ResponseWriter, r *http.Request) {
	var req rpcRequest
	if err := decodeBody(r, &req); err != nil {
		s.reply(w, &req, nil, err)
		return
	}
	m, ok := s.methods[req.Method]
	if !ok {
		err := &apiError{code: http.StatusNotFound, msg: fmt.Sprintf("method %q is not served by the devnet", req.Method)}
		s.metrics.request(req.Method, err)
		s.reply(w, &req, nil, err)
		return
	}
	if req.Params == nil {
		req.Params = params{}
	}
	res, err := m(r.Context(), req.Params)
	s.metrics.request(req.Method, err)
	s.reply(w, &req, res, err)
}

// reply writes toncenter's envelope: {"ok":true,"result":…} or
// {"ok":false,"error":…,"code":…}, with the JSON-RPC id when there is one.
func (s *Server) reply(w http.ResponseWriter, rpc *rpcRequest, result any, err error) {
	body := map[string]any{}
	if rpc != nil {
		body["jsonrpc"] = "2.0"
		body["id"] = rpc.ID
	}
	status := statusOf(err)
	if err != nil {
		body["ok"] = false
		body["error"] = err.Error()
		body["code"] = status
		if status >= 500 {
			s.log.Warn("request failed", "error", err)
		}
	} else {
		body["ok"] = true
		body["result"] = result
	}
	writeJSON(w, status, body)
}

// statusOf is the HTTP status an outcome is answered with: bad input is
// 4xx, so that clients know not to retry it.
func statusOf(err error) int {
	var ae *apiError
	var refused *devnet.RefusedError
	switch {
	case err == nil:
		return http.StatusOK
	case errors.As(err, &ae):
		return ae.code
	case errors.As(err, &refused):
		return http.StatusBadRequest
	case errors.Is(err, boc.ErrMalformed):
		return http.StatusBadRequest
	case errors.Is(err, chain.ErrNotFound):
		return http.StatusNotFound
	default:
		return http.StatusInternalServerError
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}
