package client

import (
	"context"
	"crypto/sha256"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cocoon-network/cocoon/bindings"
	"github.com/cocoon-network/cocoon/offchain/inference"
	"github.com/cocoon-network/cocoon/offchain/seal"
)

// sealedResult seals a ChatResult to the job's key, as a worker does.
func sealedResult(t *testing.T, s *jobSim, key *seal.PrivateKey, r inference.ChatResult) []byte {
	t.Helper()
	r.V = inference.PlaintextVersion
	pt, err := r.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	env, err := seal.SealResult(key.Public(), jobAddrOf(s.job), pt)
	if err != nil {
		t.Fatal(err)
	}
	return env
}

func simJob(t *testing.T, s *jobSim, endpoint string) *Job {
	t.Helper()
	key, err := seal.GenerateKey(seal.SuiteX25519)
	if err != nil {
		t.Fatal(err)
	}
	return &Job{Address: s.job, Client: s.client, Worker: s.worker, Endpoint: endpoint, Deadline: s.terms.Deadline, key: key}
}

func TestWaitOutcomes(t *testing.T) {
	answer := inference.ChatResult{Content: "TON is a blockchain.", FinishReason: "stop", Usage: &inference.Usage{InputTokens: 21, OutputTokens: 6}}
	tests := []struct {
		name string
		// serve is the result envelope the worker's endpoint serves (nil: 404)
		run     func(t *testing.T, s *jobSim, job *Job, served *atomic.Pointer[[]byte])
		state   State
		content string
		errIs   func(error) bool
	}{
		{"inline result", func(t *testing.T, s *jobSim, job *Job, _ *atomic.Pointer[[]byte]) {
			env := sealedResult(t, s, job.key, answer)
			s.create(2e9, 0)
			s.accept(19e6)
			s.receiptTx(bindings.Receipt{InputTokens: 21, OutputTokens: 6, ResultHash: sha256.Sum256(env), Result: bindings.MustCell(bindings.BytesCell(env))}, 39_000, 975, 1.9e9)
		}, StateCompleted, answer.Content, nil},
		{"result from the worker's endpoint", func(t *testing.T, s *jobSim, job *Job, served *atomic.Pointer[[]byte]) {
			env := sealedResult(t, s, job.key, answer)
			served.Store(&env)
			s.create(2e9, 0)
			s.accept(19e6)
			s.receiptTx(bindings.Receipt{InputTokens: 21, OutputTokens: 6, ResultHash: sha256.Sum256(env)}, 39_000, 975, 1.9e9)
		}, StateCompleted, answer.Content, nil},
		{"a tampered result is refused", func(t *testing.T, s *jobSim, job *Job, served *atomic.Pointer[[]byte]) {
			env := sealedResult(t, s, job.key, answer)
			bad := append([]byte(nil), env...)
			bad[len(bad)-1] ^= 1
			served.Store(&bad)
			s.create(2e9, 0)
			s.accept(19e6)
			s.receiptTx(bindings.Receipt{InputTokens: 21, OutputTokens: 6, ResultHash: sha256.Sum256(env)}, 39_000, 975, 1.9e9)
		}, StateCompleted, "", func(err error) bool { return errors.Is(err, ErrResultMismatch) }},
		{"an inline result that is not the receipt's", func(t *testing.T, s *jobSim, job *Job, _ *atomic.Pointer[[]byte]) {
			env := sealedResult(t, s, job.key, answer)
			other := sealedResult(t, s, job.key, answer)
			s.create(2e9, 0)
			s.accept(19e6)
			s.receiptTx(bindings.Receipt{ResultHash: sha256.Sum256(env), Result: bindings.MustCell(bindings.BytesCell(other))}, 39_000, 975, 1.9e9)
		}, StateCompleted, "", func(err error) bool { return errors.Is(err, ErrResultMismatch) }},
		{"a result sealed for another key does not open", func(t *testing.T, s *jobSim, _ *Job, _ *atomic.Pointer[[]byte]) {
			other, _ := seal.GenerateKey(seal.SuiteX25519)
			env := sealedResult(t, s, other, answer)
			s.create(2e9, 0)
			s.accept(19e6)
			s.receiptTx(bindings.Receipt{ResultHash: sha256.Sum256(env), Result: bindings.MustCell(bindings.BytesCell(env))}, 39_000, 975, 1.9e9)
		}, StateCompleted, "", func(err error) bool { return errors.Is(err, seal.ErrAuthFailed) }},
		{"failure receipt with the sealed reason", func(t *testing.T, s *jobSim, job *Job, _ *atomic.Pointer[[]byte]) {
			env := sealedResult(t, s, job.key, inference.ChatResult{Error: &inference.ResultError{Code: inference.CodeModelNotServed, Message: "no such model"}})
			s.create(2e9, 0)
			s.accept(19e6)
			s.receiptTx(bindings.Receipt{Failed: true, ResultHash: sha256.Sum256(env), Result: bindings.MustCell(bindings.BytesCell(env))}, 0, 0, 1.95e9)
		}, StateFailed, "", func(err error) bool {
			var fe *FailedError
			return errors.As(err, &fe) && fe.Code == inference.CodeModelNotServed && fe.Message == "no such model" &&
				fe.Refund.Int64() == 1.95e9 && !strings.Contains(err.Error(), "no such model")
		}},
		{"failure receipt without a result", func(t *testing.T, s *jobSim, _ *Job, _ *atomic.Pointer[[]byte]) {
			s.create(2e9, 0)
			s.accept(19e6)
			s.receiptTx(bindings.Receipt{Failed: true}, 0, 0, 1.95e9)
		}, StateFailed, "", func(err error) bool {
			var fe *FailedError
			return errors.As(err, &fe) && fe.Code == "" && strings.Contains(err.Error(), "could not serve")
		}},
		{"declined", func(t *testing.T, s *jobSim, _ *Job, _ *atomic.Pointer[[]byte]) {
			s.create(2e9, 0)
			s.decline(19e6, uint16(bindings.ErrModelNotServed), 1.99e9)
		}, StateDeclined, "", func(err error) bool {
			var ce *ClosedError
			return errors.As(err, &ce) && ce.State == StateDeclined && strings.Contains(err.Error(), "ERR_MODEL_NOT_SERVED")
		}},
		{"JobCreate refused", func(t *testing.T, s *jobSim, _ *Job, _ *atomic.Pointer[[]byte]) {
			s.create(2e9, int32(bindings.ErrEscrowTooLow))
		}, StateRefused, "", func(err error) bool {
			var ce *CreateError
			return errors.As(err, &ce) && ce.Code == bindings.ErrEscrowTooLow
		}},
		{"deadline passed with the job open", func(t *testing.T, s *jobSim, _ *Job, _ *atomic.Pointer[[]byte]) {
			s.create(2e9, 0)
			s.accept(19e6)
			s.net.setNow(s.terms.Deadline + 1)
		}, StateAccepted, "", func(err error) bool { return errors.Is(err, ErrDeadlinePassed) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var served atomic.Pointer[[]byte]
			net := newFakeNet(1_800_000_000)
			s := newJobSim(t, net)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method != http.MethodGet || r.URL.Path != "/v1/jobs/"+s.job.StringRaw()+"/result" {
					http.Error(w, `{"error":"no"}`, http.StatusBadRequest)
					return
				}
				b := served.Load()
				if b == nil {
					http.Error(w, `{"error":"not yet"}`, http.StatusNotFound)
					return
				}
				_, _ = w.Write(*b)
			}))
			defer srv.Close()
			job := simJob(t, s, srv.URL)
			tc.run(t, s, job, &served)
			c := New(net, Options{Dir: t.TempDir(), PollInterval: 10 * time.Millisecond})
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			out, err := c.Wait(ctx, job)
			if tc.errIs == nil && err != nil {
				t.Fatalf("Wait: %v", err)
			}
			if tc.errIs != nil && !tc.errIs(err) {
				t.Fatalf("Wait error %v (%T) is not the one expected", err, err)
			}
			if out == nil || out.State != tc.state {
				t.Fatalf("outcome %+v, want state %s", out, tc.state)
			}
			if tc.content != "" && (out.Answer == nil || out.Answer.Content != tc.content) {
				t.Fatalf("answer %+v", out.Answer)
			}
			// Status reads the same without waiting.
			st, serr := c.Status(ctx, job)
			if st == nil || st.State != tc.state || (serr == nil) != (err == nil || errors.Is(err, ErrDeadlinePassed)) {
				t.Errorf("Status: %+v, %v; Wait: %v", st, serr, err)
			}
		})
	}
}

