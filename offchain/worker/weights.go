package worker

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/cocoon-network/cocoon/bindings"
	"github.com/cocoon-network/cocoon/offchain/attest"
	"github.com/cocoon-network/cocoon/offchain/chain/readers"
)

// WeightsProgress reports hashing progress: Done of Total bytes, in File.
type WeightsProgress struct {
	File        string
	Done, Total int64
}

// weightsChunk is how much is hashed between progress reports and
// cancellation checks.
const weightsChunk = 64 << 20

// HashWeights computes a model's weights hash: path is one weight file or
// a directory whose regular files (recursively; symbolic links to files,
// as in Hugging Face caches, are followed) are the weights. The hash is
// sha256 of the manifest that `sha256sum` prints for the files, sorted by
// their slash-separated path relative to path (a single file: its base
// name), so an operator reproduces it with coreutils:
//
//	cd DIR && find -L . -type f -printf '%P\n' | LC_ALL=C sort | xargs -d '\n' sha256sum | sha256sum
//
// Files are streamed; progress (may be nil) is called after every 64 MiB
// and at the end of each file.
func HashWeights(ctx context.Context, path string, progress func(WeightsProgress)) ([32]byte, error) {
	files, total, err := weightFiles(path)
	if err != nil {
		return [32]byte{}, err
	}
	var manifest bytes.Buffer
	var done int64
	buf := make([]byte, 1<<20)
	for _, f := range files {
		h := sha256.New()
		if err := hashFile(ctx, f.abs, h, buf, func(n int64) {
			done += n
			if progress != nil {
				progress(WeightsProgress{File: f.rel, Done: done, Total: total})
			}
		}); err != nil {
			return [32]byte{}, err
		}
		fmt.Fprintf(&manifest, "%s  %s\n", hex.EncodeToString(h.Sum(nil)), f.rel)
	}
	return sha256.Sum256(manifest.Bytes()), nil
}

type weightFile struct{ rel, abs string }

func weightFiles(path string) ([]weightFile, int64, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, 0, fmt.Errorf("model weights: %w", err)
	}
	if st.Mode().IsRegular() {
		return []weightFile{{rel: filepath.Base(path), abs: path}}, st.Size(), nil
	}
	if !st.IsDir() {
		return nil, 0, fmt.Errorf("model weights %s: neither a file nor a directory", path)
	}
	var files []weightFile
	var total int64
	err = filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		info, err := os.Stat(p) // follows a link to a file
		if err != nil {
			return err
		}
		if info.IsDir() {
			return fmt.Errorf("%s links to a directory: link the files instead", p)
		}
		if !info.Mode().IsRegular() {
			return fmt.Errorf("%s is not a regular file", p)
		}
		rel, err := filepath.Rel(path, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if strings.ContainsAny(rel, "\n\\") {
			return fmt.Errorf("%q: a weight file's name may not hold a newline or backslash", rel)
		}
		files = append(files, weightFile{rel: rel, abs: p})
		total += info.Size()
		return nil
	})
	if err != nil {
		return nil, 0, fmt.Errorf("model weights %s: %w", path, err)
	}
	if len(files) == 0 {
		return nil, 0, fmt.Errorf("model weights %s: no files", path)
	}
	sort.Slice(files, func(i, j int) bool { return files[i].rel < files[j].rel })
	return files, total, nil
}

func hashFile(ctx context.Context, path string, h io.Writer, buf []byte, advanced func(int64)) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("model weights: %w", err)
	}
	defer f.Close()
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		n, err := io.CopyBuffer(h, io.LimitReader(f, weightsChunk), buf)
		if err != nil {
			return fmt.Errorf("hashing %s: %w", path, err)
		}
		advanced(n)
		if n < weightsChunk {
			return nil
		}
	}
}

// ModelPins reads the weights hash Root pins for a model; *readers.Root
// implements it.
type ModelPins interface {
	Model(ctx context.Context, id [32]byte) (*bindings.ModelInfo, bool, error)
}

