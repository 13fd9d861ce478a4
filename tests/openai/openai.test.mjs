// The official `openai` npm package (pinned in package.json) against a
// whole Cocoon started by `cocoon up`: models, chat completions with and
// without streaming (usage included), OpenAI error classes, and 40
// concurrent streams. At the end `cocoon up` is interrupted and must stop
// cleanly, and a marker prompt must be found nowhere on disk or in its logs.
//
// Run with `npm ci && node --test` here after `make build` (COCOON_BIN may
// point at another build).

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import OpenAI from 'openai';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const BIN = process.env.COCOON_BIN ? path.resolve(process.env.COCOON_BIN) : path.resolve(HERE, '..', '..', 'bin', 'cocoon');
const MODEL = 'cocoon-reference';
const MARKER = 'zebra-quasar-' + Math.random().toString(36).slice(2);
const START_TIMEOUT_MS = 120_000;

const up = { proc: null, log: '', env: {}, dir: null, exit: null };

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

function tail(n = 4000) {
  return up.log.slice(-n);
}

before(async () => {
  up.dir = await mkdtemp(path.join(os.tmpdir(), 'cocoon-openai-'));
  const port = await freePort();
  up.proc = spawn(BIN, ['up', '--data', path.join(up.dir, 'data'), '--workers', '2', '--listen', `127.0.0.1:${port}`],
    { stdio: ['ignore', 'pipe', 'pipe'] });
  up.exit = new Promise((resolve) => up.proc.on('exit', (code, signal) => resolve({ code, signal })));
  up.proc.stderr.on('data', (d) => { up.log += d.toString(); });
  let out = '';
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`cocoon up did not print its environment within ${START_TIMEOUT_MS} ms:\n${tail()}`)), START_TIMEOUT_MS);
    up.proc.stdout.on('data', (d) => {
      out += d.toString();
      up.log += d.toString();
      for (const line of out.split('\n')) {
        const m = line.match(/^([A-Z_]+)=(.*)$/);
        if (m) up.env[m[1]] = m[2];
      }
      if (up.env.OPENAI_BASE_URL && up.env.OPENAI_API_KEY && up.env.COCOON_NETWORK) {
        clearTimeout(timer);
        resolve();
      }
    });
    up.proc.on('exit', (code) => { clearTimeout(timer); reject(new Error(`cocoon up exited with ${code}:\n${tail()}`)); });
  });
});

after(async () => {
  if (up.proc && up.proc.exitCode === null) up.proc.kill('SIGKILL');
  if (up.dir) await rm(up.dir, { recursive: true, force: true });
});

function client(apiKey = up.env.OPENAI_API_KEY) {
  return new OpenAI({ baseURL: up.env.OPENAI_BASE_URL, apiKey, maxRetries: 0, timeout: 60_000 });
}

describe('cocoon up', () => {
  it('prints the three environment lines', () => {
    assert.match(up.env.OPENAI_BASE_URL, /^http:\/\/127\.0\.0\.1:\d+\/v1$/);
    assert.match(up.env.OPENAI_API_KEY, /^sk-cocoon-[0-9a-f]{48}$/);
    assert.match(up.env.COCOON_NETWORK, /^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it('lists and retrieves the model', async () => {
    const ids = [];
    for await (const m of client().models.list()) ids.push(m.id);
    assert.deepEqual(ids, [MODEL]);
    const m = await client().models.retrieve(MODEL);
    assert.equal(m.id, MODEL);
    assert.equal(m.object, 'model');
  });

  it('answers without streaming, with usage', async () => {
    const r = await client().chat.completions.create({
      model: MODEL, messages: [{ role: 'user', content: `${MARKER} tell me about TON` }], max_tokens: 64, user: 'someone@example.com',
    });
    assert.equal(r.object, 'chat.completion');
    assert.equal(r.choices.length, 1);
    assert.equal(r.choices[0].message.role, 'assistant');
    assert.match(r.choices[0].message.content, /^cocoon-reference answer: /);
    assert.equal(r.choices[0].finish_reason, 'stop');
    assert.equal(r.usage.prompt_tokens, 5);
    assert.equal(r.usage.total_tokens, r.usage.prompt_tokens + r.usage.completion_tokens);
  });

  it('streams, ending with a usage chunk with no choices', async () => {
    const stream = await client().chat.completions.create({
      model: MODEL, messages: [{ role: 'user', content: `${MARKER} repeat 12 words` }], stream: true, stream_options: { include_usage: true },
    });
    let text = '';
    let last = null;
    let finish = null;
    for await (const chunk of stream) {
      assert.equal(chunk.object, 'chat.completion.chunk');
      if (chunk.choices.length > 0) {
        text += chunk.choices[0].delta.content ?? '';
        finish = chunk.choices[0].finish_reason ?? finish;
      }
      last = chunk;
    }
    assert.equal(text.split(' ').length, 12);
    assert.equal(finish, 'stop');
    assert.deepEqual(last.choices, []);
    assert.equal(last.usage.completion_tokens, 12);
    assert.equal(last.usage.prompt_tokens, 4);
  });

  it('maps errors to the SDK error classes', async () => {
    await assert.rejects(client('sk-not-a-valid-key-000000').models.list(), (e) => e instanceof OpenAI.AuthenticationError && e.status === 401);
    await assert.rejects(client().chat.completions.create({ model: 'no-such-model', messages: [{ role: 'user', content: 'hi' }] }),
      (e) => e instanceof OpenAI.NotFoundError && e.status === 404 && e.code === 'model_not_found');
    await assert.rejects(client().chat.completions.create({ model: MODEL, messages: [] }),
      (e) => e instanceof OpenAI.BadRequestError && e.status === 400 && e.param === 'messages');
    await assert.rejects(client().chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'hi' }], max_tokens: 0 }),
      (e) => e instanceof OpenAI.BadRequestError && e.param === 'max_tokens');
    await assert.rejects(client().models.retrieve('no-such-model'), (e) => e instanceof OpenAI.NotFoundError);
  });

  it('serves 40 concurrent streams', async () => {
    const one = async (i) => {
      const stream = await client().chat.completions.create({
        model: MODEL, messages: [{ role: 'user', content: `stream ${i} repeat 30 words` }], stream: true, stream_options: { include_usage: true },
      });
      let words = 0;
      let usage = null;
      for await (const chunk of stream) {
        if (chunk.choices.length > 0 && chunk.choices[0].delta.content) words += chunk.choices[0].delta.content.trim().split(' ').length;
        if (chunk.usage) usage = chunk.usage;
      }
      return { words, usage };
    };
    const results = await Promise.all(Array.from({ length: 40 }, (_, i) => one(i)));
    for (const r of results) {
      assert.equal(r.words, 30);
      assert.equal(r.usage.completion_tokens, 30);
    }
  });

  it('stops cleanly on interrupt and leaves the prompt nowhere', async () => {
    up.proc.kill('SIGINT');
    const { code } = await up.exit;
    assert.equal(code, 0, `cocoon up exited with ${code}:\n${tail()}`);
    assert.ok(!up.log.includes(MARKER), 'the marker prompt is in the logs');
    const hits = [];
    const walk = async (dir) => {
      for (const e of await readdir(dir, { withFileTypes: true })) {
        const p = path.join(dir, e.name);
        if (e.isDirectory()) await walk(p);
        else if ((await readFile(p)).includes(MARKER)) hits.push(p);
      }
    };
    await walk(up.dir);
    assert.deepEqual(hits, []);
  });
});
