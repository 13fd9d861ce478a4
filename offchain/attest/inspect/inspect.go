// Package inspect lists the fields of TEE evidence for people to read
// (cocoon attest inspect): what each format carries, in its order, with
// the measurement an operator would allow.
package inspect

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/cocoon-network/cocoon/offchain/attest"
	"github.com/cocoon-network/cocoon/offchain/attest/dev"
	"github.com/cocoon-network/cocoon/offchain/attest/nvgpu"
	"github.com/cocoon-network/cocoon/offchain/attest/sevsnp"
	"github.com/cocoon-network/cocoon/offchain/attest/tdx"
)

// Evidence lists the fields of any file attest.Detect knows: an evidence
// bundle (with its TEE evidence, GPUs and weights nested), a raw TDX
// quote, SEV-SNP report or NVIDIA GPU report. It parses without verifying
// (attest.Verifier does that); image_hash is the measurement Root's
// allow-list stores (attest.Measurement).
func Evidence(raw []byte) (*Fields, error) {
	kind, err := attest.Detect(raw)
	if err != nil {
		return nil, err
	}
	switch kind {
	case attest.KindBundle:
		b, err := attest.Decode(raw)
		if err != nil {
			return nil, err
		}
		return inspectBundle(b, raw)
	case attest.KindTDX:
		return inspectTDX(raw)
	case attest.KindSNP:
		return inspectSNP(raw)
	default:
		return inspectNVIDIA(raw)
	}
}

// Fields is an ordered list of named values, in the order the format lays
// them out; it marshals as a JSON object in that order. A value is a
// string, number, bool, []string, *Fields or []*Fields.
type Fields struct {
	keys []string
	vals map[string]any
}

func newFields() *Fields { return &Fields{vals: map[string]any{}} }

// Keys returns the field names in order.
func (f *Fields) Keys() []string { return f.keys }

// Get returns the value of field k (nil if there is none).
func (f *Fields) Get(k string) any { return f.vals[k] }

func (f *Fields) set(k string, v any) *Fields {
	if _, ok := f.vals[k]; !ok {
		f.keys = append(f.keys, k)
	}
	f.vals[k] = v
	return f
}

