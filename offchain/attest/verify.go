package attest

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/cocoon-network/cocoon/offchain/attest/check"
	"github.com/cocoon-network/cocoon/offchain/attest/dev"
	"github.com/cocoon-network/cocoon/offchain/attest/nvgpu"
	"github.com/cocoon-network/cocoon/offchain/attest/sevsnp"
	"github.com/cocoon-network/cocoon/offchain/attest/tdx"
)

// Names of the checks Verify runs itself; the TEE packages name theirs
// (tdx.Check*, sevsnp.Check*, nvgpu.Check*, dev.CheckSignature).
const (
	CheckBundle         = "bundle_format"
	CheckAllowList      = "allow_list"
	CheckTestMode       = "test_mode"
	CheckEvidence       = "evidence_parse"
	CheckDebug          = "debug"
	CheckTCBStatus      = "tcb_status"
	CheckMeasurement    = "measurement_allowed"
	CheckReportData     = "report_data"
	CheckExpectedKeys   = "expected_keys"
	CheckNonce          = "nonce"
	CheckFreshness      = "freshness"
	CheckGPUEvidence    = "gpu_evidence_parse"
	CheckGPUNonce       = "gpu_nonce"
	CheckGPUMeasurement = "gpu_measurement_allowed"
	CheckGPURequired    = "gpu_required"
	CheckGPUCCMode      = "gpu_cc_mode"
	CheckKeysSealed     = "keys_sealed"
)

// TCBStatusUnknown is the status of evidence whose TCB was not evaluated.
const TCBStatusUnknown = tdx.StatusUnknown

// CheckError is a refusal naming the first check that failed.
type CheckError = check.Error

// ErrNoAllowList is what NoAllowList answers; Verify then skips the
// measurement check, visibly, instead of failing it.
var ErrNoAllowList = errors.New("no allow-list configured")

// NoAllowList is the AllowList for inspecting evidence without a policy
// (`cocoon attest verify` without --policy): no measurement is checked and
// test mode is off.
type NoAllowList struct{}

// MeasurementAllowed implements AllowList: it always answers ErrNoAllowList.
func (NoAllowList) MeasurementAllowed(context.Context, string, []byte) (bool, error) {
	return false, ErrNoAllowList
}

// TestMode implements AllowList: never.
func (NoAllowList) TestMode(context.Context) (bool, error) { return false, nil }

// Verifier verifies evidence offline. The zero value trusts the embedded
// Intel, AMD and NVIDIA roots, has no TDX collateral (TCB status unknown)
// and uses the wall clock.
type Verifier struct {
	TDX tdx.Verifier
	SNP sevsnp.Verifier
	GPU nvgpu.Verifier
	// Now is the verification time; nil means time.Now.
	Now func() time.Time
	// Logger receives one line per verification; nil discards.
	Logger *slog.Logger
}

// Result is what verified (or partly verified) evidence established.
type Result struct {
	TEE      string   `json:"tee"`
	Insecure bool     `json:"insecure"`
	Warnings []string `json:"warnings,omitempty"`
	// ImageHash is what the allow-list is asked about (docs/ATTESTATION.md).
	ImageHash HexBytes `json:"image_hash,omitempty"`
	// Measurement is the TEE's own launch measurement (TDX MRTD, SEV-SNP
	// MEASUREMENT, dev sha256(image)); GPUs have only ImageHash.
	Measurement HexBytes `json:"measurement,omitempty"`
	TCBStatus   string   `json:"tcb_status"`
	TCB         *tdx.TCB `json:"tcb,omitempty"`
	ReportData  HexBytes `json:"report_data,omitempty"`
	// KeyHolding is how the evidence says the worker holds its keys.
	KeyHolding string         `json:"key_holding,omitempty"`
	Keys       []Key          `json:"keys,omitempty"`
	CreatedAt  *time.Time     `json:"created_at,omitempty"`
	GPUs       []GPUResult    `json:"gpus,omitempty"`
	Checks     []check.Result `json:"checks"`
}

// GPUResult is one verified GPU.
type GPUResult struct {
	ImageHash HexBytes `json:"image_hash"`
	Driver    string   `json:"driver_version,omitempty"`
	VBIOS     string   `json:"vbios_version,omitempty"`
	Device    string   `json:"device,omitempty"`
}

