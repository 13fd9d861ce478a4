package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWorkerAttestRefusals(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "worker.toml")
	const addr = "EQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAM9c"
	_ = os.WriteFile(cfg, []byte(`network = "http://127.0.0.1:1"
root = "`+addr+`"
owner = "`+addr+`"
[[models]]
name = "m"
price_in = "1"
price_out = "1"
`), 0o644)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--type", "dev", "--gpu"}, "GPU evidence is bound to a hardware TEE"},
		{[]string{"--type", "sgx"}, "want dev, tdx or sevsnp"},
	} {
		_, errOut, code := runAttest(t, append([]string{"worker", "attest", "--config", cfg}, c.args...)...)
		if code == 0 || !strings.Contains(errOut, c.want) {
			t.Errorf("%v: exit %d, %s", c.args, code, errOut)
		}
	}
}
