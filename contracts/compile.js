#!/usr/bin/env node
// Compiles the Tolk entry-point contracts in this directory with the pinned
// @ton/tolk-js and writes (or checks) deterministic JSON artifacts.
//
//   node compile.js --out DIR     write DIR/NAME.json for every entry point
//   node compile.js --check DIR   compile in memory, compare with DIR/*.json
//
// An entry point is a top-level `*.tolk` file in this directory, or one in
// examples/ (artifact example_NAME), that declares `fun onInternalMessage(`.
// Other files (shared includes such as common/*.tolk) are not compiled on
// their own; they are only read when an entry point imports them.
//
// Artifact: {"name", "compiler", "codeBoc64", "codeHashHex"}, in that order,
// 2-space indentation, trailing newline.
'use strict';

const fs = require('fs');
const path = require('path');
const { runTolkCompiler } = require('@ton/tolk-js');
const tolkPackage = require('@ton/tolk-js/package.json');

const SRC_DIR = __dirname;
const COMPILER = `@ton/tolk-js ${tolkPackage.version}`;

function usage(msg) {
    if (msg) console.error(`compile.js: ${msg}`);
    console.error('usage: node compile.js --out DIR | --check DIR');
    process.exit(2);
}

function parseArgs(argv) {
    if (argv.length !== 2 || (argv[0] !== '--out' && argv[0] !== '--check') || !argv[1]) {
        usage(argv.length === 0 ? '' : `bad arguments: ${argv.join(' ')}`);
    }
    return { mode: argv[0].slice(2), dir: argv[1] };
}

// Removes comments so that a commented-out onInternalMessage does not count.
// (Good enough for detection; string literals containing "//" are harmless
// here because we only look for a function declaration afterwards.)
function stripComments(src) {
    return src.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/[^\n]*/g, '');
}

function isEntryPoint(src) {
    return /(^|[^A-Za-z0-9_])fun\s+onInternalMessage\s*\(/.test(stripComments(src));
}

function entryPointsIn(sub, prefix) {
    const dir = path.join(SRC_DIR, sub);
    if (!fs.existsSync(dir)) return [];
    return fs.readdirSync(dir, { withFileTypes: true })
        .filter(e => e.isFile() && e.name.endsWith('.tolk'))
        .map(e => e.name)
        .sort()
        .filter(f => isEntryPoint(fs.readFileSync(path.join(dir, f), 'utf-8')))
        .map(f => ({ name: prefix + f.slice(0, -'.tolk'.length), file: sub ? `${sub}/${f}` : f }));
}

// The protocol's contracts, then the example contracts of examples/ (their
// artifacts are named example_NAME).
function findEntryPoints() {
    return entryPointsIn('', '').concat(entryPointsIn('examples', 'example_'));
}

// The compiler asks for files by paths relative to the entry point's
// directory (this one), e.g. "relay.tolk" or "common/messages.tolk".
function readSource(p) {
    const full = path.resolve(SRC_DIR, p);
    const rel = path.relative(SRC_DIR, full);
    if (rel.startsWith('..') || path.isAbsolute(rel)) {
        throw new Error(`refusing to read ${p}: outside the contracts directory`);
    }
    return fs.readFileSync(full, 'utf-8');
}

function artifactText(name, result) {
    const artifact = {
        name,
        compiler: COMPILER,
        codeBoc64: result.codeBoc64,
        codeHashHex: result.codeHashHex,
    };
    return JSON.stringify(artifact, null, 2) + '\n';
}

async function compileAll() {
    const entries = findEntryPoints();
    const compiled = [];
    let failed = false;
    // Sequential on purpose: deterministic order of output and error messages.
    for (const { name, file } of entries) {
        let result;
        try {
            result = await runTolkCompiler({ entrypointFileName: file, fsReadCallback: readSource });
        } catch (err) {
            result = { status: 'error', message: String(err && err.message || err) };
        }
        if (result.status !== 'ok') {
            console.error(`${file}: compilation failed:\n${String(result.message).trimEnd()}`);
            failed = true;
            continue;
        }
        compiled.push({
            name,
            file,
            codeHashHex: result.codeHashHex,
            codeSize: Buffer.from(result.codeBoc64, 'base64').length,
            text: artifactText(name, result),
        });
    }
    if (failed) process.exit(1);
    return compiled;
}

function listJson(dir) {
    if (!fs.existsSync(dir)) return [];
    return fs.readdirSync(dir, { withFileTypes: true })
        .filter(e => e.isFile() && e.name.endsWith('.json'))
        .map(e => e.name)
        .sort();
}

function writeArtifacts(dir, compiled) {
    fs.mkdirSync(dir, { recursive: true });
    for (const c of compiled) {
        fs.writeFileSync(path.join(dir, `${c.name}.json`), c.text);
        console.log(`${c.name}  ${c.codeHashHex}  ${c.codeSize} bytes`);
    }
    const known = new Set(compiled.map(c => `${c.name}.json`));
    for (const f of listJson(dir)) {
        if (!known.has(f)) {
            console.error(`warning: ${path.join(dir, f)} has no source contract (stale; delete it)`);
        }
    }
}

function committedHash(text) {
    try {
        return JSON.parse(text).codeHashHex || '?';
    } catch (_) {
        return 'unparsable';
    }
}

function checkArtifacts(dir, compiled) {
    const problems = [];
    for (const c of compiled) {
        const file = path.join(dir, `${c.name}.json`);
        if (!fs.existsSync(file)) {
            problems.push(`${c.name}: ${file} is missing`);
            continue;
        }
        const committed = fs.readFileSync(file, 'utf-8');
        if (committed === c.text) continue;
        const oldHash = committedHash(committed);
        if (oldHash !== c.codeHashHex) {
            problems.push(`${c.name}: ${file} differs: code hash ${oldHash} committed, ${c.codeHashHex} fresh`);
        } else {
            problems.push(`${c.name}: ${file} differs from a fresh compile (same code hash, other fields or formatting)`);
        }
    }
    const known = new Set(compiled.map(c => `${c.name}.json`));
    for (const f of listJson(dir)) {
        if (!known.has(f)) {
            problems.push(`${f.slice(0, -'.json'.length)}: ${path.join(dir, f)} is stale: no contract source for it`);
        }
    }
    if (problems.length > 0) {
        for (const p of problems) console.error(p);
        console.error(`contracts: ${problems.length} artifact problem(s); run \`node compile.js --out ${dir}\` and commit the result`);
        process.exit(1);
    }
    console.log(`contracts: ${compiled.length} artifacts match a fresh compile`);
}

async function main() {
    const { mode, dir } = parseArgs(process.argv.slice(2));
    const compiled = await compileAll();
    if (compiled.length === 0) {
        console.error('compile.js: no entry-point contracts found');
        process.exit(1);
    }
    if (mode === 'out') writeArtifacts(dir, compiled);
    else checkArtifacts(dir, compiled);
}

main().catch(err => {
    console.error(err && err.stack || String(err));
    process.exit(1);
});
