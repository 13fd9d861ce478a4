package worker

import (
	"errors"
	"testing"
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
