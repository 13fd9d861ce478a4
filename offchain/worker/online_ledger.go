package worker

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/big"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/cocoon-network/cocoon/offchain/internal/boltdb"
	"github.com/cocoon-network/cocoon/offchain/onlineproto"
)

// LedgerStore keeps the online payers' accounts (what the worker charged
// each payer and what its vouchers paid, as of the last charge) in the
// worker's state directory, so that a restart resumes every account where
// it was: the credit bound holds across restarts (docs/GATEWAY.md). The
// vouchers themselves are kept by the payment scheme (the channel store).
type LedgerStore struct {
	db *bolt.DB
}

var (
	ledgerBucket  = []byte("accounts")
	receiptBucket = []byte("receipts") // key: 8-byte big-endian time (ns) · receiptKey
)

// storedReceipt is a receipt kept in the store beside the account it
// charged (Ledger.ChargeSigned).
type storedReceipt struct {
	Key   string                   `json:"key"`
	At    int64                    `json:"at"` // unix ns
	Usage *onlineproto.SignedUsage `json:"usage"`
}

// ledgerFile is the store's file in the state directory.
const ledgerFile = "online.db"

// OpenLedgerStore opens (or creates) the store in dir.
func OpenLedgerStore(dir string) (*LedgerStore, error) {
	db, err := boltdb.Open(dir, ledgerFile, "another worker", ledgerBucket, receiptBucket)
	if err != nil {
		return nil, err
	}
	return &LedgerStore{db: db}, nil
}

// Close closes the store.
func (s *LedgerStore) Close() error { return s.db.Close() }

type storedAccount struct {
	Charged string `json:"charged"`
	Paid    string `json:"paid"`
}

// load reads payer's account; ok is false for a payer never charged.
func (s *LedgerStore) load(payer string) (charged, paid *big.Int, ok bool, err error) {
	var raw []byte
	err = s.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(ledgerBucket).Get([]byte(payer)); v != nil {
			raw = append([]byte(nil), v...)
		}
		return nil
	})
	if err != nil || raw == nil {
		return nil, nil, false, err
	}
	charged, paid, err = decodeAccount(raw)
	if err != nil {
		return nil, nil, false, fmt.Errorf("online account of payer %q: %w", payer, err)
	}
	return charged, paid, true, nil
}

func decodeAccount(raw []byte) (charged, paid *big.Int, err error) {
	var a storedAccount
	if err := json.Unmarshal(raw, &a); err != nil {
		return nil, nil, err
	}
	charged, ok1 := new(big.Int).SetString(a.Charged, 10)
	paid, ok2 := new(big.Int).SetString(a.Paid, 10)
	if !ok1 || !ok2 || charged.Sign() < 0 || paid.Sign() < 0 {
		return nil, nil, fmt.Errorf("bad amounts %q, %q", a.Charged, a.Paid)
	}
	return charged, paid, nil
}

type ledgerEntry struct {
	payer         string
	charged, paid *big.Int
}

// receipt finds a stored receipt by its receiptKey (a scan of the kept
// ones: the path of a payer that missed a receipt across a restart).
func (s *LedgerStore) receipt(key string) (*onlineproto.SignedUsage, bool) {
	var su *onlineproto.SignedUsage
	_ = s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(receiptBucket).Cursor()
		for k, v := c.Last(); k != nil; k, v = c.Prev() {
			if len(k) > 8 && string(k[8:]) == key {
				var r storedReceipt
				if json.Unmarshal(v, &r) == nil {
					su = r.Usage
				}
				return nil
			}
		}
		return nil
	})
	return su, su != nil
}

