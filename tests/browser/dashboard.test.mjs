// The dashboard in a real browser (Debian's headless Chromium via
// playwright-core): it loads with no console errors, its charts render from a
// seeded ledger, the figures it shows equal `tollgate report` for the same
// range, budgets, the top-requests detail, the live feed and CSV export work,
// and it behaves with an empty ledger and behind the master key.
// Screenshots go to <repo>/artifacts/; with UPDATE_DOCS_SCREENSHOT=1 the
// seeded view is also written to docs/dashboard.png for the README.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, readFileSync } from 'node:fs';
import path from 'node:path';

import {
  REPO_ROOT,
  TOLLGATE_BIN,
  artifactPath,
  chat,
  expectedInt,
  expectedUsd,
  getJson,
  launch,
  openDashboard,
  requireTools,
  sleep,
  startServe,
  tempDir,
} from './lib/harness.mjs';
import { DAY_MS, isoDay, report, seedSql, sqlite, tollgate } from './lib/ledger.mjs';

const MASTER = 'mk-dashboard-test-0123456789';
const SEED_ROWS = 20000;
const LIVE_REQUESTS = 5;

const today = isoDay(Date.now());
const range30 = { from: isoDay(Date.now() - 29 * DAY_MS), to: today };

let db;
let server;
let browser;

