package contracts_test

import (
	"bytes"
	"math/big"
	"testing"

	"github.com/xssnick/tonutils-go/address"
	"github.com/xssnick/tonutils-go/tvm/cell"

	"github.com/cocoon-network/cocoon/bindings"
	"github.com/cocoon-network/cocoon/contracts"
	bt "github.com/cocoon-network/cocoon/offchain/contracttest"
)

func TestAddressDerivationMatchesRoot(t *testing.T) {
	f := newFixture(t)
	wh, jh, err := f.rootC.ChildCodeHashes(f.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(wh[:], f.env.Codes.Worker.Hash()) || !bytes.Equal(jh[:], f.env.Codes.Job.Hash()) {
		t.Fatalf("child_code_hashes %x %x differ from the embedded codes", wh, jh)
	}
	owners := []*address.Address{f.owner.Address, f.treasury.Address, address.NewAddress(0, 0, bytes.Repeat([]byte{0xff}, 32))}
	keys := [][32]byte{{}, hash("k1"), {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}}
	for _, o := range owners {
		for _, k := range keys {
			got, err := f.rootC.WorkerAddressOnChain(f.ctx, o, k)
			if err != nil {
				t.Fatal(err)
			}
			if want := bindings.WorkerAddress(f.root, o, k); !got.Equals(want) {
				t.Errorf("worker_address(%s, %x) = %s, bindings say %s", o, k[:4], got, want)
			}
		}
		for _, n := range []uint64{0, 1, 42, 1<<63 + 5, 1<<64 - 1} {
			got, err := f.rootC.JobAddressOnChain(f.ctx, o, n)
			if err != nil {
				t.Fatal(err)
			}
			if want := bindings.JobAddress(f.root, o, n); !got.Equals(want) {
				t.Errorf("job_address(%s, %d) = %s, bindings say %s", o, n, got, want)
			}
		}
	}
}

func TestRootGetters(t *testing.T) {
	f := newFixture(t)
	if o, err := f.rootC.Owner(f.ctx); err != nil || !o.Equals(f.owner.Address) {
		t.Errorf("owner() = %v, %v", o, err)
	}
	if p, err := f.rootC.PendingOwner(f.ctx); err != nil || p != nil {
		t.Errorf("pending_owner() = %v, %v; want none", p, err)
	}
	if v := f.version(); v != 3 {
		t.Errorf("version() = %d after three owner operations", v)
	}
	p, err := f.rootC.GetRootParams(f.ctx)
	if err != nil {
		t.Fatal(err)
	}
	wantParams(t, p, f.params)
	for _, tc := range []struct {
		tee  bindings.TEE
		m    [32]byte
		want bool
	}{
		{bindings.TEETDX, tdxMeas, true}, {bindings.TEEDev, devMeas, true},
		{bindings.TEESEVSNP, tdxMeas, false}, {bindings.TEETDX, snpMeas, false},
	} {
		if got, err := f.rootC.IsMeasurementAllowed(f.ctx, tc.tee, tc.m); err != nil || got != tc.want {
			t.Errorf("is_measurement_allowed(%s, %x) = %v, %v; want %v", tc.tee, tc.m[:4], got, err, tc.want)
		}
	}
	info, found, err := f.rootC.Model(f.ctx, modelID)
	if err != nil || !found || info.WeightsHash != hash("weights") || info.MinPriceIn.Cmp(minPriceIn) != 0 || info.MinPriceOut.Cmp(minPriceOut) != 0 {
		t.Errorf("model(%s) = %+v, %v, %v", modelName, info, found, err)
	}
	if _, found, err := f.rootC.Model(f.ctx, otherModel); err != nil || found {
		t.Errorf("model(other) found %v, %v", found, err)
	}
}

func wantParams(t *testing.T, got *bindings.RootParams, want bindings.RootParams) {
	t.Helper()
	if got.MinWorkerStake.Cmp(want.MinWorkerStake) != 0 || got.UnbondingDelay != want.UnbondingDelay ||
		got.ProtocolFeeBps != want.ProtocolFeeBps || !got.Treasury.Equals(want.Treasury) ||
		got.MinJobDeadline != want.MinJobDeadline || got.MaxJobDeadline != want.MaxJobDeadline ||
		got.SlashBps != want.SlashBps || got.TestMode != want.TestMode {
		t.Errorf("params() = %+v, want %+v", *got, want)
	}
}

// TestRootOwnerOperations runs each owner operation: it takes effect, bumps
// the version by one and returns the unspent value as Excesses.
func TestRootOwnerOperations(t *testing.T) {
	relayCode := contracts.MustCode("relay")
	newTreasury := address.NewAddress(0, 0, bytes.Repeat([]byte{0x7e}, 32))
	newOwner := address.NewAddress(0, 0, bytes.Repeat([]byte{0x0e}, 32))
	cases := []struct {
		name  string
		op    func(f *fixture) bindings.Message
		check func(t *testing.T, f *fixture)
	}{
		{"SetParams", func(f *fixture) bindings.Message {
			p := f.params
			p.ProtocolFeeBps, p.SlashBps, p.TestMode, p.MinWorkerStake = 10000, 0, true, bt.TON("1")
			p.MinJobDeadline, p.MaxJobDeadline = 5, 5
			return bindings.SetParams{QueryID: 11, Params: p}
		}, func(t *testing.T, f *fixture) {
			p, err := f.rootC.GetRootParams(f.ctx)
			if err != nil {
				t.Fatal(err)
			}
			want := f.params
			want.ProtocolFeeBps, want.SlashBps, want.TestMode, want.MinWorkerStake = 10000, 0, true, bt.TON("1")
			want.MinJobDeadline, want.MaxJobDeadline = 5, 5
			wantParams(t, p, want)
		}},
		{"AddMeasurement", func(*fixture) bindings.Message {
			return bindings.AddMeasurement{QueryID: 12, TEE: bindings.TEESEVSNP, Measurement: snpMeas}
		}, func(t *testing.T, f *fixture) {
			if ok, err := f.rootC.IsMeasurementAllowed(f.ctx, bindings.TEESEVSNP, snpMeas); err != nil || !ok {
				t.Errorf("added measurement not allowed: %v", err)
			}
		}},
		{"RemoveMeasurement", func(*fixture) bindings.Message {
			return bindings.RemoveMeasurement{QueryID: 13, TEE: bindings.TEETDX, Measurement: tdxMeas}
		}, func(t *testing.T, f *fixture) {
			if ok, err := f.rootC.IsMeasurementAllowed(f.ctx, bindings.TEETDX, tdxMeas); err != nil || ok {
				t.Errorf("removed measurement still allowed: %v", err)
			}
		}},
		{"AddModel", func(*fixture) bindings.Message {
			return bindings.AddModel{QueryID: 14, ModelID: otherModel, Info: bindings.ModelInfo{WeightsHash: hash("w2"), MinPriceIn: big.NewInt(1), MinPriceOut: big.NewInt(2)}}
		}, func(t *testing.T, f *fixture) {
			info, found, err := f.rootC.Model(f.ctx, otherModel)
			if err != nil || !found || info.WeightsHash != hash("w2") || info.MinPriceOut.Int64() != 2 {
				t.Errorf("added model: %+v %v %v", info, found, err)
			}
		}},
		{"RemoveModel", func(*fixture) bindings.Message {
			return bindings.RemoveModel{QueryID: 15, ModelID: modelID}
		}, func(t *testing.T, f *fixture) {
			if _, found, err := f.rootC.Model(f.ctx, modelID); err != nil || found {
				t.Errorf("removed model still found: %v", err)
			}
		}},
		{"SetTreasury", func(*fixture) bindings.Message {
			return bindings.SetTreasury{QueryID: 16, Treasury: newTreasury}
		}, func(t *testing.T, f *fixture) {
			p, err := f.rootC.GetRootParams(f.ctx)
			if err != nil || !p.Treasury.Equals(newTreasury) {
				t.Errorf("treasury after SetTreasury: %v %v", p, err)
			}
		}},
		{"UpgradeCode child", func(*fixture) bindings.Message {
			return bindings.UpgradeCode{QueryID: 17, WorkerCode: relayCode}
		}, func(t *testing.T, f *fixture) {
			wh, jh, err := f.rootC.ChildCodeHashes(f.ctx)
			if err != nil || !bytes.Equal(wh[:], relayCode.Hash()) || !bytes.Equal(jh[:], f.env.Codes.Job.Hash()) {
				t.Errorf("child code hashes after upgrade: %x %x %v", wh, jh, err)
			}
			// New workers derive from the new code.
			got, err := f.rootC.WorkerAddressOnChain(f.ctx, f.owner.Address, hash("k"))
			if err != nil {
				t.Fatal(err)
			}
			si, _ := bindings.WorkerStateInitWith(relayCode, f.root, f.owner.Address, hash("k"))
			if !got.Equals(bindings.StateInitAddress(si)) {
				t.Errorf("worker_address does not follow the upgraded code")
			}
		}},
		{"UpgradeCode root", func(f *fixture) bindings.Message {
			return bindings.UpgradeCode{QueryID: 18, RootCode: f.env.Codes.Root}
		}, func(t *testing.T, f *fixture) {
			acc, err := f.env.Chain.Account(f.ctx, f.root)
			if err != nil || !bytes.Equal(acc.Code.Hash(), f.env.Codes.Root.Hash()) {
				t.Errorf("root code after upgrade to itself: %v", err)
			}
			// State survives the upgrade.
			if o, err := f.rootC.Owner(f.ctx); err != nil || !o.Equals(f.owner.Address) {
				t.Errorf("owner after upgrade: %v %v", o, err)
			}
		}},
		{"ProposeOwner", func(*fixture) bindings.Message {
			return bindings.ProposeOwner{QueryID: 19, NewOwner: newOwner}
		}, func(t *testing.T, f *fixture) {
			if p, err := f.rootC.PendingOwner(f.ctx); err != nil || p == nil || !p.Equals(newOwner) {
				t.Errorf("pending owner: %v %v", p, err)
			}
			if o, _ := f.rootC.Owner(f.ctx); !o.Equals(f.owner.Address) {
				t.Error("the owner changed before acceptance")
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			v := f.version()
			op := tc.op(f)
			tr := f.send(f.owner, bt.Message(f.root, opValue, bt.Body(op)))
			f.noFailures(tr)
			if got := f.version(); got != v+1 {
				t.Errorf("version %d after %s, want %d", got, tc.name, v+1)
			}
			ex, sent := one[bindings.Excesses](f, tr)
			if !sent.To.Equals(f.owner.Address) || ex.QueryID != queryIDOf(op) {
				t.Errorf("Excesses %+v to %s, want query id %d to the owner", ex, sent.To, queryIDOf(op))
			}
			if sent.Value.Sign() <= 0 || sent.Value.Cmp(opValue) >= 0 {
				t.Errorf("Excesses returned %s of %s", sent.Value, opValue)
			}
			if timelocked[tc.name] {
				// Announced, not applied: Root's state is as before until the
				// timelock has passed and someone applies it.
				evs := tr.Events(f.root)
				ann, ok := evs[len(evs)-1].(*bindings.ChangeAnnouncedEvent)
				if !ok || ann.EffectiveAt != tr.Txs[1].Now+bindings.ChangeTimelock {
					t.Fatalf("events %+v, want a change announced for now + the timelock", evs)
				}
				if pc, err := f.rootC.PendingChange(f.ctx); err != nil || !pc.Announced || pc.EffectiveAt != ann.EffectiveAt {
					t.Fatalf("pending_change() = %+v, %v", pc, err)
				}
				if p, err := f.rootC.GetRootParams(f.ctx); err != nil || p.MinWorkerStake.Cmp(f.params.MinWorkerStake) != 0 || !p.Treasury.Equals(f.params.Treasury) {
					t.Errorf("params changed before the timelock: %+v %v", p, err)
				}
				if wh, jh, _ := f.rootC.ChildCodeHashes(f.ctx); !bytes.Equal(wh[:], f.env.Codes.Worker.Hash()) || !bytes.Equal(jh[:], f.env.Codes.Job.Hash()) {
					t.Error("codes changed before the timelock")
				}
				f.applyChange()
			}
			tc.check(t, f)
		})
	}
}

// timelocked are the owner operations that only announce a change.
var timelocked = map[string]bool{"SetParams": true, "SetTreasury": true, "UpgradeCode child": true, "UpgradeCode root": true}

func queryIDOf(m bindings.Message) uint64 {
	c := bindings.MustCell(bindings.Encode(m))
	s := c.BeginParse()
	s.MustLoadUInt(32)
	return s.MustLoadUInt(64)
}

// TestRootRefusals checks each refused operation by its exit code: the
// value bounces back to the sender and nothing changes.
func TestRootRefusals(t *testing.T) {
	f := newFixture(t)
	stranger := f.wallet("stranger", "100")
	badParams := func(adjust func(*bindings.RootParams)) bindings.Message {
		p := f.params
		adjust(&p)
		return bindings.SetParams{QueryID: 1, Params: p}
	}
	unknown := cell.BeginCell().MustStoreUInt(0x12345678, 32).MustStoreUInt(1, 64).EndCell()
	cases := []struct {
		name  string
		from  *bt.Wallet
		body  *cell.Cell
		value *big.Int
		code  bindings.ExitCode
	}{
		{"SetParams from a stranger", stranger, bt.Body(bindings.SetParams{Params: f.params}), opValue, bindings.ErrNotOwner},
		{"AddMeasurement from a stranger", stranger, bt.Body(bindings.AddMeasurement{TEE: bindings.TEETDX, Measurement: snpMeas}), opValue, bindings.ErrNotOwner},
		{"RemoveMeasurement from a stranger", stranger, bt.Body(bindings.RemoveMeasurement{TEE: bindings.TEETDX, Measurement: tdxMeas}), opValue, bindings.ErrNotOwner},
		{"AddModel from a stranger", stranger, bt.Body(bindings.AddModel{ModelID: otherModel, Info: bindings.ModelInfo{MinPriceIn: big.NewInt(0), MinPriceOut: big.NewInt(0)}}), opValue, bindings.ErrNotOwner},
		{"RemoveModel from a stranger", stranger, bt.Body(bindings.RemoveModel{ModelID: modelID}), opValue, bindings.ErrNotOwner},
		{"SetTreasury from a stranger", stranger, bt.Body(bindings.SetTreasury{Treasury: stranger.Address}), opValue, bindings.ErrNotOwner},
		{"UpgradeCode from a stranger", stranger, bt.Body(bindings.UpgradeCode{RootCode: contracts.MustCode("relay")}), opValue, bindings.ErrNotOwner},
		{"ProposeOwner from a stranger", stranger, bt.Body(bindings.ProposeOwner{NewOwner: stranger.Address}), opValue, bindings.ErrNotOwner},
		{"AcceptOwnership without a proposal", stranger, bt.Body(bindings.AcceptOwnership{}), opValue, bindings.ErrNotPendingOwner},
		{"fee above 100%", f.owner, bt.Body(badParams(func(p *bindings.RootParams) { p.ProtocolFeeBps = 10001 })), opValue, bindings.ErrBadArgument},
		{"slash above 100%", f.owner, bt.Body(badParams(func(p *bindings.RootParams) { p.SlashBps = 10001 })), opValue, bindings.ErrBadArgument},
		{"min deadline above max", f.owner, bt.Body(badParams(func(p *bindings.RootParams) { p.MinJobDeadline = p.MaxJobDeadline + 1 })), opValue, bindings.ErrBadArgument},
		{"unbonding delay not above the max deadline", f.owner, bt.Body(badParams(func(p *bindings.RootParams) { p.UnbondingDelay = p.MaxJobDeadline })), opValue, bindings.ErrBadArgument},
		{"treasury in workchain 5 (SetParams)", f.owner, bt.Body(badParams(func(p *bindings.RootParams) { p.Treasury = unreachable })), opValue, bindings.ErrBadArgument},
		{"treasury in workchain 5 (SetTreasury)", f.owner, bt.Body(bindings.SetTreasury{Treasury: unreachable}), opValue, bindings.ErrBadArgument},
		{"TEE type 0", f.owner, bt.Body(bindings.AddMeasurement{TEE: 0, Measurement: snpMeas}), opValue, bindings.ErrBadTEE},
		{"TEE type 5", f.owner, bt.Body(bindings.AddMeasurement{TEE: 5, Measurement: snpMeas}), opValue, bindings.ErrBadTEE},
		{"unknown opcode", f.owner, unknown, opValue, bindings.ErrUnknownOp},
		{"owner operation without gas", f.owner, bt.Body(bindings.SetTreasury{Treasury: stranger.Address}), bt.TON("0.005"), bindings.ErrInsufficientValue},
		{"RegisterWorker from a wallet", stranger, bt.Body(bindings.RegisterWorker{Owner: stranger.Address, WorkerKey: hash("k"), Stake: bt.TON("100"), TEE: bindings.TEETDX, Measurement: tdxMeas, Models: bindings.Models{modelID: {PriceIn: priceIn, PriceOut: priceOut}}}), opValue, bindings.ErrNotAWorker},
		{"WorkerDeactivated from a wallet", stranger, bt.Body(bindings.WorkerDeactivated{Owner: stranger.Address, WorkerKey: hash("k"), Reason: 1}), opValue, bindings.ErrNotAWorker},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f.t = t
			v := f.version()
			data := rootData(f)
			tr := f.send(tc.from, bt.Message(f.root, tc.value, tc.body))
			f.refused(tr, f.root, tc.code)
			f.bouncedTo(tr, tc.from.Address, tc.value)
			none[bindings.Excesses](f, tr)
			if got := f.version(); got != v {
				t.Errorf("version moved from %d to %d", v, got)
			}
			if !bytes.Equal(rootData(f), data) {
				t.Error("Root's data changed")
			}
			if ev := tr.Events(f.root); len(ev) != 0 {
				t.Errorf("events logged: %v", ev)
			}
		})
	}
}

