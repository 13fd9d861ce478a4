package gateway

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"math/big"
	"net/http"

	"github.com/cocoon-network/cocoon/offchain/client"
	"github.com/cocoon-network/cocoon/offchain/onlineproto"
)

// Payer is the gateway's side of a payment scheme: it turns "I owe worker
// W a cumulative total of T nanoton" into a voucher the worker's
// worker.VoucherVerifier accepts. A channel-backed Payer opens (and tops
// up) a channel to W on demand inside Pay.
type Payer interface {
	// PayerID is what worker w knows the payer by (the Cocoon-Payer
	// header). On first use it prepares what paying w needs (a channel
	// agreed with w over hc, the worker's attested connection).
	PayerID(ctx context.Context, w *client.Worker, hc *http.Client) (string, error)
	// Scheme names the scheme for logs, /healthz and docs.
	Scheme() string
	// Pay returns a voucher paying w a cumulative total; a nil voucher
	// means none can be signed yet (a channel still opening): the total is
	// paid by a later voucher.
	Pay(ctx context.Context, w *client.Worker, total *big.Int) ([]byte, error)
	// Close settles what can be settled (commits channels) at shutdown.
	Close(ctx context.Context) error
}

// DepositToppingPayer is implemented by payers whose vouchers are backed by
// a deposit (payment channels): the gateway asks for a top-up when a worker
// refuses a request its channel's deposit cannot cover.
type DepositToppingPayer interface {
	// TopUpFor adds to the deposit of the channel with w, at most one
	// top-up at a time per channel; it returns when the chain shows it.
	TopUpFor(ctx context.Context, w *client.Worker) error
}

// ResumingPayer is implemented by payers whose vouchers outlive the
// gateway process (payment channels kept in a store): a restarted gateway
// continues each worker's cumulative total from what it already signed,
// and its spend (and so --budget) from what every earlier run signed.
type ResumingPayer interface {
	// Promised is the cumulative total already signed to w on the channel
	// in use (zero for a new channel).
	Promised(w *client.Worker) (*big.Int, error)
	// SpentBefore is what vouchers signed before this process started
	// pay in all, every channel of the store together.
	SpentBefore() (*big.Int, error)
}

// KeepingPayer is a Payer whose means of payment outlive the process
// (payment channels kept in a store). After each discovery the gateway
// hands it every newly found worker, so that a channel an earlier run
// opened is taken back (and closed at shutdown when the payer closes its
// channels) even if this run sends that worker no request.
type KeepingPayer interface {
	Resume(ctx context.Context, w *client.Worker, hc *http.Client)
}

// DurablePayer is a Payer that writes its vouchers behind (payment
// channels: channel.Store.PutBehind); Durable makes every voucher signed
// so far durable. The gateway's journal ends a paid request only after it.
type DurablePayer interface {
	Durable() error
}

// IOUPayer pays with signed IOUs (onlineproto.IOU): cumulative promises signed
// by the gateway's key, NOT backed by an on-chain deposit. It is what the
// gateway uses until payment channels (issue 10) are wired in, and it says
// so in Scheme.
type IOUPayer struct {
	Key ed25519.PrivateKey
}

// PayerID implements Payer: the hex public key, for every worker.
func (p *IOUPayer) PayerID(context.Context, *client.Worker, *http.Client) (string, error) {
	return hex.EncodeToString(p.Key.Public().(ed25519.PublicKey)), nil
}

// Scheme implements Payer.
func (p *IOUPayer) Scheme() string { return onlineproto.IOUScheme }

// Pay implements Payer.
func (p *IOUPayer) Pay(_ context.Context, w *client.Worker, total *big.Int) ([]byte, error) {
	return onlineproto.SignIOU(p.Key, w.Address, total)
}

// Close implements Payer: IOUs have nothing to settle.
func (p *IOUPayer) Close(context.Context) error { return nil }
