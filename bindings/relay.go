// Package bindings is the Go side of Cocoon's contracts: their messages and
// data layouts declared as structs (Encode, Parse, DecodeBody), and address
// derivation that matches the contracts' own. It holds no network code: the
// get-method readers are offchain/chain/readers.
package bindings

import (
	"github.com/xssnick/tonutils-go/address"
	"github.com/xssnick/tonutils-go/tlb"

	"github.com/cocoon-network/cocoon/contracts"
)

// RelayStateInit is the state init of a relay (contracts/relay.tolk, used by
// devnet tests and benchmarks): it counts the messages it receives and
// forwards each to next, when set. Its address follows from id and next.
func RelayStateInit(id uint32, next *address.Address) *tlb.StateInit {
	data := MustCell(Encode(relayData{ID: id, Next: next}))
	return &tlb.StateInit{Code: contracts.MustCode("relay"), Data: data}
}

// relayData is the relay's storage.
type relayData struct {
	ID      uint32           `tlb:"## 32"`
	Counter uint64           `tlb:"## 64"`
	Next    *address.Address `tlb:"addr" tolk:"address?"`
}

// StateInitAddress is the workchain-0 address of a contract deployed with si.
func StateInitAddress(si *tlb.StateInit) *address.Address {
	c, err := tlb.ToCell(si)
	if err != nil {
		panic(err) // a StateInit with code and data always serialises
	}
	return address.NewAddress(0, 0, c.Hash())
}