// Seeds 35 days (so the default 30-day range leaves some out), three budgets
// with spend in their current windows, then starts the server and sends live
// requests through the sim provider.
before(async () => {
  requireTools();
  const dir = tempDir();
  db = path.join(dir, 'ledger.db');
  await tollgate(TOLLGATE_BIN, ['budgets', 'set', '--db', db, '--name', 'daily-global', '--scope', 'global', '--window', 'daily', '--limit-usd', '60', '--soft-limit-usd', '45']);
  await tollgate(TOLLGATE_BIN, ['budgets', 'set', '--db', db, '--name', 'support-bot-monthly', '--scope', 'project', '--subject', 'support-bot', '--window', 'monthly', '--limit-usd', '400']);
  await tollgate(TOLLGATE_BIN, ['budgets', 'set', '--db', db, '--name', 'alice-weekly', '--scope', 'user', '--subject', 'alice', '--window', 'weekly', '--soft-limit-usd', '25']);
  await sqlite(db, seedSql({ rows: SEED_ROWS, days: 35 }));
  // The spend counters of each budget's current window (UTC), as the ledger
  // writer would have left them.
  const now = new Date();
  const dayStart = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
  const monthStart = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1);
  const weekStart = dayStart - ((now.getUTCDay() + 6) % 7) * DAY_MS;
  await sqlite(db, `
    INSERT INTO budget_spend SELECT b.id, ${dayStart}, COALESCE(SUM(r.cost_usd), 0), COUNT(r.id) FROM budgets b
      LEFT JOIN requests r ON r.ts_start_ms >= ${dayStart} WHERE b.name = 'daily-global' GROUP BY b.id;
    INSERT INTO budget_spend SELECT b.id, ${monthStart}, COALESCE(SUM(r.cost_usd), 0), COUNT(r.id) FROM budgets b
      LEFT JOIN requests r ON r.ts_start_ms >= ${monthStart} AND r.project = 'support-bot' WHERE b.name = 'support-bot-monthly' GROUP BY b.id;
    INSERT INTO budget_spend SELECT b.id, ${weekStart}, COALESCE(SUM(r.cost_usd), 0), COUNT(r.id) FROM budgets b
      LEFT JOIN requests r ON r.ts_start_ms >= ${weekStart} AND r.user = 'alice' WHERE b.name = 'alice-weekly' GROUP BY b.id;`);
  server = await startServe({ dbPath: db, masterKey: MASTER });
  for (let i = 0; i < LIVE_REQUESTS; ++i) await chat(server.base);
  await waitForRows(server.base, SEED_ROWS + LIVE_REQUESTS);
  browser = await launch({ httpCredentials: { username: 'admin', password: MASTER } });
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

// Until the ledger writer has flushed `n` rows.
async function waitForRows(base, n) {
  for (let i = 0; i < 200; ++i) {
    const r = await getJson(base, `/api/summary?from=${isoDay(Date.now() - 40 * DAY_MS)}&to=${today}`, MASTER);
    if (r.totals.requests >= n) return;
    await sleep(50);
  }
  throw new Error(`ledger never reached ${n} rows`);
}

const text = (page, sel) => page.locator(sel).innerText();

// The dashboard sums per day in memory while the report sums in SQL, so two
// sums of the same doubles may differ in their last bits; what is shown is
// the same.
function sameUsd(actual, expected, what) {
  assert.ok(Math.abs(actual - expected) <= 1e-9 * Math.max(1, Math.abs(expected)), `${what}: ${actual} vs report ${expected}`);
}

test('the dashboard is behind the master key', async () => {
  const res = await fetch(`${server.base}/`);
  assert.equal(res.status, 401);
  assert.match(res.headers.get('www-authenticate') ?? '', /^Basic realm="tollgate dashboard"/);
  const api = await fetch(`${server.base}/api/summary`, { headers: { authorization: 'Bearer wrong' } });
  assert.equal(api.status, 401);
  const basic = await fetch(`${server.base}/api/summary`, {
    headers: { authorization: 'Basic ' + Buffer.from(`anyone:${MASTER}`).toString('base64') },
  });
  assert.equal(basic.status, 200);
  // The gateway's own routes are not the dashboard's business.
  assert.equal((await fetch(`${server.base}/healthz`)).status, 200);
});

test('loads with no console errors and shows the totals of `tollgate report`', async () => {
  const { page, errors } = browser;
  const loadMs = await openDashboard(page, server.base, range30);
  const rep = await report(TOLLGATE_BIN, db, { by: 'day', ...range30 });
  assert.ok(rep.totals.requests > SEED_ROWS * 0.8, 'the seeded range holds most rows');

  sameUsd(Number(await page.getAttribute('#total-spend', 'data-value')), rep.totals.cost_usd, 'spend');
  assert.equal(await text(page, '#total-spend'), expectedUsd(rep.totals.cost_usd));
  assert.equal(Number(await page.getAttribute('#total-tokens', 'data-value')), rep.totals.tokens);
  assert.equal(await text(page, '#total-tokens'), expectedInt(rep.totals.tokens));
  assert.equal(Number(await page.getAttribute('#total-requests', 'data-value')), rep.totals.requests);
  assert.equal(await text(page, '#total-requests'), expectedInt(rep.totals.requests));
  assert.match(await text(page, '#total-requests-sub'), new RegExp(`^${expectedInt(rep.totals.errors)} errors`));
  assert.match(await text(page, '#total-spend-sub'), new RegExp(`${rep.totals.unknown_cost_requests} requests with no known price`));

  // This config has no cache and no savings levers: the panels say so.
  assert.equal(await text(page, '#cache-rate'), 'n/a');
  assert.match(await text(page, '#cache-sub'), /^0 hits/);
  assert.match(await text(page, '#savings-sub'), /^no savings levers configured/);

  await page.screenshot({ path: artifactPath('dashboard-seeded.png'), fullPage: true });
  if (process.env.UPDATE_DOCS_SCREENSHOT === '1') {
    await page.screenshot({ path: artifactPath('dashboard-readme.png'), fullPage: true });
    copyFileSync(artifactPath('dashboard-readme.png'), path.join(REPO_ROOT, 'docs', 'dashboard.png'));
  }
  assert.deepEqual(errors, []);
  assert.ok(loadMs < 5000, `page loaded in ${loadMs} ms`);
});

test('the daily chart renders stacked bars that add up to the report by day', async () => {
  const { page } = browser;
  await openDashboard(page, server.base, range30);
  const chart = await page.evaluate(() => {
    const c = window.tollgateDashboard.chart();
    return {
      labels: c.data.labels,
      series: c.data.datasets.map((d) => ({ label: d.label, data: d.data, stack: d.stack })),
      drawn: c.data.datasets.map((_, i) => c.getDatasetMeta(i).data.filter((b) => Math.abs(b.base - b.y) >= 1).length),
      stacked: c.options.scales.x.stacked && c.options.scales.y.stacked,
    };
  });
  assert.equal(chart.labels.length, 30);
  assert.ok(chart.stacked);
  assert.ok(chart.series.length >= 5, `one series per model (${chart.series.map((s) => s.label)})`);
  assert.ok(chart.drawn.reduce((a, b) => a + b, 0) >= 30 * 4, `bars drawn: ${chart.drawn}`);
  const rep = await report(TOLLGATE_BIN, db, { by: 'day', ...range30 });
  const byDay = new Map(rep.rows.map((r) => [r.group.slice(5), r.cost_usd]));
  chart.labels.forEach((label, i) => {
    const sum = chart.series.reduce((a, s) => a + s.data[i], 0);
    const want = byDay.get(label) ?? 0;
    assert.ok(Math.abs(sum - want) <= 1e-9 * Math.max(1, want), `day ${label}: chart ${sum}, report ${want}`);
  });
  // The canvas really has ink on it (not only a configured chart object).
  const inked = await page.evaluate(() => {
    const c = document.getElementById('daily-chart');
    const ctx = c.getContext('2d');
    const { data } = ctx.getImageData(0, 0, c.width, c.height);
    let n = 0;
    for (let i = 3; i < data.length; i += 4) if (data[i] > 0) ++n;
    return n / (c.width * c.height);
  });
  assert.ok(inked > 0.05, `canvas coverage ${inked}`);
  await page.locator('#daily-chart').screenshot({ path: artifactPath('dashboard-daily-chart.png') });
});

test('breakdowns by key, user, project, model and provider equal the report', async () => {
  const { page, errors } = browser;
  await openDashboard(page, server.base, range30);
  for (const by of ['key', 'user', 'project', 'model', 'provider']) {
    await page.click(`#breakdown-tabs button[data-by="${by}"]`);
    await page.waitForSelector(`#breakdown-tabs button[data-by="${by}"][aria-selected="true"]`);
    const rep = await report(TOLLGATE_BIN, db, { by, ...range30 });
    const rows = await page.$$eval('#breakdown tbody tr[data-group]', (trs) =>
      trs.map((tr) => ({ group: tr.dataset.group, cost: Number(tr.dataset.cost), cells: [...tr.cells].map((c) => c.innerText) })),
    );
    assert.equal(rows.length, Math.min(50, rep.rows.length), `${by}: row count`);
    // The report's order (most expensive first); groups whose sums differ
    // only in their last bits may swap, so values are matched by name.
    rows.forEach((r, i) => {
      if (i > 0) assert.ok(rows[i - 1].cost >= r.cost, `${by}: sorted by spend`);
      const want = rep.rows.find((x) => x.group === r.group);
      assert.ok(want, `${by}: ${r.group} is in the report`);
      assert.ok(Math.abs(rep.rows.indexOf(want) - i) <= 1, `${by}: ${r.group} at the report's rank`);
      sameUsd(r.cost, want.cost_usd, `${by} ${r.group} cost`);
      assert.equal(r.cells[1], expectedInt(want.requests), `${by} ${r.group} requests`);
      assert.equal(r.cells[2], expectedInt(want.tokens), `${by} ${r.group} tokens`);
      assert.equal(r.cells[4], expectedUsd(want.cost_usd), `${by} ${r.group} spend`);
    });
  }
  assert.deepEqual(errors, []);
});

test('the range picker reloads every panel for the chosen range', async () => {
  const { page } = browser;
  await openDashboard(page, server.base, range30);
  await page.click('.presets button[data-days="7"]');
  await page.waitForFunction(() => location.hash.includes('from=') && document.body.dataset.ready === 'true');
  const r7 = { from: isoDay(Date.now() - 6 * DAY_MS), to: today };
  assert.equal(new URL(page.url()).hash, `#from=${r7.from}&to=${r7.to}`);
  await page.waitForFunction((n) => document.querySelector('#daily-chart').dataset.bars && window.tollgateDashboard.chart().data.labels.length === n, 7);
  const rep = await report(TOLLGATE_BIN, db, { by: 'day', ...r7 });
  sameUsd(Number(await page.getAttribute('#total-spend', 'data-value')), rep.totals.cost_usd, '7-day spend');
  assert.equal(await text(page, '#total-spend'), expectedUsd(rep.totals.cost_usd));
  assert.equal(Number(await page.getAttribute('#total-requests', 'data-value')), rep.totals.requests);

  // A custom range typed into the date inputs.
  const custom = { from: isoDay(Date.now() - 20 * DAY_MS), to: isoDay(Date.now() - 10 * DAY_MS) };
  await page.fill('#from', custom.from);
  await page.fill('#to', custom.to);
  await page.click('#range button[type="submit"]');
  await page.waitForFunction((h) => location.hash === h && document.body.dataset.ready === 'true', `#from=${custom.from}&to=${custom.to}`);
  const repc = await report(TOLLGATE_BIN, db, { by: 'day', ...custom });
  sameUsd(Number(await page.getAttribute('#total-spend', 'data-value')), repc.totals.cost_usd, 'custom-range spend');
  assert.equal(await text(page, '#total-spend'), expectedUsd(repc.totals.cost_usd));
  assert.equal(Number(await page.getAttribute('#total-tokens', 'data-value')), repc.totals.tokens);
});

test('budgets show as progress bars with their reset times', async () => {
  const { page } = browser;
  await openDashboard(page, server.base, range30);
  const api = await getJson(server.base, '/api/budgets', MASTER);
  const budgets = await page.$$eval('#budgets li.budget', (lis) =>
    lis.map((li) => ({
      name: li.dataset.budget,
      now: Number(li.querySelector('[role="progressbar"]').getAttribute('aria-valuenow')),
      width: li.querySelector('.bar-fill').getBoundingClientRect().width,
      foot: li.querySelector('.budget-foot').innerText,
    })),
  );
  assert.deepEqual(budgets.map((b) => b.name).sort(), ['alice-weekly', 'daily-global', 'support-bot-monthly']);
  for (const b of budgets) {
    const a = api.data.find((x) => x.name === b.name);
    assert.ok(a.spent_usd > 0, `${b.name} has spend`);
    assert.ok(b.width > 0, `${b.name} bar is drawn`);
    assert.match(b.foot, new RegExp(`^\\${expectedUsd(a.spent_usd)} spent`));
    assert.match(b.foot, /resets in \d+ (h|days) \(\d{4}-\d{2}-\d{2}T/);
  }
  // The live requests were charged to the global budget on top of the seed.
  const global = api.data.find((x) => x.name === 'daily-global');
  const seeded = Number(await sqlite(db, `SELECT spent_usd FROM budget_spend s JOIN budgets b ON b.id = s.budget_id WHERE b.name = 'daily-global'`));
  assert.ok(global.spent_usd >= seeded - 1e-9, `counters (${global.spent_usd}) include the seeded window (${seeded})`);
  await page.locator('#budgets').screenshot({ path: artifactPath('dashboard-budgets.png') });
});

test('the most expensive requests open to their full ledger row', async () => {
  const { page, errors } = browser;
  await openDashboard(page, server.base, range30);
  const from = Date.parse(range30.from);
  const max = (await sqlite(db, `SELECT id, cost_usd FROM requests WHERE ts_start_ms >= ${from} AND cost_usd IS NOT NULL ORDER BY cost_usd DESC, ts_start_ms DESC LIMIT 1`)).trim().split('|');
  const first = page.locator('#top tbody tr').first();
  assert.equal(await first.getAttribute('data-id'), max[0]);
  await first.click();
  await page.waitForSelector('#request-dialog[open]');
  await page.waitForSelector(`#request-row tr[data-column="id"] td:text-is("${max[0]}")`);
  const columns = await page.$$eval('#request-row tr', (trs) => trs.map((tr) => tr.dataset.column));
  const schema = (await sqlite(db, `SELECT name FROM pragma_table_info('requests')`)).trim().split('\n');
  assert.deepEqual(columns, schema, 'every ledger column is shown');
  assert.equal(await text(page, '#request-row tr[data-column="cost_usd"] td'), String(Number(max[1])));
  await page.screenshot({ path: artifactPath('dashboard-request-detail.png') });
  await page.click('#request-close');
  await page.waitForSelector('#request-dialog', { state: 'hidden' });
  assert.deepEqual(errors, []);
});

test('latency percentiles per provider', async () => {
  const { page } = browser;
  await openDashboard(page, server.base, range30);
  const providers = await page.$$eval('#latency tbody tr[data-provider]', (trs) => trs.map((tr) => tr.dataset.provider));
  const from = Date.parse(range30.from);
  const want = (await sqlite(db, `SELECT DISTINCT provider FROM requests WHERE ts_start_ms >= ${from} AND error_class IS NULL ORDER BY 1`)).trim().split('\n');
  assert.deepEqual(providers, want);
  // Exact nearest-rank p95 of one provider, computed by SQLite.
  const n = Number(await sqlite(db, `SELECT COUNT(*) FROM requests WHERE provider = 'openai' AND ts_start_ms >= ${from} AND error_class IS NULL`));
  const p95 = Number(await sqlite(db, `SELECT latency_ms FROM requests WHERE provider = 'openai' AND ts_start_ms >= ${from} AND error_class IS NULL ORDER BY latency_ms LIMIT 1 OFFSET ${Math.ceil(0.95 * n) - 1}`));
  const api = await getJson(server.base, `/api/latency?from=${range30.from}&to=${range30.to}`, MASTER);
  // Histogram buckets are 1% wide: within 0.5% (of ms + 1).
  const got = api.providers.find((p) => p.provider === 'openai').p95_ms;
  assert.ok(Math.abs(got - p95) <= 0.005 * (p95 + 1), `p95 ${got} vs exact ${p95}`);
});

test('the Advise view shows the fleet, its cost against the API bill and the break-even chart', async () => {
  const { page, errors } = browser;
  await openDashboard(page, server.base, range30);
  await page.click('#advise-run');
  await page.waitForSelector('body[data-advised="true"]', { timeout: 60000 });
  const api = await getJson(server.base, `/api/advise?from=${range30.from}&to=${range30.to}`, MASTER);
  assert.ok(api.models.length > 0, 'the seeded ledger has generations');
  // One row per traffic group and open model that fits: its cheapest GPU.
  const want = [];
  for (const m of api.models) {
    const seen = new Set();
    for (const c of m.candidates) {
      if (!c.fits || seen.has(c.model)) continue;
      seen.add(c.model);
      want.push([m.model, c.model, c.gpu]);
    }
  }
  const rows = await page.$$eval('#advise-fleets tbody tr', (trs) => trs.map((tr) => [tr.dataset.model, tr.dataset.candidate, tr.dataset.gpu]));
  assert.deepEqual(rows, want);
  // The API bill of the first group, in whole dollars, on its rows.
  const bill = '$' + Math.round(api.models[0].api_usd_per_month).toLocaleString('en-US');
  assert.equal(await page.locator('#advise-fleets tbody tr').first().locator('td').nth(7).textContent(), bill);
  const recs = await page.$$eval('#advise-recommendations li', (lis) => lis.map((li) => li.textContent));
  assert.deepEqual(recs, api.models.flatMap((m) => m.recommendations));
  // The chart: the API's line, a low and a high line per fleet shown, and today's volume.
  const series = Number(await page.getAttribute('#advise-chart', 'data-series'));
  const fleets = Math.min(4, want.filter(([m]) => m === api.models[0].model).length);
  assert.equal(series, 2 + 2 * fleets);
  assert.ok(await page.evaluate(() => window.tollgateDashboard.adviseChart() !== null));
  assert.ok((await page.$$eval('#advise-assumptions li', (lis) => lis.length)) > 3);
  await page.screenshot({ path: artifactPath('dashboard-advise.png'), fullPage: true });
  assert.deepEqual(errors, []);
});

test('the live feed shows new requests as they finish', async () => {
  const { page } = browser;
  await openDashboard(page, server.base, range30);
  await page.waitForSelector('#live tbody tr[data-id]');
  const id = await chat(server.base, { project: 'feed-check' });
  await page.waitForSelector(`#live tbody tr[data-id="${id}"]`, { timeout: 10000 });
  assert.equal(await page.locator('#live tbody tr').first().getAttribute('data-id'), id);
});

test('CSV export downloads the range', async () => {
  const { page, errors } = browser;
  await openDashboard(page, server.base, range30);
  const rep = await report(TOLLGATE_BIN, db, { by: 'day', ...range30 });

  const [rows] = await Promise.all([page.waitForEvent('download'), page.click('#export-requests')]);
  assert.equal(rows.suggestedFilename(), `tollgate-requests-${range30.from}-to-${range30.to}.csv`);
  const csv = readFileSync(await rows.path(), 'utf8').trimEnd().split('\n');
  assert.match(csv[0], /^id,ts_start_ms,ts_end_ms,endpoint,/);
  assert.equal(csv.length - 1, rep.totals.requests);

  const [daily] = await Promise.all([page.waitForEvent('download'), page.click('#export-report')]);
  const want = await tollgate(TOLLGATE_BIN, ['report', '--db', db, '--by', 'day', '--from', range30.from, '--to', range30.to, '--format', 'csv']);
  assert.equal(readFileSync(await daily.path(), 'utf8'), want);
  assert.deepEqual(errors, []);
});

test('an empty ledger renders every panel with no errors', async () => {
  const dir = tempDir();
  const emptyDb = path.join(dir, 'empty.db');
  const s = await startServe({ dbPath: emptyDb }); // no master key: the dashboard is open
  const b = await launch();
  try {
    await openDashboard(b.page, s.base);
    assert.equal(await text(b.page, '#total-spend'), '$0.00');
    assert.equal(await text(b.page, '#total-tokens'), '0');
    assert.equal(await text(b.page, '#total-requests'), '0');
    assert.equal(await text(b.page, '#cache-rate'), 'n/a');
    assert.ok(await b.page.isVisible('#daily-empty'));
    assert.equal(await b.page.getAttribute('#daily-chart', 'data-bars'), '0');
    assert.match(await text(b.page, '#budgets'), /No budgets configured/);
    assert.match(await text(b.page, '#top tbody'), /No priced requests/);
    assert.match(await text(b.page, '#latency tbody'), /No successful requests/);
    await b.page.waitForSelector('#live tbody td.empty');
    await b.page.screenshot({ path: artifactPath('dashboard-empty.png'), fullPage: true });
    assert.deepEqual(b.errors, []);
  } finally {
    await b.close();
    await s.stop();
  }
});

test('with auth enabled the dashboard needs the master key, and is closed without one', async () => {
  const dir = tempDir();
  const s = await startServe({ dbPath: path.join(dir, 'auth.db'), masterKey: MASTER, authEnabled: true });
  try {
    assert.equal((await fetch(`${s.base}/api/summary`)).status, 401);
    assert.equal((await fetch(`${s.base}/`, { headers: { authorization: `Bearer ${MASTER}` } })).status, 200);
  } finally {
    await s.stop();
  }
  const s2 = await startServe({ dbPath: path.join(dir, 'nokey.db'), authEnabled: true });
  try {
    const res = await fetch(`${s2.base}/`);
    assert.equal(res.status, 403);
    assert.match((await res.json()).error.message, /auth\.master_key/);
  } finally {
    await s2.stop();
  }
});