// ErrWeightsMismatch marks weights that differ from what Root pins or what
// the worker's evidence attests: the worker must not serve them.
var ErrWeightsMismatch = errors.New("model weights mismatch")

// ErrWeightsUnattested marks a hardware-TEE worker configured to serve a
// model without naming its weights: it could not attest them, and what it
// served could be any weights.
var ErrWeightsUnattested = errors.New("model weights not attested")

// VerifyWeights hashes the weights of every model cfg configures them for
// and compares each hash with the one Root pins and, when bundle is not
// nil, with the one the bundle attests. It returns the hashes (the weights
// `worker attest` puts in the bundle). A model whose weights differ is an
// error wrapping ErrWeightsMismatch: serving it would sell other weights
// than the network agreed on. Reading Root is retried until ctx ends.
func VerifyWeights(ctx context.Context, cfg *Config, pins ModelPins, bundle *attest.Bundle, log *slog.Logger) ([]attest.ModelWeights, error) {
	if log == nil {
		log = slog.Default()
	}
	// A hardware-TEE worker serves only weights it hashes and attests; a
	// dev worker (test networks) may run engines without weights.
	hardware := bundle != nil && (bundle.TEE == attest.TEETDX || bundle.TEE == attest.TEESEVSNP)
	var out []attest.ModelWeights
	for _, m := range cfg.Models {
		if m.Weights == "" && hardware {
			return nil, fmt.Errorf("%w: model %s: models.weights is not set, so a %s worker cannot attest the weights it serves (clients refuse it); set it to the weights directory and run cocoon worker attest", ErrWeightsUnattested, m.Name, bundle.TEE)
		}
		if m.Weights == "" {
			// Nothing to check: one look at Root, for a warning only, so
			// that a slow chain does not hold up serving.
			if info, found, err := pins.Model(ctx, bindings.ModelID(m.Name)); err == nil && found && info.WeightsHash != [32]byte{} {
				log.Warn("model weights not checked: models.weights is not set, so the served weights are not attested and careful clients refuse this worker", "model", m.Name, "root_weights_hash", hex.EncodeToString(info.WeightsHash[:]))
			}
			continue
		}
		pinned, found, err := readPin(ctx, pins, m.Name, log)
		if err != nil {
			return nil, err
		}
		if !found {
			return nil, fmt.Errorf("model %s: Root does not list it", m.Name)
		}
		path := cfg.Path(m.Weights)
		start := time.Now()
		last := time.Now()
		got, err := HashWeights(ctx, path, func(p WeightsProgress) {
			if time.Since(last) >= 5*time.Second || p.Done == p.Total {
				last = time.Now()
				log.Info("hashing model weights", "model", m.Name, "file", p.File, "done_mib", p.Done>>20, "total_mib", p.Total>>20)
			}
		})
		if err != nil {
			return nil, fmt.Errorf("model %s: %w", m.Name, err)
		}
		log.Info("model weights hashed", "model", m.Name, "hash", hex.EncodeToString(got[:]), "took", time.Since(start).Round(time.Millisecond))
		switch {
		case pinned == [32]byte{}:
			log.Warn("Root pins no weights for the model: any weights pass, and clients on a network not in test mode refuse workers serving it", "model", m.Name)
		case got != pinned:
			return nil, fmt.Errorf("%w: model %s: the weights in %s hash to %x, Root pins %x; refusing to serve them", ErrWeightsMismatch, m.Name, path, got, pinned)
		}
		if bundle != nil {
			switch att := bundle.WeightsFor(m.Name); {
			case att == nil:
				log.Warn("the evidence does not attest these weights; run cocoon worker attest, then cocoon worker update", "model", m.Name)
			case !bytes.Equal(att, got[:]):
				return nil, fmt.Errorf("%w: model %s: the evidence attests weights %x, the files hash to %x; run cocoon worker attest", ErrWeightsMismatch, m.Name, att, got)
			}
		}
		out = append(out, attest.ModelWeights{Model: m.Name, Hash: got[:]})
	}
	return attest.SortWeights(out), nil
}

