// The tokenizer test corpus: a deterministic (seeded) set of documents of
// mixed English and international prose, source code, JSON, non-Latin scripts,
// emoji, combining marks, odd whitespace, edge cases and invalid UTF-8, plus
// the real README and TypeScript sources of the pinned npm packages. Used by
// compare.mjs (C++ vs js-tiktoken) and bench/tokenizer/run.mjs.
//
// BuildCorpus({seed, minBytes, fuzzDocs, modulesDir}) returns [{name, kind, bytes: Buffer}].
// The same seed and package versions always give the same bytes.

import fs from 'node:fs';
import path from 'node:path';

// mulberry32: small, fast and good enough for test data.
function Rng(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const r = {
    next,
    int: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)),  // inclusive
    pick: (arr) => arr[Math.floor(next() * arr.length)],
    chance: (p) => next() < p,
    cp: (lo, hi) => String.fromCodePoint(lo + Math.floor(next() * (hi - lo + 1))),
  };
  return r;
}

const kWords = (
  'the of and to in is was that for it with as his on be at by had are but from or have an they ' +
  'which one you were all her she there would their we him been has when who will no more if out ' +
  'so said what up its about than into them can only other time new some could these two may first ' +
  'then do any like my now over such our man me even most made after also did many before must ' +
  'through back years where much your way well down should because each just those people how too ' +
  'little state good very make world still own see men work long get here between both life being ' +
  'under never day same another know while last might us great old year off come since against go ' +
  'came right used take three tokenizer gateway latency budget request response provider invoice ' +
  'throughput streaming cache billing encoder vocabulary merge regression benchmark kubernetes ' +
  'asynchronous configuration internationalization antidisestablishmentarianism electroencephalography ' +
  'photosynthesis quarterly reconciliation unbelievable misunderstanding hyperparameter'
).split(' ');
const kNames = ['Alice', 'Bob', 'Carol', 'Dmitri', 'Eve', 'François', 'Günther', 'Hiroshi', 'Ingrid',
                'José', 'Kwame', 'Łukasz', 'Mañuel', 'Nguyễn', 'Øystein', 'Zoë', 'McDonald', "O'Brien",
                'iPhone', 'eBay', 'OpenAI', 'GitHub', 'JavaScript', 'PostgreSQL', 'NASA', 'HTTP2', 'IPv6'];
const kContractions = ["don't", "it's", "they're", "we've", "I'm", "you'll", "he'd", "can't", "won't",
                       "DON'T", "IT'S", "THEY'RE", "WE'VE", "I'M", "YOU'LL", "HE'D", "It'S", "we'Re",
                       "y'all", "rock'n'roll", "o'clock", "'tis", "ma'am", "'s", "'T", "'ll've"];
const kPunct = ['.', '.', '.', ',', ',', ';', ':', '!', '?', '…', '—', ' –', '?!', '...', '!!'];

function Sentence(r, words = kWords) {
  const n = r.int(3, 22);
  const out = [];
  for (let i = 0; i < n; i++) {
    const x = r.next();
    let w;
    if (x < 0.06) w = r.pick(kNames);
    else if (x < 0.1) w = r.pick(kContractions);
    else if (x < 0.13) w = String(r.int(0, 3000));
    else if (x < 0.14) w = `${r.int(1, 999)},${String(r.int(0, 999)).padStart(3, '0')}.${r.int(10, 99)}`;
    else if (x < 0.15) w = `$${r.int(1, 500)}.${r.int(10, 99)}`;
    else if (x < 0.16) w = `${r.int(1, 100)}%`;
    else if (x < 0.17) w = r.pick(words).toUpperCase();
    else if (x < 0.18) w = `(${r.pick(words)})`;
    else if (x < 0.19) w = `"${r.pick(words)}"`;
    else if (x < 0.2) w = `“${r.pick(words)}”`;
    else if (x < 0.21) w = `${r.pick(words)}-${r.pick(words)}`;
    else if (x < 0.215) w = `https://example.com/${r.pick(words)}/${r.int(1, 99999)}?q=${r.pick(words)}&x=1`;
    else if (x < 0.22) w = `${r.pick(words)}@${r.pick(words)}.org`;
    else if (x < 0.225) w = `#${r.pick(words)}`;
    else w = r.pick(words);
    if (i === 0) w = w.charAt(0).toUpperCase() + w.slice(1);
    out.push(w);
    if (i < n - 1 && r.chance(0.06)) out.push(r.pick([',', ';', ' —', ':']));
  }
  let s = out.join(' ').replace(/ ([,;:])/g, '$1');
  if (r.chance(0.03)) s = s.replace(/ /, '  ');
  return s + r.pick(kPunct);
}

