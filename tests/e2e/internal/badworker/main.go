// Command badworker is a misbehaving worker for the e2e tests, never part
// of a release: the real worker daemon (offchain/worker), configured and
// registered like any other, behind a reverse proxy in the same process
// that tampers with the signed usage receipts of its online answers.
//
//	badworker --config worker/config.toml --mode overclaim|wrong-key
//
// The daemon listens on a private loopback port; the proxy listens on the
// config's listen address, which is the public_url registered on chain, so
// a gateway reaches the daemon only through the proxy. Modes:
//
//	overclaim  claims far more output tokens than the request allowed (and
//	           the matching cost), re-signed with the worker's own key
//	wrong-key  leaves the receipt as it is but signs it with another key
//
// GET /badworker/rewrites on the proxy lists every receipt it rewrote,
// with the honest and the claimed counts, for the test to check what the
// gateway paid against.
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/cocoon-network/cocoon/bindings"
	"github.com/cocoon-network/cocoon/offchain/chain/netflag"
	"github.com/cocoon-network/cocoon/offchain/inference/reference"
	"github.com/cocoon-network/cocoon/offchain/onlineproto"
	"github.com/cocoon-network/cocoon/offchain/tonamount"
	"github.com/cocoon-network/cocoon/offchain/worker"
)

// Modes of misbehaviour.
const (
	modeOverclaim = "overclaim"
	modeWrongKey  = "wrong-key"
)

// overclaimBy is how many output tokens beyond the request's limit an
// overclaiming receipt states.
const overclaimBy = 1000

// maxBody bounds a non-stream answer the proxy rewrites, and one SSE line.
const maxBody = 4 << 20

// RewritesPath serves the list of rewritten receipts.
const RewritesPath = "/badworker/rewrites"

// Rewrite is one receipt the proxy tampered with.
type Rewrite struct {
	RequestID           string `json:"request_id"`
	InputTokens         uint32 `json:"input_tokens"`
	MaxTokens           uint32 `json:"max_tokens"`
	HonestOutputTokens  uint32 `json:"honest_output_tokens"`
	ClaimedOutputTokens uint32 `json:"claimed_output_tokens"`
	HonestCost          string `json:"honest_cost"`
	ClaimedCost         string `json:"claimed_cost"`
}

func main() {
	config := flag.String("config", "", "worker config file (from cocoon worker init), registered on chain")
	mode := flag.String("mode", "", "misbehaviour: "+modeOverclaim+" or "+modeWrongKey)
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *config, *mode); err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintln(os.Stderr, "badworker:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, configPath, mode string) error {
	if configPath == "" {
		return errors.New("--config is required")
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	cfg, err := worker.LoadConfig(configPath)
	if err != nil {
		return err
	}
	if cfg.Engine.Kind != "reference" {
		return fmt.Errorf("engine.kind %q: this test program runs the reference engine only", cfg.Engine.Kind)
	}
	id, err := worker.OpenConfiguredIdentity(ctx, cfg, log)
	if err != nil {
		return err
	}
	tam := &tamperer{mode: mode, key: id.SignKey, prices: map[string]bindings.ModelPrice{}}
	switch mode {
	case modeOverclaim:
	case modeWrongKey:
		if _, tam.key, err = ed25519.GenerateKey(rand.Reader); err != nil {
			return fmt.Errorf("generating the wrong key: %w", err)
		}
	default:
		return fmt.Errorf("--mode %q: want %s or %s", mode, modeOverclaim, modeWrongKey)
	}
	for _, m := range cfg.Models {
		in, err := tonamount.Parse(m.PriceIn)
		if err != nil {
			return fmt.Errorf("models %s price_in: %w", m.Name, err)
		}
		out, err := tonamount.Parse(m.PriceOut)
		if err != nil {
			return fmt.Errorf("models %s price_out: %w", m.Name, err)
		}
		tam.prices[m.Name] = bindings.ModelPrice{PriceIn: in, PriceOut: out}
	}
	network, err := netflag.Open(ctx, cfg.Network)
	if err != nil {
		return fmt.Errorf("network: %w", err)
	}
	engine := reference.New(reference.Config{TokenDelay: cfg.Engine.TokenDelay.Duration})
	d, err := worker.New(cfg, id, worker.Options{Network: network, Engine: engine, Logger: log, GPU: "none (badworker)"})
	if err != nil {
		return err
	}

	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("daemon listener: %w", err)
	}
	public, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		inner.Close()
		return fmt.Errorf("proxy listener %s: %w", cfg.Listen, err)
	}
	target := &url.URL{Scheme: "http", Host: inner.Addr().String()}
	proxy := &httputil.ReverseProxy{
		Rewrite:        func(r *httputil.ProxyRequest) { r.SetURL(target) },
		ModifyResponse: tam.modify,
		FlushInterval:  -1,
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+RewritesPath, tam.serveRewrites)
	mux.Handle("/", proxy)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute,
		WriteTimeout: 10 * time.Minute, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 64 << 10}

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	go func() {
		if err := srv.Serve(public); !errors.Is(err, http.ErrServerClosed) {
			cancel(fmt.Errorf("proxy: %w", err))
		}
	}()
	log.Warn("BADWORKER: a test program that tampers with usage receipts", "mode", mode, "proxy", public.Addr().String(), "daemon", inner.Addr().String())
	err = d.Run(ctx, inner)
	shut, done := context.WithTimeout(context.Background(), 5*time.Second)
	defer done()
	_ = srv.Shutdown(shut)
	if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
		return cause
	}
	return err
}

