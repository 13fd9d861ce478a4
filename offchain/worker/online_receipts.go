package worker

import (
	"net/http"
	"sync"
	"time"

	"github.com/cocoon-network/cocoon/offchain/internal/httpserve"
	"github.com/cocoon-network/cocoon/offchain/onlineproto"
)

// receiptBox keeps the latest signed usage receipts, by payer and request
// id, for a payer that did not get one with its answer: a stream the app
// (or the gateway) abandoned is charged for the tokens the worker sent
// before the hang-up, and that receipt never reached the payer. The payer
// fetches it (GET /v1/receipts/{id}) and pays exactly it (issue 18: such
// charges were never paid and used up the payer's credit).
type receiptBox struct {
	mu    sync.Mutex
	byKey map[string]*onlineproto.SignedUsage
	order []boxed // oldest first
}

type boxed struct {
	key string
	at  time.Time
}

// Bounds of the box: receipts are fetched within seconds of the answer,
// or by a gateway restarted after a crash (it tries for 2 minutes).
const (
	receiptBoxTTL = 10 * time.Minute
	receiptBoxMax = 8192
)

func receiptKey(payer, reqID string) string { return payer + "\x00" + reqID }

func (b *receiptBox) put(payer, reqID string, su *onlineproto.SignedUsage) {
	now := time.Now()
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.byKey == nil {
		b.byKey = map[string]*onlineproto.SignedUsage{}
	}
	k := receiptKey(payer, reqID)
	if _, ok := b.byKey[k]; !ok {
		b.order = append(b.order, boxed{key: k, at: now})
	}
	b.byKey[k] = su
	drop := 0
	for drop < len(b.order) && (len(b.order)-drop > receiptBoxMax || now.Sub(b.order[drop].at) > receiptBoxTTL) {
		delete(b.byKey, b.order[drop].key)
		drop++
	}
	b.order = b.order[drop:]
}

func (b *receiptBox) get(payer, reqID string) (*onlineproto.SignedUsage, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	su, ok := b.byKey[receiptKey(payer, reqID)]
	return su, ok
}

// receipt is GET /v1/receipts/{id}: the signed usage of one of the
// payer's requests, when the worker still has it.
func (o *online) receipt(w http.ResponseWriter, r *http.Request) {
	payer := r.Header.Get(onlineproto.HeaderPayer)
	if payer == "" || len(payer) > 256 {
		apiError(w, http.StatusBadRequest, "invalid_request_error", "payer_required", "send the %s header", onlineproto.HeaderPayer)
		return
	}
	id := r.PathValue("id")
	su, ok := o.receipts.get(payer, id)
	if !ok {
		// Charged before a restart: the store has it.
		su, ok = o.ledger.StoredReceipt(payer, id)
	}
	if !ok {
		apiError(w, http.StatusNotFound, "invalid_request_error", "no_receipt",
			"no receipt of request %.128q for this payer (kept %s after the answer)", id, receiptBoxTTL)
		return
	}
	httpserve.WriteJSON(w, http.StatusOK, onlineproto.CocoonExtension{Usage: su})
}
