package onlineproto

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"

	"github.com/xssnick/tonutils-go/address"
)

// ChannelScheme is the scheme name of payment-channel vouchers.
const ChannelScheme = "channel"

// CodeInsufficientDeposit is the error code of a 402 for a request the
// payer's channel deposit cannot cover: the payer should top it up.
const CodeInsufficientDeposit = "insufficient_deposit"

// IOU is a cumulative promise to pay, signed by the payer's Ed25519 key:
// "I owe Worker W a total of A nanoton". It is the payment scheme used
// until payment channels (issue 10) are wired in, and it is NOT backed by
// a deposit: a worker can prove what a payer promised, but cannot claim it
// on chain. Every party names it as what it is ("iou-unsecured").
type IOU struct {
	Payer  ed25519.PublicKey
	Worker *address.Address
	Amount *big.Int
	Sig    []byte
}

// IOUScheme is the scheme name IOUs report.
const IOUScheme = "iou-unsecured"

const iouDomain = "cocoon-iou-v1"

// iouSize is the encoded length: key, workchain, account, 16-byte amount, signature.
const iouSize = 32 + 4 + 32 + 16 + 64

func iouMessage(payer ed25519.PublicKey, worker *address.Address, amount *big.Int) ([]byte, error) {
	if amount.Sign() < 0 || amount.BitLen() > 128 {
		return nil, fmt.Errorf("iou amount %s out of range", amount)
	}
	m := make([]byte, 0, len(iouDomain)+1+iouSize-64)
	m = append(m, iouDomain...)
	m = append(m, 0)
	m = append(m, payer...)
	m = binary.BigEndian.AppendUint32(m, uint32(worker.Workchain()))
	m = append(m, worker.Data()...)
	var amt [16]byte
	amount.FillBytes(amt[:])
	return append(m, amt[:]...), nil
}

// SignIOU signs a cumulative IOU to worker with key.
func SignIOU(key ed25519.PrivateKey, worker *address.Address, amount *big.Int) ([]byte, error) {
	pub := key.Public().(ed25519.PublicKey)
	m, err := iouMessage(pub, worker, amount)
	if err != nil {
		return nil, err
	}
	out := append([]byte{}, m[len(iouDomain)+1:]...)
	return append(out, ed25519.Sign(key, m)...), nil
}

// ParseIOU decodes an encoded IOU (the signature is not checked).
func ParseIOU(b []byte) (*IOU, error) {
	if len(b) != iouSize {
		return nil, fmt.Errorf("iou: %d bytes, want %d", len(b), iouSize)
	}
	wc := int32(binary.BigEndian.Uint32(b[32:36]))
	return &IOU{
		Payer:  ed25519.PublicKey(b[:32]),
		Worker: address.NewAddress(0, byte(wc), b[36:68]),
		Amount: new(big.Int).SetBytes(b[68:84]),
		Sig:    b[84:],
	}, nil
}

// CheckSignature verifies the IOU's signature by its payer.
func (iou *IOU) CheckSignature() error {
	m, err := iouMessage(iou.Payer, iou.Worker, iou.Amount)
	if err != nil {
		return err
	}
	if !ed25519.Verify(iou.Payer, m, iou.Sig) {
		return errors.New("iou: bad signature")
	}
	return nil
}

// EncodeVoucher and DecodeVoucher are the Cocoon-Voucher header encoding.
func EncodeVoucher(v []byte) string { return base64.RawURLEncoding.EncodeToString(v) }

// DecodeVoucher is EncodeVoucher's inverse, bounded to 8 KiB.
func DecodeVoucher(h string) ([]byte, error) {
	if len(h) > 11000 {
		return nil, errors.New("voucher header too long")
	}
	return base64.RawURLEncoding.DecodeString(h)
}
