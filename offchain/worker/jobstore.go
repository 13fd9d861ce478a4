package worker

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/cocoon-network/cocoon/offchain/internal/boltdb"
)

// JobState is where a job stands in the worker. The order matters: a job
// only moves forward, and every move is committed before the next step
// starts, so that a worker killed at any point resumes where it was and
// sends at most one receipt per job.
type JobState int

const (
	// StateAccepted: the Worker contract accepted the job's offer.
	StateAccepted JobState = iota + 1
	// StateRequest: the request ciphertext is here and matches the commitment.
	StateRequest
	// StateSealed: the sealed result (or the failure) is stored.
	StateSealed
	// StateSigned: the receipt is signed and stored; from here on only this
	// exact receipt is ever sent.
	StateSigned
	// StateDone: the job closed on chain (completed, failed, refunded).
	StateDone
)

func (s JobState) String() string {
	switch s {
	case StateAccepted:
		return "accepted"
	case StateRequest:
		return "request"
	case StateSealed:
		return "sealed"
	case StateSigned:
		return "signed"
	case StateDone:
		return "done"
	}
	return fmt.Sprintf("state(%d)", int(s))
}

// JobRecord is the worker's durable view of one job. It never holds a
// prompt or an answer in clear: only ciphertexts sealed to the enclave's or
// the client's key.
type JobRecord struct {
	Job      string   `json:"job"` // raw address
	Client   string   `json:"client"`
	Nonce    uint64   `json:"nonce"`
	State    JobState `json:"state"`
	Deadline uint32   `json:"deadline"`
	// AcceptedLT is the lt of the Worker transaction that accepted the offer.
	AcceptedLT uint64    `json:"accepted_lt"`
	AcceptedAt time.Time `json:"accepted_at"`

	RequestHash  [32]byte `json:"request_hash"`      // the job's on-chain request commitment
	Request      []byte   `json:"request,omitempty"` // request envelope (sealed to the worker)
	Result       []byte   `json:"result,omitempty"`  // result envelope (sealed to the client)
	InputTokens  uint32   `json:"input_tokens,omitempty"`
	OutputTokens uint32   `json:"output_tokens,omitempty"`
	Failed       bool     `json:"failed,omitempty"`
	FailReason   string   `json:"fail_reason,omitempty"` // a code, never content
	Receipt      []byte   `json:"receipt,omitempty"`     // the signed external message BOC
	Outcome      string   `json:"outcome,omitempty"`     // set with StateDone
	// DoneAt is when the worker saw the job close; the retention of its
	// sealed result counts from here.
	DoneAt time.Time `json:"done_at,omitzero"`
	// Pruned: the result and receipt were dropped after the retention.
	Pruned bool `json:"pruned,omitempty"`
}

// JobStore keeps job records and the chain cursor in one bbolt file; every
// update is one atomic commit.
type JobStore struct {
	db *bolt.DB
}

var (
	bucketJobs   = []byte("jobs")
	bucketCursor = []byte("cursor")
	// bucketPosted holds request envelopes clients posted before the
	// worker saw the job's acceptance on chain.
	bucketPosted = []byte("posted")
	// bucketPostedAt: when each posted envelope arrived, for pruning the
	// ones whose job never reached this worker.
	bucketPostedAt = []byte("posted_at")
)

// OpenJobStore opens (or creates) the store under dir.
func OpenJobStore(dir string) (*JobStore, error) {
	db, err := boltdb.Open(dir, "worker.db", "another worker", bucketJobs, bucketCursor, bucketPosted, bucketPostedAt)
	if err != nil {
		return nil, err
	}
	return &JobStore{db: db}, nil
}

// Close closes the store.
func (s *JobStore) Close() error { return s.db.Close() }

// ErrNoJob is returned for a job the worker does not know.
var ErrNoJob = errors.New("unknown job")

// Get returns a job's record.
func (s *JobStore) Get(job string) (*JobRecord, error) {
	var r *JobRecord
	err := s.db.View(func(tx *bolt.Tx) error {
		raw := tx.Bucket(bucketJobs).Get([]byte(job))
		if raw == nil {
			return fmt.Errorf("job %s: %w", job, ErrNoJob)
		}
		r = new(JobRecord)
		return json.Unmarshal(raw, r)
	})
	return r, err
}

