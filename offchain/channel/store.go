package channel

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math/big"
	"sync"
	"time"

	"github.com/xssnick/tonutils-go/address"
	bolt "go.etcd.io/bbolt"

	"github.com/cocoon-network/cocoon/offchain/internal/boltdb"
)

// Role is which side of a channel a store record is kept for.
type Role string

const (
	RolePayer Role = "payer"
	RolePayee Role = "payee"
)

// Phase is where a channel is in its life as its side's record sees it.
type Phase string

const (
	PhaseOpening Phase = "opening" // terms agreed, not yet open on chain
	PhaseOpen    Phase = "open"    // vouchers flow
	PhaseClosing Phase = "closing" // a close is agreed or started: no more vouchers
	PhaseClosed  Phase = "closed"  // paid out on chain
)

// Record is one side's durable knowledge of one channel: the terms and the
// latest states of both sides. Each side writes it before it hands out or
// acts on a state, so a restart resumes exactly where it stopped.
type Record struct {
	Role    Role
	Terms   Terms
	Address *address.Address
	Phase   Phase
	// Voucher is the payer's latest state: the payer's own latest
	// signature, or the best voucher the payee received. Nil before the
	// first payment.
	Voucher *SignedState
	// PayeeState is the payee's signed acceptance of the terms.
	PayeeState *SignedState
	// Deposit is what the payer can promise in total, as last read from
	// the chain.
	Deposit *big.Int
	// Withdrawn is what the contract paid the payee so far (commits), as
	// last known.
	Withdrawn *big.Int
	// ClosingSince is when the record entered PhaseClosing.
	ClosingSince time.Time
	// Accepted is when a payee agreed the terms, and Source who asked
	// (a client address): unfunded terms expire and are counted per
	// source (PayeePolicy).
	Accepted time.Time
	Source   string
	Updated  time.Time
	// Failure is this side's last on-chain action on the channel that did
	// not go through (nil once one does): `cocoon channel status` shows
	// it.
	Failure *Failure
}

// Failure is an on-chain action that did not go through: the message was
// refused (the contract's exit code, named), its payout could not be
// made, or no answer came from the chain.
type Failure struct {
	Op    string    `json:"op"` // "channel open", "channel top-up", "channel commit", "channel close", "start close", "finish close"
	Error string    `json:"error"`
	At    time.Time `json:"at"`
}

// noteOutcome records on channel id's record whether this side's op went
// through on chain: err sets Failure, nil clears it. Best effort: the
// caller returns err itself.
func noteOutcome(locks *keyedMutex, st *Store, id ID, op string, err error) {
	unlock := locks.lock(id)
	defer unlock()
	rec, gerr := st.Get(id)
	if gerr != nil || (err == nil && rec.Failure == nil) {
		return
	}
	rec.Failure = nil
	if err != nil {
		rec.Failure = &Failure{Op: op, Error: err.Error(), At: time.Now().UTC()}
	}
	_ = st.Put(rec)
}

// Sent is the payer's cumulative payment the record knows of (zero before
// the first voucher).
func (r *Record) Sent() *big.Int {
	if r.Voucher == nil {
		return new(big.Int)
	}
	return new(big.Int).Set(r.Voucher.Sent)
}

func (r *Record) seqno() uint64 {
	if r.Voucher == nil {
		return 0
	}
	return r.Voucher.Seqno
}

// recordJSON is the stored form: keys and addresses as text.
type recordJSON struct {
	Role         Role         `json:"role"`
	ID           ID           `json:"id"`
	Address      string       `json:"address"`
	PayerKey     []byte       `json:"payer_key"`
	PayeeKey     []byte       `json:"payee_key"`
	PayerAddress string       `json:"payer_address"`
	PayeeAddress string       `json:"payee_address"`
	QuarantineS  int64        `json:"quarantine_s"`
	CodeLibrary  bool         `json:"code_library,omitempty"`
	Phase        Phase        `json:"phase"`
	Voucher      *SignedState `json:"voucher,omitempty"`
	PayeeState   *SignedState `json:"payee_state,omitempty"`
	Deposit      *big.Int     `json:"deposit"`
	Withdrawn    *big.Int     `json:"withdrawn"`
	ClosingSince time.Time    `json:"closing_since"`
	Accepted     time.Time    `json:"accepted,omitzero"`
	Source       string       `json:"source,omitempty"`
	Updated      time.Time    `json:"updated"`
	Failure      *Failure     `json:"failure,omitempty"`
}

