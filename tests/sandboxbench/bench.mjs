// Baseline throughput of @ton/sandbox, for comparison with the cocoon devnet.
//
//   node bench.mjs            (or: npm run bench)
//
// Prints ONE JSON object on stdout:
//   {"engine":"@ton/sandbox 0.41.0","transfers_per_sec":X,"transfers":N,
//    "chain3_per_sec":Y,"chains":M,"node":"v20..."}
// Progress and methodology notes go to stderr.
//
// Workloads (everything runs in one in-process Blockchain.create(), default
// config: global id -239, global version 12):
//
// transfers — 100 WalletContractV5R1 wallets (workchain 0, networkGlobalId
//   -239) are funded and deployed up front (not timed). Each transfer is an
//   external message signed with the wallet's real ed25519 key (signature
//   checks are NOT skipped) that makes wallet i send 0.01 TON, non-bounceable,
//   to wallet i+1 (send mode PAY_GAS_SEPARATELY|IGNORE_ERRORS), processed to
//   completion: the wallet's external transaction + the receiver's internal
//   transaction. Messages are built and signed before the clock starts, so the
//   timed part is message processing only. 100 warm-up transfers, not timed,
//   then N timed.
//
// chain3 — the relay contract from contracts/build/relay.json (storage: id
//   uint32, counter uint64, next address-or-addr_none; see
//   contracts/README.md). Relays C (next none), B (next C), A (next B) are
//   deployed; one "chain" is a v5r1 wallet sending 0.05 TON (bounceable, empty
//   body) to A with a signed external message, A forwarding to B and B to C:
//   4 transactions (wallet, A, B, C), all run to completion. 50 warm-up
//   chains, then M timed. Counters are checked at the end.
//
// If relay.json is missing, the chain part is skipped and reported as
// chain3_per_sec: null, chains: 0.

import { readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createHash } from 'node:crypto';

import { Blockchain } from '@ton/sandbox';
import { Address, Cell, beginCell, contractAddress, external, internal, toNano, SendMode, storeMessage } from '@ton/core';
import { keyPairFromSeed } from '@ton/crypto';
import { WalletContractV5R1 } from '@ton/ton';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const RELAY_JSON = path.resolve(HERE, '..', '..', 'contracts', 'build', 'relay.json');

const ENGINE = '@ton/sandbox 0.41.0';
const WALLETS = 100;
const TRANSFERS = Number(process.env.BENCH_TRANSFERS ?? 2000);
const TRANSFER_WARMUP = 100;
const CHAINS = Number(process.env.BENCH_CHAINS ?? 1000);
const CHAIN_WARMUP = 50;
const GLOBAL_ID = -239;

const log = (...a) => console.error('[bench]', ...a);

function seed(label) {
  return createHash('sha256').update(label).digest();
}

function assertOk(cond, msg) {
  if (!cond) throw new Error(`bench sanity check failed: ${msg}`);
}

function txSucceeded(tx) {
  const d = tx.description;
  return d.type === 'generic' && !d.aborted && d.computePhase.type === 'vm' && d.computePhase.success && (!d.actionPhase || d.actionPhase.success);
}

// Builds the external message (as a Cell) for one signed v5r1 transfer.
async function signedTransfer(w, to, value, bounce, validUntil) {
  const body = await w.contract.createTransfer({
    seqno: w.seqno++,
    secretKey: w.keyPair.secretKey,
    messages: [internal({ to, value, bounce })],
    sendMode: SendMode.PAY_GAS_SEPARATELY | SendMode.IGNORE_ERRORS,
    timeout: validUntil,
  });
  return beginCell().store(storeMessage(external({ to: w.contract.address, body }))).endCell();
}

async function setupWallets(blockchain, treasury) {
  const wallets = [];
  for (let i = 0; i < WALLETS; i++) {
    const keyPair = keyPairFromSeed(seed(`cocoon-sandboxbench-wallet-${i}`));
    const contract = WalletContractV5R1.create({ workchain: 0, publicKey: keyPair.publicKey, walletId: { networkGlobalId: GLOBAL_ID } });
    wallets.push({ keyPair, contract, seqno: 0 });
  }
  // Fund and deploy: an internal message carrying the StateInit.
  for (const w of wallets) {
    const r = await treasury.send({ to: w.contract.address, value: toNano('1000'), init: w.contract.init, bounce: false });
    assertOk(r.transactions.every(txSucceeded), 'wallet deploy transaction failed');
    const sc = await blockchain.getContract(w.contract.address);
    assertOk(sc.accountState?.type === 'active', 'wallet not active after deploy');
  }
  return wallets;
}