function Paragraphs(r, targetLen, sentence) {
  let s = '';
  const eol = r.chance(0.15) ? '\r\n' : '\n';
  while (s.length < targetLen) {
    const n = r.int(1, 7);
    const para = [];
    for (let i = 0; i < n; i++) para.push(sentence(r));
    s += para.join(r.chance(0.1) ? '  ' : ' ');
    const sep = r.pick([eol + eol, eol + eol, eol, eol + eol + eol, ' ' + eol + eol, eol + '\t', eol + '    ']);
    s += sep;
  }
  if (r.chance(0.3)) s = s.trimEnd();
  return s;
}

// --- international and non-Latin text ---------------------------------------------------------

const kIntlWords = {
  de: 'über straße größer Äpfel Öffnung Übung schön Mädchen heißen Fußgängerübergänge Donaudampfschifffahrt und der die das nicht'.split(' '),
  fr: 'été déjà où garçon français œuvre naïve Noël côté élève hôpital fenêtre à être ça qu\'il l\'homme aujourd\'hui'.split(' '),
  es: 'niño mañana acción corazón pingüino ¿qué ¡hola! señor año también está más'.split(' '),
  pl: 'zażółć gęślą jaźń Łódź źdźbło chrząszcz szczebrzeszyn pięć'.split(' '),
  tr: 'İstanbul ığdır şöyle çalışkan Ağaç gözlük IŞIK ılık'.split(' '),
  vi: ['Tiếng', 'Việt', 'người', 'được', 'những', 'Nguyễn', 'thương', 'nước', 'ở', 'đây',
       // decomposed (NFD) forms: base letter + combining marks
       'Vie\u0323\u0302t', 'ngu\u031b\u01a1\u0300i', 'tie\u0302\u0301ng'],
  ru: 'привет мир Москва ёлка Щука объявление съешь же ещё этих мягких французских булок'.split(' '),
  uk: 'Київ їжак ґанок Євген щастя'.split(' '),
  el: 'Καλημέρα κόσμε Ελλάδα ψυχή ΑΘΗΝΑ ΐ ς σοφία'.split(' '),
};

function IntlSentence(r) {
  const lang = r.pick(Object.keys(kIntlWords));
  const words = kIntlWords[lang];
  const n = r.int(3, 15);
  const out = [];
  for (let i = 0; i < n; i++) out.push(r.chance(0.1) ? String(r.int(0, 99)) : r.pick(words));
  let s = out.join(' ');
  s = s.charAt(0).toUpperCase() + s.slice(1);
  return s + r.pick(['.', '!', '?', '…', ';', ' ;', ' !', ' ?', '»', '«']);
}

function RunOf(r, lo, hi, len) {
  let s = '';
  for (let i = 0; i < len; i++) s += r.cp(lo, hi);
  return s;
}

function Cjk(r) {
  let s = '';
  const n = r.int(10, 120);
  for (let i = 0; i < n; i++) {
    const x = r.next();
    if (x < 0.55) s += r.cp(0x4e00, 0x9fff);              // CJK unified ideographs
    else if (x < 0.65) s += r.cp(0x3041, 0x3096);         // hiragana
    else if (x < 0.72) s += r.cp(0x30a1, 0x30fa);         // katakana
    else if (x < 0.74) s += r.pick(['ー', '々', 'ゝ', 'ヽ']); // Lm
    else if (x < 0.8) s += r.pick(['。', '、', '「', '」', '（', '）', '！', '？', '・', '〜', '『', '』']);
    else if (x < 0.82) s += r.cp(0xff10, 0xff19);         // fullwidth digits
    else if (x < 0.84) s += r.cp(0xff21, 0xff5a);         // fullwidth Latin
    else if (x < 0.86) s += String(r.int(1, 2030));
    else if (x < 0.88) s += r.pick([' ', '\u3000', '\n']);
    else if (x < 0.89) s += r.cp(0x3400, 0x4dbf);         // extension A
    else if (x < 0.9) s += r.cp(0x20000, 0x2a6df);        // extension B (astral)
    else if (x < 0.91) s += r.cp(0x2ebf0, 0x2ee5d);       // extension I (Unicode 15.1)
    else if (x < 0.92) s += r.cp(0x31350, 0x323af);       // extension H (Unicode 15.0)
    else if (x < 0.96) s += RunOf(r, 0xac00, 0xd7a3, r.int(1, 4)) + ' ';  // Hangul syllables
    else s += r.pick(['〇', '一', '二', '三', '①', '②', '⑩', '㈱', '㍿']);
  }
  return s;
}

