package worker

import (
	"encoding/json"
	"fmt"
	"math/big"

	bolt "go.etcd.io/bbolt"

	"github.com/cocoon-network/cocoon/offchain/internal/boltdb"
)

// LedgerStore keeps the online payers' accounts (what the worker charged
// each payer and what its vouchers paid, as of the last charge) in the
// worker's state directory, so that a restart resumes every account where
// it was: the credit bound holds across restarts (docs/GATEWAY.md). The
// vouchers themselves are kept by the payment scheme (the channel store).
type LedgerStore struct {
	db *bolt.DB
}

var ledgerBucket = []byte("accounts")

// ledgerFile is the store's file in the state directory.
const ledgerFile = "online.db"

// OpenLedgerStore opens (or creates) the store in dir.
func OpenLedgerStore(dir string) (*LedgerStore, error) {
	db, err := boltdb.Open(dir, ledgerFile, "another worker", ledgerBucket)
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

// save stores payer's totals, fsynced before it returns; concurrent saves
// share one transaction (bbolt's Batch). Both totals only grow, so a save
// that arrives after a newer one keeps the newer.
func (s *LedgerStore) save(payer string, charged, paid *big.Int) error {
	err := s.db.Batch(func(tx *bolt.Tx) error {
		b := tx.Bucket(ledgerBucket)
		c, p := charged, paid
		if v := b.Get([]byte(payer)); v != nil {
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
		return b.Put([]byte(payer), raw)
	})
	if err != nil {
		return fmt.Errorf("saving the online account of payer %q: %w", payer, err)
	}
	return nil
}
