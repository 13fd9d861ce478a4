package client

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xssnick/tonutils-go/address"

	"github.com/cocoon-network/cocoon/bindings"
	"github.com/cocoon-network/cocoon/offchain/attest"
	"github.com/cocoon-network/cocoon/offchain/attest/dev"
	"github.com/cocoon-network/cocoon/offchain/chain/readers"
	"github.com/cocoon-network/cocoon/offchain/seal"
)

const testModel = "llama-3.1-8b"

// fakeRoot is a Root on a fakeNet: params, an allow-list, and the events
// of the workers registered with it.
type fakeRoot struct {
	t        *testing.T
	net      *fakeNet
	addr     *address.Address
	testMode atomic.Bool
	allowed  map[[33]byte]bool // tee ‖ hash
	workers  map[[32]byte]*address.Address
	weights  [32]byte // the model's pinned weights hash
	gpu      bool     // the model requires GPU evidence (Root's flag)
}

func newFakeRoot(t *testing.T, net *fakeNet) *fakeRoot {
	r := &fakeRoot{t: t, net: net, addr: testAddr("root"), allowed: map[[33]byte]bool{}, workers: map[[32]byte]*address.Address{}}
	r.testMode.Store(true)
	net.get(r.addr, "params", func([]any) ([]any, error) {
		return []any{big.NewInt(10e9), big.NewInt(86400), big.NewInt(250), addrSlice(testAddr("treasury")), big.NewInt(60), big.NewInt(86400), big.NewInt(1000), boolInt(r.testMode.Load())}, nil
	})
	net.get(r.addr, "is_measurement_allowed", func(args []any) ([]any, error) {
		var k [33]byte
		k[0] = byte(args[0].(*big.Int).Int64())
		args[1].(*big.Int).FillBytes(k[1:])
		return []any{boolInt(r.allowed[k])}, nil
	})
	net.get(r.addr, "worker_address", func(args []any) ([]any, error) {
		var key [32]byte
		args[1].(*big.Int).FillBytes(key[:])
		if a, ok := r.workers[key]; ok {
			return []any{addrSlice(a)}, nil
		}
		return []any{addrSlice(testAddr("derived elsewhere"))}, nil
	})
	net.get(r.addr, "model", func([]any) ([]any, error) {
		return []any{big.NewInt(-1), u256(r.weights), big.NewInt(1), big.NewInt(1), boolInt(r.gpu)}, nil
	})
	return r
}

func (r *fakeRoot) allow(tee bindings.TEE, hash [32]byte) {
	var k [33]byte
	k[0] = byte(tee)
	copy(k[1:], hash[:])
	r.allowed[k] = true
}

// event records a Root transaction that logged ev.
func (r *fakeRoot) event(ev bindings.Message) {
	in, _ := internal(r.t, testAddr("some worker"), r.addr, 1e7, nil, false)
	r.net.addTx(r.addr, synthTx(r.t, in, 0, false, externalOut(r.t, r.addr, mustCell(r.t, ev))))
}

// fakeWorker is a registered worker: its contract's answers and its
// evidence server. Tests break one thing each.
type fakeWorker struct {
	name    string
	addr    *address.Address
	sign    ed25519.PrivateKey
	hpke    *seal.PrivateKey
	data    readers.WorkerDataView
	state   readers.WorkerStateView
	price   *bindings.ModelPrice
	bundle  *attest.Bundle
	served  []byte
	coll    []byte // served at /collateral when not nil
	status  int
	srv     *httptest.Server
	created time.Time
	// validUntil is when the registration lapses (registration()).
	validUntil uint32
}

const devImage = "cocoon-worker-dev"

