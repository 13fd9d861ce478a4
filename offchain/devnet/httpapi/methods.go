package httpapi

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"strconv"
	"strings"

	"github.com/xssnick/tonutils-go/address"
	"github.com/xssnick/tonutils-go/tlb"
	"github.com/xssnick/tonutils-go/tvm/cell"

	"github.com/cocoon-network/cocoon/offchain/boc"
	"github.com/cocoon-network/cocoon/offchain/chain"
	"github.com/cocoon-network/cocoon/offchain/devnet"
)

// Code hashes of the standard wallets getWalletInformation recognises.
var walletTypes = map[string]string{
	"feb5ff6820e2ff0d9483e7e0d62c817d846789fb4ae580c878866d959dabd5c0": "wallet v4 r2",
	"20834b7b72b112147e1b2fb457b84e74d1a30f04f737d4f62a668e9552d2b72f": "wallet v5 r1",
}

func (p params) str(name string) (string, bool) {
	v, ok := p[name]
	if !ok || v == nil {
		return "", false
	}
	switch x := v.(type) {
	case string:
		return x, true
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), true
	case bool:
		return strconv.FormatBool(x), true
	default:
		return fmt.Sprint(x), true
	}
}

func (p params) address(name string) (*address.Address, error) {
	s, ok := p.str(name)
	if !ok {
		return nil, badRequest("parameter %q is required", name)
	}
	a, err := chain.ParseAddress(s)
	if err != nil {
		return nil, badRequest("parameter %q: %v", name, err)
	}
	if a.Type() != address.StdAddress {
		return nil, badRequest("parameter %q: not a standard internal address", name)
	}
	if wc := a.Workchain(); wc != 0 && wc != -1 {
		return nil, badRequest("parameter %q: workchain %d does not exist on the devnet (only 0 and -1)", name, wc)
	}
	return a, nil
}

func (p params) uint(name string, def uint64) (uint64, error) {
	s, ok := p.str(name)
	if !ok || s == "" {
		return def, nil
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, badRequest("parameter %q: %q is not a non-negative integer", name, s)
	}
	return v, nil
}

func (p params) boolean(name string, def bool) (bool, error) {
	s, ok := p.str(name)
	if !ok || s == "" {
		return def, nil
	}
	v, err := strconv.ParseBool(s)
	if err != nil {
		return false, badRequest("parameter %q: %q is not a boolean", name, s)
	}
	return v, nil
}

// boc reads a base64 BOC parameter; empty is allowed when optional.
func (p params) boc(name string, optional bool) (*cell.Cell, error) {
	s, ok := p.str(name)
	if !ok || s == "" {
		if optional {
			return nil, nil
		}
		return nil, badRequest("parameter %q is required", name)
	}
	c, err := boc.ParseBase64(s)
	if err != nil {
		return nil, badRequest("parameter %q: %v", name, err)
	}
	return c, nil
}

// decodeHash reads a 32-byte hash given in hex (as @ton/ton sends it) or base64.
func decodeHash(s string) ([]byte, error) {
	if len(s) == 64 {
		if b, err := hex.DecodeString(s); err == nil {
			return b, nil
		}
	}
	b, err := boc.DecodeBase64(s)
	if err != nil || len(b) != 32 {
		return nil, fmt.Errorf("%q is not a 32-byte hash in hex or base64", s)
	}
	return b, nil
}

const masterShard = "-9223372036854775808"

// blockID is the masterchain block id: the devnet has no real block
// hashes, so they are derived from the seqno.
func blockID(seqno uint32) map[string]any {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], seqno)
	root := sha256.Sum256(append([]byte("devnet root "), b[:]...))
	file := sha256.Sum256(append([]byte("devnet file "), b[:]...))
	return map[string]any{
		"@type":     "ton.blockIdExt",
		"workchain": -1,
		"shard":     masterShard,
		"seqno":     seqno,
		"root_hash": base64.StdEncoding.EncodeToString(root[:]),
		"file_hash": base64.StdEncoding.EncodeToString(file[:]),
	}
}

func txID(id chain.TxID) map[string]any {
	hash := make([]byte, 32)
	if len(id.Hash) == 32 {
		hash = id.Hash
	}
	return map[string]any{"@type": "internal.transactionId", "lt": strconv.FormatUint(id.LT, 10), "hash": base64.StdEncoding.EncodeToString(hash)}
}

