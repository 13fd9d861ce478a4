package attest

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"time"

	"github.com/cocoon-network/cocoon/offchain/attest/dev"
	"github.com/cocoon-network/cocoon/offchain/attest/nvgpu"
	"github.com/cocoon-network/cocoon/offchain/attest/sevsnp"
	"github.com/cocoon-network/cocoon/offchain/attest/tdx"
	"github.com/cocoon-network/cocoon/offchain/attest/tsm"
)

// Source produces a TEE's evidence over 64 bytes of report data.
type Source interface {
	TEE() string
	Attest(ctx context.Context, reportData [64]byte) (evidence []byte, certs []Blob, err error)
}

// GPUSource produces GPU evidence over a 32-byte nonce.
type GPUSource interface {
	AttestGPUs(ctx context.Context, nonce [nvgpu.NonceSize]byte) ([]GPUEvidence, error)
}

// NewBundle asks src (and gpus, when not nil) for evidence that vouches for
// keys, nonce, the time now and the model weights the worker checked, and
// returns the bundle.
func NewBundle(ctx context.Context, src Source, gpus GPUSource, keys []Key, nonce []byte, now time.Time, weights ...ModelWeights) (*Bundle, error) {
	return NewBundleHolding(ctx, src, gpus, keys, nonce, now, "", weights...)
}

// NewBundleHolding is NewBundle with the image's statement of how it holds
// the keys at rest (Bundle.KeyHolding; "" states nothing).
func NewBundleHolding(ctx context.Context, src Source, gpus GPUSource, keys []Key, nonce []byte, now time.Time, holding string, weights ...ModelWeights) (*Bundle, error) {
	b := &Bundle{Version: BundleVersion, TEE: src.TEE(), Keys: SortKeys(keys), Nonce: nonce, CreatedAt: now.Unix(), Weights: SortWeights(weights), KeyHolding: holding}
	if len(weights) == 0 {
		b.Weights = nil
	}
	if len(b.Keys) == 0 {
		return nil, errors.New("attest: no keys to vouch for")
	}
	rd, err := b.ReportData()
	if err != nil {
		return nil, fmt.Errorf("attest: %w", err)
	}
	if b.Evidence, b.Certs, err = src.Attest(ctx, rd); err != nil {
		return nil, fmt.Errorf("attest %s: %w", b.TEE, err)
	}
	if gpus != nil {
		var n [nvgpu.NonceSize]byte
		copy(n[:], rd[:])
		if b.GPUs, err = gpus.AttestGPUs(ctx, n); err != nil {
			return nil, fmt.Errorf("attest GPUs: %w", err)
		}
	}
	if err := b.Validate(); err != nil {
		return nil, fmt.Errorf("attest: %w", err)
	}
	return b, nil
}

// TDXSource gets TDX quotes through configfs-tsm.
type TDXSource struct{ TSM tsm.Client }

// TEE implements Source.
func (*TDXSource) TEE() string { return TEETDX }

// Attest implements Source. The quote carries its PCK chain, so no
// certificates travel beside it.
func (s *TDXSource) Attest(ctx context.Context, rd [64]byte) ([]byte, []Blob, error) {
	q, err := tdx.Generate(ctx, &s.TSM, rd)
	return q, nil, err
}

// SNPSource gets SEV-SNP extended reports (configfs-tsm, else
// /dev/sev-guest) and carries the host-provisioned certificates.
type SNPSource struct{ TSM tsm.Client }

// TEE implements Source.
func (*SNPSource) TEE() string { return TEESEVSNP }

// Attest implements Source.
func (s *SNPSource) Attest(ctx context.Context, rd [64]byte) ([]byte, []Blob, error) {
	rep, c, err := sevsnp.Generate(ctx, &s.TSM, rd)
	if err != nil {
		return nil, nil, err
	}
	var certs []Blob
	for _, x := range []struct {
		name string
		der  []byte
	}{{sevsnp.CertARK, c.ARK}, {sevsnp.CertASK, c.ASK}, {sevsnp.CertVCEK, c.VCEK}, {sevsnp.CertVLEK, c.VLEK}} {
		if len(x.der) > 0 {
			certs = append(certs, Blob{Name: x.name, Data: x.der})
		}
	}
	return rep, certs, nil
}

// DevSource signs dev statements: insecure, for devnets and tests.
type DevSource struct {
	Key   ed25519.PrivateKey
	Image string
}

// TEE implements Source.
func (*DevSource) TEE() string { return TEEDev }

// Attest implements Source.
func (s *DevSource) Attest(_ context.Context, rd [64]byte) ([]byte, []Blob, error) {
	st, err := dev.Sign(s.Key, s.Image, rd)
	return st, nil, err
}

// NVIDIASource attests with GPU evidence only (bundle TEE nvidia_cc): the
// first GPU's report is the evidence, its nonce the first 32 bytes of the
// report data. Without a CPU TEE nothing protects the keys in host memory,
// so a policy should prefer tdx or sevsnp with NVIDIAGPUs.
type NVIDIASource struct{}

// TEE implements Source.
func (NVIDIASource) TEE() string { return TEENVIDIA }

// Attest implements Source.
func (NVIDIASource) Attest(ctx context.Context, rd [64]byte) ([]byte, []Blob, error) {
	var n [nvgpu.NonceSize]byte
	copy(n[:], rd[:])
	_, ev, err := nvgpu.Collect(ctx, n)
	if err != nil {
		return nil, nil, err
	}
	return ev[0].Report, []Blob{{Name: CertGPUChain, Data: ev[0].CertChain}}, nil
}

// NVIDIAGPUs adds every GPU's evidence to a CPU TEE's bundle.
type NVIDIAGPUs struct{}

// AttestGPUs implements GPUSource.
func (NVIDIAGPUs) AttestGPUs(ctx context.Context, nonce [nvgpu.NonceSize]byte) ([]GPUEvidence, error) {
	_, ev, err := nvgpu.Collect(ctx, nonce)
	if err != nil {
		return nil, err
	}
	out := make([]GPUEvidence, len(ev))
	for i, e := range ev {
		// Collect refuses GPUs with CC off or in devtools mode.
		out[i] = GPUEvidence{TEE: TEENVIDIA, Evidence: e.Report, Certs: []Blob{{Name: CertGPUChain, Data: e.CertChain}}, CCMode: GPUCCOn}
	}
	return out, nil
}
