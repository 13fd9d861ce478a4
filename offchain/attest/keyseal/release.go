package keyseal

import (
	"bytes"
	"context"
	"crypto/hkdf"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/cocoon-network/cocoon/offchain/attest"
	"github.com/cocoon-network/cocoon/offchain/attest/atls"
	"github.com/cocoon-network/cocoon/offchain/attest/check"
	"github.com/cocoon-network/cocoon/offchain/internal/httpserve"
)

// Key release: a service in its own TEE that derives, from a master secret
// only it holds, one key per (TEE type, image hash, label), and hands it
// to a caller whose attested TLS client certificate carries evidence that
// passes the service's policy for exactly that image. The key travels
// inside the TLS session, which ends in the caller's enclave (the
// certificate's key is one its evidence vouches for).

// Key-release limits.
const (
	maxReleaseRequest = attest.MaxCollateralSize + 4<<10
	maxLabel          = 64
	releaseTimeout    = 30 * time.Second
)

// CheckReleaseRequest names refusals of the request itself (no client
// certificate, bad body); evidence refusals carry attest's check names.
const CheckReleaseRequest = "key_release_request"

// releaseRequest is POST /v1/keys/{label}'s body.
type releaseRequest struct {
	// Collateral is the caller's TCB collateral (its GET /collateral),
	// which the policy needs to know its TCB status.
	Collateral json.RawMessage `json:"collateral,omitempty"`
}

type releaseResponse struct {
	Key       []byte `json:"key"`
	TEE       string `json:"tee"`
	ImageHash string `json:"image_hash"`
}

// Server is the key-release service.
type Server struct {
	// Master is the service's secret. It must itself survive reboots
	// without leaving the service's TEE: seal it with SNPSealer (the
	// service runs on SEV-SNP) or split it among several services.
	Master [32]byte
	// Policy decides whose evidence gets keys: its allow-list names the
	// worker images allowed (Root's allow-list, or a file).
	Policy   *attest.Policy
	Verifier *attest.Verifier
	Logger   *slog.Logger
}

// TLSConfig serves id and asks for a client certificate, which Handler
// verifies (with the collateral in the request) before releasing anything.
func TLSConfig(id *atls.Identity) *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{id.Certificate},
		ClientAuth:   tls.RequireAnyClientCert,
	}
}

// Handler serves POST /v1/keys/{label}.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/keys/{label}", s.release)
	return mux
}

func refuseHTTP(w http.ResponseWriter, status int, name string, err error) {
	httpserve.WriteJSON(w, status, map[string]string{"error": err.Error(), "check": name})
}

func (s *Server) release(w http.ResponseWriter, r *http.Request) {
	label := r.PathValue("label")
	if err := validLabel(label); err != nil {
		refuseHTTP(w, http.StatusBadRequest, CheckReleaseRequest, err)
		return
	}
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		refuseHTTP(w, http.StatusUnauthorized, CheckReleaseRequest, errors.New("keys are released only over attested TLS with a client certificate"))
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxReleaseRequest))
	if err != nil {
		refuseHTTP(w, http.StatusRequestEntityTooLarge, CheckReleaseRequest, fmt.Errorf("request body: %w", err))
		return
	}
	var req releaseRequest
	if len(body) > 0 {
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			refuseHTTP(w, http.StatusBadRequest, CheckReleaseRequest, fmt.Errorf("request body: %w", err))
			return
		}
	}
	var coll *attest.Collateral
	if len(req.Collateral) > 0 {
		if coll, err = attest.DecodeCollateral(req.Collateral); err != nil {
			refuseHTTP(w, http.StatusBadRequest, CheckReleaseRequest, err)
			return
		}
	}
	v := &atls.Verifier{Attest: s.Verifier, Policy: s.Policy}
	res, err := v.VerifyCertificateWithCollateral(r.Context(), r.TLS.PeerCertificates[0], coll)
	if err != nil {
		name := check.Name(err)
		s.log().Info("key release refused", "check", name, "err", err)
		refuseHTTP(w, http.StatusForbidden, name, err)
		return
	}
	key, err := s.derive(res.TEE, res.ImageHash, label)
	if err != nil {
		refuseHTTP(w, http.StatusInternalServerError, CheckReleaseRequest, err)
		return
	}
	s.log().Info("key released", "tee", res.TEE, "image_hash", hex.EncodeToString(res.ImageHash), "label", label, "insecure", res.Insecure)
	httpserve.WriteJSON(w, http.StatusOK, releaseResponse{Key: key[:], TEE: res.TEE, ImageHash: hex.EncodeToString(res.ImageHash)})
}

