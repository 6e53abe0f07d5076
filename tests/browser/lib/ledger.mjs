// Seeds realistic ledgers for the dashboard tests and benchmark, and runs the
// tollgate CLI against them.
//
// Rows are generated inside SQLite by one recursive-CTE INSERT, so a
// million-row ledger takes seconds. They are deterministic for a given
// (rows, days, end): row i gets its timestamp from its position in the range
// (the ledger's rowid order follows time, as a real one does) and everything
// else from a multiplicative hash of i: one of seven models on four providers
// (one with no known price, so its cost is NULL), eight keys, twelve users,
// four projects, ~2% upstream errors, streamed and plain requests, prompt-cache
// reads on the Anthropic models.

import { execFile as execFileCb } from 'node:child_process';
import { promisify } from 'node:util';

const execFile = promisify(execFileCb);

export const DAY_MS = 86_400_000;

/** USD per 1M tokens; `null` = no known price (cost stored as NULL). */
export const SEED_MODELS = [
  { model: 'gpt-4o-mini', provider: 'openai', input: 0.15, output: 0.6, weight: 30, latency: 600 },
  { model: 'gpt-4o', provider: 'openai', input: 2.5, output: 10, weight: 12, latency: 1400 },
  { model: 'claude-sonnet-4-5', provider: 'anthropic', input: 3, output: 15, weight: 14, latency: 1800 },
  { model: 'claude-haiku-4-5', provider: 'anthropic', input: 1, output: 5, weight: 14, latency: 700 },
  { model: 'gemini-2.5-flash', provider: 'gemini', input: 0.3, output: 2.5, weight: 16, latency: 500 },
  { model: 'text-embedding-3-small', provider: 'openai', input: 0.02, output: 0, weight: 10, latency: 120 },
  { model: 'llama-3.1-70b', provider: 'vllm', input: null, output: null, weight: 4, latency: 900 },
];

