package channel

import (
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// tolkConsts reads the `const NAME = N` lines of a Tolk file whose names
// start with prefix.
func tolkConsts(t *testing.T, path, prefix string) map[string]int {
	t.Helper()
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`(?m)^const\s+(` + prefix + `[A-Z0-9_]*)\s*=\s*(0[xX][0-9a-fA-F]+|\d+)\b`)
	out := map[string]int{}
	for _, m := range re.FindAllStringSubmatch(string(src), -1) {
		n, err := strconv.ParseInt(m[2], 0, 64)
		if err != nil {
			t.Fatalf("%s = %s: %v", m[1], m[2], err)
		}
		out[m[1]] = int(n)
	}
	return out
}

// The Go exit codes are exactly the contract's, distinct from the other
// contracts' codes, and each has a row in docs/CHANNELS.md.
func TestExitCodesMatchContract(t *testing.T) {
	tolk := tolkConsts(t, "../../contracts/channel.tolk", "ERR_CH_")
	goCodes := map[string]int{
		"ERR_CH_NOT_PAYER": ExitNotPayer, "ERR_CH_BAD_SIGNATURE": ExitBadSignature, "ERR_CH_WRONG_CHANNEL": ExitWrongChannel,
		"ERR_CH_NOT_ABOVE_PAID": ExitNotAbovePaid, "ERR_CH_OVER_DEPOSIT": ExitOverDeposit, "ERR_CH_CLOSING": ExitClosing,
		"ERR_CH_NOT_CLOSING": ExitNotClosing, "ERR_CH_TOO_EARLY": ExitTooEarly, "ERR_CH_LOW_VALUE": ExitLowValue,
		"ERR_CH_UNKNOWN_OP": ExitUnknownOp, "ERR_CH_CLOSED": ExitClosed,
	}
	if len(tolk) != len(goCodes) || len(exitNames) != len(goCodes) {
		t.Fatalf("channel.tolk has %d codes, the Go side %d (%d named)", len(tolk), len(goCodes), len(exitNames))
	}
	shared := map[int]string{}
	for name, n := range tolkConsts(t, "../../contracts/common/errors.tolk", "ERR_") {
		shared[n] = name
	}
	docs, err := os.ReadFile("../../docs/CHANNELS.md")
	if err != nil {
		t.Fatal(err)
	}
	for name, n := range tolk {
		if goCodes[name] != n {
			t.Errorf("%s: channel.tolk says %d, the Go side %d", name, n, goCodes[name])
		}
		if other, ok := shared[n]; ok {
			t.Errorf("%s = %d is also %s in common/errors.tolk", name, n, other)
		}
		if exitNames[n] == "" {
			t.Errorf("%s = %d has no name for RefusedError", name, n)
		}
		if !strings.Contains(string(docs), "| "+strconv.Itoa(n)+" | `"+name+"` |") {
			t.Errorf("%s = %d has no row in docs/CHANNELS.md", name, n)
		}
	}
}

// The contract's opcodes and amounts are the ones the Go side sends.
func TestContractConstantsMatch(t *testing.T) {
	src, err := os.ReadFile("../../contracts/channel.tolk")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"struct (0xc4a10001) TopUp", "struct (0xc4a10002) Commit", "struct (0xc4a10003) Close",
		"struct (0xc4a10004) StartClose", "struct (0xc4a10005) Finish",
		"const RESERVE = ton(\"0.01\")", "const MIN_GAS = ton(\"0.004\")", "const CLOSE_BOND = ton(\"0.02\")",
		"const VOUCHER_TAG = 0x43435643", "const CLOSE_TAG = 0x4343434c",
	} {
		if !strings.Contains(string(src), want) {
			t.Errorf("contracts/channel.tolk lacks %q", want)
		}
	}
	if reserve != 10_000_000 || minGas != 4_000_000 || closeBond != 20_000_000 || voucherTag != 0x43435643 || closeTag != 0x4343434c {
		t.Error("the Go constants differ from the contract's")
	}
}
