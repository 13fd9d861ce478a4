package tdx

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/google/go-tdx-guest/pcs"
)

// TCB status values (Intel PCS). StatusUnknown means no collateral was
// available to evaluate the platform.
const (
	StatusUpToDate      = "UpToDate"
	StatusUnknown       = "unknown"
	StatusRevoked       = "Revoked"
	StatusOutOfDate     = "OutOfDate"
	StatusSWHardening   = "SWHardeningNeeded"
	StatusConfiguration = "ConfigurationNeeded"
	// StatusNotSupported is ours, for Intel QVL's TCB_NOT_SUPPORTED: no TCB
	// level in the collateral is reached by the platform, so it is older
	// than anything Intel still describes.
	StatusNotSupported = "NotSupported"
)

// severity orders Intel's statuses from best to worst; the overall status
// of a quote is the worst of its platform, TDX module and QE statuses.
// Unknown names rank worst: a status this code does not know is not one it
// may call better than a known one.
func severity(status string) (int, bool) {
	switch status {
	case "UpToDate":
		return 0, true
	case "SWHardeningNeeded":
		return 1, true
	case "ConfigurationNeeded":
		return 2, true
	case "ConfigurationAndSWHardeningNeeded":
		return 3, true
	case "OutOfDate":
		return 4, true
	case "OutOfDateConfigurationNeeded":
		return 5, true
	case StatusNotSupported:
		return 6, true
	case StatusRevoked:
		return 7, true
	}
	return 8, false
}

// TCB is the outcome of matching a quote against TCB info and QE identity.
type TCB struct {
	Status      string   `json:"status"`             // worst of the three below
	Platform    string   `json:"platform,omitempty"` // matched TCB level
	Module      string   `json:"tdx_module,omitempty"`
	QE          string   `json:"qe,omitempty"`
	TCBDate     string   `json:"tcb_date,omitempty"`
	AdvisoryIDs []string `json:"advisory_ids,omitempty"`
	// EvaluationDataNumber is Intel's TCB recovery counter of the collateral.
	EvaluationDataNumber int `json:"tcb_evaluation_data_number,omitempty"`
}

func worst(statuses ...string) string {
	out := StatusUpToDate
	for _, s := range statuses {
		if s == "" {
			continue
		}
		sv, known := severity(s)
		if !known {
			return s
		}
		if cur, _ := severity(out); sv > cur {
			out = s
		}
	}
	return out
}

// matchTDXModule checks the quote's SEAM module against TCB info (check
// tdx_module) and, for TDX module major versions above 0, returns the
// module identity's status.
func matchTDXModule(body *TDReport, info *pcs.TcbInfo) (string, error) {
	m := info.TdxModule
	if !bytes.Equal(m.Mrsigner.Bytes, body.MRSignerSEAM[:]) {
		return "", fmt.Errorf("MRSIGNERSEAM %x is not the TDX module signer %x", body.MRSignerSEAM, m.Mrsigner.Bytes)
	}
	if err := maskedEqual(body.SEAMAttributes[:], m.AttributesMask.Bytes, m.Attributes.Bytes, "SEAM attributes"); err != nil {
		return "", err
	}
	svn := body.TEETCBSVN
	if svn[1] == 0 {
		return "", nil
	}
	id := "TDX_" + strings.ToUpper(hex.EncodeToString(svn[1:2]))
	for _, mi := range info.TdxModuleIdentities {
		if mi.ID != id {
			continue
		}
		if !bytes.Equal(mi.Mrsigner.Bytes, body.MRSignerSEAM[:]) {
			return "", fmt.Errorf("MRSIGNERSEAM %x is not %s's signer", body.MRSignerSEAM, id)
		}
		if err := maskedEqual(body.SEAMAttributes[:], mi.AttributesMask.Bytes, mi.Attributes.Bytes, id+" attributes"); err != nil {
			return "", err
		}
		for _, lvl := range mi.TcbLevels {
			if uint32(svn[0]) >= lvl.Tcb.Isvsvn {
				return string(lvl.TcbStatus), nil
			}
		}
		return "", fmt.Errorf("no %s TCB level for module SVN %d", id, svn[0])
	}
	return "", fmt.Errorf("TCB info has no module identity %s", id)
}

// matchTCBLevel walks TCB info's levels (sorted best first) and returns the
// first that the PCK certificate's SGX components and PCESVN and the
// quote's TEE TCB SVN all reach. With a TDX module major version above 0
// the first two TEE TCB SVN bytes belong to the module and are evaluated
// by matchTDXModule instead. nil means no level matches.
func matchTCBLevel(body *TDReport, ext *pcs.PckExtensions, info *pcs.TcbInfo) *pcs.TcbLevel {
	svn := body.TEETCBSVN
	start := 0
	if svn[1] > 0 {
		start = 2
	}
	for i := range info.TcbLevels {
		lvl := &info.TcbLevels[i]
		t := lvl.Tcb
		if len(t.SgxTcbcomponents) != 16 || len(t.TdxTcbcomponents) != 16 || len(ext.TCB.CPUSvnComponents) != 16 {
			continue
		}
		ok := ext.TCB.PCESvn >= t.Pcesvn
		for j := 0; ok && j < 16; j++ {
			ok = ext.TCB.CPUSvnComponents[j] >= t.SgxTcbcomponents[j].Svn
		}
		for j := start; ok && j < 16; j++ {
			ok = svn[j] >= t.TdxTcbcomponents[j].Svn
		}
		if ok {
			return lvl
		}
	}
	return nil
}

// matchQEIdentity checks the quoting enclave's report against Intel's QE
// identity and returns the QE's TCB status.
func matchQEIdentity(qe *EnclaveReport, id *pcs.EnclaveIdentity) (string, error) {
	if !bytes.Equal(id.Mrsigner.Bytes, qe.MRSigner[:]) {
		return "", fmt.Errorf("QE MRSIGNER %x is not %x", qe.MRSigner, id.Mrsigner.Bytes)
	}
	if qe.ISVProdID != id.IsvProdID {
		return "", fmt.Errorf("QE ISVPRODID %d is not %d", qe.ISVProdID, id.IsvProdID)
	}
	var misc [4]byte
	binary.LittleEndian.PutUint32(misc[:], qe.MiscSelect)
	if err := maskedEqual(misc[:], id.MiscselectMask.Bytes, id.Miscselect.Bytes, "QE MISCSELECT"); err != nil {
		return "", err
	}
	if err := maskedEqual(qe.Attributes[:], id.AttributesMask.Bytes, id.Attributes.Bytes, "QE attributes"); err != nil {
		return "", err
	}
	for _, lvl := range id.TcbLevels {
		if uint32(qe.ISVSVN) >= lvl.Tcb.Isvsvn {
			return string(lvl.TcbStatus), nil
		}
	}
	return "", fmt.Errorf("no QE TCB level for ISVSVN %d", qe.ISVSVN)
}

func maskedEqual(value, mask, want []byte, what string) error {
	if len(mask) != len(value) || len(want) != len(value) {
		return fmt.Errorf("%s: collateral mask/value are %d/%d bytes, the quote's field is %d", what, len(mask), len(want), len(value))
	}
	for i := range value {
		if value[i]&mask[i] != want[i] {
			return fmt.Errorf("%s %x masked with %x is not %x", what, value, mask, want)
		}
	}
	return nil
}
