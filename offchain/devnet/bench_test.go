package devnet

import (
	"context"
	"encoding/base64"
	"math/big"
	"testing"
	"time"

	"github.com/xssnick/tonutils-go/tlb"

	"github.com/cocoon-network/cocoon/offchain/boc"
	"github.com/cocoon-network/cocoon/offchain/devnet/emulator"
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

// BenchmarkGetMethod is the cost of running get-methods in the emulator
// sandbox (child processes, the devnet's only way) against calling
// libemulator in-process, the design it replaced, which one hostile stack
// could abort (issue 24). Both run the genesis wallet's seqno.
//
//	go test -run '^$' -bench GetMethod -benchtime 3000x ./offchain/devnet/
func BenchmarkGetMethod(b *testing.B) {
	e, err := Open(context.Background(), Options{Dir: b.TempDir(), Clock: FixedClock(genesisTime)})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { e.Close() })
	ctx := context.Background()
	b.Run("sandbox", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := e.RunGetMethod(ctx, e.GenesisAddress(), "seqno"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("sandbox-parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := e.RunGetMethod(ctx, e.GenesisAddress(), "seqno"); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	b.Run("in-process-unsafe", func(b *testing.B) {
		cfg, err := emulator.NewConfig(e.cfg.Base64())
		if err != nil {
			b.Fatal(err)
		}
		defer cfg.Close()
		st := tlb.NewStack()
		sc, _ := st.ToCell()
		acc, err := e.Account(ctx, e.GenesisAddress())
		if err != nil {
			b.Fatal(err)
		}
		call := emulator.GetMethodCall{
			Code:     base64.StdEncoding.EncodeToString(acc.Code.ToBOC()),
			Data:     base64.StdEncoding.EncodeToString(acc.Data.ToBOC()),
			Address:  e.GenesisAddress().StringRaw(),
			Balance:  acc.Balance.Uint64(),
			MethodID: int(tlb.MethodNameHash("seqno")),
			Stack:    base64.StdEncoding.EncodeToString(sc.ToBOC()),
		}
		b.ReportAllocs()
		for b.Loop() {
			// What the engine did per call before the sandbox: read the
			// account, encode its code and data, run, decode the stack.
			acc, err := e.Account(ctx, e.GenesisAddress())
			if err != nil {
				b.Fatal(err)
			}
			call.Code = base64.StdEncoding.EncodeToString(acc.Code.ToBOC())
			call.Data = base64.StdEncoding.EncodeToString(acc.Data.ToBOC())
			r, err := cfg.RunGetMethod(call)
			if err != nil || !r.Success {
				b.Fatal(r, err)
			}
			raw, _ := base64.StdEncoding.DecodeString(r.Stack)
			rc, err := boc.Parse(raw)
			if err != nil {
				b.Fatal(err)
			}
			var rs tlb.Stack
			if err := rs.LoadFromCell(rc.BeginParse()); err != nil {
				b.Fatal(err)
			}
		}
	})
}
