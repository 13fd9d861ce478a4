package devnet

import (
	"context"
	"encoding/base64"
	"errors"
	"math/big"
	"sync"
	"testing"

	"github.com/xssnick/tonutils-go/tlb"

	"github.com/cocoon-network/cocoon/offchain/boc"
	"github.com/cocoon-network/cocoon/offchain/boc/boctest"
	"github.com/cocoon-network/cocoon/offchain/devnet/emulator"
)

// libraryCellSliceStack is a VmStack BOC with one slice over a library
// cell, built by hand past every checker: libemulator throws an uncaught
// C++ exception on it and the process that runs it aborts (issue 24).
func libraryCellSliceStack(t *testing.T) string {
	t.Helper()
	lib, err := boc.Parse(boctest.Serialize([]boctest.Cell{{D1: 8, D2: 66, Data: append([]byte{2}, make([]byte, 32)...)}}))
	if err != nil {
		t.Fatal(err)
	}
	s := tlb.NewStack()
	s.Push(lib.BeginParse())
	c, err := s.ToCell()
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(c.ToBOC())
}

func seqnoCall(t *testing.T, e *Engine, stack string) emulator.GetMethodCall {
	t.Helper()
	acc, err := e.Account(context.Background(), e.GenesisAddress())
	if err != nil {
		t.Fatal(err)
	}
	return emulator.GetMethodCall{
		Code:     base64.StdEncoding.EncodeToString(acc.Code.ToBOC()),
		Data:     base64.StdEncoding.EncodeToString(acc.Data.ToBOC()),
		Address:  e.GenesisAddress().StringRaw(),
		Unixtime: uint32(genesisTime.Unix()),
		Balance:  acc.Balance.Uint64(),
		MethodID: int(tlb.MethodNameHash("seqno")),
		Stack:    stack,
	}
}

// An input that aborts libemulator costs one call and one child process:
// the devnet answers the next get-method, and a block is still produced.
func TestSandboxSurvivesAnEmulatorAbort(t *testing.T) {
	e := openTest(t, "")
	ctx := context.Background()
	empty := tlb.NewStack()
	ec, _ := empty.ToCell()
	good := seqnoCall(t, e, base64.StdEncoding.EncodeToString(ec.ToBOC()))
	bad := seqnoCall(t, e, libraryCellSliceStack(t))

	for round := range 3 {
		_, err := e.sandbox.RunGetMethod(ctx, bad)
		if !errors.Is(err, emulator.ErrCrashed) {
			t.Fatalf("round %d: the poisoned stack gave %v, want ErrCrashed", round, err)
		}
		r, err := e.sandbox.RunGetMethod(ctx, good)
		if err != nil || !r.Success || r.ExitCode != 0 {
			t.Fatalf("round %d: seqno after the crash: %+v, %v", round, r, err)
		}
	}
	if st := e.Stats(); st.EmulatorCrashes != 3 {
		t.Errorf("EmulatorCrashes = %d, want 3", st.EmulatorCrashes)
	}
	if _, err := e.RunGetMethod(ctx, e.GenesisAddress(), "seqno"); err != nil {
		t.Fatalf("seqno through the engine: %v", err)
	}
	if _, err := e.ProduceBlock(ctx); err != nil {
		t.Fatalf("producing a block after the crashes: %v", err)
	}
}

// Concurrent get-methods share the children; a crash among them fails only
// itself.
func TestSandboxConcurrentCallsAndACrash(t *testing.T) {
	e := openTest(t, "")
	ctx := context.Background()
	bad := seqnoCall(t, e, libraryCellSliceStack(t))
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for i := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if i == 7 {
				if _, err := e.sandbox.RunGetMethod(ctx, bad); !errors.Is(err, emulator.ErrCrashed) {
					errs <- err
				}
				return
			}
			res, err := e.RunGetMethod(ctx, e.GenesisAddress(), "seqno")
			if err != nil {
				errs <- err
				return
			}
			if n, ok := res[0].(*big.Int); !ok || n.Sign() < 0 {
				errs <- errors.New("seqno is not a number")
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// A caller that gives up stops its child; that is no crash.
func TestSandboxCancelledCallIsNoCrash(t *testing.T) {
	e := openTest(t, "")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := e.RunGetMethod(ctx, e.GenesisAddress(), "seqno"); err == nil {
		t.Fatal("a cancelled get-method succeeded")
	}
	if st := e.Stats(); st.EmulatorCrashes != 0 {
		t.Errorf("EmulatorCrashes = %d after a cancelled call", st.EmulatorCrashes)
	}
}