func rootData(f *fixture) []byte {
	acc, err := f.env.Chain.Account(f.ctx, f.root)
	if err != nil {
		f.t.Fatal(err)
	}
	return acc.Data.Hash()
}

func TestOwnershipTransfer(t *testing.T) {
	f := newFixture(t)
	next := f.wallet("next owner", "10")
	stranger := f.wallet("stranger", "10")
	f.ownerOps(bindings.ProposeOwner{QueryID: 1, NewOwner: next.Address})
	v := f.version()

	tr := f.send(stranger, bt.Message(f.root, opValue, bt.Body(bindings.AcceptOwnership{QueryID: 2})))
	f.refused(tr, f.root, bindings.ErrNotPendingOwner)
	f.bouncedTo(tr, stranger.Address, opValue)

	tr = f.send(next, bt.Message(f.root, opValue, bt.Body(bindings.AcceptOwnership{QueryID: 3})))
	f.noFailures(tr)
	if ex, sent := one[bindings.Excesses](f, tr); ex.QueryID != 3 || !sent.To.Equals(next.Address) {
		t.Errorf("Excesses %+v to %s", ex, sent.To)
	}
	if o, err := f.rootC.Owner(f.ctx); err != nil || !o.Equals(next.Address) {
		t.Fatalf("owner after acceptance: %v %v", o, err)
	}
	if p, err := f.rootC.PendingOwner(f.ctx); err != nil || p != nil {
		t.Errorf("pending owner after acceptance: %v %v", p, err)
	}
	if got := f.version(); got != v+1 {
		t.Errorf("version %d, want %d", got, v+1)
	}
	// A second acceptance finds no proposal.
	tr = f.send(next, bt.Message(f.root, opValue, bt.Body(bindings.AcceptOwnership{QueryID: 4})))
	f.refused(tr, f.root, bindings.ErrNotPendingOwner)

	// The old owner is a stranger now; the new one operates.
	tr = f.send(f.owner, bt.Message(f.root, opValue, bt.Body(bindings.SetTreasury{Treasury: f.owner.Address})))
	f.refused(tr, f.root, bindings.ErrNotOwner)
	tr = f.send(next, bt.Message(f.root, opValue, bt.Body(bindings.SetTreasury{QueryID: 5, Treasury: next.Address})))
	f.noFailures(tr)
	f.applyChange()
	if p, _ := f.rootC.GetRootParams(f.ctx); !p.Treasury.Equals(next.Address) {
		t.Error("the new owner's SetTreasury did not apply")
	}
}

