package gpu

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
)

func TestCUDAVersion(t *testing.T) {
	for _, tc := range []struct {
		in   int
		want string
	}{
		{12040, "12.4"}, {12080, "12.8"}, {13000, "13.0"}, {11020, "11.2"},
	} {
		if got := cudaVersion(tc.in); got != tc.want {
			t.Errorf("cudaVersion(%d) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestReportEncodings(t *testing.T) {
	r := Report{
		DriverVersion: "570.86.15", CUDAVersion: "12.8", NVMLVersion: "12.570.86.15",
		CC:   CCState{Supported: true, Enabled: true, Environment: "production", CPU: "intel-tdx", GPUsCapable: true, AcceptingWork: true},
		GPUs: []GPU{{Index: 0, Name: "NVIDIA H100 80GB HBM3", UUID: "GPU-1", MemoryTotalBytes: 85899345920, ComputeCapability: "9.0"}},
	}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"driver_version":"570.86.15"`, `"confidential_computing":{"supported":true,"enabled":true`, `"uuid":"GPU-1"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("JSON %s lacks %s", b, want)
		}
	}
	var buf bytes.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("gpus", "report", r)
	for _, want := range []string{"report.driver=570.86.15", "report.cc_enabled=true", "report.gpus=1", "report.gpu0.uuid=GPU-1"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("log line %q lacks %s", buf.String(), want)
		}
	}
}
