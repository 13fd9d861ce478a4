package toncenter

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/big"
	"strconv"

	"github.com/xssnick/tonutils-go/address"
	"github.com/xssnick/tonutils-go/tlb"
	"github.com/xssnick/tonutils-go/tvm/cell"

	"github.com/cocoon-network/cocoon/offchain/boc"
	"github.com/cocoon-network/cocoon/offchain/chain"
)

type addressInformationJSON struct {
	Balance           bigNum   `json:"balance"`
	State             string   `json:"state"`
	Code              string   `json:"code"`
	Data              string   `json:"data"`
	FrozenHash        string   `json:"frozen_hash"`
	LastTransactionID txIDJSON `json:"last_transaction_id"`
}

// Account implements chain.Network.
func (c *Client) Account(ctx context.Context, addr *address.Address) (*chain.Account, error) {
	var r addressInformationJSON
	if err := c.call(ctx, "getAddressInformation", map[string]any{"address": formatAddress(addr)}, &r); err != nil {
		return nil, fmt.Errorf("fetching account state of %s: %w", addr, err)
	}
	acc, err := r.toAccount(addr)
	if err != nil {
		return nil, fmt.Errorf("decoding account state of %s: %w", addr, err)
	}
	return acc, nil
}

func (r *addressInformationJSON) toAccount(addr *address.Address) (*chain.Account, error) {
	last, err := r.LastTransactionID.toTxID()
	if err != nil {
		return nil, fmt.Errorf("last_transaction_id: %w", err)
	}
	acc := &chain.Account{
		Address: addr,
		Balance: new(big.Int).Set(&r.Balance.Int),
		LastTx:  last,
	}
	switch r.State {
	case "active":
		acc.Status = chain.StatusActive
		if r.Code != "" {
			if acc.Code, err = decodeBOC(r.Code); err != nil {
				return nil, fmt.Errorf("code: %w", err)
			}
		}
		if r.Data != "" {
			if acc.Data, err = decodeBOC(r.Data); err != nil {
				return nil, fmt.Errorf("data: %w", err)
			}
		}
	case "frozen":
		acc.Status = chain.StatusFrozen
		if r.FrozenHash != "" {
			if acc.FrozenHash, err = decodeBase64(r.FrozenHash); err != nil {
				return nil, fmt.Errorf("frozen_hash: %w", err)
			}
		}
	case "uninitialized", "uninit", "nonexist":
		// toncenter reports a never-seen address as uninitialized; with no
		// balance and no history it is indistinguishable from nonexist, which
		// is what the chain would say.
		acc.Status = chain.StatusUninit
		if acc.Balance.Sign() == 0 && last.LT == 0 {
			acc.Status = chain.StatusNonexist
		}
	default:
		return nil, fmt.Errorf("unknown account state %q", r.State)
	}
	return acc, nil
}

type runGetMethodJSON struct {
	GasUsed  bigNum            `json:"gas_used"`
	ExitCode int               `json:"exit_code"`
	Stack    []json.RawMessage `json:"stack"`
}

// RunGetMethod implements chain.Network. Exit codes 0 and 1 are success (1
// is TVM's alternative success code); others give a *chain.GetMethodError.
func (c *Client) RunGetMethod(ctx context.Context, addr *address.Address, method string, args ...any) ([]any, error) {
	stack, err := encodeStack(args)
	if err != nil {
		return nil, fmt.Errorf("encoding arguments of get-method %s on %s: %w", method, addr, err)
	}
	params := map[string]any{"address": formatAddress(addr), "method": method, "stack": stack}
	var r runGetMethodJSON
	if err := c.call(ctx, "runGetMethod", params, &r); err != nil {
		return nil, fmt.Errorf("running get-method %s on %s: %w", method, addr, err)
	}
	if r.ExitCode != 0 && r.ExitCode != 1 {
		return nil, &chain.GetMethodError{Method: method, ExitCode: r.ExitCode}
	}
	res, err := decodeStack(r.Stack)
	if err != nil {
		return nil, fmt.Errorf("decoding result of get-method %s on %s: %w", method, addr, err)
	}
	return res, nil
}

type extMessageInfoJSON struct {
	Hash string `json:"hash"`
}

