// Package dev is the insecure stand-in for hardware attestation used on
// devnets and in tests: an Ed25519-signed statement that "image X produced
// this report data". Nothing but the signer's honesty backs it, so
// verifiers accept it only in test mode, and everything that shows it says
// Warning.
package dev

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/cocoon-network/cocoon/offchain/attest/check"
	"github.com/cocoon-network/cocoon/offchain/internal/keyfile"
)

// Warning is printed wherever dev evidence is shown.
const Warning = "INSECURE: dev attestation, not hardware-backed"

// CheckSignature is the name of Verify's check.
const CheckSignature = "dev_signature"

// signingContext separates dev statement signatures from any other use of
// the same Ed25519 key.
const signingContext = "cocoon-dev-attestation-v1\x00"

// Statement is dev evidence, serialized as JSON.
type Statement struct {
	Version    int    `json:"version"` // 1
	Image      string `json:"image"`
	ReportData []byte `json:"report_data"` // 64 bytes
	Signer     []byte `json:"signer"`      // Ed25519 public key
	Signature  []byte `json:"signature"`
}

// Measurement is the dev "measurement" of an image: sha256 of its declared
// name. It is what Root's allow-list stores for dev.
func Measurement(image string) [32]byte { return sha256.Sum256([]byte(image)) }

func message(image string, reportData []byte) []byte {
	m := Measurement(image)
	out := make([]byte, 0, len(signingContext)+len(m)+len(reportData))
	out = append(out, signingContext...)
	out = append(out, m[:]...)
	return append(out, reportData...)
}

// Sign makes a statement that image produced reportData.
func Sign(key ed25519.PrivateKey, image string, reportData [64]byte) ([]byte, error) {
	if image == "" {
		return nil, errors.New("dev evidence needs an image name")
	}
	st := Statement{
		Version:    1,
		Image:      image,
		ReportData: reportData[:],
		Signer:     key.Public().(ed25519.PublicKey),
		Signature:  ed25519.Sign(key, message(image, reportData[:])),
	}
	return json.Marshal(st)
}

// Parse reads a statement, refusing unknown fields and malformed sizes.
func Parse(b []byte) (*Statement, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var st Statement
	if err := dec.Decode(&st); err != nil {
		return nil, fmt.Errorf("dev statement: %w", err)
	}
	if dec.More() {
		return nil, errors.New("dev statement: trailing data")
	}
	switch {
	case st.Version != 1:
		return nil, fmt.Errorf("dev statement version %d (want 1)", st.Version)
	case st.Image == "":
		return nil, errors.New("dev statement names no image")
	case len(st.ReportData) != 64:
		return nil, fmt.Errorf("dev statement report data is %d bytes (want 64)", len(st.ReportData))
	case len(st.Signer) != ed25519.PublicKeySize:
		return nil, fmt.Errorf("dev statement signer is %d bytes (want %d)", len(st.Signer), ed25519.PublicKeySize)
	case len(st.Signature) != ed25519.SignatureSize:
		return nil, fmt.Errorf("dev statement signature is %d bytes (want %d)", len(st.Signature), ed25519.SignatureSize)
	}
	return &st, nil
}

// Verify checks the statement's signature and, when signers is not empty,
// that its signer is one of them.
func Verify(st *Statement, signers [][]byte, log *check.Log) error {
	if !ed25519.Verify(st.Signer, message(st.Image, st.ReportData), st.Signature) {
		return log.Failf(CheckSignature, "signature does not verify")
	}
	if len(signers) > 0 {
		known := false
		for _, s := range signers {
			known = known || bytes.Equal(s, st.Signer)
		}
		if !known {
			return log.Failf(CheckSignature, "signer %x is not among the policy's dev signers", st.Signer)
		}
	}
	log.Pass(CheckSignature, Warning)
	return nil
}

// LoadOrCreateKey reads the PKCS#8 PEM Ed25519 key at path, or creates one
// there (mode 0600) when the file does not exist. A key file others can
// read is refused.
func LoadOrCreateKey(path string) (ed25519.PrivateKey, bool, error) {
	return keyfile.LoadOrCreate(path, "dev key")
}

// LoadKey reads a PKCS#8 PEM Ed25519 key that only its owner can read.
func LoadKey(path string) (ed25519.PrivateKey, error) { return keyfile.Load(path, "dev key") }
