#!/usr/bin/env node
// Cross-checks tollgate's price catalog against @pydantic/genai-prices.
//
// For every model that both catalogs price, and for several usage mixes (plain,
// cached-heavy, reasoning-heavy, long-context above 200K, Anthropic cache
// writes), it prices the same usage with genai-prices' calcPrice() and with
// `tollgate prices MODEL ... --json`, then writes a markdown report: the
// agreement rate and every difference with its reason.
//
// Usage: node compare.mjs [--bin PATH] [--out FILE] [--min-agreement 0.95] [--time ISO] [--strict]
//   --bin    tollgate binary (default: $TOLLGATE_BIN, else build/tollgate)
//   --out    report path (default: docs/pricing-comparison.md; "-" for stdout only)
//   --time   the instant both catalogs price at (default: today 12:00 UTC;
//            genai-prices has time-of-day prices, so a fixed hour keeps runs stable)
//   --gate   which agreement rate --min-agreement applies to: "corrected" (default:
//            rows whose difference is a documented genai-prices error count as
//            agreeing) or "raw"
//   --strict also fail when a difference has no recorded reason in REASONS
// Exits 1 when the agreement rate is below --min-agreement (or, with --strict,
// on an unexplained difference); 2 on a setup error.
// Needs `npm ci` in this directory.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../..');

function Args(argv) {
  const a = { bin: process.env.TOLLGATE_BIN || resolve(root, 'build/tollgate'),
              out: resolve(root, 'docs/pricing-comparison.md'), min: 0.95, time: null, strict: false,
              gate: 'corrected' };
  for (let i = 2; i < argv.length; i++) {
    const k = argv[i], v = argv[i + 1];
    if (k === '--bin') { a.bin = v; i++; }
    else if (k === '--out') { a.out = v === '-' ? null : resolve(v); i++; }
    else if (k === '--min-agreement') { a.min = Number(v); i++; }
    else if (k === '--time') { a.time = v; i++; }
    else if (k === '--strict') a.strict = true;
    else if (k === '--gate' && (v === 'raw' || v === 'corrected')) { a.gate = v; i++; }
    else { console.error(`unknown argument ${k}`); process.exit(2); }
  }
  return a;
}
const args = Args(process.argv);

let genai;
try {
  genai = await import('@pydantic/genai-prices');
} catch (e) {
  console.error(`cannot load @pydantic/genai-prices (run \`npm ci\` in ${here}): ${e.message}`);
  process.exit(2);
}
const genaiVersion = JSON.parse(readFileSync(resolve(here, 'node_modules/@pydantic/genai-prices/package.json'))).version;

// Relative tolerance, and the absolute floor below which amounts count as equal.
const REL_TOL = 0.005;
const ABS_TOL = 1e-9;

// tollgate provider names (LiteLLM's) -> genai-prices provider ids.
const PROVIDERS = {
  openai: 'openai',
  anthropic: 'anthropic',
  gemini: 'google',
  mistral: 'mistral',
  deepseek: 'deepseek',
  xai: 'x-ai',
  groq: 'groq',
  together_ai: 'together',
  fireworks_ai: 'fireworks',
};
// How genai-prices spells a tollgate model id, where it differs (nowhere yet:
// it matches Fireworks' full accounts/fireworks/models/... ids too).
function GenaiModelId(provider, model) {
  return model;
}

// Usage mixes, in tollgate's disjoint classes. `applies` picks the models a mix
// makes sense for (`ctx`: the model's context window, when either catalog knows it).
const MIXES = [
  { name: 'plain', applies: (m) => m.mode !== 'embedding', usage: { input: 10000, output: 2000 } },
  { name: 'embedding', applies: (m) => m.mode === 'embedding', usage: { input: 100000 } },
  { name: 'cached-heavy', applies: (m) => m.mode !== 'embedding',
    usage: { input: 10000, cache_read: 40000, output: 1000 } },
  { name: 'reasoning-heavy', applies: (m) => m.mode === 'chat', usage: { input: 5000, output: 1000, reasoning: 8000 } },
  { name: 'long-context', applies: (m) => m.mode === 'chat' && m.ctx >= 250000, usage: { input: 230000, output: 3000 } },
  { name: 'long-context-cached', applies: (m) => m.mode === 'chat' && m.ctx >= 250000,
    usage: { input: 80000, cache_read: 150000, output: 3000, reasoning: 2000 } },
  { name: 'cache-writes', applies: (m) => m.provider === 'anthropic',
    usage: { input: 2000, cache_read: 30000, cache_write_5m: 10000, cache_write_1h: 5000, output: 1500 } },
  { name: 'long-context-cache-writes', applies: (m) => m.provider === 'anthropic' && m.ctx >= 250000,
    usage: { input: 180000, cache_read: 40000, cache_write_5m: 10000, cache_write_1h: 5000, output: 2000 } },
];

