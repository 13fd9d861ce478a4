package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
)

const attestTestdata = "../../attest/testdata/"

// runAttest runs the app and returns stdout, stderr and the exit code the
// process would have.
func runAttest(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	app := newApp()
	var out, errOut bytes.Buffer
	app.Writer, app.ErrWriter = &out, &errOut
	err := app.RunContext(context.Background(), append([]string{"cocoon", "--log-level", "error"}, args...))
	code := 0
	if err != nil {
		code = 1
		var ec cli.ExitCoder
		if errors.As(err, &ec) {
			code = ec.ExitCode()
		}
		errOut.WriteString(err.Error())
	}
	return out.String(), errOut.String(), code
}

func TestAttestInspectTDX(t *testing.T) {
	for _, args := range [][]string{
		{"attest", "inspect", attestTestdata + "tdx/quote_v4.dat", "--json"},
		{"attest", "inspect", "--json", attestTestdata + "tdx/quote_v4.dat"},
	} {
		out, errOut, code := runAttest(t, args...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, errOut)
		}
		var v map[string]any
		if err := json.Unmarshal([]byte(out), &v); err != nil {
			t.Fatalf("not JSON: %v\n%s", err, out)
		}
		lowerHex := regexp.MustCompile(`^[0-9a-f]+$`)
		for _, k := range []string{"mr_seam", "mr_td", "report_data", "td_attributes", "xfam", "image_hash"} {
			s, _ := v[k].(string)
			if !lowerHex.MatchString(s) {
				t.Errorf("%s = %v", k, v[k])
			}
		}
		rtmrs, _ := v["rtmrs"].([]any)
		if v["type"] != "tdx_quote" || v["version"] != 4.0 || v["tee_type"] != "0x00000081" || len(rtmrs) != 4 {
			t.Errorf("type %v version %v tee_type %v rtmrs %d", v["type"], v["version"], v["tee_type"], len(rtmrs))
		}
		if v["image_hash"] != "f02d924aed90ff12a4a49d1fc187a46bcd874bba124cf9cd2b9e144c98281898" {
			t.Errorf("image_hash %v", v["image_hash"])
		}
	}
}

func TestAttestInspectOthers(t *testing.T) {
	for _, c := range []struct{ file, want string }{
		{"sevsnp/report.bin", "type: sevsnp_report"},
		{"nvidia/report.bin", "type: nvidia_report"},
	} {
		out, errOut, code := runAttest(t, "attest", "inspect", attestTestdata+c.file)
		if code != 0 || !strings.Contains(out, c.want) || !strings.Contains(out, "image_hash: ") {
			t.Errorf("%s: exit %d %s\n%s", c.file, code, errOut, out)
		}
	}
	junk := filepath.Join(t.TempDir(), "junk")
	_ = os.WriteFile(junk, []byte("junk"), 0o644)
	if _, _, code := runAttest(t, "attest", "inspect", junk); code != 2 {
		t.Errorf("junk: exit %d", code)
	}
}

type verifyJSON struct {
	Valid       bool   `json:"valid"`
	FailedCheck string `json:"failed_check"`
	TCBStatus   string `json:"tcb_status"`
	Insecure    bool   `json:"insecure"`
	Checks      []struct {
		Check, Status string
	} `json:"checks"`
}

func verifyOut(t *testing.T, args ...string) (verifyJSON, int, string) {
	t.Helper()
	out, errOut, code := runAttest(t, append([]string{"attest", "verify"}, args...)...)
	var v verifyJSON
	if strings.Contains(strings.Join(args, " "), "--json") {
		if err := json.Unmarshal([]byte(out), &v); err != nil {
			t.Fatalf("not JSON (exit %d, %s): %v\n%s", code, errOut, err, out)
		}
	}
	return v, code, out + errOut
}