// Put stores a record, refusing to move a job backwards: a stale writer
// (a retried step racing a newer one) cannot undo progress.
func (s *JobStore) Put(r *JobRecord) error {
	return s.db.Update(func(tx *bolt.Tx) error { return putJob(tx, r) })
}

func putJob(tx *bolt.Tx, r *JobRecord) error {
	b := tx.Bucket(bucketJobs)
	if raw := b.Get([]byte(r.Job)); raw != nil {
		var old JobRecord
		if err := json.Unmarshal(raw, &old); err != nil {
			return fmt.Errorf("job %s: stored record: %w", r.Job, err)
		}
		if r.State < old.State {
			return fmt.Errorf("job %s: cannot move from %s back to %s", r.Job, old.State, r.State)
		}
	}
	raw, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return b.Put([]byte(r.Job), raw)
}

// AddAccepted records a newly accepted job and advances the chain cursor
// in the same commit, so that a crash between the two cannot lose or
// duplicate the job. An already known job is left as it is.
func (s *JobStore) AddAccepted(r *JobRecord, cursorKey string, lt uint64) (added bool, err error) {
	err = s.db.Update(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketJobs).Get([]byte(r.Job)) == nil {
			if err := putJob(tx, r); err != nil {
				return err
			}
			added = true
		}
		return putCursor(tx, cursorKey, lt)
	})
	return added, err
}

// SetCursor records how far the chain watcher got for one account.
func (s *JobStore) SetCursor(key string, lt uint64) error {
	return s.db.Update(func(tx *bolt.Tx) error { return putCursor(tx, key, lt) })
}

func putCursor(tx *bolt.Tx, key string, lt uint64) error {
	raw, _ := json.Marshal(lt)
	return tx.Bucket(bucketCursor).Put([]byte(key), raw)
}

// Cursors returns every stored chain cursor.
func (s *JobStore) Cursors() (map[string]uint64, error) {
	out := map[string]uint64{}
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketCursor).ForEach(func(k, v []byte) error {
			var lt uint64
			if err := json.Unmarshal(v, &lt); err != nil {
				return err
			}
			out[string(k)] = lt
			return nil
		})
	})
	return out, err
}

// Pending returns the jobs not yet done, oldest accepted first.
func (s *JobStore) Pending() ([]*JobRecord, error) {
	var out []*JobRecord
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketJobs).ForEach(func(_, v []byte) error {
			var r JobRecord
			if err := json.Unmarshal(v, &r); err != nil {
				return err
			}
			if r.State != StateDone {
				out = append(out, &r)
			}
			return nil
		})
	})
	slices.SortFunc(out, func(a, b *JobRecord) int { return cmp.Compare(a.AcceptedLT, b.AcceptedLT) })
	return out, err
}

// PutPosted keeps a request envelope a client posted (already checked
// against the job's on-chain commitment) at time at.
func (s *JobStore) PutPosted(job string, env []byte, at time.Time) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		raw, err := at.MarshalBinary()
		if err != nil {
			return err
		}
		if err := tx.Bucket(bucketPostedAt).Put([]byte(job), raw); err != nil {
			return err
		}
		return tx.Bucket(bucketPosted).Put([]byte(job), env)
	})
}

// PutTakingPosted stores a record that now holds the job's request and
// drops the posted copy in the same commit.
func (s *JobStore) PutTakingPosted(r *JobRecord) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		if err := putJob(tx, r); err != nil {
			return err
		}
		return deletePosted(tx, []byte(r.Job))
	})
}

func deletePosted(tx *bolt.Tx, job []byte) error {
	if err := tx.Bucket(bucketPosted).Delete(job); err != nil {
		return err
	}
	return tx.Bucket(bucketPostedAt).Delete(job)
}

// UnclaimedPostedAge is the least time a posted request whose job this
// worker has not accepted (yet) is kept: longer than any job deadline.
const UnclaimedPostedAge = 48 * time.Hour

// Pruned is what one Prune dropped.
type Pruned struct {
	Results int // finished jobs whose sealed result and receipt went
	Posted  int // posted requests whose job was served or never came
}

