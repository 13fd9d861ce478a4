package wallet

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xssnick/tonutils-go/address"
	"github.com/xssnick/tonutils-go/tlb"
	tonwallet "github.com/xssnick/tonutils-go/ton/wallet"
	"github.com/xssnick/tonutils-go/tvm/cell"

	"github.com/cocoon-network/cocoon/offchain/chain"
)

// fxTxBOC is a real mainnet transaction (compute phase skipped: no gas),
// used as a template for synthetic ones.
const fxTxBOC = "te6cckECBgEAAT4AA69xndneJayTV4EWQT+JYQBhzyj1La8VgTc72Gcfer3f1kAAAkTZTT8wnXz8rcjgXrvUYMLEIAINjjv9M22kscLQtT95EnCTQJCQAAJE2U0/MBZNCB/QABQIAgEFAIJy047h4rcyiyTo44NrsoiqnJYhi5qB56j9KQ4aTM8KZdqb6ST/nX8WsjinauR9udL1Z2nBsMHMsPqVUiggMYQBCQEBoAMBq2gBIvPZK2+zavxVrbjk6O+OIQHktIjVQPMbGCbrFeEhuSsABndneJayTV4EWQT+JYQBhzyj1La8VgTc72Gcfer3f1kEBAYe1+YAAEibKafmEMmhA/rABABoc2LQnAAAJE2U0/MDYBBirUfACABzHxKGZF5s7RG1LposB8qw1upCOQtblp/SBKDgMSlM0AARBAhASaAYehICbsfcRQ=="

var fxDest = address.MustParseAddr("EQAREREREREREREREREREREREREREREREREREREREREREeYT")

// testWallets caches opened wallets: key derivation is deliberately slow.
var testWallets = struct {
	sync.Mutex
	m map[Version]*Wallet
}{m: map[Version]*Wallet{}}

func openTestWallet(t *testing.T, v Version, opts ...Option) *Wallet {
	t.Helper()
	testWallets.Lock()
	defer testWallets.Unlock()
	base, cached := testWallets.m[v]
	if !cached {
		f := &File{Version: v, Mnemonic: fxMnemonic}
		if v == V5R1 {
			f.NetworkGlobalID = MainnetGlobalID
		}
		w, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		testWallets.m[v] = w
		base = w
	}
	w := *base
	w.wait, w.poll = 5*time.Second, time.Millisecond
	for _, o := range opts {
		o(&w)
	}
	return &w
}

func successDesc() tlb.TransactionDescriptionOrdinary {
	vm := tlb.ComputePhaseVM{Success: true}
	vm.Details.GasUsed = big.NewInt(4939)
	vm.Details.GasLimit = big.NewInt(0)
	vm.Details.VMInitStateHash = make([]byte, 32)
	vm.Details.VMFinalStateHash = make([]byte, 32)
	return tlb.TransactionDescriptionOrdinary{ComputePhase: tlb.ComputePhase{Phase: vm}}
}

// makeTx builds a transaction of acct with inbound message in (may be nil).
func makeTx(t *testing.T, acct *address.Address, lt uint64, prev chain.TxID, in *cell.Cell, desc any) *chain.Transaction {
	t.Helper()
	b, _ := base64.StdEncoding.DecodeString(fxTxBOC)
	root, err := cell.FromBOC(b)
	if err != nil {
		t.Fatal(err)
	}
	var tx tlb.Transaction
	if err := tlb.LoadFromCell(&tx, root.BeginParse()); err != nil {
		t.Fatal(err)
	}
	tx.AccountAddr = acct.Data()
	tx.LT = lt
	tx.PrevTxLT = prev.LT
	tx.PrevTxHash = make([]byte, 32)
	copy(tx.PrevTxHash, prev.Hash)
	tx.Now = uint32(1_700_000_000 + lt)
	tx.IO.In = nil
	if in != nil {
		var m tlb.Message
		if err := tlb.LoadFromCell(&m, in.BeginParse()); err != nil {
			t.Fatal(err)
		}
		tx.IO.In = &m
	}
	if desc != nil {
		tx.Description = desc
	}
	c, err := tlb.ToCell(&tx)
	if err != nil {
		t.Fatal(err)
	}
	var back tlb.Transaction
	if err := tlb.LoadFromCell(&back, c.BeginParse()); err != nil {
		t.Fatal(err)
	}
	back.Hash = c.Hash()
	out := &chain.Transaction{Account: acct, ID: chain.TxID{LT: lt, Hash: c.Hash()}, PrevID: prev, Now: back.Now, BOC: c.ToBOC(), Tx: &back}
	if in != nil {
		h, err := chain.InMsgHash(out)
		if err != nil || !bytes.Equal(h, in.Hash()) {
			t.Fatalf("synthetic transaction changed its in_msg: %x vs %x (%v)", h, in.Hash(), err)
		}
	}
	return out
}

