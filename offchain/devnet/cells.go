package devnet

import (
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"

	"github.com/xssnick/tonutils-go/address"
	"github.com/xssnick/tonutils-go/tlb"
	"github.com/xssnick/tonutils-go/tvm/cell"

	"github.com/cocoon-network/cocoon/offchain/boc"
	"github.com/cocoon-network/cocoon/offchain/chain"
)

// acctKey identifies an account: workchain byte then the 256-bit hash. It is
// also the key prefix of the account's history in the store.
type acctKey [33]byte

func keyOf(a *address.Address) (acctKey, error) {
	var k acctKey
	if a == nil || a.Type() != address.StdAddress {
		return k, errors.New("not a standard internal address")
	}
	if wc := a.Workchain(); wc != 0 && wc != -1 {
		return k, fmt.Errorf("workchain %d does not exist on the devnet (only 0 and -1)", wc)
	}
	k[0] = byte(a.Workchain())
	copy(k[1:], a.Data())
	return k, nil
}

func (k acctKey) address() *address.Address {
	return address.NewAddress(0, k[0], append([]byte(nil), k[1:]...))
}

// emptyShardAccount is the ShardAccount of an account that never existed:
// account_none, zero last transaction.
var emptyShardAccount = func() string {
	c := cell.BeginCell().
		MustStoreRef(cell.BeginCell().MustStoreUInt(0, 1).EndCell()).
		MustStoreSlice(make([]byte, 32), 256).
		MustStoreUInt(0, 64).EndCell()
	return base64.StdEncoding.EncodeToString(c.ToBOC())
}()

// txSummary is what block production needs from a transaction; the rest of
// the transaction is decoded only when someone asks for it.
type txSummary struct {
	lt       uint64
	hash     []byte
	prevLT   uint64
	prevHash []byte
	now      uint32
	out      []outMsg
}

// outMsg is a message a transaction sent.
type outMsg struct {
	cell      *cell.Cell
	internal  bool
	dest      acctKey
	destAddr  *address.Address
	createdLT uint64
}

func summarizeTx(c *cell.Cell) (*txSummary, error) {
	s := c.BeginParse()
	tag, err := s.LoadUInt(4)
	if err != nil || tag != 0b0111 {
		return nil, fmt.Errorf("not a transaction (tag %b)", tag)
	}
	if _, err := s.LoadSlice(256); err != nil {
		return nil, err
	}
	t := &txSummary{hash: c.Hash()}
	if t.lt, err = s.LoadUInt(64); err != nil {
		return nil, err
	}
	if t.prevHash, err = s.LoadSlice(256); err != nil {
		return nil, err
	}
	if t.prevLT, err = s.LoadUInt(64); err != nil {
		return nil, err
	}
	now, err := s.LoadUInt(32)
	if err != nil {
		return nil, err
	}
	t.now = uint32(now)
	io, err := s.LoadRef()
	if err != nil {
		return nil, fmt.Errorf("transaction io: %w", err)
	}
	if _, err := io.LoadMaybeRef(); err != nil {
		return nil, err
	}
	outs, err := io.LoadDict(15)
	if err != nil {
		return nil, fmt.Errorf("transaction out messages: %w", err)
	}
	if outs == nil {
		return t, nil
	}
	kvs, err := outs.LoadAll()
	if err != nil {
		return nil, err
	}
	for _, kv := range kvs {
		mc, err := kv.Value.LoadRefCell()
		if err != nil {
			return nil, err
		}
		m, err := parseOutMsg(mc)
		if err != nil {
			return nil, fmt.Errorf("out message: %w", err)
		}
		t.out = append(t.out, *m)
	}
	return t, nil
}

func parseOutMsg(c *cell.Cell) (*outMsg, error) {
	s := c.BeginParse()
	m := &outMsg{cell: c}
	ext, err := s.LoadBoolBit()
	if err != nil {
		return nil, err
	}
	if ext {
		return m, nil // ext_out_msg_info: an event, delivered nowhere
	}
	m.internal = true
	if _, err := s.LoadSlice(3); err != nil { // ihr_disabled bounce bounced
		return nil, err
	}
	if _, err := s.LoadAddr(); err != nil {
		return nil, err
	}
	if m.destAddr, err = s.LoadAddr(); err != nil {
		return nil, err
	}
	if _, err := s.LoadBigCoins(); err != nil {
		return nil, err
	}
	if _, err := s.LoadMaybeRef(); err != nil { // extra currencies
		return nil, err
	}
	if _, err := s.LoadBigCoins(); err != nil { // ihr_fee
		return nil, err
	}
	if _, err := s.LoadBigCoins(); err != nil { // fwd_fee
		return nil, err
	}
	if m.createdLT, err = s.LoadUInt(64); err != nil {
		return nil, err
	}
	if k, err := keyOf(m.destAddr); err == nil {
		m.dest = k
	} else {
		return nil, fmt.Errorf("destination %s: %w", m.destAddr, err)
	}
	return m, nil
}

