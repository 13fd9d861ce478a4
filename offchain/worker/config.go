package worker

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// Config is the worker daemon's configuration file (TOML). Relative paths
// in it are relative to the file's directory.
type Config struct {
	// Network: a devnet or toncenter URL, or testnet / mainnet.
	Network string `toml:"network"`
	// Root is the Cocoon Root contract the worker registers with.
	Root string `toml:"root"`
	// Owner is the owner wallet's address: it receives stake and earnings.
	// Its key is never given to the daemon.
	Owner string `toml:"owner"`
	// KeysDir holds worker.key, hpke.key and evidence.bin (created by
	// `cocoon worker init`).
	KeysDir string `toml:"keys_dir"`
	// StateDir holds the job database.
	StateDir string `toml:"state_dir"`
	// Listen is the HTTP address of /healthz, /metrics, /evidence and the
	// job endpoints; PublicURL is how clients reach it (stored on chain).
	Listen    string `toml:"listen"`
	PublicURL string `toml:"public_url"`
	// MaxConcurrent jobs run at once; accepted jobs beyond it get a
	// failure receipt ("busy"): the client is refunded in full, no slash.
	MaxConcurrent int `toml:"max_concurrent"`
	// PollInterval is how often the chain is polled for new transactions.
	PollInterval duration `toml:"poll_interval"`
	// Retention is how long a finished job's sealed result stays on disk
	// for its client to fetch; then the record keeps only its outcome.
	Retention duration `toml:"retention"`

	HTTP HTTPConfig `toml:"http"`

	Engine EngineConfig  `toml:"engine"`
	Models []ModelConfig `toml:"models"`
	Online OnlineConfig  `toml:"online"`
	// Collateral: where TCB collateral is fetched (TDX, SEV-SNP workers).
	Collateral CollateralConfig `toml:"collateral"`
	// Sealing: how the worker's private keys are kept across reboots.
	Sealing SealingConfig `toml:"sealing"`

	dir string
}

// HTTPConfig bounds what clients can make the worker's HTTP server hold:
// time per request and connection, connections, and uploads in memory.
type HTTPConfig struct {
	// ReadTimeout bounds reading one whole request, body included (a
	// client that announces a body and stalls is dropped after it).
	ReadTimeout duration `toml:"read_timeout"`
	// WriteTimeout bounds writing one response.
	WriteTimeout duration `toml:"write_timeout"`
	// IdleTimeout closes a kept-alive connection with no request.
	IdleTimeout duration `toml:"idle_timeout"`
	// MaxConnections open at once, a quarter of them from one client
	// address; near it unused connections are closed to make room, at it a
	// new one waits up to 2 s (internal/httpserve).
	MaxConnections int `toml:"max_connections"`
	// MaxUploads request envelopes read at once (each up to 16 MiB in
	// memory); more are answered 503 with Retry-After.
	MaxUploads int `toml:"max_uploads"`
}

// EngineConfig selects the inference engine.
type EngineConfig struct {
	// Kind: "reference" (deterministic protocol-test engine, not a language
	// model) or "openai" (any OpenAI-compatible server: vLLM, SGLang,
	// llama.cpp server, Ollama).
	Kind    string `toml:"kind"`
	BaseURL string `toml:"base_url"`
	// APIKeyEnv names the environment variable holding the engine's API key.
	APIKeyEnv string `toml:"api_key_env"`
	// TokenDelay slows the reference engine down, per token: for tests of
	// deadlines and of a worker killed in the middle of a job.
	TokenDelay duration `toml:"token_delay"`
}

// ModelConfig is one model the worker serves.
type ModelConfig struct {
	// Name is the model's public name; its id on chain is sha256(name).
	Name string `toml:"name"`
	// EngineModel is the name the engine knows it by (default: Name).
	EngineModel string `toml:"engine_model"`
	// Prices per 1M input and output tokens, in TON.
	PriceIn  string `toml:"price_in"`
	PriceOut string `toml:"price_out"`
	// Weights is the model's weight file or directory (relative to the
	// config file), the one the engine loads. When set, the worker hashes
	// it before serving and refuses to serve weights other than Root's
	// weights_hash (docs/ATTESTATION.md, "Model weights").
	Weights string `toml:"weights"`
}

