// Package netflag turns the value of a --network flag into a chain.Network.
//
// Accepted forms:
//
//	testnet              https://testnet.toncenter.com (toncenter v2)
//	mainnet              https://toncenter.com (toncenter v2)
//	http://HOST[:PORT]   any toncenter v2 compatible server (e.g. a devnet
//	https://HOST[...]    server); a trailing /api/v2 or /api/v2/jsonRPC is fine
//	NAME or NAME://...   a network registered with WithResolver (e.g. devnet)
//
// The toncenter API key is read from the environment variable
// TONCENTER_API_KEY (see EnvAPIKey); without it toncenter applies its
// anonymous rate limit (about one request per second).
package netflag

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"

	"github.com/cocoon-network/cocoon/offchain/chain"
	"github.com/cocoon-network/cocoon/offchain/chain/toncenter"
)

// EnvAPIKey names the environment variable holding the toncenter API key.
const EnvAPIKey = "TONCENTER_API_KEY"

// Base URLs of the public toncenter servers.
const (
	TestnetURL = "https://testnet.toncenter.com"
	MainnetURL = "https://toncenter.com"
)

// Resolver opens a network named by a spec that Open does not know itself;
// it receives the whole spec (e.g. "devnet" or "devnet://state-dir").
type Resolver func(ctx context.Context, spec string) (chain.Network, error)

type config struct {
	resolvers  map[string]Resolver
	apiKey     *string
	getenv     func(string) string
	httpClient *http.Client
	clientOpts []toncenter.Option
}

// Option configures Open.
type Option func(*config)

// WithResolver makes Open hand the spec NAME, or any spec starting with
// NAME://, to r. It is how networks that live outside this package (the
// in-process devnet) are plugged in. Names are case-insensitive.
func WithResolver(name string, r Resolver) Option {
	return func(c *config) {
		if c.resolvers == nil {
			c.resolvers = map[string]Resolver{}
		}
		c.resolvers[strings.ToLower(name)] = r
	}
}

// WithAPIKey sets the toncenter API key, overriding TONCENTER_API_KEY.
func WithAPIKey(key string) Option { return func(c *config) { c.apiKey = &key } }

// WithGetenv replaces os.Getenv for reading TONCENTER_API_KEY (for tests and
// embedders that keep their configuration elsewhere).
func WithGetenv(getenv func(string) string) Option { return func(c *config) { c.getenv = getenv } }

// WithHTTPClient sets the HTTP client of toncenter networks.
func WithHTTPClient(hc *http.Client) Option { return func(c *config) { c.httpClient = hc } }

// WithToncenterOptions passes further options to toncenter.New.
func WithToncenterOptions(opts ...toncenter.Option) Option {
	return func(c *config) { c.clientOpts = append(c.clientOpts, opts...) }
}

// Open resolves spec (the --network flag value) to a network. See the
// package documentation for the accepted forms.
func Open(ctx context.Context, spec string, opts ...Option) (chain.Network, error) {
	cfg := config{getenv: os.Getenv}
	for _, o := range opts {
		o(&cfg)
	}
	spec = strings.TrimSpace(spec)
	if spec == "" {
		return nil, fmt.Errorf("no network given; %s", cfg.accepted())
	}
	name, _, hasScheme := strings.Cut(spec, "://")
	if !hasScheme {
		name = spec
	}
	name = strings.ToLower(name)

	if r, found := cfg.resolvers[name]; found {
		n, err := r(ctx, spec)
		if err != nil {
			return nil, fmt.Errorf("opening network %q: %w", spec, err)
		}
		return n, nil
	}
	switch {
	case !hasScheme && name == "testnet":
		return cfg.toncenter(TestnetURL), nil
	case !hasScheme && name == "mainnet":
		return cfg.toncenter(MainnetURL), nil
	case hasScheme && (name == "http" || name == "https"):
		u, err := url.Parse(spec)
		if err != nil {
			return nil, fmt.Errorf("network %q is not a valid URL: %w", spec, err)
		}
		if u.Host == "" {
			return nil, fmt.Errorf("network URL %q has no host", spec)
		}
		if u.RawQuery != "" || u.Fragment != "" {
			return nil, fmt.Errorf("network URL %q must not have a query or fragment", spec)
		}
		return cfg.toncenter(spec), nil
	}
	return nil, fmt.Errorf("unknown network %q; %s", spec, cfg.accepted())
}

func (c *config) toncenter(base string) *toncenter.Client {
	key := c.getenv(EnvAPIKey)
	if c.apiKey != nil {
		key = *c.apiKey
	}
	opts := []toncenter.Option{toncenter.WithAPIKey(key)}
	if c.httpClient != nil {
		opts = append(opts, toncenter.WithHTTPClient(c.httpClient))
	}
	return toncenter.New(base, append(opts, c.clientOpts...)...)
}

func (c *config) accepted() string {
	forms := []string{"testnet", "mainnet", "an http:// or https:// URL of a toncenter v2 API"}
	names := make([]string, 0, len(c.resolvers))
	for n := range c.resolvers {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		forms = append(forms, n+" or "+n+"://...")
	}
	return "use one of: " + strings.Join(forms, ", ")
}
