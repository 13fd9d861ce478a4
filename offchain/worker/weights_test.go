package worker

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/xssnick/tonutils-go/address"

	"github.com/cocoon-network/cocoon/bindings"
	"github.com/cocoon-network/cocoon/offchain/attest"
	"github.com/cocoon-network/cocoon/offchain/chain"
	"github.com/cocoon-network/cocoon/offchain/inference/reference"
	"github.com/cocoon-network/cocoon/offchain/seal"
)

// writeWeights lays out a model directory: two shards, a config in a
// subdirectory, and a shard reached through a symbolic link (as in a
// Hugging Face cache).
func writeWeights(t *testing.T) (dir string, manifest string) {
	t.Helper()
	dir = t.TempDir()
	blobs := t.TempDir()
	files := map[string]string{
		"model-00001.safetensors": strings.Repeat("a", 3<<20),
		"model-00002.safetensors": "second shard",
		"cfg/config.json":         `{"layers":2}`,
	}
	for name, body := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(blobs, "blob"), []byte("linked tokenizer"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(blobs, "blob"), filepath.Join(dir, "tokenizer.json")); err != nil {
		t.Fatal(err)
	}
	files["tokenizer.json"] = "linked tokenizer"
	// What `sha256sum` prints for the files in C-locale order.
	for _, name := range []string{"cfg/config.json", "model-00001.safetensors", "model-00002.safetensors", "tokenizer.json"} {
		h := sha256.Sum256([]byte(files[name]))
		manifest += hex.EncodeToString(h[:]) + "  " + name + "\n"
	}
	return dir, manifest
}

