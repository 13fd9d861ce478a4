package worker

import (
	"bytes"
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/xssnick/tonutils-go/tlb"
	"github.com/xssnick/tonutils-go/tvm/cell"

	"github.com/cocoon-network/cocoon/offchain/chain"
	"github.com/cocoon-network/cocoon/offchain/inference"
	"github.com/cocoon-network/cocoon/offchain/inference/reference"
)

// blockingEngine never finishes a generation until released: a daemon
// using it is stopped with its job stored in StateRequest.
type blockingEngine struct{ release chan struct{} }

func (blockingEngine) Name() string        { return "blocking" }
func (blockingEngine) Description() string { return "test engine that waits" }
func (b blockingEngine) Chat(ctx context.Context, _ inference.Request) (inference.Stream, error) {
	select {
	case <-b.release:
	case <-ctx.Done():
	}
	return nil, ctx.Err()
}

// droppingNet refuses every external message: a daemon using it signs and
// stores its receipt but never gets it on chain.
type droppingNet struct{ chain.Network }

func (droppingNet) SendExternal(context.Context, []byte) ([]byte, error) {
	return nil, errors.New("test: network partition")
}

// runUntil runs a daemon until the job's stored state reaches want, then
// stops it as a crash would (nothing after the last commit survives).
func runUntil(t *testing.T, ctx context.Context, d *Daemon, job string, want JobState) *JobRecord {
	t.Helper()
	dctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { defer close(done); _ = d.Run(dctx, ln) }()
	defer func() { stop(); <-done }()
	for {
		if r, err := d.Job(job); err == nil && r.State >= want {
			return r
		}
		select {
		case <-ctx.Done():
			t.Fatalf("job never reached %s", want)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// A worker stopped after any committed step resumes from it on restart and
// the job ends with exactly one receipt — the one it stored, if it had
// signed one.
func TestResumeAfterCrash(t *testing.T) {
	for _, tc := range []struct {
		name  string
		state JobState
	}{
		{"after the request arrived", StateRequest},
		{"after the receipt was signed", StateSigned},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			defer cancel()
			n := setupNet(t, ctx)
			cfg, id, ln := registerWorker(t, ctx, n)
			ln.Close()
			job, _ := submit(t, ctx, n, id, "resume me", 32)

			opts := Options{Network: n.e, Engine: blockingEngine{release: make(chan struct{})}}
			if tc.state == StateSigned {
				opts = Options{Network: droppingNet{n.e}, Engine: reference.New(reference.Config{})}
			}
			crashing, err := New(cfg, id, opts)
			if err != nil {
				t.Fatal(err)
			}
			rec := runUntil(t, ctx, crashing, job.StringRaw(), tc.state)

			restarted, err := New(cfg, id, Options{Network: n.e, Engine: reference.New(reference.Config{})})
			if err != nil {
				t.Fatal(err)
			}
			go func() { _ = restarted.Run(ctx, nil) }()
			r := waitClosed(t, ctx, n, job)
			if r.Failed {
				t.Fatal("the resumed job ended with a failure receipt")
			}
			txs, err := n.e.Transactions(ctx, job, chain.TxID{}, 20)
			if err != nil {
				t.Fatal(err)
			}
			receipts := 0
			for _, tx := range txs {
				if tx.Tx.IO.In != nil && tx.Tx.IO.In.MsgType == tlb.MsgTypeExternalIn {
					receipts++
					if tc.state == StateSigned {
						// The receipt on chain is the very one stored before the crash.
						stored, err := cell.FromBOC(rec.Receipt)
						if err != nil {
							t.Fatal(err)
						}
						if h, _ := chain.InMsgHash(tx); !bytes.Equal(h, stored.Hash()) {
							t.Error("the resumed worker sent a different receipt than the one it had signed")
						}
					}
				}
			}
			if receipts != 1 {
				t.Fatalf("%d receipts on chain, want exactly 1", receipts)
			}
		})
	}
}
