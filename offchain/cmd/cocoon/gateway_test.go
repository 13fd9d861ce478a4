package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Bad gateway and up flags are refused with an error naming the flag,
// before anything is started.
func TestGatewayFlagErrors(t *testing.T) {
	dir := t.TempDir()
	wallet := filepath.Join(dir, "gw.wallet")
	if _, err := runCLI(t, "wallet", "new", "--out", wallet); err != nil {
		t.Fatal(err)
	}
	keys := filepath.Join(dir, "keys.txt")
	if err := os.WriteFile(keys, []byte("# app keys\nshort\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	base := []string{"gateway", "--network", "http://127.0.0.1:1", "--root", "0:" + strings.Repeat("11", 32), "--wallet", wallet, "--model", "m", "--data", filepath.Join(dir, "gw")}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{}, "no API keys"},
		{[]string{"--api-keys-file", keys}, "shorter than 16"},
		{[]string{"--api-keys-file", filepath.Join(dir, "missing")}, "--api-keys-file"},
		{[]string{"--api-key", "sk-0123456789abcdef", "--budget", "lots"}, "--budget"},
		{[]string{"--api-key", "sk-0123456789abcdef", "--payments", "cash"}, "--payments"},
		{[]string{"--api-key", "sk-0123456789abcdef", "--deposit", "0"}, "--deposit"},
		{[]string{"--api-key", "sk-0123456789abcdef", "--root", "nonsense"}, "--root"},
	} {
		_, err := runCLI(t, append(append([]string{}, base...), tc.args...)...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want an error about %s", tc.args, err, tc.want)
		}
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"up", "--workers", "0"}, "--workers"},
		{[]string{"up", "--block-interval", "1ms"}, "--block-interval"},
		{[]string{"up", "--data", dir}, "not empty"},
	} {
		_, err := runCLI(t, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want an error about %s", tc.args, err, tc.want)
		}
	}
}

func TestAPIKeys(t *testing.T) {
	file := filepath.Join(t.TempDir(), "keys")
	if err := os.WriteFile(file, []byte("# comment\n\nsk-from-file-0123456789\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := apiKeys([]string{"sk-a-0123456789abcdef, sk-b-0123456789abcdef"}, file)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, " ") != "sk-a-0123456789abcdef sk-b-0123456789abcdef sk-from-file-0123456789" {
		t.Fatalf("keys %q", got)
	}
}