func (f *Fields) MarshalJSON() ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteByte('{')
	for i, k := range f.keys {
		if i > 0 {
			buf.WriteByte(',')
		}
		kb, _ := json.Marshal(k)
		vb, err := json.Marshal(f.vals[k])
		if err != nil {
			return nil, err
		}
		buf.Write(kb)
		buf.WriteByte(':')
		buf.Write(vb)
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

func hx(b []byte) string { return hex.EncodeToString(b) }

func inspectTDX(raw []byte) (*Fields, error) {
	q, err := tdx.ParseQuote(raw)
	if err != nil {
		return nil, err
	}
	t := &q.Body
	rtmrs := make([]string, 4)
	for i := range t.RTMR {
		rtmrs[i] = hx(t.RTMR[i][:])
	}
	ih := t.ImageHash()
	f := newFields().
		set("type", attest.KindTDX).
		set("version", q.Version).
		set("tee_type", fmt.Sprintf("0x%08x", q.TEEType)).
		set("body_type", q.BodyType).
		set("qe_vendor_id", hx(q.QEVendorID[:])).
		set("tee_tcb_svn", hx(t.TEETCBSVN[:])).
		set("mr_seam", hx(t.MRSEAM[:])).
		set("mr_signer_seam", hx(t.MRSignerSEAM[:])).
		set("seam_attributes", hx(t.SEAMAttributes[:])).
		set("td_attributes", hx(t.TDAttributes[:])).
		set("debug", t.Debug()).
		set("xfam", hx(t.XFAM[:])).
		set("mr_td", hx(t.MRTD[:])).
		set("mr_config_id", hx(t.MRConfigID[:])).
		set("mr_owner", hx(t.MROwner[:])).
		set("mr_owner_config", hx(t.MROwnerConfig[:])).
		set("rtmrs", rtmrs).
		set("report_data", hx(t.ReportData[:])).
		set("image_hash", hx(ih[:]))
	if q.BodyType == 3 {
		f.set("tee_tcb_svn2", hx(t.TEETCBSVN2[:])).set("mr_servicetd", hx(t.MRServiceTD[:]))
	}
	return f.set("trailing_bytes", q.Trailing), nil
}

func inspectSNP(raw []byte) (*Fields, error) {
	r, err := sevsnp.ParseReport(raw)
	if err != nil {
		return nil, err
	}
	p := r.Proto
	signer, _ := r.Signer()
	ih := r.ImageHash()
	return newFields().
		set("type", attest.KindSNP).
		set("version", p.GetVersion()).
		set("guest_svn", p.GetGuestSvn()).
		set("policy", fmt.Sprintf("0x%x", p.GetPolicy())).
		set("debug", r.Debug()).
		set("vmpl", p.GetVmpl()).
		set("signer", signer).
		set("measurement", hx(r.Measurement())).
		set("image_hash", hx(ih[:])).
		set("report_data", hx(r.ReportData())).
		set("host_data", hx(p.GetHostData())).
		set("family_id", hx(p.GetFamilyId())).
		set("image_id", hx(p.GetImageId())).
		set("chip_id", hx(p.GetChipId())).
		set("current_tcb", fmt.Sprintf("0x%016x", p.GetCurrentTcb())).
		set("reported_tcb", fmt.Sprintf("0x%016x", p.GetReportedTcb())).
		set("committed_tcb", fmt.Sprintf("0x%016x", p.GetCommittedTcb())).
		set("launch_tcb", fmt.Sprintf("0x%016x", p.GetLaunchTcb())).
		set("platform_info", fmt.Sprintf("0x%x", p.GetPlatformInfo())).
		set("trailing_bytes", r.Trailing), nil
}

func inspectNVIDIA(raw []byte) (*Fields, error) {
	r, err := nvgpu.ParseReport(raw)
	if err != nil {
		return nil, err
	}
	ih := r.MeasurementHash()
	return newFields().
		set("type", attest.KindNVIDIA).
		set("spdm_version", fmt.Sprintf("%d.%d", r.SPDMVersion>>4, r.SPDMVersion&15)).
		set("request_nonce", hx(r.RequestNonce[:])).
		set("measurement_blocks", r.NumBlocks).
		set("image_hash", hx(ih[:])).
		set("driver_version", r.OpaqueString(nvgpu.OpaqueDriverVersion)).
		set("vbios_version", r.VBIOSVersion()).
		set("opaque_fields", len(r.Opaque)).
		set("trailing_bytes", r.Trailing), nil
}

func inspectBundle(b *attest.Bundle, raw []byte) (*Fields, error) {
	rd, err := b.ReportData()
	if err != nil {
		return nil, err
	}
	hash := sha256.Sum256(raw)
	var keys []*Fields
	for _, k := range b.Keys {
		keys = append(keys, newFields().set("name", k.Name).set("public", hx(k.Public)))
	}
	f := newFields().
		set("type", attest.KindBundle).
		set("version", b.Version).
		set("tee", b.TEE).
		set("created_at", b.Created().Format(time.RFC3339)).
		set("bundle_hash", hx(hash[:])).
		set("keys", keys).
		set("nonce", hx(b.Nonce)).
		set("report_data", hx(rd[:]))
	var certs []string
	for _, c := range b.Certs {
		certs = append(certs, c.Name)
	}
	if len(certs) > 0 {
		f.set("certs", certs)
	}
	switch b.TEE {
	case attest.TEEDev:
		st, err := dev.Parse(b.Evidence)
		if err != nil {
			return nil, err
		}
		m := dev.Measurement(st.Image)
		f.set("warning", dev.Warning).set("evidence", newFields().
			set("type", "dev_statement").
			set("image", st.Image).
			set("image_hash", hx(m[:])).
			set("report_data", hx(st.ReportData)).
			set("signer", hx(st.Signer)))
	default:
		ev, err := Evidence(b.Evidence)
		if err != nil {
			return nil, fmt.Errorf("bundle evidence: %w", err)
		}
		f.set("evidence", ev)
	}
	var gpus []*Fields
	for i, g := range b.GPUs {
		gf, err := inspectNVIDIA(g.Evidence)
		if err != nil {
			return nil, fmt.Errorf("GPU evidence %d: %w", i, err)
		}
		gpus = append(gpus, gf.set("cc_mode", g.CCMode))
	}
	if len(gpus) > 0 {
		f.set("gpus", gpus)
	}
	var weights []*Fields
	for _, w := range b.Weights {
		weights = append(weights, newFields().set("model", w.Model).set("hash", hx(w.Hash)))
	}
	if len(weights) > 0 {
		f.set("weights", weights)
	}
	if b.KeyHolding != "" {
		f.set("key_holding", b.KeyHolding)
	}
	return f, nil
}