func stateName(s chain.AccountStatus) string {
	switch s {
	case chain.StatusActive:
		return "active"
	case chain.StatusFrozen:
		return "frozen"
	default:
		return "uninitialized"
	}
}

func bocB64(c *cell.Cell) string {
	if c == nil {
		return ""
	}
	return base64.StdEncoding.EncodeToString(c.ToBOC())
}

func (s *Server) account(ctx context.Context, p params) (*chain.Account, *chain.MasterchainInfo, error) {
	a, err := p.address("address")
	if err != nil {
		return nil, nil, err
	}
	acc, err := s.e.Account(ctx, a)
	if err != nil {
		return nil, nil, badRequest("%v", err)
	}
	info, err := s.e.MasterchainInfo(ctx)
	if err != nil {
		return nil, nil, err
	}
	return acc, info, nil
}

func (s *Server) getAddressInformation(ctx context.Context, p params) (any, error) {
	acc, info, err := s.account(ctx, p)
	if err != nil {
		return nil, err
	}
	return map[string]any{
		"@type":               "raw.fullAccountState",
		"balance":             acc.Balance.String(),
		"extra_currencies":    []any{},
		"code":                bocB64(acc.Code),
		"data":                bocB64(acc.Data),
		"last_transaction_id": txID(acc.LastTx),
		"block_id":            blockID(info.Seqno),
		"frozen_hash":         base64.StdEncoding.EncodeToString(acc.FrozenHash),
		"sync_utime":          info.Time,
		"state":               stateName(acc.Status),
	}, nil
}

func (s *Server) getAddressBalance(ctx context.Context, p params) (any, error) {
	acc, _, err := s.account(ctx, p)
	if err != nil {
		return nil, err
	}
	return acc.Balance.String(), nil
}

func (s *Server) getAddressState(ctx context.Context, p params) (any, error) {
	acc, _, err := s.account(ctx, p)
	if err != nil {
		return nil, err
	}
	return stateName(acc.Status), nil
}

// walletInfo reads seqno and wallet id of a standard wallet.
func (s *Server) walletInfo(ctx context.Context, acc *chain.Account) (typ string, seqno, walletID int64, ok bool) {
	if acc.Status != chain.StatusActive || acc.Code == nil {
		return "", 0, 0, false
	}
	typ, ok = walletTypes[hex.EncodeToString(acc.Code.Hash())]
	if !ok {
		return "", 0, 0, false
	}
	if r, err := s.e.RunGetMethod(ctx, acc.Address, "seqno"); err == nil && len(r) == 1 {
		if v, isInt := r[0].(*big.Int); isInt {
			seqno = v.Int64()
		}
	}
	if r, err := s.e.RunGetMethod(ctx, acc.Address, "get_subwallet_id"); err == nil && len(r) == 1 {
		if v, isInt := r[0].(*big.Int); isInt {
			walletID = v.Int64()
		}
	}
	return typ, seqno, walletID, true
}

func (s *Server) getWalletInformation(ctx context.Context, p params) (any, error) {
	acc, info, err := s.account(ctx, p)
	if err != nil {
		return nil, err
	}
	res := map[string]any{
		"wallet":              false,
		"balance":             acc.Balance.String(),
		"extra_currencies":    []any{},
		"account_state":       stateName(acc.Status),
		"last_transaction_id": txID(acc.LastTx),
		"block_id":            blockID(info.Seqno),
		"sync_utime":          info.Time,
	}
	if typ, seqno, id, ok := s.walletInfo(ctx, acc); ok {
		res["wallet"] = true
		res["wallet_type"] = typ
		res["seqno"] = seqno
		res["wallet_id"] = id
	}
	return res, nil
}

