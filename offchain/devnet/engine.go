// Package devnet is an emulated single-node TON chain on the real TVM: every
// transaction runs in TON's own transaction emulator (libemulator) under a
// real mainnet config, so gas, fees, storage, bounces and signature checks are
// mainnet's. It keeps accounts and history in an embedded store, produces
// blocks on a timer or on demand, and implements chain.Network in-process.
package devnet

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/big"
	"sync"
	"time"

	"github.com/xssnick/tonutils-go/address"
	"github.com/xssnick/tonutils-go/tlb"
	"github.com/xssnick/tonutils-go/tvm/cell"

	"github.com/cocoon-network/cocoon/offchain/chain"
	"github.com/cocoon-network/cocoon/offchain/devnet/emulator"
	"github.com/cocoon-network/cocoon/offchain/devnet/netconfig"
)

// MaxTxsPerBlock bounds one block's work; messages beyond it wait for the next block.
const MaxTxsPerBlock = 20000

// genesisSupply is what the faucet wallet is minted with: 1e9 TON.
const genesisSupply = 1_000_000_000 * 1_000_000_000

var errNoTx = errors.New("no such transaction")

// Options configure an Engine.
type Options struct {
	// Dir holds the chain's database; it is created when missing.
	Dir string
	// Clock gives wall time; nil means time.Now. Tests pass a fixed clock
	// and move time only with AdvanceTime.
	Clock func() time.Time
	// Logger receives one line per block with transactions; nil discards.
	Logger *slog.Logger
	// Config is the blockchain config; nil means the embedded mainnet config.
	Config *netconfig.Config
	// SandboxProcs is how many emulator child processes serve get-methods
	// and message checks at once; 0 means emulator.DefaultMaxProcs.
	SandboxProcs int
}

// FixedClock returns a clock that always says t: time moves only through
// Engine.AdvanceTime, which makes tests deterministic.
func FixedClock(t time.Time) func() time.Time { return func() time.Time { return t } }

// queued is a message waiting to be delivered.
type queued struct {
	b64      string
	dest     acctKey
	external bool
	cell     *cell.Cell
}

// faucetReq is a pending faucet transfer.
type faucetReq struct {
	to     *address.Address
	amount *big.Int
	done   chan faucetResult
}

type faucetResult struct {
	tx  *chain.Transaction
	err error
}

// Engine is the devnet chain.
type Engine struct {
	log   *slog.Logger
	clock func() time.Time
	cfg   *netconfig.Config
	// sandbox runs every emulator call whose input comes from outside
	// (get-methods, and external messages and fee estimates before they
	// are accepted) in child processes: an abort in libemulator costs that
	// call, not the chain. Block production runs in-process on txEmu,
	// only on messages that passed the sandbox (docs/DEVNET.md).
	sandbox *emulator.Sandbox
	store   *store
	global  int32

	genesisKey  ed25519.PrivateKey
	genesisAddr *address.Address

	mu       sync.Mutex // guards everything below and the tx emulator
	txEmu    *emulator.TxEmulator
	head     head
	accounts map[acctKey]string // ShardAccount BOCs, base64
	queue    []queued
	faucet   []faucetReq
	libs     map[string]*cell.Cell // public libraries by code hash
	libsB64  string                // their dictionary, as the emulators take it
	newBlock chan struct{}
	closed   bool
	stats    Stats // counts since Open
}

// Stats is what the engine has done since it was opened, and where it is.
type Stats struct {
	Blocks       uint64 // blocks produced
	Transactions uint64 // transactions in those blocks
	Dropped      uint64 // messages that made no transaction
	Seqno        uint32 // last block
	Time         uint32 // last block's time
	Queued       int    // messages waiting for a block
	Libraries    int    // public libraries
	// EmulatorCrashes counts emulator child processes that died on an
	// input (each cost one request; the chain went on).
	EmulatorCrashes uint64
}

// Stats reports counts since Open and the chain's position.
func (e *Engine) Stats() Stats {
	e.mu.Lock()
	defer e.mu.Unlock()
	st := e.stats
	st.Seqno, st.Time = e.head.Seqno, e.head.Time
	st.Queued, st.Libraries = len(e.queue), len(e.libs)
	st.EmulatorCrashes = e.sandbox.Stats().Crashes
	return st
}

var _ chain.Network = (*Engine)(nil)

