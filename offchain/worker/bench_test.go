package worker

import (
	"context"
	"crypto/sha256"
	"fmt"
	"math/big"
	"path/filepath"
	"testing"

	"github.com/xssnick/tonutils-go/address"

	"github.com/cocoon-network/cocoon/bindings"
	"github.com/cocoon-network/cocoon/offchain/inference"
	"github.com/cocoon-network/cocoon/offchain/inference/reference"
	"github.com/cocoon-network/cocoon/offchain/seal"
)

// The worker's cost per job outside the chain waits, against calling the
// same engine directly: the difference is what the daemon adds (opening
// the request, sealing the answer, signing the receipt, three durable
// commits). scripts/workerbench runs both and reports the ratio.
//   go test -run '^$' -bench 'Engine|OffChain' ./offchain/worker/

const benchPrompt = "Summarise what a trusted execution environment protects, in a few words."

func benchChat(resultKey []byte) *inference.ChatRequest {
	return &inference.ChatRequest{V: inference.PlaintextVersion, Model: testModel, MaxTokens: 64,
		Messages: []inference.Message{{Role: "user", Content: benchPrompt}}, ResultKey: resultKey}
}

func BenchmarkEngineDirect(b *testing.B) {
	e := reference.New(reference.Config{})
	req := benchChat(nil).Request()
	b.ReportAllocs()
	for b.Loop() {
		s, err := e.Chat(context.Background(), req)
		if err != nil {
			b.Fatal(err)
		}
		if _, _, err := inference.Collect(s); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkWorkerOffChain(b *testing.B) {
	ctx := context.Background()
	dir := b.TempDir()
	id, err := InitIdentity(ctx, filepath.Join(dir, "keys"), seal.SuiteX25519)
	if err != nil {
		b.Fatal(err)
	}
	cfg := &Config{Root: "0:" + fmt.Sprintf("%064x", 1), Owner: "0:" + fmt.Sprintf("%064x", 2), MaxConcurrent: 1,
		Models: []ModelConfig{{Name: testModel, EngineModel: testModel, PriceIn: "1", PriceOut: "1"}}}
	d, err := New(cfg, id, Options{Engine: reference.New(reference.Config{})})
	if err != nil {
		b.Fatal(err)
	}
	if d.store, err = OpenJobStore(filepath.Join(dir, "state")); err != nil {
		b.Fatal(err)
	}
	defer d.store.Close()
	ck, _ := seal.GenerateKey(seal.SuiteX25519)
	pt, err := benchChat(ck.Public().Marshal()).Marshal()
	if err != nil {
		b.Fatal(err)
	}
	type job struct {
		addr  *address.Address
		env   []byte
		terms bindings.JobTerms
	}
	jobs := make([]job, 0, 4096)
	mk := func(i int) job {
		a := address.NewAddress(0, 0, func() []byte { h := sha256.Sum256([]byte(fmt.Sprint(i))); return h[:] }())
		env, err := seal.SealRequest(id.HPKE.Public(), jobAddr(a), pt)
		if err != nil {
			b.Fatal(err)
		}
		return job{a, env, bindings.JobTerms{ModelID: bindings.ModelID(testModel), Worker: d.self, PriceIn: big.NewInt(1), PriceOut: big.NewInt(1),
			MaxIn: 1000, MaxOut: 1000, Deadline: 1 << 31, ClientHPKEKey: seal.Commitment(ck.Public()), RequestHash: sha256.Sum256(env)}}
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		b.StopTimer()
		if i >= len(jobs) {
			jobs = append(jobs, mk(i))
		}
		j := jobs[i]
		i++
		b.StartTimer()
		r := &JobRecord{Job: j.addr.StringRaw(), State: StateRequest, Request: j.env, RequestHash: j.terms.RequestHash}
		if err := d.store.Put(r); err != nil {
			b.Fatal(err)
		}
		if err := d.run(ctx, j.addr, &j.terms, r); err != nil {
			b.Fatal(err)
		}
		if err := d.sign(ctx, j.addr, r); err != nil {
			b.Fatal(err)
		}
		if r.State != StateSigned || r.Failed {
			b.Fatalf("job ended in %s (failed=%v %s)", r.State, r.Failed, r.FailReason)
		}
	}
}