// Why the two catalogs disagree, found by reading both entries against the
// provider's published prices. Key: "provider/model" (every mix) or
// "provider/model@mix". `wrong` names the catalog that is off: "genai-prices"
// (tollgate matches the provider's published price), "tollgate", or
// "unverified" (the published price could not be confirmed either way).
const REASONS = {};
function Reason(keys, wrong, text) {
  const r = { wrong, text };
  for (const k of [].concat(keys)) REASONS[k] = r;
}

Reason(['deepseek/deepseek-chat', 'deepseek/deepseek-reasoner'], 'genai-prices',
  'genai-prices is stale for these two ids: it still has the January 2025 V3 / R1 prices (chat $0.27 in, ' +
  '$0.07 hit, $1.10 out; reasoner $0.55 / $0.14 / $2.19) and the 16:30-00:30 UTC off-peak discount. ' +
  'DeepSeek ended that discount on 2025-09-05, moved both ids to V3.2 at $0.28 / $0.028 / $0.42 on ' +
  '2025-09-29, and on 2026-04-24 made them the non-thinking and thinking modes of deepseek-v4-flash ' +
  '($0.14 / $0.0028 / $0.28) until it retired both names on 2026-07-24 (api-docs.deepseek.com). ' +
  'tollgate has each of those dated entries.');
Reason(['anthropic/claude-sonnet-4-20250514@long-context', 'anthropic/claude-sonnet-4-20250514@long-context-cached',
        'anthropic/claude-sonnet-4-20250514@long-context-cache-writes'], 'genai-prices',
  'Tier handling: genai-prices prices Claude Sonnet 4 flat (context_window 200K). With the 1M-context beta, ' +
  'Anthropic billed Sonnet 4 requests over 200K input tokens at $6 in / $22.50 out and 2x cache rates, ' +
  'the same as Sonnet 4.5, for which genai-prices does keep the tier. tollgate keeps the tier for both. ' +
  'Only historical requests are affected: genai-prices notes the 1M beta was retired on 2026-04-30, after ' +
  'which prompts over 200K are rejected.');
Reason(['xai/grok-4-0709@long-context', 'xai/grok-4-0709@long-context-cached',
        'xai/grok-4-fast@long-context', 'xai/grok-4-fast@long-context-cached'], 'genai-prices',
  'Tier handling: genai-prices prices Grok 4 and Grok 4 Fast flat. xAI bills requests with more than 128K ' +
  'prompt tokens at its higher-context rate (grok-4: $6 in / $30 out; grok-4-fast: $0.40 / $1.00; cached ' +
  'input unchanged; docs.x.ai/docs/models), which tollgate has as a tier.');
Reason('mistral/mistral-large-latest', 'unverified',
  'Catalog date difference: genai-prices matches mistral-large-latest to its Mistral Large 2.1 entry ' +
  '($2 / $6). tollgate moves the -latest pointer to Mistral Large 3 (mistral-large-2512: $0.50 / $1.50, ' +
  'cached $0.05) from 2025-12-02, Large 3\'s release date. The pointer move is likely but not confirmed ' +
  'from Mistral\'s own model list.');
Reason(['fireworks_ai/accounts/fireworks/models/gpt-oss-120b@cached-heavy',
        'fireworks_ai/accounts/fireworks/models/gpt-oss-20b@cached-heavy'], 'unverified',
  'Unknown class price: genai-prices has Fireworks cached-input prices for gpt-oss ($0.014 for 120b, ' +
  '$0.035 for 20b); tollgate leaves them out on purpose (docs/pricing.md, "Known gaps": the sources ' +
  'disagreed), so it bills cache reads at the input price. Only cache-read tokens differ.');