// Open opens (or creates, with a funded faucet wallet) the devnet in opts.Dir.
func Open(ctx context.Context, opts Options) (*Engine, error) {
	if opts.Dir == "" {
		return nil, errors.New("devnet: a data directory is required")
	}
	cfg := opts.Config
	if cfg == nil {
		var err error
		if cfg, err = netconfig.Mainnet(); err != nil {
			return nil, err
		}
	}
	global, err := cfg.GlobalID()
	if err != nil {
		return nil, err
	}
	e := &Engine{
		log:      opts.Logger,
		clock:    opts.Clock,
		cfg:      cfg,
		global:   global,
		newBlock: make(chan struct{}),
	}
	if e.log == nil {
		e.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if e.clock == nil {
		e.clock = time.Now
	}
	if e.txEmu, err = emulator.NewTxEmulator(cfg.Base64()); err != nil {
		return nil, err
	}
	if e.sandbox, err = emulator.NewSandbox(cfg.Base64(), opts.SandboxProcs); err != nil {
		e.txEmu.Close()
		return nil, err
	}
	if e.store, err = openStore(opts.Dir); err != nil {
		e.closeEmulators()
		return nil, err
	}
	h, accounts, queue, err := e.store.load()
	if err != nil {
		e.Close()
		return nil, err
	}
	e.accounts = accounts
	if err := e.loadLibraries(); err != nil {
		e.Close()
		return nil, fmt.Errorf("devnet: %w", err)
	}
	for _, raw := range queue {
		q, err := queuedFromBOC(raw)
		if err != nil {
			e.Close()
			return nil, fmt.Errorf("devnet: stored message queue: %w", err)
		}
		e.queue = append(e.queue, q)
	}
	if h == nil {
		if err := e.genesis(ctx); err != nil {
			e.Close()
			return nil, fmt.Errorf("devnet: creating genesis: %w", err)
		}
	} else {
		e.head = *h
		if err := e.loadGenesisKey(); err != nil {
			e.Close()
			return nil, err
		}
	}
	return e, nil
}

func (e *Engine) closeEmulators() {
	e.txEmu.Close()
	if e.sandbox != nil {
		e.sandbox.Close()
	}
}

// Close stops the engine and closes its store. Pending faucet requests fail.
func (e *Engine) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil
	}
	e.closed = true
	for _, f := range e.faucet {
		f.done <- faucetResult{err: errors.New("devnet closed")}
	}
	e.faucet = nil
	e.closeEmulators()
	return e.store.close()
}

func queuedFromBOC(raw []byte) (queued, error) {
	c, err := cell.FromBOC(raw)
	if err != nil {
		return queued{}, err
	}
	dest, ext, err := inboundDest(c)
	if err != nil {
		return queued{}, err
	}
	return queued{b64: base64.StdEncoding.EncodeToString(raw), dest: dest, external: ext, cell: c}, nil
}

func (e *Engine) loadGenesisKey() error {
	if len(e.head.GenesisSeed) != ed25519.SeedSize {
		return errors.New("devnet: stored genesis key is missing or corrupt")
	}
	e.genesisKey = ed25519.NewKeyFromSeed(e.head.GenesisSeed)
	si, err := genesisStateInit(e.genesisKey.Public().(ed25519.PublicKey), e.global)
	if err != nil {
		return err
	}
	e.genesisAddr, err = stateInitAddress(si)
	return err
}

// genesis creates the faucet wallet by minting its supply into it with a
// deploying internal message, run through the emulator like any other.
func (e *Engine) genesis(ctx context.Context) error {
	seed := make([]byte, ed25519.SeedSize)
	if _, err := rand.Read(seed); err != nil {
		return err
	}
	e.head = head{Seqno: 0, Time: uint32(e.clock().Unix()), NextLT: 1_000_000, GenesisSeed: seed}
	if err := e.loadGenesisKey(); err != nil {
		return err
	}
	si, err := genesisStateInit(e.genesisKey.Public().(ed25519.PublicKey), e.global)
	if err != nil {
		return err
	}
	mint := &tlb.InternalMessage{
		IHRDisabled: true,
		SrcAddr:     address.NewAddress(0, 0xff, make([]byte, 32)),
		DstAddr:     e.genesisAddr,
		Amount:      tlb.FromNanoTONU(genesisSupply),
		StateInit:   si,
		Body:        cell.BeginCell().EndCell(),
	}
	mc, err := tlb.ToCell(mint)
	if err != nil {
		return err
	}
	k, _ := keyOf(e.genesisAddr)
	e.mu.Lock()
	defer e.mu.Unlock()
	e.queue = append(e.queue, queued{b64: base64.StdEncoding.EncodeToString(mc.ToBOC()), dest: k, cell: mc})
	if _, err := e.produceLocked(); err != nil {
		return err
	}
	acc, err := decodeAccount(e.genesisAddr, e.accounts[k])
	if err != nil {
		return err
	}
	if acc.Status != chain.StatusActive {
		return fmt.Errorf("faucet wallet is %s after genesis", acc.Status)
	}
	e.log.Info("devnet genesis", "faucet", e.genesisAddr.String(), "supply_ton", "1000000000")
	return nil
}

