// Package contracts embeds the compiled Tolk contracts (contracts/build/*.json,
// produced by `make contracts` and committed), so that Go builds need no Node.
package contracts

import (
	"embed"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/xssnick/tonutils-go/tvm/cell"
)

//go:embed build/*.json
var artifacts embed.FS

// Artifact is one compiled contract.
type Artifact struct {
	Name     string `json:"name"`
	Compiler string `json:"compiler"`
	CodeBoc  string `json:"codeBoc64"`
	CodeHash string `json:"codeHashHex"`
}

// Load returns the compiled contract with the given name (e.g. "relay").
func Load(name string) (*Artifact, error) {
	raw, err := artifacts.ReadFile("build/" + name + ".json")
	if err != nil {
		return nil, fmt.Errorf("contract %q is not compiled into contracts/build: %w", name, err)
	}
	var a Artifact
	if err := json.Unmarshal(raw, &a); err != nil {
		return nil, fmt.Errorf("contract %q artifact: %w", name, err)
	}
	return &a, nil
}

// Code decodes the contract's code cell and checks it against the recorded hash.
func (a *Artifact) Code() (*cell.Cell, error) {
	boc, err := base64.StdEncoding.DecodeString(a.CodeBoc)
	if err != nil {
		return nil, fmt.Errorf("contract %q code: %w", a.Name, err)
	}
	c, err := cell.FromBOC(boc)
	if err != nil {
		return nil, fmt.Errorf("contract %q code: %w", a.Name, err)
	}
	if got := hex.EncodeToString(c.Hash()); !strings.EqualFold(got, a.CodeHash) {
		return nil, fmt.Errorf("contract %q: code hash %s differs from the recorded %s", a.Name, got, a.CodeHash)
	}
	return c, nil
}

// MustCode returns the named contract's code and panics if the embedded
// artifact is broken, which only a bad commit can cause.
func MustCode(name string) *cell.Cell {
	a, err := Load(name)
	if err != nil {
		panic(err)
	}
	c, err := a.Code()
	if err != nil {
		panic(err)
	}
	return c
}
