#!/usr/bin/env node
// Corpus comparison: the C++ tokenizer must give exactly the token ids of the
// reference js-tiktoken (encode(text, [], []): special-token text is plain
// text) for every document of the seeded >= 1 MiB corpus (corpus.mjs), in
// both o200k_base and cl100k_base. Exits non-zero on the first mismatches,
// printing where the two disagree.
//
// Usage: node compare.mjs --bin PATH/tokenizer_count [--modules DIR] [--seed N]
//                         [--min-bytes N] [--fuzz N] [--keep DIR]
//   --modules: directory whose node_modules has js-tiktoken (default: this one)
//   --fuzz:    number of tiny random documents (default 1500)
//   --keep:    write the corpus into DIR and keep it (default: a temp dir, removed)

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { BuildCorpus } from './corpus.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const args = { bin: null, modules: here, seed: 20250801, minBytes: 1.25 * 1024 * 1024, fuzz: 1500, keep: null };
for (let i = 2; i < process.argv.length; i++) {
  const a = process.argv[i];
  const v = process.argv[++i];
  if (a === '--bin') args.bin = v;
  else if (a === '--modules') args.modules = v;
  else if (a === '--seed') args.seed = Number(v);
  else if (a === '--min-bytes') args.minBytes = Number(v);
  else if (a === '--fuzz') args.fuzz = Number(v);
  else if (a === '--keep') args.keep = v;
  else {
    console.error(`compare.mjs: unknown argument ${a}`);
    process.exit(2);
  }
}
if (!args.bin) {
  console.error('compare.mjs: --bin PATH/tokenizer_count is required');
  process.exit(2);
}

const require = createRequire(path.resolve(args.modules, 'package.json'));
const { getEncoding } = require('js-tiktoken');
const jsVersion = JSON.parse(fs.readFileSync(path.resolve(args.modules, 'node_modules/js-tiktoken/package.json'), 'utf8')).version;

const t0 = performance.now();
const docs = BuildCorpus({ seed: args.seed, minBytes: args.minBytes, fuzzDocs: args.fuzz, modulesDir: args.modules });
const dir = args.keep ?? fs.mkdtempSync(path.join(os.tmpdir(), 'tollgate-tokenizer-'));
fs.mkdirSync(dir, { recursive: true });
const files = [];
for (const d of docs) {
  const f = path.join(dir, `${d.name}.txt`);
  fs.writeFileSync(f, d.bytes);
  files.push(f);
}
fs.writeFileSync(path.join(dir, 'files.txt'), files.join('\n') + '\n');
const totalBytes = docs.reduce((a, d) => a + d.bytes.length, 0);

// C++ side: one process for all files and both encodings.
const t1 = performance.now();
const out = execFileSync(args.bin, ['--list', path.join(dir, 'files.txt')], { maxBuffer: 1 << 30 }).toString();
const cpp = new Map();  // "<encoding> <file>" -> ids
for (const line of out.split('\n')) {
  if (!line) continue;
  const parts = line.split(' ');
  const ids = parts.slice(3).map(Number);
  if (ids.length !== Number(parts[2])) throw new Error(`bad line for ${parts[1]}`);
  cpp.set(`${parts[0]} ${parts[1]}`, ids);
}

// Reference side. Files are read as node reads text (invalid UTF-8 -> U+FFFD).
const t2 = performance.now();
let mismatches = 0;
let tokens = 0;
const summary = [];
for (const name of ['o200k_base', 'cl100k_base']) {
  const enc = getEncoding(name);
  let encTokens = 0;
  let encMismatches = 0;
  for (const f of files) {
    const text = fs.readFileSync(f, 'utf8');
    const want = enc.encode(text, [], []);
    const got = cpp.get(`${name} ${f}`);
    encTokens += want.length;
    if (!got) throw new Error(`tokenizer_count printed nothing for ${name} ${f}`);
    let i = 0;
    while (i < want.length && i < got.length && want[i] === got[i]) i++;
    if (i === want.length && i === got.length) continue;
    encMismatches++;
    if (mismatches + encMismatches <= 5) {
      const lo = Math.max(0, i - 3);
      const show = (ids) => ids.slice(lo, i + 4).map((id) => `${id}:${JSON.stringify(enc.decode([id]))}`).join(' ');
      console.error(`MISMATCH ${name} ${f}: ${want.length} tokens expected, ${got.length} got; first difference at token ${i}`);
      console.error(`  js-tiktoken: ${show(want)}`);
      console.error(`  tollgate:    ${show(got)}`);
    }
  }
  mismatches += encMismatches;
  tokens += encTokens;
  summary.push(`${name}: ${files.length - encMismatches}/${files.length} documents identical, ${encTokens} tokens`);
}
const t3 = performance.now();

if (!args.keep) fs.rmSync(dir, { recursive: true, force: true });
const kinds = {};
for (const d of docs) kinds[d.kind] = (kinds[d.kind] ?? 0) + d.bytes.length;
console.log(`corpus: ${docs.length} documents, ${totalBytes} bytes (seed ${args.seed}); ` +
            Object.entries(kinds).map(([k, b]) => `${k} ${(b / 1024).toFixed(0)} KiB`).join(', '));
for (const line of summary) console.log(line);
console.log(`reference: js-tiktoken ${jsVersion} on node ${process.versions.node} (Unicode ${process.versions.unicode}); ` +
            `times: corpus ${((t1 - t0) / 1000).toFixed(1)} s, C++ ${((t2 - t1) / 1000).toFixed(1)} s, ` +
            `js-tiktoken ${((t3 - t2) / 1000).toFixed(1)} s`);
if (mismatches > 0) {
  console.error(`FAIL: ${mismatches} document/encoding pairs differ`);
  process.exit(1);
}
console.log('PASS: all token ids identical');