// Prune drops what a finished job no longer needs once retention has
// passed since it closed: the sealed result (its client had that long to
// fetch it) and the signed receipt, keeping the outcome and token counts.
// Posted requests go once their job holds its own copy, or after
// retention (at least UnclaimedPostedAge) when no job of this worker took
// them.
func (s *JobStore) Prune(now time.Time, retention time.Duration) (Pruned, error) {
	var p Pruned
	cutoff := now.Add(-retention)
	// A request posted for a job this worker has not seen accepted yet may
	// still be claimed until the job's deadline, whatever the retention.
	unclaimedCutoff := now.Add(-max(retention, UnclaimedPostedAge))
	err := s.db.Update(func(tx *bolt.Tx) error {
		jobs := tx.Bucket(bucketJobs)
		var stale [][]byte
		err := jobs.ForEach(func(k, v []byte) error {
			var r JobRecord
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("job %s: stored record: %w", k, err)
			}
			closed := r.DoneAt
			if closed.IsZero() { // closed before DoneAt was recorded
				closed = r.AcceptedAt
			}
			if r.State != StateDone || r.Pruned || closed.After(cutoff) {
				return nil
			}
			stale = append(stale, append([]byte(nil), k...))
			return nil
		})
		if err != nil {
			return err
		}
		for _, k := range stale {
			var r JobRecord
			if err := json.Unmarshal(jobs.Get(k), &r); err != nil {
				return err
			}
			r.Request, r.Result, r.Receipt, r.Pruned = nil, nil, nil, true
			if err := putJob(tx, &r); err != nil {
				return err
			}
			p.Results++
		}
		var gone [][]byte
		err = tx.Bucket(bucketPosted).ForEach(func(k, _ []byte) error {
			if raw := jobs.Get(k); raw != nil {
				var r JobRecord
				if err := json.Unmarshal(raw, &r); err != nil {
					return err
				}
				if r.State >= StateRequest {
					gone = append(gone, append([]byte(nil), k...))
				}
				return nil
			}
			var at time.Time
			if err := at.UnmarshalBinary(tx.Bucket(bucketPostedAt).Get(k)); err != nil {
				// No arrival time (stored by an older version): the
				// retention counts from now on, like a fresh post.
				raw, err := now.MarshalBinary()
				if err != nil {
					return err
				}
				return tx.Bucket(bucketPostedAt).Put(k, raw)
			}
			if !at.After(unclaimedCutoff) {
				gone = append(gone, append([]byte(nil), k...))
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, k := range gone {
			if err := deletePosted(tx, k); err != nil {
				return err
			}
			p.Posted++
		}
		return nil
	})
	return p, err
}

// Posted returns a posted request envelope, or nil.
func (s *JobStore) Posted(job string) ([]byte, error) {
	var env []byte
	err := s.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketPosted).Get([]byte(job)); v != nil {
			env = append([]byte(nil), v...)
		}
		return nil
	})
	return env, err
}

// Activity is what the job records say about outcomes: totals, and the
// jobs closed in each bucket since a time.
type Activity struct {
	Totals  map[string]int // outcome -> jobs, over every record kept
	Open    int            // jobs not closed yet
	Buckets []ActivityBucket
}

// ActivityBucket is the jobs that closed in [Start, Start+width).
type ActivityBucket struct {
	Start    time.Time      `json:"start"`
	Outcomes map[string]int `json:"outcomes"`
	Tokens   uint64         `json:"tokens"`
}

// Activity sums the job records into n buckets of width ending at now.
func (s *JobStore) Activity(now time.Time, width time.Duration, n int) (*Activity, error) {
	a := &Activity{Totals: map[string]int{}, Buckets: make([]ActivityBucket, n)}
	first := now.Truncate(width).Add(-time.Duration(n-1) * width)
	end := first.Add(time.Duration(n) * width)
	for i := range a.Buckets {
		a.Buckets[i] = ActivityBucket{Start: first.Add(time.Duration(i) * width), Outcomes: map[string]int{}}
	}
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketJobs).ForEach(func(_, v []byte) error {
			var r JobRecord
			if err := json.Unmarshal(v, &r); err != nil {
				return err
			}
			if r.State != StateDone {
				a.Open++
				return nil
			}
			a.Totals[r.Outcome]++
			if r.DoneAt.Before(first) || !r.DoneAt.Before(end) {
				return nil
			}
			b := &a.Buckets[int(r.DoneAt.Sub(first)/width)]
			b.Outcomes[r.Outcome]++
			b.Tokens += uint64(r.InputTokens) + uint64(r.OutputTokens)
			return nil
		})
	})
	return a, err
}