func TestHashWeights(t *testing.T) {
	ctx := context.Background()
	dir, manifest := writeWeights(t)
	var last WeightsProgress
	calls := 0
	got, err := HashWeights(ctx, dir, func(p WeightsProgress) { last = p; calls++ })
	if err != nil {
		t.Fatal(err)
	}
	if got != sha256.Sum256([]byte(manifest)) {
		t.Fatalf("hash %x is not sha256 of the sha256sum manifest\n%s", got, manifest)
	}
	if calls < 4 || last.Done != last.Total || last.Total != 3<<20+int64(len("second shard")+len(`{"layers":2}`)+len("linked tokenizer")) {
		t.Errorf("progress: %d calls, last %+v", calls, last)
	}
	// One file hashes as a directory holding only it.
	one := filepath.Join(dir, "model-00002.safetensors")
	h := sha256.Sum256([]byte("second shard"))
	single, err := HashWeights(ctx, one, nil)
	if err != nil || single != sha256.Sum256([]byte(hex.EncodeToString(h[:])+"  model-00002.safetensors\n")) {
		t.Fatalf("single file: %x, %v", single, err)
	}
	// Any change to any file changes the hash.
	if err := os.WriteFile(filepath.Join(dir, "cfg", "config.json"), []byte(`{"layers":3}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if changed, _ := HashWeights(ctx, dir, nil); changed == got {
		t.Fatal("a changed file left the hash unchanged")
	}

	empty := t.TempDir()
	loop := t.TempDir()
	if err := os.Symlink(loop, filepath.Join(loop, "self")); err != nil {
		t.Fatal(err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	for _, c := range []struct {
		name, path string
		ctx        context.Context
		want       string
	}{
		{"missing", filepath.Join(dir, "nope"), ctx, "no such file"},
		{"empty directory", empty, ctx, "no files"},
		{"link to a directory", loop, ctx, "links to a directory"},
		{"cancelled", dir, cancelled, "context canceled"},
	} {
		if _, err := HashWeights(c.ctx, c.path, nil); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want %q", c.name, err, c.want)
		}
	}
}

// pins is Root's model table.
type pins map[string][32]byte

func (p pins) Model(_ context.Context, id [32]byte) (*bindings.ModelInfo, bool, error) {
	for name, h := range p {
		if bindings.ModelID(name) == id {
			return &bindings.ModelInfo{WeightsHash: h, MinPriceIn: big.NewInt(1), MinPriceOut: big.NewInt(1)}, true, nil
		}
	}
	return nil, false, nil
}

func TestVerifyWeights(t *testing.T) {
	ctx := context.Background()
	dir, manifest := writeWeights(t)
	good := sha256.Sum256([]byte(manifest))
	other := sha256.Sum256([]byte("other weights"))
	cfg := &Config{Models: []ModelConfig{{Name: "m", Weights: dir}, {Name: "unchecked"}}}
	bundle := func(h [32]byte) *attest.Bundle {
		return &attest.Bundle{Weights: []attest.ModelWeights{{Model: "m", Hash: h[:]}}}
	}
	for _, c := range []struct {
		name   string
		pins   pins
		bundle *attest.Bundle
		want   error
	}{
		{"Root pins these weights", pins{"m": good, "unchecked": other}, nil, nil},
		{"and the evidence attests them", pins{"m": good, "unchecked": other}, bundle(good), nil},
		{"Root pins no weights", pins{"m": {}, "unchecked": {}}, nil, nil},
		{"Root pins other weights", pins{"m": other, "unchecked": other}, nil, ErrWeightsMismatch},
		{"the evidence attests other weights", pins{"m": good, "unchecked": other}, bundle(other), ErrWeightsMismatch},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := VerifyWeights(ctx, cfg, c.pins, c.bundle, quiet)
			if !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
			if err == nil && (len(got) != 1 || got[0].Model != "m" || string(got[0].Hash) != string(good[:])) {
				t.Fatalf("attested weights %+v", got)
			}
		})
	}
	if _, err := VerifyWeights(ctx, cfg, pins{"unchecked": good}, nil, quiet); err == nil || !strings.Contains(err.Error(), "Root does not list it") {
		t.Fatalf("model unknown to Root: %v", err)
	}
	// A hardware-TEE worker does not serve a model whose weights it does
	// not hash and attest (issue 22); a dev worker may.
	for _, tee := range []string{attest.TEETDX, attest.TEESEVSNP} {
		b := bundle(good)
		b.TEE = tee
		if _, err := VerifyWeights(ctx, cfg, pins{"m": good, "unchecked": other}, b, quiet); !errors.Is(err, ErrWeightsUnattested) || !strings.Contains(err.Error(), "model unchecked") {
			t.Errorf("%s worker with a model without weights: %v, want %v", tee, err, ErrWeightsUnattested)
		}
	}
	dev := bundle(good)
	dev.TEE = attest.TEEDev
	if _, err := VerifyWeights(ctx, cfg, pins{"m": good, "unchecked": other}, dev, quiet); err != nil {
		t.Errorf("dev worker with a model without weights: %v", err)
	}
}

// rootModels answers Root's model get-method; nothing else is reached
// before the weights check.
type rootModels struct {
	chain.Network
	pins pins
}

func (r rootModels) RunGetMethod(ctx context.Context, _ *address.Address, method string, args ...any) ([]any, error) {
	if method != "model" {
		return nil, fmt.Errorf("unexpected get-method %s", method)
	}
	var id [32]byte
	args[0].(*big.Int).FillBytes(id[:])
	info, found, _ := r.pins.Model(ctx, id)
	if !found {
		return []any{big.NewInt(0), big.NewInt(0), big.NewInt(0), big.NewInt(0), big.NewInt(0)}, nil
	}
	return []any{big.NewInt(-1), new(big.Int).SetBytes(info.WeightsHash[:]), info.MinPriceIn, info.MinPriceOut, big.NewInt(0)}, nil
}

// A worker whose weight files are not the ones Root pins does not start
// serving: Run returns the mismatch and the listener is closed.
func TestWorkerRefusesMismatchedWeights(t *testing.T) {
	ctx := context.Background()
	dir, _ := writeWeights(t)
	keys := t.TempDir()
	id, err := InitIdentity(ctx, keys, seal.SuiteX25519)
	if err != nil {
		t.Fatal(err)
	}
	root := address.NewAddress(0, 0, make([]byte, 32))
	cfg := &Config{Root: root.String(), Owner: root.String(), MaxConcurrent: 1, StateDir: t.TempDir(),
		Models: []ModelConfig{{Name: testModel, Weights: dir, PriceIn: "0.001", PriceOut: "0.002"}}}
	net := rootModels{pins: pins{testModel: sha256.Sum256([]byte("the weights the network agreed on"))}}
	d, err := New(cfg, id, Options{Network: net, Engine: reference.New(reference.Config{})})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := newListener(t)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Run(ctx, ln); !errors.Is(err, ErrWeightsMismatch) {
		t.Fatalf("Run: %v, want a weights mismatch", err)
	}
	if _, err := ln.Accept(); err == nil {
		t.Fatal("the listener is still open")
	}
}

func newListener(t *testing.T) (net.Listener, error) {
	t.Helper()
	return net.Listen("tcp", "127.0.0.1:0")
}

var quiet = slog.New(slog.DiscardHandler)

// The worker asks an OpenAI-compatible engine which files it loaded and
// refuses one serving the model from other weights than those checked.
func TestCheckEngineWeights(t *testing.T) {
	ctx := context.Background()
	dir, _ := writeWeights(t)
	cfg := &Config{Models: []ModelConfig{{Name: "m", EngineModel: "org/m", Weights: dir}, {Name: "plain", EngineModel: "plain"}}}
	var calls atomic.Int32
	serve := func(body string) string {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if calls.Add(1) == 1 {
				http.Error(w, "loading", http.StatusServiceUnavailable) // the engine is still starting
				return
			}
			if r.URL.Path != "/v1/models" || r.Header.Get("Authorization") != "Bearer k" {
				http.Error(w, "no", http.StatusNotFound)
				return
			}
			_, _ = w.Write([]byte(body))
		}))
		t.Cleanup(srv.Close)
		calls.Store(0)
		return srv.URL
	}
	for _, c := range []struct {
		name, body, want string
	}{
		{"serves the checked weights", `{"data":[{"id":"org/m","root":"` + dir + `/"}]}`, ""},
		{"does not say", `{"data":[{"id":"org/m"}]}`, ""},
		{"serves other files", `{"data":[{"id":"org/m","root":"/models/other"}]}`, ErrWeightsMismatch.Error()},
		{"does not serve the model", `{"data":[{"id":"other"}]}`, `does not serve "org/m"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := checkEngineWeights(ctx, cfg, serve(c.body), "k", quiet)
			if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
				t.Fatalf("err = %v, want %q", err, c.want)
			}
			if calls.Load() < 2 {
				t.Fatalf("the engine was not asked again after it was starting: %d calls", calls.Load())
			}
		})
	}
}
