package attest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/cocoon-network/cocoon/offchain/attest/tdx"
)

// CollateralVersion is the only collateral document version this package
// reads and writes.
const CollateralVersion = 1

// MaxCollateralSize bounds a collateral document; Intel's TCB info for one
// FMSPC and its chains are ~20 KiB, AMD's CRL and certificates ~5 KiB.
const MaxCollateralSize = 512 << 10

// Collateral is what a verifier needs beside a CPU TEE's evidence to know
// its TCB status offline. The worker fetches it (offchain/attest/collateral)
// and serves it next to the bundle (GET /collateral). It is not part of the
// bundle: Intel and AMD reissue it every few weeks, while the bundle's hash
// is on chain. Nothing in it needs to be trusted as served: every piece is
// signed by Intel or AMD and checked against the embedded roots.
type Collateral struct {
	Version int    `json:"version"`
	TEE     string `json:"tee"`
	// FetchedAt is when the worker fetched it (Unix seconds); informational.
	FetchedAt int64                `json:"fetched_at"`
	TDX       *tdx.CollateralFiles `json:"tdx,omitempty"`
	SNP       *SNPCollateral       `json:"sevsnp,omitempty"`
}

// SNPCollateral is what AMD's KDS serves for a report: the endorsement
// certificate for its chip and TCB (when the host provisioned none), the
// product line's ASK and ARK, and the ARK-signed CRL.
type SNPCollateral struct {
	ProductLine string `json:"product_line"`
	VCEK        []byte `json:"vcek,omitempty"` // DER
	ASK         []byte `json:"ask,omitempty"`  // DER
	ARK         []byte `json:"ark,omitempty"`  // DER
	CRL         []byte `json:"crl"`            // DER
}

// Validate checks the document's shape; signatures are checked when it is
// used (Verifier.VerifyWithCollateral).
func (c *Collateral) Validate() error {
	if c.Version != CollateralVersion {
		return fmt.Errorf("collateral version %d (this build reads %d)", c.Version, CollateralVersion)
	}
	switch c.TEE {
	case TEETDX:
		if c.TDX == nil || c.SNP != nil {
			return errors.New("tdx collateral must carry tdx and only tdx")
		}
		f := c.TDX
		if len(f.TCBInfo) == 0 || len(f.TCBInfoChain) == 0 || len(f.QEIdentity) == 0 || len(f.QEIdentityChain) == 0 {
			return errors.New("tdx collateral lacks TCB info, QE identity or their issuer chains")
		}
		// Revocation is checked with both CRLs or not at all (tdx.Verify).
		if len(f.PCKCRL) == 0 || len(f.PCKCRLChain) == 0 || len(f.RootCACRL) == 0 {
			return errors.New("tdx collateral lacks the PCK CRL (with its issuer chain) or the root CA CRL: revocation could not be checked")
		}
	case TEESEVSNP:
		if c.SNP == nil || c.TDX != nil {
			return errors.New("sevsnp collateral must carry sevsnp and only sevsnp")
		}
		if len(c.SNP.CRL) == 0 {
			return errors.New("sevsnp collateral lacks AMD's CRL")
		}
	default:
		return fmt.Errorf("no collateral is defined for TEE type %q", c.TEE)
	}
	return nil
}

// Fetched is FetchedAt as a time.
func (c *Collateral) Fetched() time.Time { return time.Unix(c.FetchedAt, 0).UTC() }

// Encode returns the JSON encoding.
func (c *Collateral) Encode() ([]byte, error) {
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("encode collateral: %w", err)
	}
	out, err := json.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("encode collateral: %w", err)
	}
	return out, nil
}

// DecodeCollateral parses and validates a collateral document.
func DecodeCollateral(raw []byte) (*Collateral, error) {
	if len(raw) > MaxCollateralSize {
		return nil, fmt.Errorf("collateral is %d bytes (at most %d)", len(raw), MaxCollateralSize)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var c Collateral
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("decode collateral: %w", err)
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("decode collateral: %w", err)
	}
	return &c, nil
}
