// Package nvgpu parses and verifies NVIDIA GPU confidential-computing
// attestation reports (Hopper and later) offline, and requests them from
// the driver through NVML.
//
// A report is an SPDM 1.1 GET_MEASUREMENTS request followed by the GPU's
// signed MEASUREMENTS response; the signature (ECDSA P-384 over SHA-384 of
// request ‖ response without the signature) is by the attestation key whose
// certificate chain ends at NVIDIA's Device Identity CA.
package nvgpu

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
)

const (
	requestSize   = 37 // version, code, param1, param2, nonce[32], slot id
	NonceSize     = 32
	signatureSize = 96 // ECDSA P-384 r‖s
	spdmGetMeas   = 0xE0
	spdmMeas      = 0x60
)

// ErrNotReport marks input that is not an SPDM measurements transcript.
var ErrNotReport = errors.New("not an NVIDIA GPU attestation report")

// Report is a parsed GPU attestation report. Slices alias the input.
type Report struct {
	SPDMVersion byte
	// RequestNonce is the nonce the verifier (we) put in the request; it
	// carries the binding to the bundle.
	RequestNonce [NonceSize]byte
	// ResponderNonce is the GPU's own nonce.
	ResponderNonce [NonceSize]byte
	NumBlocks      int
	// MeasurementRecord is the raw DMTF measurement record; Blocks indexes it.
	MeasurementRecord []byte
	Blocks            []Block
	Opaque            []OpaqueField
	Signature         []byte
	// Signed is request ‖ response up to the signature.
	Signed []byte
	// Trailing counts bytes after the signature (NVML reports a buffer
	// size; anything past the SPDM message is not signed).
	Trailing int
}

// Block is one measurement block.
type Block struct {
	Index     byte
	Spec      byte
	ValueType byte
	Value     []byte
}

// OpaqueField is one NVIDIA opaque-data field (type, value).
type OpaqueField struct {
	Type  uint16
	Value []byte
}

// Opaque field types NVIDIA documents in its local verifier.
const (
	OpaqueDriverVersion = 3
	OpaqueVBIOSVersion  = 6
	OpaqueProject       = 17
	OpaqueProjectSKU    = 18
	OpaqueChipSKU       = 15
)

// MeasurementHash is the value Root's allow-list stores for a GPU:
// sha256 of the whole measurement record. The record pins GPU firmware
// (VBIOS) and driver-loaded microcode, which is what NVIDIA's reference
// measurements (RIMs) describe; one hash per accepted firmware/driver pair.
func (r *Report) MeasurementHash() [32]byte { return sha256.Sum256(r.MeasurementRecord) }

// VBIOSVersion formats the binary VBIOS version field the way NVIDIA
// prints it (nvidia-smi, RIM names): the little-endian 32-bit word then the
// OEM byte, e.g. 96.00.5E.00.01.
func (r *Report) VBIOSVersion() string {
	for _, f := range r.Opaque {
		if f.Type == OpaqueVBIOSVersion && len(f.Value) >= 5 {
			v := f.Value
			return fmt.Sprintf("%02X.%02X.%02X.%02X.%02X", v[3], v[2], v[1], v[0], v[4])
		}
	}
	return ""
}

// OpaqueString returns a text opaque field (driver version, project…).
func (r *Report) OpaqueString(typ uint16) string {
	for _, f := range r.Opaque {
		if f.Type == typ {
			end := len(f.Value)
			for end > 0 && f.Value[end-1] == 0 {
				end--
			}
			return string(f.Value[:end])
		}
	}
	return ""
}

