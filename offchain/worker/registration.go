package worker

import (
	"crypto/ed25519"
	"fmt"

	"github.com/xssnick/tonutils-go/address"

	"github.com/cocoon-network/cocoon/bindings"
	"github.com/cocoon-network/cocoon/offchain/chain"
	"github.com/cocoon-network/cocoon/offchain/owner"
	"github.com/cocoon-network/cocoon/offchain/seal"
	"github.com/cocoon-network/cocoon/offchain/tonamount"
)

// Profile is the registration the Worker contract stores and Root checks.
func Profile(cfg *Config, id *Identity) (bindings.WorkerProfile, error) {
	tee, err := bindings.ParseTEE(id.Bundle.TEE)
	if err != nil {
		return bindings.WorkerProfile{}, err
	}
	meas, err := id.Measurement()
	if err != nil {
		return bindings.WorkerProfile{}, err
	}
	models := bindings.Models{}
	for _, m := range cfg.Models {
		in, err := tonamount.Parse(m.PriceIn)
		if err != nil {
			return bindings.WorkerProfile{}, fmt.Errorf("model %s price_in: %w", m.Name, err)
		}
		out, err := tonamount.Parse(m.PriceOut)
		if err != nil {
			return bindings.WorkerProfile{}, fmt.Errorf("model %s price_out: %w", m.Name, err)
		}
		models[bindings.ModelID(m.Name)] = bindings.ModelPrice{PriceIn: in, PriceOut: out}
	}
	return bindings.WorkerProfile{
		HPKEKey:         seal.Commitment(id.HPKE.Public()),
		AttestationHash: id.EvidenceHash(),
		TEE:             tee,
		Measurement:     meas,
		Models:          models,
		Endpoint:        cfg.PublicURL,
	}, nil
}

// WorkerAddressFor is the Worker contract of (config, keys).
func WorkerAddressFor(cfg *Config, id *Identity) (*address.Address, error) {
	root, own, err := contractOf(cfg)
	if err != nil {
		return nil, err
	}
	return bindings.WorkerAddress(root, own, bindings.PublicKey256(id.SignKey.Public().(ed25519.PublicKey))), nil
}

// Registration is what the owner registers this worker with
// (owner.Register): its Worker contract's inputs and its profile.
func Registration(cfg *Config, id *Identity) (owner.Registration, error) {
	root, own, err := contractOf(cfg)
	if err != nil {
		return owner.Registration{}, err
	}
	p, err := Profile(cfg, id)
	if err != nil {
		return owner.Registration{}, err
	}
	return owner.Registration{Root: root, Owner: own, SignKey: id.SignKey.Public().(ed25519.PublicKey), Profile: p}, nil
}

// contractOf is the Root and owner of cfg's Worker contract.
func contractOf(cfg *Config) (root, own *address.Address, err error) {
	if root, err = chain.ParseAddress(cfg.Root); err != nil {
		return nil, nil, fmt.Errorf("config root: %w", err)
	}
	if own, err = chain.ParseAddress(cfg.Owner); err != nil {
		return nil, nil, fmt.Errorf("config owner: %w", err)
	}
	return root, own, nil
}