// DefaultRetention is how long a finished job's sealed result is kept when
// the config does not say: a day for a client to come back for it.
const DefaultRetention = 24 * time.Hour

type duration struct{ time.Duration }

func (d *duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return err
	}
	d.Duration = v
	return nil
}

func (d duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// LoadConfig reads and checks a config file; unknown keys are errors, so a
// typo never silently falls back to a default.
func LoadConfig(path string) (*Config, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading worker config: %w", err)
	}
	var c Config
	md, err := toml.NewDecoder(bytes.NewReader(raw)).Decode(&c)
	if err != nil {
		return nil, fmt.Errorf("worker config %s: %w", path, err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		keys := make([]string, len(und))
		for i, k := range und {
			keys[i] = k.String()
		}
		return nil, fmt.Errorf("worker config %s: unknown keys: %s", path, strings.Join(keys, ", "))
	}
	c.dir = filepath.Dir(path)
	c.applyDefaults()
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("worker config %s: %w", path, err)
	}
	return &c, nil
}

func (c *Config) applyDefaults() {
	if c.KeysDir == "" {
		c.KeysDir = "keys"
	}
	if c.StateDir == "" {
		c.StateDir = "state"
	}
	if c.Listen == "" {
		c.Listen = "127.0.0.1:8090"
	}
	if c.PublicURL == "" {
		c.PublicURL = "http://" + c.Listen
	}
	if c.MaxConcurrent == 0 {
		c.MaxConcurrent = 4
	}
	if c.PollInterval.Duration == 0 {
		c.PollInterval.Duration = time.Second
	}
	c.applyServingDefaults()
	if c.Engine.Kind == "" {
		c.Engine.Kind = "reference"
	}
	c.Online.applyDefaults(c.MaxConcurrent)
	for i := range c.Models {
		if c.Models[i].EngineModel == "" {
			c.Models[i].EngineModel = c.Models[i].Name
		}
	}
}

// applyServingDefaults fills the retention and the HTTP limits; New calls
// it too, so that a Config built in code never runs with zero limits
// (which would accept no connection and prune at once).
func (c *Config) applyServingDefaults() {
	if c.Retention.Duration == 0 {
		c.Retention.Duration = DefaultRetention
	}
	if c.HTTP.ReadTimeout.Duration == 0 {
		c.HTTP.ReadTimeout.Duration = time.Minute
	}
	if c.HTTP.WriteTimeout.Duration == 0 {
		c.HTTP.WriteTimeout.Duration = time.Minute
	}
	if c.HTTP.IdleTimeout.Duration == 0 {
		c.HTTP.IdleTimeout.Duration = 2 * time.Minute
	}
	if c.HTTP.MaxConnections == 0 {
		c.HTTP.MaxConnections = 256
	}
	if c.HTTP.MaxUploads == 0 {
		c.HTTP.MaxUploads = 4
	}
}

