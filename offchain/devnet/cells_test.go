package devnet

import (
	"bytes"
	"encoding/base64"
	"math/big"
	"testing"

	"github.com/xssnick/tonutils-go/address"
	"github.com/xssnick/tonutils-go/tlb"
	"github.com/xssnick/tonutils-go/tvm/cell"

	"github.com/cocoon-network/cocoon/offchain/chain"
)

// shardAccount writes a ShardAccount as current TON does, with
// storage_extra_info (dict_hash) when extra is set: the form tonutils-go
// before v1.16 misread, reporting absurd balances.
func shardAccount(t *testing.T, addr *address.Address, extra bool, balance int64, state func(b *cell.Builder)) string {
	t.Helper()
	b := cell.BeginCell().MustStoreBoolBit(true).MustStoreAddr(addr).
		MustStoreVarUInt(3, 7).MustStoreVarUInt(900, 7) // cells, bits
	if extra {
		b.MustStoreUInt(1, 3).MustStoreSlice(bytes.Repeat([]byte{0xee}, 32), 256)
	} else {
		b.MustStoreUInt(0, 3)
	}
	b.MustStoreUInt(1_767_225_600, 32).MustStoreBoolBit(false)     // last_paid, no due payment
	b.MustStoreUInt(77, 64).MustStoreBigCoins(big.NewInt(balance)) // last_trans_lt, balance
	b.MustStoreBoolBit(false)                                      // no extra currencies
	state(b)
	root := cell.BeginCell().MustStoreRef(b.EndCell()).
		MustStoreSlice(bytes.Repeat([]byte{0xaa}, 32), 256).MustStoreUInt(77, 64).EndCell()
	return base64.StdEncoding.EncodeToString(root.ToBOC())
}

func TestDecodeAccount(t *testing.T) {
	addr := address.NewAddress(0, 0, bytes.Repeat([]byte{1}, 32))
	code := cell.BeginCell().MustStoreUInt(0xC0DE, 16).EndCell()
	data := cell.BeginCell().MustStoreUInt(0xDA7A, 16).EndCell()
	si, err := tlb.ToCell(&tlb.StateInit{Code: code, Data: data})
	if err != nil {
		t.Fatal(err)
	}
	active := func(b *cell.Builder) { b.MustStoreBoolBit(true).MustStoreBuilder(si.ToBuilder()) }
	frozen := func(b *cell.Builder) {
		b.MustStoreUInt(0b01, 2).MustStoreSlice(bytes.Repeat([]byte{0xf0}, 32), 256)
	}
	uninit := func(b *cell.Builder) { b.MustStoreUInt(0b00, 2) }
	for _, tc := range []struct {
		name   string
		extra  bool
		state  func(*cell.Builder)
		status chain.AccountStatus
	}{
		{"active, storage_extra_info", true, active, chain.StatusActive},
		{"active, storage_extra_none", false, active, chain.StatusActive},
		{"frozen, storage_extra_info", true, frozen, chain.StatusFrozen},
		{"uninit, storage_extra_info", true, uninit, chain.StatusUninit},
	} {
		t.Run(tc.name, func(t *testing.T) {
			acc, err := decodeAccount(addr, shardAccount(t, addr, tc.extra, 1_234_567_890, tc.state))
			if err != nil {
				t.Fatal(err)
			}
			if acc.Balance.Int64() != 1_234_567_890 || acc.Status != tc.status || acc.LastTx.LT != 77 {
				t.Fatalf("got balance %s, status %s, last lt %d", acc.Balance, acc.Status, acc.LastTx.LT)
			}
			switch tc.status {
			case chain.StatusActive:
				if !bytes.Equal(acc.Code.Hash(), code.Hash()) || !bytes.Equal(acc.Data.Hash(), data.Hash()) {
					t.Error("code or data differ")
				}
			case chain.StatusFrozen:
				if !bytes.Equal(acc.FrozenHash, bytes.Repeat([]byte{0xf0}, 32)) {
					t.Errorf("frozen hash %x", acc.FrozenHash)
				}
			}
		})
	}
	acc, err := decodeAccount(addr, emptyShardAccount)
	if err != nil || acc.Status != chain.StatusNonexist || acc.Balance.Sign() != 0 {
		t.Fatalf("account_none: %+v %v", acc, err)
	}
}
