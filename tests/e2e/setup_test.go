package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// cluster is a devnet server, a test-mode Root with the dev worker image
// and a model allowed, funded wallets, and one registered worker.
type cluster struct {
	dir      string
	network  string // devnet base URL
	devnet   *proc
	root     string
	operator string // wallet files
	owner    string
	client   string

	workerDir string
	workerURL string
	worker    *proc
}

const model = "cocoon-reference"

// devImageHash is the dev measurement `cocoon worker init` states:
// sha256("cocoon-worker-dev").
var hexRe = regexp.MustCompile(`measurement\s+([0-9a-f]{64})`)

func newCluster(t *testing.T) *cluster {
	t.Helper()
	c := &cluster{dir: t.TempDir()}
	addr := freePort(t)
	c.network = "http://" + addr
	c.devnet = start(t, "devnet", "devnet", "start", "--data", filepath.Join(c.dir, "devnet"), "--listen", addr, "--block-interval", "100ms")
	waitHTTP(t, c.network+"/healthz", 30*time.Second)

	c.operator = c.newWallet(t, "operator", "20")
	c.owner = c.newWallet(t, "owner", "100")
	c.client = c.newWallet(t, "client", "100")

	var dep struct {
		Root string `json:"root"`
	}
	cliJSON(t, &dep, "root", "deploy", "--wallet", c.operator, "--network", c.network, "--test-mode", "--job-code-library",
		"--min-stake", "1", "--min-deadline", "30s", "--max-deadline", "24h", "--unbonding-delay", "26h")
	c.root = dep.Root

	// The worker: keys, evidence and config, then the dev measurement it
	// states goes on the allow-list.
	c.workerDir = filepath.Join(c.dir, "worker")
	listen := freePort(t)
	c.workerURL = "http://" + listen
	out := cli(t, "worker", "init", "--out", c.workerDir, "--network", c.network, "--root", c.root,
		"--owner", c.walletAddress(t, c.owner), "--model", model, "--listen", listen)
	m := hexRe.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("worker init printed no measurement:\n%s", out)
	}
	cli(t, "root", "allow-measurement", "--root", c.root, "--wallet", c.operator, "--network", c.network, "--tee", "dev", "--hash", m[1])
	cli(t, "root", "add-model", "--root", c.root, "--wallet", c.operator, "--network", c.network,
		"--name", model, "--weights-hash", strings.Repeat("ab", 32), "--min-price-in", "0.1", "--min-price-out", "0.1")
	c.editWorkerConfig(t, map[string]string{"poll_interval": `"100ms"`})
	cli(t, "worker", "register", "--config", c.workerConfig(), "--owner-wallet", c.owner, "--stake", "10")
	c.startWorker(t)
	return c
}

func (c *cluster) workerConfig() string { return filepath.Join(c.workerDir, "config.toml") }

func (c *cluster) newWallet(t *testing.T, name, ton string) string {
	t.Helper()
	p := filepath.Join(c.dir, name+".wallet")
	cli(t, "wallet", "new", "--out", p)
	cli(t, "devnet", "faucet", "--network", c.network, c.walletAddress(t, p), ton)
	return p
}

func (c *cluster) walletAddress(t *testing.T, wallet string) string {
	t.Helper()
	var a struct {
		Address struct {
			Bounceable string `json:"bounceable"`
		} `json:"address"`
	}
	cliJSON(t, &a, "wallet", "address", "--wallet", wallet)
	if a.Address.Bounceable == "" {
		t.Fatalf("wallet address --json gave no address")
	}
	return a.Address.Bounceable
}

// editWorkerConfig replaces (or adds) top-level keys of the worker config.
func (c *cluster) editWorkerConfig(t *testing.T, kv map[string]string) {
	t.Helper()
	raw, err := os.ReadFile(c.workerConfig())
	if err != nil {
		t.Fatal(err)
	}
	text := string(raw)
	for k, v := range kv {
		re := regexp.MustCompile(`(?m)^#?\s*` + regexp.QuoteMeta(k) + `\s*=.*$`)
		if re.MatchString(text) {
			text = re.ReplaceAllString(text, k+" = "+v)
		} else {
			t.Fatalf("worker config has no %s key", k)
		}
	}
	if err := os.WriteFile(c.workerConfig(), []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

func (c *cluster) startWorker(t *testing.T) {
	t.Helper()
	c.worker = start(t, "worker", "worker", "run", "--config", c.workerConfig())
	waitHTTP(t, c.workerURL+"/healthz", 30*time.Second)
}
