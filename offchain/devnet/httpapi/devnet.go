package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"net/http"
	"strconv"
	"time"
)

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }

// faucet: POST /devnet/faucet {"address": A, "amount": NANOTON} sends a real
// transfer from the genesis wallet and answers once it is in a block.
func (s *Server) faucet(w http.ResponseWriter, r *http.Request) {
	var p params
	if err := decodeBody(r, &p); err != nil {
		s.reply(w, nil, nil, err)
		return
	}
	a, err := p.address("address")
	if err != nil {
		s.reply(w, nil, nil, err)
		return
	}
	amt, ok := p.str("amount")
	n, valid := new(big.Int).SetString(amt, 10)
	if !ok || !valid || n.Sign() <= 0 {
		s.reply(w, nil, nil, badRequest("parameter %q must be a positive amount in nanoton", "amount"))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.FaucetTimeout)
	defer cancel()
	tx, err := s.e.Faucet(ctx, a, n)
	if err != nil {
		s.reply(w, nil, nil, badRequest("%v", err))
		return
	}
	s.log.Info("faucet", "to", a.String(), "nanoton", n.String())
	s.reply(w, nil, map[string]any{
		"address":        a.String(),
		"amount":         n.String(),
		"transaction_id": txID(tx.ID),
		"faucet":         s.e.GenesisAddress().String(),
	}, nil)
}

// advance: POST /devnet/advance {"seconds": N} moves devnet time forward
// (the next block carries it), for tests of deadlines and delays.
func (s *Server) advance(w http.ResponseWriter, r *http.Request) {
	var p params
	if err := decodeBody(r, &p); err != nil {
		s.reply(w, nil, nil, err)
		return
	}
	secStr, _ := p.str("seconds")
	sec, err := strconv.ParseUint(secStr, 10, 64)
	if err != nil || sec > math.MaxUint32 {
		s.reply(w, nil, nil, badRequest("parameter %q must be a whole number of seconds from 0 to %d", "seconds", uint32(math.MaxUint32)))
		return
	}
	if err := s.e.AdvanceTime(time.Duration(sec) * time.Second); err != nil {
		s.reply(w, nil, nil, badRequest("%v", err))
		return
	}
	b, err := s.e.ProduceBlock(r.Context())
	s.reply(w, nil, b, err)
}

// produceBlock: POST /devnet/block produces a block now.
func (s *Server) produceBlock(w http.ResponseWriter, r *http.Request) {
	b, err := s.e.ProduceBlock(r.Context())
	s.reply(w, nil, b, err)
}

// publishLibrary: POST /devnet/library {"boc": base64 code} makes the code a
// public library (the devnet's stand-in for a masterchain librarian).
func (s *Server) publishLibrary(w http.ResponseWriter, r *http.Request) {
	var p params
	if err := decodeBody(r, &p); err != nil {
		s.reply(w, nil, nil, err)
		return
	}
	code, err := p.boc("boc", false)
	if err != nil {
		s.reply(w, nil, nil, err)
		return
	}
	if err := s.e.PublishLibrary(code); err != nil {
		s.reply(w, nil, nil, badRequest("%v", err))
		return
	}
	s.log.Info("library published", "hash", fmt.Sprintf("%x", code.Hash()))
	s.reply(w, nil, map[string]any{"hash": fmt.Sprintf("%x", code.Hash())}, nil)
}
