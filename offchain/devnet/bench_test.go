package devnet

import (
	"context"
	"math/big"
	"testing"
	"time"
)

// The devnet throughput benchmarks mirror tests/sandboxbench/bench.mjs, the
// same workloads on @ton/sandbox: signing happens before the clock starts,
// and each round sends one external per wallet (a wallet's next message
// needs the seqno its previous one set), then produces the block.
//   go test -run '^$' -bench . -benchtime 2000x ./offchain/devnet/

const benchWallets = 100

func benchEngine(b *testing.B) (*Engine, []*testWallet) {
	b.Helper()
	e, err := Open(context.Background(), Options{Dir: b.TempDir(), Clock: FixedClock(genesisTime)})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { e.Close() })
	ws := make([]*testWallet, benchWallets)
	var dones []<-chan FaucetResult
	for i := range ws {
		ws[i] = newTestWallet(b, byte(i+1))
		done, err := e.FaucetAsync(ws[i].addr, bigNano(100_000_000_000))
		if err != nil {
			b.Fatal(err)
		}
		dones = append(dones, done)
	}
	if err := e.Settle(context.Background(), 5); err != nil {
		b.Fatal(err)
	}
	for _, d := range dones {
		if r := <-d; r.err != nil {
			b.Fatal(r.err)
		}
	}
	// Deploy every wallet with a first transfer to its neighbour.
	for i, w := range ws {
		if _, err := e.SendExternal(context.Background(), w.transfer(b, 0, ws[(i+1)%len(ws)].addr, 1, false)); err != nil {
			b.Fatal(err)
		}
	}
	if err := e.Settle(context.Background(), 5); err != nil {
		b.Fatal(err)
	}
	return e, ws
}

// runRounds sends the pre-signed messages round by round and reports the
// rate of workload units per second.
func runRounds(b *testing.B, e *Engine, rounds [][][]byte, wantTxsPerMsg int, unit string) {
	b.Helper()
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	total := 0
	for _, round := range rounds {
		for _, m := range round {
			if _, err := e.SendExternal(ctx, m); err != nil {
				b.Fatal(err)
			}
		}
		blk, err := e.ProduceBlock(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if blk.Txs != len(round)*wantTxsPerMsg {
			b.Fatalf("block had %d transactions, want %d", blk.Txs, len(round)*wantTxsPerMsg)
		}
		total += len(round)
	}
	b.StopTimer()
	b.ReportMetric(float64(total)/time.Since(start).Seconds(), unit+"/s")
}

func BenchmarkWalletTransfers(b *testing.B) {
	e, ws := benchEngine(b)
	var rounds [][][]byte
	for n, seq := 0, uint32(1); n < b.N; seq++ {
		var round [][]byte
		for i := 0; i < len(ws) && n < b.N; i, n = i+1, n+1 {
			round = append(round, ws[i].transfer(b, seq, ws[(i+1)%len(ws)].addr, 10_000_000, false))
		}
		rounds = append(rounds, round)
	}
	// wallet external + the receiving wallet's internal
	runRounds(b, e, rounds, 2, "transfers")
}

func BenchmarkRelayChain(b *testing.B) {
	e, ws := benchEngine(b)
	r := deployRelays(b, e, ws[0], 1)
	var rounds [][][]byte
	for n, seq := 0, uint32(1); n < b.N; seq++ {
		var round [][]byte
		for i := 0; i < len(ws) && n < b.N; i, n = i+1, n+1 {
			s := seq
			if i == 0 {
				s++ // wallet 0 deployed the relays
			}
			round = append(round, ws[i].transfer(b, s, r[0], 50_000_000, true))
		}
		rounds = append(rounds, round)
	}
	// wallet, A, B, C
	runRounds(b, e, rounds, 4, "chains")
}

func bigNano(n int64) *big.Int { return big.NewInt(n) }
