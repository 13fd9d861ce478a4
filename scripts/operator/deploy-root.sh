#!/usr/bin/env bash
# Deploy a Cocoon Root and allow one enclave image and one model, on any
# network: a thin wrapper over `cocoon root …` for operators.
#
#   scripts/operator/deploy-root.sh NETWORK OPERATOR_WALLET TEE MEASUREMENT_HEX MODEL WEIGHTS_HASH_HEX [--test-mode]
#
#   NETWORK           http://127.0.0.1:8081 (a devnet), testnet or mainnet
#   TEE               tdx, sevsnp, nvidia_cc or dev (dev needs --test-mode: NOT SECURE)
#   MEASUREMENT_HEX   the image hash `cocoon attest verify --json` prints as image_hash;
#                     - with TEE dev: the dev image of `cocoon worker init`
#   MODEL             the model's public name (its id on chain is sha256 of it)
#   WEIGHTS_HASH_HEX  sha256 of the weights (`cocoon worker attest` prints it);
#                     - pins none (a test network with the reference engine)
#
# A devnet in one line, for the reference engine's model:
#   scripts/operator/deploy-root.sh http://127.0.0.1:8081 op.wallet dev - cocoon-reference - --test-mode
#
# Prints Root's address last; set COCOON_ROOT to it for the other commands.
# Prices and params: edit the variables below or change them later with
# `cocoon root set-params` / `cocoon root add-model`.
set -euo pipefail

if [ $# -lt 6 ]; then
  sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
fi
network=$1 wallet=$2 tee=$3 measurement=$4 model=$5 weights=$6
shift 6
cocoon=${COCOON:-$(dirname "$0")/../../bin/cocoon}
[ -x "$cocoon" ] || { echo "deploy-root: $cocoon not found; run make build" >&2; exit 1; }

min_stake=${MIN_STAKE:-10}
min_price_in=${MIN_PRICE_IN:-0.1}
min_price_out=${MIN_PRICE_OUT:-0.3}

root=$("$cocoon" root deploy --wallet "$wallet" --network "$network" --min-stake "$min_stake" "$@" --json | sed -n 's/.*"root":"\([^"]*\)".*/\1/p')
[ -n "$root" ] || { echo "deploy-root: the deploy printed no Root address" >&2; exit 1; }
echo "Root deployed at $root" >&2
hash_flag=() weights_flag=()
[ "$measurement" = - ] || hash_flag=(--hash "$measurement")
[ "$weights" = - ] || weights_flag=(--weights-hash "$weights")
"$cocoon" root allow-measurement --root "$root" --wallet "$wallet" --network "$network" --tee "$tee" "${hash_flag[@]}" >&2
"$cocoon" root add-model --root "$root" --wallet "$wallet" --network "$network" \
  --name "$model" "${weights_flag[@]}" --min-price-in "$min_price_in" --min-price-out "$min_price_out" >&2
"$cocoon" root show --root "$root" --network "$network" --model "$model" >&2
echo "$root"