function Rtl(r) {
  let s = '';
  const n = r.int(4, 30);
  for (let i = 0; i < n; i++) {
    const x = r.next();
    if (x < 0.5) {
      // Arabic word, sometimes with harakat (combining marks) and tatweel (Lm)
      let w = '';
      for (let k = r.int(2, 8); k > 0; k--) {
        w += r.cp(0x0621, 0x064a);
        if (r.chance(0.3)) w += r.cp(0x064b, 0x0652);
        if (r.chance(0.03)) w += '\u0640';
      }
      s += w;
    } else if (x < 0.7) {
      let w = '';
      for (let k = r.int(2, 7); k > 0; k--) {
        w += r.cp(0x05d0, 0x05ea);
        if (r.chance(0.2)) w += r.cp(0x05b0, 0x05bc);
      }
      s += w;
    } else if (x < 0.78) {
      s += RunOf(r, 0x0660, 0x0669, r.int(1, 6));  // Arabic-Indic digits
    } else if (x < 0.85) {
      s += r.pick(['،', '؟', '؛', '۔', '٪', '«', '»', '\u200f', '\u200e', '\u061c']);
    } else {
      s += RunOf(r, 0x06f0, 0x06f9, r.int(1, 4));   // extended Arabic-Indic digits
    }
    s += r.pick([' ', ' ', ' ', '', '\n', ' - ']);
  }
  return s;
}

function Indic(r) {
  let s = '';
  const n = r.int(4, 30);
  for (let i = 0; i < n; i++) {
    const script = r.pick([[0x0915, 0x0939, 0x093e, 0x094c], [0x0995, 0x09b9, 0x09be, 0x09cc],
                           [0x0b95, 0x0bb9, 0x0bbe, 0x0bcc], [0x0c95, 0x0cb9, 0x0cbe, 0x0ccc]]);
    let w = '';
    for (let k = r.int(1, 5); k > 0; k--) {
      w += r.cp(script[0], script[1]);
      if (r.chance(0.5)) w += r.cp(script[2], script[3]);  // vowel signs (Mc/Mn)
      if (r.chance(0.1)) w += String.fromCodePoint(script[0] + 0x38);  // virama-ish
    }
    s += w + r.pick([' ', ' ', '।', ' ॥ ', ', ', '\n']);
    if (r.chance(0.05)) s += RunOf(r, 0x0966, 0x096f, r.int(1, 4));  // Devanagari digits
  }
  return s;
}

function OtherScripts(r) {
  const blocks = [
    [0x0e01, 0x0e2e], [0x0e30, 0x0e3a], [0x0e40, 0x0e4e],  // Thai (no spaces, marks)
    [0x10d0, 0x10fa], [0x0531, 0x0556], [0x0561, 0x0586],  // Georgian, Armenian
    [0x1200, 0x135a], [0x13a0, 0x13f4], [0x1780, 0x17b3],  // Ethiopic, Cherokee, Khmer
    [0x0f40, 0x0f6c], [0x1820, 0x1878], [0x11a0, 0x11ff],  // Tibetan, Mongolian, Hangul jamo
    [0x16a0, 0x16ea], [0x2c00, 0x2c5f], [0x10400, 0x1044f], // Runic, Glagolitic, Deseret
    [0x1d400, 0x1d7ff], [0x1e900, 0x1e94b], [0x11f04, 0x11f10], // math alnum, Adlam, Kawi (15.0)
    [0x1e4d0, 0x1e4f9],                                      // Nag Mundari (15.0)
  ];
  let s = '';
  for (let n = r.int(3, 25); n > 0; n--) {
    const [lo, hi] = r.pick(blocks);
    s += RunOf(r, lo, hi, r.int(1, 8)) + r.pick([' ', ' ', '', '\n', '. ', ', ']);
  }
  return s;
}

