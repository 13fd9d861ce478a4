package channel

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/cocoon-network/cocoon/offchain/chain"
	"github.com/cocoon-network/cocoon/offchain/internal/httpserve"
)

// The channel's HTTP exchange between the two sides. A worker mounts
// AcceptHandler and CosignHandler; the payer is only their client (Peer).
// Vouchers themselves ride on the requests they pay for and are the
// gateway's and worker's business.
const (
	PathAccept = "/v1/channel/accept" // POST Terms → SignedState (the payee's signed acceptance)
	PathCosign = "/v1/channel/cosign" // POST Settlement (the payer's close) → Settlement, approved by the payee
)

// maxBody bounds every request and answer of the exchange.
const maxBody = 16 << 10

// termsJSON is the wire and file form of Terms.
type termsJSON struct {
	ID           ID     `json:"id"`
	PayerKey     string `json:"payer_key"`
	PayeeKey     string `json:"payee_key"`
	PayerAddress string `json:"payer_address"`
	PayeeAddress string `json:"payee_address"`
	QuarantineS  int64  `json:"quarantine_s"`
	CodeLibrary  bool   `json:"code_library,omitempty"`
}

// MarshalJSON writes the terms with hex keys and friendly addresses.
func (t Terms) MarshalJSON() ([]byte, error) {
	addr := func(a interface{ String() string }) string {
		if a == nil {
			return ""
		}
		return a.String()
	}
	j := termsJSON{ID: t.ID, PayerKey: fmt.Sprintf("%x", []byte(t.PayerKey)), PayeeKey: fmt.Sprintf("%x", []byte(t.PayeeKey)),
		QuarantineS: int64(t.Closing.Quarantine / time.Second), CodeLibrary: t.CodeLibrary}
	if t.PayerAddress != nil {
		j.PayerAddress = addr(t.PayerAddress)
	}
	if t.PayeeAddress != nil {
		j.PayeeAddress = addr(t.PayeeAddress)
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads terms and checks them (Validate).
func (t *Terms) UnmarshalJSON(b []byte) error {
	var j termsJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return fmt.Errorf("channel terms: %w", err)
	}
	payerKey, err := ParsePublicKey(j.PayerKey)
	if err != nil {
		return fmt.Errorf("channel terms: payer_key: %w", err)
	}
	payeeKey, err := ParsePublicKey(j.PayeeKey)
	if err != nil {
		return fmt.Errorf("channel terms: payee_key: %w", err)
	}
	payer, err := chain.ParseAddress(j.PayerAddress)
	if err != nil {
		return fmt.Errorf("channel terms: payer_address: %w", err)
	}
	payee, err := chain.ParseAddress(j.PayeeAddress)
	if err != nil {
		return fmt.Errorf("channel terms: payee_address: %w", err)
	}
	if j.QuarantineS < 0 || j.QuarantineS > 1<<32-1 {
		return errors.New("channel terms: quarantine out of range")
	}
	*t = Terms{ID: j.ID, PayerKey: payerKey, PayeeKey: payeeKey, PayerAddress: payer, PayeeAddress: payee,
		Closing: Closing{Quarantine: time.Duration(j.QuarantineS) * time.Second}, CodeLibrary: j.CodeLibrary}
	return t.Validate()
}

// ParsePublicKey reads an ed25519 public key in hex.
func ParsePublicKey(s string) (ed25519.PublicKey, error) {
	k, err := hex.DecodeString(s)
	if err != nil || len(k) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("public key %q: want 64 hex digits", s)
	}
	return ed25519.PublicKey(k), nil
}

// AcceptHandler serves PathAccept for a payee.
func AcceptHandler(p *Payee) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var t Terms
		if !readJSON(w, r, &t) {
			return
		}
		source := r.RemoteAddr
		if h, _, err := net.SplitHostPort(source); err == nil {
			source = h
		}
		st, err := p.Accept(r.Context(), t, source)
		if errors.Is(err, ErrTooManyOpening) {
			w.Header().Set("Retry-After", "60")
			httpError(w, http.StatusTooManyRequests, err)
			return
		}
		if err != nil {
			httpError(w, http.StatusUnprocessableEntity, err)
			return
		}
		httpserve.WriteJSON(w, http.StatusOK, st)
	})
}

