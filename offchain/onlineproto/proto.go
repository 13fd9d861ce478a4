package onlineproto

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"
)

// The online protocol between a payer (a gateway) and a worker, on the
// worker's attested TLS endpoint. docs/GATEWAY.md describes it.
//
// Request headers the payer sends with POST /v1/chat/completions:
const (
	// HeaderPayer names the payer: what the payment scheme knows it by
	// (for IOUs the hex Ed25519 key that signs them).
	HeaderPayer = "Cocoon-Payer"
	// HeaderVoucher carries the payer's latest voucher (base64), optional.
	HeaderVoucher = "Cocoon-Voucher"
	// HeaderRequestID is the payer's id for the request; the usage receipt
	// repeats it, so a receipt cannot be presented for another request.
	HeaderRequestID = "Cocoon-Request-Id"
	// HeaderCapacity is on every answer: the worker's signed capacity
	// report (see SignedCapacity.Header).
	HeaderCapacity = "Cocoon-Capacity"
)

// Signature domains: each signed object is signed as domain ‖ 0x00 ‖ JSON
// bytes, so a signature over one kind can never pass for another, nor for
// anything the same key signs on chain (those are cell hashes).
const (
	usageDomain    = "cocoon-usage-v1"
	capacityDomain = "cocoon-capacity-v1"
)

// Usage is what one online request cost: the enclave signs it after the
// answer, and the payer pays it with a voucher.
type Usage struct {
	V            int    `json:"v"`
	Worker       string `json:"worker"` // raw address of the Worker contract
	Payer        string `json:"payer"`
	RequestID    string `json:"request_id"`
	Model        string `json:"model"`
	InputTokens  uint32 `json:"input_tokens"`
	OutputTokens uint32 `json:"output_tokens"`
	// MaxTokens is the output limit the request set; OutputTokens above it
	// is an overclaim.
	MaxTokens uint32 `json:"max_tokens"`
	// Cost in nanoton: bindings.Charge at the worker's registered price.
	Cost string `json:"cost"`
	// Total is everything the worker has charged this payer, this request
	// included, since the worker started keeping its account (nanoton).
	Total string `json:"total"`
	// Time is the worker's clock, unix seconds.
	Time int64 `json:"time"`
}

// CostNano and TotalNano parse Cost and Total.
func (u *Usage) CostNano() (*big.Int, error)  { return parseNano("cost", u.Cost) }
func (u *Usage) TotalNano() (*big.Int, error) { return parseNano("total", u.Total) }

func parseNano(name, s string) (*big.Int, error) {
	v, ok := new(big.Int).SetString(s, 10)
	if !ok || v.Sign() < 0 || len(s) > 40 {
		return nil, fmt.Errorf("usage %s %q is not a nanoton amount", name, s)
	}
	return v, nil
}

// SignedUsage is a usage receipt as it travels: the exact JSON bytes that
// were signed, and the signature.
type SignedUsage struct {
	Receipt   []byte `json:"receipt"`   // JSON of Usage (base64 in JSON)
	Signature []byte `json:"signature"` // Ed25519 by the worker key
}

// SignUsage encodes and signs u with the worker key.
func SignUsage(key ed25519.PrivateKey, u *Usage) (*SignedUsage, error) {
	raw, sig, err := signJSON(key, usageDomain, "usage", u)
	if err != nil {
		return nil, err
	}
	return &SignedUsage{Receipt: raw, Signature: sig}, nil
}

// Open checks the signature with the worker's key and decodes the usage.
func (s *SignedUsage) Open(workerKey ed25519.PublicKey) (*Usage, error) {
	var u Usage
	if err := openJSON(workerKey, usageDomain, "usage receipt", s.Receipt, s.Signature, &u); err != nil {
		return nil, err
	}
	if u.V != 1 {
		return nil, fmt.Errorf("usage receipt: version %d, this build reads 1", u.V)
	}
	if _, err := u.CostNano(); err != nil {
		return nil, err
	}
	if _, err := u.TotalNano(); err != nil {
		return nil, err
	}
	return &u, nil
}

// Capacity is the worker's load, for routing: signed by the worker key,
// served at GET /v1/capacity and in the Cocoon-Capacity header of every
// answer.
type Capacity struct {
	V      int    `json:"v"`
	Worker string `json:"worker"`
	// Slots is how many online requests run at once; Free of them are idle.
	Slots int `json:"slots"`
	Free  int `json:"free"`
	// Queue is how many requests wait for a slot, at most QueueLimit;
	// beyond that the worker answers 429.
	Queue      int `json:"queue"`
	QueueLimit int `json:"queue_limit"`
	// TokensPerSecond is output tokens per second over recent requests,
	// all slots together; TTFTMillis the recent mean time to first token.
	TokensPerSecond float64 `json:"tokens_per_second"`
	TTFTMillis      float64 `json:"ttft_ms"`
	// Prices per model, nanoton per 1M tokens, as registered on chain.
	Prices map[string]CapacityPrice `json:"prices"`
	// Seq grows with every report; Time is unix milliseconds.
	Seq  uint64 `json:"seq"`
	Time int64  `json:"time"`
}

