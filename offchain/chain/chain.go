// Package chain is the one interface every off-chain Cocoon component uses to
// talk to a TON network, whatever carries it: the in-process devnet engine,
// a toncenter v2 HTTP endpoint (a devnet server, testnet or mainnet), and
// later a trustless liteclient.
package chain

import (
	"context"
	"errors"
	"fmt"
	"math/big"

	"github.com/xssnick/tonutils-go/address"
	"github.com/xssnick/tonutils-go/tlb"
	"github.com/xssnick/tonutils-go/tvm/cell"
)

// AccountStatus is an account's life-cycle state as the chain reports it.
type AccountStatus string

const (
	StatusNonexist AccountStatus = "nonexist"
	StatusUninit   AccountStatus = "uninit"
	StatusActive   AccountStatus = "active"
	StatusFrozen   AccountStatus = "frozen"
)

// TxID names a transaction of one account: its logical time and hash.
type TxID struct {
	LT   uint64
	Hash []byte // 32 bytes
}

// IsZero reports whether the id names no transaction (an account without history).
func (id TxID) IsZero() bool { return id.LT == 0 && len(id.Hash) == 0 }

// Account is an account's state at the latest block.
type Account struct {
	Address *address.Address
	Status  AccountStatus
	Balance *big.Int   // nanoton
	Code    *cell.Cell // nil unless active
	Data    *cell.Cell // nil unless active
	LastTx  TxID
	// FrozenHash is the state hash of a frozen account.
	FrozenHash []byte
}

// Transaction is one transaction of one account, with its raw BOC and the
// decoded form.
type Transaction struct {
	Account *address.Address
	ID      TxID
	PrevID  TxID
	Now     uint32
	BOC     []byte
	Tx      *tlb.Transaction
}

// MasterchainInfo is the head of the chain.
type MasterchainInfo struct {
	Seqno uint32
	Time  uint32 // unix time of the latest block
}

// Fees is the fee estimate for one inbound external message, in nanoton.
type Fees struct {
	InFwdFee   int64
	StorageFee int64
	GasFee     int64
	FwdFee     int64
}

// Total is the sum of all parts of the estimate.
func (f Fees) Total() int64 { return f.InFwdFee + f.StorageFee + f.GasFee + f.FwdFee }

// GetMethodError is returned when a get-method ran and exited with a non-zero code.
type GetMethodError struct {
	Method   string
	ExitCode int
}

func (e *GetMethodError) Error() string {
	return fmt.Sprintf("get-method %s failed with exit code %d", e.Method, e.ExitCode)
}

// ErrNotFound is wrapped by errors about an account or transaction that does not exist.
var ErrNotFound = errors.New("not found")

// Network is a TON network as Cocoon sees it.
//
// Stack values for RunGetMethod are the Go types tonutils-go uses:
// *big.Int for integers, *cell.Cell, *cell.Slice, *cell.Builder, nil for null,
// and []any for tuples.
type Network interface {
	// Account returns the account's current state; an address never seen is
	// reported with StatusNonexist and zero balance, not an error.
	Account(ctx context.Context, addr *address.Address) (*Account, error)
	// RunGetMethod runs a get-method by name on the account's current state.
	RunGetMethod(ctx context.Context, addr *address.Address, method string, args ...any) ([]any, error)
	// SendExternal submits an external inbound message (a serialized Message
	// BOC) and returns the message's cell hash. The message is checked against
	// the current state first: one the contract would not accept is refused.
	SendExternal(ctx context.Context, boc []byte) ([]byte, error)
	// Transactions lists the account's transactions, newest first, starting
	// at from (inclusive); a zero from means the latest transaction.
	Transactions(ctx context.Context, addr *address.Address, from TxID, limit int) ([]*Transaction, error)
	// MasterchainInfo returns the latest block's seqno and time.
	MasterchainInfo(ctx context.Context) (*MasterchainInfo, error)
	// EstimateFee estimates the fees of an external message with body and
	// optional StateInit parts to addr.
	EstimateFee(ctx context.Context, addr *address.Address, body, code, data *cell.Cell, ignoreChksig bool) (*Fees, error)
}