// fakeNet is a chain.Network holding one wallet. Once a message is sent,
// its transaction shows up after includeAfter polls, with noise unrelated
// transactions on top of it.
type fakeNet struct {
	t *testing.T

	mu           sync.Mutex
	acc          chain.Account
	seqno        any // result of the seqno get-method
	history      []*chain.Transaction
	sendErr      error
	includeAfter int
	noise        int
	desc         any // description of the inclusion transaction
	never        bool

	sent     [][]byte
	getCalls int
	polls    int
	pending  *cell.Cell
}

func (n *fakeNet) Account(_ context.Context, addr *address.Address) (*chain.Account, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	a := n.acc
	a.Address = addr
	if a.Balance == nil {
		a.Balance = new(big.Int)
	}
	return &a, nil
}

func (n *fakeNet) RunGetMethod(_ context.Context, _ *address.Address, method string, _ ...any) ([]any, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.getCalls++
	if method != "seqno" {
		return nil, &chain.GetMethodError{Method: method, ExitCode: 11}
	}
	return []any{n.seqno}, nil
}

func (n *fakeNet) SendExternal(_ context.Context, boc []byte) ([]byte, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.sendErr != nil {
		return nil, n.sendErr
	}
	c, err := cell.FromBOC(boc)
	if err != nil {
		return nil, err
	}
	n.sent = append(n.sent, boc)
	n.pending = c
	return c.Hash(), nil
}

func (n *fakeNet) Transactions(_ context.Context, addr *address.Address, from chain.TxID, limit int) ([]*chain.Transaction, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.polls++
	if n.pending != nil && !n.never && n.polls > n.includeAfter {
		n.push(addr, n.pending, n.desc)
		for i := 0; i < n.noise; i++ {
			other := cell.BeginCell().MustStoreUInt(uint64(i), 32).EndCell()
			ext := &tlb.ExternalMessage{DstAddr: addr, Body: other}
			c, err := tlb.ToCell(ext)
			if err != nil {
				n.t.Fatal(err)
			}
			n.push(addr, c, successDesc())
		}
		n.pending = nil
	}
	start := 0
	if !from.IsZero() {
		start = -1
		for i, tx := range n.history {
			if tx.ID.LT == from.LT && bytes.Equal(tx.ID.Hash, from.Hash) {
				start = i
			}
		}
		if start < 0 {
			return nil, chain.ErrNotFound
		}
	}
	end := min(start+limit, len(n.history))
	return append([]*chain.Transaction(nil), n.history[start:end]...), nil
}

func (n *fakeNet) push(addr *address.Address, in *cell.Cell, desc any) {
	var prev chain.TxID
	lt := uint64(1000)
	if len(n.history) > 0 {
		prev = n.history[0].ID
		lt = prev.LT + 10
	}
	tx := makeTx(n.t, addr, lt, prev, in, desc)
	n.history = append([]*chain.Transaction{tx}, n.history...)
	n.acc.LastTx = tx.ID
}

func (n *fakeNet) MasterchainInfo(context.Context) (*chain.MasterchainInfo, error) {
	return &chain.MasterchainInfo{Seqno: 1, Time: uint32(time.Now().Unix())}, nil
}

func (n *fakeNet) EstimateFee(context.Context, *address.Address, *cell.Cell, *cell.Cell, *cell.Cell, bool) (*chain.Fees, error) {
	return &chain.Fees{}, nil
}

