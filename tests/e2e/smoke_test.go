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
	show := cli(t, "root", "show", "--root", c.root, "--network", c.network)
	for _, want := range []string{"test mode         ON", "measurements      1", "models            1"} {
		if !strings.Contains(show, want) {
			t.Errorf("root show lacks %q:\n%s", want, show)
		}
	}
}
