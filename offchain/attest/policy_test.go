package attest

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParsePolicy(t *testing.T) {
	h := strings.Repeat("ab", 32)
	good := `{"test_mode":true,"max_age":"2h","accepted_tcb_status":["UpToDate","SWHardeningNeeded"],
		"require_tcb_status":true,"require_gpu":true,"allow":{"tdx":["` + h + `"],"dev":["0x` + h + `"]},
		"dev_signers":["` + strings.Repeat("01", 32) + `"]}`
	p, err := ParsePolicy([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	tm, _ := p.AllowList.TestMode(ctx)
	ok, _ := p.AllowList.MeasurementAllowed(ctx, TEETDX, []byte(strings.Repeat("\xab", 32)))
	okDev, _ := p.AllowList.MeasurementAllowed(ctx, TEEDev, []byte(strings.Repeat("\xab", 32)))
	notSNP, _ := p.AllowList.MeasurementAllowed(ctx, TEESEVSNP, []byte(strings.Repeat("\xab", 32)))
	if !tm || !ok || !okDev || notSNP || p.MaxAge != 2*time.Hour || !p.RequireTCBStatus || !p.RequireGPU || len(p.DevSigners) != 1 {
		t.Errorf("policy %+v", p)
	}
	if !p.tcbAccepted("SWHardeningNeeded") || p.tcbAccepted("OutOfDate") || p.tcbAccepted("Revoked") {
		t.Error("accepted statuses")
	}
	p.AcceptedTCB = []string{"Revoked"}
	if p.tcbAccepted("Revoked") {
		t.Error("Revoked is never acceptable")
	}
	if (&Policy{}).maxAge() != DefaultMaxAge || !(&Policy{}).tcbAccepted("UpToDate") {
		t.Error("defaults")
	}
	if p.MinTCBEvaluationDataNumber != DefaultMinTCBEvaluationDataNumber {
		t.Errorf("min TCB evaluation number %d, want the default %d", p.MinTCBEvaluationDataNumber, DefaultMinTCBEvaluationDataNumber)
	}
	if q, err := ParsePolicy([]byte(`{"allow":{},"min_tcb_evaluation_data_number":19}`)); err != nil || q.MinTCBEvaluationDataNumber != 19 {
		t.Errorf("min_tcb_evaluation_data_number 19: %+v, %v", q, err)
	}
	for name, in := range map[string]string{
		"unknown field":  `{"allow":{},"extra":1}`,
		"unknown tee":    `{"allow":{"sgx":["` + h + `"]}}`,
		"short hash":     `{"allow":{"tdx":["abcd"]}}`,
		"bad max age":    `{"allow":{},"max_age":"soon"}`,
		"negative age":   `{"allow":{},"max_age":"-1h"}`,
		"bad dev signer": `{"allow":{},"dev_signers":["xyz"]}`,
		"negative TCB-R": `{"allow":{},"min_tcb_evaluation_data_number":-1}`,
		"not json":       `allow`,
	} {
		if _, err := ParsePolicy([]byte(in)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	path := filepath.Join(t.TempDir(), "policy.json")
	if err := os.WriteFile(path, []byte(good), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadPolicy(path); err != nil {
		t.Error(err)
	}
	if _, err := LoadPolicy(path + ".missing"); err == nil {
		t.Error("missing file")
	}
}
