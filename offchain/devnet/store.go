package devnet

import (
	"encoding/binary"
	"encoding/json"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/cocoon-network/cocoon/offchain/internal/boltdb"
)

// The store keeps the whole chain in one bbolt file. Each block is committed
// in one bbolt transaction, so a crash in the middle of a block leaves the
// previous block's state.
var (
	bucketMeta     = []byte("meta")
	bucketAccounts = []byte("accounts")
	bucketTxs      = []byte("txs")
	bucketQueue    = []byte("queue")
	bucketBlocks   = []byte("blocks")
	bucketLibs     = []byte("libs")
	keyHead        = []byte("head")
)

// head is the chain's state outside accounts.
type head struct {
	Seqno uint32 `json:"seqno"`
	Time  uint32 `json:"time"`
	// NextLT is the logical time the next transaction starts at.
	NextLT uint64 `json:"next_lt"`
	// OffsetSec is how far tests moved the devnet clock ahead of the wall clock.
	OffsetSec int64 `json:"offset_sec"`
	// GenesisSeed is the Ed25519 seed of the faucet wallet (devnet only).
	GenesisSeed []byte `json:"genesis_seed"`
}

// BlockInfo describes one produced block.
type BlockInfo struct {
	Seqno   uint32 `json:"seqno"`
	Time    uint32 `json:"time"`
	Txs     int    `json:"txs"`
	StartLT uint64 `json:"start_lt"`
	EndLT   uint64 `json:"end_lt"`
}

type store struct {
	db *bolt.DB
}

func openStore(dir string) (*store, error) {
	db, err := boltdb.Open(dir, "chain.db", "another devnet", bucketMeta, bucketAccounts, bucketTxs, bucketQueue, bucketBlocks, bucketLibs)
	if err != nil {
		return nil, err
	}
	return &store{db: db}, nil
}

func (s *store) close() error { return s.db.Close() }

// load reads the head (nil for a new chain), every account and the queue.
func (s *store) load() (*head, map[acctKey]string, [][]byte, error) {
	var h *head
	accounts := map[acctKey]string{}
	var queue [][]byte
	err := s.db.View(func(tx *bolt.Tx) error {
		if raw := tx.Bucket(bucketMeta).Get(keyHead); raw != nil {
			h = new(head)
			if err := json.Unmarshal(raw, h); err != nil {
				return fmt.Errorf("decoding chain head: %w", err)
			}
		}
		err := tx.Bucket(bucketAccounts).ForEach(func(k, v []byte) error {
			if len(k) != len(acctKey{}) {
				return fmt.Errorf("bad account key %x", k)
			}
			accounts[acctKey(k)] = string(v)
			return nil
		})
		if err != nil {
			return err
		}
		return tx.Bucket(bucketQueue).ForEach(func(_, v []byte) error {
			queue = append(queue, append([]byte(nil), v...))
			return nil
		})
	})
	if err != nil {
		return nil, nil, nil, fmt.Errorf("loading devnet state: %w", err)
	}
	return h, accounts, queue, nil
}

// storedTx is one transaction as kept in history.
type storedTx struct {
	key  acctKey
	lt   uint64
	hash []byte
	boc  []byte
}

// blockWrite is everything one block changes.
type blockWrite struct {
	head     head
	block    *BlockInfo
	accounts map[acctKey]string
	txs      []storedTx
	queue    [][]byte
}

func txKey(k acctKey, lt uint64) []byte {
	b := make([]byte, len(k)+8)
	copy(b, k[:])
	binary.BigEndian.PutUint64(b[len(k):], lt)
	return b
}

func (s *store) commit(w *blockWrite) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		hb, err := json.Marshal(w.head)
		if err != nil {
			return err
		}
		if err := tx.Bucket(bucketMeta).Put(keyHead, hb); err != nil {
			return err
		}
		if w.block != nil {
			bb, err := json.Marshal(w.block)
			if err != nil {
				return err
			}
			var k [4]byte
			binary.BigEndian.PutUint32(k[:], w.block.Seqno)
			if err := tx.Bucket(bucketBlocks).Put(k[:], bb); err != nil {
				return err
			}
		}
		ab := tx.Bucket(bucketAccounts)
		for k, v := range w.accounts {
			if err := ab.Put(k[:], []byte(v)); err != nil {
				return err
			}
		}
		tb := tx.Bucket(bucketTxs)
		for _, t := range w.txs {
			v := make([]byte, 0, 32+len(t.boc))
			v = append(append(v, t.hash...), t.boc...)
			if err := tb.Put(txKey(t.key, t.lt), v); err != nil {
				return err
			}
		}
		// The queue is small (messages carried to the next block): rewrite it.
		if err := tx.DeleteBucket(bucketQueue); err != nil {
			return err
		}
		qb, err := tx.CreateBucket(bucketQueue)
		if err != nil {
			return err
		}
		for i, m := range w.queue {
			var k [8]byte
			binary.BigEndian.PutUint64(k[:], uint64(i))
			if err := qb.Put(k[:], m); err != nil {
				return err
			}
		}
		return nil
	})
}

// history returns up to limit transactions of the account, newest first,
// starting at lt fromLT inclusive (0 = the latest).
func (s *store) history(k acctKey, fromLT uint64, limit int) ([]storedTx, error) {
	var out []storedTx
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketTxs).Cursor()
		var key, val []byte
		if fromLT == 0 {
			key, val = c.Seek(txKey(k, ^uint64(0)))
			if key == nil {
				key, val = c.Last()
			} else if !hasPrefix(key, k) || binary.BigEndian.Uint64(key[33:]) != ^uint64(0) {
				key, val = c.Prev()
			}
		} else {
			key, val = c.Seek(txKey(k, fromLT))
			if key == nil || !hasPrefix(key, k) || binary.BigEndian.Uint64(key[33:]) != fromLT {
				return fmt.Errorf("transaction %d of %s: %w", fromLT, k.address(), errNoTx)
			}
		}
		for ; key != nil && hasPrefix(key, k) && len(out) < limit; key, val = c.Prev() {
			out = append(out, storedTx{
				key:  k,
				lt:   binary.BigEndian.Uint64(key[33:]),
				hash: append([]byte(nil), val[:32]...),
				boc:  append([]byte(nil), val[32:]...),
			})
		}
		return nil
	})
	return out, err
}

func hasPrefix(key []byte, k acctKey) bool {
	return len(key) == len(k)+8 && string(key[:len(k)]) == string(k[:])
}

// block returns a produced block's info.
func (s *store) block(seqno uint32) (*BlockInfo, error) {
	var b *BlockInfo
	err := s.db.View(func(tx *bolt.Tx) error {
		var k [4]byte
		binary.BigEndian.PutUint32(k[:], seqno)
		raw := tx.Bucket(bucketBlocks).Get(k[:])
		if raw == nil {
			return nil
		}
		b = new(BlockInfo)
		return json.Unmarshal(raw, b)
	})
	return b, err
}

// libraries returns every published library code BOC.
func (s *store) libraries() ([][]byte, error) {
	var out [][]byte
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketLibs).ForEach(func(_, v []byte) error {
			out = append(out, append([]byte(nil), v...))
			return nil
		})
	})
	return out, err
}

// putLibrary records a published library.
func (s *store) putLibrary(hash, boc []byte) error {
	return s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketLibs).Put(hash, boc) })
}