// GenesisAddress is the faucet wallet's address.
func (e *Engine) GenesisAddress() *address.Address { return e.genesisAddr }

// now is the devnet's current time: the wall clock moved by AdvanceTime,
// never before the last block, and never past what 32 bits carry (chain
// time that wrapped would freeze at the last block's time for good).
func (e *Engine) nowLocked() uint32 {
	t := min(max(e.clock().Unix()+e.head.OffsetSec, 0), math.MaxUint32)
	return max(uint32(t), e.head.Time)
}

// ErrTimeRange is returned by AdvanceTime for a move the chain's 32-bit
// time cannot carry.
var ErrTimeRange = errors.New("devnet time out of range")

// AdvanceTime moves the devnet clock forward by d; the next block carries
// the new time. A move past 2106-02-07 (the end of 32-bit Unix time) is
// refused with ErrTimeRange.
func (e *Engine) AdvanceTime(d time.Duration) error {
	if d < 0 {
		return fmt.Errorf("%w: devnet time cannot go backwards", ErrTimeRange)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	sec := int64(d / time.Second)
	if at := e.clock().Unix() + e.head.OffsetSec; at+sec > math.MaxUint32 {
		return fmt.Errorf("%w: moving %d s from %d passes %d, the last second chain time can carry", ErrTimeRange, sec, at, uint32(math.MaxUint32))
	}
	e.head.OffsetSec += sec
	return nil
}

// Blocks returns a channel that is closed when the next block is committed.
func (e *Engine) Blocks() <-chan struct{} {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.newBlock
}

// ProduceBlock delivers the pending messages (and those they cause, up to
// MaxTxsPerBlock transactions) in one block, and commits it atomically.
func (e *Engine) ProduceBlock(ctx context.Context) (*BlockInfo, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil, errors.New("devnet closed")
	}
	return e.produceLocked()
}

// Settle produces blocks until no message is pending (at most max blocks).
func (e *Engine) Settle(ctx context.Context, max int) error {
	for i := 0; i < max; i++ {
		if _, err := e.ProduceBlock(ctx); err != nil {
			return err
		}
		e.mu.Lock()
		idle := len(e.queue) == 0 && len(e.faucet) == 0
		e.mu.Unlock()
		if idle {
			return nil
		}
	}
	return fmt.Errorf("devnet: messages still pending after %d blocks", max)
}

// Run produces a block every interval until ctx ends.
func (e *Engine) Run(ctx context.Context, interval time.Duration) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if _, err := e.ProduceBlock(ctx); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return err
			}
		}
	}
}

func (e *Engine) blockSeed(seqno uint32) [32]byte {
	var b [8]byte
	binary.BigEndian.PutUint32(b[:4], seqno)
	return sha256.Sum256(append([]byte("cocoon devnet block "), b[:]...))
}

