package channel

import (
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xssnick/tonutils-go/address"
)

func TestStoreRoundTripAndReopen(t *testing.T) {
	dir := t.TempDir()
	st, err := OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	payerKey, payeeKey := testKey(t), testKey(t)
	a := address.NewAddress(0, 0, make([]byte, 32))
	b := address.NewAddress(0, 0, append(make([]byte, 31), 1))
	terms := Terms{ID: ID{4, 2}, PayerKey: payerKey.Public().(ed25519.PublicKey), PayeeKey: payeeKey.Public().(ed25519.PublicKey),
		PayerAddress: a, PayeeAddress: b, Closing: DefaultClosing(), CodeLibrary: true}
	addr, err := terms.Address()
	if err != nil {
		t.Fatal(err)
	}
	v, _ := SignState(payerKey, terms.ID, 7, ton("0.7"))
	ps, _ := SignState(payeeKey, terms.ID, 2, new(big.Int))
	rec := &Record{Role: RolePayee, Terms: terms, Address: addr, Phase: PhaseClosing, Voucher: &v, PayeeState: &ps,
		Deposit: ton("3"), Withdrawn: ton("0.5"), ClosingSince: time.Date(2026, 2, 3, 4, 5, 6, 0, time.UTC)}
	if err := st.Put(rec); err != nil {
		t.Fatal(err)
	}
	// A second opener is refused with a clear error while the first holds it.
	if _, err := OpenStore(dir); err == nil || !strings.Contains(err.Error(), "channel store") {
		t.Fatalf("second open: %v", err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "channels.db")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("store file: %v, %v", fi, err)
	}
	st, err = OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	got, err := st.Get(terms.ID)
	if err != nil {
		t.Fatal(err)
	}
	// The stored form holds every field; equal encodings mean equal records.
	want, _ := json.Marshal(rec)
	have, _ := json.Marshal(got)
	if string(want) != string(have) || got.Voucher.Sent.Cmp(v.Sent) != 0 || !got.Terms.PayeeAddress.Equals(b) || !got.Terms.CodeLibrary {
		t.Fatalf("record after reopening:\n put %s\n got %s", want, have)
	}
	if a2, _ := got.Terms.Address(); !a2.Equals(addr) {
		t.Fatal("stored terms derive another address")
	}
	if _, err := st.Get(ID{9}); !errors.Is(err, ErrUnknownChannel) {
		t.Fatalf("unknown channel: %v", err)
	}
	all, err := st.List()
	if err != nil || len(all) != 1 {
		t.Fatalf("list: %d records, %v", len(all), err)
	}
}

// A side's failed on-chain action stays on its record, with what and why,
// until one goes through; it survives a reopen of the store.
func TestFailureIsRecordedAndCleared(t *testing.T) {
	dir := t.TempDir()
	st, err := OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	payerKey, payeeKey := testKey(t), testKey(t)
	terms := Terms{ID: ID{7}, PayerKey: payerKey.Public().(ed25519.PublicKey), PayeeKey: payeeKey.Public().(ed25519.PublicKey),
		PayerAddress: address.NewAddress(0, 0, make([]byte, 32)), PayeeAddress: address.NewAddress(0, 0, append(make([]byte, 31), 1)), Closing: DefaultClosing()}
	addr, _ := terms.Address()
	if err := st.Put(&Record{Role: RolePayee, Terms: terms, Address: addr, Phase: PhaseOpen, Deposit: ton("1"), Withdrawn: new(big.Int)}); err != nil {
		t.Fatal(err)
	}
	var locks keyedMutex
	refused := &RefusedError{Op: "channel commit", ExitCode: ExitClosing}
	noteOutcome(&locks, st, terms.ID, "channel commit", refused)
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if st, err = OpenStore(dir); err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	r, err := st.Get(terms.ID)
	if err != nil {
		t.Fatal(err)
	}
	if r.Failure == nil || r.Failure.Op != "channel commit" || !strings.Contains(r.Failure.Error, "175") || r.Failure.At.IsZero() {
		t.Fatalf("failure after a refused commit: %+v", r.Failure)
	}
	noteOutcome(&locks, st, terms.ID, "channel commit", nil)
	if r, _ = st.Get(terms.ID); r.Failure != nil {
		t.Fatalf("failure kept after a commit went through: %+v", r.Failure)
	}
}

// Records put behind are seen at once by Get and List, reach the file at
// the next write (Flush, or the writer moments later), and a durable Put
// afterwards wins over them.
func TestPutBehind(t *testing.T) {
	dir := t.TempDir()
	st, err := OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	payerKey, payeeKey := testKey(t), testKey(t)
	terms := Terms{ID: ID{8}, PayerKey: payerKey.Public().(ed25519.PublicKey), PayeeKey: payeeKey.Public().(ed25519.PublicKey),
		PayerAddress: address.NewAddress(0, 0, make([]byte, 32)), PayeeAddress: address.NewAddress(0, 0, append(make([]byte, 31), 1)), Closing: DefaultClosing()}
	addr, _ := terms.Address()
	rec := &Record{Role: RolePayer, Terms: terms, Address: addr, Phase: PhaseOpen, Deposit: ton("1"), Withdrawn: new(big.Int)}
	if err := st.Put(rec); err != nil {
		t.Fatal(err)
	}
	for seqno := uint64(1); seqno <= 50; seqno++ {
		v, _ := SignState(payerKey, terms.ID, seqno, big.NewInt(int64(seqno)*1000))
		r, err := st.Get(terms.ID)
		if err != nil || r.seqno() != seqno-1 {
			t.Fatalf("before voucher %d Get saw seqno %d (%v)", seqno, r.seqno(), err)
		}
		r.Voucher = &v
		if err := st.PutBehind(r); err != nil {
			t.Fatal(err)
		}
	}
	all, err := st.List()
	if err != nil || len(all) != 1 || all[0].seqno() != 50 {
		t.Fatalf("List after 50 vouchers put behind: %d records, %v", len(all), err)
	}
	if err := st.Close(); err != nil { // writes what is pending
		t.Fatal(err)
	}
	if st, err = OpenStore(dir); err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	r, err := st.Get(terms.ID)
	if err != nil || r.seqno() != 50 || r.Sent().Cmp(big.NewInt(50_000)) != 0 {
		t.Fatalf("after a reopen: %+v, %v", r.Voucher, err)
	}
	// A durable Put after a put behind wins, whatever the writer does.
	r.Phase = PhaseClosing
	if err := st.PutBehind(r); err != nil {
		t.Fatal(err)
	}
	r.Phase = PhaseClosed
	if err := st.Put(r); err != nil {
		t.Fatal(err)
	}
	if err := st.Flush(); err != nil {
		t.Fatal(err)
	}
	if r, _ := st.Get(terms.ID); r.Phase != PhaseClosed {
		t.Fatalf("phase %s after a durable put over one behind", r.Phase)
	}
}