// decodedExternal is what a wallet external message carries.
type decodedExternal struct {
	ext        *tlb.ExternalMessage
	seqno      uint32
	validUntil uint32
	walletID   uint32
	sigOK      bool
	actions    int
}

// decodeExternal parses a wallet's external message and checks its signature.
func decodeExternal(t *testing.T, v Version, pub ed25519.PublicKey, boc []byte) decodedExternal {
	t.Helper()
	c, err := cell.FromBOC(boc)
	if err != nil {
		t.Fatal(err)
	}
	var m tlb.Message
	if err := tlb.LoadFromCell(&m, c.BeginParse()); err != nil {
		t.Fatal(err)
	}
	ext, isExt := m.Msg.(*tlb.ExternalMessage)
	if !isExt {
		t.Fatalf("message is %T", m.Msg)
	}
	body := ext.Body.BeginParse()
	bits := body.BitsLeft()
	var sig []byte
	var payload *cell.Builder
	switch v {
	case V5R1: // payload, then signature at the end
		data := body.MustLoadSlice(bits - 512)
		sig = body.MustLoadSlice(512)
		payload = cell.BeginCell().MustStoreSlice(data, bits-512)
	case V4R2: // signature, then payload
		sig = body.MustLoadSlice(512)
		data := body.MustLoadSlice(bits - 512)
		payload = cell.BeginCell().MustStoreSlice(data, bits-512)
	}
	for body.RefsNum() > 0 {
		payload.MustStoreRef(body.MustLoadRef().MustToCell())
	}
	pc := payload.EndCell()
	d := decodedExternal{ext: ext, sigOK: pc.Verify(pub, sig)}
	p := pc.BeginParse()
	switch v {
	case V5R1:
		if op := p.MustLoadUInt(32); op != 0x7369676e {
			t.Fatalf("v5 opcode %x", op)
		}
		d.walletID = uint32(p.MustLoadUInt(32))
		d.validUntil = uint32(p.MustLoadUInt(32))
		d.seqno = uint32(p.MustLoadUInt(32))
		if p.MustLoadBoolBit() { // out actions present
			list := p.MustLoadRef()
			for list.RefsNum() > 0 && list.BitsLeft() > 0 {
				d.actions++
				list = list.MustLoadRef()
			}
		}
	case V4R2:
		d.walletID = uint32(p.MustLoadUInt(32))
		d.validUntil = uint32(p.MustLoadUInt(32))
		d.seqno = uint32(p.MustLoadUInt(32))
		p.MustLoadUInt(8) // op
		d.actions = p.RefsNum()
	}
	return d
}

func TestBuildExternal(t *testing.T) {
	t.Parallel()
	tests := []struct {
		version      Version
		seqno        uint32
		deploy       bool
		wantWalletID uint32
	}{
		{V5R1, 7, false, 0x7fffff11}, // -239 xor context id
		{V5R1, 0, true, 0x7fffff11},
		{V4R2, 42, false, tonwallet.DefaultSubwallet},
		{V4R2, 0, true, tonwallet.DefaultSubwallet},
	}
	for _, tt := range tests {
		t.Run(string(tt.version), func(t *testing.T) {
			t.Parallel()
			w := openTestWallet(t, tt.version)
			msg, err := BuildTransfer(fxDest, big.NewInt(1_500_000_000), "hello", true)
			if err != nil {
				t.Fatal(err)
			}
			before := time.Now()
			ext, err := w.BuildExternal(context.Background(), tt.seqno, tt.deploy, msg)
			if err != nil {
				t.Fatal(err)
			}
			msgCell, boc, err := SerializeExternal(ext)
			if err != nil {
				t.Fatal(err)
			}
			d := decodeExternal(t, tt.version, w.PublicKey(), boc)
			if !d.sigOK {
				t.Error("signature does not verify with the wallet's public key")
			}
			other := ed25519.NewKeyFromSeed(make([]byte, 32)).Public().(ed25519.PublicKey)
			if decodeExternal(t, tt.version, other, boc).sigOK {
				t.Error("signature verifies with another key")
			}
			if d.seqno != tt.seqno || d.walletID != tt.wantWalletID || d.actions != 1 {
				t.Errorf("seqno %d wallet id %#x actions %d, want %d %#x 1", d.seqno, d.walletID, d.actions, tt.seqno, tt.wantWalletID)
			}
			ttl := int64(d.validUntil) - before.Unix()
			if ttl < int64(DefaultMessageTTL/time.Second)-2 || ttl > int64(DefaultMessageTTL/time.Second)+2 {
				t.Errorf("valid_until is %ds from now, want about %s", ttl, DefaultMessageTTL)
			}
			if !d.ext.DstAddr.Equals(w.Address()) {
				t.Errorf("destination %s, want %s", d.ext.DstAddr, w.Address())
			}
			if (d.ext.StateInit != nil) != tt.deploy {
				t.Fatalf("state init present = %v, want %v", d.ext.StateInit != nil, tt.deploy)
			}
			if tt.deploy {
				si, err := tlb.ToCell(d.ext.StateInit)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(si.Hash(), w.Address().Data()) {
					t.Error("state init does not hash to the wallet address")
				}
			}
			if !bytes.Equal(msgCell.Hash(), mustParse(t, boc).Hash()) {
				t.Error("BOC does not hold the message cell")
			}
		})
	}
}