async function runTransfers(blockchain, wallets, validUntil) {
  const value = toNano('0.01');
  const build = async (count) => {
    const msgs = [];
    for (let k = 0; k < count; k++) {
      const i = k % WALLETS;
      msgs.push(await signedTransfer(wallets[i], wallets[(i + 1) % WALLETS].contract.address, value, false, validUntil));
    }
    return msgs;
  };
  const check = (r) => {
    assertOk(r.transactions.length === 2, `transfer produced ${r.transactions.length} transactions, want 2`);
    assertOk(r.transactions.every(txSucceeded), 'transfer transaction failed');
  };

  for (const m of await build(TRANSFER_WARMUP)) check(await blockchain.sendMessage(m));

  const t0 = performance.now();
  const msgs = await build(TRANSFERS);
  const signMs = performance.now() - t0;
  log(`signed ${TRANSFERS} transfers in ${signMs.toFixed(0)} ms (not timed)`);

  const start = performance.now();
  for (const m of msgs) check(await blockchain.sendMessage(m));
  const secs = (performance.now() - start) / 1000;
  log(`${TRANSFERS} transfers in ${secs.toFixed(3)} s`);
  return TRANSFERS / secs;
}

function relayData(id, next) {
  return beginCell().storeUint(id, 32).storeUint(0, 64).storeAddress(next).endCell();
}

async function relayCounter(blockchain, addr) {
  const sc = await blockchain.getContract(addr);
  const r = await sc.get('counter');
  return r.stackReader.readBigNumber();
}

async function runChains(blockchain, treasury, wallets, validUntil) {
  if (!existsSync(RELAY_JSON)) {
    log(`relay contract not found at ${path.relative(process.cwd(), RELAY_JSON)}; skipping the chain3 workload`);
    return null;
  }
  const art = JSON.parse(readFileSync(RELAY_JSON, 'utf8'));
  const code = Cell.fromBase64(art.codeBoc64);
  assertOk(code.hash().toString('hex').toUpperCase() === art.codeHashHex.toUpperCase(), 'relay codeHashHex does not match codeBoc64');

  const mk = (id, next) => {
    const init = { code, data: relayData(id, next) };
    return { init, address: contractAddress(0, init) };
  };
  const C = mk(3, null);
  const B = mk(2, C.address);
  const A = mk(1, B.address);
  for (const r of [C, B, A]) {
    const res = await treasury.send({ to: r.address, value: toNano('1'), init: r.init, bounce: false });
    assertOk(res.transactions.every(txSucceeded), 'relay deploy transaction failed');
  }
  // Deploy messages count: C=1; B=1 (+1 on C); A=1 (+1 on B, +1 on C).
  const base = { A: 1n, B: 2n, C: 3n };
  for (const [k, r] of Object.entries({ A, B, C })) {
    const c = await relayCounter(blockchain, r.address);
    assertOk(c === base[k], `relay ${k} counter after deploy is ${c}, want ${base[k]}`);
  }

  const value = toNano('0.05');
  const build = async (count, offset) => {
    const msgs = [];
    for (let k = 0; k < count; k++) {
      msgs.push(await signedTransfer(wallets[(k + offset) % WALLETS], A.address, value, true, validUntil));
    }
    return msgs;
  };
  const check = (r) => {
    assertOk(r.transactions.length === 4, `chain produced ${r.transactions.length} transactions, want 4 (wallet, A, B, C)`);
    assertOk(r.transactions.every(txSucceeded), 'chain transaction failed');
  };

  for (const m of await build(CHAIN_WARMUP, 0)) check(await blockchain.sendMessage(m));
  const msgs = await build(CHAINS, CHAIN_WARMUP);

  const start = performance.now();
  for (const m of msgs) check(await blockchain.sendMessage(m));
  const secs = (performance.now() - start) / 1000;
  log(`${CHAINS} chains in ${secs.toFixed(3)} s`);

  const runs = BigInt(CHAIN_WARMUP + CHAINS);
  for (const [k, r] of Object.entries({ A, B, C })) {
    const c = await relayCounter(blockchain, r.address);
    assertOk(c === base[k] + runs, `relay ${k} counter is ${c}, want ${base[k] + runs}`);
  }
  return CHAINS / secs;
}

async function main() {
  const t0 = performance.now();
  const blockchain = await Blockchain.create();
  const treasury = await blockchain.treasury('cocoon-sandboxbench');
  // valid_until for all signed messages; the sandbox clock is wall time.
  const validUntil = Math.floor(Date.now() / 1000) + 3600;

  const wallets = await setupWallets(blockchain, treasury);
  log(`deployed ${WALLETS} v5r1 wallets in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

  const transfersPerSec = await runTransfers(blockchain, wallets, validUntil);
  const chainsPerSec = await runChains(blockchain, treasury, wallets, validUntil);

  const round = (x) => (x === null ? null : Math.round(x * 10) / 10);
  const out = {
    engine: ENGINE,
    transfers_per_sec: round(transfersPerSec),
    transfers: TRANSFERS,
    chain3_per_sec: round(chainsPerSec),
    chains: chainsPerSec === null ? 0 : CHAINS,
    node: process.version,
  };
  log(`total ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  process.stdout.write(JSON.stringify(out) + '\n');
}

main().catch((e) => {
  console.error(e?.stack ?? e);
  process.exit(1);
});
