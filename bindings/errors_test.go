package bindings

import (
	"go/ast"
	"go/constant"
	"go/parser"
	"go/token"
	"go/types"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// tolkErrors reads the `const ERR_X = N` lines of contracts/common/errors.tolk.
func tolkErrors(t *testing.T) map[string]int {
	t.Helper()
	src, err := os.ReadFile("../contracts/common/errors.tolk")
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`(?m)^\s*const\s+(ERR_[A-Z0-9_]+)\s*=\s*(0[xX][0-9a-fA-F]+|\d+)\b`)
	out := map[string]int{}
	for _, m := range re.FindAllStringSubmatch(string(src), -1) {
		n, err := strconv.ParseInt(m[2], 0, 64)
		if err != nil {
			t.Fatalf("%s = %s: %v", m[1], m[2], err)
		}
		if _, dup := out[m[1]]; dup {
			t.Fatalf("%s declared twice in errors.tolk", m[1])
		}
		out[m[1]] = int(n)
	}
	// Every const line must have matched, so a new syntax cannot hide a code.
	if n := strings.Count(string(src), "\nconst "); n != len(out) {
		t.Fatalf("errors.tolk has %d const lines, %d parsed", n, len(out))
	}
	return out
}

// TestErrorCodesMatchTolk checks that the Go table is exactly errors.tolk:
// the same names with the same numbers, nothing missing, nothing extra.
func TestErrorCodesMatchTolk(t *testing.T) {
	tolk := tolkErrors(t)
	if len(tolk) == 0 {
		t.Fatal("no codes found in errors.tolk")
	}
	goTable := map[string]int{}
	for code, name := range exitCodeNames {
		goTable[name] = int(code)
	}
	for name, n := range tolk {
		g, ok := goTable[name]
		switch {
		case !ok:
			t.Errorf("%s = %d is in errors.tolk but not in bindings/errors.go", name, n)
		case g != n:
			t.Errorf("%s: errors.tolk says %d, bindings/errors.go says %d", name, n, g)
		}
	}
	for name, g := range goTable {
		if _, ok := tolk[name]; !ok {
			t.Errorf("%s = %d is in bindings/errors.go but not in errors.tolk", name, g)
		}
	}
}

// TestErrorConstNames checks that each Go constant is named after its Tolk
// constant (ERR_NOT_A_WORKER → ErrNotAWorker, initialisms in any case).
func TestErrorConstNames(t *testing.T) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "errors.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	conf := types.Config{Importer: nil, Error: func(error) {}}
	info := &types.Info{Defs: map[*ast.Ident]types.Object{}}
	_, _ = conf.Check("bindings", fset, []*ast.File{f}, info)
	tolk := tolkErrors(t)
	byValue := map[int]string{}
	for name, n := range tolk {
		byValue[n] = name
	}
	found := 0
	for id, obj := range info.Defs {
		c, ok := obj.(*types.Const)
		if !ok || !strings.HasPrefix(id.Name, "Err") {
			continue
		}
		v, ok := constant.Int64Val(c.Val())
		if !ok {
			continue
		}
		found++
		tolkName, ok := byValue[int(v)]
		if !ok {
			t.Errorf("%s = %d has no code in errors.tolk", id.Name, v)
			continue
		}
		if want := camel(tolkName); !strings.EqualFold(id.Name, want) {
			t.Errorf("%s = %d should be named like %s (%s)", id.Name, v, want, tolkName)
		}
	}
	if found != len(tolk) {
		t.Errorf("errors.go declares %d Err constants, errors.tolk %d", found, len(tolk))
	}
}

func camel(tolkName string) string {
	var b strings.Builder
	for _, part := range strings.Split(strings.ToLower(tolkName), "_") {
		if part == "" {
			continue
		}
		b.WriteString(strings.ToUpper(part[:1]) + part[1:])
	}
	return b.String()
}

func TestErrorName(t *testing.T) {
	cases := map[int]string{
		110:    "ERR_NOT_OWNER",
		0xFFFF: "ERR_UNKNOWN_OP",
		160:    "ERR_BAD_TERMS",
		9:      "TVM: cell underflow (message too short or malformed)",
		4242:   "exit code 4242",
	}
	for code, want := range cases {
		if got := ErrorName(code); got != want {
			t.Errorf("ErrorName(%d) = %q, want %q", code, got, want)
		}
	}
	if s := ErrNotOwner.String(); s != "ERR_NOT_OWNER (110)" {
		t.Errorf("String() = %q", s)
	}
}