// Fixed in src/pricing/catalog.cc: a tier without its own reasoning price
// billed reasoning at the base output price. Kept in case it comes back.
Reason(['anthropic/claude-sonnet-4-5-20250929@long-context-cached', 'gemini/gemini-2.5-pro@long-context-cached',
        'gemini/gemini-3-pro-preview@long-context-cached'], 'tollgate',
  'Tier handling bug: reasoning tokens in a long-context tier billed at the base output price instead of the ' +
  'tier\'s output price (tier ReadRates inherited base.reasoning).');

// Catalog and code errors this comparison found, already fixed; listed in the
// report so a reader knows why those models now agree.
const FIXED = [
  'Tier reasoning price (src/pricing/catalog.cc): inside a long-context tier, reasoning tokens billed at the ' +
  "base output price instead of the tier's (Gemini 2.5 Pro / 3 Pro thoughts above 200K, Grok 4 above 128K).",
  'Mistral prompt caching: cached prompt tokens bill at 10% of input (docs.mistral.ai); `cached_input` added ' +
  'to mistral-large-2512, mistral-large-latest (2025-12-02), mistral-medium-2505/2508/2604.',
  'gemini-2.0-flash-lite had a `cached_input` price, but the model has no context caching.',
  'fireworks_ai llama-v3p1-8b-instruct was $0.10; Fireworks bills 4B-16B models $0.20.',
  'grok-4.1-fast was only reachable as "grok-4.1-fast"; xAI\'s ids grok-4-1-fast(-reasoning|-non-reasoning) ' +
  'are now aliases.',
  'deepseek-chat / deepseek-reasoner: added the 2026-04-24 entries (deepseek-v4-flash: $0.14 / $0.0028 / $0.28).',
];

// ---------------------------------------------------------------------------------------------

function Today() { return new Date().toISOString().slice(0, 10); }
const at = new Date(args.time || `${Today()}T12:00:00Z`);
if (Number.isNaN(at.getTime())) { console.error(`bad --time ${args.time}`); process.exit(2); }