func (e *Engine) produceLocked() (*BlockInfo, error) {
	h := e.head
	h.Seqno++
	h.Time = e.nowLocked()
	if err := e.txEmu.SetUnixtime(h.Time); err != nil {
		return nil, err
	}
	if err := e.txEmu.SetRandSeed(e.blockSeed(h.Seqno)); err != nil {
		return nil, err
	}
	queue := e.queue
	faucet := e.faucet
	if len(faucet) > maxFaucetBatch {
		faucet = faucet[:maxFaucetBatch]
	}
	waiters := map[string]int{} // out message hash → faucet request index
	var faucetTx *chain.Transaction
	if len(faucet) > 0 {
		q, err := e.faucetMessage(faucet, h.Time)
		if err != nil {
			for _, f := range faucet {
				f.done <- faucetResult{err: err}
			}
			faucet = nil
		} else {
			queue = append([]queued{q}, queue...)
		}
	}
	changed := map[acctKey]string{}
	var txs []storedTx
	block := &BlockInfo{Seqno: h.Seqno, Time: h.Time, StartLT: h.NextLT}
	results := make([]*chain.Transaction, len(faucet))
	for len(queue) > 0 && len(txs) < MaxTxsPerBlock {
		m := queue[0]
		queue = queue[1:]
		shard, ok := changed[m.dest]
		if !ok {
			if shard, ok = e.accounts[m.dest]; !ok {
				shard = emptyShardAccount
			}
		}
		if err := e.txEmu.SetLT(h.NextLT); err != nil {
			return nil, err
		}
		res, err := e.txEmu.Emulate(shard, m.b64)
		if err != nil {
			return nil, fmt.Errorf("block %d: %w", h.Seqno, err)
		}
		if !res.Success {
			// An external message the contract no longer accepts is dropped, as
			// a validator would; an internal one cannot be refused this way.
			lvl := slog.LevelInfo
			if !m.external {
				lvl = slog.LevelError
			}
			code := -1
			if res.ExitCode != nil {
				code = *res.ExitCode
			}
			e.stats.Dropped++
			e.log.Log(context.Background(), lvl, "message dropped", "to", m.dest.address().String(), "external", m.external, "exit_code", code, "error", res.Error)
			continue
		}
		txBOC, err := base64.StdEncoding.DecodeString(res.Transaction)
		if err != nil {
			return nil, err
		}
		txCell, err := cell.FromBOC(txBOC)
		if err != nil {
			return nil, fmt.Errorf("block %d: decoding emulated transaction: %w", h.Seqno, err)
		}
		sum, err := summarizeTx(txCell)
		if err != nil {
			return nil, fmt.Errorf("block %d: %w", h.Seqno, err)
		}
		changed[m.dest] = res.ShardAccount
		txs = append(txs, storedTx{key: m.dest, lt: sum.lt, hash: sum.hash, boc: txBOC})
		next := sum.lt + 1
		for _, o := range sum.out {
			if o.createdLT >= next {
				next = o.createdLT + 1
			}
			if !o.internal {
				continue
			}
			queue = append(queue, queued{b64: base64.StdEncoding.EncodeToString(o.cell.ToBOC()), dest: o.dest, cell: o.cell})
		}
		h.NextLT = next
		if len(faucet) > 0 {
			if faucetTx == nil && m.dest == keyMust(e.genesisAddr) {
				faucetTx = &chain.Transaction{Account: e.genesisAddr, ID: chain.TxID{LT: sum.lt, Hash: sum.hash}}
				for i, o := range sum.out {
					if i < len(faucet) {
						waiters[string(o.cell.Hash())] = i
					}
				}
			} else if len(waiters) > 0 && !m.external {
				if i, ok := waiters[string(m.cell.Hash())]; ok {
					results[i] = &chain.Transaction{Account: m.dest.address(), ID: chain.TxID{LT: sum.lt, Hash: sum.hash}, Now: h.Time, BOC: txBOC}
					delete(waiters, string(m.cell.Hash()))
				}
			}
		}
	}
	block.Txs = len(txs)
	block.EndLT = h.NextLT
	var rest [][]byte
	for _, q := range queue {
		raw, _ := base64.StdEncoding.DecodeString(q.b64)
		rest = append(rest, raw)
	}
	if err := e.store.commit(&blockWrite{head: h, block: block, accounts: changed, txs: txs, queue: rest}); err != nil {
		return nil, fmt.Errorf("committing block %d: %w", h.Seqno, err)
	}
	e.head = h
	e.stats.Blocks++
	e.stats.Transactions += uint64(len(txs))
	for k, v := range changed {
		e.accounts[k] = v
	}
	e.queue = queue
	e.faucet = e.faucet[len(faucet):]
	for i, f := range faucet {
		switch {
		case results[i] != nil:
			f.done <- faucetResult{tx: results[i]}
		case faucetTx == nil:
			f.done <- faucetResult{err: errors.New("the faucet wallet did not accept its transfer")}
		default:
			f.done <- faucetResult{err: fmt.Errorf("faucet transfer to %s was not delivered in block %d", f.to, h.Seqno)}
		}
	}
	close(e.newBlock)
	e.newBlock = make(chan struct{})
	// An empty block every interval says nothing at info level (issue 23).
	lvl := slog.LevelInfo
	if block.Txs == 0 {
		lvl = slog.LevelDebug
	}
	e.log.Log(context.Background(), lvl, "block", "seqno", block.Seqno, "txs", block.Txs, "time", block.Time)
	return block, nil
}

func keyMust(a *address.Address) acctKey {
	k, _ := keyOf(a)
	return k
}
