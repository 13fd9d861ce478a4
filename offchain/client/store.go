package client

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/xssnick/tonutils-go/address"

	"github.com/cocoon-network/cocoon/offchain/chain"
	"github.com/cocoon-network/cocoon/offchain/internal/atomicfile"
	"github.com/cocoon-network/cocoon/offchain/seal"
)

// Job is a submitted job as the client knows it: the Job contract's
// address and terms, the worker it was offered to, and (when the job was
// submitted by this client, or loaded from its Store) the per-job private
// key that opens the result.
type Job struct {
	Address  *address.Address
	Root     *address.Address
	Client   *address.Address // the wallet that paid the escrow
	Worker   *address.Address
	Endpoint string // the worker's endpoint when the job was made
	// Attestation is the sha256 of the worker's evidence bundle when the job
	// was made: an https endpoint must present a certificate carrying it.
	Attestation     [32]byte
	Nonce           uint64
	Model           string
	RequestHash     [32]byte
	Deadline        uint32 // unix time, as the chain's clock reads it
	MaxInputTokens  uint32
	MaxOutputTokens uint32
	PriceIn         *big.Int // nanoton per 1M tokens
	PriceOut        *big.Int
	Escrow          *big.Int // nanoton sent with JobCreate
	InlineRequest   bool     // the request envelope is stored in the Job
	Insecure        bool     // the worker's attestation was dev or debuggable (test mode)
	CreatedAt       time.Time
	// Public: the prompt and the answer are on chain in clear (not private).
	Public bool

	key *seal.PrivateKey
}

// CanOpen reports whether the client can read the result: it holds the
// key that opens it, or the job is public (the result is in clear).
func (j *Job) CanOpen() bool { return j.key != nil || j.Public }

// DeadlineTime is Deadline as a time.
func (j *Job) DeadlineTime() time.Time { return time.Unix(int64(j.Deadline), 0).UTC() }

// Store keeps per-job state in a directory: for each job
// <workchain>_<hex>.json (its public parameters, mode 0600) and
// <workchain>_<hex>.key (the per-job HPKE private key, mode 0600, refused
// when others can read it). Neither holds the prompt or the answer.
type Store struct {
	Dir string
}

// jobFileVersion is the version of the JSON record.
const jobFileVersion = 1

type jobFile struct {
	Version         int       `json:"version"`
	Job             string    `json:"job"`
	Root            string    `json:"root"`
	Client          string    `json:"client"`
	Worker          string    `json:"worker"`
	Endpoint        string    `json:"endpoint"`
	Attestation     string    `json:"attestation,omitempty"`
	Nonce           uint64    `json:"nonce,string"`
	Model           string    `json:"model"`
	RequestHash     string    `json:"request_hash"`
	Deadline        uint32    `json:"deadline"`
	MaxInputTokens  uint32    `json:"max_input_tokens"`
	MaxOutputTokens uint32    `json:"max_output_tokens"`
	PriceIn         string    `json:"price_in"`
	PriceOut        string    `json:"price_out"`
	Escrow          string    `json:"escrow"`
	InlineRequest   bool      `json:"inline_request"`
	Insecure        bool      `json:"insecure_attestation,omitempty"`
	CreatedAt       time.Time `json:"created_at"`
	Public          bool      `json:"public,omitempty"`
}

// baseName is the file name stem of a job: "0_<hex>" (a raw address's
// colon is not allowed in file names everywhere).
func baseName(a *address.Address) string {
	return strconv.Itoa(int(a.Workchain())) + "_" + hex.EncodeToString(a.Data())
}

func (s *Store) paths(a *address.Address) (record, key string) {
	b := filepath.Join(s.Dir, baseName(a))
	return b + ".json", b + ".key"
}

// Save writes the job's record and key. It is called before the job is
// deployed: a job on chain whose key was never saved could not be read.
// It refuses to replace an existing job.
func (s *Store) Save(j *Job) error {
	if j.key == nil {
		return fmt.Errorf("saving job %s: no key", j.Address)
	}
	if err := os.MkdirAll(s.Dir, 0o700); err != nil {
		return fmt.Errorf("saving job %s: %w", j.Address, err)
	}
	rec, keyPath := s.paths(j.Address)
	if err := seal.SaveKey(keyPath, j.key); err != nil {
		return fmt.Errorf("saving job %s: %w", j.Address, err)
	}
	f := jobFile{
		Version:         jobFileVersion,
		Job:             j.Address.StringRaw(),
		Root:            j.Root.StringRaw(),
		Client:          j.Client.StringRaw(),
		Worker:          j.Worker.StringRaw(),
		Endpoint:        j.Endpoint,
		Attestation:     hex.EncodeToString(j.Attestation[:]),
		Nonce:           j.Nonce,
		Model:           j.Model,
		RequestHash:     hex.EncodeToString(j.RequestHash[:]),
		Deadline:        j.Deadline,
		MaxInputTokens:  j.MaxInputTokens,
		MaxOutputTokens: j.MaxOutputTokens,
		PriceIn:         j.PriceIn.String(),
		PriceOut:        j.PriceOut.String(),
		Escrow:          j.Escrow.String(),
		InlineRequest:   j.InlineRequest,
		Insecure:        j.Insecure,
		CreatedAt:       j.CreatedAt.UTC(),
		Public:          j.Public,
	}
	data, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return fmt.Errorf("saving job %s: %w", j.Address, err)
	}
	if err := atomicfile.Create(rec, append(data, '\n'), 0o600); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("saving job %s: %s exists: refusing to replace it", j.Address, rec)
		}
		return fmt.Errorf("saving job %s: %w", j.Address, err)
	}
	return nil
}

