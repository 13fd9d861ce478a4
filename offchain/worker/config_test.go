package worker

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The options the template shows commented out are real: uncommented, the
// file still loads and the values arrive where the comments say.
func TestTemplateOptionsLoadWhenUncommented(t *testing.T) {
	text, err := RenderConfig(InitValues{Network: "http://127.0.0.1:8081", Root: "0:" + strings.Repeat("11", 32),
		Owner: "0:" + strings.Repeat("22", 32), Listen: "127.0.0.1:8090", PublicURL: "http://127.0.0.1:8090", Model: "m"})
	if err != nil {
		t.Fatal(err)
	}
	// "# key = value" and "# [table]" lines, not prose comments.
	option := regexp.MustCompile(`(?m)^# ((\[[a-z_]+\])|([a-z_]+ = .*))$`)
	all := option.ReplaceAllString(text, "$1")
	dir := t.TempDir()
	path := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(path, []byte(all), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := LoadConfig(path)
	if err != nil {
		t.Fatalf("the template with every option uncommented does not load: %v\n%s", err, all)
	}
	checks := []struct {
		name      string
		got, want string
	}{
		{"models[0].weights", cfg.Models[0].Weights, "/models/name"},
		{"online.payments", cfg.Online.Payments, PaymentsChannels},
		{"online.gas_wallet", cfg.Online.GasWallet, "gas.wallet"},
		{"online.commit_above", cfg.Online.CommitAbove, "0.5"},
		{"sealing.kind", cfg.Sealing.Kind, "sevsnp"},
		{"engine.base_url", cfg.Engine.BaseURL, "http://127.0.0.1:8000"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
		}
	}
	if cfg.Collateral.Refresh.Duration.Hours() != 6 {
		t.Errorf("collateral.refresh = %v, want 6h", cfg.Collateral.Refresh.Duration)
	}
}
