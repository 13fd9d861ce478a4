package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/cocoon-network/cocoon/offchain/worker"
)

// TestJobSubmitPublic: --public puts the prompt and the answer on chain in
// clear, and every output says so.
func TestJobSubmitPublic(t *testing.T) {
	c := newCLINet(t)
	w := c.net.NewWorker("w", 1_000_000_000_000, 3_000_000_000_000)
	c.net.Run(20 * time.Millisecond)

	out, stderr, err := runJob(t, c.submitArgs("--prompt", "What is TON?", "--public", "--json")...)
	if err != nil {
		t.Fatalf("submit: %v\nstderr:\n%s", err, stderr)
	}
	var res struct {
		Job    string  `json:"job"`
		State  string  `json:"state"`
		Public bool    `json:"public"`
		Answer *string `json:"answer"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil || res.State != "completed" || !res.Public || res.Answer == nil || !strings.Contains(*res.Answer, "echo: What is TON?") {
		t.Fatalf("submit --public --json: %s (%v)", out, err)
	}
	c.workerDone(t, w, res.Job, worker.OutcomeCompleted)
	out, _, err = runJob(t, "status", res.Job, "--network", c.url, "--client-dir", c.dir)
	if err != nil || !strings.Contains(out, "PUBLIC") || !strings.Contains(out, "not private") {
		t.Fatalf("status of a public job does not flag it: %v\n%s", err, out)
	}
}
