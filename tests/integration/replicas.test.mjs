// Issue 13: many replicas on PostgreSQL and Redis, one set of budgets, nothing
// lost. Real servers on loopback (lib/cluster.mjs): one PostgreSQL, one Redis,
// three tollgate replicas sharing a database behind nginx (round-robin), in
// front of the fake OpenAI upstream.
//
//   cluster A: ledger in PostgreSQL, in-process counters (today's binary):
//              keys created / revoked on one replica reach the others, one
//              ledger row per request, and no row lost when PostgreSQL is
//              killed mid-run (spool, replayed exactly once).
//   cluster B: + counters in Redis, fail_closed: one $1 budget and one rpm
//              limit across the three replicas, 503 counters_unavailable
//              while Redis is down.
//   cluster C: + counters in Redis, fail_open with replicas: 3: each replica
//              admits against a 1/3 share while Redis is down, and the
//              counters agree with the ledger once it is back.
//   cluster D: + counters in Redis, reservation_ttl_ms 3 s: a replica
//              SIGKILLed with requests in flight; nginx answers them 502 and
//              their reservations expire.
//
// Redis is checked directly as well as through `tollgate reconcile`: a key's
// budget hash (`tollgate:b:<budget id>:<window>`, src/governance/redis_counters.h)
// must hold the key's ledger spend and nothing reserved once requests end.
//
// Prices (lib/governance_helpers.mjs): gov-model costs $10 / 1M input tokens
// and $20 / 1M output tokens; the fake reports 500 + 250 tokens, so every
// request costs $0.005 + $0.005 = $0.01. The figures each test measures are
// printed as diagnostics (`# ...` lines of the TAP output).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startFakeOpenAI } from './lib/fake_openai.mjs';
import { stopAll, sleep, runTollgate, parseCostTrailer, closeTo } from './lib/harness.mjs';
import {
  IN_USD, OUT_USD, createKeyAdmin, admin, chat, govBody, bodyBytes, worstCase, waitFor, assertApiError,
  avoidMinuteEdge,
} from './lib/governance_helpers.mjs';
import { missingServers, startPostgres, startRedis, startCluster, metric } from './lib/cluster.mjs';

const USAGE = { prompt_tokens: 500, completion_tokens: 250 };
const COST = USAGE.prompt_tokens * IN_USD + USAGE.completion_tokens * OUT_USD; // $0.01

const missing = missingServers();
const skip = missing.length ? `needs ${missing.join(', ')} (scripts/install-deps.sh installs them)` : false;

let fake;
let pg;
let redis;
const clusters = [];
before(async () => {
  if (skip) return;
  fake = await startFakeOpenAI();
  fake.set({ usage: USAGE });
  pg = await startPostgres();
  redis = await startRedis();
});
after(async () => {
  for (const c of clusters) await c.close().catch(() => {});
  await stopAll();
  await redis?.close();
  await pg?.close();
  await fake?.close();
});

// Each cluster is started by the first test that needs it; a cluster that
// failed to start fails every test that uses it, at once.
const started = new Map();
function cluster(name, opts) {
  if (!started.has(name)) {
    started.set(name, startCluster({ pg, fake, db: name, ...opts }).then((c) => { clusters.push(c); return c; }));
  }
  return started.get(name);
}
const clusterA = () => cluster('cluster_a', {});
const clusterB = () => cluster('cluster_b', { counters: { url: redis.url, policy: 'fail_closed' } });
const clusterC = () => cluster('cluster_c', { counters: { url: redis.url, policy: 'fail_open', replicas: 3 } });
const TTL_MS = 3000; // cluster D's counters.reservation_ttl_ms
const clusterD = () => cluster('cluster_d', { counters: { url: redis.url, reservation_ttl_ms: TTL_MS } });

/** A body whose size honestly bounds its 500 prompt tokens (a token is >= 1 byte), max_tokens 250. */
function promptBody(extra = {}) {
  return govBody({ messages: [{ role: 'user', content: 'lorem '.repeat(90) }], max_tokens: USAGE.completion_tokens, ...extra });
}