function Tollgate(argv) {
  return execFileSync(args.bin, argv, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

let listing;
try {
  listing = Tollgate(['prices', '--list']);
} catch (e) {
  console.error(`cannot run ${args.bin} prices --list (set TOLLGATE_BIN or --bin): ${e.message}`);
  process.exit(2);
}
// Model metadata the CLI listing does not show (mode, context window) comes from
// the catalog source the binary embeds; prices always come from the binary.
const catalogJson = JSON.parse(readFileSync(resolve(root, 'data/prices.json'), 'utf8'));
const meta = new Map();
for (const e of catalogJson.models) meta.set(`${e.provider}/${e.model}`, e);

const models = [];
for (const line of listing.split('\n')) {
  const id = line.split('\t')[0].trim();
  if (!id) continue;
  const slash = id.indexOf('/');
  const provider = id.slice(0, slash), model = id.slice(slash + 1);
  const m = meta.get(id) || {};
  models.push({ id, provider, model, mode: m.mode || 'chat', ctx: m.context_window || 0, aliases: m.aliases || [] });
}

function TollgateCost(m, u) {
  const argv = ['prices', m.id, '--json'];
  for (const [k, flag] of [['input', '--input'], ['cache_read', '--cache-read'], ['cache_write_5m', '--cache-write-5m'],
                           ['cache_write_1h', '--cache-write-1h'], ['output', '--output'], ['reasoning', '--reasoning']])
    if (u[k]) argv.push(flag, String(u[k]));
  return JSON.parse(Tollgate(argv));
}

// tollgate's disjoint classes -> genai-prices usage, where input_tokens and
// output_tokens are totals and the cache/reasoning counts are parts of them.
function GenaiUsage(u) {
  const cw = (u.cache_write_5m || 0) + (u.cache_write_1h || 0);
  const g = {
    input_tokens: (u.input || 0) + (u.cache_read || 0) + cw,
    output_tokens: (u.output || 0) + (u.reasoning || 0),
  };
  if (u.cache_read) g.cache_read_tokens = u.cache_read;
  if (cw) g.cache_write_tokens = cw;
  if (u.cache_write_5m) g.cache_write_5m_tokens = u.cache_write_5m;
  if (u.cache_write_1h) g.cache_write_1h_tokens = u.cache_write_1h;
  if (u.reasoning) g.output_reasoning_tokens = u.reasoning;
  return g;
}

function Agree(a, b) {
  const d = Math.abs(a - b);
  return d <= ABS_TOL || d <= REL_TOL * Math.max(Math.abs(a), Math.abs(b));
}

function UsageText(u) {
  const names = { input: 'in', cache_read: 'read', cache_write_5m: 'w5m', cache_write_1h: 'w1h', output: 'out',
                  reasoning: 'reason' };
  return Object.entries(u).filter(([, v]) => v).map(([k, v]) => `${names[k]} ${v}`).join(', ');
}

const rows = [];
const notInGenai = [];
const renamed = [];
for (const m of models) {
  const gp = PROVIDERS[m.provider];
  if (!gp) { notInGenai.push({ m, why: `provider ${m.provider} has no genai-prices mapping` }); continue; }
  // The model id first, then its fixed aliases ("-latest" pointers move, so they are not tried).
  let gid = null, probe = null;
  const candidates = [m.model, ...m.aliases.filter((a) => !a.endsWith('-latest'))];
  for (const cand of candidates) {
    gid = GenaiModelId(m.provider, cand);
    probe = genai.calcPrice({ input_tokens: 1, output_tokens: 1 }, gid, { providerId: gp, timestamp: at });
    if (probe) break;
  }
  if (!probe) {
    notInGenai.push({ m, why: `genai-prices ${gp} has no model matching ${candidates.join(', ')}` });
    continue;
  }
  if (probe.model.id !== m.model) renamed.push({ m, genaiId: probe.model.id, via: gid !== m.model ? gid : null });
  for (const mix of MIXES) {
    if (!mix.applies(m)) continue;
    const t = TollgateCost(m, mix.usage);
    const g = genai.calcPrice(GenaiUsage(mix.usage), gid, { providerId: gp, timestamp: at });
    const tg = t.cost_usd, gv = g.total_price;
    rows.push({ m, mix: mix.name, usage: mix.usage, tg, gv, agree: Agree(tg, gv), genaiId: g.model.id, gid,
                tgIn: t.input_cost_usd + t.cache_read_cost_usd + t.cache_write_cost_usd,
                tgOut: t.output_cost_usd + t.reasoning_cost_usd, gIn: g.input_price, gOut: g.output_price,
                catalog: t.catalog_version, effective: t.effective_from });
  }
}

const total = rows.length, agreed = rows.filter((r) => r.agree).length;
const rate = total ? agreed / total : 0;
const diffs = rows.filter((r) => !r.agree);
for (const r of diffs) {
  const side = [!Agree(r.tgIn, r.gIn) && 'input', !Agree(r.tgOut, r.gOut) && 'output'].filter(Boolean).join(' + ');
  r.side = side || 'split';
  r.reason = REASONS[`${r.m.id}@${r.mix}`] || REASONS[r.m.id] || null;
}
const unexplained = diffs.filter((r) => !r.reason);
const byWrong = {};
for (const r of diffs) { const w = r.reason ? r.reason.wrong : 'unexplained'; byWrong[w] = (byWrong[w] || 0) + 1; }
// Rows where tollgate matches the provider's published price and genai-prices does not.
const genaiWrong = byWrong['genai-prices'] || 0;
const corrected = total ? (agreed + genaiWrong) / total : 0;
const gated = args.gate === 'raw' ? rate : corrected;

const f = (x) => (x === 0 ? '0' : x.toPrecision(6));
const pct = (x) => `${(100 * x).toFixed(1)}%`;
const out = [];
out.push('# Pricing cross-check: tollgate vs genai-prices');
out.push('');
out.push('Generated by `tests/pricing/compare.mjs`; do not edit by hand. It prices the same usage with');
out.push(`tollgate's embedded catalog (\`tollgate prices MODEL --json\`, catalog ${rows[0]?.catalog ?? '?'}) and with`);
out.push(`[@pydantic/genai-prices](https://github.com/pydantic/genai-prices) ${genaiVersion} (\`calcPrice\`, bundled data),`);
out.push(`both at ${at.toISOString()}. Two amounts agree when they are within ${REL_TOL * 100}% of each other or`);
out.push(`within $${ABS_TOL}.`);
out.push('');
out.push(`**Agreement: ${agreed} / ${total} = ${pct(rate)}**, over ${new Set(rows.map((r) => r.m.id)).size} ` +
         `models both catalogs price (${rows.length} model x usage-mix comparisons).`);
out.push('');
out.push(`Differences by the catalog found wrong: ` +
         Object.entries(byWrong).map(([k, v]) => `${k} ${v}`).join(', ') + (diffs.length ? '.' : 'none.'));
out.push(`Counting the ${genaiWrong} rows where tollgate matches the provider's published price and genai-prices ` +
         `does not as agreeing, **tollgate agrees with the published prices in ${agreed + genaiWrong} / ${total} = ` +
         `${pct(corrected)}**.`);
out.push(`compare.mjs fails below ${pct(args.min)} on the ${args.gate === 'raw' ? 'raw' : 'corrected'} rate ` +
         `(\`--gate raw\` or \`--gate corrected\`).`);
out.push('');
out.push('| mix | usage (tollgate classes) | compared | agree |');
out.push('|---|---|---|---|');
for (const mix of MIXES) {
  const rs = rows.filter((r) => r.mix === mix.name);
  if (rs.length) out.push(`| ${mix.name} | ${UsageText(mix.usage)} | ${rs.length} | ${pct(rs.filter((r) => r.agree).length / rs.length)} |`);
}
out.push('');
out.push('genai-prices counts `input_tokens` as the whole prompt (cache reads and writes included) and');
out.push('`output_tokens` with reasoning included; compare.mjs converts tollgate\'s disjoint classes accordingly.');
out.push('genai-prices has no batch prices, so batch discounts are not compared.');
out.push('');
out.push('## Differences');
out.push('');
if (!diffs.length) out.push('None.');
else {
  out.push('`side`: whether the input-side or output-side amounts differ. `wrong`: the catalog found wrong.');
  out.push('');
  out.push('| model | mix | tollgate $ | genai-prices $ | diff | side | wrong | reason |');
  out.push('|---|---|---|---|---|---|---|---|');
  const ids = new Map();
  for (const r of diffs) {
    if (r.reason && !ids.has(r.reason)) ids.set(r.reason, `R${ids.size + 1}`);
    const rel = (r.tg - r.gv) / Math.max(Math.abs(r.tg), Math.abs(r.gv));
    out.push(`| ${r.m.id}${r.genaiId !== r.m.model ? ` (genai: ${r.genaiId})` : ''} | ` +
             `${r.mix} | ${f(r.tg)} | ${f(r.gv)} | ${rel >= 0 ? '+' : ''}${(100 * rel).toFixed(1)}% | ${r.side} | ` +
             `${r.reason ? r.reason.wrong : '?'} | ${r.reason ? ids.get(r.reason) : '**UNEXPLAINED**'} |`);
  }
  out.push('');
  out.push('### Reasons');
  out.push('');
  for (const [reason, id] of ids) out.push(`- **${id}** (wrong: ${reason.wrong}). ${reason.text}`);
}
out.push('');
out.push('## Fixed in tollgate after earlier runs');
out.push('');
for (const f of FIXED) out.push(`- ${f}`);
out.push('');
out.push('## Models matched under another genai-prices id');
out.push('');
out.push('genai-prices matches ids by prefix rules, so some tollgate ids resolve to a family entry:');
out.push('');
for (const { m, genaiId, via } of renamed)
  out.push(`- \`${m.id}\` -> \`${genaiId}\`${via ? ` (through tollgate alias \`${via}\`)` : ''}`);
out.push('');
out.push('## tollgate models not compared');
out.push('');
for (const { m, why } of notInGenai) out.push(`- \`${m.id}\`: ${why}`);
out.push('');
const report = out.join('\n');
if (args.out) writeFileSync(args.out, report);
else process.stdout.write(report);

console.log(`pricing compare: ${agreed}/${total} agree (${pct(rate)}; ${pct(corrected)} setting aside ` +
            `${genaiWrong} genai-prices errors), ${diffs.length} differences, ` +
            `${unexplained.length} unexplained, ${notInGenai.length} models not in genai-prices` +
            (args.out ? `; wrote ${args.out}` : ''));
for (const r of unexplained)
  console.log(`  UNEXPLAINED ${r.m.id} ${r.mix}: tollgate ${r.tg} genai-prices ${r.gv} (${r.side})`);
if (gated < args.min) {
  console.error(`${args.gate} agreement ${pct(gated)} is below ${pct(args.min)}`);
  process.exit(1);
}
if (args.strict && unexplained.length) {
  console.error(`${unexplained.length} differences have no recorded reason (add one to REASONS in compare.mjs)`);
  process.exit(1);
}