// readPin reads Root's model entry, retrying with backoff while the chain
// does not answer.
func readPin(ctx context.Context, pins ModelPins, model string, log *slog.Logger) ([32]byte, bool, error) {
	wait := time.Second
	for {
		info, found, err := pins.Model(ctx, bindings.ModelID(model))
		if err == nil {
			if !found {
				return [32]byte{}, false, nil
			}
			return info.WeightsHash, true, nil
		}
		log.Warn("reading Root's model entry failed; retrying", "model", model, "retry_in", wait, "err", err)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return [32]byte{}, false, fmt.Errorf("reading Root's entry for model %s: %w (last error: %v)", model, ctx.Err(), err)
		case <-t.C:
		}
		wait = min(2*wait, 30*time.Second)
	}
}

// checkWeights is the daemon's check before serving: the configured weights
// are Root's and the evidence's (VerifyWeights), and an OpenAI-compatible
// engine serves each such model from exactly those files.
func (d *Daemon) checkWeights(ctx context.Context) error {
	if _, err := VerifyWeights(ctx, d.cfg, readers.NewRoot(d.net, d.root), d.id.Bundle, d.log); err != nil {
		return err
	}
	if d.cfg.Engine.Kind != "openai" {
		return nil
	}
	key := ""
	if d.cfg.Engine.APIKeyEnv != "" {
		key = os.Getenv(d.cfg.Engine.APIKeyEnv)
	}
	return checkEngineWeights(ctx, d.cfg, d.cfg.Engine.BaseURL, key, d.log)
}

// engineModels is the part of GET /v1/models this check reads. vLLM and
// SGLang report in "root" the model path they were started with.
type engineModels struct {
	Data []struct {
		ID   string `json:"id"`
		Root string `json:"root"`
	} `json:"data"`
}

// checkEngineWeights asks the engine which files it serves each model with
// configured weights from, waiting (with backoff) while it starts: a model
// served from another path than the checked one is ErrWeightsMismatch. An
// engine that does not say (no "root") is trusted to be configured by the
// image, with a warning.
func checkEngineWeights(ctx context.Context, cfg *Config, base, apiKey string, log *slog.Logger) error {
	var want []ModelConfig
	for _, m := range cfg.Models {
		if m.Weights != "" {
			want = append(want, m)
		}
	}
	if len(want) == 0 {
		return nil
	}
	u := strings.TrimSuffix(strings.TrimSpace(base), "/")
	if !strings.HasSuffix(u, "/v1") {
		u += "/v1"
	}
	u += "/models"
	var list engineModels
	wait := time.Second
	for {
		err := getJSON(ctx, u, apiKey, &list)
		if err == nil {
			break
		}
		log.Warn("asking the engine which weights it serves; retrying", "url", u, "retry_in", wait, "err", err)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("the engine did not say which weights it serves: %w (last error: %v)", ctx.Err(), err)
		case <-t.C:
		}
		wait = min(2*wait, 30*time.Second)
	}
	for _, m := range want {
		found := false
		for _, e := range list.Data {
			if e.ID != m.EngineModel {
				continue
			}
			found = true
			path := filepath.Clean(cfg.Path(m.Weights))
			switch {
			case e.Root == "":
				log.Warn("the engine does not report which files it loaded; the image's engine configuration must load the checked weights", "model", m.Name, "weights", path)
			case filepath.Clean(e.Root) != path:
				return fmt.Errorf("%w: model %s: the engine serves %s from %s, not from the checked weights %s", ErrWeightsMismatch, m.Name, e.ID, e.Root, path)
			}
		}
		if !found {
			return fmt.Errorf("model %s: the engine does not serve %q", m.Name, m.EngineModel)
		}
	}
	return nil
}

func getJSON(ctx context.Context, u, apiKey string, out any) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	if apiKey != "" {
		req.Header.Set("Authorization", "Bearer "+apiKey)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	return json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(out)
}