/** One chat request; the answer's status, request id, error code, replica (x-upstream) and cost. */
async function send(base, secret, body = promptBody()) {
  const r = await chat(base, secret, body);
  const trailer = body.stream ? parseCostTrailer(r.text) : null;
  return {
    status: r.status,
    id: r.headers.get('x-tollgate-request-id'),
    code: r.json?.error?.code ?? null,
    upstream: r.headers.get('x-upstream'),
    cost: trailer ? Number(trailer.cost) : Number(r.headers.get('x-tollgate-cost-usd') ?? NaN),
    res: r,
  };
}

const fire = (base, secret, n, body) => Promise.all(Array.from({ length: n }, () => send(base, secret, body)));
const ok2xx = (r) => r.status >= 200 && r.status < 300;

/** {value: count} of `key` over some answers (by default their status), for messages. */
function tally(results, key = (r) => r.status) {
  const t = {};
  for (const r of results) t[key(r)] = (t[key(r)] ?? 0) + 1;
  return t;
}

/**
 * Creates a key through `via`'s admin API (restricted to GOV_MODEL) and waits
 * until every replica knows it: a request for other-model is 403
 * model_not_allowed, not 401, and costs nothing.
 */
async function sharedKey(c, spec, via = c.replicas[0]) {
  const k = await createKeyAdmin(via.base, { models: ['gov-model'], ...spec });
  await Promise.all(c.replicas.map((r) => waitFor(async () => (await chat(r.base, k.secret, govBody({}, 'other-model'))).status === 403,
    5000, `key ${k.key.id} known on ${r.base}`)));
  return k;
}

/**
 * Every answer that carries a request id has exactly one ledger row, with its
 * status; waits up to timeoutMs for the rows to be written. Returns the rows
 * of those ids.
 */
async function assertOneRowEach(c, results, timeoutMs = 15000) {
  const ids = results.map((r) => r.id).filter(Boolean);
  assert.equal(ids.length, results.length, `every answer names its ledger row (x-tollgate-request-id): ${JSON.stringify(tally(results))}`);
  assert.equal(new Set(ids).size, ids.length, 'request ids are unique');
  const list = ids.map((id) => `'${id}'`).join(',');
  let rows = [];
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    rows = await c.rows(`id IN (${list})`);
    if (rows.length >= ids.length || Date.now() > deadline) break;
    await sleep(100);
  }
  const byId = new Map();
  for (const row of rows) byId.set(row.id, (byId.get(row.id) ?? []).concat(row));
  const missingIds = ids.filter((id) => !byId.has(id));
  assert.deepEqual(missingIds.slice(0, 10), [], `${missingIds.length} of ${ids.length} answered requests have no ledger row`);
  for (const r of results) {
    const mine = byId.get(r.id);
    assert.equal(mine.length, 1, `request ${r.id}: ${mine.length} rows`);
    assert.equal(Number(mine[0].status), r.status, `request ${r.id}: row status`);
  }
  return rows;
}

/**
 * `tollgate reconcile` over the cluster's config: the counters agree with the
 * ledger. First every replica must reach its counters and have no settlement
 * waiting for Redis (tollgate_counters_up 1, tollgate_counters_pending_updates
 * 0, where exported), and the rows must be written.
 */
async function assertReconciled(c, t) {
  await waitFor(async () => {
    const up = await Promise.all(c.replicas.map((r) => metric(r.base, 'tollgate_counters_up')));
    const pending = await Promise.all(c.replicas.map((r) => metric(r.base, 'tollgate_counters_pending_updates')));
    return up.every((v) => v === null || v === 1) && pending.every((v) => v === null || v === 0);
  }, 15000, 'every replica to reach its counters with no settlement pending');
  await sleep(200); // the last rows' flush (flush_interval_ms 20)
  const r = await runTollgate(['reconcile', '--config', c.configPath], { timeoutMs: 30000 });
  t.diagnostic(`reconcile: ${r.stdout.trim().split('\n').slice(-1)[0]}`);
  assert.equal(r.code, 0, `reconcile disagrees:\n${r.stdout}\n${r.stderr}`);
  assert.match(r.stdout, / 0 mismatched/, r.stdout);
  assert.doesNotMatch(r.stdout, /MISMATCH/, r.stdout);
  return r.stdout;
}

/**
 * The Redis counters of a key's budget ("key:<id>", created with the key):
 * {spent, reserved, expired (reservations)} summed over its windows' hashes, `<prefix>b:<budget id>:<window>`
 * (src/governance/redis_counters.h; prefix counters.key_prefix, "tollgate:").
 */
