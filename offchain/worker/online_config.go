package worker

import (
	"fmt"
	"math/big"

	"github.com/cocoon-network/cocoon/offchain/channel"
	"github.com/cocoon-network/cocoon/offchain/tonamount"
)

// OnlineConfig is the [online] section: the OpenAI-compatible endpoint that
// gateways call with payment vouchers (docs/GATEWAY.md).
type OnlineConfig struct {
	// Credit is how much (TON) a payer may owe beyond its vouchers,
	// counting running requests at their maximum cost: the worker's
	// exposure to one payer. Default 0.1.
	Credit string `toml:"credit"`
	// MaxConcurrent online requests run at once (default: max_concurrent).
	MaxConcurrent int `toml:"max_concurrent"`
	// Queue is how many more may wait for a slot; beyond it the answer is
	// 429 with Retry-After (default: 2 × the slots).
	Queue int `toml:"queue"`
	// DefaultMaxTokens is the output limit of a request that sets none
	// (default 1024); MaxTokens caps any request's limit (default 32768).
	DefaultMaxTokens int `toml:"default_max_tokens"`
	MaxTokens        int `toml:"max_tokens"`
	// Payments is how payers pay: "channels" (Cocoon payment channels, the
	// default) or "iou" (signed IOUs without a deposit: tests and networks
	// without channels; the worker's exposure is then its credit).
	Payments string `toml:"payments"`
	// GasWallet is a small wallet (file) that pays the gas of the
	// channel watcher's commits and closes; without it the worker opens no
	// payment channels (it could neither cash vouchers nor answer a
	// payer's close alone).
	GasWallet string `toml:"gas_wallet"`
	// CommitAbove (TON): when a channel's uncommitted earnings pass it,
	// the worker's watcher commits them (the payer's latest voucher is all
	// the contract needs), paying them to the owner while the channel
	// stays open; at shutdown it commits whatever is left. Default 0.5; it
	// needs GasWallet, which pays the commit's gas.
	CommitAbove string `toml:"commit_above"`
}

// Payment schemes of OnlineConfig.Payments.
const (
	PaymentsChannels = "channels"
	PaymentsIOU      = "iou"
)

func (o *OnlineConfig) applyDefaults(maxConcurrent int) {
	if o.Credit == "" {
		o.Credit = "0.1"
	}
	if o.MaxConcurrent == 0 {
		o.MaxConcurrent = maxConcurrent
	}
	if o.Queue == 0 {
		o.Queue = 2 * o.MaxConcurrent
	}
	if o.DefaultMaxTokens == 0 {
		o.DefaultMaxTokens = 1024
	}
	if o.MaxTokens == 0 {
		o.MaxTokens = 32768
	}
	if o.Payments == "" {
		o.Payments = PaymentsChannels
	}
	if o.CommitAbove == "" {
		o.CommitAbove = "0.5"
	}
}

func (o *OnlineConfig) validate() error {
	if _, err := o.creditNano(); err != nil {
		return err
	}
	if _, err := o.commitAboveNano(); err != nil {
		return err
	}
	switch {
	case o.Payments != PaymentsChannels && o.Payments != PaymentsIOU:
		return fmt.Errorf("online.payments: %q (want %q or %q)", o.Payments, PaymentsChannels, PaymentsIOU)
	case o.MaxConcurrent < 1:
		return fmt.Errorf("online.max_concurrent: %d, must be at least 1", o.MaxConcurrent)
	case o.Queue < 0:
		return fmt.Errorf("online.queue: %d, must not be negative", o.Queue)
	case o.DefaultMaxTokens < 1 || o.MaxTokens < 1:
		return fmt.Errorf("online.default_max_tokens (%d) and online.max_tokens (%d) must be positive", o.DefaultMaxTokens, o.MaxTokens)
	case o.DefaultMaxTokens > o.MaxTokens:
		return fmt.Errorf("online.default_max_tokens %d is above online.max_tokens %d", o.DefaultMaxTokens, o.MaxTokens)
	}
	return nil
}

func (o *OnlineConfig) creditNano() (*big.Int, error) {
	v, err := tonamount.Parse(o.Credit)
	if err != nil {
		return nil, fmt.Errorf("online.credit: %w", err)
	}
	return v, nil
}

func (o *OnlineConfig) commitAboveNano() (*big.Int, error) {
	if o.CommitAbove == "" { // a Config built in code, not loaded
		return channel.DefaultPayeePolicy().CommitAbove, nil
	}
	v, err := tonamount.Parse(o.CommitAbove)
	if err != nil {
		return nil, fmt.Errorf("online.commit_above: %w", err)
	}
	return v, nil
}