// CapacityPrice is one model's price in a capacity report.
type CapacityPrice struct {
	In  string `json:"in"`
	Out string `json:"out"`
}

// SignedCapacity is a capacity report as it travels.
type SignedCapacity struct {
	Report    []byte `json:"report"`
	Signature []byte `json:"signature"`
}

// Header encodes s for the Cocoon-Capacity header: base64url(report) "."
// base64url(signature).
func (s *SignedCapacity) Header() string {
	return base64.RawURLEncoding.EncodeToString(s.Report) + "." + base64.RawURLEncoding.EncodeToString(s.Signature)
}

// ParseCapacityHeader is Header's inverse (the signature is not checked).
func ParseCapacityHeader(h string) (*SignedCapacity, error) {
	if len(h) > 16<<10 {
		return nil, errors.New("capacity header too long")
	}
	a, b, ok := strings.Cut(h, ".")
	if !ok {
		return nil, errors.New("capacity header: want report.signature")
	}
	rep, err := base64.RawURLEncoding.DecodeString(a)
	if err != nil {
		return nil, fmt.Errorf("capacity header report: %w", err)
	}
	sig, err := base64.RawURLEncoding.DecodeString(b)
	if err != nil {
		return nil, fmt.Errorf("capacity header signature: %w", err)
	}
	return &SignedCapacity{Report: rep, Signature: sig}, nil
}

// SignCapacity encodes and signs c.
func SignCapacity(key ed25519.PrivateKey, c *Capacity) (*SignedCapacity, error) {
	raw, sig, err := signJSON(key, capacityDomain, "capacity", c)
	if err != nil {
		return nil, err
	}
	return &SignedCapacity{Report: raw, Signature: sig}, nil
}

// Open checks the signature and decodes the report.
func (s *SignedCapacity) Open(workerKey ed25519.PublicKey) (*Capacity, error) {
	var c Capacity
	if err := openJSON(workerKey, capacityDomain, "capacity report", s.Report, s.Signature, &c); err != nil {
		return nil, err
	}
	if c.V != 1 {
		return nil, fmt.Errorf("capacity report: version %d, this build reads 1", c.V)
	}
	if c.Slots < 0 || c.Free < 0 || c.Queue < 0 || c.QueueLimit < 0 || c.Free > c.Slots {
		return nil, fmt.Errorf("capacity report: impossible slots %d/%d, queue %d", c.Free, c.Slots, c.Queue)
	}
	return &c, nil
}

// signJSON encodes v (what names it in errors) and signs the encoding
// under domain with the worker key: the one way receipts and capacity
// reports are signed.
func signJSON(key ed25519.PrivateKey, domain, what string, v any) (raw, sig []byte, err error) {
	raw, err = json.Marshal(v)
	if err != nil {
		return nil, nil, fmt.Errorf("encoding %s: %w", what, err)
	}
	return raw, ed25519.Sign(key, domainMessage(domain, raw)), nil
}

// openJSON checks sig over raw under domain with the worker's key, then
// decodes raw strictly into v; errors start with what.
func openJSON(workerKey ed25519.PublicKey, domain, what string, raw, sig []byte, v any) error {
	if len(workerKey) != ed25519.PublicKeySize {
		return fmt.Errorf("%s: no worker key to check it with", what)
	}
	if !ed25519.Verify(workerKey, domainMessage(domain, raw), sig) {
		return fmt.Errorf("%s: bad signature", what)
	}
	if err := decodeStrictJSON(raw, v); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

func domainMessage(domain string, raw []byte) []byte {
	m := make([]byte, 0, len(domain)+1+len(raw))
	m = append(m, domain...)
	m = append(m, 0)
	return append(m, raw...)
}

func decodeStrictJSON(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data after the JSON object")
	}
	return nil
}

// CocoonExtension is the "cocoon" member the worker adds to the last
// chunk of a stream (the one with usage) and to a non-stream answer.
type CocoonExtension struct {
	Usage *SignedUsage `json:"usage"`
}

// ErrorObject is OpenAI's error object, written by the worker and by the
// gateway and read by the gateway. Param is null when there is none. The
// fields are in the order encoding/json wrote the maps they replace.
type ErrorObject struct {
	Code    string  `json:"code"`
	Message string  `json:"message"`
	Param   *string `json:"param"`
	Type    string  `json:"type"`
}

// ErrorAnswer is an error answer, or an error event in a stream: OpenAI's
// {"error": …}, with the worker's signed usage for what it produced before
// failing (absent in answers that charge nothing).
type ErrorAnswer struct {
	Cocoon *CocoonExtension `json:"cocoon,omitempty"`
	Error  ErrorObject      `json:"error"`
}
