package toncenter

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"strings"

	"github.com/xssnick/tonutils-go/address"
	"github.com/xssnick/tonutils-go/tvm/cell"

	"github.com/cocoon-network/cocoon/offchain/boc"
	"github.com/cocoon-network/cocoon/offchain/chain"
)

// bigNum is an integer toncenter writes either as a JSON number or as a
// string (it quotes 64-bit values such as lt inconsistently across methods);
// it is decoded without going through float64 so large values stay exact.
type bigNum struct{ big.Int }

func (n *bigNum) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if bytes.Equal(b, []byte("null")) {
		n.SetInt64(0)
		return nil
	}
	s := string(b)
	if len(b) > 0 && b[0] == '"' {
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
	}
	v, err := parseInt(s)
	if err != nil {
		return err
	}
	n.Set(v)
	return nil
}

func (n *bigNum) int64() (int64, error) {
	if !n.IsInt64() {
		return 0, fmt.Errorf("%s does not fit in int64", n.String())
	}
	return n.Int64(), nil
}

func (n *bigNum) uint64() (uint64, error) {
	if !n.IsUint64() {
		return 0, fmt.Errorf("%s does not fit in uint64", n.String())
	}
	return n.Uint64(), nil
}

// parseInt reads a decimal or 0x-prefixed hex integer, optionally negative
// ("-0x1f" is how toncenter writes negative stack numbers).
func parseInt(s string) (*big.Int, error) {
	s = strings.TrimSpace(s)
	digits, neg := s, false
	if strings.HasPrefix(digits, "-") {
		digits, neg = digits[1:], true
	}
	base := 10
	if strings.HasPrefix(digits, "0x") || strings.HasPrefix(digits, "0X") {
		digits, base = digits[2:], 16
	}
	if digits == "" || strings.HasPrefix(digits, "-") || strings.HasPrefix(digits, "+") {
		return nil, fmt.Errorf("invalid integer %q", s)
	}
	v, ok := new(big.Int).SetString(digits, base)
	if !ok {
		return nil, fmt.Errorf("invalid integer %q", s)
	}
	if neg {
		v.Neg(v)
	}
	return v, nil
}

// decodeBase64 accepts the standard and URL-safe alphabets, padded or not:
// toncenter itself uses standard padded base64, compatible servers vary.
func decodeBase64(s string) ([]byte, error) { return boc.DecodeBase64(s) }

// decodeBOC reads a BOC from a server's answer: untrusted, so through
// offchain/boc, which refuses malformed BOCs instead of panicking.
func decodeBOC(s string) (*cell.Cell, error) {
	c, err := boc.ParseBase64(s)
	if err != nil {
		return nil, fmt.Errorf("parsing BOC: %w", err)
	}
	return c, nil
}

func encodeBOC(c *cell.Cell) string { return base64.StdEncoding.EncodeToString(c.ToBOC()) }

// formatAddress renders addr the way toncenter clients conventionally send
// it (user-friendly, bounceable, URL-safe): every toncenter-compatible
// server accepts that form, not all accept the raw one.
func formatAddress(addr *address.Address) string {
	a := addr.Copy()
	a.SetBounce(true)
	a.SetTestnetOnly(false)
	return a.String()
}

type txIDJSON struct {
	LT   bigNum `json:"lt"`
	Hash string `json:"hash"`
}

func (t txIDJSON) toTxID() (chain.TxID, error) {
	lt, err := t.LT.uint64()
	if err != nil {
		return chain.TxID{}, fmt.Errorf("lt: %w", err)
	}
	var hash []byte
	if t.Hash != "" {
		if hash, err = decodeBase64(t.Hash); err != nil {
			return chain.TxID{}, fmt.Errorf("hash %q: %w", t.Hash, err)
		}
		if len(hash) != 32 {
			return chain.TxID{}, fmt.Errorf("hash %q is %d bytes, want 32", t.Hash, len(hash))
		}
	}
	return normTxID(lt, hash), nil
}

// normTxID maps toncenter's "lt 0, all-zero hash" (no transaction) to the
// zero TxID so that IsZero holds for it.
func normTxID(lt uint64, hash []byte) chain.TxID {
	if lt == 0 && isZeroBytes(hash) {
		return chain.TxID{}
	}
	return chain.TxID{LT: lt, Hash: hash}
}

func isZeroBytes(b []byte) bool {
	for _, x := range b {
		if x != 0 {
			return false
		}
	}
	return true
}