// saveAll stores the accounts and the receipts charged with them in one
// fsynced transaction, and drops receipts older than receiptBoxTTL. Both
// totals only grow, so a record on disk higher than an entry (a restored
// account written by an older writer) keeps its higher totals.
func (s *LedgerStore) saveAll(entries []ledgerEntry, receipts []storedReceipt) error {
	err := s.db.Update(func(tx *bolt.Tx) error {
		rb := tx.Bucket(receiptBucket)
		for _, r := range receipts {
			raw, err := json.Marshal(r)
			if err != nil {
				return err
			}
			k := binary.BigEndian.AppendUint64(nil, uint64(r.At))
			if err := rb.Put(append(k, r.Key...), raw); err != nil {
				return err
			}
		}
		expired := binary.BigEndian.AppendUint64(nil, uint64(time.Now().Add(-receiptBoxTTL).UnixNano()))
		c := rb.Cursor()
		for k, _ := c.First(); k != nil && bytes.Compare(k[:min(8, len(k))], expired) < 0; k, _ = c.Next() {
			if err := c.Delete(); err != nil {
				return err
			}
		}
		b := tx.Bucket(ledgerBucket)
		for _, e := range entries {
			c, p := e.charged, e.paid
			if v := b.Get([]byte(e.payer)); v != nil {
				if oc, op, err := decodeAccount(v); err == nil {
					if oc.Cmp(c) > 0 {
						c = oc
					}
					if op.Cmp(p) > 0 {
						p = op
					}
				}
			}
			raw, err := json.Marshal(storedAccount{Charged: c.String(), Paid: p.String()})
			if err != nil {
				return err
			}
			if err := b.Put([]byte(e.payer), raw); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("saving %d online accounts: %w", len(entries), err)
	}
	return nil
}

// ledgerWriter writes changed accounts behind the answers: an fsync per
// answer on the request path cost more than the answer (1.4 ms alone on
// the test machine, BenchmarkLedgerSave); written behind, every change
// since the last write goes in one transaction.
type ledgerWriter struct {
	dirty    map[string]bool
	receipts []storedReceipt // charged since the last write
	wake     chan struct{}   // buffered 1
	stop     chan struct{}
	done     chan struct{}
	log      *slog.Logger
}

// Persist keeps the accounts in s from now on: accounts are read from it
// on first use and written behind every change. Set it before serving;
// Persist(nil, nil) writes what is left and detaches the store.
func (l *Ledger) Persist(s *LedgerStore, log *slog.Logger) {
	l.mu.Lock()
	w := l.writer
	l.store, l.writer = nil, nil
	l.mu.Unlock()
	if w != nil {
		close(w.stop)
		<-w.done
	}
	if s == nil {
		return
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	w = &ledgerWriter{dirty: map[string]bool{}, wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}), log: log}
	l.mu.Lock()
	l.store, l.writer, l.accts = s, w, map[string]*account{}
	l.mu.Unlock()
	go l.write(s, w)
}

// changed marks payer's account for the writer; l.mu held.
func (l *Ledger) changed(payer string) {
	if l.writer == nil {
		return
	}
	l.writer.dirty[payer] = true
	select {
	case l.writer.wake <- struct{}{}:
	default:
	}
}

func (l *Ledger) write(s *LedgerStore, w *ledgerWriter) {
	defer close(w.done)
	for {
		select {
		case <-w.wake:
		case <-w.stop:
			if err := l.flush(s, w); err != nil {
				w.log.Error("online accounts not saved at shutdown: a restart forgets their last changes", "error", err)
			}
			return
		}
		if err := l.flush(s, w); err != nil {
			// Kept dirty: the next change retries.
			w.log.Warn("online accounts not saved yet", "error", err)
		}
		// Gather what comes meanwhile into the next write: an fsync per
		// few answers cost a tenth of the worker's CPU under load.
		select {
		case <-time.After(ledgerWriteGap):
		case <-w.stop:
			if err := l.flush(s, w); err != nil {
				w.log.Error("online accounts not saved at shutdown: a restart forgets their last changes", "error", err)
			}
			return
		}
	}
}

// ledgerWriteGap is the least time between two writes of the accounts: a
// SIGKILL loses at most the charges of the last gap and a write from the
// worker's own count; their receipts reached the payers with the answers,
// and are paid.
const ledgerWriteGap = 10 * time.Millisecond

// flush writes w's changed accounts.
func (l *Ledger) flush(s *LedgerStore, w *ledgerWriter) error {
	l.mu.Lock()
	entries := make([]ledgerEntry, 0, len(w.dirty))
	for payer := range w.dirty {
		a := l.accts[payer]
		if a == nil {
			continue
		}
		entries = append(entries, ledgerEntry{payer: payer, charged: new(big.Int).Set(a.charged), paid: new(big.Int).Set(a.paid)})
	}
	clear(w.dirty)
	receipts := w.receipts
	w.receipts = nil
	l.mu.Unlock()
	if len(entries) == 0 && len(receipts) == 0 {
		return nil
	}
	err := s.saveAll(entries, receipts)
	if err != nil {
		l.mu.Lock()
		for _, e := range entries {
			w.dirty[e.payer] = true
		}
		w.receipts = append(receipts, w.receipts...)
		l.mu.Unlock()
	}
	return err
}