func newFakeWorker(t *testing.T, r *fakeRoot, name string, priceIn, priceOut int64) *fakeWorker {
	t.Helper()
	w := &fakeWorker{name: name, addr: testAddr("worker " + name), status: http.StatusOK, created: time.Now()}
	seed := sha256.Sum256([]byte("sign " + name))
	w.sign = ed25519.NewKeyFromSeed(seed[:])
	var err error
	if w.hpke, err = seal.GenerateKey(seal.SuiteX25519); err != nil {
		t.Fatal(err)
	}
	w.price = &bindings.ModelPrice{PriceIn: big.NewInt(priceIn), PriceOut: big.NewInt(priceOut)}
	w.srv = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, req *http.Request) {
		if req.URL.Path == "/collateral" && w.coll != nil {
			_, _ = rw.Write(w.coll)
			return
		}
		if req.URL.Path != "/evidence" {
			http.Error(rw, `{"error":"not found"}`, http.StatusNotFound)
			return
		}
		if w.status != http.StatusOK {
			http.Error(rw, `{"error":"evidence unavailable"}`, w.status)
			return
		}
		_, _ = rw.Write(w.served)
	}))
	t.Cleanup(w.srv.Close)
	w.data = readers.WorkerDataView{Deployed: true, Root: r.addr, Owner: testAddr("owner " + name), WorkerKey: bindings.PublicKey256(w.sign.Public().(ed25519.PublicKey)), Status: bindings.WorkerActive}
	w.makeEvidence(t, []attest.Key{{Name: attest.KeyEd25519, Public: w.sign.Public().(ed25519.PublicKey)}, {Name: attest.KeyHPKE, Public: w.hpke.Public().Marshal()}})
	w.state = readers.WorkerStateView{
		Stake: big.NewInt(20e9), Earnings: new(big.Int), HPKEKey: seal.Commitment(w.hpke.Public()),
		AttestationHash: sha256.Sum256(w.served), TEE: bindings.TEEDev, Measurement: dev.Measurement(devImage),
		Endpoint: w.srv.URL, JobsCompleted: 10, TotalEarned: new(big.Int),
	}
	r.workers[w.data.WorkerKey] = w.addr
	r.allow(bindings.TEEDev, dev.Measurement(devImage))
	r.net.get(w.addr, "worker_data", func([]any) ([]any, error) {
		d := w.data
		return []any{addrSlice(d.Root), addrSlice(d.Owner), u256(d.WorkerKey), big.NewInt(int64(d.Status))}, nil
	})
	r.net.get(w.addr, "worker_state", func([]any) ([]any, error) {
		s := w.state
		ep, err := bindings.SnakeString(s.Endpoint)
		if err != nil {
			return nil, err
		}
		return []any{s.Stake, s.Earnings, big.NewInt(int64(s.UnbondingSince)), u256(s.HPKEKey), u256(s.AttestationHash),
			big.NewInt(int64(s.TEE)), u256(s.Measurement), ep, new(big.Int).SetUint64(s.JobsCompleted),
			new(big.Int).SetUint64(s.JobsFailed), new(big.Int).SetUint64(s.JobsSlashed), s.TotalEarned}, nil
	})
	w.validUntil = r.net.now + bindings.RegistrationTTL
	r.net.get(w.addr, "registration", func([]any) ([]any, error) {
		return []any{big.NewInt(int64(w.validUntil)), big.NewInt(1), big.NewInt(0), big.NewInt(0)}, nil
	})
	r.net.get(w.addr, "model_price", func(args []any) ([]any, error) {
		id := bindings.ModelID(testModel)
		if w.price == nil || args[0].(*big.Int).Cmp(u256(id)) != 0 {
			return []any{big.NewInt(0), big.NewInt(0), big.NewInt(0)}, nil
		}
		return []any{big.NewInt(-1), w.price.PriceIn, w.price.PriceOut}, nil
	})
	r.event(bindings.WorkerActivatedEvent{Worker: w.addr, WorkerKey: w.data.WorkerKey, TEE: bindings.TEEDev, Measurement: dev.Measurement(devImage), Version: 1})
	return w
}

// makeEvidence signs dev evidence for keys and serves it.
func (w *fakeWorker) makeEvidence(t *testing.T, keys []attest.Key) {
	t.Helper()
	devKey := ed25519.NewKeyFromSeed(make([]byte, 32))
	b, err := attest.NewBundle(context.Background(), &attest.DevSource{Key: devKey, Image: devImage}, nil, keys, nil, w.created)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := b.Encode()
	if err != nil {
		t.Fatal(err)
	}
	w.bundle, w.served = b, raw
	w.state.AttestationHash = sha256.Sum256(raw)
}

func TestActiveWorkers(t *testing.T) {
	a, b, c, d := testAddr("a"), testAddr("b"), testAddr("c"), testAddr("d")
	act := func(x *address.Address) RootEvent {
		return RootEvent{Event: &bindings.WorkerActivatedEvent{Worker: x}}
	}
	deact := func(x *address.Address) RootEvent {
		return RootEvent{Event: &bindings.WorkerDeactivatedEvent{Worker: x, Reason: bindings.DeactivatedUnbonding}}
	}
	// Newest first: b re-activated after a deactivation, c deactivated
	// after its activation, a activated twice (an update), d only active.
	events := []RootEvent{act(b), deact(c), act(a), deact(b), act(d), act(c), act(a), act(b)}
	got := activeWorkers(events)
	want := []*address.Address{b, a, d}
	if len(got) != len(want) {
		t.Fatalf("got %d workers, want %d", len(got), len(want))
	}
	for i := range want {
		if !got[i].Equals(want[i]) {
			t.Errorf("worker %d is %s, want %s", i, got[i], want[i])
		}
	}
}