func (s *Server) getExtendedAddressInformation(ctx context.Context, p params) (any, error) {
	acc, info, err := s.account(ctx, p)
	if err != nil {
		return nil, err
	}
	state := map[string]any{
		"@type":       "raw.accountState",
		"code":        bocB64(acc.Code),
		"data":        bocB64(acc.Data),
		"frozen_hash": base64.StdEncoding.EncodeToString(acc.FrozenHash),
	}
	if acc.Status != chain.StatusActive {
		state = map[string]any{"@type": "uninited.accountState", "frozen_hash": base64.StdEncoding.EncodeToString(acc.FrozenHash)}
	}
	if typ, seqno, id, ok := s.walletInfo(ctx, acc); ok {
		state = map[string]any{"@type": strings.ReplaceAll("wallet."+typ, " ", "."), "wallet_id": strconv.FormatInt(id, 10), "seqno": seqno}
	}
	return map[string]any{
		"@type":               "fullAccountState",
		"address":             map[string]any{"@type": "accountAddress", "account_address": acc.Address.String()},
		"balance":             acc.Balance.String(),
		"extra_currencies":    []any{},
		"last_transaction_id": txID(acc.LastTx),
		"block_id":            blockID(info.Seqno),
		"sync_utime":          info.Time,
		"account_state":       state,
		"revision":            0,
	}, nil
}

// exitNoCode is the exit code toncenter reports for a get-method on an
// account that has no code (nonexistent, uninitialized or frozen).
const exitNoCode = -13

func (s *Server) runGetMethod(ctx context.Context, p params) (any, error) {
	a, err := p.address("address")
	if err != nil {
		return nil, err
	}
	m, ok := p.str("method")
	if !ok || m == "" {
		return nil, badRequest("parameter %q is required", "method")
	}
	id := int(tlb.MethodNameHash(m))
	if n, err := strconv.Atoi(m); err == nil {
		id = n
	}
	args, err := decodeStackParam(p["stack"])
	if err != nil {
		return nil, err
	}
	out, err := s.e.RunGetMethodRaw(ctx, a, id, args)
	if errors.Is(err, chain.ErrNotFound) {
		// Toncenter runs a get-method on an account without code and
		// answers exit code -13 (no code to run), not an error.
		out, err = &devnet.GetMethodOutcome{ExitCode: exitNoCode}, nil
	}
	if err != nil {
		return nil, err
	}
	stack, err := encodeStack(out.Stack)
	if err != nil {
		return nil, err
	}
	info, _ := s.e.MasterchainInfo(ctx)
	acc, _ := s.e.Account(ctx, a)
	return map[string]any{
		"@type":               "smc.runResult",
		"gas_used":            out.GasUsed,
		"stack":               stack,
		"exit_code":           out.ExitCode,
		"block_id":            blockID(info.Seqno),
		"last_transaction_id": txID(acc.LastTx),
	}, nil
}

func (s *Server) send(ctx context.Context, p params) ([]byte, error) {
	str, ok := p.str("boc")
	if !ok || str == "" {
		return nil, badRequest("parameter %q is required", "boc")
	}
	raw, err := boc.DecodeBase64(str)
	if err != nil {
		return nil, badRequest("parameter %q: %v", "boc", err)
	}
	hash, err := s.e.SendExternal(ctx, raw)
	if err != nil {
		var rej *devnet.RejectedError
		if errors.As(err, &rej) {
			// Toncenter answers 500 here; a 4xx tells every client the
			// message itself is refused, and not to retry it.
			return nil, &apiError{code: http.StatusUnprocessableEntity, msg: "cannot apply external message to current state: " + err.Error()}
		}
		if errors.Is(err, boc.ErrMalformed) {
			return nil, badRequest("parameter %q: %v", "boc", err)
		}
		return nil, badRequest("%v", err)
	}
	return hash, nil
}

func (s *Server) sendBoc(ctx context.Context, p params) (any, error) {
	if _, err := s.send(ctx, p); err != nil {
		return nil, err
	}
	return map[string]any{"@type": "ok"}, nil
}

func (s *Server) sendBocReturnHash(ctx context.Context, p params) (any, error) {
	hash, err := s.send(ctx, p)
	if err != nil {
		return nil, err
	}
	h := base64.StdEncoding.EncodeToString(hash)
	return map[string]any{"@type": "raw.extMessageInfo", "hash": h, "hash_norm": h}, nil
}