const kEmoji = ['😀', '😂', '🥲', '🤖', '🚀', '🔥', '✨', '❤️', '👍🏽', '👩‍💻', '👨‍👩‍👧‍👦', '🏳️‍🌈', '🇺🇸', '🇯🇵', '🇩🇪',
                '1️⃣', '#️⃣', '©️', '™', '☕', '🫠', '🪿', '🧑🏿‍🚀', '👋🏻', '✅', '❌', '⚠️', '🎉', '🙏', '💯',
                '\u{1FAE8}', '\u{1F642}\u{200D}\u{2194}\u{FE0F}', '\u{1FAC8}'];

function EmojiText(r) {
  let s = '';
  for (let n = r.int(3, 30); n > 0; n--) {
    const x = r.next();
    if (x < 0.4) s += r.pick(kEmoji);
    else if (x < 0.5) s += r.pick(kEmoji) + r.pick(kEmoji) + r.pick(kEmoji);
    else if (x < 0.55) s += r.cp(0x1f300, 0x1faff);
    else s += r.pick(kWords);
    s += r.pick([' ', ' ', '', '\n', '!', '!!', ' — ']);
  }
  return s;
}

// Characters whose classes are easy to get wrong: marks in odd places,
// titlecase and modifier letters, letter-like numbers, every Unicode
// whitespace and near-whitespace, format characters, private use,
// noncharacters and unassigned code points.
const kTricky = [
  '\u0301', '\u0308', '\u20dd', '\u0e31', '\u0903', '\u093f', '\u0488', '\u1ab0', '\ufe20', '\u{1d165}',
  'ǅ', 'ǈ', 'ǋ', 'ǲ', 'ᾈ', 'ʰ', 'ʲ', 'ˈ', 'ˑ', 'ᵃ', 'ꜝ', 'ª', 'º', 'ƻ', 'ǀ', '々', 'ー',
  'Ⅻ', 'ⅰ', '〇', '²', '³', '¹', '½', '¾', '①', '⑽', '𝟘', '𐄇', '٣', '߁', '፲', '\u{1F10B}',
  '\u00a0', '\u1680', '\u2000', '\u2001', '\u2002', '\u2003', '\u2006', '\u2009', '\u200a', '\u2028',
  '\u2029', '\u202f', '\u205f', '\u3000', '\ufeff', '\u0085', '\u180e', '\u200b', '\u200c', '\u200d',
  '\u2060', '\u00ad', '\u061c', '\u2066', '\u2069', '\u000b', '\u000c', '\u001b', '\u0000', '\u007f',
  '\ue000', '\uf8ff', '\u{f0000}', '\u{10fffd}', '\ufffe', '\uffff', '\u{1fffe}', '\ufffd',
  '\u0378', '\u{e0001}', '\u{e0041}', '\u{e007f}', '\ufe0f', '\ufe0e', '\u{e0100}', '\u{2fffd}',
  'ß', 'ẞ', 'ﬁ', 'ﬀ', 'İ', 'ı', 'ſ', 'K', 'Å', 'Ω', 'µ', 'ǰ', 'ŉ',
  "'", "'s", "'S", "'re", "'Ll", "'d", "'ve", "'m", '’s', '’', '`', '´',
  '\r', '\n', '\r\n', '\t', ' ', '  ', '/', '//', '\n/', '\r\n/', ' /', '</', '/>',
];

function TrickyText(r) {
  let s = '';
  for (let n = r.int(5, 80); n > 0; n--) {
    const x = r.next();
    if (x < 0.45) s += r.pick(kTricky);
    else if (x < 0.6) s += r.pick(kWords);
    else if (x < 0.65) s += r.pick(kNames).toUpperCase();
    else if (x < 0.7) s += String(r.int(0, 99999));
    else if (x < 0.75) s += r.pick(['.', ',', '!', '?', '(', ')', '[', ']', '{', '}', '<', '>', '"', '-', '_', '*', '#', '@']);
    else if (x < 0.85) {
      // any code point except surrogates
      let cp;
      do { cp = r.int(0, 0x10ffff); } while (cp >= 0xd800 && cp <= 0xdfff);
      s += String.fromCodePoint(cp);
    } else if (x < 0.95) {
      let cp;
      do { cp = r.int(0x80, 0x2fff); } while (cp >= 0xd800 && cp <= 0xdfff);
      s += String.fromCodePoint(cp);
    } else s += r.pick(kIntlWords[r.pick(Object.keys(kIntlWords))]);
  }
  return s;
}

// --- code and JSON ---------------------------------------------------------------------------