async function redisBudget(c, keyId) {
  const live = c.replicas.find((r) => r.proc.exitCode === null && r.proc.signalCode === null);
  const budgets = (await admin(live.base, 'GET', '/admin/budgets')).json.data;
  const b = budgets.find((x) => x.name === `key:${keyId}`);
  assert.ok(b, `the key's budget in ${JSON.stringify(budgets.map((x) => x.name))}`);
  const keys = (await redis.cli('--scan', '--pattern', `tollgate:b:${b.id}:*`)).split('\n').filter(Boolean);
  let spent = 0;
  let reserved = 0;
  let expired = 0;
  for (const key of keys) {
    const [sp, rs, ex] = (await redis.cli('HMGET', key, 'spent', 'reserved', 'expired')).split('\n');
    spent += Number(sp || 0);
    reserved += Number(rs || 0);
    expired += Number(ex || 0);
  }
  return { spent, reserved, expired, keys: keys.length };
}

/** The key's budget spend in Redis equals its ledger spend, and nothing is left reserved. */
async function assertRedisAgrees(c, keyId, t) {
  const ledgerUsd = (await keySpend(c, keyId)).usd;
  const r = await redisBudget(c, keyId);
  t.diagnostic(`Redis: spent $${r.spent.toFixed(6)}, reserved $${r.reserved.toFixed(6)} (${r.keys} window); ledger $${ledgerUsd.toFixed(6)}`);
  assert.ok(r.keys >= 1, 'the budget has a window in Redis');
  assert.ok(Math.abs(r.spent - ledgerUsd) < 1e-6, `Redis spent ${r.spent} = ledger ${ledgerUsd}`);
  assert.ok(Math.abs(r.reserved) < 1e-6, `nothing reserved once every request ended: ${r.reserved}`);
}

/** Sum of cost_usd over a key's rows. */
async function keySpend(c, keyId) {
  const [s] = await pg.json(c.pgUrl, `SELECT coalesce(sum(cost_usd), 0) AS usd, count(*) AS n FROM requests WHERE key_id = '${keyId}'`);
  return { usd: Number(s.usd), n: Number(s.n) };
}

// ---------------------------------------------------------------------------
// Cluster A: PostgreSQL only.

test('shared state in PostgreSQL: a key created on one replica works on all, a revoked key is refused everywhere, one ledger row per request', { skip }, async (t) => {
  const c = await clusterA();
  fake.reset().set({ usage: USAGE });

  // Created through replica 0: replica 0 reloads at once, the others on their
  // next reload (governance.reload_interval_ms, 250 by default).
  const t0 = Date.now();
  const k = await createKeyAdmin(c.replicas[0].base, { name: 'shared' });
  const seen = await Promise.all(c.replicas.map(async (r) => {
    await waitFor(async () => (await chat(r.base, k.secret, promptBody())).status === 200, 5000, `the new key on ${r.base}`);
    return Date.now() - t0;
  }));
  t.diagnostic(`new key usable on the 3 replicas after ${seen.join(', ')} ms (reload_interval_ms 250)`);
  assert.ok(Math.max(...seen) <= 1000, `the key reached every replica within a second: ${seen} ms`);

  // Through nginx: round-robin over the three; one row each, in the shared database.
  const results = await fire(c.lb.base, k.secret, 30);
  assert.deepEqual(tally(results), { 200: 30 });
  const spread = tally(results, (r) => r.upstream);
  t.diagnostic(`30 requests through nginx served by ${JSON.stringify(spread)}`);
  assert.equal(Object.keys(spread).length, 3, `every replica served some: ${JSON.stringify(spread)}`);
  const rows = await assertOneRowEach(c, results);
  for (const row of rows) {
    assert.equal(row.key_id, k.key.id);
    closeTo(row.cost_usd, COST, 'row cost_usd');
  }

  // `tollgate report` reads the same database.
  const rep = await runTollgate(['report', '--db', c.pgUrl, '--by', 'key', '--format', 'json'], { timeoutMs: 30000 });
  assert.equal(rep.code, 0, rep.stderr);
  assert.match(rep.stdout, new RegExp(k.key.id), `report --by key names the key: ${rep.stdout}`);

  // Revoked through replica 1: refused on every replica within ~1.5 s.
  const t1 = Date.now();
  const rv = await admin(c.replicas[1].base, 'DELETE', `/admin/keys/${k.key.id}`);
  assert.equal(rv.status, 200, rv.text);
  const gone = await Promise.all(c.replicas.map(async (r) => {
    await waitFor(async () => (await chat(r.base, k.secret, promptBody())).status === 401, 5000, `the revoked key refused on ${r.base}`);
    return Date.now() - t1;
  }));
  t.diagnostic(`revoked key refused on the 3 replicas after ${gone.join(', ')} ms`);
  assert.ok(Math.max(...gone) <= 1000, `the revocation reached every replica within a second: ${gone} ms`);
  const afterRevoke = await fire(c.lb.base, k.secret, 6);
  for (const r of afterRevoke) assertApiError(r.res, 401, undefined, 'revoked key through nginx');
});