func mustParse(t *testing.T, boc []byte) *cell.Cell {
	t.Helper()
	c, err := cell.FromBOC(boc)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestBuildTransfer(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		amount  *big.Int
		comment string
		bounce  bool
		wantErr bool
	}{
		{"plain", big.NewInt(1), "", false, false},
		{"comment", big.NewInt(5_000_000_000), "for coffee", true, false},
		{"long comment", big.NewInt(1), strings.Repeat("x", 500), true, false},
		{"negative", big.NewInt(-1), "", false, true},
		{"nil", nil, "", false, true},
	}
	for _, tt := range tests {
		m, err := BuildTransfer(fxDest, tt.amount, tt.comment, tt.bounce)
		if (err != nil) != tt.wantErr {
			t.Errorf("%s: err = %v", tt.name, err)
			continue
		}
		if err != nil {
			continue
		}
		im := m.InternalMessage
		if m.Mode != 3 || im.Bounce != tt.bounce || im.Amount.Nano().Cmp(tt.amount) != 0 || !im.DstAddr.Equals(fxDest) || im.Comment() != tt.comment {
			t.Errorf("%s: message = mode %d %+v (comment %q)", tt.name, m.Mode, im, im.Comment())
		}
	}
}

func TestSend(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		version     Version
		net         *fakeNet
		amount      int64
		wait        time.Duration
		wantErr     string
		wantTxErr   bool
		wantSent    int
		wantSeqno   uint32
		wantDeploy  bool
		wantGetCall bool
	}{
		{
			name: "active v5r1, found below newer transactions", version: V5R1,
			net:    &fakeNet{acc: chain.Account{Status: chain.StatusActive, Balance: big.NewInt(10e9)}, seqno: big.NewInt(7), includeAfter: 2, noise: 20},
			amount: 1e9, wantSent: 1, wantSeqno: 7, wantGetCall: true,
		},
		{
			name: "active v4r2", version: V4R2,
			net:    &fakeNet{acc: chain.Account{Status: chain.StatusActive, Balance: big.NewInt(10e9)}, seqno: big.NewInt(3)},
			amount: 1e9, wantSent: 1, wantSeqno: 3, wantGetCall: true,
		},
		{
			name: "funded but undeployed deploys", version: V5R1,
			net:    &fakeNet{acc: chain.Account{Status: chain.StatusUninit, Balance: big.NewInt(2e9)}, includeAfter: 1},
			amount: 1e9, wantSent: 1, wantSeqno: 0, wantDeploy: true,
		},
		{
			name: "empty undeployed wallet", version: V5R1,
			net:    &fakeNet{acc: chain.Account{Status: chain.StatusNonexist}},
			amount: 1e9, wantErr: "not deployed and has no funds; send TON to its non-bounceable address UQ",
		},
		{
			name: "not enough balance", version: V5R1,
			net:    &fakeNet{acc: chain.Account{Status: chain.StatusActive, Balance: big.NewInt(5e8)}, seqno: big.NewInt(1)},
			amount: 1e9, wantErr: "has 0.500000000 TON, less than the 1.000000000 TON to send",
		},
		{
			name: "frozen", version: V5R1,
			net:    &fakeNet{acc: chain.Account{Status: chain.StatusFrozen, Balance: big.NewInt(5e9)}},
			amount: 1e9, wantErr: "is frozen and cannot send",
		},
		{
			name: "bad seqno result", version: V5R1,
			net:    &fakeNet{acc: chain.Account{Status: chain.StatusActive, Balance: big.NewInt(5e9)}, seqno: mustCellNil()},
			amount: 1e9, wantErr: "want a 32-bit unsigned integer", wantGetCall: true,
		},
		{
			name: "send refused", version: V5R1,
			net:    &fakeNet{acc: chain.Account{Status: chain.StatusActive, Balance: big.NewInt(5e9)}, seqno: big.NewInt(1), sendErr: errors.New("toncenter sendBocReturnHash: HTTP 500: cannot apply external message")},
			amount: 1e9, wantErr: "cannot apply external message", wantGetCall: true,
		},
		{
			name: "never included", version: V5R1,
			net:    &fakeNet{acc: chain.Account{Status: chain.StatusActive, Balance: big.NewInt(5e9)}, seqno: big.NewInt(1), never: true},
			amount: 1e9, wait: 30 * time.Millisecond, wantErr: "not seen in a transaction", wantSent: 1, wantSeqno: 1, wantGetCall: true,
		},
		{
			name: "included but failed", version: V5R1,
			net:    &fakeNet{acc: chain.Account{Status: chain.StatusActive, Balance: big.NewInt(5e9)}, seqno: big.NewInt(9), desc: "template"},
			amount: 1e9, wantErr: "compute phase skipped", wantTxErr: true, wantSent: 1, wantSeqno: 9, wantGetCall: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var opts []Option
			if tt.wait != 0 {
				opts = append(opts, WithWaitTimeout(tt.wait))
			}
			w := openTestWallet(t, tt.version, opts...)
			n := tt.net
			n.t = t
			if n.desc == "template" {
				n.desc = nil // keep the template's failed description
			} else {
				n.desc = successDesc()
			}
			// An older transaction, which must not be mistaken for the new one.
			if n.acc.Status == chain.StatusActive {
				n.push(w.Address(), nil, successDesc())
			}
			tx, err := w.Transfer(context.Background(), n, fxDest, big.NewInt(tt.amount), "hi", true)

			if len(n.sent) != tt.wantSent {
				t.Fatalf("sent %d messages, want %d", len(n.sent), tt.wantSent)
			}
			if (n.getCalls > 0) != tt.wantGetCall {
				t.Errorf("seqno get-method called %d times", n.getCalls)
			}
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want containing %q", err, tt.wantErr)
				}
				var txErr *TxError
				if errors.As(err, &txErr) != tt.wantTxErr || tt.wantTxErr && (tx == nil || txErr.Tx != tx) {
					t.Errorf("err = %#v, tx = %v; want TxError %v with the transaction", err, tx, tt.wantTxErr)
				}
				if tt.wantSent == 0 {
					return
				}
			} else if err != nil {
				t.Fatal(err)
			}
			d := decodeExternal(t, tt.version, w.PublicKey(), n.sent[0])
			if !d.sigOK || d.seqno != tt.wantSeqno || (d.ext.StateInit != nil) != tt.wantDeploy {
				t.Errorf("sent message: sig %v seqno %d deploy %v, want seqno %d deploy %v", d.sigOK, d.seqno, d.ext.StateInit != nil, tt.wantSeqno, tt.wantDeploy)
			}
			if tx == nil {
				return
			}
			h, err := chain.InMsgHash(tx)
			if err != nil || !bytes.Equal(h, mustParse(t, n.sent[0]).Hash()) {
				t.Errorf("returned transaction %d has in_msg %x, want the sent message", tx.ID.LT, h)
			}
		})
	}
}

