package keyseal_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cocoon-network/cocoon/offchain/attest/keyseal"
	"github.com/cocoon-network/cocoon/offchain/attest/keyseal/keysealtest"
)

var secret = []byte("worker.key, hpke.key and tls.key")

func TestDevSealer(t *testing.T) {
	ctx := context.Background()
	s := keyseal.DevSealer{KeyFile: filepath.Join(t.TempDir(), "seal.key")}
	if !s.Insecure() {
		t.Fatal("the dev sealer claims to be secure")
	}
	blob, err := keyseal.Seal(ctx, s, "worker-keys", secret)
	if err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(s.KeyFile); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", err, st.Mode())
	}
	if strings.Contains(string(blob), string(secret)) {
		t.Fatal("the blob holds the secret in clear")
	}
	got, err := keyseal.Unseal(ctx, s, "worker-keys", blob)
	if err != nil || string(got) != string(secret) {
		t.Fatalf("unseal: %q %v", got, err)
	}
	other := keyseal.DevSealer{KeyFile: filepath.Join(t.TempDir(), "other.key")}
	if _, err := keyseal.Unseal(ctx, other, "worker-keys", blob); !errors.Is(err, keyseal.ErrUnseal) {
		t.Fatalf("another key file: %v", err)
	}
}

func TestSNPSealer(t *testing.T) {
	ctx := context.Background()
	fw := &keysealtest.Firmware{CommittedTCB: 0x0300000000000002, Policy: 0x30000}
	fw.ChipSecret[0], fw.Measurement[0] = 1, 2
	s := keyseal.SNPSealer{Deriver: fw, TCBVersion: fw.CommittedTCB}
	blob, err := keyseal.Seal(ctx, s, "worker-keys", secret)
	if err != nil {
		t.Fatal(err)
	}

	// The same image on the same chip, rebooted — and after a firmware
	// upgrade — gets its secret back.
	reboot := *fw
	upgraded := *fw
	upgraded.CommittedTCB = 0x0400000000000002
	for _, f := range []*keysealtest.Firmware{&reboot, &upgraded} {
		got, err := keyseal.Unseal(ctx, keyseal.SNPSealer{Deriver: f, TCBVersion: f.CommittedTCB}, "worker-keys", blob)
		if err != nil || string(got) != string(secret) {
			t.Fatalf("unseal on the same image: %q %v", got, err)
		}
	}

	otherImage, otherChip, rolledBack, debugPolicy := *fw, *fw, *fw, *fw
	otherImage.Measurement[0] = 3
	otherChip.ChipSecret[0] = 9
	rolledBack.CommittedTCB = 0x0200000000000002
	debugPolicy.Policy |= 1 << 19
	tampered := []byte(strings.Replace(string(blob), `"ciphertext":"`, `"ciphertext":"AAAA`, 1))
	var b map[string]any
	_ = json.Unmarshal(blob, &b)
	b["params"] = map[string]any{"use_vcek": true, "measurement": false, "guest_policy": true, "tcb_version": false, "vmpl": 0}
	unbound, _ := json.Marshal(b)
	for _, c := range []struct {
		name  string
		fw    *keysealtest.Firmware
		blob  []byte
		label string
		want  string
	}{
		{"another image", &otherImage, blob, "worker-keys", keyseal.ErrUnseal.Error()},
		{"another chip", &otherChip, blob, "worker-keys", keyseal.ErrUnseal.Error()},
		{"a debug policy", &debugPolicy, blob, "worker-keys", keyseal.ErrUnseal.Error()},
		{"firmware rolled back", &rolledBack, blob, "worker-keys", "above the committed"},
		{"ciphertext altered", fw, tampered, "worker-keys", "cannot unseal"},
		{"another label", fw, blob, "other", `holds "worker-keys"`},
		{"a key request not bound to the measurement", fw, unbound, "worker-keys", "does not bind the chip, measurement"},
		{"not a blob", fw, []byte("{"), "worker-keys", "sealed blob"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := keyseal.Unseal(ctx, keyseal.SNPSealer{Deriver: c.fw, TCBVersion: c.fw.CommittedTCB}, c.label, c.blob)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want %q", err, c.want)
			}
		})
	}
	if _, err := keyseal.Unseal(ctx, keyseal.DevSealer{KeyFile: filepath.Join(t.TempDir(), "k")}, "worker-keys", blob); err == nil || !strings.Contains(err.Error(), "sealed by sevsnp") {
		t.Fatalf("another sealer kind: %v", err)
	}
}
