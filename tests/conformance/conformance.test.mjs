// Conformance test: drives a real `cocoon devnet` server with @ton/ton's
// TonClient (toncenter v2 JSON-RPC) the way a wallet or dApp would.
//
// Run with `npm ci && npm test` (i.e. `node --test`) from this directory after
// `make build` at the repository root has produced bin/cocoon. Set COCOON_BIN
// to test another build of the binary.
//
// Each step is bounded in time; the server is always stopped and its temp
// data dir removed at the end, also on failure. On a failing step the tail of
// the server's stderr is printed to help debugging.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { TonClient, HttpApi, WalletContractV5R1, internal, SendMode, toNano } from '@ton/ton';
import { beginCell } from '@ton/core';
import { mnemonicNew, mnemonicToPrivateKey } from '@ton/crypto';

const HERE = path.dirname(fileURLToPath(import.meta.url));
// COCOON_BIN may point at another build of the binary (e.g. a debug build).
const BIN = process.env.COCOON_BIN ? path.resolve(process.env.COCOON_BIN) : path.resolve(HERE, '..', '..', 'bin', 'cocoon');

const HEALTH_TIMEOUT_MS = 30_000;
const FAUCET_TIMEOUT_MS = 20_000;
const SEQNO_TIMEOUT_MS = 20_000;
const STEP_TIMEOUT_MS = 15_000;
const WATCHDOG_MS = 60_000; // hard stop for the whole file (server start included), in case of a hang

const TON = 1_000_000_000n;
const DEVNET_GLOBAL_ID = -239; // the devnet uses mainnet's global id

// ---------------------------------------------------------------------------
// Shared state

const srv = {
  proc: null,
  exited: null, // { code, signal } once the process has exited
  exitPromise: null,
  stopped: false,
  log: '', // stdout+stderr tail
  port: 0,
  dataDir: null,
};
const LOG_LIMIT = 64 * 1024;

const st = {}; // values produced by one step and consumed by later ones

function appendLog(chunk) {
  srv.log += chunk.toString();
  if (srv.log.length > LOG_LIMIT) srv.log = srv.log.slice(-LOG_LIMIT);
}

function serverTail(lines = 60) {
  const all = srv.log.split('\n');
  return all.slice(-lines).join('\n');
}

function endpointBase() {
  return `http://127.0.0.1:${srv.port}`;
}

// ---------------------------------------------------------------------------
// Helpers

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function withTimeout(promise, ms, what) {
  let timer;
  const t = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([promise, t]).finally(() => clearTimeout(timer));
}

// Polls fn() until it returns a value other than undefined, or throws on timeout
// with the last observed value / error.
async function pollUntil(fn, ms, what, intervalMs = 200) {
  const deadline = Date.now() + ms;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
      last = 'condition not met';
    } catch (e) {
      last = e;
    }
    if (Date.now() >= deadline) {
      throw new Error(`timed out after ${ms} ms waiting for ${what}; last: ${last instanceof Error ? last.message : last}`);
    }
    if (srv.exited) {
      throw new Error(`server exited (${JSON.stringify(srv.exited)}) while waiting for ${what}`);
    }
    await sleep(intervalMs);
  }
}

// Defines one sequential step. The step body is raced against its own timeout
// so that a failure (including a timeout) always prints the server log tail.
// Steps that depend on an earlier one are skipped when it failed.
const failed = new Set();
function step(name, { timeout = STEP_TIMEOUT_MS, needs = [] } = {}, fn) {
  it(name, { timeout: timeout + 5_000 }, async (t) => {
    const missing = needs.filter((n) => failed.has(n) || !(n in st));
    if (missing.length > 0) {
      failed.add(name);
      t.skip(`prerequisite step(s) failed: ${missing.join(', ')}`);
      return;
    }
    try {
      await withTimeout(Promise.resolve().then(() => fn(t)), timeout, name);
    } catch (e) {
      failed.add(name);
      console.error(`\n--- step "${name}" failed: ${e?.stack ?? e}`);
      console.error(`--- server output tail (${BIN}):\n${serverTail()}\n--- end of server output\n`);
      throw e;
    }
  });
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function runCli(args, timeoutMs) {
  return new Promise((resolve, reject) => {
    execFile(BIN, args, { timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 4 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) {
        err.message += `\n  command: cocoon ${args.join(' ')}\n  stdout: ${stdout}\n  stderr: ${stderr}`;
        reject(err);
      } else {
        resolve({ stdout, stderr });
      }
    });
  });
}