func (s *Server) getTransactions(ctx context.Context, p params) (any, error) {
	a, err := p.address("address")
	if err != nil {
		return nil, err
	}
	limit, err := p.uint("limit", 10)
	if err != nil {
		return nil, err
	}
	if limit == 0 || limit > 100 {
		return nil, badRequest("parameter %q must be between 1 and 100", "limit")
	}
	lt, err := p.uint("lt", 0)
	if err != nil {
		return nil, err
	}
	toLT, err := p.uint("to_lt", 0)
	if err != nil {
		return nil, err
	}
	from := chain.TxID{LT: lt}
	if h, ok := p.str("hash"); ok && h != "" {
		if lt == 0 {
			return nil, badRequest("parameter %q needs %q", "hash", "lt")
		}
		if from.Hash, err = decodeHash(h); err != nil {
			return nil, badRequest("parameter %q: %v", "hash", err)
		}
	}
	txs, err := s.e.Transactions(ctx, a, from, int(limit))
	if err != nil {
		return nil, err
	}
	out := make([]any, 0, len(txs))
	for _, t := range txs {
		if toLT != 0 && t.ID.LT <= toLT {
			break
		}
		out = append(out, encodeTx(a, t))
	}
	return out, nil
}

func (s *Server) getMasterchainInfo(ctx context.Context, _ params) (any, error) {
	info, err := s.e.MasterchainInfo(ctx)
	if err != nil {
		return nil, err
	}
	root := sha256.Sum256([]byte(fmt.Sprintf("devnet state %d", info.Seqno)))
	return map[string]any{
		"@type":           "blocks.masterchainInfo",
		"last":            blockID(info.Seqno),
		"state_root_hash": base64.StdEncoding.EncodeToString(root[:]),
		"init":            blockID(0),
	}, nil
}

func (s *Server) getBlockHeader(ctx context.Context, p params) (any, error) {
	seqno, err := p.uint("seqno", 0)
	if err != nil {
		return nil, err
	}
	if wc, ok := p.str("workchain"); ok && wc != "-1" {
		return nil, badRequest("the devnet has blocks only in the masterchain (workchain -1)")
	}
	if seqno > 1<<32-1 {
		return nil, badRequest("parameter %q out of range", "seqno")
	}
	b, err := s.e.Block(uint32(seqno))
	if err != nil {
		return nil, err
	}
	var prev []any
	if b.Seqno > 1 {
		prev = []any{blockID(b.Seqno - 1)}
	}
	return map[string]any{
		"@type":       "blocks.header",
		"id":          blockID(b.Seqno),
		"global_id":   -239,
		"version":     0,
		"flags":       0,
		"after_merge": false, "after_split": false, "before_split": false, "want_merge": false, "want_split": false,
		"validator_list_hash_short": 0,
		"catchain_seqno":            0,
		"min_ref_mc_seqno":          b.Seqno,
		"is_key_block":              b.Seqno == 1,
		"prev_key_block_seqno":      0,
		"start_lt":                  strconv.FormatUint(b.StartLT, 10),
		"end_lt":                    strconv.FormatUint(b.EndLT, 10),
		"gen_utime":                 b.Time,
		"prev_blocks":               prev,
	}, nil
}

func (s *Server) estimateFee(ctx context.Context, p params) (any, error) {
	a, err := p.address("address")
	if err != nil {
		return nil, err
	}
	body, err := p.boc("body", false)
	if err != nil {
		return nil, err
	}
	code, err := p.boc("init_code", true)
	if err != nil {
		return nil, err
	}
	data, err := p.boc("init_data", true)
	if err != nil {
		return nil, err
	}
	ignore, err := p.boolean("ignore_chksig", true)
	if err != nil {
		return nil, err
	}
	f, err := s.e.EstimateFee(ctx, a, body, code, data, ignore)
	if err != nil {
		var rej *devnet.RejectedError
		if errors.As(err, &rej) {
			return nil, &apiError{code: http.StatusUnprocessableEntity, msg: "estimating fee: " + err.Error()}
		}
		return nil, badRequest("%v", err)
	}
	return map[string]any{
		"@type": "query.fees",
		"source_fees": map[string]any{
			"@type":       "fees",
			"in_fwd_fee":  f.InFwdFee,
			"storage_fee": f.StorageFee,
			"gas_fee":     f.GasFee,
			"fwd_fee":     f.FwdFee,
		},
		"destination_fees": []any{},
	}, nil
}