function Ident(r) {
  const a = r.pick(kWords), b = r.pick(kWords);
  return r.pick([a, `${a}_${b}`, `${a}${b[0].toUpperCase()}${b.slice(1)}`, `${a.toUpperCase()}_${b.toUpperCase()}`,
                 `_${a}`, `${a}${r.int(0, 99)}`, `${a[0].toUpperCase()}${a.slice(1)}${b[0].toUpperCase()}${b.slice(1)}`]);
}

function Expr(r, depth = 0) {
  const x = r.next();
  if (depth > 2 || x < 0.3) return r.pick([Ident(r), String(r.int(0, 1000)), `"${Sentence(r).slice(0, 30)}"`,
                                             `0x${r.int(0, 65535).toString(16).toUpperCase()}`, `${r.int(0, 9)}.${r.int(0, 999)}e-${r.int(1, 12)}`,
                                             "'\\n'", '`${x}`', 'null', 'true', '[]', '{}']);
  if (x < 0.6) return `${Expr(r, depth + 1)} ${r.pick(['+', '-', '*', '/', '%', '==', '===', '!=', '&&', '||', '<<', '>>', '<=', '>=', '??', '**', '|', '&', '^'])} ${Expr(r, depth + 1)}`;
  if (x < 0.8) return `${Ident(r)}(${Expr(r, depth + 1)}, ${Expr(r, depth + 1)})`;
  return `${Ident(r)}[${Expr(r, depth + 1)}]`;
}

function CodeBlock(r, lang, indent, depth) {
  const pad = indent.repeat(depth);
  const lines = [];
  for (let n = r.int(2, 9); n > 0; n--) {
    const x = r.next();
    if (lang === 'py') {
      if (x < 0.15 && depth < 3) { lines.push(`${pad}${r.pick(['if', 'while', 'for x in', 'elif'])} ${Expr(r)}:`); lines.push(...CodeBlock(r, lang, indent, depth + 1)); }
      else if (x < 0.25) lines.push(`${pad}# ${Sentence(r)}`);
      else if (x < 0.3) lines.push(`${pad}"""${Sentence(r)}\n${pad}${Sentence(r)}"""`);
      else if (x < 0.33) lines.push('');
      else lines.push(`${pad}${Ident(r)} = ${Expr(r)}`);
    } else {
      if (x < 0.15 && depth < 3) { lines.push(`${pad}${r.pick(['if', 'while', 'for', 'switch'])} (${Expr(r)}) {`); lines.push(...CodeBlock(r, lang, indent, depth + 1)); lines.push(`${pad}}`); }
      else if (x < 0.22) lines.push(`${pad}// ${Sentence(r)}`);
      else if (x < 0.27) lines.push(`${pad}/* ${Sentence(r)}\n${pad} * ${Sentence(r)} */`);
      else if (x < 0.3) lines.push(r.pick(['', ' ', indent, '\t']));
      else if (x < 0.35) lines.push(`${pad}return ${Expr(r)};`);
      else if (lang === 'rs') lines.push(`${pad}let mut ${Ident(r)}: Vec<u8> = ${Expr(r)}?;`);
      else if (lang === 'go') lines.push(`${pad}${Ident(r)} := ${Expr(r)}`);
      else if (lang === 'cc') lines.push(`${pad}const auto& ${Ident(r)} = std::${Ident(r)}<int64_t>(${Expr(r)});`);
      else lines.push(`${pad}const ${Ident(r)} = ${Expr(r)};`);
    }
  }
  return lines;
}