// The server runs in its own process group (spawned detached) so that any
// helper processes it starts are stopped with it. Signals go to that group.
function signalServer(sig) {
  const p = srv.proc;
  if (!p || p.pid === undefined) return;
  try {
    process.kill(-p.pid, sig);
  } catch {
    try {
      p.kill(sig);
    } catch {}
  }
}

async function stopServer() {
  const p = srv.proc;
  if (!p) return;
  if (!srv.exited) {
    signalServer('SIGTERM');
    const ok = await Promise.race([srv.exitPromise.then(() => true), sleep(5_000).then(() => false)]);
    if (!ok && !srv.exited) {
      console.error('server did not exit within 5 s of SIGTERM; sending SIGKILL');
      signalServer('SIGKILL');
      await Promise.race([srv.exitPromise, sleep(2_000)]);
    }
  }
  // Leftovers of the group, if any, must not keep our pipes (and so this
  // process) alive.
  signalServer('SIGKILL');
  p.stdout?.destroy();
  p.stderr?.destroy();
  srv.stopped = true;
}

function expectedSubwalletId(walletId) {
  // get_subwallet_id returns the stored 32-bit wallet_id read as uint32.
  // Build it the same way WalletContractV5R1 stores it in its data cell.
  const c = beginCell()
    .storeInt(BigInt(walletId.networkGlobalId) ^ BigInt(
      beginCell()
        .storeUint(1, 1)
        .storeInt(walletId.context.workchain, 8)
        .storeUint(0, 8) // v5r1
        .storeUint(walletId.context.subwalletNumber, 15)
        .endCell()
        .beginParse()
        .loadInt(32),
    ), 32)
    .endCell();
  return c.beginParse().loadUintBig(32);
}

// Last-resort cleanup if the process is torn down without running `after`.
process.on('exit', () => {
  if (srv.proc && !srv.stopped) signalServer('SIGKILL');
});

// ---------------------------------------------------------------------------
// The test

