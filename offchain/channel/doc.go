// Package channel pays workers per request off chain, trustlessly, over
// Cocoon's one-way payment-channel contract (contracts/channel.tolk).
//
// A channel joins one payer (an app's gateway) and one payee (a worker,
// paid to its owner's wallet). The payer deposits; after each answer it
// signs a voucher — a SignedState saying "I have paid you S nanoton in
// total, this is my n-th voucher" — and the payee keeps the best one. No
// transaction per request: the chain sees the channel when it opens, is
// topped up, when the payee commits its earnings, and when it closes. The
// contract pays the payee up to the best voucher it is shown, so the payee
// needs nobody's cooperation to be paid; the payer can close alone too, and
// the payee's watcher answers such a close with its best voucher within
// the quarantine.
//
// # The exchange (what the gateway and worker carry over HTTP)
//
//	payer                                    payee (worker)
//	terms := payer.NewTerms(payeeKey, ownerAddr)
//	                      ── terms ──▶        ok := payee.Accept(ctx, terms, src)
//	                      ◀── ok ────
//	payer.Open(ctx, terms, ok, deposit)      (deploy with the deposit: one transaction)
//	v := payer.Pay(id, price)     ── v ──▶    payee.Receive(ctx, v)  (verify + store)
//	...                                       payee.CommitIfDue(ctx, id) (alone: the voucher suffices)
//	payer.Close(ctx, id, payeeCosigner)
//	                      ─ last voucher ─▶   payee.Cosign approves; payer submits
//	                                          payee.Close(ctx, id) closes alone, at once
//	payer.ForceClose → quarantine             payee.Watch answers with its voucher
//
// Vouchers travel as SignedState.String() (base64url of 89–104 bytes) and
// settlements as JSON; both sides verify everything they receive against
// the terms they stored, so the transport needs no trust. AcceptHandler
// and CosignHandler serve the payee's endpoints (PathAccept, PathCosign);
// Peer is their client and a Cosigner. The Message functions
// (OpenMessage, TopUpMessage, CommitMessage, CloseMessage,
// StartCloseMessage, FinishMessage) build each operation's message for
// other senders.
//
// # Rules both sides keep
//
//   - A voucher never goes backwards: each has a higher seqno and no lower
//     amount than the last; the payee refuses others (ErrStale,
//     ErrBackwards).
//   - Nothing beyond the deposit: the payer does not sign, and the payee
//     does not accept, a total above the payer's deposit (ErrOverDeposit);
//     the contract refuses such a voucher too.
//   - Write before acting: every voucher is stored (bbolt, fsynced) before
//     it is handed out or relied on, so a restart resumes from disk.
//   - A channel id is never reused: a closed channel redeployed with the
//     same terms would honour its old vouchers again, so Payer.Open and
//     Payer.TopUp refuse a closed channel.
//   - After agreeing to close, neither side signs or accepts vouchers.
//
// Policies: the payee commits when its uncommitted earnings pass
// PayeePolicy.CommitAbove (CommitIfDue, and the watcher's pass) and on
// shutdown (CommitAll); the payer tops up by PayerPolicy.TopUpAmount when
// less than TopUpBelow is left to promise (TopUpIfLow). docs/CHANNELS.md
// has the whole protocol, the contract's exit codes and the costs.
package channel