// SendExternal implements chain.Network. The hash returned is computed here
// from the BOC; the server's own answer is only used as a cross-check.
func (c *Client) SendExternal(ctx context.Context, raw []byte) ([]byte, error) {
	msg, err := boc.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("parsing external message BOC: %w", err)
	}
	hash := msg.Hash()
	var r extMessageInfoJSON
	params := map[string]any{"boc": base64.StdEncoding.EncodeToString(raw)}
	if err := c.call(ctx, "sendBocReturnHash", params, &r); err != nil {
		return nil, fmt.Errorf("sending external message %x: %w", hash, err)
	}
	if r.Hash != "" {
		got, err := decodeHash(r.Hash)
		if err != nil {
			return hash, fmt.Errorf("sent external message %x, but the server's hash %q is malformed: %w", hash, r.Hash, err)
		}
		if !bytes.Equal(got, hash) {
			// The message was accepted, so the hash is returned as well: the
			// caller may still want to look for its transaction.
			return hash, fmt.Errorf("sent external message %x, but the server reports hash %x", hash, got)
		}
	}
	return hash, nil
}

// decodeHash reads a 32-byte hash given in base64 (toncenter) or hex.
func decodeHash(s string) ([]byte, error) {
	if len(s) == 64 {
		if b, err := hex.DecodeString(s); err == nil {
			return b, nil
		}
	}
	b, err := decodeBase64(s)
	if err != nil {
		return nil, err
	}
	if len(b) != 32 {
		return nil, fmt.Errorf("%d bytes, want 32", len(b))
	}
	return b, nil
}

type transactionJSON struct {
	Utime         bigNum   `json:"utime"`
	Data          string   `json:"data"`
	TransactionID txIDJSON `json:"transaction_id"`
}

// Transactions implements chain.Network.
func (c *Client) Transactions(ctx context.Context, addr *address.Address, from chain.TxID, limit int) ([]*chain.Transaction, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("listing transactions of %s: limit %d is not positive", addr, limit)
	}
	params := map[string]any{"address": formatAddress(addr), "limit": limit, "archival": true}
	if !from.IsZero() {
		params["lt"] = strconv.FormatUint(from.LT, 10)
		params["hash"] = base64.StdEncoding.EncodeToString(from.Hash)
	}
	var r []transactionJSON
	if err := c.call(ctx, "getTransactions", params, &r); err != nil {
		return nil, fmt.Errorf("listing transactions of %s from lt %d: %w", addr, from.LT, err)
	}
	if len(r) > limit {
		r = r[:limit]
	}
	out := make([]*chain.Transaction, 0, len(r))
	for i := range r {
		tx, err := r[i].toTransaction(addr)
		if err != nil {
			return nil, fmt.Errorf("decoding transaction %d of %s (lt %s): %w", i, addr, r[i].TransactionID.LT.String(), err)
		}
		out = append(out, tx)
	}
	return out, nil
}

func (t *transactionJSON) toTransaction(addr *address.Address) (*chain.Transaction, error) {
	raw, err := decodeBase64(t.Data)
	if err != nil {
		return nil, fmt.Errorf("data: %w", err)
	}
	root, err := boc.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("parsing data BOC: %w", err)
	}
	var tx tlb.Transaction
	if err := boc.Do("decoding the transaction", func() error { return tlb.LoadFromCell(&tx, root.BeginParse()) }); err != nil {
		return nil, fmt.Errorf("parsing transaction: %w", err)
	}
	tx.Hash = root.Hash()
	if !bytes.Equal(tx.AccountAddr, addr.Data()) {
		return nil, fmt.Errorf("transaction belongs to account %x, not %s", tx.AccountAddr, addr)
	}
	id, err := t.TransactionID.toTxID()
	if err != nil {
		return nil, fmt.Errorf("transaction_id: %w", err)
	}
	// The BOC is authoritative; a transaction_id that disagrees with it means
	// the server mixed up transactions.
	if id.LT != tx.LT || (len(id.Hash) > 0 && !bytes.Equal(id.Hash, tx.Hash)) {
		return nil, fmt.Errorf("transaction_id (lt %d, hash %x) does not match data (lt %d, hash %x)", id.LT, id.Hash, tx.LT, tx.Hash)
	}
	return &chain.Transaction{
		Account: addr,
		ID:      chain.TxID{LT: tx.LT, Hash: tx.Hash},
		PrevID:  normTxID(tx.PrevTxLT, tx.PrevTxHash),
		Now:     tx.Now,
		BOC:     raw,
		Tx:      &tx,
	}, nil
}

type blockIDJSON struct {
	Workchain int    `json:"workchain"`
	Shard     bigNum `json:"shard"`
	Seqno     bigNum `json:"seqno"`
}