func TestWaitSeesLateReceipt(t *testing.T) {
	net := newFakeNet(1_800_000_000)
	s := newJobSim(t, net)
	job := simJob(t, s, "http://127.0.0.1:1")
	env := sealedResult(t, s, job.key, inference.ChatResult{Content: "late", Usage: &inference.Usage{InputTokens: 1, OutputTokens: 1}})
	s.create(2e9, 0)
	var lines []string
	c := New(net, Options{Dir: t.TempDir(), PollInterval: 5 * time.Millisecond, Progress: func(m string) { lines = append(lines, m) }})
	done := make(chan struct{})
	var (
		out *Outcome
		err error
	)
	go func() {
		defer close(done)
		out, err = c.Wait(context.Background(), job)
	}()
	time.Sleep(50 * time.Millisecond)
	s.accept(19e6)
	time.Sleep(50 * time.Millisecond)
	s.receiptTx(bindings.Receipt{InputTokens: 1, OutputTokens: 1, ResultHash: sha256.Sum256(env), Result: bindings.MustCell(bindings.BytesCell(env))}, 4000, 100, 1.9e9)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Wait did not return")
	}
	if err != nil || out.Answer == nil || out.Answer.Content != "late" {
		t.Fatalf("Wait: %+v, %v", out, err)
	}
	joined := strings.Join(lines, "\n")
	if !strings.Contains(joined, "waiting for the worker (deadline in 10m0s)") || !strings.Contains(joined, "accepted") {
		t.Errorf("progress lines:\n%s", joined)
	}
}