// tamperer rewrites the receipts of the daemon's answers.
type tamperer struct {
	mode   string
	key    ed25519.PrivateKey // signs the rewritten receipts
	prices map[string]bindings.ModelPrice

	mu       sync.Mutex
	rewrites []Rewrite
}

func (t *tamperer) serveRewrites(w http.ResponseWriter, _ *http.Request) {
	t.mu.Lock()
	list := append([]Rewrite{}, t.rewrites...)
	t.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(list)
}

// modify rewrites the receipt of a chat answer: in the usage chunk of a
// stream, or in the body of a non-stream answer.
func (t *tamperer) modify(resp *http.Response) error {
	if resp.Request.URL.Path != "/v1/chat/completions" {
		return nil
	}
	ct := resp.Header.Get("Content-Type")
	switch {
	case strings.HasPrefix(ct, "text/event-stream"):
		pr, pw := io.Pipe()
		body := resp.Body
		go func() {
			defer body.Close()
			pw.CloseWithError(t.rewriteStream(body, pw))
		}()
		resp.Body = pr
	case strings.HasPrefix(ct, "application/json"):
		raw, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
		resp.Body.Close()
		if err != nil {
			return fmt.Errorf("reading the daemon's answer: %w", err)
		}
		if out, ok := t.rewriteObject(bytes.TrimSpace(raw)); ok {
			raw = append(out, '\n')
		}
		resp.Body = io.NopCloser(bytes.NewReader(raw))
		resp.ContentLength = int64(len(raw))
		resp.Header.Del("Content-Length")
	}
	return nil
}

// rewriteStream copies an event stream line by line, rewriting the event
// that carries the receipt.
func (t *tamperer) rewriteStream(r io.Reader, w io.Writer) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), maxBody)
	for sc.Scan() {
		line := sc.Bytes()
		if data, ok := bytes.CutPrefix(line, []byte("data: ")); ok {
			if out, ok := t.rewriteObject(data); ok {
				line = append([]byte("data: "), out...)
			}
		}
		if _, err := w.Write(append(line, '\n')); err != nil {
			return err
		}
	}
	return sc.Err()
}

// rewriteObject rewrites the "cocoon" receipt of one JSON object; ok is
// false when it has none (the object is then left as it was).
func (t *tamperer) rewriteObject(data []byte) ([]byte, bool) {
	if !bytes.Contains(data, []byte(`"cocoon"`)) {
		return nil, false
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(data, &obj); err != nil {
		return nil, false
	}
	var ext onlineproto.CocoonExtension
	if err := json.Unmarshal(obj["cocoon"], &ext); err != nil || ext.Usage == nil {
		return nil, false
	}
	var u onlineproto.Usage
	if err := json.Unmarshal(ext.Usage.Receipt, &u); err != nil {
		return nil, false
	}
	rw := Rewrite{RequestID: u.RequestID, InputTokens: u.InputTokens, MaxTokens: u.MaxTokens,
		HonestOutputTokens: u.OutputTokens, ClaimedOutputTokens: u.OutputTokens, HonestCost: u.Cost, ClaimedCost: u.Cost}
	if t.mode == modeOverclaim {
		price, ok := t.prices[u.Model]
		if !ok {
			return nil, false
		}
		honest, err1 := u.CostNano()
		total, err2 := u.TotalNano()
		if err1 != nil || err2 != nil {
			return nil, false
		}
		u.OutputTokens = u.MaxTokens + overclaimBy
		claimed := bindings.Charge(price.PriceIn, price.PriceOut, u.InputTokens, u.OutputTokens)
		u.Cost = claimed.String()
		u.Total = new(big.Int).Add(total, new(big.Int).Sub(claimed, honest)).String()
		rw.ClaimedOutputTokens, rw.ClaimedCost = u.OutputTokens, u.Cost
		// The OpenAI usage the app would see says the same.
		if _, ok := obj["usage"]; ok {
			usage, _ := json.Marshal(map[string]uint32{"prompt_tokens": u.InputTokens, "completion_tokens": u.OutputTokens,
				"total_tokens": u.InputTokens + u.OutputTokens})
			obj["usage"] = usage
		}
	}
	signed, err := onlineproto.SignUsage(t.key, &u)
	if err != nil {
		return nil, false
	}
	if obj["cocoon"], err = json.Marshal(onlineproto.CocoonExtension{Usage: signed}); err != nil {
		return nil, false
	}
	out, err := json.Marshal(obj)
	if err != nil {
		return nil, false
	}
	t.mu.Lock()
	t.rewrites = append(t.rewrites, rw)
	t.mu.Unlock()
	return out, true
}