// HexBytes marshals as lower-case hex.
type HexBytes []byte

// MarshalText implements encoding.TextMarshaler.
func (h HexBytes) MarshalText() ([]byte, error) { return []byte(hex.EncodeToString(h)), nil }

// platform is what the TEE-specific part of verification yields.
type platform struct {
	imageHash   []byte
	measurement []byte
	reportData  []byte // 64 bytes; 32 for a GPU-only bundle
	tcbStatus   string
	tcb         *tdx.TCB
	debug       bool
	gpu         *GPUResult
}

func (v *Verifier) now() time.Time {
	if v.Now != nil {
		return v.Now()
	}
	return time.Now()
}

// Verify checks bundle b under policy p: the evidence's signature chain,
// the TCB status, the measurement against p's allow-list, that the report
// data binds b's keys, nonce and creation time, that expectedKeys are
// among b's keys, that b answers nonce (when not nil), freshness, and any
// GPU evidence. It returns the first failure as a *CheckError; the Result
// (also on failure) lists every check that ran.
func Verify(ctx context.Context, b *Bundle, expectedKeys []Key, nonce []byte, p *Policy) (*Result, error) {
	var v Verifier
	return v.Verify(ctx, b, expectedKeys, nonce, p)
}

// Verify is the package-level Verify with v's roots, collateral and clock.
func (v *Verifier) Verify(ctx context.Context, b *Bundle, expectedKeys []Key, nonce []byte, p *Policy) (*Result, error) {
	return v.VerifyWithCollateral(ctx, b, nil, expectedKeys, nonce, p)
}

// VerifyWithCollateral is Verify with the collateral the worker served
// beside its bundle (nil: none). For TDX it replaces v.TDX's collateral
// source for this call; for SEV-SNP it supplies AMD's CRL (and the VCEK
// when the bundle carries none), from which the TCB status is judged. Bad
// collateral fails check "collateral": a worker that serves any gets it
// checked.
func (v *Verifier) VerifyWithCollateral(ctx context.Context, b *Bundle, coll *Collateral, expectedKeys []Key, nonce []byte, p *Policy) (*Result, error) {
	res := &Result{TEE: b.TEE, TCBStatus: TCBStatusUnknown}
	log := &check.Log{}
	err := v.verifyBundle(ctx, b, coll, expectedKeys, nonce, p, res, log)
	res.Checks = log.Results
	v.logOutcome(res, err)
	return res, err
}

// VerifyEvidence checks raw evidence that comes without a bundle (a TDX
// quote, an SEV-SNP report with its certificates): everything Verify
// checks except what needs the bundle (key binding, nonce, freshness).
func (v *Verifier) VerifyEvidence(ctx context.Context, tee string, evidence []byte, certs []Blob, p *Policy) (*Result, error) {
	return v.VerifyEvidenceWithCollateral(ctx, tee, evidence, certs, nil, p)
}

// VerifyEvidenceWithCollateral is VerifyEvidence with served collateral
// (nil: none), as VerifyWithCollateral uses it.
func (v *Verifier) VerifyEvidenceWithCollateral(ctx context.Context, tee string, evidence []byte, certs []Blob, coll *Collateral, p *Policy) (*Result, error) {
	res := &Result{TEE: tee, TCBStatus: TCBStatusUnknown}
	log := &check.Log{}
	err := func() error {
		if p == nil || p.AllowList == nil {
			return log.Failf(CheckAllowList, "the policy has no allow-list (use attest.NoAllowList{} to inspect without one)")
		}
		testMode, err := p.AllowList.TestMode(ctx)
		if err != nil {
			return log.Fail(CheckAllowList, fmt.Errorf("test mode: %w", err))
		}
		pl, err := v.platform(ctx, tee, evidence, certs, coll, p, testMode, res, log)
		if pl != nil {
			res.ReportData = pl.reportData
		}
		return err
	}()
	res.Checks = log.Results
	v.logOutcome(res, err)
	return res, err
}

