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

// decodeAccount turns a ShardAccount BOC (the emulator's, trusted) into
// the chain's account view. tonutils-go v1.16 reads the StorageInfo of
// current TON (storage_extra); before v1.16 the devnet parsed accounts
// itself because older versions misread accounts whose storage_extra is set.
func decodeAccount(addr *address.Address, shardB64 string) (*chain.Account, error) {
	raw, err := base64.StdEncoding.DecodeString(shardB64)
	if err != nil {
		return nil, err
	}
	root, err := cell.FromBOC(raw)
	if err != nil {
		return nil, err
	}
	var sa tlb.ShardAccount
	if err := tlb.LoadFromCell(&sa, root.BeginParse()); err != nil {
		return nil, fmt.Errorf("decoding shard account: %w", err)
	}
	acc := &chain.Account{Address: addr, Status: chain.StatusNonexist, Balance: new(big.Int)}
	if sa.LastTransLT != 0 {
		acc.LastTx = chain.TxID{LT: sa.LastTransLT, Hash: sa.LastTransHash}
	}
	var st tlb.AccountState
	if err := st.LoadFromCell(sa.Account.BeginParse()); err != nil {
		return nil, fmt.Errorf("decoding account: %w", err)
	}
	if !st.IsValid {
		return acc, nil
	}
	acc.Balance = st.Balance.Nano()
	switch st.Status {
	case tlb.AccountStatusActive:
		acc.Status = chain.StatusActive
		if st.StateInit != nil {
			acc.Code, acc.Data = st.StateInit.Code, st.StateInit.Data
		}
	case tlb.AccountStatusFrozen:
		acc.Status, acc.FrozenHash = chain.StatusFrozen, st.StateHash
	default:
		acc.Status = chain.StatusUninit
	}
	return acc, nil
}
