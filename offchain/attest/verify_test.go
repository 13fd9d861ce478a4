package attest_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/cocoon-network/cocoon/offchain/attest"
	"github.com/cocoon-network/cocoon/offchain/attest/check"
	"github.com/cocoon-network/cocoon/offchain/attest/dev"
	"github.com/cocoon-network/cocoon/offchain/attest/nvgpu"
	"github.com/cocoon-network/cocoon/offchain/attest/sevsnp"
	"github.com/cocoon-network/cocoon/offchain/attest/tdx"
	"github.com/cocoon-network/cocoon/offchain/attest/tdx/tdxtest"
	"github.com/cocoon-network/cocoon/offchain/attest/tsm/tsmtest"
)

var (
	t0       = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	workerEd = attest.Key{Name: attest.KeyEd25519, Public: make([]byte, 32)}
	workerHP = attest.Key{Name: attest.KeyHPKE, Public: []byte("hpke public key bytes")}
)

func readFile(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func devBundle(t testing.TB, key ed25519.PrivateKey, image string, nonce []byte, at time.Time) *attest.Bundle {
	t.Helper()
	b, err := attest.NewBundle(context.Background(), &attest.DevSource{Key: key, Image: image}, nil,
		[]attest.Key{workerHP, workerEd}, nonce, at)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func allow(test bool, entries map[string][][]byte) *attest.Policy {
	return &attest.Policy{AllowList: &attest.StaticAllowList{Allowed: entries, Test: test}}
}

func hash(s string) []byte { h := sha256.Sum256([]byte(s)); return h[:] }

func clock(at time.Time) *attest.Verifier {
	return &attest.Verifier{Now: func() time.Time { return at }}
}

func TestVerifyDevBundle(t *testing.T) {
	pub, key, _ := ed25519.GenerateKey(rand.Reader)
	otherPub, _, _ := ed25519.GenerateKey(rand.Reader)
	nonce := []byte("challenge")
	b := devBundle(t, key, "cocoon-worker:1", nonce, t0)
	allowed := map[string][][]byte{attest.TEEDev: {hash("cocoon-worker:1")}}

	res, err := clock(t0.Add(time.Minute)).Verify(context.Background(), b, []attest.Key{workerEd}, nonce, allow(true, allowed))
	if err != nil {
		t.Fatal(err)
	}
	if !res.Insecure || len(res.Warnings) != 1 || res.Warnings[0] != dev.Warning || res.TCBStatus != attest.TCBStatusUnknown {
		t.Errorf("result %+v", res)
	}
	var ran []string
	for _, c := range res.Checks {
		ran = append(ran, c.Check+":"+string(c.Status))
	}
	want := "bundle_format:pass test_mode:pass evidence_parse:pass dev_signature:pass tcb_status:skip measurement_allowed:pass report_data:pass keys_sealed:skip expected_keys:pass nonce:pass freshness:pass"
	if strings.Join(ran, " ") != want {
		t.Errorf("checks\n got %s\nwant %s", strings.Join(ran, " "), want)
	}
	// The default policy wants a known TCB status of hardware TEEs only,
	// and a model's GPU requirement only for that model.
	if _, err := clock(t0).Verify(context.Background(), b, nil, nil, modelPolicy(allow(true, allowed).AllowList).ForModel("any-gpu")); err != nil {
		t.Errorf("dev bundle, default policy: %v", err)
	}

	tampered := devBundle(t, key, "cocoon-worker:1", nonce, t0)
	tampered.Keys[1].Public = []byte("another hpke key")
	for _, c := range []struct {
		name      string
		b         *attest.Bundle
		expected  []attest.Key
		nonce     []byte
		policy    *attest.Policy
		at        time.Time
		wantCheck string
	}{
		{"not in test mode", b, nil, nil, allow(false, allowed), t0, attest.CheckTestMode},
		{"image not allowed", b, nil, nil, allow(true, map[string][][]byte{attest.TEEDev: {hash("other")}}), t0, attest.CheckMeasurement},
		{"allowed for another TEE only", b, nil, nil, allow(true, map[string][][]byte{attest.TEETDX: {hash("cocoon-worker:1")}}), t0, attest.CheckMeasurement},
		{"unknown dev signer", b, nil, nil, &attest.Policy{AllowList: allow(true, allowed).AllowList, DevSigners: [][]byte{otherPub}}, t0, dev.CheckSignature},
		{"keys swapped after signing", tampered, nil, nil, allow(true, allowed), t0, attest.CheckReportData},
		{"expected key differs", b, []attest.Key{{Name: attest.KeyEd25519, Public: pub}}, nil, allow(true, allowed), t0, attest.CheckExpectedKeys},
		{"expected key missing", b, []attest.Key{{Name: "x25519", Public: pub}}, nil, allow(true, allowed), t0, attest.CheckExpectedKeys},
		{"other nonce", b, nil, []byte("another challenge"), allow(true, allowed), t0, attest.CheckNonce},
		{"stale", b, nil, nil, allow(true, allowed), t0.Add(25 * time.Hour), attest.CheckFreshness},
		{"from the future", b, nil, nil, allow(true, allowed), t0.Add(-time.Hour), attest.CheckFreshness},
		{"gpu required by the model", b, nil, nil, modelPolicy(allow(true, allowed).AllowList).ForModel("needs-gpu"), t0, attest.CheckGPURequired},
		{"gpu required", b, nil, nil, &attest.Policy{AllowList: allow(true, allowed).AllowList, RequireGPU: true}, t0, attest.CheckGPURequired},
		{"no policy", b, nil, nil, nil, t0, attest.CheckAllowList},
	} {
		t.Run(c.name, func(t *testing.T) {
			res, err := clock(c.at).Verify(context.Background(), c.b, c.expected, c.nonce, c.policy)
			if check.Name(err) != c.wantCheck {
				t.Fatalf("err = %v, want check %s", err, c.wantCheck)
			}
			last := res.Checks[len(res.Checks)-1]
			if last.Check != c.wantCheck || last.Status != check.Failed {
				t.Errorf("last check %+v", last)
			}
		})
	}
	// A shorter max age from the policy applies.
	p := allow(true, allowed)
	p.MaxAge = time.Minute
	if _, err := clock(t0.Add(2*time.Minute)).Verify(context.Background(), b, nil, nil, p); check.Name(err) != attest.CheckFreshness {
		t.Errorf("max age: %v", err)
	}
}

// The production TDX quote cannot vouch for our keys; wrapped into a
// bundle it must be refused for exactly that, or for its image first.
func TestVerifyProductionTDXQuoteInBundle(t *testing.T) {
	quote := readFile(t, "tdx/quote_v4.dat")
	q, err := tdx.ParseQuote(quote)
	if err != nil {
		t.Fatal(err)
	}
	ih := q.Body.ImageHash()
	at := time.Date(2023, 7, 1, 1, 0, 0, 0, time.UTC)
	b := &attest.Bundle{Version: 1, TEE: attest.TEETDX, Evidence: quote, Keys: []attest.Key{workerEd}, CreatedAt: at.Unix()}
	v := clock(at)
	res, err := v.Verify(context.Background(), b, nil, nil, allow(false, map[string][][]byte{attest.TEETDX: {ih[:]}}))
	if check.Name(err) != attest.CheckReportData {
		t.Fatalf("err = %v, want report_data", err)
	}
	if res.TCBStatus != attest.TCBStatusUnknown || string(res.ImageHash) != string(ih[:]) {
		t.Errorf("result %+v", res)
	}
	_, err = v.Verify(context.Background(), b, nil, nil, allow(false, nil))
	if check.Name(err) != attest.CheckMeasurement {
		t.Errorf("empty allow-list: %v", err)
	}
	// With collateral the TCB status is known, and NotSupported is refused
	// unless the policy accepts it.
	v.TDX.Collateral = tdx.NewDirSource("testdata/tdx/collateral", nil)
	p := allow(false, map[string][][]byte{attest.TEETDX: {ih[:]}})
	if _, err := v.Verify(context.Background(), b, nil, nil, p); check.Name(err) != attest.CheckTCBStatus {
		t.Errorf("default accepted statuses: %v", err)
	}
	p.AcceptedTCB = []string{"UpToDate", tdx.StatusNotSupported}
	if _, err := v.Verify(context.Background(), b, nil, nil, p); check.Name(err) != attest.CheckReportData {
		t.Errorf("NotSupported accepted: %v", err)
	}
	// As raw evidence it verifies, with nothing bound.
	res, err = v.VerifyEvidence(context.Background(), attest.TEETDX, quote, nil, &attest.Policy{AllowList: attest.NoAllowList{}, AcceptedTCB: p.AcceptedTCB})
	if err != nil || res.TCBStatus != tdx.StatusNotSupported || res.TCB == nil || res.TCB.QE != "UpToDate" {
		t.Errorf("raw quote: %v %+v", err, res)
	}
}

// The go-sev-guest report comes from a debuggable guest: refused unless in
// test mode, where it is flagged insecure (and then fails its binding).
func TestVerifyProductionSNPReportInBundle(t *testing.T) {
	report, vcek := readFile(t, "sevsnp/report.bin"), readFile(t, "sevsnp/vcek.der")
	rep, _ := sevsnp.ParseReport(report)
	ih := rep.ImageHash()
	at := time.Date(2023, 7, 1, 0, 0, 0, 0, time.UTC)
	b := &attest.Bundle{Version: 1, TEE: attest.TEESEVSNP, Evidence: report,
		Certs: []attest.Blob{{Name: sevsnp.CertVCEK, Data: vcek}}, Keys: []attest.Key{workerEd}, CreatedAt: at.Unix()}
	allowed := map[string][][]byte{attest.TEESEVSNP: {ih[:]}}
	if _, err := clock(at).Verify(context.Background(), b, nil, nil, allow(false, allowed)); check.Name(err) != attest.CheckDebug {
		t.Errorf("production policy: %v", err)
	}
	res, err := clock(at).Verify(context.Background(), b, nil, nil, allow(true, allowed))
	if check.Name(err) != attest.CheckReportData || !res.Insecure {
		t.Errorf("test mode: %v, insecure %v", err, res.Insecure)
	}
	b.Certs = nil
	if _, err := clock(at).Verify(context.Background(), b, nil, nil, allow(true, allowed)); check.Name(err) != sevsnp.CheckCertChain {
		t.Errorf("without VCEK: %v", err)
	}
}

// TestVerifySyntheticTDXBundle runs the whole path: a quote requested
// through (emulated) configfs-tsm over the bundle's report data, signed by
// a fake Intel PKI, verified with collateral and policy.
func TestVerifySyntheticTDXBundle(t *testing.T) {
	f := tdxtest.New(t)
	var svn [16]byte
	svn[0] = 2
	for _, debug := range []bool{false, true} {
		k := &tsmtest.Kernel{Provider: tdx.ProviderName, Quote: func(in []byte) []byte {
			var rd [64]byte
			copy(rd[:], in)
			return f.Quote(5, tdxtest.BodyTD15, svn, rd, debug)
		}}
		src := &attest.TDXSource{TSM: *k.Client(t)}
		b, err := attest.NewBundle(context.Background(), src, nil, []attest.Key{workerEd, workerHP}, []byte{1, 2, 3}, t0)
		if err != nil {
			t.Fatal(err)
		}
		q, _ := tdx.ParseQuote(b.Evidence)
		ih := q.Body.ImageHash()
		v := &attest.Verifier{TDX: *f.Verifier(svn), Now: func() time.Time { return t0 }}
		res, err := v.Verify(context.Background(), b, []attest.Key{workerHP}, []byte{1, 2, 3}, allow(false, map[string][][]byte{attest.TEETDX: {ih[:]}}))
		if debug {
			if check.Name(err) != attest.CheckDebug {
				t.Errorf("debug TD: %v", err)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if res.TCBStatus != "UpToDate" || res.Insecure || string(res.Measurement) != string(q.Body.MRTD[:]) {
			t.Errorf("result %+v", res)
		}
		// The real GPU report passes every GPU check before the binding,
		// and cannot answer this bundle's nonce.
		gpuReport := readFile(t, "nvidia/report.bin")
		rep, _ := nvgpu.ParseReport(gpuReport)
		gpu := func(mode string) []attest.GPUEvidence {
			return []attest.GPUEvidence{{TEE: attest.TEENVIDIA, Evidence: gpuReport, CCMode: mode,
				Certs: []attest.Blob{{Name: attest.CertGPUChain, Data: readFile(t, "nvidia/cert_chain.pem")}}}}
		}
		pol := allow(false, map[string][][]byte{attest.TEETDX: {ih[:]}})
		matching := &nvgpu.Reference{Name: "545.00", Measurements: map[int][]nvgpu.Hex{2: {nvgpu.Hex(rep.Blocks[1].Value)}}}
		other := &nvgpu.Reference{Name: "another driver", Measurements: map[int][]nvgpu.Hex{2: {make(nvgpu.Hex, 48)}}}
		for _, g := range []struct {
			name string
			mode string
			ref  *nvgpu.Reference
			want string
		}{
			{"CC mode not stated", "", nil, attest.CheckGPUCCMode},
			{"devtools mode outside test mode", attest.GPUCCDevTools, nil, attest.CheckGPUCCMode},
			{"measurements unlike the RIM's", attest.GPUCCOn, other, nvgpu.CheckReference},
			{"measurements match the RIM's", attest.GPUCCOn, matching, attest.CheckGPUNonce},
			{"no reference values", attest.GPUCCOn, nil, attest.CheckGPUNonce},
		} {
			b.GPUs = gpu(g.mode)
			p := *pol
			p.GPUReference = g.ref
			if _, err := v.Verify(context.Background(), b, nil, nil, &p); check.Name(err) != g.want {
				t.Errorf("GPU evidence, %s: %v, want check %s", g.name, err, g.want)
			}
		}
		b.GPUs = gpu(attest.GPUCCOn)
		res, err = v.Verify(context.Background(), b, nil, nil, pol)
		if check.Name(err) != attest.CheckGPUNonce {
			t.Errorf("GPU evidence: %v", err)
		}
		var gpuChecks int
		for _, c := range res.Checks {
			if c.Check == nvgpu.CheckCertChain || c.Check == nvgpu.CheckSignature {
				gpuChecks++
			}
		}
		if gpuChecks != 2 {
			t.Errorf("GPU chain and signature checks ran %d times", gpuChecks)
		}
	}
}

func TestVerifyGPUOnlyBundle(t *testing.T) {
	b := &attest.Bundle{Version: 1, TEE: attest.TEENVIDIA, Evidence: readFile(t, "nvidia/report.bin"),
		Certs: []attest.Blob{{Name: attest.CertGPUChain, Data: readFile(t, "nvidia/cert_chain.pem")}},
		Keys:  []attest.Key{workerEd}, CreatedAt: t0.Unix()}
	rep, _ := nvgpu.ParseReport(b.Evidence)
	mh := rep.MeasurementHash()
	// Outside test mode a GPU-only bundle is refused before anything else:
	// no CPU TEE vouches for the software holding the keys (issue 22).
	p := allow(false, map[string][][]byte{attest.TEENVIDIA: {mh[:]}})
	p.RequireGPU = true
	if _, err := clock(t0).Verify(context.Background(), b, nil, nil, p); check.Name(err) != attest.CheckTestMode || !strings.Contains(err.Error(), "GPU-only bundle") {
		t.Errorf("GPU-only bundle outside test mode: %v", err)
	}
	// In test mode its GPU checks run (and the real report cannot answer
	// this bundle's report data).
	res, err := clock(t0).Verify(context.Background(), b, nil, nil, allow(true, map[string][][]byte{attest.TEENVIDIA: {mh[:]}}))
	if check.Name(err) != attest.CheckReportData || len(res.GPUs) != 1 || res.GPUs[0].Driver == "" {
		t.Errorf("err = %v, gpus %+v", err, res.GPUs)
	}
	b.Certs = nil
	if _, err := clock(t0).Verify(context.Background(), b, nil, nil, allow(true, nil)); check.Name(err) != nvgpu.CheckCertChain {
		t.Errorf("no chain: %v", err)
	}
}

func TestNewBundleErrors(t *testing.T) {
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	if _, err := attest.NewBundle(context.Background(), &attest.DevSource{Key: key, Image: "x"}, nil, nil, nil, t0); err == nil {
		t.Error("bundle without keys")
	}
	if _, err := attest.NewBundle(context.Background(), &attest.DevSource{Key: key}, nil, []attest.Key{workerEd}, nil, t0); err == nil {
		t.Error("dev statement without image")
	}
	k := &tsmtest.Kernel{Provider: "sev_guest", Quote: func([]byte) []byte { return []byte{1} }}
	_, err := attest.NewBundle(context.Background(), &attest.TDXSource{TSM: *k.Client(t)}, nil, []attest.Key{workerEd}, nil, t0)
	if err == nil || !strings.Contains(err.Error(), "attest tdx") {
		t.Errorf("TDX source on an SEV guest: %v", err)
	}
}

func TestDetect(t *testing.T) {
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	raw, _ := devBundle(t, key, "x", nil, t0).Encode()
	for _, c := range []struct {
		in   []byte
		want string
	}{
		{readFile(t, "tdx/quote_v4.dat"), attest.KindTDX},
		{readFile(t, "sevsnp/report.bin"), attest.KindSNP},
		{readFile(t, "nvidia/report.bin"), attest.KindNVIDIA},
		{raw, attest.KindBundle},
		{[]byte("garbage"), ""},
		{make([]byte, 1184), ""},
	} {
		got, err := attest.Detect(c.in)
		if got != c.want || (err == nil) != (c.want != "") {
			t.Errorf("Detect = %q, %v; want %q", got, err, c.want)
		}
	}
}

// modelPolicy is the default policy with one model that needs GPUs.
func modelPolicy(al attest.AllowList) *attest.Policy {
	p := attest.DefaultPolicy(al)
	p.Models = map[string]attest.ModelPolicy{"needs-gpu": {RequireGPU: true}}
	return p
}

// TestKeyHolding: a bundle states how its keys are held; the statement is
// part of the report data (changing it breaks the binding), and a policy
// that requires sealed keys refuses plain, dev-sealed or unstated keys.
func TestKeyHolding(t *testing.T) {
	f := tdxtest.New(t)
	var svn [16]byte
	svn[0] = 2
	v := &attest.Verifier{TDX: *f.Verifier(svn), Now: func() time.Time { return t0 }}
	for _, c := range []struct {
		holding string
		want    string // failed check; "" passes
	}{
		{"", attest.CheckKeysSealed},
		{attest.KeyHoldingPlain, attest.CheckKeysSealed},
		{attest.KeyHoldingDev, attest.CheckKeysSealed},
		{attest.KeyHoldingSEVSNP, ""},
		{attest.KeyHoldingKeyRelease, ""},
	} {
		b := &attest.Bundle{Version: 1, TEE: attest.TEETDX, Keys: []attest.Key{workerEd}, CreatedAt: t0.Unix(), KeyHolding: c.holding}
		rd, err := b.ReportData()
		if err != nil {
			t.Fatal(err)
		}
		b.Evidence = f.Quote(4, tdxtest.BodyTD10, svn, rd, false)
		q, _ := tdx.ParseQuote(b.Evidence)
		ih := q.Body.ImageHash()
		p := allow(false, map[string][][]byte{attest.TEETDX: {ih[:]}})
		p.RequireSealedKeys = true
		res, err := v.Verify(context.Background(), b, nil, nil, p)
		if check.Name(err) != c.want {
			t.Errorf("key holding %q: %v, want check %q", c.holding, err, c.want)
		}
		if c.want == "" && res.KeyHolding != c.holding {
			t.Errorf("result key holding %q, want %q", res.KeyHolding, c.holding)
		}
		// The statement is signed with the rest: claiming sealed keys on
		// evidence made for plain ones breaks the binding.
		if c.holding == attest.KeyHoldingPlain {
			b.KeyHolding = attest.KeyHoldingSEVSNP
			if _, err := v.Verify(context.Background(), b, nil, nil, p); check.Name(err) != attest.CheckReportData {
				t.Errorf("a key holding changed after the quote: %v, want %s", err, attest.CheckReportData)
			}
		}
	}
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	if _, err := attest.NewBundleHolding(context.Background(), &attest.DevSource{Key: key, Image: "img"}, nil, []attest.Key{workerEd}, nil, t0, "in a drawer"); err == nil {
		t.Error("an unknown key holding was accepted")
	}
}