func (v *Verifier) logOutcome(res *Result, err error) {
	if v.Logger == nil {
		return
	}
	if err != nil {
		v.Logger.Info("attestation refused", "tee", res.TEE, "check", check.Name(err), "err", err)
		return
	}
	v.Logger.Debug("attestation verified", "tee", res.TEE, "image_hash", hex.EncodeToString(res.ImageHash), "tcb_status", res.TCBStatus, "insecure", res.Insecure)
}

func (v *Verifier) verifyBundle(ctx context.Context, b *Bundle, coll *Collateral, expectedKeys []Key, nonce []byte, p *Policy, res *Result, log *check.Log) error {
	if err := b.Validate(); err != nil {
		return log.Fail(CheckBundle, err)
	}
	want, err := b.ReportData()
	if err != nil {
		return log.Fail(CheckBundle, err)
	}
	log.Pass(CheckBundle, fmt.Sprintf("v%d %s, %d keys", b.Version, b.TEE, len(b.Keys)))
	created := b.Created()
	res.Keys, res.CreatedAt = b.Keys, &created

	if p == nil || p.AllowList == nil {
		return log.Failf(CheckAllowList, "the policy has no allow-list (use attest.NoAllowList{} to inspect without one)")
	}
	testMode, err := p.AllowList.TestMode(ctx)
	if err != nil {
		return log.Fail(CheckAllowList, fmt.Errorf("test mode: %w", err))
	}

	pl, err := v.platform(ctx, b.TEE, b.Evidence, b.Certs, coll, p, testMode, res, log)
	if err != nil {
		return err
	}
	res.ReportData = pl.reportData

	// The hardware signed the report data; the bundle's keys, nonce and
	// creation time are believed only because they hash to it.
	if b.TEE == TEENVIDIA {
		if !bytes.Equal(pl.reportData, want[:nvgpu.NonceSize]) {
			return log.Failf(CheckReportData, "the GPU report's nonce %x is not the first %d bytes of sha512(keys ‖ nonce) %x", pl.reportData, nvgpu.NonceSize, want[:nvgpu.NonceSize])
		}
	} else if !bytes.Equal(pl.reportData, want[:]) {
		return log.Failf(CheckReportData, "evidence report data %x is not sha512(keys ‖ nonce) %x: the evidence does not vouch for these keys", pl.reportData, want)
	}
	log.Pass(CheckReportData, "")
	res.KeyHolding = b.KeyHolding

	// How the keys are held is the image's statement, signed with the rest
	// of the report data; a policy may require them sealed.
	switch {
	case !p.RequireSealedKeys || b.TEE == TEEDev && testMode:
		log.Skip(CheckKeysSealed, "not required")
	case !KeysSealed(b.KeyHolding):
		held := b.KeyHolding
		if held == "" {
			held = "not stated"
		}
		return log.Failf(CheckKeysSealed, "the policy requires keys sealed to the enclave (%s or %s); the evidence says they are held: %s", KeyHoldingSEVSNP, KeyHoldingKeyRelease, held)
	default:
		log.Pass(CheckKeysSealed, b.KeyHolding)
	}

	if err := keysContain(b.Keys, expectedKeys); err != nil {
		return log.Fail(CheckExpectedKeys, err)
	}
	if len(expectedKeys) == 0 {
		log.Skip(CheckExpectedKeys, "none expected")
	} else {
		log.Pass(CheckExpectedKeys, fmt.Sprintf("%d keys", len(expectedKeys)))
	}

	if nonce != nil {
		if !bytes.Equal(nonce, b.Nonce) {
			return log.Failf(CheckNonce, "bundle answers nonce %x, want %x", b.Nonce, nonce)
		}
		log.Pass(CheckNonce, "")
	} else {
		log.Skip(CheckNonce, "no nonce asked for")
	}

	now := v.now()
	age := now.Sub(created)
	switch {
	case age > p.maxAge():
		return log.Failf(CheckFreshness, "evidence made %s is %s old (at most %s)", created.Format(time.RFC3339), age.Round(time.Second), p.maxAge())
	case -age > MaxClockSkew:
		return log.Failf(CheckFreshness, "evidence claims to be made at %s, %s in the future", created.Format(time.RFC3339), (-age).Round(time.Second))
	}
	log.Pass(CheckFreshness, fmt.Sprintf("%s old", age.Round(time.Second)))

	return v.verifyGPUs(ctx, b, want, p, testMode, res, log)
}