func TestDiscover(t *testing.T) {
	ctx := context.Background()
	net := newFakeNet(uint32(time.Now().Unix()))
	r := newFakeRoot(t, net)
	good := newFakeWorker(t, r, "good", 1e9, 3e9)
	stale := newFakeWorker(t, r, "stale", 1e9, 3e9)
	gone := newFakeWorker(t, r, "gone", 1e9, 3e9)
	r.event(bindings.WorkerDeactivatedEvent{Worker: gone.addr, Reason: bindings.DeactivatedUnbonding})
	stale.created = time.Now().Add(-40 * 24 * time.Hour)
	stale.makeEvidence(t, stale.bundle.Keys)

	d, err := Discover(ctx, net, r.addr, testModel, DiscoverOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !d.TestMode || len(d.Workers) != 1 || !d.Workers[0].Address.Equals(good.addr) {
		t.Fatalf("workers %+v", d.Workers)
	}
	w := d.Workers[0]
	if !w.Insecure || len(d.Warnings()) != 1 || !strings.Contains(d.Warnings()[0], "INSECURE") {
		t.Errorf("dev evidence without the INSECURE warning: %v", d.Warnings())
	}
	if !w.HPKEKey.Equal(good.hpke.Public()) || !w.WorkerKey.Equal(good.sign.Public()) || w.Price.PriceOut.Int64() != 3e9 || w.Completed != 10 {
		t.Errorf("worker %+v", w)
	}
	if len(d.Refused) != 1 || !d.Refused[0].Worker.Equals(stale.addr) || d.Refused[0].Check != attest.CheckFreshness {
		t.Fatalf("refused %v", d.Refused)
	}

	// A longer max age admits the stale one.
	d, err = Discover(ctx, net, r.addr, testModel, DiscoverOptions{MaxEvidenceAge: 60 * 24 * time.Hour})
	if err != nil || len(d.Workers) != 2 {
		t.Fatalf("with a 60-day max age: %v, %v", d, err)
	}
}

func TestDiscoverRefusals(t *testing.T) {
	tests := []struct {
		name    string
		breakIt func(t *testing.T, r *fakeRoot, w *fakeWorker)
		check   string
	}{
		{"no Worker contract", func(t *testing.T, r *fakeRoot, w *fakeWorker) {
			w.addr = testAddr("nothing here")
		}, CheckDeployed},
		{"another Root's worker", func(t *testing.T, r *fakeRoot, w *fakeWorker) { w.data.Root = testAddr("other root") }, CheckRoot},
		{"pending", func(t *testing.T, r *fakeRoot, w *fakeWorker) { w.data.Status = bindings.WorkerPending }, CheckActive},
		{"unbonding", func(t *testing.T, r *fakeRoot, w *fakeWorker) { w.data.Status = bindings.WorkerUnbonding }, CheckActive},
		{"registration lapsed", func(t *testing.T, r *fakeRoot, w *fakeWorker) { w.validUntil = r.net.now - 1 }, CheckRegistration},
		{"an impostor contract", func(t *testing.T, r *fakeRoot, w *fakeWorker) { delete(r.workers, w.data.WorkerKey) }, CheckGenuine},
		{"model not served", func(t *testing.T, r *fakeRoot, w *fakeWorker) { w.price = nil }, CheckModel},
		{"endpoint not http", func(t *testing.T, r *fakeRoot, w *fakeWorker) { w.state.Endpoint = "ftp://example.com" }, CheckEndpoint},
		{"evidence unavailable", func(t *testing.T, r *fakeRoot, w *fakeWorker) { w.status = http.StatusServiceUnavailable }, CheckEvidenceFetch},
		{"evidence endpoint down", func(t *testing.T, r *fakeRoot, w *fakeWorker) { w.state.Endpoint = "http://127.0.0.1:1" }, CheckEvidenceFetch},
		{"evidence is not what the chain pins", func(t *testing.T, r *fakeRoot, w *fakeWorker) {
			w.state.AttestationHash = sha256.Sum256([]byte("other evidence"))
		}, CheckEvidenceHash},
		{"evidence not canonical", func(t *testing.T, r *fakeRoot, w *fakeWorker) {
			w.served = append(append([]byte(nil), w.served...), '\n')
			w.state.AttestationHash = sha256.Sum256(w.served)
		}, CheckEvidenceFormat},
		{"evidence of another TEE type", func(t *testing.T, r *fakeRoot, w *fakeWorker) { w.state.TEE = bindings.TEETDX }, CheckTEE},
		{"dev evidence outside test mode", func(t *testing.T, r *fakeRoot, w *fakeWorker) { r.testMode.Store(false) }, attest.CheckTestMode},
		{"image not on Root's allow-list", func(t *testing.T, r *fakeRoot, w *fakeWorker) { r.allowed = map[[33]byte]bool{} }, attest.CheckMeasurement},
		{"evidence for another receipt key", func(t *testing.T, r *fakeRoot, w *fakeWorker) {
			other := ed25519.NewKeyFromSeed(make([]byte, 32))
			w.makeEvidence(t, []attest.Key{{Name: attest.KeyEd25519, Public: other.Public().(ed25519.PublicKey)}, {Name: attest.KeyHPKE, Public: w.hpke.Public().Marshal()}})
		}, CheckReceiptKey},
		{"evidence for another HPKE key", func(t *testing.T, r *fakeRoot, w *fakeWorker) {
			other, _ := seal.GenerateKey(seal.SuiteX25519)
			w.makeEvidence(t, []attest.Key{{Name: attest.KeyEd25519, Public: w.sign.Public().(ed25519.PublicKey)}, {Name: attest.KeyHPKE, Public: other.Public().Marshal()}})
		}, CheckHPKEKey},
		{"evidence without an HPKE key", func(t *testing.T, r *fakeRoot, w *fakeWorker) {
			w.makeEvidence(t, []attest.Key{{Name: attest.KeyEd25519, Public: w.sign.Public().(ed25519.PublicKey)}})
		}, CheckHPKEKey},
		{"an HPKE key that does not parse", func(t *testing.T, r *fakeRoot, w *fakeWorker) {
			w.makeEvidence(t, []attest.Key{{Name: attest.KeyEd25519, Public: w.sign.Public().(ed25519.PublicKey)}, {Name: attest.KeyHPKE, Public: []byte{9, 9, 9}}})
		}, CheckHPKEKey},
		{"registered measurement differs from the evidence's image", func(t *testing.T, r *fakeRoot, w *fakeWorker) {
			w.state.Measurement = dev.Measurement("another image")
			r.allow(bindings.TEEDev, w.state.Measurement)
		}, CheckImage},
		{"evidence from the future", func(t *testing.T, r *fakeRoot, w *fakeWorker) {
			w.created = time.Now().Add(time.Hour)
			w.makeEvidence(t, w.bundle.Keys)
		}, attest.CheckFreshness},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			net := newFakeNet(uint32(time.Now().Unix()))
			r := newFakeRoot(t, net)
			w := newFakeWorker(t, r, "w", 1e9, 3e9)
			tc.breakIt(t, r, w)
			c := New(net, Options{Dir: t.TempDir()})
			_, err := c.VerifyWorker(context.Background(), r.addr, w.addr, testModel)
			var we *WorkerError
			if !errors.As(err, &we) {
				t.Fatalf("VerifyWorker: %v, want a refusal by %s", err, tc.check)
			}
			if we.Check != tc.check {
				t.Fatalf("refused by %s (%v), want %s", we.Check, we.Err, tc.check)
			}
			if !strings.Contains(we.Error(), w.addr.String()) {
				t.Errorf("the refusal does not name the worker: %v", we)
			}
		})
	}
}

func TestChainAllowList(t *testing.T) {
	ctx := context.Background()
	net := newFakeNet(1)
	r := newFakeRoot(t, net)
	m := dev.Measurement("img")
	r.allow(bindings.TEETDX, m)
	al := ChainAllowList{Root: readers.NewRoot(net, r.addr)}
	tests := []struct {
		tee     string
		hash    []byte
		want    bool
		wantErr bool
	}{
		{attest.TEETDX, m[:], true, false},
		{attest.TEESEVSNP, m[:], false, false},
		{attest.TEETDX, make([]byte, 32), false, false},
		{attest.TEETDX, m[:31], false, true},
		{"sgx", m[:], false, true},
	}
	for _, tc := range tests {
		got, err := al.MeasurementAllowed(ctx, tc.tee, tc.hash)
		if got != tc.want || (err != nil) != tc.wantErr {
			t.Errorf("MeasurementAllowed(%s, %x) = %v, %v", tc.tee, tc.hash, got, err)
		}
	}
	for _, mode := range []bool{true, false} {
		r.testMode.Store(mode)
		if got, err := al.TestMode(ctx); got != mode || err != nil {
			t.Errorf("TestMode = %v, %v; want %v", got, err, mode)
		}
	}
}