// Validate reports the first problem with the config, naming the key.
func (c *Config) Validate() error {
	switch {
	case c.Network == "":
		return errors.New("network: required (a devnet URL, testnet or mainnet)")
	case c.Root == "":
		return errors.New("root: required (the Root contract's address)")
	case c.Owner == "":
		return errors.New("owner: required (the owner wallet's address)")
	case c.MaxConcurrent < 1:
		return fmt.Errorf("max_concurrent: %d, must be at least 1", c.MaxConcurrent)
	case c.PollInterval.Duration < 10*time.Millisecond:
		return fmt.Errorf("poll_interval: %s is too short", c.PollInterval.Duration)
	case len(c.Models) == 0:
		return errors.New("models: the worker must serve at least one model")
	case c.Retention.Duration < 0:
		return fmt.Errorf("retention: %s is negative", c.Retention.Duration)
	case c.HTTP.ReadTimeout.Duration < 0 || c.HTTP.WriteTimeout.Duration < 0 || c.HTTP.IdleTimeout.Duration < 0:
		return errors.New("http: read_timeout, write_timeout and idle_timeout must not be negative")
	case c.HTTP.MaxConnections < 1:
		return fmt.Errorf("http.max_connections: %d, must be at least 1", c.HTTP.MaxConnections)
	case c.HTTP.MaxUploads < 1:
		return fmt.Errorf("http.max_uploads: %d, must be at least 1", c.HTTP.MaxUploads)
	case c.HTTP.MaxUploads >= c.HTTP.MaxConnections:
		return fmt.Errorf("http.max_uploads (%d) must be below http.max_connections (%d), or uploads can take every connection", c.HTTP.MaxUploads, c.HTTP.MaxConnections)
	}
	if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("public_url: %q is not an http(s) URL", c.PublicURL)
	}
	switch c.Engine.Kind {
	case "reference":
	case "openai":
		if c.Engine.BaseURL == "" {
			return errors.New("engine.base_url: required for engine kind openai")
		}
	default:
		return fmt.Errorf("engine.kind: %q (want reference or openai)", c.Engine.Kind)
	}
	if err := c.Online.validate(); err != nil {
		return err
	}
	seen := map[string]bool{}
	for i, m := range c.Models {
		if strings.TrimSpace(m.Name) == "" {
			return fmt.Errorf("models[%d].name: required", i)
		}
		if seen[m.Name] {
			return fmt.Errorf("models[%d].name: %q listed twice", i, m.Name)
		}
		seen[m.Name] = true
		if m.PriceIn == "" || m.PriceOut == "" {
			return fmt.Errorf("models[%d] (%s): price_in and price_out are required", i, m.Name)
		}
	}
	return nil
}

// Path resolves a path from the config relative to the config file.
func (c *Config) Path(p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(c.dir, p)
}

// InitValues are the values `cocoon worker init` writes into a config.
type InitValues struct {
	Network, Root, Owner, Listen, PublicURL, Model string
	// GasWallet is the wallet file of online.gas_wallet (cocoon worker
	// init creates one); empty leaves the [online] section commented out.
	GasWallet string
}

// onlineHeader is the start of the template's [online] section: live
// with a gas wallet (quoted), commented out without one.
func onlineHeader(gasWallet preQuoted) string {
	if gasWallet == `""` {
		return "# [online]\n# gas_wallet = \"gas.wallet\"    # pays channel commits and closes; without it no payment channels are opened"
	}
	return "[online]\n# A small wallet that pays the gas of payment-channel commits and closes (the\n" +
		"# earnings go to the owner); keep about 1 TON in it. Without one the worker opens\n" +
		"# no payment channels.\ngas_wallet = " + string(gasWallet)
}

// RenderConfig fills ConfigTemplate with v, each value quoted as a TOML
// string by the TOML library (quotes, backslashes, newlines and control
// characters cannot break out of it), and checks that the text reads back
// to exactly these values.
func RenderConfig(v InitValues) (string, error) {
	vals := []string{v.Network, v.Root, v.Owner, v.Listen, v.PublicURL, v.Model, v.GasWallet}
	quoted := make([]any, 0, len(vals)+1)
	quoted = append(quoted, "config.toml")
	for _, s := range vals {
		q, err := tomlString(s)
		if err != nil {
			return "", err
		}
		quoted = append(quoted, preQuoted(q))
	}
	quoted[len(quoted)-1] = onlineHeader(quoted[len(quoted)-1].(preQuoted))
	text := fmt.Sprintf(ConfigTemplate, quoted...)
	var back Config
	if _, err := toml.Decode(text, &back); err != nil {
		return "", fmt.Errorf("the config written would not parse: %w", err)
	}
	got := InitValues{Network: back.Network, Root: back.Root, Owner: back.Owner, Listen: back.Listen, PublicURL: back.PublicURL, GasWallet: back.Online.GasWallet}
	if len(back.Models) == 1 {
		got.Model = back.Models[0].Name
	}
	if got != v {
		return "", fmt.Errorf("the config written would read back as %+v, not %+v", got, v)
	}
	return text, nil
}

// preQuoted is a value already quoted for TOML: the template's %q verbs
// print it as it is (fmt prefers a Formatter to its own Go quoting).
type preQuoted string

