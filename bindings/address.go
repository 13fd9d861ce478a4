package bindings

import (
	"crypto/ed25519"
	"fmt"

	"github.com/xssnick/tonutils-go/address"
	"github.com/xssnick/tonutils-go/tlb"
	"github.com/xssnick/tonutils-go/tvm/cell"

	"github.com/cocoon-network/cocoon/contracts"
)

// Codes are the compiled codes of the three contracts.
type Codes struct {
	Root   *cell.Cell
	Worker *cell.Cell
	Job    *cell.Cell
}

// EmbeddedCodes loads the codes compiled into contracts/build.
func EmbeddedCodes() (Codes, error) {
	var c Codes
	for _, x := range []struct {
		name string
		dst  **cell.Cell
	}{{"root", &c.Root}, {"worker", &c.Worker}, {"job", &c.Job}} {
		a, err := contracts.Load(x.name)
		if err != nil {
			return Codes{}, err
		}
		if *x.dst, err = a.Code(); err != nil {
			return Codes{}, err
		}
	}
	return c, nil
}

// WithJobLibrary returns the codes with the Job's code replaced by its
// public-library reference (contracts.LibraryRef): each Job's StateInit, and
// so each client's deploying message, then carries 33 bytes instead of the
// code, which cuts a job's fees by about a fifth. The Job code must be
// published as a library on the network first; the contracts derive Job
// addresses from whatever code Root holds, so nothing else changes.
func (c Codes) WithJobLibrary() Codes {
	c.Job = contracts.LibraryRef(c.Job)
	return c
}

// KnownJobCode reports whether a Job code hash (as Root's
// child_code_hashes() gives it) is this build's Job code, inline or as its
// public-library reference. Workers and clients pin it: they register or
// deploy jobs only under a Job code they know.
func KnownJobCode(hash [32]byte) bool {
	c, err := EmbeddedCodes()
	if err != nil {
		return false
	}
	return [32]byte(c.Job.Hash()) == hash || [32]byte(contracts.LibraryRef(c.Job).Hash()) == hash
}

// MustEmbeddedCodes is EmbeddedCodes that panics when an artifact is
// missing or broken, which only a bad commit can cause.
func MustEmbeddedCodes() Codes {
	c, err := EmbeddedCodes()
	if err != nil {
		panic(err)
	}
	return c
}

// PublicKey256 returns an Ed25519 public key as the uint256 the contracts store.
func PublicKey256(pub ed25519.PublicKey) [32]byte {
	var k [32]byte
	if len(pub) != ed25519.PublicKeySize {
		panic(fmt.Sprintf("bindings: ed25519 public key of %d bytes", len(pub)))
	}
	copy(k[:], pub)
	return k
}

// RootStateInit is the StateInit that deploys a Root owned by owner, with
// params, no measurements or models, and the given codes.
func RootStateInit(owner *address.Address, params RootParams, codes Codes) (*tlb.StateInit, error) {
	if err := params.Validate(); err != nil {
		return nil, fmt.Errorf("root params: %w", err)
	}
	data, err := Encode(RootStorage{
		Owner:  owner,
		Params: params,
		Codes:  ChildCodes{WorkerCode: codes.Worker, JobCode: codes.Job},
	})
	if err != nil {
		return nil, fmt.Errorf("root initial data: %w", err)
	}
	if codes.Root == nil {
		return nil, fmt.Errorf("root state init: no root code")
	}
	return &tlb.StateInit{Code: codes.Root, Data: data}, nil
}

// WorkerStateInitWith is the StateInit of the Worker of (root, owner,
// workerKey) under the given worker code: status none, no state.
func WorkerStateInitWith(workerCode *cell.Cell, root, owner *address.Address, workerKey [32]byte) (*tlb.StateInit, error) {
	data, err := Encode(WorkerStorage{Root: root, Owner: owner, WorkerKey: workerKey})
	if err != nil {
		return nil, fmt.Errorf("worker initial data: %w", err)
	}
	return &tlb.StateInit{Code: workerCode, Data: data}, nil
}

// JobStateInitWith is the StateInit of the Job of (root, client, nonce)
// under the given job code: status none, no state.
func JobStateInitWith(jobCode *cell.Cell, root, client *address.Address, nonce uint64) (*tlb.StateInit, error) {
	data, err := Encode(JobStorage{Root: root, Client: client, Nonce: nonce})
	if err != nil {
		return nil, fmt.Errorf("job initial data: %w", err)
	}
	return &tlb.StateInit{Code: jobCode, Data: data}, nil
}

// WorkerStateInit is WorkerStateInitWith under the embedded worker code.
func WorkerStateInit(root, owner *address.Address, workerKey [32]byte) (*tlb.StateInit, error) {
	return WorkerStateInitWith(contracts.MustCode("worker"), root, owner, workerKey)
}

// JobStateInit is JobStateInitWith under the embedded job code.
func JobStateInit(root, client *address.Address, nonce uint64) (*tlb.StateInit, error) {
	return JobStateInitWith(contracts.MustCode("job"), root, client, nonce)
}

// WorkerAddress is the address of the Worker of (root, owner, workerKey)
// under the embedded worker code, as Root's worker_address computes it.
// It panics on an address that is not a standard one.
func WorkerAddress(root, owner *address.Address, workerKey [32]byte) *address.Address {
	si, err := WorkerStateInit(root, owner, workerKey)
	if err != nil {
		panic(err)
	}
	return StateInitAddress(si)
}

// JobAddress is the address of the Job of (root, client, nonce) under the
// embedded job code, as Root's job_address computes it. It panics on an
// address that is not a standard one.
func JobAddress(root, client *address.Address, nonce uint64) *address.Address {
	si, err := JobStateInit(root, client, nonce)
	if err != nil {
		panic(err)
	}
	return StateInitAddress(si)
}
