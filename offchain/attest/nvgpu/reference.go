package nvgpu

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"

	"github.com/cocoon-network/cocoon/offchain/attest/check"
)

// CheckReference names the comparison of a report's measurement blocks
// with reference values.
const CheckReference = "gpu_reference_values"

// Hex is a byte string written as hex in JSON.
type Hex []byte

// MarshalText implements encoding.TextMarshaler.
func (h Hex) MarshalText() ([]byte, error) { return []byte(hex.EncodeToString(h)), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (h *Hex) UnmarshalText(b []byte) error {
	v, err := hex.DecodeString(strings.TrimPrefix(string(b), "0x"))
	if err != nil {
		return fmt.Errorf("reference value %q is not hex: %w", b, err)
	}
	*h = v
	return nil
}

// Reference holds reference measurement values per measurement-block
// index, as NVIDIA publishes them in its reference integrity manifests
// (RIMs) for a driver and a VBIOS: each index has one or more acceptable
// values (a RIM's alternatives). The operator who allow-lists a
// driver/VBIOS pair copies them from NVIDIA's RIMs for that pair.
type Reference struct {
	// Name says which driver and VBIOS the values are for.
	Name string `json:"name,omitempty"`
	// Measurements maps a block index to its acceptable values.
	Measurements map[int][]Hex `json:"measurements"`
}

// Check compares every block of r whose index the reference names with
// the reference values; a block with no acceptable value fails. Indices
// the reference does not name are not checked ("where present"); a
// reference that names an index the report lacks fails, since the report
// then measures something else than the RIM describes.
func (ref *Reference) Check(r *Report, log *check.Log) error {
	blocks := map[int][]byte{}
	for _, b := range r.Blocks {
		blocks[int(b.Index)] = b.Value
	}
	idx := make([]int, 0, len(ref.Measurements))
	for i := range ref.Measurements {
		idx = append(idx, i)
	}
	sort.Ints(idx)
	for _, i := range idx {
		got, ok := blocks[i]
		if !ok {
			return log.Failf(CheckReference, "the reference %q names measurement %d, which the report does not carry", ref.Name, i)
		}
		match := false
		for _, want := range ref.Measurements[i] {
			if bytes.Equal(got, want) {
				match = true
				break
			}
		}
		if !match {
			return log.Failf(CheckReference, "measurement %d is %x, not a value the reference %q accepts", i, got, ref.Name)
		}
	}
	log.Pass(CheckReference, fmt.Sprintf("%d measurements match %q", len(idx), ref.Name))
	return nil
}

func (h Hex) String() string { return hex.EncodeToString(h) }