func keysContain(have, want []Key) error {
	for _, w := range want {
		found := false
		for _, h := range have {
			if h.Name == w.Name {
				if !bytes.Equal(h.Public, w.Public) {
					return fmt.Errorf("key %q in the bundle is %x, expected %x", w.Name, h.Public, w.Public)
				}
				found = true
			}
		}
		if !found {
			return fmt.Errorf("bundle vouches for no %q key", w.Name)
		}
	}
	return nil
}

// platform runs the TEE-specific checks, then the policy's debug, TCB
// status and measurement checks. coll is the collateral served with the
// evidence, or nil.
func (v *Verifier) platform(ctx context.Context, tee string, evidence []byte, certs []Blob, coll *Collateral, p *Policy, testMode bool, res *Result, log *check.Log) (*platform, error) {
	now := v.now()
	if coll != nil {
		if err := coll.Validate(); err != nil {
			return nil, log.Fail(tdx.CheckCollateral, fmt.Errorf("collateral served with the evidence: %w", err))
		}
		if coll.TEE != tee {
			return nil, log.Failf(tdx.CheckCollateral, "the collateral served is for %s, the evidence is %s", coll.TEE, tee)
		}
	}
	var pl *platform
	switch tee {
	case TEETDX:
		q, err := tdx.ParseQuote(evidence)
		if err != nil {
			return nil, log.Fail(CheckEvidence, err)
		}
		log.Pass(CheckEvidence, fmt.Sprintf("TDX quote v%d", q.Version))
		tv := v.TDX
		if coll != nil {
			c, err := tdx.ParseCollateral(coll.TDX, tv.Roots)
			if err != nil {
				return nil, log.Fail(tdx.CheckCollateral, fmt.Errorf("collateral served with the evidence: %w", err))
			}
			tv.Collateral = fixedCollateral{c}
		}
		r, err := tv.Verify(ctx, q, now, log)
		if err != nil {
			return nil, err
		}
		h := q.Body.ImageHash()
		tcb := r.TCB
		pl = &platform{imageHash: h[:], measurement: q.Body.MRTD[:], reportData: q.Body.ReportData[:],
			tcbStatus: r.TCB.Status, debug: q.Body.Debug()}
		if tcb.Status != tdx.StatusUnknown {
			pl.tcb = &tcb
		}
	case TEESEVSNP:
		rep, err := sevsnp.ParseReport(evidence)
		if err != nil {
			return nil, log.Fail(CheckEvidence, err)
		}
		log.Pass(CheckEvidence, fmt.Sprintf("SEV-SNP report v%d", rep.Proto.GetVersion()))
		sc := sevsnp.Certs{VCEK: findBlob(certs, sevsnp.CertVCEK), VLEK: findBlob(certs, sevsnp.CertVLEK),
			ASK: findBlob(certs, sevsnp.CertASK), ARK: findBlob(certs, sevsnp.CertARK)}
		if coll != nil && sc.VCEK == nil && sc.VLEK == nil {
			sc.VCEK = coll.SNP.VCEK
		}
		sr, err := v.SNP.Verify(ctx, rep, sc, now, log)
		if err != nil {
			return nil, err
		}
		h := rep.ImageHash()
		pl = &platform{imageHash: h[:], measurement: rep.Measurement(), reportData: rep.ReportData(),
			tcbStatus: TCBStatusUnknown, debug: rep.Debug()}
		if coll != nil && p.RequireTCBStatus && p.MinSNPTCB == 0 {
			return nil, log.Failf(CheckTCBStatus, "the policy sets no minimum SEV-SNP TCB (min_snp_tcb): AMD's CRL lists revoked keys only, so the platform's TCB cannot be judged; set the minimum from AMD's current security bulletins")
		}
		if coll != nil {
			status, detail, err := sevsnp.TCBStatus(sr, coll.SNP.CRL, p.MinSNPTCB, now)
			if err != nil {
				return nil, log.Fail(tdx.CheckCollateral, fmt.Errorf("collateral served with the evidence: %w", err))
			}
			log.Pass(tdx.CheckCollateral, detail)
			pl.tcbStatus = status
		} else {
			log.Skip(tdx.CheckCollateral, "no AMD CRL: TCB status unknown")
		}
	case TEENVIDIA:
		// A GPU report alone vouches for the GPU, not for the software
		// that drives it and holds the keys: outside test mode, GPU
		// evidence counts only inside a CPU TEE's bundle, bound to its
		// report data (Bundle.GPUs).
		if !testMode {
			return nil, log.Failf(CheckTestMode, "a GPU-only bundle (%s): no CPU TEE vouches for the software that holds the keys; GPU evidence must come inside a tdx or sevsnp bundle", TEENVIDIA)
		}
		g, rep, err := v.verifyGPU(evidence, certs, now, log)
		if err != nil {
			return nil, err
		}
		if err := checkGPUReference(p, rep, log); err != nil {
			return nil, err
		}
		pl = &platform{imageHash: g.ImageHash, reportData: rep.RequestNonce[:], tcbStatus: TCBStatusUnknown, gpu: g}
	case TEEDev:
		if !testMode {
			return nil, log.Failf(CheckTestMode, "dev evidence is accepted only in test mode (%s)", dev.Warning)
		}
		log.Pass(CheckTestMode, dev.Warning)
		st, err := dev.Parse(evidence)
		if err != nil {
			return nil, log.Fail(CheckEvidence, err)
		}
		log.Pass(CheckEvidence, "dev statement for image "+st.Image)
		if err := dev.Verify(st, p.DevSigners, log); err != nil {
			return nil, err
		}
		m := dev.Measurement(st.Image)
		pl = &platform{imageHash: m[:], measurement: m[:], reportData: st.ReportData, tcbStatus: TCBStatusUnknown}
		res.Insecure = true
		res.Warnings = append(res.Warnings, dev.Warning)
	default:
		return nil, log.Failf(CheckEvidence, "unknown TEE type %q", tee)
	}
	res.ImageHash, res.Measurement, res.TCBStatus, res.TCB = pl.imageHash, pl.measurement, pl.tcbStatus, pl.tcb

	if pl.debug {
		if !testMode {
			return nil, log.Failf(CheckDebug, "the %s guest is debuggable: its host can read its memory", tee)
		}
		const w = "INSECURE: debuggable TEE, accepted in test mode only"
		res.Insecure = true
		res.Warnings = append(res.Warnings, w)
		log.Pass(CheckDebug, w)
	} else if tee != TEEDev && tee != TEENVIDIA {
		log.Pass(CheckDebug, "")
	}

	switch {
	case pl.tcbStatus == TCBStatusUnknown && p.RequireTCBStatus && (tee == TEETDX || tee == TEESEVSNP):
		return nil, log.Failf(CheckTCBStatus, "TCB status is unknown: no %s collateral came with the evidence (%s), and the policy requires a known status to refuse out-of-date and revoked platforms", tee, collateralWhat(tee))
	case pl.tcbStatus == TCBStatusUnknown:
		log.Skip(CheckTCBStatus, "TCB status unknown")
	case !p.tcbAccepted(pl.tcbStatus):
		return nil, log.Failf(CheckTCBStatus, "TCB status %s is not accepted (accepted: %s)", pl.tcbStatus, strings.Join(p.acceptedTCB(), ", "))
	case pl.tcb != nil && pl.tcb.EvaluationDataNumber < p.MinTCBEvaluationDataNumber:
		return nil, log.Failf(CheckTCBStatus, "TCB status %s is judged by collateral of Intel's TCB recovery %d, older than the %d the policy requires (a worker may not be judged by superseded collateral)",
			pl.tcbStatus, pl.tcb.EvaluationDataNumber, p.MinTCBEvaluationDataNumber)
	default:
		log.Pass(CheckTCBStatus, pl.tcbStatus)
	}

	if err := allowed(ctx, p.AllowList, tee, pl.imageHash, CheckMeasurement, log); err != nil {
		return nil, err
	}
	if pl.gpu != nil {
		res.GPUs = append(res.GPUs, *pl.gpu)
	}
	return pl, nil
}