type masterchainInfoJSON struct {
	Last blockIDJSON `json:"last"`
	// Utime is not part of toncenter's answer; some compatible servers add
	// it, and it is only used when the block header cannot be fetched.
	Utime *bigNum `json:"utime"`
}

type blockHeaderJSON struct {
	GenUtime bigNum `json:"gen_utime"`
}

// masterchainShard is the only shard of the masterchain, as toncenter writes it.
const masterchainShard = "-9223372036854775808"

// MasterchainInfo implements chain.Network. toncenter's getMasterchainInfo
// has no time, so the last block's header is fetched for it.
func (c *Client) MasterchainInfo(ctx context.Context) (*chain.MasterchainInfo, error) {
	var r masterchainInfoJSON
	if err := c.call(ctx, "getMasterchainInfo", map[string]any{}, &r); err != nil {
		return nil, fmt.Errorf("fetching masterchain info: %w", err)
	}
	seqno, err := r.Last.Seqno.uint64()
	if err != nil || seqno > 1<<32-1 {
		return nil, fmt.Errorf("decoding masterchain info: last seqno %s is out of range", r.Last.Seqno.String())
	}
	info := &chain.MasterchainInfo{Seqno: uint32(seqno)}
	var h blockHeaderJSON
	params := map[string]any{"workchain": -1, "shard": masterchainShard, "seqno": seqno}
	herr := c.call(ctx, "getBlockHeader", params, &h)
	if herr == nil {
		t, err := h.GenUtime.uint64()
		if err != nil || t > 1<<32-1 {
			return nil, fmt.Errorf("decoding header of masterchain block %d: gen_utime %s is out of range", seqno, h.GenUtime.String())
		}
		if t != 0 {
			info.Time = uint32(t)
			return info, nil
		}
		herr = fmt.Errorf("header of masterchain block %d has no gen_utime", seqno)
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		return nil, fmt.Errorf("fetching header of masterchain block %d: %w", seqno, herr)
	}
	if r.Utime != nil {
		if t, err := r.Utime.uint64(); err == nil && t > 0 && t <= 1<<32-1 {
			c.log.DebugContext(ctx, "toncenter getBlockHeader failed, using utime of getMasterchainInfo",
				"seqno", seqno, "err", herr)
			info.Time = uint32(t)
			return info, nil
		}
	}
	return nil, fmt.Errorf("fetching header of masterchain block %d: %w", seqno, herr)
}

type feesJSON struct {
	InFwdFee   bigNum `json:"in_fwd_fee"`
	StorageFee bigNum `json:"storage_fee"`
	GasFee     bigNum `json:"gas_fee"`
	FwdFee     bigNum `json:"fwd_fee"`
}

type estimateFeeJSON struct {
	SourceFees *feesJSON `json:"source_fees"`
}

// EstimateFee implements chain.Network.
func (c *Client) EstimateFee(ctx context.Context, addr *address.Address, body, code, data *cell.Cell, ignoreChksig bool) (*chain.Fees, error) {
	if body == nil {
		body = cell.BeginCell().EndCell()
	}
	params := map[string]any{
		"address":       formatAddress(addr),
		"body":          encodeBOC(body),
		"init_code":     "",
		"init_data":     "",
		"ignore_chksig": ignoreChksig,
	}
	if code != nil {
		params["init_code"] = encodeBOC(code)
	}
	if data != nil {
		params["init_data"] = encodeBOC(data)
	}
	var r estimateFeeJSON
	if err := c.call(ctx, "estimateFee", params, &r); err != nil {
		return nil, fmt.Errorf("estimating fees of a message to %s: %w", addr, err)
	}
	if r.SourceFees == nil {
		return nil, fmt.Errorf("estimating fees of a message to %s: answer has no source_fees", addr)
	}
	var f chain.Fees
	for _, p := range []struct {
		name string
		src  *bigNum
		dst  *int64
	}{
		{"in_fwd_fee", &r.SourceFees.InFwdFee, &f.InFwdFee},
		{"storage_fee", &r.SourceFees.StorageFee, &f.StorageFee},
		{"gas_fee", &r.SourceFees.GasFee, &f.GasFee},
		{"fwd_fee", &r.SourceFees.FwdFee, &f.FwdFee},
	} {
		v, err := p.src.int64()
		if err != nil {
			return nil, fmt.Errorf("decoding fees of a message to %s: %s: %w", addr, p.name, err)
		}
		*p.dst = v
	}
	return &f, nil
}
