package bindings

import (
	"crypto/ed25519"
	"errors"
	"fmt"

	"github.com/xssnick/tonutils-go/address"
	"github.com/xssnick/tonutils-go/tlb"
	"github.com/xssnick/tonutils-go/tvm/cell"
)

// Receipt is a worker's signed statement that it served (or could not
// serve) a job. It travels as the body of an external message to the Job:
// signature:bits512 receipt:^Receipt, signed over the Receipt cell's hash.
type Receipt struct {
	_            tlb.Magic        `tlb:"#c0c00070"`
	Job          *address.Address `tlb:"addr"`
	RequestHash  [32]byte         `tlb:"bits 256"`
	ResultHash   [32]byte         `tlb:"bits 256"` // sha256 of the sealed result
	InputTokens  uint32           `tlb:"## 32"`
	OutputTokens uint32           `tlb:"## 32"`
	Failed       bool             `tlb:"bool"`    // the worker could not serve: full refund, no slash
	Result       *cell.Cell       `tlb:"maybe ^"` // inline sealed result, when small
}

// receiptBody is the body of the external message that carries a signed
// receipt to its Job.
type receiptBody struct {
	Signature []byte     `tlb:"bits 512"`
	Receipt   *cell.Cell `tlb:"^"`
}

// SignReceipt builds the external message body of a receipt, signed with
// the worker key the job accepted.
func SignReceipt(key ed25519.PrivateKey, r Receipt) (*cell.Cell, error) {
	if len(key) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("signing receipt: private key has %d bytes, want %d", len(key), ed25519.PrivateKeySize)
	}
	rc, err := Encode(r)
	if err != nil {
		return nil, fmt.Errorf("signing receipt: %w", err)
	}
	return ReceiptBody(ed25519.Sign(key, rc.Hash()), rc)
}

// ReceiptBody assembles signature:bits512 receipt:^Receipt from parts, for
// signers that keep the key elsewhere (and for tests of bad signatures).
func ReceiptBody(sig []byte, receipt *cell.Cell) (*cell.Cell, error) {
	if len(sig) != ed25519.SignatureSize {
		return nil, fmt.Errorf("receipt signature has %d bytes, want %d", len(sig), ed25519.SignatureSize)
	}
	return Encode(receiptBody{Signature: sig, Receipt: receipt})
}

// ParseReceiptBody splits a receipt message body into signature and receipt.
func ParseReceiptBody(body *cell.Cell) (sig []byte, r *Receipt, err error) {
	rb, err := Parse[receiptBody](body)
	if err != nil {
		return nil, nil, err
	}
	r, err = Parse[Receipt](rb.Receipt)
	if err != nil {
		return nil, nil, err
	}
	return rb.Signature, r, nil
}

// VerifyReceipt checks a receipt message body's signature against a worker key.
func VerifyReceipt(pub ed25519.PublicKey, body *cell.Cell) (*Receipt, error) {
	sig, r, err := ParseReceiptBody(body)
	if err != nil {
		return nil, err
	}
	rc := body.MustPeekRef(0)
	if !ed25519.Verify(pub, rc.Hash(), sig) {
		return nil, errors.New("receipt signature does not verify")
	}
	return r, nil
}

// ExternalMessage wraps body in an external inbound message to dst and
// returns its BOC, ready for chain.Network.SendExternal.
func ExternalMessage(dst *address.Address, body *cell.Cell) ([]byte, error) {
	c, err := tlb.ToCell(&tlb.ExternalMessage{DstAddr: dst, Body: body})
	if err != nil {
		return nil, fmt.Errorf("building external message to %s: %w", dst, err)
	}
	return c.ToBOC(), nil
}

// ReceiptMessage signs r and returns the external message BOC to r.Job.
func ReceiptMessage(key ed25519.PrivateKey, r Receipt) ([]byte, error) {
	body, err := SignReceipt(key, r)
	if err != nil {
		return nil, err
	}
	return ExternalMessage(r.Job, body)
}

// SignRenew builds a Renew of worker's registration, which is valid until
// validUntil now, signed with the worker key.
func SignRenew(key ed25519.PrivateKey, worker *address.Address, validUntil uint32, queryID uint64) (Renew, error) {
	if len(key) != ed25519.PrivateKeySize {
		return Renew{}, fmt.Errorf("signing renewal: private key has %d bytes, want %d", len(key), ed25519.PrivateKeySize)
	}
	auth, err := Encode(RenewAuth{Worker: worker, ValidUntil: validUntil})
	if err != nil {
		return Renew{}, fmt.Errorf("signing renewal: %w", err)
	}
	return Renew{QueryID: queryID, Signature: ed25519.Sign(key, auth.Hash())}, nil
}
