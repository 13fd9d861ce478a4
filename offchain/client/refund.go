package client

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/xssnick/tonutils-go/address"
	"github.com/xssnick/tonutils-go/tlb"
	tonwallet "github.com/xssnick/tonutils-go/ton/wallet"

	"github.com/cocoon-network/cocoon/bindings"
	"github.com/cocoon-network/cocoon/offchain/chain"
	"github.com/cocoon-network/cocoon/offchain/chain/readers"
	"github.com/cocoon-network/cocoon/offchain/wallet"
)

// CloseValue is sent with Refund and Cancel: the Job's gas comes from the
// job's own reserve, and this value goes back with the refund to the
// job's client (so a third party that refunds someone's job gives it away).
const CloseValue = 20_000_000 // 0.02 TON

// ErrNotOpen is wrapped when Refund or Cancel finds the job already closed.
var ErrNotOpen = errors.New("the job is not open")

// Refund closes a job whose deadline passed without a receipt: the escrow
// goes back to the job's client and, if the worker had accepted, part of
// its stake too. Anyone may send it; w pays CloseValue plus the fee.
func (c *Client) Refund(ctx context.Context, w *wallet.Wallet, job *Job) (*Outcome, error) {
	jc := readers.NewJob(c.net, job.Address)
	d, err := c.openJob(ctx, job, jc)
	if err != nil {
		return nil, err
	}
	terms, err := jc.JobTerms(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading job %s: %w", job.Address, err)
	}
	info, err := c.net.MasterchainInfo(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading the chain's time: %w", err)
	}
	if info.Time <= terms.Deadline {
		left := time.Duration(int64(terms.Deadline)-int64(info.Time)+1) * time.Second
		return nil, fmt.Errorf("job %s is %s and its deadline %s has not passed (a refund is possible in %s)",
			job.Address, d.Status, time.Unix(int64(terms.Deadline), 0).UTC().Format(time.RFC3339), left)
	}
	if job.Deadline == 0 {
		job.Deadline = terms.Deadline
	}
	c.say("refunding job %s…", job.Address)
	return c.sendClose(ctx, w, job, bindings.Refund{QueryID: job.Nonce})
}

// Cancel closes a job its worker has not accepted yet; only the job's
// client (w) may. Workers accept on chain as soon as the offer arrives,
// so this is for an offer stuck at a worker that does not answer.
func (c *Client) Cancel(ctx context.Context, w *wallet.Wallet, job *Job) (*Outcome, error) {
	jc := readers.NewJob(c.net, job.Address)
	d, err := c.openJob(ctx, job, jc)
	if err != nil {
		return nil, err
	}
	if !d.Client.Equals(w.Address()) {
		return nil, fmt.Errorf("job %s belongs to client %s; only it can cancel (wallet %s)", job.Address, d.Client, w.Address())
	}
	if d.Status != bindings.JobOffered {
		return nil, fmt.Errorf("job %s is %s: only an offer not yet accepted can be cancelled; wait for the answer, or refund after the deadline", job.Address, d.Status)
	}
	c.say("cancelling job %s…", job.Address)
	return c.sendClose(ctx, w, job, bindings.Cancel{QueryID: job.Nonce})
}

// openJob reads job_data and refuses a job that is not open.
func (c *Client) openJob(ctx context.Context, job *Job, jc *readers.Job) (*readers.JobDataView, error) {
	d, err := jc.JobData(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading job %s: %w", job.Address, err)
	}
	if !d.Deployed {
		out, serr := c.Status(ctx, job)
		if out != nil && out.State.Closed() {
			return nil, fmt.Errorf("job %s: %w: %s", job.Address, ErrNotOpen, out.Reason)
		}
		if serr != nil && !isCloseError(serr) {
			return nil, serr
		}
		return nil, fmt.Errorf("job %s: %w: no Job contract at the address (%s)", job.Address, ErrNotOpen, d.AccountStatus)
	}
	return d, nil
}

func isCloseError(err error) bool {
	var ce *ClosedError
	var fe *FailedError
	var cr *CreateError
	return errors.As(err, &ce) || errors.As(err, &fe) || errors.As(err, &cr)
}

// sendClose sends m (Refund or Cancel) from w, waits for the Job's
// transaction and reports the closed job.
func (c *Client) sendClose(ctx context.Context, w *wallet.Wallet, job *Job, m bindings.Message) (*Outcome, error) {
	body, err := bindings.Encode(m)
	if err != nil {
		return nil, fmt.Errorf("building the message: %w", err)
	}
	wtx, err := w.Send(ctx, c.net, &tonwallet.Message{
		Mode: tonwallet.PayGasSeparately + tonwallet.IgnoreErrors,
		InternalMessage: &tlb.InternalMessage{
			IHRDisabled: true,
			Bounce:      true, // a refusal returns the value
			DstAddr:     job.Address,
			Amount:      tlb.FromNanoTON(big.NewInt(CloseValue)),
			Body:        body,
		},
	})
	if err != nil {
		return nil, fmt.Errorf("sending to job %s: %w", job.Address, err)
	}
	tx, err := c.waitInbound(ctx, job.Address, wtx)
	if err != nil {
		return nil, err
	}
	if o := outcomeOf(tx); !o.ok {
		code := bindings.ExitCode(o.exit)
		return nil, fmt.Errorf("job %s refused it with %s", job.Address, code)
	}
	out, err := c.Status(ctx, job)
	if err != nil && !isCloseError(err) {
		return out, err
	}
	return out, nil
}

// waitInbound waits for to's transaction of the message the wallet's
// transaction wtx sent it.
func (c *Client) waitInbound(ctx context.Context, to *address.Address, wtx *chain.Transaction) (*chain.Transaction, error) {
	wctx, cancel := context.WithTimeout(ctx, createWait)
	defer cancel()
	tx, err := chain.FollowOutbound(wctx, c.net, wtx, to, 0, c.poll)
	if err != nil {
		return nil, fmt.Errorf("waiting for %s to receive the message: %w", to, err)
	}
	return tx, nil
}