func TestAttestVerifyTDX(t *testing.T) {
	quote := attestTestdata + "tdx/quote_v4.dat"
	const at = "2023-07-01T01:00:00Z"

	v, code, out := verifyOut(t, quote, "--offline", "--at", at, "--json")
	if code != 0 || !v.Valid || v.TCBStatus != "unknown" || len(v.Checks) < 8 {
		t.Fatalf("offline: exit %d %+v\n%s", code, v, out)
	}

	v, code, out = verifyOut(t, quote, "--collateral", attestTestdata+"tdx/collateral", "--at", at, "--json")
	if code != 1 || v.Valid || v.FailedCheck != "tcb_status" || v.TCBStatus != "NotSupported" {
		t.Fatalf("collateral, default policy: exit %d %+v\n%s", code, v, out)
	}

	dir := t.TempDir()
	policy := filepath.Join(dir, "policy.json")
	_ = os.WriteFile(policy, []byte(`{"allow":{"tdx":["f02d924aed90ff12a4a49d1fc187a46bcd874bba124cf9cd2b9e144c98281898"]},
		"accepted_tcb_status":["UpToDate","NotSupported"], "min_tcb_evaluation_data_number": 15}`), 0o644)
	v, code, out = verifyOut(t, quote, "--collateral", attestTestdata+"tdx/collateral", "--at", at, "--policy", policy, "--json")
	if code != 0 || !v.Valid || v.TCBStatus != "NotSupported" {
		t.Fatalf("collateral, permissive policy: exit %d %+v\n%s", code, v, out)
	}

	// A policy file starts from the default policy, which wants a known
	// TCB status: without collateral the quote is refused for that.
	other := filepath.Join(dir, "other.json")
	_ = os.WriteFile(other, []byte(`{"allow":{"tdx":["`+strings.Repeat("00", 32)+`"]}}`), 0o644)
	if v, code, out = verifyOut(t, quote, "--at", at, "--policy", other); code != 1 || !strings.Contains(out, "check tcb_status failed") || !strings.Contains(out, "no tdx collateral") {
		t.Errorf("no collateral, default policy: exit %d %+v\n%s", code, v, out)
	}
	_ = os.WriteFile(other, []byte(`{"require_tcb_status":false,"allow":{"tdx":["`+strings.Repeat("00", 32)+`"]}}`), 0o644)
	if v, code, _ = verifyOut(t, quote, "--at", at, "--policy", other, "--json"); code != 1 || v.FailedCheck != "measurement_allowed" {
		t.Errorf("not allowed: exit %d %+v", code, v)
	}

	raw, _ := os.ReadFile(quote)
	raw[48+0x88] ^= 1 // MRTD
	bad := filepath.Join(dir, "bad.dat")
	_ = os.WriteFile(bad, raw, 0o644)
	if v, code, _ = verifyOut(t, bad, "--at", at, "--json"); code != 1 || v.FailedCheck != "quote_signature" {
		t.Errorf("tampered: exit %d %+v", code, v)
	}
	if _, code, out = verifyOut(t, bad, "--at", at); code != 1 || !strings.Contains(out, "INVALID: check quote_signature failed") {
		t.Errorf("tampered, text: exit %d\n%s", code, out)
	}
	if _, code, _ = verifyOut(t, quote, "--at", "yesterday"); code != 2 {
		t.Errorf("bad --at: exit %d", code)
	}
}

func TestAttestVerifySNP(t *testing.T) {
	report, vcek := attestTestdata+"sevsnp/report.bin", attestTestdata+"sevsnp/vcek.der"
	const at = "2023-07-01T00:00:00Z"
	if v, code, out := verifyOut(t, report, "--vcek", vcek, "--at", at, "--json"); code != 1 || v.FailedCheck != "debug" {
		t.Errorf("debug guest: exit %d %+v\n%s", code, v, out)
	}
	policy := filepath.Join(t.TempDir(), "p.json")
	_ = os.WriteFile(policy, []byte(`{"test_mode":true,"allow":{"sevsnp":["`+strings.Repeat("00", 32)+`"]}}`), 0o644)
	if v, code, _ := verifyOut(t, report, "--vcek", vcek, "--at", at, "--policy", policy, "--json"); code != 1 || v.FailedCheck != "tcb_status" {
		t.Errorf("no AMD CRL, default policy: exit %d %+v", code, v)
	}
	_ = os.WriteFile(policy, []byte(`{"test_mode":true,"require_tcb_status":false,"allow":{"sevsnp":["`+strings.Repeat("00", 32)+`"]}}`), 0o644)
	if v, code, _ := verifyOut(t, report, "--vcek", vcek, "--at", at, "--policy", policy, "--json"); code != 1 || v.FailedCheck != "measurement_allowed" || !v.Insecure {
		t.Errorf("test mode: exit %d %+v", code, v)
	}
	if v, code, _ := verifyOut(t, report, "--at", at, "--json"); code != 1 || v.FailedCheck != "vcek_chain" {
		t.Errorf("no VCEK: exit %d %+v", code, v)
	}
}