// inboundDest reads the destination of an inbound message (external or
// internal) as a client submitted it.
func inboundDest(c *cell.Cell) (acctKey, bool, error) {
	var k acctKey
	var msg tlb.Message
	if err := boc.Do("decoding the message", func() error { return tlb.LoadFromCell(&msg, c.BeginParse()) }); err != nil {
		return k, false, err
	}
	switch msg.MsgType {
	case tlb.MsgTypeExternalIn:
		k, err := keyOf(msg.AsExternalIn().DstAddr)
		return k, true, err
	case tlb.MsgTypeInternal:
		k, err := keyOf(msg.AsInternal().DstAddr)
		return k, false, err
	default:
		return k, false, errors.New("an outbound external message cannot be delivered")
	}
}

// decodeAccount turns a ShardAccount BOC into the chain's account view.
//
// The Account is parsed here rather than by tonutils-go, whose TL-B types
// predate the StorageInfo of current TON (storage_extra, no public_cells):
// they misread accounts whose storage_extra is set (any account with a
// dictionary), reporting absurd balances.
func decodeAccount(addr *address.Address, shardB64 string) (*chain.Account, error) {
	raw, err := base64.StdEncoding.DecodeString(shardB64)
	if err != nil {
		return nil, err
	}
	root, err := cell.FromBOC(raw)
	if err != nil {
		return nil, err
	}
	s := root.BeginParse()
	accCell, err := s.LoadRefCell()
	if err != nil {
		return nil, fmt.Errorf("decoding shard account: %w", err)
	}
	lastHash, err := s.LoadSlice(256)
	if err != nil {
		return nil, fmt.Errorf("decoding shard account: %w", err)
	}
	lastLT, err := s.LoadUInt(64)
	if err != nil {
		return nil, fmt.Errorf("decoding shard account: %w", err)
	}
	acc := &chain.Account{Address: addr, Status: chain.StatusNonexist, Balance: new(big.Int)}
	if lastLT != 0 {
		acc.LastTx = chain.TxID{LT: lastLT, Hash: lastHash}
	}
	if err := parseAccount(accCell.BeginParse(), acc); err != nil {
		return nil, fmt.Errorf("decoding account: %w", err)
	}
	return acc, nil
}

// parseAccount reads
//
//	account_none$0 | account$1 addr:MsgAddressInt storage_stat:StorageInfo storage:AccountStorage
//	storage_info$_ used:StorageUsed storage_extra:StorageExtraInfo last_paid:uint32 due_payment:(Maybe Grams)
//	storage_used$_ cells:(VarUInteger 7) bits:(VarUInteger 7)
//	storage_extra_none$000 | storage_extra_info$001 dict_hash:uint256
//	account_storage$_ last_trans_lt:uint64 balance:CurrencyCollection state:AccountState
//	account_uninit$00 | account_active$1 _:StateInit | account_frozen$01 state_hash:bits256
func parseAccount(s *cell.Slice, acc *chain.Account) error {
	exists, err := s.LoadBoolBit()
	if err != nil || !exists {
		return err
	}
	if _, err := s.LoadAddr(); err != nil {
		return err
	}
	for i := 0; i < 2; i++ { // cells, bits
		if _, err := s.LoadVarUInt(7); err != nil {
			return err
		}
	}
	extra, err := s.LoadUInt(3)
	if err != nil {
		return err
	}
	switch extra {
	case 0:
	case 1:
		if _, err := s.LoadSlice(256); err != nil {
			return err
		}
	default:
		return fmt.Errorf("unknown storage_extra tag %03b", extra)
	}
	if _, err := s.LoadUInt(32); err != nil { // last_paid
		return err
	}
	if due, err := s.LoadBoolBit(); err != nil {
		return err
	} else if due {
		if _, err := s.LoadBigCoins(); err != nil {
			return err
		}
	}
	if _, err := s.LoadUInt(64); err != nil { // last_trans_lt
		return err
	}
	if acc.Balance, err = s.LoadBigCoins(); err != nil {
		return err
	}
	if _, err := s.LoadMaybeRef(); err != nil { // extra currencies
		return err
	}
	active, err := s.LoadBoolBit()
	if err != nil {
		return err
	}
	if active {
		var si tlb.StateInit
		if err := tlb.LoadFromCell(&si, s); err != nil {
			return fmt.Errorf("state init: %w", err)
		}
		acc.Status, acc.Code, acc.Data = chain.StatusActive, si.Code, si.Data
		return nil
	}
	frozen, err := s.LoadBoolBit()
	if err != nil {
		return err
	}
	if frozen {
		acc.Status = chain.StatusFrozen
		acc.FrozenHash, err = s.LoadSlice(256)
		return err
	}
	acc.Status = chain.StatusUninit
	return nil
}