function Code(r) {
  const lang = r.pick(['js', 'py', 'cc', 'rs', 'go', 'sh', 'sql', 'html']);
  const indent = r.pick(['  ', '    ', '\t', '   ']);
  const eol = r.chance(0.15) ? '\r\n' : '\n';
  let out = [];
  if (lang === 'sh') {
    for (let n = r.int(3, 25); n > 0; n--) {
      out.push(r.pick([`#!/usr/bin/env bash`, `set -euo pipefail`, `cd "$(dirname "$0")/.."`,
                       `for f in /usr/local/lib/*.so; do echo "$f"; done`, `export PATH=$HOME/.local/bin:$PATH`,
                       `curl -sS -X POST https://api.openai.com/v1/chat/completions -H "Authorization: Bearer $KEY" -d @body.json`,
                       `grep -rn '${r.pick(kWords)}' src/ | wc -l`, `[[ -z "\${VAR:-}" ]] && exit 1`,
                       `echo $((${r.int(1, 99)} * ${r.int(1, 99)})) >> /tmp/out.log 2>&1`, `# ${Sentence(r)}`]));
    }
  } else if (lang === 'sql') {
    for (let n = r.int(2, 8); n > 0; n--) {
      out.push(`SELECT ${Ident(r)}, COUNT(*) AS n, SUM(cost_usd) FROM ${Ident(r)}${eol}${indent}WHERE ts >= '2025-0${r.int(1, 9)}-1${r.int(0, 9)}' AND model IN ('gpt-4o', 'claude-3') GROUP BY 1 ORDER BY n DESC LIMIT ${r.int(1, 100)};`);
    }
  } else if (lang === 'html') {
    out.push('<!DOCTYPE html>', '<html lang="en">', `${indent}<head><meta charset="utf-8"><title>${Sentence(r)}</title></head>`);
    for (let n = r.int(2, 10); n > 0; n--) {
      out.push(`${indent}<div class="${Ident(r)} ${Ident(r)}" data-id="${r.int(0, 9999)}">${Sentence(r)}</div>`);
      if (r.chance(0.3)) out.push(`${indent}<a href="/${r.pick(kWords)}/${r.pick(kWords)}.html">&nbsp;${r.pick(kWords)} &amp; ${r.pick(kWords)}</a><br/>`);
    }
    out.push('</html>');
  } else {
    for (let n = r.int(1, 5); n > 0; n--) {
      if (lang === 'py') out.push(`def ${Ident(r)}(${Ident(r)}, ${Ident(r)}=None):`);
      else if (lang === 'rs') out.push(`pub fn ${Ident(r)}<'a>(${Ident(r)}: &'a str) -> Result<(), Box<dyn Error>> {`);
      else if (lang === 'go') out.push(`func (s *${Ident(r)}) ${Ident(r)}(ctx context.Context) error {`);
      else if (lang === 'cc') out.push(`Status ${Ident(r)}::${Ident(r)}(std::string_view ${Ident(r)}) const {`);
      else out.push(`export async function ${Ident(r)}(${Ident(r)}, { ${Ident(r)} = ${r.int(0, 9)} } = {}) {`);
      out.push(...CodeBlock(r, lang, indent, 1));
      if (lang !== 'py') out.push('}');
      out.push('');
    }
  }
  let s = out.join(eol);
  if (r.chance(0.2)) s = s.replace(/\n/g, ' \n');  // trailing spaces
  return s;
}

function RandomJsonValue(r, depth) {
  const x = r.next();
  if (depth > 3 || x < 0.45) {
    return r.pick([
      () => r.int(-1000000, 1000000), () => r.next() * 1000, () => r.chance(0.5), () => null,
      () => r.pick(kWords), () => Sentence(r), () => IntlSentence(r), () => Cjk(r).slice(0, 20),
      () => r.pick(kEmoji), () => `${r.pick(kWords)}\n\t"${r.pick(kWords)}"\\`, () => new Date(1.6e12 + r.int(0, 1e9) * 100).toISOString(),
    ])();
  }
  if (x < 0.7) {
    const arr = [];
    for (let n = r.int(0, 6); n > 0; n--) arr.push(RandomJsonValue(r, depth + 1));
    return arr;
  }
  const obj = {};
  for (let n = r.int(0, 7); n > 0; n--) obj[Ident(r)] = RandomJsonValue(r, depth + 1);
  return obj;
}

