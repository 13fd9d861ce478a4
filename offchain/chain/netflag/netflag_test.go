package netflag

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/cocoon-network/cocoon/offchain/chain"
	"github.com/cocoon-network/cocoon/offchain/chain/toncenter"
)

// fakeNet is a chain.Network that only tells which spec opened it.
type fakeNet struct {
	chain.Network
	spec string
}

func TestOpen(t *testing.T) {
	t.Parallel()
	devnet := WithResolver("devnet", func(_ context.Context, spec string) (chain.Network, error) {
		return &fakeNet{spec: spec}, nil
	})
	broken := WithResolver("broken", func(context.Context, string) (chain.Network, error) {
		return nil, errors.New("state dir missing")
	})
	tests := []struct {
		name         string
		spec         string
		opts         []Option
		wantEndpoint string // for toncenter networks
		wantSpec     string // for resolved networks
		wantErr      []string
	}{
		{name: "testnet", spec: "testnet", wantEndpoint: "https://testnet.toncenter.com/api/v2/jsonRPC"},
		{name: "mainnet", spec: "mainnet", wantEndpoint: "https://toncenter.com/api/v2/jsonRPC"},
		{name: "case and spaces", spec: " TestNet ", wantEndpoint: "https://testnet.toncenter.com/api/v2/jsonRPC"},
		{name: "base URL", spec: "http://127.0.0.1:8081", wantEndpoint: "http://127.0.0.1:8081/api/v2/jsonRPC"},
		{name: "base URL with slash", spec: "http://127.0.0.1:8081/", wantEndpoint: "http://127.0.0.1:8081/api/v2/jsonRPC"},
		{name: "API root", spec: "https://example.org/api/v2", wantEndpoint: "https://example.org/api/v2/jsonRPC"},
		{name: "endpoint", spec: "https://example.org/api/v2/jsonRPC", wantEndpoint: "https://example.org/api/v2/jsonRPC"},
		{name: "path prefix", spec: "https://example.org/ton/api/v2/", wantEndpoint: "https://example.org/ton/api/v2/jsonRPC"},
		{name: "resolver by name", spec: "devnet", opts: []Option{devnet}, wantSpec: "devnet"},
		{name: "resolver by scheme", spec: "devnet://./state", opts: []Option{devnet}, wantSpec: "devnet://./state"},
		{name: "resolver error", spec: "broken", opts: []Option{broken}, wantErr: []string{`opening network "broken"`, "state dir missing"}},
		{name: "resolver not registered", spec: "devnet", wantErr: []string{`unknown network "devnet"`, "testnet", "mainnet", "http://"}},
		{name: "unknown lists resolvers", spec: "tesnet", opts: []Option{devnet}, wantErr: []string{`unknown network "tesnet"`, "devnet or devnet://"}},
		{name: "empty", spec: "", wantErr: []string{"no network given", "testnet"}},
		{name: "URL without host", spec: "http://", wantErr: []string{"has no host"}},
		{name: "URL with query", spec: "https://toncenter.com/?api_key=x", wantErr: []string{"must not have a query"}},
		{name: "other scheme", spec: "ftp://example.org", wantErr: []string{`unknown network "ftp://example.org"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			opts := append([]Option{WithGetenv(func(string) string { return "" })}, tt.opts...)
			n, err := Open(context.Background(), tt.spec, opts...)
			if len(tt.wantErr) > 0 {
				if err == nil {
					t.Fatalf("Open(%q) succeeded", tt.spec)
				}
				for _, s := range tt.wantErr {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("err = %q, want containing %q", err, s)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			switch v := n.(type) {
			case *toncenter.Client:
				if v.Endpoint() != tt.wantEndpoint {
					t.Errorf("endpoint = %q, want %q", v.Endpoint(), tt.wantEndpoint)
				}
			case *fakeNet:
				if v.spec != tt.wantSpec {
					t.Errorf("resolver got %q, want %q", v.spec, tt.wantSpec)
				}
			default:
				t.Fatalf("got %T", n)
			}
		})
	}
}

func TestOpenAPIKey(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		env  string
		opts []Option
		want string
	}{
		{name: "from environment", env: "env-key", want: "env-key"},
		{name: "none", env: "", want: ""},
		{name: "option overrides environment", env: "env-key", opts: []Option{WithAPIKey("flag-key")}, want: "flag-key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := make(chan string, 1)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				select {
				case got <- r.Header.Get("X-API-Key"):
				default:
				}
				_, _ = w.Write([]byte(`{"ok":true,"result":{"last":{"seqno":5},"gen_utime":1700000000}}`))
			}))
			defer srv.Close()
			env := func(k string) string {
				if k == EnvAPIKey {
					return tt.env
				}
				return ""
			}
			opts := append([]Option{WithGetenv(env)}, tt.opts...)
			n, err := Open(context.Background(), srv.URL+"/api/v2", opts...)
			if err != nil {
				t.Fatal(err)
			}
			// One canned answer serves both getMasterchainInfo and getBlockHeader.
			if _, err := n.MasterchainInfo(context.Background()); err != nil {
				t.Fatal(err)
			}
			if k := <-got; k != tt.want {
				t.Errorf("X-API-Key = %q, want %q", k, tt.want)
			}
		})
	}
}