test('PostgreSQL killed mid-run: every answered request has exactly one ledger row once it is back', { skip }, async (t) => {
  const c = await clusterA();
  fake.reset().set({ usage: USAGE });
  const k = await sharedKey(c, { name: 'pg-kill' });

  // 10 s of load from 4 clients; PostgreSQL is killed (immediate shutdown:
  // every backend quits at once, as in a crash) at 3 s and back at 6 s.
  const results = [];
  const t0 = Date.now();
  const stopAt = t0 + 10000;
  const clients = Array.from({ length: 4 }, async () => {
    while (Date.now() < stopAt) {
      const r = await send(c.lb.base, k.secret);
      r.at = Date.now() - t0;
      results.push(r);
      await sleep(10); // a steady load, not a flood: the machine is shared
    }
  });
  const outage = (async () => {
    await sleep(3000);
    await pg.kill();
    const down = Date.now() - t0;
    // What needs the database fails cleanly (checked below, once it is back).
    const adminDown = await admin(c.replicas[0].base, 'POST', '/admin/keys', { name: 'while-down' });
    await sleep(Math.max(0, 5800 - (Date.now() - t0)));
    const held = await Promise.all(c.replicas.map((r) => metric(r.base, 'tollgate_ledger_spooled_rows')));
    await sleep(Math.max(0, 6000 - (Date.now() - t0)));
    await pg.start();
    return [down, Date.now() - t0, held, adminDown];
  })();
  await Promise.all(clients);
  const [downAt, upAt, spooledWhileDown, adminDown] = await outage;
  assert.equal(adminDown.status, 500, `POST /admin/keys with PostgreSQL down: ${adminDown.text}`);
  const during = results.filter((r) => r.at >= downAt && r.at <= upAt);

  // The spool (ledger.spool_path) drains to 0 once PostgreSQL is back.
  let spooled = [];
  await waitFor(async () => {
    spooled = await Promise.all(c.replicas.map((r) => metric(r.base, 'tollgate_ledger_spooled_rows')));
    return spooled.every((v) => v === null || v === 0);
  }, 20000, 'tollgate_ledger_spooled_rows to reach 0 on every replica');
  const failed = await Promise.all(c.replicas.map((r) => metric(r.base, 'tollgate_ledger_failed_rows_total')));
  t.diagnostic(`${results.length} requests in 10 s (${JSON.stringify(tally(results))}), ${during.length} while PostgreSQL was down ` +
    `(${downAt}-${upAt} ms, ${JSON.stringify(tally(during))}); spooled_rows ${spooledWhileDown.map((v) => v ?? 'n/a').join('/')} ` +
    `just before the restart, ${spooled.map((v) => v ?? 'n/a').join('/')} after; ` +
    `failed_rows ${failed.join('/')}`);
  const ledgerLines = c.replicas.flatMap((r) => r.stderr.split('\n').filter((l) => /ledger|spool/i.test(l)));
  if (ledgerLines.length) t.diagnostic(`${ledgerLines.length} ledger log lines on the replicas, the last: ${ledgerLines.at(-1)}`);
  const rows = await assertOneRowEach(c, results, 20000);
  t.diagnostic(`${rows.length} rows, each once`);
  assert.deepEqual(failed, [0, 0, 0], 'no replica dropped a row');
  // With the spool (a build that exports the metric), the rows of the outage
  // went through it, not only through the writer's retries.
  if (spooledWhileDown.some((v) => v !== null)) {
    assert.ok(spooledWhileDown.some((v) => v > 0), `rows waited in the spool during the outage: ${spooledWhileDown}`);
  }
  assert.ok(during.length > 0, 'requests were answered while PostgreSQL was down');
  assert.deepEqual(Object.keys(tally(results)), ['200'], `every request answered 200 (PostgreSQL is not on the request path): ${JSON.stringify(tally(results))}`);
  const [dup] = await pg.json(c.pgUrl, 'SELECT count(*) - count(DISTINCT id) AS n FROM requests');
  assert.equal(Number(dup.n), 0, 'no duplicate ids in the ledger');
});