// TestStorageLayouts parses the contracts' own data with the bindings'
// storage parsers: every field where the contracts put it.
func TestStorageLayouts(t *testing.T) {
	f := newFixture(t)
	miner := f.wallet("miner", "100")
	client := f.wallet("client", "100")
	w := f.activeWorker("w", miner, bt.TON("20"))
	j := f.newJob(client, 1, f.terms(w.addr, "1"))
	f.accepted(j)
	data := func(a *address.Address) *cell.Cell {
		acc, err := f.env.Chain.Account(f.ctx, a)
		if err != nil {
			t.Fatal(err)
		}
		return acc.Data
	}

	rs, err := bindings.Parse[bindings.RootStorage](data(f.root))
	if err != nil {
		t.Fatal(err)
	}
	if !rs.Owner.Equals(f.owner.Address) || rs.PendingOwner != nil || rs.Version != 3 || len(rs.Measurements) != 2 ||
		rs.Measurements[tdxMeas] != bindings.TEETDX || rs.Measurements[devMeas] != bindings.TEEDev || len(rs.Models) != 1 ||
		rs.Models[modelID].MinPriceIn.Cmp(minPriceIn) != 0 || !bytes.Equal(rs.Codes.JobCode.Hash(), f.env.Codes.Job.Hash()) ||
		!bytes.Equal(rs.Codes.WorkerCode.Hash(), f.env.Codes.Worker.Hash()) {
		t.Errorf("root storage %+v", rs)
	}
	wantParams(t, &rs.Params, f.params)

	ws, err := bindings.Parse[bindings.WorkerStorage](data(w.addr))
	if err != nil {
		t.Fatal(err)
	}
	p := profile("w")
	if !ws.Root.Equals(f.root) || !ws.Owner.Equals(miner.Address) || ws.WorkerKey != w.pub() || ws.Status != bindings.WorkerActive || ws.State == nil {
		t.Fatalf("worker storage %+v", ws)
	}
	st := ws.State
	if st.Stake.Cmp(bt.TON("20")) != 0 || st.Profile.Endpoint != p.Endpoint || st.Profile.HPKEKey != p.HPKEKey || len(st.Profile.Models) != 1 ||
		st.Snapshot == nil || st.Snapshot.FeeBps != feeBps || !bytes.Equal(st.Snapshot.JobCode.Hash(), f.env.Codes.Job.Hash()) {
		t.Errorf("worker state %+v", st)
	}

	js, err := bindings.Parse[bindings.JobStorage](data(j.addr))
	if err != nil {
		t.Fatal(err)
	}
	if !js.Root.Equals(f.root) || !js.Client.Equals(client.Address) || js.Nonce != 1 || js.Status != bindings.JobAccepted || js.State == nil {
		t.Fatalf("job storage %+v", js)
	}
	s := js.State
	if s.WorkerKey != w.pub() || s.FeeBps != feeBps || !s.Treasury.Equals(f.treasury.Address) || s.Terms.RequestHash != j.terms.RequestHash ||
		!s.Terms.Worker.Equals(w.addr) || s.Terms.MaxIn != j.terms.MaxIn || s.Request == nil || !bytes.Equal(s.Request.Hash(), requestCell(1).Hash()) {
		t.Errorf("job state %+v", s)
	}
	// And the initial data the addresses derive from is what a fresh
	// deploy carries: re-encoding the parsed state gives the same cells.
	for name, c := range map[string]*cell.Cell{"root": data(f.root), "worker": data(w.addr), "job": data(j.addr)} {
		var again *cell.Cell
		switch name {
		case "root":
			again, err = bindings.Encode(rs)
		case "worker":
			again, err = bindings.Encode(ws)
		case "job":
			again, err = bindings.Encode(js)
		}
		if err != nil || !bytes.Equal(again.Hash(), c.Hash()) {
			t.Errorf("%s storage does not re-encode to the contract's cell (%v)", name, err)
		}
	}
}
