// Package channel pays workers per request off chain, trustlessly, over
// TON's standard payment-channel contract (the code and TL-B types of
// github.com/xssnick/ton-payment-network/pkg/payments; Cocoon writes no
// channel contract of its own).
//
// A channel joins one payer (an app's gateway, side A of the contract) and
// one payee (a worker, side B). The payer deposits; after each answer it
// signs a voucher — a SignedState saying "I have sent you S nanoton in
// total, this is my n-th state" — and the payee keeps the best one. No
// transaction per request: the chain sees the channel only when it opens,
// is topped up, when the payee commits its earnings, and when it closes.
// Either side can close alone with the latest states it holds; a stale
// state submitted that way is challenged by the other side's watcher
// during the quarantine.
//
// # The exchange (what the gateway and worker carry over HTTP)
//
//	payer                                    payee (worker)
//	terms := payer.NewTerms(payeeKey, ownerAddr)
//	                      ── terms ──▶        hello := payee.Accept(ctx, terms)
//	                      ◀── hello ──
//	payer.Open(ctx, terms, hello, deposit)   (deploy + init + deposit, one wallet tx)
//	v := payer.Pay(id, price)     ── v ──▶    payee.Receive(ctx, v)  (verify + store)
//	...                                       payee.CommitIfDue(ctx, id, payerCosigner)
//	                      ◀─ commit ─         (payee proposes, payer.Cosign checks, payee submits)
//	payer.Close(ctx, id, payeeCosigner)
//	                      ─ close ─▶          payee.Cosign checks; payer submits
//	                                          payee.Watch(ctx, every) challenges stale closes
//
// Vouchers travel as SignedState.String() (base64url of 89–104 bytes) and
// settlements as JSON; both sides verify everything they receive against
// the terms they stored, so the transport needs no trust. AcceptHandler
// and CosignHandler serve a side's endpoints (PathAccept, PathCosign);
// Peer is their client and a Cosigner. The Message functions
// (OpenMessages, TopUpMessage, SettlementMessage, DisputeMessage,
// FinishMessage) build each operation's messages for other senders.
//
// # Rules both sides keep
//
//   - A state never goes backwards: each voucher has a higher seqno and no
//     lower amount than the last; the payee refuses others (ErrStale,
//     ErrBackwards).
//   - Nothing beyond the deposit: the payer does not sign, and the payee
//     does not accept, a total above the payer's deposit (ErrOverDeposit);
//     the contract refuses such a commit too.
//   - Write before acting: every state is stored (bbolt, fsynced) before it
//     is handed out or relied on, so a restart resumes from disk.
//   - The payer deposits only after it holds the payee's signed initial
//     state, and takes the payee's new state with every commit: it can
//     always close alone.
//   - After agreeing to close, neither side signs or accepts vouchers.
//
// Policies: the payee commits when its uncommitted earnings pass
// PayeePolicy.CommitAbove (CommitIfDue) and on shutdown (CommitAll); the
// payer tops up by PayerPolicy.TopUpAmount when less than TopUpBelow is
// left to promise (TopUpIfLow). docs/CHANNELS.md has the whole protocol,
// the contract's exit codes and the costs.
package channel
