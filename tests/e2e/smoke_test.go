package e2e

import (
	"strings"
	"testing"
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