func (p preQuoted) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, string(p)) }

// tomlString is s as a TOML basic string, quoted by the TOML encoder.
func tomlString(s string) (string, error) {
	var b strings.Builder
	if err := toml.NewEncoder(&b).Encode(map[string]string{"v": s}); err != nil {
		return "", fmt.Errorf("quoting %q for TOML: %w", s, err)
	}
	q, ok := strings.CutPrefix(strings.TrimSuffix(b.String(), "\n"), "v = ")
	if !ok {
		return "", fmt.Errorf("quoting %q for TOML: unexpected encoding %q", s, b.String())
	}
	return q, nil
}

// ConfigTemplate is what `cocoon worker init` writes through RenderConfig
// (fmt verbs: config file name, network, root, owner, listen, public URL,
// model). RenderConfig fills the %q verbs with TOML-quoted values; a
// caller's own fmt.Sprintf gets Go quoting, which is TOML only for plain
// printable values.
const ConfigTemplate = `# Cocoon worker configuration.
# Paths are relative to this file. Edit, then:
#   cocoon worker register --config %[1]s --owner-wallet OWNER.wallet --stake TON
#   cocoon worker run --config %[1]s

# The TON network: a devnet or toncenter URL (http://127.0.0.1:8081), or testnet / mainnet.
network = %[2]q
# The Cocoon Root contract this worker registers with.
root = %[3]q
# The owner wallet's address (cold wallet, outside the enclave): it stakes,
# receives earnings, and alone can unbond and withdraw. Its key never comes here.
owner = %[4]q

# Worker keys and evidence, created by cocoon worker init (inside the TEE in production).
keys_dir = "keys"
# The job database (holds only sealed ciphertexts, never prompts or answers in clear).
state_dir = "state"

# HTTP: /healthz, /metrics, /evidence, and the job endpoints clients use.
listen = %[5]q
# How clients reach this worker; stored on chain at registration.
public_url = %[6]q

# Jobs run at once; accepted jobs beyond this get a failure receipt ("busy"):
# the client is refunded in full and the worker is not slashed.
max_concurrent = 4
# How often the chain is polled for offers and job outcomes.
poll_interval = "1s"
# How long a finished job's sealed result stays for its client to fetch;
# after that only the job's outcome is kept (requests go as soon as they are served).
retention = "24h"

# Limits of the HTTP server: slow or greedy clients are dropped, not served forever.
[http]
read_timeout = "1m"     # a whole request, body included
write_timeout = "1m"
idle_timeout = "2m"
max_connections = 256
max_uploads = 4         # request envelopes (up to 16 MiB each) read at once

[engine]
# "reference": the built-in deterministic protocol-test engine (NOT a language model).
# "openai": an OpenAI-compatible server (vLLM, SGLang, llama.cpp server, Ollama /v1).
kind = "reference"
# base_url = "http://127.0.0.1:8000"
# api_key_env = "ENGINE_API_KEY"
# token_delay = "0s"   # reference engine only: slows each token (tests)

# Models served, with prices in TON per 1M tokens (at least the Root's minimum).
[[models]]
name = %[7]q
# engine_model = "name-the-engine-uses"
price_in = "0.5"
price_out = "1.5"
# The weight file or directory the engine loads: hashed before serving, and
# refused unless it is Root's weights_hash (docs/ATTESTATION.md, "Model weights").
# weights = "/models/name"

# The OpenAI-compatible endpoint for gateways, paid per request (docs/GATEWAY.md).
%[8]s
# payments = "channels"        # or "iou": signed IOUs without a deposit (tests only)
# credit = "0.1"               # TON a payer may owe beyond its vouchers
# commit_above = "0.5"         # TON of uncommitted earnings before the worker commits them
# max_concurrent = 4
# default_max_tokens = 1024
# max_tokens = 32768

# TDX / SEV-SNP only: where TCB collateral is fetched (clients need it).
# [collateral]
# refresh = "6h"

# How the worker's keys survive reboots without leaving the TEE (docs/ATTESTATION.md).
# [sealing]
# kind = "sevsnp"              # or "key-release" (TDX) with key_release_url; "dev" keeps plain files
`
