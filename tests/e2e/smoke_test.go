package e2e

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestClusterComesUp: devnet, Root, worker registration and the daemon,
// each through the CLI a user runs.
func TestClusterComesUp(t *testing.T) {
	c := newCluster(t)
	out := cli(t, "worker", "status", "--config", c.workerConfig())
	if !strings.Contains(out, ": active") {
		t.Fatalf("worker status:\n%s", out)
	}
	// Evidence ages out of clients' policies: the miner re-attests the same
	// keys and re-registers; Root validates again and the worker stays active.
	var before, after struct {
		Status          string `json:"status"`
		AttestationHash string `json:"attestation_hash"`
	}
	cliJSON(t, &before, "worker", "status", "--config", c.workerConfig())
	cli(t, "worker", "attest", "--config", c.workerConfig())
	cli(t, "worker", "update", "--config", c.workerConfig(), "--owner-wallet", c.owner)
	cliJSON(t, &after, "worker", "status", "--config", c.workerConfig())
	if after.Status != "active" || after.AttestationHash == before.AttestationHash {
		t.Fatalf("after attest + update: %+v (before %+v)", after, before)
	}

	show := cli(t, "root", "show", "--root", c.root, "--network", c.network)
	for _, want := range []string{"test mode         ON", "measurements      1", "models            1"} {
		if !strings.Contains(show, want) {
			t.Errorf("root show lacks %q:\n%s", want, show)
		}
	}
}

// The operator script deploys a second Root with an allow-listed image and
// a model, through the same CLI, and prints its address last.
func TestOperatorScript(t *testing.T) {
	c := &cluster{dir: t.TempDir()}
	addr := freePort(t)
	c.network = "http://" + addr
	start(t, "devnet", "devnet", "start", "--data", c.dir+"/devnet", "--listen", addr, "--block-interval", "100ms")
	waitHTTP(t, c.network+"/healthz", 30*time.Second)
	op := c.newWallet(t, "operator", "5")
	cmd := exec.Command("bash", "../../scripts/operator/deploy-root.sh", c.network, op, "dev", strings.Repeat("cd", 32), "some-model", strings.Repeat("ef", 32), "--test-mode")
	cmd.Env = append(os.Environ(), "COCOON="+bin(t))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("deploy-root.sh: %v\n%s", err, stderr.String())
	}
	root := strings.TrimSpace(stdout.String())
	show := cli(t, "root", "show", "--root", root, "--network", c.network)
	if !strings.Contains(show, strings.Repeat("cd", 32)) || !strings.Contains(show, "models            1") {
		t.Fatalf("root show after the script:\n%s", show)
	}
}