// mustCellNil returns a value of the wrong type for a seqno.
func mustCellNil() any { return cell.BeginCell().EndCell() }

func TestSendRespectsContext(t *testing.T) {
	t.Parallel()
	w := openTestWallet(t, V5R1, WithWaitTimeout(time.Hour), WithPollInterval(time.Hour))
	n := &fakeNet{t: t, acc: chain.Account{Status: chain.StatusActive, Balance: big.NewInt(5e9)}, seqno: big.NewInt(1), never: true}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := w.Transfer(ctx, n, fxDest, big.NewInt(1), "", false)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v", err)
	}
	if time.Since(start) > 10*time.Second {
		t.Error("waiting ignored the context")
	}
}

func TestCheckOutcome(t *testing.T) {
	t.Parallel()
	failedVM := successDesc()
	vm := failedVM.ComputePhase.Phase.(tlb.ComputePhaseVM)
	vm.Success = false
	vm.Details.ExitCode = 33
	failedVM.ComputePhase.Phase = vm
	withAction := func(a tlb.ActionPhase) tlb.TransactionDescriptionOrdinary {
		d := successDesc()
		d.ActionPhase = &a
		return d
	}
	aborted := successDesc()
	aborted.Aborted = true
	tests := []struct {
		name    string
		desc    any
		wantErr string
	}{
		{"success", successDesc(), ""},
		{"success by pointer", func() any { d := successDesc(); return &d }(), ""},
		{"actions done", withAction(tlb.ActionPhase{Success: true, Valid: true, TotalActions: 1}), ""},
		{"compute failed", failedVM, "compute phase failed with exit code 33"},
		{"compute skipped", tlb.TransactionDescriptionOrdinary{ComputePhase: tlb.ComputePhase{Phase: tlb.ComputePhaseSkipped{Reason: tlb.ComputeSkipReason{Type: tlb.ComputeSkipReasonNoGas}}}}, "compute phase skipped (NO_GAS)"},
		{"action failed", withAction(tlb.ActionPhase{Success: false, ResultCode: 37, TotalActions: 1}), "action phase failed with result code 37"},
		{"action skipped", withAction(tlb.ActionPhase{Success: true, Valid: true, TotalActions: 1, SkippedActions: 1}), "1 of 1 actions skipped"},
		{"aborted", aborted, "transaction aborted"},
		{"tick-tock is not judged", tlb.TransactionDescriptionTickTock{}, ""},
	}
	for _, tt := range tests {
		tx := &chain.Transaction{ID: chain.TxID{LT: 5, Hash: make([]byte, 32)}, Tx: &tlb.Transaction{Description: tt.desc}}
		err := CheckOutcome(tx)
		if tt.wantErr == "" {
			if err != nil {
				t.Errorf("%s: %v", tt.name, err)
			}
			continue
		}
		var txErr *TxError
		if !errors.As(err, &txErr) || !strings.Contains(err.Error(), tt.wantErr) || txErr.Tx != tx {
			t.Errorf("%s: err = %v, want TxError containing %q", tt.name, err, tt.wantErr)
		}
	}
}

func TestInMsgHash(t *testing.T) {
	t.Parallel()
	addr := address.MustParseAddr("EQAwAFYLdNnD5yANIAo09Qee1112lRc1X9Z3If5u_bQN0etK")
	ext, err := tlb.ToCell(&tlb.ExternalMessage{DstAddr: addr, Body: cell.BeginCell().MustStoreUInt(1, 8).EndCell()})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		in   *cell.Cell
	}{{"external", ext}, {"none", nil}}
	for _, tt := range tests {
		tx := makeTx(t, addr, 100, chain.TxID{}, tt.in, successDesc())
		h, err := chain.InMsgHash(tx)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if tt.in == nil && h != nil || tt.in != nil && !bytes.Equal(h, tt.in.Hash()) {
			t.Errorf("%s: hash = %x", tt.name, h)
		}
	}
	if _, err := chain.InMsgHash(&chain.Transaction{BOC: []byte("junk")}); err == nil {
		t.Error("no error for a junk BOC")
	}
}