// ParseReport parses request ‖ response.
func ParseReport(b []byte) (*Report, error) {
	if len(b) < requestSize+8 {
		return nil, fmt.Errorf("%w: %d bytes", ErrNotReport, len(b))
	}
	if b[1] != spdmGetMeas || b[requestSize+1] != spdmMeas {
		return nil, fmt.Errorf("%w: SPDM codes %#x/%#x, want GET_MEASUREMENTS/MEASUREMENTS", ErrNotReport, b[1], b[requestSize+1])
	}
	if b[0]>>4 != 1 || b[requestSize] != b[0] {
		return nil, fmt.Errorf("%w: SPDM versions %#x/%#x", ErrNotReport, b[0], b[requestSize])
	}
	if b[2]&1 == 0 {
		return nil, errors.New("the request did not ask for a signature")
	}
	r := &Report{SPDMVersion: b[0]}
	copy(r.RequestNonce[:], b[4:36])
	resp := b[requestSize:]
	r.NumBlocks = int(resp[4])
	recLen := int(resp[5]) | int(resp[6])<<8 | int(resp[7])<<16
	off := 8
	need := func(n int, what string) error {
		if n > len(resp)-off {
			return fmt.Errorf("%s: need %d bytes at offset %d, have %d", what, n, requestSize+off, len(resp)-off)
		}
		return nil
	}
	if err := need(recLen, "measurement record"); err != nil {
		return nil, err
	}
	r.MeasurementRecord = resp[off : off+recLen : off+recLen]
	off += recLen
	if err := need(NonceSize+2, "responder nonce and opaque length"); err != nil {
		return nil, err
	}
	copy(r.ResponderNonce[:], resp[off:])
	off += NonceSize
	opLen := int(binary.LittleEndian.Uint16(resp[off:]))
	off += 2
	if err := need(opLen, "opaque data"); err != nil {
		return nil, err
	}
	opaque := resp[off : off+opLen]
	off += opLen
	if err := need(signatureSize, "signature"); err != nil {
		return nil, err
	}
	r.Signed = b[: requestSize+off : requestSize+off]
	r.Signature = resp[off : off+signatureSize : off+signatureSize]
	r.Trailing = len(resp) - off - signatureSize

	var err error
	if r.Blocks, err = parseBlocks(r.MeasurementRecord); err != nil {
		return nil, err
	}
	if len(r.Blocks) != r.NumBlocks {
		return nil, fmt.Errorf("measurement record holds %d blocks, the header says %d", len(r.Blocks), r.NumBlocks)
	}
	if r.Opaque, err = parseOpaque(opaque); err != nil {
		return nil, err
	}
	return r, nil
}

// parseBlocks splits a DMTF measurement record: per block index, spec,
// size (u16) then a DMTF value: type, size (u16), value.
func parseBlocks(rec []byte) ([]Block, error) {
	var out []Block
	for off := 0; off < len(rec); {
		if len(rec)-off < 4 {
			return nil, fmt.Errorf("measurement block header at %d is truncated", off)
		}
		idx, spec := rec[off], rec[off+1]
		size := int(binary.LittleEndian.Uint16(rec[off+2:]))
		off += 4
		if size > len(rec)-off || size < 3 {
			return nil, fmt.Errorf("measurement block %d: size %d does not fit", idx, size)
		}
		blk := rec[off : off+size]
		off += size
		vsize := int(binary.LittleEndian.Uint16(blk[1:]))
		if vsize != size-3 {
			return nil, fmt.Errorf("measurement block %d: value size %d in a %d-byte block", idx, vsize, size)
		}
		out = append(out, Block{Index: idx, Spec: spec, ValueType: blk[0], Value: blk[3:size:size]})
	}
	return out, nil
}

// parseOpaque splits NVIDIA's opaque data: type (u16), size (u16), value.
func parseOpaque(b []byte) ([]OpaqueField, error) {
	var out []OpaqueField
	for off := 0; off < len(b); {
		if len(b)-off < 4 {
			return nil, fmt.Errorf("opaque field header at %d is truncated", off)
		}
		typ := binary.LittleEndian.Uint16(b[off:])
		size := int(binary.LittleEndian.Uint16(b[off+2:]))
		off += 4
		if size > len(b)-off {
			return nil, fmt.Errorf("opaque field %d: size %d does not fit", typ, size)
		}
		out = append(out, OpaqueField{Type: typ, Value: b[off : off+size : off+size]})
		off += size
	}
	return out, nil
}