function Json(r) {
  const x = r.next();
  let v;
  if (x < 0.35) {
    const messages = [{ role: 'system', content: Sentence(r) }];
    for (let n = r.int(1, 6); n > 0; n--) {
      messages.push({ role: r.pick(['user', 'assistant']), content: r.pick([Paragraphs(r, r.int(50, 800), Sentence), IntlSentence(r), Cjk(r), Code(r)]) });
    }
    v = { model: r.pick(['gpt-4o', 'gpt-4.1-mini', 'claude-sonnet-4-5', 'o3']), messages, temperature: r.int(0, 10) / 10, stream: r.chance(0.5), max_tokens: r.int(16, 4096) };
    if (r.chance(0.3)) v.tools = [{ type: 'function', function: { name: Ident(r), description: Sentence(r), parameters: { type: 'object', properties: { [Ident(r)]: { type: 'string', enum: ['a', 'b'] } }, required: [] } } }];
  } else {
    v = RandomJsonValue(r, 0);
    if (typeof v !== 'object' || v === null) v = { value: v };
  }
  const style = r.int(0, 4);
  if (style === 0) return JSON.stringify(v);
  if (style === 1) return JSON.stringify(v, null, 2);
  if (style === 2) return JSON.stringify(v, null, 4);
  if (style === 3) return JSON.stringify(v, null, '\t');
  // JSON with non-ASCII escaped, as Python's json.dumps writes it
  return JSON.stringify(v, null, 1).replace(/[\u007f-\uffff]/g, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'));
}

// --- edge cases --------------------------------------------------------------------------------

function EdgeCase(r) {
  const len = r.int(1, 300);  // js-tiktoken's merge is quadratic in piece length; keep pieces short
  return r.pick([
    () => 'a'.repeat(len), () => ' '.repeat(len), () => '\n'.repeat(len), () => '\t'.repeat(len),
    () => '7'.repeat(len), () => '!'.repeat(len), () => ' \n'.repeat(len), () => '\r\n'.repeat(len),
    () => ' '.repeat(len) + 'x', () => 'x' + ' '.repeat(len), () => '\u3000'.repeat(len),
    () => 'ab'.repeat(len), () => 'É'.repeat(len), () => '中'.repeat(len), () => '😀'.repeat(Math.ceil(len / 4)),
    () => "'s".repeat(len), () => "'".repeat(len), () => '\u0301'.repeat(len), () => 'e\u0301'.repeat(len),
    () => '<|endoftext|>', () => 'Hello <|endoftext|> world <|endofprompt|>', () => '<|fim_prefix|>x<|fim_suffix|>y<|fim_middle|>',
    () => '', () => ' ', () => '\n', () => 'a', () => "I'M", () => "DON'T'S", () => '1234567', () => '3.14159265358979',
    () => '  \n  \n\t \r\n ', () => 'foo  bar   baz    qux', () => '\n\n\n\n    x\n\n', () => ' \u00a0 \u00a0x',
    () => '!!!\n///\n\r\n//', () => 'a/b//c///\n/', () => '}}\n\n/', () => 'x \u0301y', () => '1\u0301', () => '\u0301\u0301abc',
    () => 'ABCdef GHIjkl mnoPQR ǅemal', () => 'ʰello ʰELLO Aʰ', () => '中A 中a A中', () => "HELLO'S hello'S Hello'Ll",
    () => '١٢٣٤٥٦٧', () => '¹²³⁴', () => 'Ⅻⅻ', () => 'x'.repeat(len) + ' ' + 'y'.repeat(len),
  ])();
}

// Invalid UTF-8: lone continuation bytes, truncated sequences, overlong
// encodings, UTF-16 surrogates, code points past U+10FFFF and bytes that never
// occur in UTF-8. node decodes them to U+FFFD (WHATWG rules); so must we.
const kBadBytes = [[0x80], [0xbf], [0xc0, 0x80], [0xc1, 0xbf], [0xc2], [0xe0, 0x80, 0x80], [0xe0, 0xa0],
                   [0xed, 0xa0, 0x80], [0xed, 0xbf, 0xbf], [0xef, 0xbf], [0xf0, 0x80, 0x80, 0x80], [0xf0, 0x90],
                   [0xf4, 0x90, 0x80, 0x80], [0xf5, 0x80], [0xf8, 0x88, 0x80, 0x80, 0x80], [0xfe], [0xff],
                   [0xe2, 0x82], [0xf0, 0x9f, 0x98], [0xc3, 0x28], [0xe2, 0x28, 0xa1]];

function InvalidUtf8(r) {
  const parts = [];
  for (let n = r.int(3, 40); n > 0; n--) {
    parts.push(Buffer.from(r.pick([Sentence, IntlSentence, Cjk, EmojiText, TrickyText])(r)));
    for (let k = r.int(1, 3); k > 0; k--) parts.push(Buffer.from(r.pick(kBadBytes)));
    if (r.chance(0.3)) parts.push(Buffer.from([r.int(0x80, 0xff)]));
  }
  return Buffer.concat(parts);
}

// Short random strings over one representative of each character class the
// patterns distinguish, so that every junction of classes occurs many times.
const kFuzzAlphabet = ['a', 'q', 'Z', 'Q', 'ǅ', 'ʰ', 'ー', '中', 'ª', '\u0301', '\u0903', '\u20dd', '1', '²',
                       'Ⅻ', '٣', ' ', ' ', ' ', '  ', '\t', '\n', '\r', '\r\n', '\u00a0', '\u3000', '\ufeff',
                       '\u2028', '\u0085', '\u000b', '\u200b', "'", "'", 's', 'S', 't', 'T', 're', 'RE', 'lL',
                       've', 'd', 'M', '/', '/', '!', '.', '-', '"', '😀', '\u200d', 'É', 'é', 'e\u0301', '\ufffd'];

function Fuzz(r) {
  let s = '';
  for (let n = r.int(1, 24); n > 0; n--) s += r.pick(kFuzzAlphabet);
  return s;
}

// --- real text from the pinned npm packages ----------------------------------------------------

function RealFiles(modulesDir) {
  const root = path.join(modulesDir, 'node_modules');
  const files = [];
  const walk = (dir) => {
    let entries;
    try { entries = fs.readdirSync(dir, { withFileTypes: true }); } catch { return; }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) {
        if (e.name !== 'bpeRanks' && e.name !== 'ranks' && e.name !== 'dist' && e.name !== 'esm' && e.name !== 'cjs') walk(p);
      } else if (/\.(md|ts|snap)$/.test(e.name) && !e.name.endsWith('.d.ts')) {
        files.push(p);
      }
    }
  };
  walk(path.join(root, 'gpt-tokenizer'));
  walk(path.join(root, 'js-tiktoken'));
  walk(path.join(root, 'base64-js'));
  return files;
}