func TestWaitWithoutKey(t *testing.T) {
	net := newFakeNet(1_800_000_000)
	s := newJobSim(t, net)
	job := simJob(t, s, "")
	env := sealedResult(t, s, job.key, inference.ChatResult{Content: "x"})
	job.key = nil
	s.create(2e9, 0)
	s.accept(19e6)
	s.receiptTx(bindings.Receipt{ResultHash: sha256.Sum256(env), Result: bindings.MustCell(bindings.BytesCell(env))}, 4000, 100, 1.9e9)
	c := New(net, Options{Dir: t.TempDir()})
	out, err := c.Status(context.Background(), job)
	if !errors.Is(err, ErrNoKey) || out == nil || out.State != StateCompleted || out.Costs.Refund.Int64() != 1.9e9 {
		t.Fatalf("Status without the key: %+v, %v", out, err)
	}
	// Load of a job submitted elsewhere: the chain's view, no key.
	j, err := c.Load(context.Background(), s.job)
	if err != nil {
		t.Fatal(err)
	}
	if j.CanOpen() || !j.Worker.Equals(s.worker) || j.Deadline != s.terms.Deadline || !j.Client.Equals(s.client) || j.Escrow.Int64() != 2e9 {
		t.Errorf("loaded %+v", j)
	}
}

func TestWaitContextEnds(t *testing.T) {
	net := newFakeNet(1_800_000_000)
	s := newJobSim(t, net)
	s.create(2e9, 0)
	job := simJob(t, s, "")
	c := New(net, Options{Dir: t.TempDir(), PollInterval: 5 * time.Millisecond})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	out, err := c.Wait(ctx, job)
	if !errors.Is(err, context.DeadlineExceeded) || out == nil || out.State != StateOffered {
		t.Fatalf("Wait: %+v, %v", out, err)
	}
}