// ---------------------------------------------------------------------------
// Cluster B: counters in Redis, fail_closed.

for (const stream of [false, true]) {
  test(`3 replicas, one $1 budget${stream ? ' (streamed)' : ''}: 300 concurrent requests through nginx never spend more than $1; one row per answer; reconcile agrees`, { skip }, async (t) => {
    const c = await clusterB();
    fake.reset().set({ usage: USAGE });
    const k = await sharedKey(c, { name: `budget-1usd${stream ? '-stream' : ''}`, budget: { limit_usd: 1.0, window: 'lifetime' } });
    const body = promptBody(stream ? { stream: true } : {});
    assert.ok(bodyBytes(body) >= USAGE.prompt_tokens, 'the fake must not report more prompt tokens than body bytes');
    const worst = worstCase(body);
    assert.ok(worst > COST && worst < 0.015, `reservation ${worst}`);

    const t0 = Date.now();
    const results = await fire(c.lb.base, k.secret, 300, body);
    const ms = Date.now() - t0;
    const ok = results.filter(ok2xx);
    const refused = results.filter((r) => r.status === 429);
    assert.equal(ok.length + refused.length, 300, `statuses: ${JSON.stringify(tally(results))}`);
    for (const r of refused) assert.equal(r.code, 'budget_exceeded', r.res.text);
    for (const r of ok) closeTo(r.cost, COST, 'answer cost');
    assert.ok(ok.length >= 1, 'some admitted');

    const rows = await assertOneRowEach(c, results);
    const spend = await keySpend(c, k.key.id);
    const spread = tally(ok, (r) => r.upstream);
    t.diagnostic(`${stream ? 'streamed' : 'non-streamed'}: ${ok.length} admitted, ${refused.length} refused (budget_exceeded) in ${ms} ms; ` +
      `ledger spend $${spend.usd.toFixed(4)} of $1 over ${spend.n} rows; admitted per replica ${JSON.stringify(spread)}`);
    assert.equal(rows.length, 300);
    assert.ok(spend.usd <= 1.0 + 1e-9, `spent $${spend.usd} of a $1 budget: the three replicas share one budget`);
    closeTo(spend.usd, ok.length * COST, 'ledger spend = admitted x cost');
    await assertReconciled(c, t);
    await assertRedisAgrees(c, k.key.id, t);
  });
}

test('3 replicas, key rpm 60: 150 requests within the minute admit at most 60, the rest 429 rate_limit_exceeded', { skip }, async (t) => {
  const c = await clusterB();
  fake.reset().set({ usage: USAGE });
  const k = await sharedKey(c, { name: 'rpm60', rpm: 60 });
  await avoidMinuteEdge(10000);
  const results = await fire(c.lb.base, k.secret, 150);
  const ok = results.filter(ok2xx);
  const refused = results.filter((r) => r.status === 429);
  t.diagnostic(`rpm 60 over 3 replicas: ${ok.length} admitted, ${refused.length} refused of 150 (${JSON.stringify(tally(results))})`);
  assert.equal(ok.length + refused.length, 150, JSON.stringify(tally(results)));
  for (const r of refused) assert.equal(r.code, 'rate_limit_exceeded', r.res.text);
  assert.ok(ok.length <= 60, `${ok.length} admitted in one minute under rpm 60`);
  assert.ok(ok.length >= 50, `${ok.length} admitted: the limit is shared, not split`);
  await assertOneRowEach(c, results);
});

