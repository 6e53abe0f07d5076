#!/usr/bin/env node
// Build step (cmake/tokenizer_vocab.cmake): turns the BPE vocabularies shipped
// in the pinned js-tiktoken npm package into a C++ source file that
// src/tokenizer/ compiles in, so the vocabularies are never copied into the
// repository. It also writes the Unicode character-class table the
// pre-tokenizer uses, taken from this node's own regex engine, so the C++
// pre-tokenizer and js-tiktoken (running on the same node) agree on every
// code point. The format is described in src/tokenizer/README.md.
//
// Usage: node scripts/gen_tokenizer_vocab.mjs --modules DIR --out FILE.cc
//   DIR holds node_modules/js-tiktoken (an `npm ci` of tests/tokenizer).

import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

function Fail(message) {
  console.error(`gen_tokenizer_vocab: ${message}`);
  process.exit(1);
}

function ParseArgs(argv) {
  const args = { modules: null, out: null };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--modules') args.modules = argv[++i];
    else if (argv[i] === '--out') args.out = argv[++i];
    else Fail(`unknown argument ${argv[i]}`);
  }
  if (!args.modules || !args.out) Fail('usage: --modules DIR --out FILE.cc');
  return args;
}

// The exact patterns src/tokenizer/pretokenizer.cc implements by hand. If a
// new js-tiktoken changes one, the build stops here instead of miscounting.
const kExpectedPatterns = {
  o200k_base:
    "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+('s|'S|'t|'T|'re|'rE|'Re|'RE|'ve|'vE|'Ve|'VE|'m|'M|'ll|'lL|'Ll|'LL|'d|'D)?|[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*('s|'S|'t|'T|'re|'rE|'Re|'RE|'ve|'vE|'Ve|'VE|'m|'M|'ll|'lL|'Ll|'LL|'d|'D)?|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
  cl100k_base:
    "('s|'S|'t|'T|'re|'rE|'Re|'RE|'ve|'vE|'Ve|'VE|'m|'M|'ll|'lL|'Ll|'LL|'d|'D)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
};

// Decodes bpe_ranks exactly as js-tiktoken's Tiktoken constructor does:
// lines of "<prefix> <first rank> <base64 token> <base64 token> ...".
function DecodeRanks(name, ranks) {
  const byRank = [];
  const seen = new Set();
  for (const line of ranks.bpe_ranks.split('\n').filter(Boolean)) {
    const [, offsetStr, ...tokens] = line.split(' ');
    const offset = Number.parseInt(offsetStr, 10);
    tokens.forEach((token, i) => {
      if (seen.has(token)) Fail(`${name}: token ${token} appears twice`);
      seen.add(token);
      byRank[offset + i] = Buffer.from(token, 'base64');
    });
  }
  for (let r = 0; r < byRank.length; r++) {
    if (!byRank[r]) Fail(`${name}: rank ${r} is missing (ranks must be dense)`);
    if (byRank[r].length === 0 || byRank[r].length > 255) Fail(`${name}: rank ${r} has bad length`);
  }
  return byRank;
}

// A C++ string literal for arbitrary bytes, split into lines. Octal escapes
// are always three digits so a following digit is never absorbed.
function CxxLiteral(buf) {
  const lines = [];
  let line = '';
  for (const b of buf) {
    if (b === 0x22) line += '\\"';
    else if (b === 0x5c) line += '\\\\';
    else if (b === 0x3f) line += '\\?';  // never form a trigraph
    else if (b >= 0x20 && b < 0x7f) line += String.fromCharCode(b);
    else line += '\\' + b.toString(8).padStart(3, '0');
    if (line.length >= 96) {
      lines.push(`"${line}"`);
      line = '';
    }
  }
  if (line.length > 0 || lines.length === 0) lines.push(`"${line}"`);
  return lines.join('\n    ');
}

// Class bits, one byte per code point; must match kClass* in pretokenizer.h.
const kClassLetter = 1;   // \p{L}
const kClassNumber = 2;   // \p{N}
const kClassUpper = 4;    // [\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]
const kClassLower = 8;    // [\p{Ll}\p{Lm}\p{Lo}\p{M}]
const kClassSpace = 16;   // \s (ECMAScript: WhiteSpace and LineTerminator)

function UnicodeClassTable() {
  const tests = [
    [kClassLetter, /^\p{L}$/u],
    [kClassNumber, /^\p{N}$/u],
    [kClassUpper, /^[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]$/u],
    [kClassLower, /^[\p{Ll}\p{Lm}\p{Lo}\p{M}]$/u],
    [kClassSpace, /^\s$/u],
  ];
  const classes = new Uint8Array(0x110000);
  for (let cp = 0; cp < 0x110000; cp++) {
    if (cp >= 0xd800 && cp <= 0xdfff) continue;  // never in valid UTF-8
    const s = String.fromCodePoint(cp);
    let c = 0;
    for (const [bit, re] of tests) if (re.test(s)) c |= bit;
    classes[cp] = c;
  }
  // Two-stage table: stage1[cp >> 8] names a 256-entry block in stage2.
  const blocks = new Map();
  const stage1 = Buffer.alloc(0x1100 * 2);
  const stage2 = [];
  for (let hi = 0; hi < 0x1100; hi++) {
    const block = Buffer.from(classes.subarray(hi * 256, hi * 256 + 256));
    const key = block.toString('latin1');
    let index = blocks.get(key);
    if (index === undefined) {
      index = blocks.size;
      blocks.set(key, index);
      stage2.push(block);
    }
    stage1.writeUInt16LE(index, hi * 2);
  }
  return { stage1, stage2: Buffer.concat(stage2), blocks: blocks.size };
}

