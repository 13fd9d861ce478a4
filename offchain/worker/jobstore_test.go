package worker

import (
	"errors"
	"testing"
	"time"
)

func TestJobStoreMovesOnlyForward(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenJobStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	r := &JobRecord{Job: "0:aa", Client: "0:bb", Nonce: 7, State: StateAccepted, AcceptedLT: 10}
	added, err := s.AddAccepted(r, "0:worker", 10)
	if err != nil || !added {
		t.Fatalf("first AddAccepted: added=%v err=%v", added, err)
	}
	// Seeing the same acceptance again (a watcher replaying after a crash) changes nothing.
	r2 := *r
	r2.Nonce = 99
	if added, err := s.AddAccepted(&r2, "0:worker", 10); err != nil || added {
		t.Fatalf("second AddAccepted: added=%v err=%v", added, err)
	}
	steps := []struct {
		state   JobState
		wantErr bool
	}{
		{StateRequest, false},
		{StateSealed, false},
		{StateRequest, true}, // backwards
		{StateSigned, false},
		{StateSigned, false}, // same state again is fine (a retried send)
		{StateAccepted, true},
		{StateDone, false},
	}
	for _, st := range steps {
		rec, err := s.Get("0:aa")
		if err != nil {
			t.Fatal(err)
		}
		rec.State = st.state
		err = s.Put(rec)
		if (err != nil) != st.wantErr {
			t.Errorf("move to %s: err=%v, wantErr=%v", st.state, err, st.wantErr)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// Everything survives a reopen.
	s, err = OpenJobStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rec, err := s.Get("0:aa")
	if err != nil || rec.State != StateDone || rec.Nonce != 7 {
		t.Fatalf("after reopen: %+v %v", rec, err)
	}
	cur, err := s.Cursors()
	if err != nil || cur["0:worker"] != 10 {
		t.Fatalf("cursor after reopen: %v %v", cur, err)
	}
	if _, err := s.Get("0:none"); !errors.Is(err, ErrNoJob) {
		t.Errorf("unknown job: %v", err)
	}
	if p, err := s.Pending(); err != nil || len(p) != 0 {
		t.Errorf("pending after done: %v %v", p, err)
	}
}

func TestJobStoreSecondOpenRefused(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenJobStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := OpenJobStore(dir); err == nil {
		t.Fatal("a second worker opened the same state dir")
	}
}

// Prune keeps a finished job's result for the retention after it closed,
// then drops the payloads and keeps the outcome; posted requests go as
// soon as their job holds its own copy, or after the retention when no job
// of this worker took them.
func TestJobStorePrune(t *testing.T) {
	s, err := OpenJobStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	const retention = time.Hour
	payload := []byte("sealed")
	put := func(r *JobRecord) {
		t.Helper()
		if err := s.Put(r); err != nil {
			t.Fatal(err)
		}
	}
	put(&JobRecord{Job: "0:01", State: StateDone, Outcome: OutcomeCompleted, DoneAt: t0, Result: payload, Receipt: payload, OutputTokens: 7})
	put(&JobRecord{Job: "0:02", State: StateDone, Outcome: OutcomeCompleted, DoneAt: t0.Add(50 * time.Minute), Result: payload, Receipt: payload})
	put(&JobRecord{Job: "0:03", State: StateSigned, AcceptedAt: t0, Result: payload, Receipt: payload}) // not closed yet
	put(&JobRecord{Job: "0:04", State: StateRequest, Request: payload})
	for job, at := range map[string]time.Time{"0:04": t0, "0:05": t0, "0:06": t0.Add(30 * time.Minute)} {
		if err := s.PutPosted(job, payload, at); err != nil {
			t.Fatal(err)
		}
	}

	p, err := s.Prune(t0.Add(retention+time.Minute), retention)
	if err != nil {
		t.Fatal(err)
	}
	if p != (Pruned{Results: 1, Posted: 1}) {
		t.Fatalf("pruned %+v, want 1 result and 1 posted request (the one its job holds)", p)
	}
	r, err := s.Get("0:01")
	if err != nil {
		t.Fatal(err)
	}
	if !r.Pruned || r.Result != nil || r.Receipt != nil || r.Outcome != OutcomeCompleted || r.OutputTokens != 7 {
		t.Errorf("pruned record %+v: want the payloads gone and the outcome kept", r)
	}
	for _, job := range []string{"0:02", "0:03"} {
		if r, err := s.Get(job); err != nil || r.Pruned || r.Result == nil {
			t.Errorf("job %s within the retention or still open was pruned: %+v %v", job, r, err)
		}
	}
	for job, want := range map[string]bool{"0:04": false, "0:05": true, "0:06": true} {
		env, err := s.Posted(job)
		if err != nil || (env != nil) != want {
			t.Errorf("posted request of %s kept = %v, want %v (%v)", job, env != nil, want, err)
		}
	}
	// Requests no job of this worker claimed go after UnclaimedPostedAge.
	late := t0.Add(UnclaimedPostedAge + 31*time.Minute)
	if p, err := s.Prune(late, retention); err != nil || p != (Pruned{Results: 1, Posted: 2}) {
		t.Fatalf("prune after %s: %+v %v, want job 0:02's result and both unclaimed requests", UnclaimedPostedAge, p, err)
	}
	// Nothing more to drop: a second run changes nothing.
	if p, err := s.Prune(late, retention); err != nil || p != (Pruned{}) {
		t.Errorf("second prune: %+v %v", p, err)
	}
}
