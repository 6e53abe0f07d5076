// Times every dashboard view on a million-row ledger.
//
//   node tests/browser/big_ledger.mjs [--rows N] [--runs N] [--json FILE] [--no-browser] [--db FILE]
//
// Seeds N rows (default 1,000,000) over 30 days with one SQLite INSERT (see
// lib/ledger.mjs), starts `tollgate serve` on it, and measures each /api view
// (wall time of the HTTP GET, `runs` times; the median and the worst are
// reported), then the whole page in headless Chromium (navigation until every
// panel has loaded, after one untimed navigation). Exits 1 if any view's worst
// time is 1 s or more; CSV downloads are timed but not held to that.
// Used by bench/dashboard_1m.sh and by big_ledger.test.mjs.

import path from 'node:path';
import { existsSync, writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

import { TOLLGATE_BIN, getJson, launch, openDashboard, requireTools, startServe, tempDir } from './lib/harness.mjs';
import { DAY_MS, isoDay, seedSql, sqlite, tollgate } from './lib/ledger.mjs';

export const LIMIT_MS = 1000;

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)];
}

async function timeGet(base, p) {
  const t0 = performance.now();
  const res = await fetch(base + p);
  const body = await res.arrayBuffer();
  const ms = performance.now() - t0;
  if (res.status !== 200) throw new Error(`${p}: HTTP ${res.status}: ${Buffer.from(body).toString()}`);
  return { ms, bytes: body.byteLength };
}

/** Seeds (unless `db` exists), serves and measures. Returns the results. */
export async function measure({ rows = 1_000_000, runs = 5, browser = true, db = '' } = {}) {
  requireTools();
  let seedMs = null;
  if (!db) db = path.join(tempDir('tollgate-1m-'), 'ledger.db');
  if (!existsSync(db)) {
    await tollgate(TOLLGATE_BIN, ['budgets', 'set', '--db', db, '--name', 'daily-global', '--scope', 'global', '--window', 'daily', '--limit-usd', '500']);
    const t0 = performance.now();
    await sqlite(db, seedSql({ rows, days: 30 }));
    seedMs = performance.now() - t0;
  }
  const count = Number(await sqlite(db, 'SELECT COUNT(*) FROM requests'));
  const to = isoDay(Date.now());
  const from = isoDay(Date.now() - 29 * DAY_MS);
  const q = `from=${from}&to=${to}`;
  // The dashboard reads the whole ledger once, from start-up on; the first
  // view waits for that.
  const t0 = performance.now();
  const server = await startServe({ dbPath: db });
  await timeGet(server.base, `/api/summary?${q}`);
  const coldMs = performance.now() - t0;
  const views = [
    ['summary', `/api/summary?${q}`],
    ['daily', `/api/daily?${q}`],
    ['breakdown by key', `/api/breakdown?by=key&limit=50&${q}`],
    ['breakdown by user', `/api/breakdown?by=user&limit=50&${q}`],
    ['breakdown by project', `/api/breakdown?by=project&limit=50&${q}`],
    ['breakdown by model', `/api/breakdown?by=model&limit=50&${q}`],
    ['breakdown by provider', `/api/breakdown?by=provider&limit=50&${q}`],
    ['budgets', '/api/budgets'],
    ['top', `/api/top?limit=15&${q}`],
    ['request', null], // filled in below with the top request's id
    ['recent', '/api/recent?limit=25'],
    ['latency', `/api/latency?${q}`],
  ];
  // Downloads, not views: timed for the record, not held to the 1 s limit.
  const downloads = [
    ['download: report CSV by day', `/api/export.csv?by=day&${q}`],
    ['download: requests CSV (first 100,000 rows)', `/api/export.csv?${q}`],
  ];
  const results = [];
  try {
    const top = await getJson(server.base, `/api/top?limit=1&${q}`);
    for (const [name, p0] of [...views, ...downloads]) {
      const p = p0 ?? `/api/request?id=${encodeURIComponent(top.rows[0].id)}`;
      const times = [];
      let bytes = 0;
      for (let i = 0; i < runs; ++i) {
        const r = await timeGet(server.base, p);
        times.push(r.ms);
        bytes = r.bytes;
      }
      results.push({ view: name, path: p, median_ms: median(times), max_ms: Math.max(...times), bytes, download: name.startsWith('download') });
    }
    if (browser) {
      const b = await launch();
      try {
        // One navigation first, so the browser's own start-up (profile, first
        // JS compile) is not counted as the dashboard's.
        await openDashboard(b.page, server.base, { from, to });
        const times = [];
        for (let i = 0; i < Math.max(1, Math.min(runs, 3)); ++i) times.push(await openDashboard(b.page, server.base, { from, to }));
        results.push({ view: 'whole page in Chromium', path: '/', median_ms: median(times), max_ms: Math.max(...times), bytes: null });
        if (b.errors.length) throw new Error(`console errors: ${b.errors.join('; ')}`);
      } finally {
        await b.close();
      }
    }
  } finally {
    await server.stop();
  }
  return { rows: count, seed_ms: seedMs, cold_start_ms: coldMs, runs, from, to, results };
}

/** The views (not downloads) whose worst time reached the limit. */
export function overLimit(m) {
  return m.results.filter((r) => !r.download && r.max_ms >= LIMIT_MS);
}

export function markdown(m) {
  const lines = [
    `Ledger: ${m.rows.toLocaleString('en-US')} rows over 30 days${m.seed_ms ? ` (seeded in ${(m.seed_ms / 1000).toFixed(1)} s)` : ''}; range ${m.from} to ${m.to} (every row); ${m.runs} runs per view.`,
    `Start-up to the first view (the in-memory rollup reads every row once): ${m.cold_start_ms.toFixed(0)} ms.`,
    '',
    '| view | median (ms) | worst (ms) | response bytes |',
    '|---|---:|---:|---:|',
    ...m.results.map((r) => `| ${r.view} | ${r.median_ms.toFixed(0)} | ${r.max_ms.toFixed(0)} | ${r.bytes === null ? '' : r.bytes.toLocaleString('en-US')} |`),
  ];
  return lines.join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const args = process.argv.slice(2);
  const opt = (name, def) => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : def;
  };
  const m = await measure({
    rows: Number(opt('--rows', 1_000_000)),
    runs: Number(opt('--runs', 5)),
    browser: !args.includes('--no-browser'),
    db: opt('--db', ''),
  });
  console.log(markdown(m));
  const json = opt('--json', '');
  if (json) writeFileSync(json, JSON.stringify(m, null, 2) + '\n');
  const slow = overLimit(m);
  if (slow.length) {
    console.error(`over ${LIMIT_MS} ms: ${slow.map((r) => `${r.view} (${r.max_ms.toFixed(0)} ms)`).join(', ')}`);
    process.exit(1);
  }
}