function Main() {
  const args = ParseArgs(process.argv.slice(2));
  const require = createRequire(path.resolve(args.modules, 'package.json'));
  let pkg;
  try {
    pkg = JSON.parse(fs.readFileSync(
        path.resolve(args.modules, 'node_modules', 'js-tiktoken', 'package.json'), 'utf8'));
  } catch (e) {
    Fail(`cannot find js-tiktoken under ${args.modules}/node_modules (run npm ci there): ${e.message}`);
  }

  const encodings = [];
  for (const name of ['o200k_base', 'cl100k_base']) {
    const mod = require(`js-tiktoken/ranks/${name}`);
    const ranks = mod.default ?? mod;
    if (ranks.pat_str !== kExpectedPatterns[name]) {
      Fail(`${name}: js-tiktoken ${pkg.version} has a pre-tokenization pattern that ` +
           `src/tokenizer/pretokenizer.cc does not implement:\n${ranks.pat_str}`);
    }
    const byRank = DecodeRanks(name, ranks);
    const specials = Object.entries(ranks.special_tokens).map(([text, rank]) => `${text}\t${rank}\n`).join('');
    encodings.push({
      name,
      pattern: ranks.pat_str,
      bytes: Buffer.concat(byRank),
      lengths: Buffer.from(byRank.map((b) => b.length)),
      count: byRank.length,
      specials,
    });
  }
  const table = UnicodeClassTable();

  let out = `// Generated by scripts/gen_tokenizer_vocab.mjs from js-tiktoken ${pkg.version} and the\n` +
            `// Unicode ${process.versions.unicode} tables of node ${process.versions.node}. Do not edit.\n` +
            `#include "tokenizer/vocab_data.h"\n\n` +
            `namespace tollgate::tokenizer::internal {\nnamespace {\n\n`;
  for (const e of encodings) {
    const id = e.name.replace(/[^a-z0-9]/g, '_');
    out += `// ${e.name}: ${e.count} ranks.\n`;
    out += `constexpr char k_${id}_pattern[] =\n    ${CxxLiteral(Buffer.from(e.pattern))};\n`;
    out += `constexpr char k_${id}_specials[] =\n    ${CxxLiteral(Buffer.from(e.specials))};\n`;
    out += `constexpr char k_${id}_lengths[] =\n    ${CxxLiteral(e.lengths)};\n`;
    out += `constexpr char k_${id}_bytes[] =\n    ${CxxLiteral(e.bytes)};\n\n`;
  }
  out += `constexpr char kStage1[] =\n    ${CxxLiteral(table.stage1)};\n`;
  out += `constexpr char kStage2[] =\n    ${CxxLiteral(table.stage2)};\n\n`;
  out += `template <size_t N>\nconstexpr std::string_view View(const char (&a)[N]) { return std::string_view(a, N - 1); }\n\n`;
  out += `const VocabData kVocabs[] = {\n`;
  for (const e of encodings) {
    const id = e.name.replace(/[^a-z0-9]/g, '_');
    out += `    {"${e.name}", View(k_${id}_pattern), View(k_${id}_specials), View(k_${id}_lengths), View(k_${id}_bytes)},\n`;
  }
  out += `};\n\n}  // namespace\n\n`;
  out += `const VocabData* FindVocabData(std::string_view name) {\n` +
         `  for (const VocabData& v : kVocabs) {\n    if (v.name == name) return &v;\n  }\n  return nullptr;\n}\n\n`;
  out += `const UnicodeClassData& GetUnicodeClassData() {\n` +
         `  static const UnicodeClassData kData{View(kStage1), View(kStage2), "${process.versions.unicode}",\n` +
         `                                     "${pkg.version}"};\n  return kData;\n}\n\n`;
  out += `}  // namespace tollgate::tokenizer::internal\n`;

  // Write atomically and only when changed, so an unchanged vocabulary does
  // not recompile anything.
  let old = null;
  try { old = fs.readFileSync(args.out, 'utf8'); } catch { /* first build */ }
  if (old !== out) {
    fs.mkdirSync(path.dirname(args.out), { recursive: true });
    fs.writeFileSync(args.out + '.tmp', out);
    fs.renameSync(args.out + '.tmp', args.out);
  }
  console.log(`gen_tokenizer_vocab: ${encodings.map((e) => `${e.name} ${e.count} ranks`).join(', ')}; ` +
              `Unicode ${process.versions.unicode}, ${table.blocks} class blocks -> ${args.out}`);
}

Main();