describe('cocoon devnet: toncenter v2 conformance with @ton/ton TonClient', () => {
  let watchdog;

  before(async () => {
    watchdog = setTimeout(() => {
      console.error(`watchdog: conformance test still running after ${WATCHDOG_MS} ms; killing server and exiting`);
      console.error(`--- server output tail:\n${serverTail()}`);
      signalServer('SIGKILL');
      process.exit(1);
    }, WATCHDOG_MS);
    watchdog.unref();

    if (!existsSync(BIN)) {
      throw new Error(`cocoon binary not found at ${BIN}: build it with make build (at the repository root)`);
    }
    srv.port = await freePort();
    srv.dataDir = await mkdtemp(path.join(os.tmpdir(), 'cocoon-conformance-'));

    const args = ['devnet', 'start', '--data', srv.dataDir, '--listen', `127.0.0.1:${srv.port}`, '--block-interval', '200ms'];
    srv.proc = spawn(BIN, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    srv.exitPromise = new Promise((resolve) => {
      srv.proc.on('exit', (code, signal) => {
        srv.exited = { code, signal };
        resolve();
      });
      srv.proc.on('error', (err) => {
        appendLog(`\n[spawn error] ${err.message}\n`);
        srv.exited = { error: err.message };
        resolve();
      });
    });
    srv.proc.stdout.on('data', appendLog);
    srv.proc.stderr.on('data', appendLog);

    try {
      await pollUntil(
        async () => {
          const r = await fetch(`${endpointBase()}/healthz`, { signal: AbortSignal.timeout(1_000) });
          return r.status === 200 ? true : undefined;
        },
        HEALTH_TIMEOUT_MS,
        `GET /healthz == 200 on ${endpointBase()}`,
      );
    } catch (e) {
      console.error(`--- server failed to become healthy; output tail:\n${serverTail()}\n--- end of server output`);
      throw e;
    }

    st.client = new TonClient({ endpoint: `${endpointBase()}/api/v2/jsonRPC`, timeout: 10_000 });
    st.api = new HttpApi(`${endpointBase()}/api/v2/jsonRPC`, { timeout: 10_000 });
  });

  after(async () => {
    try {
      await stopServer();
    } finally {
      if (srv.dataDir) await rm(srv.dataDir, { recursive: true, force: true }).catch(() => {});
      clearTimeout(watchdog);
    }
  });

  step('getMasterchainInfo returns a positive seqno that grows', { needs: ['client'] }, async () => {
    const a = await st.client.getMasterchainInfo();
    assert.equal(typeof a.latestSeqno, 'number');
    assert.ok(a.latestSeqno > 0, `latestSeqno should be > 0, got ${a.latestSeqno}`);
    assert.ok(a.initSeqno <= a.latestSeqno, `initSeqno ${a.initSeqno} > latestSeqno ${a.latestSeqno}`);
    assert.equal(a.workchain, -1, 'masterchain init block should be in workchain -1');
    assert.equal(typeof a.shard, 'string');
    // block interval is 200 ms: within a few seconds the seqno must advance.
    const b = await pollUntil(
      async () => {
        const i = await st.client.getMasterchainInfo();
        return i.latestSeqno > a.latestSeqno ? i : undefined;
      },
      5_000,
      `latestSeqno to grow beyond ${a.latestSeqno}`,
    );
    console.log(`masterchain seqno ${a.latestSeqno} -> ${b.latestSeqno}`);
  });

  step('create a fresh v5r1 wallet and fund it with the faucet', { timeout: FAUCET_TIMEOUT_MS + 10_000, needs: ['client'] }, async () => {
    const mnemonic = await mnemonicNew();
    const kp = await mnemonicToPrivateKey(mnemonic);
    const wallet = WalletContractV5R1.create({
      workchain: 0,
      publicKey: kp.publicKey,
      walletId: { networkGlobalId: DEVNET_GLOBAL_ID },
    });
    const nonBounceable = wallet.address.toString({ bounceable: false });
    console.log(`wallet ${nonBounceable} (${wallet.address.toRawString()})`);

    const r = await runCli(['devnet', 'faucet', '--network', endpointBase(), nonBounceable, '10'], FAUCET_TIMEOUT_MS);
    if (r.stdout.trim()) console.log(`faucet: ${r.stdout.trim()}`);

    const recipientKp = await mnemonicToPrivateKey(await mnemonicNew());
    const recipient = WalletContractV5R1.create({
      workchain: 0,
      publicKey: recipientKp.publicKey,
      walletId: { networkGlobalId: DEVNET_GLOBAL_ID },
    }).address;

    st.kp = kp;
    st.wallet = wallet;
    st.recipient = recipient;
    st.opened = st.client.open(wallet);
  });

  step('getBalance reports the faucet amount', { needs: ['wallet'] }, async () => {
    // The faucet waits for inclusion; allow the API a moment to catch up anyway.
    const balance = await pollUntil(
      async () => {
        const b = await st.client.getBalance(st.wallet.address);
        return b > 0n ? b : undefined;
      },
      5_000,
      'a positive wallet balance',
    );
    console.log(`wallet balance after faucet: ${balance} nanoton`);
    if (balance !== 10n * TON) {
      console.log(`note: balance is not exactly 10 TON (diff ${10n * TON - balance} nanoton)`);
    }
    assert.ok(balance > (99n * TON) / 10n && balance <= 10n * TON, `expected 9.9 TON < balance <= 10 TON, got ${balance}`);
    st.fundedBalance = balance;
  });

  step('an uninit account is reported as not deployed / uninitialized', { needs: ['wallet'] }, async () => {
    assert.equal(await st.client.isContractDeployed(st.wallet.address), false);
    const s = await st.client.getContractState(st.wallet.address);
    assert.equal(s.state, 'uninitialized');
    assert.equal(s.code, null, 'uninit account must have empty code');
    assert.equal(s.data, null, 'uninit account must have empty data');
    assert.ok(s.lastTransaction, 'funded account must have a last transaction id');
    assert.match(s.lastTransaction.lt, /^[1-9][0-9]*$/);
    assert.equal(Buffer.from(s.lastTransaction.hash, 'base64').length, 32, 'last_transaction_id.hash must be base64 of 32 bytes');
    assert.equal(typeof s.blockId.seqno, 'number');
    assert.equal(await st.opened.getSeqno(), 0);
  });

  step('deploy the wallet with its first transfer; seqno becomes 1', { timeout: SEQNO_TIMEOUT_MS + 5_000, needs: ['opened'] }, async () => {
    await st.opened.sendTransfer({
      seqno: 0,
      secretKey: st.kp.secretKey,
      messages: [internal({ to: st.recipient, value: toNano('1'), bounce: false })],
      // (@ton/ton adds IGNORE_ERRORS itself for externally signed v5r1 actions:
      // the signed mode byte is 3, as the wallet code requires.)
      sendMode: SendMode.PAY_GAS_SEPARATELY,
    });
    const seqno = await pollUntil(
      async () => {
        const s = await st.opened.getSeqno();
        return s >= 1 ? s : undefined;
      },
      SEQNO_TIMEOUT_MS,
      'wallet seqno == 1',
    );
    assert.equal(seqno, 1);
    assert.equal(await st.client.isContractDeployed(st.wallet.address), true);
    const s = await st.client.getContractState(st.wallet.address);
    assert.equal(s.state, 'active');
    assert.ok(s.code && s.code.length > 0, 'active account must report code');
    assert.ok(s.data && s.data.length > 0, 'active account must report data');
    st.deployed = true;
  });

  step('the recipient receives ~1 TON', { needs: ['deployed'] }, async () => {
    const b = await pollUntil(
      async () => {
        const v = await st.client.getBalance(st.recipient);
        return v > 0n ? v : undefined;
      },
      10_000,
      'recipient balance > 0',
    );
    console.log(`recipient balance: ${b} nanoton`);
    assert.ok(b > (99n * TON) / 100n && b <= TON, `expected 0.99 TON < balance <= 1 TON, got ${b}`);
    const w = await st.client.getBalance(st.wallet.address);
    console.log(`wallet balance after transfer: ${w} nanoton (spent ${st.fundedBalance - w})`);
    assert.ok(w < st.fundedBalance - TON, 'sender must have paid 1 TON plus fees');
    assert.ok(w > st.fundedBalance - TON - TON / 10n, `sender fees look too high: ${st.fundedBalance - w}`);
  });

  step('getTransactions lists funding + transfer, newest first, consistent ids', { needs: ['deployed'] }, async () => {
    const txs = await st.client.getTransactions(st.wallet.address, { limit: 10 });
    assert.ok(txs.length >= 2, `expected >= 2 transactions, got ${txs.length}`);
    for (let i = 1; i < txs.length; i++) {
      assert.ok(txs[i - 1].lt > txs[i].lt, `transactions not newest-first at index ${i}: ${txs[i - 1].lt} <= ${txs[i].lt}`);
      assert.equal(txs[i - 1].prevTransactionLt, txs[i].lt, `prev_trans_lt of tx ${i - 1} must equal lt of tx ${i}`);
      assert.equal(
        txs[i - 1].prevTransactionHash,
        BigInt('0x' + txs[i].hash().toString('hex')),
        `prev_trans_hash of tx ${i - 1} must equal hash of tx ${i}`,
      );
    }
    const [transfer, funding] = txs;
    for (const tx of txs) {
      assert.equal(tx.address, BigInt('0x' + st.wallet.address.hash.toString('hex')), 'transaction account must be the wallet');
    }

    // newest: the external that deployed the wallet and sent 1 TON
    assert.equal(transfer.inMessage?.info.type, 'external-in');
    assert.ok(transfer.inMessage.init, 'the deploying external message must carry StateInit');
    assert.equal(transfer.outMessagesCount, 1);
    const out = transfer.outMessages.get(0);
    assert.equal(out.info.type, 'internal');
    assert.ok(out.info.dest.equals(st.recipient), 'out message must go to the recipient');
    assert.equal(out.info.value.coins, TON);
    assert.equal(transfer.description.type, 'generic');
    assert.equal(transfer.description.aborted, false);
    assert.equal(transfer.description.computePhase.type, 'vm');
    assert.equal(transfer.description.computePhase.success, true);
    assert.equal(transfer.endStatus, 'active');

    // older: the faucet's internal message
    assert.equal(funding.inMessage?.info.type, 'internal');
    assert.equal(funding.inMessage.info.value.coins, 10n * TON);
    assert.equal(funding.inMessage.info.bounce, false, 'faucet must send non-bounceable');
    assert.equal(funding.endStatus, 'uninitialized');

    // Raw (zod-validated) toncenter view must agree with the parsed BoCs.
    const raw = await st.api.getTransactions(st.wallet.address, { limit: 10 });
    assert.equal(raw.length, txs.length);
    for (let i = 0; i < raw.length; i++) {
      assert.equal(raw[i].transaction_id.lt, txs[i].lt.toString(), `transaction_id.lt mismatch at ${i}`);
      assert.equal(raw[i].transaction_id.hash, txs[i].hash().toString('base64'), `transaction_id.hash mismatch at ${i} (must be base64)`);
      assert.equal(raw[i].utime, txs[i].now, `utime mismatch at ${i}`);
    }
    assert.equal(raw[0].out_msgs.length, 1);
    assert.equal(raw[0].out_msgs[0].value, TON.toString());
    assert.equal(raw[0].in_msg?.source, '', 'external-in message must have an empty source');
    assert.equal(raw[1].in_msg?.value, (10n * TON).toString());

    // Latest tx of the account == last_transaction_id of getAddressInformation.
    const s = await st.client.getContractState(st.wallet.address);
    assert.equal(s.lastTransaction?.lt, txs[0].lt.toString());
    assert.equal(s.lastTransaction?.hash, txs[0].hash().toString('base64'));

    // Lookup of a single transaction by (lt, hash) and paging from it.
    const one = await st.client.getTransaction(st.wallet.address, funding.lt.toString(), funding.hash().toString('base64'));
    assert.ok(one, 'getTransaction(lt, hash) must find the funding transaction');
    assert.equal(one.hash().toString('hex'), funding.hash().toString('hex'));
    const page = await st.client.getTransactions(st.wallet.address, {
      limit: 10,
      lt: transfer.lt.toString(),
      hash: transfer.hash().toString('base64'),
      inclusive: false,
    });
    assert.ok(page.length >= 1, 'paging from the newest tx (exclusive) must return older ones');
    assert.equal(page[0].lt, funding.lt);

    const limited = await st.client.getTransactions(st.wallet.address, { limit: 1 });
    assert.equal(limited.length, 1);
    assert.equal(limited[0].lt, transfer.lt);
  });

  step('runMethod: get_public_key, get_subwallet_id, seqno', { needs: ['deployed'] }, async () => {
    const pk = await st.client.runMethod(st.wallet.address, 'get_public_key');
    assert.equal(pk.stack.readBigNumber(), BigInt('0x' + st.kp.publicKey.toString('hex')));
    assert.equal(typeof pk.gas_used, 'number');

    const sub = await st.client.runMethod(st.wallet.address, 'get_subwallet_id');
    assert.equal(sub.stack.readBigNumber(), expectedSubwalletId(st.wallet.walletId));

    const seq = await st.client.runMethod(st.wallet.address, 'seqno');
    assert.equal(seq.stack.readNumber(), 1);

    // A missing get-method must not be reported as success.
    // (toncenter answers ok:true with a non-zero exit_code; an error reply is accepted too)
    let exitCode;
    try {
      exitCode = (await st.client.runMethodWithError(st.wallet.address, 'no_such_method_xyz')).exit_code;
    } catch (e) {
      console.log(`unknown get-method answered with an error: ${e.message.slice(0, 200)}`);
    }
    if (exitCode !== undefined) {
      assert.notEqual(exitCode, 0, 'an unknown get-method must give a non-zero exit code');
    }
  });

  step('sendFile rejects a malformed BoC', { needs: ['client'] }, async () => {
    await assert.rejects(st.client.sendFile(Buffer.from('not a boc')));
  });

  step('masterchain keeps advancing', { needs: ['client'] }, async () => {
    const a = await st.client.getMasterchainInfo();
    await sleep(1_000);
    const b = await st.client.getMasterchainInfo();
    assert.ok(b.latestSeqno > a.latestSeqno, `latestSeqno did not grow in 1 s: ${a.latestSeqno} -> ${b.latestSeqno}`);
  });
});
