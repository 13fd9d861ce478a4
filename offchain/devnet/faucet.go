package devnet

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/xssnick/tonutils-go/address"
	"github.com/xssnick/tonutils-go/tlb"
	"github.com/xssnick/tonutils-go/ton/wallet"
	"github.com/xssnick/tonutils-go/tvm/cell"

	"github.com/cocoon-network/cocoon/offchain/chain"
)

// maxFaucetBatch is how many transfers one wallet v5r1 message can carry.
const maxFaucetBatch = 255

func genesisWalletConfig(global int32) wallet.ConfigV5R1Final {
	return wallet.ConfigV5R1Final{NetworkGlobalID: global, Workchain: 0}
}

func genesisStateInit(pub ed25519.PublicKey, global int32) (*tlb.StateInit, error) {
	si, err := wallet.GetStateInit(pub, genesisWalletConfig(global), 0)
	if err != nil {
		return nil, fmt.Errorf("faucet wallet state init: %w", err)
	}
	return si, nil
}

func stateInitAddress(si *tlb.StateInit) (*address.Address, error) {
	c, err := tlb.ToCell(si)
	if err != nil {
		return nil, err
	}
	return address.NewAddress(0, 0, c.Hash()), nil
}

// Faucet sends amount nanoton from the genesis wallet to addr as a real,
// non-bounceable wallet transfer, and waits until the recipient's
// transaction is in a block. Transfers asked for in the same block interval
// share one wallet message. Someone must produce blocks meanwhile (Run, or
// a test calling ProduceBlock).
func (e *Engine) Faucet(ctx context.Context, addr *address.Address, amount *big.Int) (*chain.Transaction, error) {
	done, err := e.FaucetAsync(addr, amount)
	if err != nil {
		return nil, err
	}
	select {
	case r := <-done:
		return r.tx, r.err
	case <-ctx.Done():
		return nil, fmt.Errorf("waiting for the faucet transfer to %s: %w", addr, ctx.Err())
	}
}

// FaucetResult is the outcome of a faucet transfer.
type FaucetResult = faucetResult

// Tx is the recipient's transaction.
func (r FaucetResult) Tx() *chain.Transaction { return r.tx }

// Err is why the transfer failed.
func (r FaucetResult) Err() error { return r.err }

// FaucetAsync queues a faucet transfer; the channel yields its result once
// a block includes it.
func (e *Engine) FaucetAsync(addr *address.Address, amount *big.Int) (<-chan FaucetResult, error) {
	if _, err := keyOf(addr); err != nil {
		return nil, fmt.Errorf("faucet: address %v: %w", addr, err)
	}
	if amount == nil || amount.Sign() <= 0 {
		return nil, errors.New("faucet: amount must be positive")
	}
	if amount.Cmp(big.NewInt(genesisSupply/10)) > 0 {
		return nil, errors.New("faucet: amount exceeds a tenth of the devnet supply")
	}
	done := make(chan faucetResult, 1)
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil, errors.New("devnet closed")
	}
	e.faucet = append(e.faucet, faucetReq{to: addr, amount: amount, done: done})
	return done, nil
}

// faucetMessage builds the genesis wallet's signed external message for a
// batch of transfers, with the seqno its current state holds.
func (e *Engine) faucetMessage(reqs []faucetReq, blockTime uint32) (queued, error) {
	k := keyMust(e.genesisAddr)
	acc, err := decodeAccount(e.genesisAddr, e.accounts[k])
	if err != nil {
		return queued{}, err
	}
	if acc.Status != chain.StatusActive {
		return queued{}, fmt.Errorf("faucet wallet is %s", acc.Status)
	}
	// wallet v5r1 data: is_signature_allowed:1 seqno:32 ...
	ds := acc.Data.BeginParse()
	if _, err := ds.LoadUInt(1); err != nil {
		return queued{}, err
	}
	seqno, err := ds.LoadUInt(32)
	if err != nil {
		return queued{}, fmt.Errorf("reading faucet wallet seqno: %w", err)
	}
	w, err := wallet.FromPrivateKeyWithOptions(e.genesisKey, genesisWalletConfig(e.global))
	if err != nil {
		return queued{}, err
	}
	spec, ok := w.GetSpec().(*wallet.SpecV5R1Final)
	if !ok {
		return queued{}, errors.New("faucet wallet is not v5r1")
	}
	spec.SetSeqnoFetcher(func(context.Context, uint32) (uint32, error) { return uint32(seqno), nil })
	// The message must stay valid at devnet time, which tests may have
	// moved ahead of the wall clock.
	ttl := int64(blockTime) - time.Now().Unix() + 600
	if ttl < 600 {
		ttl = 600
	}
	spec.SetMessagesTTL(uint32(ttl))
	msgs := make([]*wallet.Message, len(reqs))
	for i, r := range reqs {
		msgs[i] = &wallet.Message{
			Mode: wallet.PayGasSeparately + wallet.IgnoreErrors,
			InternalMessage: &tlb.InternalMessage{
				IHRDisabled: true,
				Bounce:      false,
				DstAddr:     r.to,
				Amount:      tlb.FromNanoTON(r.amount),
				Body:        cell.BeginCell().EndCell(),
			},
		}
	}
	ext, err := w.PrepareExternalMessageForMany(context.Background(), false, msgs)
	if err != nil {
		return queued{}, fmt.Errorf("signing faucet transfer: %w", err)
	}
	c, err := tlb.ToCell(ext)
	if err != nil {
		return queued{}, err
	}
	return queued{b64: base64.StdEncoding.EncodeToString(c.ToBOC()), dest: k, external: true, cell: c}, nil
}
