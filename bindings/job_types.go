package bindings

import (
	"math/big"

	"github.com/xssnick/tonutils-go/address"
	"github.com/xssnick/tonutils-go/tvm/cell"
)

// JobTerms are what a client offers a worker for one job. On the wire the
// last four fields (from ClientHPKEKey on) live in a referenced cell, the
// contracts' JobTermsTail, because all terms exceed one cell's 1023 bits;
// the tailCell marker says so, and the Go type stays flat.
type JobTerms struct {
	ModelID       [32]byte         `tlb:"bits 256"`
	Worker        *address.Address `tlb:"addr"`
	PriceIn       *big.Int         `tlb:"var uint 16"` // nanoton per 1M input tokens
	PriceOut      *big.Int         `tlb:"var uint 16"` // nanoton per 1M output tokens
	MaxIn         uint32           `tlb:"## 32"`
	MaxOut        uint32           `tlb:"## 32"`
	Deadline      uint32           `tlb:"## 32"` // unix time
	_             tailCell
	ClientHPKEKey [32]byte         `tlb:"bits 256"` // seal.Commitment of the client's per-job key: the result is sealed to it
	RequestHash   [32]byte         `tlb:"bits 256"` // sha256 of the request ciphertext
	Callback      *address.Address `tlb:"addr" tolk:"address?"`
	IsPublic      bool             `tlb:"bool"`
}

// JobState is the state of a created Job.
type JobState struct {
	Terms     JobTerms         `tlb:"^"`
	Request   *cell.Cell       `tlb:"maybe ^"`  // inline request ciphertext (snake bytes), when small
	WorkerKey [32]byte         `tlb:"bits 256"` // set by Accept
	FeeBps    uint16           `tlb:"## 16"`    // set by Accept
	Treasury  *address.Address `tlb:"addr" tolk:"address?"`
	CreatedAt uint32           `tlb:"## 32"`
	OfferID   uint64           `tlb:"## 64"` // the JobCreate transaction's logical time; Accept and Decline must echo it
}

// JobStorage is a Job's data. Its initial form (status none, no state)
// determines the Job's address.
type JobStorage struct {
	Root   *address.Address `tlb:"addr"`
	Client *address.Address `tlb:"addr"`
	Nonce  uint64           `tlb:"## 64"`
	Status JobStatus        `tlb:"## 8"`
	State  *JobState        `tlb:"maybe ^"`
}
