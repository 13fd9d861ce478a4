package gateway

import (
	"math/big"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The journal hands a restarted gateway exactly the attempts the earlier
// process left open, each with its last event, whatever the crash tore.
func TestJournalReopensOpenAttempts(t *testing.T) {
	path := filepath.Join(t.TempDir(), "g", "inflight.journal")
	j, left, err := openJournal(path)
	if err != nil || len(left) != 0 {
		t.Fatalf("a new journal: %v, %d open", err, len(left))
	}
	req := &request{model: "m", maxTokens: 20, inBound: 300}
	for _, id := range []string{"a", "b", "c", "d"} {
		if err := j.begin(id, "0:w", "payer", req); err != nil {
			t.Fatal(err)
		}
	}
	_ = j.paying("b", "0:w", big.NewInt(1234)) // paid, then the crash
	_ = j.end("c", "0:w", false)               // settled
	j.hold("d", "0:w")
	_ = j.end("d", "0:w", false) // held: its collector ends it, and crashed first
	// The process dies: the file is as it is, with a torn last line.
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = f.WriteString(`{"op":"end","id":"a","wor`)
	f.Close()

	j2, left, err := openJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	want := []journalEntry{
		{Op: "start", ID: "a", Worker: "0:w", Payer: "payer", Model: "m", MaxTokens: 20, InBound: 300},
		{Op: "pay", ID: "b", Worker: "0:w", Payer: "payer", Model: "m", MaxTokens: 20, InBound: 300, Total: "1234"},
		{Op: "start", ID: "d", Worker: "0:w", Payer: "payer", Model: "m", MaxTokens: 20, InBound: 300},
	}
	for i := range left {
		if left[i].At == 0 {
			t.Fatalf("attempt %s has no time", left[i].ID)
		}
		left[i].At = 0
	}
	if diff := cmp.Diff(want, left, cmp.AllowUnexported(journalEntry{})); diff != "" {
		t.Fatalf("open attempts after the crash (-want +got):\n%s", diff)
	}
	// Reopened again without settling them: still the same, the file
	// rewritten with only them.
	j2.close()
	_, again, err := openJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := range again {
		again[i].At = 0
	}
	if diff := cmp.Diff(want, again, cmp.AllowUnexported(journalEntry{})); diff != "" {
		t.Fatalf("after a second reopen (-want +got):\n%s", diff)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("journal file: %v, %v", fi, err)
	}
}

// With vouchers written behind, a paid attempt stays open in the journal
// until its voucher is made durable: a crash before leaves it for the next
// run to check (the restart test's failure when the end came first: the
// kill lost the voucher and the journal had already let the attempt go).
func TestJournalEndsPaidAttemptsAfterTheVoucherIsDurable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "inflight.journal")
	j, _, err := openJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	flushed := 0
	j.durable = func() error { flushed++; return nil }
	req := &request{model: "m", maxTokens: 20, inBound: 300}
	_ = j.begin("paid", "0:w", "payer", req)
	_ = j.paying("paid", "0:w", big.NewInt(10))
	_ = j.end("paid", "0:w", false)
	_ = j.begin("free", "0:w", "payer", req) // nothing to pay: ends at once
	_ = j.end("free", "0:w", false)
	j.close()
	_, left, err := openJournal(path) // a crash here
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != 1 || left[0].ID != "paid" || left[0].Total != "10" {
		t.Fatalf("open after a crash before the voucher was durable: %+v", left)
	}

	j, _, err = openJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	j.durable = func() error { flushed++; return nil }
	_ = j.begin("paid2", "0:w", "payer", req)
	_ = j.paying("paid2", "0:w", big.NewInt(20))
	_ = j.end("paid2", "0:w", false)
	if err := j.settlePaid(); err != nil || flushed != 1 {
		t.Fatalf("settlePaid: %v, %d flushes", err, flushed)
	}
	j.close()
	_, left, _ = openJournal(path)
	for _, e := range left {
		if e.ID == "paid2" {
			t.Fatalf("an attempt whose voucher was made durable is still open: %+v", left)
		}
	}
}