func allowed(ctx context.Context, al AllowList, tee string, hash []byte, name string, log *check.Log) error {
	ok, err := al.MeasurementAllowed(ctx, tee, hash)
	switch {
	case errors.Is(err, ErrNoAllowList):
		log.Skip(name, err.Error())
		return nil
	case err != nil:
		return log.Fail(name, fmt.Errorf("allow-list: %w", err))
	case !ok:
		return log.Failf(name, "%s image hash %x is not on the allow-list", tee, hash)
	}
	log.Pass(name, hex.EncodeToString(hash))
	return nil
}

func (v *Verifier) verifyGPU(evidence []byte, certs []Blob, now time.Time, log *check.Log) (*GPUResult, *nvgpu.Report, error) {
	rep, err := nvgpu.ParseReport(evidence)
	if err != nil {
		return nil, nil, log.Fail(CheckGPUEvidence, err)
	}
	log.Pass(CheckGPUEvidence, fmt.Sprintf("SPDM %d.%d, %d measurement blocks", rep.SPDMVersion>>4, rep.SPDMVersion&15, rep.NumBlocks))
	leaf, err := v.GPU.Verify(rep, findBlob(certs, CertGPUChain), now, log)
	if err != nil {
		return nil, nil, err
	}
	h := rep.MeasurementHash()
	return &GPUResult{ImageHash: h[:], Driver: rep.OpaqueString(nvgpu.OpaqueDriverVersion),
		VBIOS: rep.VBIOSVersion(), Device: leaf.Subject.CommonName}, rep, nil
}