test('Redis killed, fail_closed: governed requests get 503 counters_unavailable while it is down and succeed again after it restarts', { skip }, async (t) => {
  const c = await clusterB();
  fake.reset().set({ usage: USAGE });
  const k = await sharedKey(c, { name: 'redis-closed', budget: { limit_usd: 100, window: 'lifetime' } });
  const free = await sharedKey(c, { name: 'redis-closed-unlimited' }); // no budget, no rate limit: not governed
  const all = [];
  const before = await fire(c.lb.base, k.secret, 6);
  all.push(...before);
  assert.deepEqual(tally(before), { 200: 6 });

  await redis.kill();
  const tDown = Date.now();
  // Each replica notices on its next request (connection refused).
  const detect = await Promise.all(c.replicas.map(async (r) => {
    let n = 0;
    await waitFor(async () => { const x = await send(r.base, k.secret); all.push(x); n++; return x.status === 503; }, 5000,
      `a 503 from ${r.base} with Redis down`);
    return `${Date.now() - tDown} ms/${n} req`;
  }));
  const down = await fire(c.lb.base, k.secret, 30);
  all.push(...down);
  for (const r of down) assertApiError(r.res, 503, 'counters_unavailable', 'governed request with Redis down');
  const ungoverned = await fire(c.lb.base, free.secret, 6);
  all.push(...ungoverned);
  assert.deepEqual(tally(ungoverned), { 200: 6 }, 'a key with no limit does not need the counters');

  await redis.start();
  const tUp = Date.now();
  const recover = await Promise.all(c.replicas.map(async (r) => {
    await waitFor(async () => { const x = await send(r.base, k.secret); all.push(x); return x.status === 200; }, 10000,
      `a 200 from ${r.base} after Redis restarted`);
    return Date.now() - tUp;
  }));
  const back = await fire(c.lb.base, k.secret, 12);
  all.push(...back);
  t.diagnostic(`fail_closed: first 503 per replica after ${detect.join(', ')}; 30/30 refused 503 counters_unavailable while down; ` +
    `admitting again ${recover.join(', ')} ms after the restart; after: ${JSON.stringify(tally(back))}`);
  assert.deepEqual(tally(back), { 200: 12 });
  for (const r of all) assert.ok(r.status === 200 || r.status === 503, `only 200 or 503: ${r.status} ${r.res.text}`);
  await assertOneRowEach(c, all);
  await assertReconciled(c, t);
  await assertRedisAgrees(c, k.key.id, t);
});

// ---------------------------------------------------------------------------
// Cluster C: counters in Redis, fail_open, replicas: 3.

test('Redis killed, fail_open: each replica admits against its 1/3 share (rpm 30 -> at most 10 each, a $0.30 budget -> $0.10 each) and Redis agrees with the ledger after it returns', { skip }, async (t) => {
  const c = await clusterC();
  fake.reset().set({ usage: USAGE });
  const k = await sharedKey(c, { name: 'redis-open', rpm: 30, budget: { limit_usd: 10, window: 'lifetime' } });
  const kb = await sharedKey(c, { name: 'redis-open-budget', budget: { limit_usd: 0.3, window: 'lifetime' } });
  await avoidMinuteEdge(10000);
  await redis.kill();
  const forK = [];
  const forKb = [];
  // 20 requests per key to each replica directly, one at a time per replica, while Redis is down.
  const per = await Promise.all(c.replicas.map(async (r) => {
    const mine = { rpm: [], budget: [] };
    for (let i = 0; i < 20; i++) {
      mine.rpm.push(await send(r.base, k.secret));
      mine.budget.push(await send(r.base, kb.secret));
    }
    forK.push(...mine.rpm);
    forKb.push(...mine.budget);
    return mine;
  }));
  const admitted = per.map((m) => m.rpm.filter(ok2xx).length);
  const total = admitted.reduce((a, b) => a + b, 0);
  const admittedB = per.map((m) => m.budget.filter(ok2xx).length);
  for (const m of per) {
    for (const r of m.rpm.filter((x) => !ok2xx(x))) assert.equal(r.code, 'rate_limit_exceeded', `${r.status} ${r.res.text}`);
    for (const r of m.budget.filter((x) => !ok2xx(x))) assert.equal(r.code, 'budget_exceeded', `${r.status} ${r.res.text}`);
  }
  const spentDown = (await keySpend(c, kb.key.id)).usd;

  await redis.start();
  const tUp = Date.now();
  // Once Redis is back the replicas use it again (their shares are not the limit any more).
  await waitFor(async () => { const x = await send(c.lb.base, k.secret); forK.push(x); return ok2xx(x); }, 10000,
    'a 200 through nginx after Redis restarted');
  const back = await fire(c.lb.base, k.secret, 6);
  forK.push(...back);
  t.diagnostic(`fail_open, rpm 30 over 3 replicas with Redis down: admitted ${admitted.join(' + ')} = ${total} of 60 ` +
    `(max overshoot ${Math.max(0, total - 30)} over the limit, ${Math.max(0, ...admitted.map((a) => a - 10))} over a share); ` +
    `$0.30 budget: admitted ${admittedB.join(' + ')} at $${COST} = $${spentDown.toFixed(4)} (overshoot $${Math.max(0, spentDown - 0.3).toFixed(4)}); ` +
    `after the restart (${Date.now() - tUp} ms): ${JSON.stringify(tally(back))}`);
  for (const a of admitted) assert.ok(a >= 1 && a <= 10, `a replica admitted ${a} of 20 with Redis down (share 10): ${admitted}`);
  assert.ok(total <= 30, `${total} admitted in one minute under rpm 30`);
  for (const a of admittedB) assert.ok(a >= 1 && a * COST <= 0.1 + 1e-9, `a replica admitted ${a} x $${COST} on a $0.10 share: ${admittedB}`);
  assert.ok(spentDown <= 0.3 + 1e-9, `spent $${spentDown} of a $0.30 budget with Redis down`);
  await assertOneRowEach(c, [...forK, ...forKb]);
  closeTo((await keySpend(c, k.key.id)).usd, forK.filter(ok2xx).length * COST, 'ledger spend = admitted x cost');
  closeTo(spentDown, forKb.filter(ok2xx).length * COST, 'ledger spend = admitted x cost ($0.30 budget)');
  await assertReconciled(c, t);
  await assertRedisAgrees(c, k.key.id, t);
  await assertRedisAgrees(c, kb.key.id, t);
});