export function BuildCorpus({ seed = 20250801, minBytes = 1.25 * 1024 * 1024, fuzzDocs = 1500, modulesDir }) {
  const r = Rng(seed);
  const docs = [];
  let total = 0;
  const add = (kind, content) => {
    const bytes = Buffer.isBuffer(content) ? content : Buffer.from(content, 'utf8');
    docs.push({ name: `${String(docs.length).padStart(5, '0')}_${kind}`, kind, bytes });
    total += bytes.length;
  };

  // Real files, split into chunks of 1-16 KB at line boundaries.
  if (modulesDir) {
    for (const f of RealFiles(modulesDir)) {
      const text = fs.readFileSync(f, 'utf8');
      let pos = 0;
      while (pos < text.length && total < minBytes * 0.2) {
        let end = Math.min(text.length, pos + r.int(256, 8192));
        const nl = text.indexOf('\n', end);
        end = nl < 0 ? text.length : nl + 1;
        add('real', text.slice(pos, end));
        pos = end;
      }
    }
  }

  // Several paragraphs of a generator, so short generators still make
  // documents of realistic size.
  const many = (gen, lo, hi) => () => {
    const parts = [];
    for (let n = r.int(lo, hi); n > 0; n--) parts.push(gen(r));
    return parts.join(r.pick(['\n', '\n\n', ' ', '\r\n']));
  };
  const kinds = [
    ['prose', 0.17, () => Paragraphs(r, r.int(80, 2500), Sentence)],
    ['intl', 0.07, () => Paragraphs(r, r.int(80, 1500), IntlSentence)],
    ['cjk', 0.08, many(Cjk, 1, 8)],
    ['rtl', 0.05, many(Rtl, 1, 8)],
    ['indic', 0.04, many(Indic, 1, 8)],
    ['scripts', 0.03, many(OtherScripts, 1, 8)],
    ['emoji', 0.04, many(EmojiText, 1, 6)],
    ['tricky', 0.08, many(TrickyText, 1, 6)],
    ['code', 0.15, () => Code(r)],
    ['json', 0.13, () => Json(r)],
    ['edge', 0.07, () => EdgeCase(r)],
    ['mixed', 0.06, () => [Sentence, IntlSentence, Cjk, Rtl, Indic, EmojiText, TrickyText, Code, Json].map((f) => (r.chance(0.5) ? f(r) : '')).join(r.pick(['\n', ' ', '\n\n', '']))],
    ['badutf8', 0.03, () => InvalidUtf8(r)],
  ];
  // Many tiny documents first: cheap in bytes, rich in class junctions.
  for (let i = 0; i < fuzzDocs; i++) add('fuzz', Fuzz(r));
  while (total < minBytes) {
    let x = r.next();
    for (const [kind, weight, gen] of kinds) {
      x -= weight;
      if (x < 0 || kind === 'badutf8') {
        add(kind, gen());
        break;
      }
    }
  }
  return docs;
}
