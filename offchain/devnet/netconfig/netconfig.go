// Package netconfig holds the blockchain configuration the devnet runs under:
// a real TON mainnet config, so that gas, fees, storage and bounce rules are
// exactly mainnet's.
package netconfig

import (
	_ "embed"
	"encoding/base64"
	"fmt"

	"github.com/xssnick/tonutils-go/tvm/cell"
)

// mainnetConfig is the ConfigParams dictionary of TON mainnet at masterchain
// block 52956904 (global version 12, global id -239), as shipped in the npm
// package @ton/sandbox 0.41.0. docs/DEVNET.md records how to replace it.
//
//go:embed mainnet-config.boc
var mainnetConfig []byte

// Source says where the embedded config came from.
const Source = "TON mainnet config at masterchain block 52956904 (from @ton/sandbox 0.41.0)"

// Config is a parsed blockchain config.
type Config struct {
	BOC    []byte
	params *cell.Dictionary
}

// Mainnet returns the embedded mainnet config.
func Mainnet() (*Config, error) { return Parse(mainnetConfig) }

// Parse reads a config from the BOC of its ConfigParams dictionary root.
func Parse(boc []byte) (*Config, error) {
	root, err := cell.FromBOC(boc)
	if err != nil {
		return nil, fmt.Errorf("parsing config BOC: %w", err)
	}
	dict, err := root.BeginParse().ToDict(32)
	if err != nil {
		return nil, fmt.Errorf("reading config dictionary: %w", err)
	}
	return &Config{BOC: boc, params: dict}, nil
}

// Base64 is the config BOC as the emulator takes it.
func (c *Config) Base64() string { return base64.StdEncoding.EncodeToString(c.BOC) }

// Param returns config parameter n, or nil when it is absent.
func (c *Config) Param(n uint32) (*cell.Slice, error) {
	key := cell.BeginCell().MustStoreUInt(uint64(n), 32).EndCell()
	v, err := c.params.LoadValue(key)
	if err != nil {
		return nil, fmt.Errorf("config param %d: %w", n, err)
	}
	ref, err := v.LoadRef()
	if err != nil {
		return nil, fmt.Errorf("config param %d: %w", n, err)
	}
	return ref, nil
}

// GlobalVersion returns the global version and capabilities (param 8).
func (c *Config) GlobalVersion() (version uint32, capabilities uint64, err error) {
	p, err := c.Param(8)
	if err != nil {
		return 0, 0, err
	}
	// capabilities#c4 version:uint32 capabilities:uint64
	tag, err := p.LoadUInt(8)
	if err != nil || tag != 0xc4 {
		return 0, 0, fmt.Errorf("config param 8: unexpected tag %x", tag)
	}
	v, err := p.LoadUInt(32)
	if err != nil {
		return 0, 0, fmt.Errorf("config param 8: %w", err)
	}
	caps, err := p.LoadUInt(64)
	if err != nil {
		return 0, 0, fmt.Errorf("config param 8: %w", err)
	}
	return uint32(v), caps, nil
}

// GlobalID returns the network's global id (param 19): -239 on mainnet.
func (c *Config) GlobalID() (int32, error) {
	p, err := c.Param(19)
	if err != nil {
		return 0, err
	}
	v, err := p.LoadInt(32)
	if err != nil {
		return 0, fmt.Errorf("config param 19: %w", err)
	}
	return int32(v), nil
}