// Remove deletes a job's files; Submit uses it only for a job that was
// never sent to the chain.
func (s *Store) Remove(a *address.Address) error {
	rec, key := s.paths(a)
	var errs []error
	for _, p := range []string{rec, key} {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("removing job %s: %w", a, err)
	}
	return nil
}

// ErrUnknownJob is wrapped by Load for a job this store has no record of.
var ErrUnknownJob = errors.New("no record of this job in the client directory")

// Load reads a job's record and key.
func (s *Store) Load(a *address.Address) (*Job, error) {
	rec, keyPath := s.paths(a)
	raw, err := os.ReadFile(rec)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("loading job %s from %s: %w", a, s.Dir, ErrUnknownJob)
	}
	if err != nil {
		return nil, fmt.Errorf("loading job %s: %w", a, err)
	}
	var f jobFile
	if err := json.Unmarshal(raw, &f); err != nil {
		return nil, fmt.Errorf("loading job %s: %s: %w", a, rec, err)
	}
	if f.Version != jobFileVersion {
		return nil, fmt.Errorf("loading job %s: %s has version %d, this build reads %d", a, rec, f.Version, jobFileVersion)
	}
	j, err := f.job()
	if err != nil {
		return nil, fmt.Errorf("loading job %s: %s: %w", a, rec, err)
	}
	if !j.Address.Equals(a) {
		return nil, fmt.Errorf("loading job %s: %s describes job %s", a, rec, j.Address)
	}
	// Without its key a job can still be followed and refunded; only its
	// result stays closed (Status says so). A key file others can read is
	// refused, though: it may have been copied.
	if _, err := os.Stat(keyPath); errors.Is(err, fs.ErrNotExist) {
		return j, nil
	}
	if j.key, err = seal.LoadKey(keyPath); err != nil {
		return nil, fmt.Errorf("loading job %s: %w", a, err)
	}
	return j, nil
}

func (f *jobFile) job() (*Job, error) {
	j := &Job{
		Endpoint: f.Endpoint, Nonce: f.Nonce, Model: f.Model, Deadline: f.Deadline,
		MaxInputTokens: f.MaxInputTokens, MaxOutputTokens: f.MaxOutputTokens,
		InlineRequest: f.InlineRequest, Insecure: f.Insecure, CreatedAt: f.CreatedAt, Public: f.Public,
	}
	for _, x := range []struct {
		name string
		s    string
		dst  **address.Address
	}{{"job", f.Job, &j.Address}, {"root", f.Root, &j.Root}, {"client", f.Client, &j.Client}, {"worker", f.Worker, &j.Worker}} {
		a, err := chain.ParseAddress(x.s)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", x.name, err)
		}
		*x.dst = a
	}
	h, err := hex.DecodeString(f.RequestHash)
	if err != nil || len(h) != 32 {
		return nil, fmt.Errorf("request_hash %q is not 32 hex bytes", f.RequestHash)
	}
	j.RequestHash = [32]byte(h)
	if f.Attestation != "" {
		a, err := hex.DecodeString(f.Attestation)
		if err != nil || len(a) != 32 {
			return nil, fmt.Errorf("attestation %q is not 32 hex bytes", f.Attestation)
		}
		j.Attestation = [32]byte(a)
	}
	for _, x := range []struct {
		name string
		s    string
		dst  **big.Int
	}{{"price_in", f.PriceIn, &j.PriceIn}, {"price_out", f.PriceOut, &j.PriceOut}, {"escrow", f.Escrow, &j.Escrow}} {
		v, ok := new(big.Int).SetString(x.s, 10)
		if !ok || v.Sign() < 0 {
			return nil, fmt.Errorf("%s %q is not a nanoton amount", x.name, x.s)
		}
		*x.dst = v
	}
	return j, nil
}