test('a replica SIGKILLed mid-request: nginx answers its clients 502, its reservations expire after counters.reservation_ttl_ms, Redis agrees with the ledger', { skip }, async (t) => {
  const c = await clusterD();
  fake.reset().set({ usage: USAGE, headerDelayMs: 800 }); // answered well before TTL_MS
  const k = await sharedKey(c, { name: 'replica-kill', budget: { limit_usd: 1, window: 'lifetime' } });
  const body = promptBody();
  const worst = worstCase(body);
  const victim = c.replicas[2];
  const victimAddr = new URL(victim.base).host;

  // 9 requests through nginx, 3 per replica; all reserved, none answered yet.
  const pending = fire(c.lb.base, k.secret, 9, body);
  await waitFor(async () => Math.abs((await redisBudget(c, k.key.id)).reserved - 9 * worst) < 1e-6, 5000, '9 reservations in Redis');
  const reservedAt = Date.now();
  victim.proc.kill('SIGKILL');
  const results = await pending;
  const lost = results.filter((r) => r.status === 502);
  const ok = results.filter(ok2xx);
  const held = (await redisBudget(c, k.key.id)).reserved;
  t.diagnostic(`SIGKILL with 9 requests in flight: ${JSON.stringify(tally(results))}; the dead replica's reservations still held: ` +
    `$${held.toFixed(4)} (${(held / worst).toFixed(1)} x $${worst.toFixed(4)})`);
  assert.equal(ok.length + lost.length, 9, JSON.stringify(tally(results)));
  for (const r of lost) assert.equal(r.upstream, victimAddr, 'only the killed replica\'s requests are lost');
  for (const r of ok) assert.notEqual(r.upstream, victimAddr);
  assert.ok(lost.length >= 1, 'the killed replica had requests in flight');
  assert.ok(Math.abs(held - lost.length * worst) < 1e-6, `reserved $${held}: the dead replica's ${lost.length} reservations`);

  // Past reservation_ttl_ms the next reservation on the budget purges them.
  fake.set({ headerDelayMs: 0 });
  await sleep(Math.max(0, reservedAt + TTL_MS + 200 - Date.now()));
  const after = await fire(c.lb.base, k.secret, 4, body);
  assert.deepEqual(tally(after), { 200: 4 }, 'nginx skips the dead replica');
  await assertOneRowEach(c, [...ok, ...after]);
  const { expired } = await redisBudget(c, k.key.id);
  t.diagnostic(`${TTL_MS} ms later: ${expired} reservations expired; 4 more requests ${JSON.stringify(tally(after))}`);
  assert.equal(expired, lost.length, 'the dead replica\'s reservations expired');
  await assertRedisAgrees(c, k.key.id, t);
});
