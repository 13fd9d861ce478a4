package worker

import (
	"log/slog"
	"net/http"

	"github.com/cocoon-network/cocoon/offchain/attest"
	"github.com/cocoon-network/cocoon/offchain/attest/collateral"
)

// CollateralConfig says where a TDX or SEV-SNP worker fetches the TCB
// collateral it serves at GET /collateral (empty: Intel's and AMD's public
// services).
type CollateralConfig struct {
	IntelPCS       string   `toml:"intel_pcs"`
	IntelRootCRL   string   `toml:"intel_root_crl"`
	AMDKDS         string   `toml:"amd_kds"`
	SNPProductLine string   `toml:"snp_product_line"`
	Refresh        duration `toml:"refresh"`
}

// newCollateralKeeper returns the keeper of a hardware TEE's collateral,
// or nil for evidence that has none (dev, GPU-only).
func newCollateralKeeper(c CollateralConfig, b *attest.Bundle, log *slog.Logger) *collateral.Keeper {
	if b.TEE != attest.TEETDX && b.TEE != attest.TEESEVSNP {
		return nil
	}
	return &collateral.Keeper{
		Fetcher: &collateral.Fetcher{IntelPCS: c.IntelPCS, IntelRootCRL: c.IntelRootCRL, AMDKDS: c.AMDKDS, SNPProductLine: c.SNPProductLine},
		Bundle:  b, Refresh: c.Refresh.Duration, Logger: log,
	}
}

// serveCollateral is GET /collateral: the TCB collateral of the evidence,
// which clients need to judge the platform offline.
func (d *Daemon) serveCollateral(w http.ResponseWriter, _ *http.Request) {
	if d.collateral == nil {
		httpError(w, http.StatusNotFound, "%s evidence has no TCB collateral", d.id.Bundle.TEE)
		return
	}
	raw := d.collateral.Current()
	if raw == nil {
		httpError(w, http.StatusServiceUnavailable, "collateral not fetched yet")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(raw)
}
