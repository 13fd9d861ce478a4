package nvgpu

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha512"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/cocoon-network/cocoon/offchain/attest/check"
)

// Names of the checks Verify runs, in order.
const (
	CheckCertChain = "gpu_cert_chain"
	CheckSignature = "gpu_report_signature"
)

// DeviceIdentityRootPEM is NVIDIA's Device Identity CA, the root of every
// GPU attestation certificate chain. It is the verifier_device_root.pem
// NVIDIA ships in github.com/NVIDIA/nvtrust (local GPU verifier and
// attestation SDK, identical copies); a production H100 chain in our test
// data verifies to it. SHA-256 fingerprint of the DER:
// 102bf659d5419614c9d8e6aecebc80454eb26b1df6a769ac720b9a690b167b48.
const DeviceIdentityRootPEM = `-----BEGIN CERTIFICATE-----
MIICCzCCAZCgAwIBAgIQLTZwscoQBBHB/sDoKgZbVDAKBggqhkjOPQQDAzA1MSIw
IAYDVQQDDBlOVklESUEgRGV2aWNlIElkZW50aXR5IENBMQ8wDQYDVQQKDAZOVklE
SUEwIBcNMjExMTA1MDAwMDAwWhgPOTk5OTEyMzEyMzU5NTlaMDUxIjAgBgNVBAMM
GU5WSURJQSBEZXZpY2UgSWRlbnRpdHkgQ0ExDzANBgNVBAoMBk5WSURJQTB2MBAG
ByqGSM49AgEGBSuBBAAiA2IABA5MFKM7+KViZljbQSlgfky/RRnEQScW9NDZF8SX
gAW96r6u/Ve8ZggtcYpPi2BS4VFu6KfEIrhN6FcHG7WP05W+oM+hxj7nyA1r1jkB
2Ry70YfThX3Ba1zOryOP+MJ9vaNjMGEwDwYDVR0TAQH/BAUwAwEB/zAOBgNVHQ8B
Af8EBAMCAQYwHQYDVR0OBBYEFFeF/4PyY8xlfWi3Olv0jUrL+0lfMB8GA1UdIwQY
MBaAFFeF/4PyY8xlfWi3Olv0jUrL+0lfMAoGCCqGSM49BAMDA2kAMGYCMQCPeFM3
TASsKQVaT+8S0sO9u97PVGCpE9d/I42IT7k3UUOLSR/qvJynVOD1vQKVXf0CMQC+
EY55WYoDBvs2wPAH1Gw4LbcwUN8QCff8bFmV4ZxjCRr4WXTLFHBKjbfneGSBWwA=
-----END CERTIFICATE-----
`

// DefaultRoots returns NVIDIA's Device Identity CA.
func DefaultRoots() []*x509.Certificate {
	certs, err := ParseChain([]byte(DeviceIdentityRootPEM))
	if err != nil || len(certs) != 1 {
		panic("nvgpu: embedded NVIDIA root does not parse")
	}
	return certs
}

// ParseChain parses a PEM chain, leaf first (the order NVML returns).
func ParseChain(b []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for {
		var blk *pem.Block
		if blk, b = pem.Decode(b); blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("certificate chain holds a %q PEM block", blk.Type)
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certificate %d: %w", len(out), err)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, errors.New("no PEM certificates")
	}
	return out, nil
}

// Verifier checks GPU reports offline.
type Verifier struct {
	// Roots are the trust anchors; nil means NVIDIA's Device Identity CA.
	Roots []*x509.Certificate
}

// Verify checks r against the attestation certificate chain (PEM, leaf
// first) at time now. The request nonce is the caller's to compare: it is
// how a report is bound to anything.
//
// Not checked offline: certificate revocation (NVIDIA serves it by OCSP
// only) and reference measurements (NVIDIA's RIM service); the allow-list
// of MeasurementHash values stands in for the latter.
func (v *Verifier) Verify(r *Report, chainPEM []byte, now time.Time, log *check.Log) (*x509.Certificate, error) {
	roots := v.Roots
	if roots == nil {
		roots = DefaultRoots()
	}
	chain, err := ParseChain(chainPEM)
	if err != nil {
		return nil, log.Fail(CheckCertChain, err)
	}
	opts := x509.VerifyOptions{
		Roots:         x509.NewCertPool(),
		Intermediates: x509.NewCertPool(),
		CurrentTime:   now,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	}
	for _, c := range roots {
		opts.Roots.AddCert(c)
	}
	for _, c := range chain[1:] {
		opts.Intermediates.AddCert(c)
	}
	if _, err := chain[0].Verify(opts); err != nil {
		return nil, log.Fail(CheckCertChain, fmt.Errorf("GPU attestation certificate does not chain to a trusted NVIDIA root: %w", err))
	}
	log.Pass(CheckCertChain, chain[0].Subject.CommonName)

	pub, ok := chain[0].PublicKey.(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P384() {
		return nil, log.Failf(CheckSignature, "attestation key is not ECDSA P-384")
	}
	digest := sha512.Sum384(r.Signed)
	if !ecdsa.Verify(pub, digest[:], new(big.Int).SetBytes(r.Signature[:48]), new(big.Int).SetBytes(r.Signature[48:])) {
		return nil, log.Failf(CheckSignature, "the GPU's signature over the SPDM transcript does not verify")
	}
	log.Pass(CheckSignature, "")
	return chain[0], nil
}