// CosignHandler serves PathCosign for a payee.
func CosignHandler(c Cosigner) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var s Settlement
		if !readJSON(w, r, &s) {
			return
		}
		if s.Voucher.Sent == nil {
			httpError(w, http.StatusBadRequest, errors.New("settlement: the voucher is required"))
			return
		}
		out, err := c.Cosign(r.Context(), &s)
		if err != nil {
			code := http.StatusUnprocessableEntity
			if errors.Is(err, ErrUnknownChannel) {
				code = http.StatusNotFound
			}
			httpError(w, code, err)
			return
		}
		httpserve.WriteJSON(w, http.StatusOK, out)
	})
}

func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		httpError(w, http.StatusMethodNotAllowed, errors.New("use POST"))
		return false
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		httpError(w, http.StatusRequestEntityTooLarge, fmt.Errorf("request body: %w", err))
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		httpError(w, http.StatusBadRequest, fmt.Errorf("request body: %w", err))
		return false
	}
	return true
}

func httpError(w http.ResponseWriter, code int, err error) {
	httpserve.WriteJSON(w, code, map[string]string{"error": err.Error()})
}

// Peer is the other side's channel endpoint over HTTP: a Cosigner, and for
// a payer the way to have a payee accept terms.
type Peer struct {
	// URL is the peer's base URL (https://worker.example:8443).
	URL    string
	Client *http.Client // nil: a client with a 30 s timeout
}

// Cosign asks the peer (a payee) to approve the payer's close s.
func (p *Peer) Cosign(ctx context.Context, s *Settlement) (*Settlement, error) {
	var out Settlement
	if err := p.Post(ctx, PathCosign, nil, s, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Accept asks the peer (a payee) to accept terms and returns its signed
// acceptance.
func (p *Peer) Accept(ctx context.Context, t Terms) (SignedState, error) {
	var st SignedState
	err := p.Post(ctx, PathAccept, nil, t, &st)
	return st, err
}

// Post sends in as JSON to the peer's path, with header's fields added, and
// decodes a 200 or 202 answer into out. Other answers become errors that
// quote the peer's message: {"error": "…"} as the channel endpoints write
// it, or OpenAI's {"error": {"message": …}} as the worker's other
// endpoints do. Answers are bounded like the endpoints' bodies.
func (p *Peer) Post(ctx context.Context, path string, header http.Header, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return err
	}
	url := strings.TrimRight(p.URL, "/") + path
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("channel peer %s: %w", url, err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/json")
	hc := p.Client
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("channel peer %s: %w", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return fmt.Errorf("channel peer %s: reading the answer: %w", url, err)
	}
	if len(b) > maxBody {
		return fmt.Errorf("channel peer %s: answer over %d bytes", url, maxBody)
	}
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusAccepted {
		if msg := errorMessage(b); msg != "" {
			return fmt.Errorf("channel peer %s: %s (HTTP %d)", url, msg, resp.StatusCode)
		}
		return fmt.Errorf("channel peer %s: HTTP %d", url, resp.StatusCode)
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("channel peer %s: decoding the answer: %w", url, err)
	}
	return nil
}

// errorMessage is the message of an error answer in either shape Post
// reads; "" when there is none.
func errorMessage(b []byte) string {
	var e struct{ Error json.RawMessage }
	if json.Unmarshal(b, &e) != nil || len(e.Error) == 0 {
		return ""
	}
	var msg string
	if json.Unmarshal(e.Error, &msg) == nil {
		return msg
	}
	var obj struct{ Message string }
	if json.Unmarshal(e.Error, &obj) == nil {
		return obj.Message
	}
	return ""
}
