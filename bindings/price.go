package bindings

import "math/big"

// Price math exactly as the Job contract does it; prices are nanoton per
// 1,000,000 tokens, and each side of a charge rounds up so that a worker is
// never paid less than its price for a partial million.

// bpsDenom is the basis-point denominator (BPS in the contracts).
const bpsDenom = 10000

// mulDivCeil is ⌈a × b / d⌉ for non-negative a, b and positive d.
func mulDivCeil(a, b, d *big.Int) *big.Int {
	n := new(big.Int).Mul(nz(a), nz(b))
	q, r := new(big.Int).QuoRem(n, d, new(big.Int))
	if r.Sign() > 0 {
		q.Add(q, big.NewInt(1))
	}
	return q
}

func nz(v *big.Int) *big.Int {
	if v == nil {
		return new(big.Int)
	}
	return v
}

// Charge is what serving in input and out output tokens costs:
// ⌈priceIn × in / 10⁶⌉ + ⌈priceOut × out / 10⁶⌉.
func Charge(priceIn, priceOut *big.Int, in, out uint32) *big.Int {
	million := big.NewInt(OneMillion)
	c := mulDivCeil(priceIn, new(big.Int).SetUint64(uint64(in)), million)
	return c.Add(c, mulDivCeil(priceOut, new(big.Int).SetUint64(uint64(out)), million))
}

// MaxCost is the charge for a job's maximum token counts.
func MaxCost(t JobTerms) *big.Int { return Charge(t.PriceIn, t.PriceOut, t.MaxIn, t.MaxOut) }

// MinEscrow is the least value JobCreate must carry: MaxCost + JobGasReserve.
func MinEscrow(t JobTerms) *big.Int {
	return new(big.Int).Add(MaxCost(t), big.NewInt(JobGasReserve))
}

// Fee is the protocol's share of a charge: ⌊charge × bps / 10000⌋.
func Fee(charge *big.Int, bps uint16) *big.Int {
	f := new(big.Int).Mul(nz(charge), big.NewInt(int64(bps)))
	return f.Quo(f, big.NewInt(bpsDenom))
}

// SlashAmount is what a Slash takes from a stake: ⌊stake × bps / 10000⌋
// (when the worker's slash window has room; see SlashSplit).
func SlashAmount(stake *big.Int, bps uint16) *big.Int { return Fee(stake, bps) }

// SlashSplit is how a Slash that takes stake divides it: the client's
// compensation is at most the job's max cost, the rest is forfeit to the
// treasury.
func SlashSplit(stake *big.Int, bps uint16, maxCost *big.Int) (amount, compensation, forfeit *big.Int) {
	amount = SlashAmount(stake, bps)
	compensation = new(big.Int).Set(amount)
	if maxCost != nil && maxCost.Cmp(amount) < 0 {
		compensation.Set(maxCost)
	}
	return amount, compensation, new(big.Int).Sub(amount, compensation)
}