export const SEED_PROJECTS = ['search', 'support-bot', 'analytics', 'internal-tools'];
export const SEED_USERS = ['alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'grace', 'heidi', 'ivan', 'judy', 'mallory', 'oscar'];

const sqlString = (s) => `'${String(s).replaceAll("'", "''")}'`;

/**
 * SQL that appends `rows` requests spread evenly over the `days` UTC days
 * ending with the day of `endMs` (default: now).
 */
export function seedSql({ rows, days = 30, endMs = Date.now(), idPrefix = 'req_seed' }) {
  const endDay = Math.floor(endMs / DAY_MS) * DAY_MS;
  const start = endDay - (days - 1) * DAY_MS;
  // Up to a minute before now, so no row is in the future.
  const span = Math.max(1, Math.min(days * DAY_MS, endMs - 60_000 - start));
  let acc = 0;
  const total = SEED_MODELS.reduce((a, m) => a + m.weight, 0);
  const models = SEED_MODELS.map((m, idx) => {
    const lo = acc;
    acc += m.weight;
    const price = (p) => (p === null ? 'NULL' : String(p));
    return `(${idx}, ${lo}, ${acc}, ${sqlString(m.model)}, ${sqlString(m.provider)}, ${price(m.input)}, ${price(m.output)}, ${m.latency})`;
  });
  const project = `CASE (h >> 14) % 4 ${SEED_PROJECTS.map((p, i) => `WHEN ${i} THEN ${sqlString(p)}`).join(' ')} END`;
  const user = `CASE (h >> 17) % 12 ${SEED_USERS.map((u, i) => `WHEN ${i} THEN ${sqlString(u)}`).join(' ')} END`;
  return `
PRAGMA journal_mode=WAL;
BEGIN;
WITH RECURSIVE
  seq(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM seq WHERE i < ${rows - 1}),
  m(idx, lo, hi, model, provider, pin, pout, base_latency) AS (VALUES ${models.join(', ')}),
  r AS (SELECT i, (i * 2654435761 + 97531) % 4294967296 AS h FROM seq),
  g AS (
    SELECT r.i, r.h, m.*,
      ${start} + (r.i * ${span}) / ${rows} AS ts,
      (r.h >> 21) % 50 = 0 AS failed,
      (r.h >> 9) % 2 = 1 AND m.model NOT LIKE 'text-embedding%' AS streamed,
      200 + (r.h % 3800) AS in_tok,
      CASE WHEN m.model LIKE 'text-embedding%' THEN 0 ELSE 20 + ((r.h >> 12) % 900) END AS out_tok,
      CASE WHEN m.provider = 'anthropic' THEN (r.h >> 5) % 2000 ELSE 0 END AS cached_tok
    FROM r CROSS JOIN m ON (r.h >> 24) % ${total} >= m.lo AND (r.h >> 24) % ${total} < m.hi
  )
INSERT INTO requests (id, ts_start_ms, ts_end_ms, endpoint, api_key, user, project, tags, requested_model,
  served_model, provider, status, error_class, input_tokens, cache_read_tokens, output_tokens,
  input_cost_usd, cache_read_cost_usd, cache_write_cost_usd, output_cost_usd, reasoning_cost_usd, cost_usd,
  latency_ms, ttft_ms, streamed, estimated, retries, fallbacks, price_version)
SELECT
  printf('${idPrefix}_%016x', i), ts, ts + base_latency + (h >> 8) % 900,
  CASE WHEN model LIKE 'text-embedding%' THEN 'embeddings' ELSE 'chat.completions' END,
  printf('key_%012x', (((h >> 11) % 8) * 2654435761 + 1013904223) * 40503 % 281474976710656),
  ${user}, ${project},
  CASE (h >> 19) % 3 WHEN 0 THEN 'prod' WHEN 1 THEN 'prod,batch' ELSE NULL END,
  model, model, provider,
  CASE WHEN failed THEN (CASE (h >> 3) % 2 WHEN 0 THEN 502 ELSE 429 END) ELSE 200 END,
  CASE WHEN failed THEN (CASE (h >> 3) % 2 WHEN 0 THEN 'upstream_5xx' ELSE 'upstream_rate_limited' END) ELSE NULL END,
  CASE WHEN failed THEN 0 ELSE in_tok END,
  CASE WHEN failed THEN 0 ELSE cached_tok END,
  CASE WHEN failed THEN 0 ELSE out_tok END,
  CASE WHEN failed THEN 0 WHEN pin IS NULL THEN NULL ELSE in_tok * pin / 1e6 END,
  CASE WHEN failed THEN 0 WHEN pin IS NULL THEN NULL ELSE cached_tok * pin * 0.1 / 1e6 END,
  CASE WHEN failed OR pin IS NOT NULL THEN 0 ELSE NULL END,
  CASE WHEN failed THEN 0 WHEN pout IS NULL THEN NULL ELSE out_tok * pout / 1e6 END,
  CASE WHEN failed OR pin IS NOT NULL THEN 0 ELSE NULL END,
  CASE WHEN failed THEN 0 WHEN pin IS NULL THEN NULL ELSE (in_tok * pin + cached_tok * pin * 0.1 + out_tok * pout) / 1e6 END,
  base_latency + (h >> 8) % 900 + CASE WHEN (h >> 13) % 20 = 0 THEN 4000 + (h >> 2) % 6000 ELSE 0 END,
  CASE WHEN streamed THEN base_latency / 3 + (h >> 6) % 200 ELSE NULL END,
  streamed, 0, CASE WHEN failed THEN 2 ELSE 0 END, 0, 'seed'
FROM g;
COMMIT;
`;
}

/** Runs `sql` with the sqlite3 CLI on `dbPath`. */
export async function sqlite(dbPath, sql) {
  const child = execFile('sqlite3', ['-bail', dbPath], { maxBuffer: 64 << 20 });
  child.child.stdin.end(sql);
  const { stdout } = await child;
  return stdout;
}

/** Runs the tollgate CLI; resolves with stdout, rejects with stderr on failure. */
export async function tollgate(bin, args) {
  const { stdout } = await execFile(bin, args, { maxBuffer: 64 << 20 });
  return stdout;
}

/** `tollgate report --format json` over [from, to]. */
export async function report(bin, dbPath, { by = 'day', from, to }) {
  return JSON.parse(await tollgate(bin, ['report', '--db', dbPath, '--by', by, '--from', from, '--to', to, '--format', 'json']));
}

/** The UTC day of `ms` as YYYY-MM-DD. */
export const isoDay = (ms) => new Date(ms).toISOString().slice(0, 10);