// encodeTx renders a transaction as toncenter's raw.transaction.
func encodeTx(a *address.Address, t *chain.Transaction) map[string]any {
	fee := t.Tx.TotalFees.Coins.Nano()
	storage := new(big.Int)
	if d, ok := t.Tx.Description.(tlb.TransactionDescriptionOrdinary); ok && d.StoragePhase != nil {
		storage = d.StoragePhase.StorageFeesCollected.Nano()
	}
	res := map[string]any{
		"@type":          "raw.transaction",
		"address":        map[string]any{"@type": "accountAddress", "account_address": a.String()},
		"utime":          t.Now,
		"data":           base64.StdEncoding.EncodeToString(t.BOC),
		"transaction_id": txID(t.ID),
		"fee":            fee.String(),
		"storage_fee":    storage.String(),
		"other_fee":      new(big.Int).Sub(fee, storage).String(),
		"out_msgs":       []any{},
	}
	if t.Tx.IO.In != nil {
		res["in_msg"] = encodeMsg(t.Tx.IO.In)
	}
	if t.Tx.IO.Out != nil {
		if list, err := t.Tx.IO.Out.ToSlice(); err == nil {
			out := make([]any, 0, len(list))
			for i := range list {
				out = append(out, encodeMsg(&list[i]))
			}
			res["out_msgs"] = out
		}
	}
	return res
}

func addrString(a *address.Address) string {
	if a == nil || a.Type() != address.StdAddress {
		return ""
	}
	return a.String()
}

func encodeMsg(m *tlb.Message) map[string]any {
	res := map[string]any{
		"@type": "raw.message", "source": "", "destination": "", "value": "0",
		"fwd_fee": "0", "ihr_fee": "0", "created_lt": "0",
	}
	var body *cell.Cell
	var init *tlb.StateInit
	switch x := m.Msg.(type) {
	case *tlb.InternalMessage:
		res["source"], res["destination"] = addrString(x.SrcAddr), addrString(x.DstAddr)
		res["value"] = x.Amount.Nano().String()
		res["fwd_fee"] = x.FwdFee.Nano().String()
		res["ihr_fee"] = x.IHRFee.Nano().String()
		res["created_lt"] = strconv.FormatUint(x.CreatedLT, 10)
		res["bounce"], res["bounced"] = x.Bounce, x.Bounced
		body, init = x.Body, x.StateInit
	case *tlb.ExternalMessage:
		res["destination"] = addrString(x.DstAddr)
		body, init = x.Body, x.StateInit
	case *tlb.ExternalMessageOut:
		res["source"] = addrString(x.SrcAddr)
		res["created_lt"] = strconv.FormatUint(x.CreatedLT, 10)
		body, init = x.Body, x.StateInit
	}
	if body == nil {
		body = cell.BeginCell().EndCell()
	}
	initB64 := ""
	if init != nil {
		if c, err := tlb.ToCell(init); err == nil {
			initB64 = bocB64(c)
		}
	}
	res["body_hash"] = base64.StdEncoding.EncodeToString(body.Hash())
	res["msg_data"] = map[string]any{"@type": "msg.dataRaw", "body": bocB64(body), "init_state": initB64}
	res["message"] = bocB64(body)
	return res
}

// decodeStackParam reads toncenter's request stack: [["num", "0x1"], ["tvm.Cell", "b64"], …].
// In a GET query the stack arrives as a JSON string.
func decodeStackParam(v any) ([]any, error) {
	if v == nil {
		return nil, nil
	}
	if s, ok := v.(string); ok {
		if strings.TrimSpace(s) == "" {
			return nil, nil
		}
		var parsed any
		if err := jsonUnmarshal(s, &parsed); err != nil {
			return nil, badRequest("parameter %q: not a JSON array: %v", "stack", err)
		}
		v = parsed
	}
	list, ok := v.([]any)
	if !ok {
		return nil, badRequest("parameter %q must be an array of [type, value] pairs", "stack")
	}
	out := make([]any, 0, len(list))
	for i, e := range list {
		pair, ok := e.([]any)
		if !ok || len(pair) == 0 {
			return nil, badRequest("stack entry %d must be a [type, value] pair", i)
		}
		typ, _ := pair[0].(string)
		var val any
		if len(pair) > 1 {
			val = pair[1]
		}
		item, err := decodeStackEntry(typ, val)
		if err != nil {
			return nil, badRequest("stack entry %d (%s): %v", i, typ, err)
		}
		out = append(out, item)
	}
	if err := boc.CheckStack(out); err != nil {
		return nil, badRequest("parameter %q: %v", "stack", err)
	}
	return out, nil
}