func (s *Server) log() *slog.Logger {
	if s.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Logger
}

// derive is HKDF-SHA256(master, info = context ‖ tee ‖ image hash ‖ label):
// one key per image and label, the same on every call.
func (s *Server) derive(tee string, image []byte, label string) ([32]byte, error) {
	info := fmt.Sprintf("cocoon-key-release-v1\x00%s\x00%x\x00%s", tee, image, label)
	k, err := hkdf.Key(sha256.New, s.Master[:], nil, info, 32)
	if err != nil {
		return [32]byte{}, err
	}
	return [32]byte(k), nil
}

func validLabel(l string) error {
	if l == "" || len(l) > maxLabel {
		return fmt.Errorf("label %q is not 1 to %d characters", l, maxLabel)
	}
	for _, c := range []byte(l) {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return fmt.Errorf("label %q may hold only a-z, 0-9, '-' and '_'", l)
		}
	}
	return nil
}

// ReleaseClient asks a key-release service for this image's key.
type ReleaseClient struct {
	// URL is the service's base URL (https).
	URL string
	// Service is sha256 of the service's evidence bundle: its certificate
	// must carry exactly that bundle. It belongs in the worker image (or
	// its measured configuration), so a host cannot point the worker at a
	// service of its own.
	Service [32]byte
	// ServiceVerifier, when set, judges the service's certificate instead
	// of Service: typically an allow-list of the service's image hash, which
	// stays the same when the service restarts with fresh evidence.
	ServiceVerifier *atls.Verifier
	// Identity is this TEE's attested TLS certificate, made fresh for the
	// request (atls.NewIdentity).
	Identity *atls.Identity
	// Collateral is this TEE's TCB collateral (encoded), if it has some.
	Collateral []byte
	// Timeout bounds one request; 0 means 30 s.
	Timeout time.Duration
}

// ReleaseError is the service's refusal.
type ReleaseError struct {
	Status int
	Check  string
	Msg    string
}

func (e *ReleaseError) Error() string {
	return fmt.Sprintf("key release refused (HTTP %d, check %s): %s", e.Status, e.Check, e.Msg)
}

// Key returns this image's key for label.
func (c *ReleaseClient) Key(ctx context.Context, label string) ([32]byte, error) {
	if err := validLabel(label); err != nil {
		return [32]byte{}, err
	}
	if c.Identity == nil {
		return [32]byte{}, errors.New("key release: no attested TLS identity to present")
	}
	u, err := url.Parse(c.URL)
	if err != nil || u.Scheme != "https" {
		return [32]byte{}, fmt.Errorf("key release URL %q: want https", c.URL)
	}
	body, err := json.Marshal(releaseRequest{Collateral: c.Collateral})
	if err != nil {
		return [32]byte{}, err
	}
	t := c.Timeout
	if t <= 0 {
		t = releaseTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, t)
	defer cancel()
	tc := atls.PinnedConfig(c.Service)
	if c.ServiceVerifier != nil {
		tc = atls.ClientConfig(c.Identity, c.ServiceVerifier)
	}
	tc.Certificates = []tls.Certificate{c.Identity.Certificate}
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: tc}}
	defer hc.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.JoinPath("v1", "keys", label).String(), bytes.NewReader(body))
	if err != nil {
		return [32]byte{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return [32]byte{}, fmt.Errorf("key release: %w", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return [32]byte{}, fmt.Errorf("key release: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct{ Error, Check string }
		_ = json.Unmarshal(raw, &e)
		return [32]byte{}, &ReleaseError{Status: resp.StatusCode, Check: e.Check, Msg: e.Error}
	}
	var rr releaseResponse
	if err := json.Unmarshal(raw, &rr); err != nil || len(rr.Key) != 32 {
		return [32]byte{}, fmt.Errorf("key release: malformed answer (%v)", err)
	}
	return [32]byte(rr.Key), nil
}

// ReleaseSealer seals under the key a key-release service releases to this
// image: a TDX worker's way to get its keys back after a reboot.
type ReleaseSealer struct {
	Client *ReleaseClient
	// Label names the key asked for (default "worker-keys").
	Label string
}

// Kind implements Sealer.
func (ReleaseSealer) Kind() string { return "key-release" }

// Insecure implements Sealer.
func (ReleaseSealer) Insecure() bool { return false }

// RootKey implements Sealer.
func (r ReleaseSealer) RootKey(ctx context.Context, _ json.RawMessage) ([32]byte, json.RawMessage, error) {
	label := r.Label
	if label == "" {
		label = "worker-keys"
	}
	k, err := r.Client.Key(ctx, label)
	return k, nil, err
}
