package tsm_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cocoon-network/cocoon/offchain/attest/tsm"
	"github.com/cocoon-network/cocoon/offchain/attest/tsm/tsmtest"
)

func echo(in []byte) []byte { return append([]byte("QUOTE:"), in...) }

func TestReport(t *testing.T) {
	k := &tsmtest.Kernel{Provider: "tdx_guest", Quote: echo, Aux: []byte("certs")}
	c := k.Client(t)
	var rd [64]byte
	copy(rd[:], "hello")
	lvl := uint(2)
	resp, err := c.Report(context.Background(), tsm.Request{ReportData: rd, AuxBlob: true, Privilege: &lvl})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Provider != "tdx_guest" || !bytes.Equal(resp.OutBlob, echo(rd[:])) || string(resp.AuxBlob) != "certs" {
		t.Errorf("response %+v", resp)
	}
	if entries, _ := os.ReadDir(filepath.Join(c.Root, "report")); len(entries) != 0 {
		t.Errorf("entry left behind: %v", entries)
	}
}

func TestReportRefusals(t *testing.T) {
	t.Run("another writer", func(t *testing.T) {
		c := (&tsmtest.Kernel{Provider: "tdx_guest", Quote: echo, Meddle: true}).Client(t)
		_, err := c.Report(context.Background(), tsm.Request{})
		var ge *tsm.GenerationError
		if !errors.As(err, &ge) || ge.Attribute != "outblob" || ge.Got != 2 || ge.Want != 1 {
			t.Fatalf("err = %v", err)
		}
		if entries, _ := os.ReadDir(filepath.Join(c.Root, "report")); len(entries) != 0 {
			t.Errorf("entry left behind after an error")
		}
	})
	t.Run("empty outblob", func(t *testing.T) {
		c := (&tsmtest.Kernel{Provider: "tdx_guest", Quote: func([]byte) []byte { return nil }}).Client(t)
		if _, err := c.Report(context.Background(), tsm.Request{}); err == nil {
			t.Fatal("empty outblob accepted")
		}
	})
	t.Run("no configfs-tsm", func(t *testing.T) {
		c := &tsm.Client{Root: filepath.Join(t.TempDir(), "missing")}
		if _, err := c.Report(context.Background(), tsm.Request{}); !errors.Is(err, tsm.ErrUnavailable) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		c := (&tsmtest.Kernel{Provider: "tdx_guest", Quote: echo}).Client(t)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := c.Report(ctx, tsm.Request{}); !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("plain directory", func(t *testing.T) {
		// Without the emulation a directory has no attributes: the client
		// reports the missing generation instead of inventing one.
		root := t.TempDir()
		if err := os.Mkdir(filepath.Join(root, "report"), 0o755); err != nil {
			t.Fatal(err)
		}
		_, err := (&tsm.Client{Root: root}).Report(context.Background(), tsm.Request{})
		if err == nil || !strings.Contains(err.Error(), "generation") {
			t.Fatalf("err = %v", err)
		}
	})
}