// MarshalJSON writes the record in its stored form.
func (r *Record) MarshalJSON() ([]byte, error) {
	return json.Marshal(recordJSON{
		Role: r.Role, ID: r.Terms.ID, Address: r.Address.String(),
		PayerKey: r.Terms.PayerKey, PayeeKey: r.Terms.PayeeKey,
		PayerAddress: r.Terms.PayerAddress.String(), PayeeAddress: r.Terms.PayeeAddress.String(),
		QuarantineS: int64(r.Terms.Closing.Quarantine / time.Second), CodeLibrary: r.Terms.CodeLibrary,
		Phase: r.Phase, Voucher: r.Voucher, PayeeState: r.PayeeState, Deposit: r.Deposit, Withdrawn: r.Withdrawn, ClosingSince: r.ClosingSince, Updated: r.Updated,
		Accepted: r.Accepted, Source: r.Source, Failure: r.Failure,
	})
}

// UnmarshalJSON reads what MarshalJSON wrote.
func (r *Record) UnmarshalJSON(b []byte) error {
	var j recordJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	parse := func(s string) (*address.Address, error) {
		a, err := address.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("address %q: %w", s, err)
		}
		return a, nil
	}
	var err error
	*r = Record{Role: j.Role, Phase: j.Phase, Voucher: j.Voucher, PayeeState: j.PayeeState, Deposit: j.Deposit, Withdrawn: j.Withdrawn, ClosingSince: j.ClosingSince, Updated: j.Updated,
		Accepted: j.Accepted, Source: j.Source, Failure: j.Failure}
	r.Terms = Terms{
		ID: j.ID, PayerKey: ed25519.PublicKey(j.PayerKey), PayeeKey: ed25519.PublicKey(j.PayeeKey),
		Closing: Closing{Quarantine: time.Duration(j.QuarantineS) * time.Second}, CodeLibrary: j.CodeLibrary,
	}
	if r.Address, err = parse(j.Address); err != nil {
		return err
	}
	if r.Terms.PayerAddress, err = parse(j.PayerAddress); err != nil {
		return err
	}
	if r.Terms.PayeeAddress, err = parse(j.PayeeAddress); err != nil {
		return err
	}
	if r.Deposit == nil {
		r.Deposit = new(big.Int)
	}
	if r.Withdrawn == nil {
		r.Withdrawn = new(big.Int)
	}
	return nil
}

// ID is the text form of an id in JSON.
func (id ID) MarshalText() ([]byte, error) { return []byte(id.String()), nil }

// UnmarshalText reads a hex id.
func (id *ID) UnmarshalText(b []byte) error {
	v, err := ParseID(string(b))
	*id = v
	return err
}

var bucketChannels = []byte("channels")

// Store keeps channel records in a bbolt file. Every Put is durable
// (fsynced) before it returns; PutBehind returns at once and its record
// is written, with every other one put behind meanwhile, in one
// transaction moments later (group commit). Get and List see both.
type Store struct {
	db *bolt.DB

	// writeMu orders the writes of Put, Delete and the writer, so that an
	// older record written behind never lands after a newer durable one.
	writeMu sync.Mutex
	mu      sync.Mutex
	pending map[ID][]byte // encoded records put behind, not on disk yet
	wake    chan struct{} // buffered 1
	stop    chan struct{}
	done    chan struct{}
	logMu   sync.Mutex
	log     func(error) // told when a write behind fails (it is retried)
}

// OnWriteError sets what is told when writing records put behind fails
// (they stay pending and the next write retries them).
func (s *Store) OnWriteError(f func(error)) {
	s.logMu.Lock()
	s.log = f
	s.logMu.Unlock()
}

// ErrUnknownChannel is wrapped when a channel has no record.
var ErrUnknownChannel = errors.New("unknown channel")

// OpenStore opens (or creates) dir/channels.db.
func OpenStore(dir string) (*Store, error) {
	db, err := boltdb.Open(dir, "channels.db", "another process with this channel store", bucketChannels)
	if err != nil {
		return nil, err
	}
	s := &Store{db: db, pending: map[ID][]byte{}, wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	go s.writeBehind()
	return s, nil
}

// Close writes what was put behind and closes the file.
func (s *Store) Close() error {
	select {
	case <-s.stop:
	default:
		close(s.stop)
	}
	<-s.done
	return errors.Join(s.Flush(), s.db.Close())
}

// writeBehind writes the records put behind, all that arrived while the
// previous write ran in the next one.
func (s *Store) writeBehind() {
	defer close(s.done)
	for {
		select {
		case <-s.wake:
		case <-s.stop:
			return
		}
		if err := s.Flush(); err != nil {
			s.logMu.Lock()
			if s.log != nil {
				s.log(err)
			}
			s.logMu.Unlock()
		}
	}
}

// Flush writes the records put behind now. They stay visible in pending
// until their write commits: a Get meanwhile must not read an older record
// from the file.
func (s *Store) Flush() error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	s.mu.Lock()
	batch := maps.Clone(s.pending)
	s.mu.Unlock()
	if len(batch) == 0 {
		return nil
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketChannels)
		for id, v := range batch {
			if err := b.Put(id[:], v); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("writing %d channel records: %w", len(batch), err)
	}
	s.settled(batch)
	return nil
}