// CertGPUChain names the PEM attestation certificate chain (leaf first)
// carried with NVIDIA GPU evidence.
const CertGPUChain = "nvidia_cert_chain"

func (v *Verifier) verifyGPUs(ctx context.Context, b *Bundle, want [64]byte, p *Policy, testMode bool, res *Result, log *check.Log) error {
	if len(b.GPUs) == 0 {
		// A GPU-only bundle's own report does not count (test mode only).
		if p.RequireGPU {
			return log.Failf(CheckGPURequired, "the policy requires GPU evidence inside a CPU TEE's bundle and the bundle has none")
		}
		return nil
	}
	now := v.now()
	for i, g := range b.GPUs {
		gr, rep, err := v.verifyGPU(g.Evidence, g.Certs, now, log)
		if err != nil {
			return err
		}
		switch g.CCMode {
		case GPUCCOn:
			log.Pass(CheckGPUCCMode, fmt.Sprintf("GPU %d", i))
		case GPUCCDevTools:
			if !testMode {
				return log.Failf(CheckGPUCCMode, "GPU %d is in CC devtools mode: its memory is open to debugging tools", i)
			}
			const w = "INSECURE: GPU in CC devtools mode, accepted in test mode only"
			res.Insecure = true
			res.Warnings = append(res.Warnings, w)
			log.Pass(CheckGPUCCMode, w)
		default:
			return log.Failf(CheckGPUCCMode, "GPU %d evidence states CC mode %q (want %q)", i, g.CCMode, GPUCCOn)
		}
		if err := checkGPUReference(p, rep, log); err != nil {
			return err
		}
		if !bytes.Equal(rep.RequestNonce[:], want[:nvgpu.NonceSize]) {
			return log.Failf(CheckGPUNonce, "GPU %d answers nonce %x, not the first %d bytes of the bundle's report data", i, rep.RequestNonce, nvgpu.NonceSize)
		}
		log.Pass(CheckGPUNonce, fmt.Sprintf("GPU %d", i))
		if err := allowed(ctx, p.AllowList, TEENVIDIA, gr.ImageHash, CheckGPUMeasurement, log); err != nil {
			return err
		}
		res.GPUs = append(res.GPUs, *gr)
	}
	return nil
}

// fixedCollateral hands one verified collateral to a tdx.Verifier.
type fixedCollateral struct{ c *tdx.Collateral }

func (f fixedCollateral) Collateral(context.Context, string) (*tdx.Collateral, error) {
	return f.c, nil
}

func collateralWhat(tee string) string {
	if tee == TEESEVSNP {
		return "AMD's CRL for the product line"
	}
	return "Intel's TCB info, QE identity and CRLs"
}

func checkGPUReference(p *Policy, rep *nvgpu.Report, log *check.Log) error {
	if p.GPUReference == nil {
		log.Skip(nvgpu.CheckReference, "the policy has no GPU reference values")
		return nil
	}
	return p.GPUReference.Check(rep, log)
}