func decodeStackEntry(typ string, val any) (any, error) {
	switch typ {
	case "num", "int", "number":
		var s string
		switch x := val.(type) {
		case string:
			s = x
		case float64:
			s = strconv.FormatFloat(x, 'f', -1, 64)
		default:
			return nil, errors.New("a number must be a string or a JSON number")
		}
		neg := strings.HasPrefix(s, "-")
		s = strings.TrimPrefix(s, "-")
		n, ok := new(big.Int), false
		if strings.HasPrefix(s, "0x") || strings.HasPrefix(s, "0X") {
			n, ok = n.SetString(s[2:], 16)
		} else {
			n, ok = n.SetString(s, 10)
		}
		if !ok {
			return nil, fmt.Errorf("%q is not an integer", val)
		}
		if neg {
			n.Neg(n)
		}
		if err := boc.CheckInt(n); err != nil {
			return nil, err
		}
		return n, nil
	case "null":
		return nil, nil
	case "tvm.Cell", "cell", "tvm.Slice", "slice", "tvm.Builder", "builder":
		s, ok := val.(string)
		if !ok {
			if m, isMap := val.(map[string]any); isMap {
				s, ok = m["bytes"].(string)
			}
		}
		if !ok {
			return nil, errors.New("expected a base64 BOC")
		}
		c, err := boc.ParseStackCell(s, typ == "tvm.Slice" || typ == "slice")
		if err != nil {
			return nil, err
		}
		switch typ {
		case "tvm.Slice", "slice":
			return c.BeginParse(), nil
		case "tvm.Builder", "builder":
			return c.ToBuilder(), nil
		}
		return c, nil
	default:
		return nil, fmt.Errorf("unsupported stack entry type %q", typ)
	}
}

// encodeStack renders a result stack as toncenter does.
func encodeStack(stack []any) ([]any, error) {
	out := make([]any, 0, len(stack))
	for _, v := range stack {
		switch x := v.(type) {
		case nil:
			out = append(out, []any{"null"})
		case *big.Int:
			out = append(out, []any{"num", hexNum(x)})
		case *cell.Cell:
			out = append(out, []any{"cell", map[string]any{"bytes": bocB64(x)}})
		case *cell.Slice:
			c, err := x.ToCell()
			if err != nil {
				return nil, err
			}
			out = append(out, []any{"slice", map[string]any{"bytes": bocB64(c)}})
		case *cell.Builder:
			out = append(out, []any{"builder", map[string]any{"bytes": bocB64(x.EndCell())}})
		case []any:
			elems, err := encodeTupleElems(x)
			if err != nil {
				return nil, err
			}
			out = append(out, []any{"tuple", map[string]any{"@type": "tvm.tuple", "elements": elems}})
		case tlb.StackNaN:
			out = append(out, []any{"num", "NaN"})
		default:
			return nil, fmt.Errorf("cannot encode stack value of type %T", v)
		}
	}
	return out, nil
}

func hexNum(x *big.Int) string {
	if x.Sign() < 0 {
		return "-0x" + new(big.Int).Neg(x).Text(16)
	}
	return "0x" + x.Text(16)
}

func encodeTupleElems(items []any) ([]any, error) {
	out := make([]any, 0, len(items))
	for _, v := range items {
		switch x := v.(type) {
		case nil:
			out = append(out, map[string]any{"@type": "tvm.stackEntryTuple", "tuple": map[string]any{"@type": "tvm.tuple", "elements": []any{}}})
		case *big.Int:
			out = append(out, map[string]any{"@type": "tvm.stackEntryNumber", "number": map[string]any{"@type": "tvm.numberDecimal", "number": x.String()}})
		case *cell.Cell:
			out = append(out, map[string]any{"@type": "tvm.stackEntryCell", "cell": map[string]any{"@type": "tvm.cell", "bytes": bocB64(x)}})
		case *cell.Slice:
			c, err := x.ToCell()
			if err != nil {
				return nil, err
			}
			out = append(out, map[string]any{"@type": "tvm.stackEntrySlice", "slice": map[string]any{"@type": "tvm.slice", "bytes": bocB64(c)}})
		case []any:
			elems, err := encodeTupleElems(x)
			if err != nil {
				return nil, err
			}
			out = append(out, map[string]any{"@type": "tvm.stackEntryTuple", "tuple": map[string]any{"@type": "tvm.tuple", "elements": elems}})
		default:
			return nil, fmt.Errorf("cannot encode tuple element of type %T", v)
		}
	}
	return out, nil
}