// settled drops from pending what is now on disk, unless a newer record
// was put behind meanwhile.
func (s *Store) settled(written map[ID][]byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, v := range written {
		if p, ok := s.pending[id]; ok && bytes.Equal(p, v) {
			delete(s.pending, id)
		}
	}
}

func decodeRecord(id []byte, v []byte) (*Record, error) {
	r := new(Record)
	if err := json.Unmarshal(v, r); err != nil {
		return nil, fmt.Errorf("decoding the record of channel %x: %w", id, err)
	}
	return r, nil
}

// Get returns the record of channel id.
func (s *Store) Get(id ID) (*Record, error) {
	s.mu.Lock()
	v, ok := s.pending[id]
	s.mu.Unlock()
	if ok {
		return decodeRecord(id[:], v)
	}
	var r *Record
	err := s.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketChannels).Get(id[:])
		if v == nil {
			return fmt.Errorf("channel %s: %w", id, ErrUnknownChannel)
		}
		var err error
		r, err = decodeRecord(id[:], v)
		return err
	})
	return r, err
}

func encodeRecord(r *Record) ([]byte, error) {
	r.Updated = time.Now().UTC()
	v, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("encoding the record of channel %s: %w", r.Terms.ID, err)
	}
	return v, nil
}

// Put writes the record (replacing any earlier one) and returns once it is
// on disk.
func (s *Store) Put(r *Record) error {
	v, err := encodeRecord(r)
	if err != nil {
		return err
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	// Visible at once, as a record put behind would be; gone from pending
	// once on disk.
	s.mu.Lock()
	prev, hadPrev := s.pending[r.Terms.ID]
	s.pending[r.Terms.ID] = v
	s.mu.Unlock()
	if err := s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketChannels).Put(r.Terms.ID[:], v)
	}); err != nil {
		// Not stored: what was visible before stays so.
		s.mu.Lock()
		if p, ok := s.pending[r.Terms.ID]; ok && bytes.Equal(p, v) {
			if hadPrev {
				s.pending[r.Terms.ID] = prev
			} else {
				delete(s.pending, r.Terms.ID)
			}
		}
		s.mu.Unlock()
		return fmt.Errorf("storing the record of channel %s: %w", r.Terms.ID, err)
	}
	s.settled(map[ID][]byte{r.Terms.ID: v})
	return nil
}

// PutBehind replaces the record at once for Get and List and writes it to
// disk moments later, in one transaction with the others put meanwhile.
// A crash of the process can lose the last few milliseconds of them: the
// payer's vouchers (Payer.SignVoucher), which a payer recovers from its
// payee (Payer.Adopt) or signs again.
func (s *Store) PutBehind(r *Record) error {
	v, err := encodeRecord(r)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.pending[r.Terms.ID] = v
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
	return nil
}

// Delete removes the record of channel id (terms that were never funded).
func (s *Store) Delete(id ID) error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	s.mu.Lock()
	delete(s.pending, id)
	s.mu.Unlock()
	if err := s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketChannels).Delete(id[:])
	}); err != nil {
		return fmt.Errorf("deleting the record of channel %s: %w", id, err)
	}
	return nil
}

// List returns every record.
func (s *Store) List() ([]*Record, error) {
	s.mu.Lock()
	pending := maps.Clone(s.pending)
	s.mu.Unlock()
	var out []*Record
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketChannels).ForEach(func(k, v []byte) error {
			if len(k) == len(ID{}) {
				if p, ok := pending[ID(k)]; ok {
					v = p
					delete(pending, ID(k))
				}
			}
			r, err := decodeRecord(k, v)
			if err == nil {
				out = append(out, r)
			}
			return err
		})
	})
	for id, v := range pending { // new records not on disk yet
		r, derr := decodeRecord(id[:], v)
		if derr != nil {
			return nil, derr
		}
		out = append(out, r)
	}
	return out, err
}
