package worker

import (
	"bytes"
	"errors"
	"fmt"
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

	Engine EngineConfig  `toml:"engine"`
	Models []ModelConfig `toml:"models"`
	// Collateral: where TCB collateral is fetched (TDX, SEV-SNP workers).
	Collateral CollateralConfig `toml:"collateral"`
	// Sealing: how the worker's private keys are kept across reboots.
	Sealing SealingConfig `toml:"sealing"`

	dir string
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
	if c.Engine.Kind == "" {
		c.Engine.Kind = "reference"
	}
	for i := range c.Models {
		if c.Models[i].EngineModel == "" {
			c.Models[i].EngineModel = c.Models[i].Name
		}
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

// ConfigTemplate is what `cocoon worker init` writes (fmt verbs: config
// file name, network, root, owner, listen, public URL, model).
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
`