func TestAttestGenerateAndVerifyDev(t *testing.T) {
	dir := t.TempDir()
	keys := filepath.Join(dir, "keys.json")
	ed := base64.StdEncoding.EncodeToString(make([]byte, 32))
	_ = os.WriteFile(keys, []byte(`{"keys":[{"name":"hpke","public":"`+ed+`"},{"name":"ed25519","public":"`+ed+`"}]}`), 0o644)
	out := filepath.Join(dir, "bundle.json")
	_, errOut, code := runAttest(t, "attest", "generate", "--type", "dev", "--keys", keys, "--out", out, "--image", "img", "--nonce", "0102")
	if code != 0 || !strings.Contains(errOut, "INSECURE: dev attestation, not hardware-backed") {
		t.Fatalf("generate: exit %d %s", code, errOut)
	}
	st, err := os.Stat(out + ".devkey")
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("dev key: %v", err)
	}
	keyBefore, _ := os.ReadFile(out + ".devkey")
	if _, _, code := runAttest(t, "attest", "generate", "--type", "dev", "--keys", keys, "--out", out, "--image", "img"); code != 0 {
		t.Fatal("second generate")
	}
	if keyAfter, _ := os.ReadFile(out + ".devkey"); !bytes.Equal(keyBefore, keyAfter) {
		t.Error("dev key replaced")
	}

	insp, _, _ := runAttest(t, "attest", "inspect", out)
	if !strings.Contains(insp, "INSECURE: dev attestation, not hardware-backed") || !strings.Contains(insp, "bundle_hash: ") {
		t.Errorf("inspect:\n%s", insp)
	}
	if v, code, _ := verifyOut(t, out, "--json"); code != 1 || v.FailedCheck != "test_mode" {
		t.Errorf("no test mode: exit %d %+v", code, v)
	}
	policy := filepath.Join(dir, "p.json")
	_ = os.WriteFile(policy, []byte(`{"test_mode":true,"allow":{"dev":["`+sha256Hex("another image")+`"]}}`), 0o644)
	v, code, all := verifyOut(t, out, "--policy", policy, "--keys", keys, "--json")
	if code != 1 || v.FailedCheck != "measurement_allowed" {
		t.Errorf("wrong allow-list entry: exit %d %+v\n%s", code, v, all)
	}
	_ = os.WriteFile(policy, []byte(`{"test_mode":true,"allow":{"dev":["`+sha256Hex("img")+`"]}}`), 0o644)
	v, code, all = verifyOut(t, out, "--policy", policy, "--keys", keys, "--json")
	if code != 0 || !v.Valid || !v.Insecure {
		t.Errorf("test mode: exit %d %+v\n%s", code, v, all)
	}
	if _, code, all = verifyOut(t, out, "--policy", policy); code != 0 || !strings.Contains(all, "INSECURE: dev attestation") {
		t.Errorf("text output: exit %d\n%s", code, all)
	}
}

func TestAttestGenerateWithoutHardware(t *testing.T) {
	dir := t.TempDir()
	keys := filepath.Join(dir, "keys.json")
	_ = os.WriteFile(keys, []byte(`{"keys":[{"name":"ed25519","public":"`+base64.StdEncoding.EncodeToString(make([]byte, 32))+`"}]}`), 0o644)
	out := filepath.Join(dir, "b.json")
	for _, c := range []struct {
		typ, want string
	}{
		{"tdx", "configfs-tsm is not available"},
		{"nvidia", "no NVIDIA driver"},
		{"sgx", "want tdx, sevsnp, nvidia or dev"},
	} {
		_, errOut, code := runAttest(t, "attest", "generate", "--type", c.typ, "--keys", keys, "--out", out, "--tsm", filepath.Join(dir, "none"))
		if code == 0 || !strings.Contains(errOut, c.want) {
			t.Errorf("%s: exit %d %q", c.typ, code, errOut)
		}
	}
	bad := filepath.Join(dir, "bad.json")
	_ = os.WriteFile(bad, []byte(`{"keys":[{"name":"ed25519","public":"AAAA"}]}`), 0o644)
	if _, errOut, code := runAttest(t, "attest", "generate", "--type", "dev", "--keys", bad, "--out", out); code != 2 || !strings.Contains(errOut, "32") {
		t.Errorf("short key: exit %d %s", code, errOut)
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("a bundle was written")
	}
}

func sha256Hex(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}
