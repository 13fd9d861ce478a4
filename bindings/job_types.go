package bindings

import (
	"math/big"

	"github.com/xssnick/tonutils-go/address"
	"github.com/xssnick/tonutils-go/tvm/cell"
)

// JobTerms are what a client offers a worker for one job. On the wire the
// last four fields (from ClientHPKEKey on) live in a referenced cell, the
// contracts' JobTermsTail, because all terms exceed one cell's 1023 bits.
type JobTerms struct {
	ModelID       [32]byte
	Worker        *address.Address
	PriceIn       *big.Int // nanoton per 1M input tokens
	PriceOut      *big.Int // nanoton per 1M output tokens
	MaxIn         uint32
	MaxOut        uint32
	Deadline      uint32   // unix time
	ClientHPKEKey [32]byte // seal.Commitment of the client's per-job key: the result is sealed to it
	RequestHash   [32]byte // sha256 of the request ciphertext
	Callback      *address.Address
	IsPublic      bool
}

// ToCell serialises the terms.
func (t JobTerms) ToCell() (*cell.Cell, error) {
	w := newWriter()
	w.u256(t.ModelID)
	w.addr(t.Worker, "worker")
	w.coins(t.PriceIn)
	w.coins(t.PriceOut)
	w.uint(uint64(t.MaxIn), 32)
	w.uint(uint64(t.MaxOut), 32)
	w.uint(uint64(t.Deadline), 32)
	tail := newWriter()
	tail.u256(t.ClientHPKEKey)
	tail.u256(t.RequestHash)
	tail.optAddr(t.Callback, "callback")
	tail.bool(t.IsPublic)
	tc, err := tail.end("JobTermsTail")
	if err != nil {
		return nil, err
	}
	w.ref(tc, "tail")
	return w.end("JobTerms")
}

// ParseJobTerms reads a JobTerms cell.
func ParseJobTerms(c *cell.Cell) (*JobTerms, error) {
	r := newReader(c)
	t := &JobTerms{
		ModelID:  r.u256(),
		Worker:   r.addr("worker"),
		PriceIn:  r.coins(),
		PriceOut: r.coins(),
		MaxIn:    uint32(r.uint(32)),
		MaxOut:   uint32(r.uint(32)),
		Deadline: uint32(r.uint(32)),
	}
	tc := r.ref("tail")
	if err := r.end("JobTerms"); err != nil {
		return nil, err
	}
	tr := newReader(tc)
	t.ClientHPKEKey, t.RequestHash = tr.u256(), tr.u256()
	t.Callback, t.IsPublic = tr.optAddr("callback"), tr.bool()
	if err := tr.end("JobTermsTail"); err != nil {
		return nil, err
	}
	return t, nil
}

// JobState is the state of a created Job.
type JobState struct {
	Terms     JobTerms
	Request   *cell.Cell // inline request ciphertext (snake bytes), when small
	WorkerKey [32]byte   // set by Accept
	FeeBps    uint16     // set by Accept
	Treasury  *address.Address
	CreatedAt uint32
	OfferID   uint64 // the JobCreate transaction's logical time; Accept and Decline must echo it
}

// ToCell serialises the state.
func (s JobState) ToCell() (*cell.Cell, error) {
	w := newWriter()
	w.child(s.Terms, "terms")
	w.maybeRef(s.Request)
	w.u256(s.WorkerKey)
	w.uint(uint64(s.FeeBps), 16)
	w.optAddr(s.Treasury, "treasury")
	w.uint(uint64(s.CreatedAt), 32)
	w.uint(s.OfferID, 64)
	return w.end("JobState")
}

// ParseJobState reads a JobState cell.
func ParseJobState(c *cell.Cell) (*JobState, error) {
	r := newReader(c)
	tc := r.ref("terms")
	s := &JobState{
		Request:   r.maybeRef("request"),
		WorkerKey: r.u256(),
		FeeBps:    uint16(r.uint(16)),
		Treasury:  r.optAddr("treasury"),
		CreatedAt: uint32(r.uint(32)),
		OfferID:   r.uint(64),
	}
	if err := r.end("JobState"); err != nil {
		return nil, err
	}
	t, err := ParseJobTerms(tc)
	if err != nil {
		return nil, err
	}
	s.Terms = *t
	return s, nil
}

// JobStorage is a Job's data. Its initial form (status none, no state)
// determines the Job's address.
type JobStorage struct {
	Root   *address.Address
	Client *address.Address
	Nonce  uint64
	Status JobStatus
	State  *JobState
}

// ToCell serialises the Job's data.
func (s JobStorage) ToCell() (*cell.Cell, error) {
	w := newWriter()
	w.addr(s.Root, "root")
	w.addr(s.Client, "client")
	w.uint(s.Nonce, 64)
	w.uint(uint64(s.Status), 8)
	if err := maybeChild(w, s.State); err != nil {
		return nil, err
	}
	return w.end("JobStorage")
}

// ParseJobStorage reads a Job's data cell.
func ParseJobStorage(c *cell.Cell) (*JobStorage, error) {
	r := newReader(c)
	s := &JobStorage{Root: r.addr("root"), Client: r.addr("client"), Nonce: r.uint(64), Status: JobStatus(r.uint(8))}
	sc := r.maybeRef("state")
	if err := r.end("JobStorage"); err != nil {
		return nil, err
	}
	var err error
	s.State, err = parseMaybe(sc, ParseJobState, "JobStorage state")
	if err != nil {
		return nil, err
	}
	return s, nil
}
