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

// `worker seal` with dev sealing: the keys are sealed and the worker still
// loads them (through the config's [sealing]).
func TestWorkerSealDev(t *testing.T) {
	const addr = "EQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAM9c"
	dir := filepath.Join(t.TempDir(), "w")
	if _, errOut, code := runAttest(t, "worker", "init", "--out", dir, "--root", addr, "--owner", addr); code != 0 {
		t.Fatalf("init: %s", errOut)
	}
	cfgs, _ := filepath.Glob(filepath.Join(dir, "*.toml"))
	if len(cfgs) != 1 {
		t.Fatalf("config files %v", cfgs)
	}
	cfg := cfgs[0]
	if _, errOut, code := runAttest(t, "worker", "seal", "--config", cfg); code == 0 || !strings.Contains(errOut, "no [sealing] kind") {
		t.Fatalf("without [sealing]: exit %d %s", code, errOut)
	}
	body, _ := os.ReadFile(cfg)
	_ = os.WriteFile(cfg, append(body, "\n[sealing]\nkind = \"dev\"\n"...), 0o644)
	out, errOut, code := runAttest(t, "worker", "seal", "--config", cfg)
	if code != 0 || !strings.Contains(out, "sealed (dev)") || !strings.Contains(out, "INSECURE") {
		t.Fatalf("seal: exit %d %s %s", code, out, errOut)
	}
	keys, _ := filepath.Glob(filepath.Join(dir, "*", "keys.sealed"))
	plain, _ := filepath.Glob(filepath.Join(dir, "*", "worker.key"))
	if len(keys) != 1 || len(plain) != 0 {
		t.Fatalf("sealed %v, plain %v", keys, plain)
	}
	// The worker's commands load the sealed identity.
	if _, errOut, code := runAttest(t, "worker", "attest", "--config", cfg, "--type", "dev"); code != 0 {
		t.Fatalf("attest with sealed keys: exit %d %s", code, errOut)
	}
}
