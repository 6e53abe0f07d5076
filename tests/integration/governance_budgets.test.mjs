// Governance, part 2: budgets. Hard limits are never overspent under
// concurrency, broken streams are still charged, max_tokens can be clamped to
// what a budget can pay, soft limits call the alert webhook, and spend
// survives restarts (counters persisted with the ledger rows; `tollgate
// reconcile` checks they agree).
//
// Prices (lib/governance_helpers.mjs): gov-model costs $10 / 1M input tokens
// and $20 / 1M output tokens. With the fake's usage of 1000 prompt + 500
// completion tokens every request costs exactly $0.01 + $0.01 = $0.02.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startFakeOpenAI } from './lib/fake_openai.mjs';
import { stopAll, sleep, closeTo, parseSSE } from './lib/harness.mjs';
import {
  IN_USD, OUT_USD, startGov, cli, createKeyAdmin, admin, chat, govBody, bodyBytes, worstCase, sql,
  waitFor, assertApiError, startWebhookSink,
} from './lib/governance_helpers.mjs';

const USAGE = { prompt_tokens: 1000, completion_tokens: 500 };
const COST = USAGE.prompt_tokens * IN_USD + USAGE.completion_tokens * OUT_USD; // $0.02

let fake;
before(async () => { fake = await startFakeOpenAI(); });
after(async () => { await stopAll(); await fake.close(); });

// How every server of this file exited on SIGTERM; checked by the last test,
// so a crash at shutdown is reported once, apart from the budget checks.
const exits = [];
/** SIGTERM; the ledger must have been flushed (tests read it afterwards). */
async function stop(tg, what) {
  const r = await tg.stop();
  exits.push({ what, ...r, tail: tg.stderr.split('\n').slice(-4).join(' | ') });
  assert.match(tg.stderr, /ledger flushed/, `${what}: ledger not flushed on SIGTERM: ${tg.stderr}`);
  return r;
}

/** A body whose size honestly bounds its 1000 prompt tokens (a token is >= 1 byte). */
function promptBody(extra = {}) {
  return govBody({ messages: [{ role: 'user', content: 'lorem '.repeat(185) }], max_tokens: 1000, ...extra });
}

const budgetRow = async (base, name) => (await admin(base, 'GET', '/admin/budgets')).json.data.find((b) => b.name === name);

test('hard budget: 200 concurrent requests never overspend $1; drained to within one reservation; reconcile agrees', async () => {
  fake.reset().set({ usage: USAGE });
  const tg = await startGov({
    fake,
    auth: { enabled: false, master_key: 'mk-test-0123456789abcdef' },
    budgets: [{ name: 'global-1usd', scope: 'global', window: 'monthly', limit_usd: 1.0 }],
  });
  const body = promptBody();
  assert.ok(bodyBytes(body) >= USAGE.prompt_tokens, 'the fake must not report more prompt tokens than body bytes');
  const worst = worstCase(body); // ~$0.031 reserved per request, $0.02 charged
  assert.ok(worst <= 0.05 && worst > COST, `reservation ${worst}`);

  // Phase 1: 200 requests at once. Each one reserves its worst case before it
  // is forwarded, so at most ~$1 / $0.031 = 32 can be in flight on an empty
  // budget, and many are refused while reservations are outstanding: this
  // phase checks the race (never over $1), not how close it gets.
  const results = await Promise.all(Array.from({ length: 200 }, () => chat(tg.base, null, body)));
  const ok = results.filter((r) => r.status === 200);
  const refused = results.filter((r) => r.status === 429);
  assert.equal(ok.length + refused.length, 200, `statuses: ${[...new Set(results.map((r) => r.status))]}`);
  assert.ok(ok.length >= 1 && ok.length <= 50, `${ok.length} admitted`);
  assert.ok(refused.length >= 150, `${refused.length} refused`);
  for (const r of ok) closeTo(r.headers.get('x-tollgate-cost-usd'), COST, 'x-tollgate-cost-usd');
  for (const r of refused) assert.equal(r.json?.error?.code, 'budget_exceeded', r.text);
  const e = assertApiError(refused[0], 429, 'budget_exceeded', 'refused request');
  assert.equal(e.type, 'insufficient_quota');
  assert.match(e.message, /Budget 'global-1usd' exceeded/);
  assert.match(e.message, /\$1\.0000 limit/);
  assert.match(e.message, /spent or reserved/);
  assert.match(e.message, /resets at \d{4}-\d\d-\d\dT/);
  const retryAfter = Number(refused[0].headers.get('retry-after'));
  assert.ok(retryAfter >= 1 && retryAfter <= 31 * 86400, `Retry-After ${refused[0].headers.get('retry-after')}`);

  // Phase 2: one at a time until refused. With nothing in flight a refusal
  // means spent + worst > $1, so the final spend is within one reservation
  // ($0.031) of the limit: here exactly 49 x $0.02 = $0.98.
  let extra = 0;
  for (let i = 0; i < 60; i++) {
    const r = await chat(tg.base, null, body);
    if (r.status === 429) { assertApiError(r, 429, 'budget_exceeded'); break; }
    assert.equal(r.status, 200, r.text);
    extra++;
  }
  const admitted = ok.length + extra;
  const rows = await tg.waitForRows(200 + extra + 1, { timeoutMs: 8000 });
  const charged = rows.filter((r) => r.status === 200);
  assert.equal(charged.length, admitted);
  const spent = charged.reduce((s, r) => s + r.cost_usd, 0);
  assert.ok(spent <= 1.0 + 1e-9, `overspent: $${spent}`);
  assert.ok(spent > 1.0 - worst - 1e-9, `stopped too early: $${spent} spent of $1 with a $${worst} reservation`);
  closeTo(spent, 49 * COST, 'final spend');
  const r429 = rows.filter((r) => r.status === 429);
  assert.ok(r429.every((r) => r.error_class === 'budget_exceeded' && (r.cost_usd ?? 0) === 0), '429 rows cost nothing');
  assert.ok(charged.every((r) => Math.abs(r.reserved_usd - worst) < 1e-9), 'reserved_usd = worst case on every row');

  const b = await budgetRow(tg.base, 'global-1usd');
  closeTo(b.spent_usd, spent, 'admin spent_usd');
  assert.equal(b.hard_limit_reached, false);

  await stop(tg, 'concurrency test');
  const [spendRow] = await sql(tg.dbPath, 'select s.spent_usd, s.requests from budget_spend s join budgets b on b.id = s.budget_id where b.name = \'global-1usd\'');
  closeTo(spendRow.spent_usd, spent, 'budget_spend.spent_usd');
  assert.equal(spendRow.requests, admitted, 'budget_spend.requests counts only admitted requests');
  const [charges] = await sql(tg.dbPath, 'select count(*) n from budget_charges');
  assert.equal(charges.n, admitted);

  const rec = await cli(['reconcile', '--db', tg.dbPath]);
  assert.equal(rec.code, 0, rec.stdout + rec.stderr);
  assert.match(rec.stdout, /global-1usd .* ok/);
  assert.match(rec.stdout, /1 windows checked, 0 mismatched/);

  // A tampered counter is found, and --repair rewrites it from the ledger.
  await sql(tg.dbPath, 'update budget_spend set spent_usd = spent_usd + 0.5');
  const bad = await cli(['reconcile', '--db', tg.dbPath]);
  assert.equal(bad.code, 1, bad.stdout + bad.stderr);
  assert.match(bad.stdout, /MISMATCH/);
  const fix = await cli(['reconcile', '--repair', '--db', tg.dbPath]);
  assert.equal(fix.code, 0, fix.stdout + fix.stderr);
  assert.match(fix.stdout, /REPAIRED/);
  const again = await cli(['reconcile', '--db', tg.dbPath]);
  assert.equal(again.code, 0, again.stdout);
  const [repaired] = await sql(tg.dbPath, 'select spent_usd from budget_spend');
  closeTo(repaired.spent_usd, spent, 'repaired counter');
});

test('a stream cut mid-way is still charged: estimated row, cost > 0, budget spend = row cost', async () => {
  // chunkDelayMs spaces the chunks out, so the cut arrives in a read of its own.
  fake.reset().set({ content: Array.from({ length: 30 }, (_, i) => `token${i}`).join(' '), cutAfterChunks: 6, chunkDelayMs: 10 });
  const tg = await startGov({
    fake,
    budgets: [{ name: 'stream-budget', scope: 'global', window: 'lifetime', limit_usd: 5 }],
  });
  const k = await createKeyAdmin(tg.base, { name: 'streamer' });
  const r = await chat(tg.base, k.secret, govBody({ stream: true, max_tokens: 300 }));
  assert.equal(r.status, 200);
  const events = parseSSE(r.text);
  assert.ok(events.some((ev) => ev.data && ev.data.includes('stream_broken')), `error event at the end: ${r.text.slice(-300)}`);
  const id = r.headers.get('x-tollgate-request-id');

  const [row] = await tg.waitForRows(1, { where: `id = '${id}'` });
  assert.equal(row.error_class, 'stream_broken');
  assert.equal(row.estimated, 1);
  assert.ok(row.output_tokens > 0 && row.input_tokens > 0, 'tokens estimated from what was seen');
  assert.ok(row.cost_usd > 0, `cost ${row.cost_usd}`);
  assert.equal(row.key_id, k.key.id);

  const b = await budgetRow(tg.base, 'stream-budget');
  closeTo(b.spent_usd, row.cost_usd, 'in-memory budget spend');
  await waitFor(async () => (await sql(tg.dbPath, 'select 1 from budget_charges where request_id = \'' + id + '\'')).length, 3000, 'the charge row');
  const [spend] = await sql(tg.dbPath, 'select spent_usd, requests from budget_spend');
  closeTo(spend.spent_usd, row.cost_usd, 'budget_spend.spent_usd');
  assert.equal(spend.requests, 1);
  await stop(tg, 'stream cut test');
  const rec = await cli(['reconcile', '--db', tg.dbPath]);
  assert.equal(rec.code, 0, rec.stdout + rec.stderr);
});

test('clamp_max_tokens lowers max_tokens to what the budget can pay; without it the request is refused', async () => {
  fake.reset().set({ usage: { prompt_tokens: 10, completion_tokens: 10 } });
  const LIMIT = 0.02;
  const budgets = [{ name: 'tight', scope: 'global', window: 'lifetime', limit_usd: LIMIT }];
  const tg = await startGov({ fake, auth: { enabled: false }, budgets, governance: { clamp_max_tokens: true } });

  // max_tokens 100000 could cost $2; the budget leaves room for ~950 tokens
  // (less what earlier requests spent: $0.0003 each).
  const SMALL = 10 * IN_USD + 10 * OUT_USD;
  let spent = 0;
  const expectFit = (b) => Math.floor((LIMIT - spent - bodyBytes(b) * IN_USD) / OUT_USD);
  const cases = [
    ['max_tokens', govBody({ max_tokens: 100000 })],
    ['max_completion_tokens', govBody({ max_completion_tokens: 100000 })],
    ['max_tokens', govBody()], // no cap: governance.default_max_tokens (4096 = $0.08) applies and is clamped
  ];
  for (const [field, body] of cases) {
    const before = fake.apiRequests().length;
    const r = await chat(tg.base, null, body);
    assert.equal(r.status, 200, `${JSON.stringify(body)}: ${r.text}`);
    const sent = fake.apiRequests()[before].body;
    const fit = expectFit(body);
    // +-1: float rounding of (limit - spent - input) / price differs by order of operations.
    assert.ok(Math.abs(sent[field] - fit) <= 1, `${field} sent upstream: ${sent[field]}, expected ~${fit}`);
    if (field === 'max_completion_tokens') assert.ok(!('max_tokens' in sent), 'no second cap field added');
    assert.ok(spent + bodyBytes(body) * IN_USD + sent[field] * OUT_USD <= LIMIT + 1e-9, 'the clamped worst case fits the budget');
    const [row] = await tg.waitForRows(1, { where: `id = '${r.headers.get('x-tollgate-request-id')}'` });
    assert.ok(row.reserved_usd <= LIMIT - spent + 1e-12, `reserved ${row.reserved_usd}`);
    closeTo(row.cost_usd, SMALL, 'actual cost');
    spent += SMALL;
  }

  // A prompt that alone could exceed what is left cannot be clamped: refused.
  const huge = govBody({ messages: [{ role: 'user', content: 'x'.repeat(2500) }], max_tokens: 10 });
  assertApiError(await chat(tg.base, null, huge), 429, 'budget_exceeded', 'input alone over budget');
  await stop(tg, 'clamp on');

  // Same budget, clamping off: refused, nothing sent upstream.
  const tg2 = await startGov({ fake, auth: { enabled: false }, budgets });
  const before = fake.apiRequests().length;
  assertApiError(await chat(tg2.base, null, govBody({ max_tokens: 100000 })), 429, 'budget_exceeded', 'clamp off');
  assert.equal(fake.apiRequests().length, before);
  // A small enough max_tokens passes untouched.
  const small = govBody({ max_tokens: 50 });
  assert.equal((await chat(tg2.base, null, small)).status, 200);
  assert.equal(fake.apiRequests().at(-1).body.max_tokens, 50);
  await stop(tg2, 'clamp off');
});

test('soft limit: crossing it POSTs budget.soft_limit to governance.alert_webhook, once', async () => {
  fake.reset().set({ usage: USAGE });
  const sink = await startWebhookSink();
  try {
    const tg = await startGov({ fake, governance: { alert_webhook: sink.url } });
    // Soft-only budget for one key, created through the admin API.
    const k = await createKeyAdmin(tg.base, { name: 'soft', budget: { soft_limit_usd: 0.05, window: 'daily' } });
    const budgetName = `key:${k.key.id}`;
    for (let i = 0; i < 2; i++) assert.equal((await chat(tg.base, k.secret, govBody())).status, 200);
    await sleep(200);
    assert.equal(sink.received.length, 0, 'no alert below the soft limit ($0.04 < $0.05)');
    // Third request: $0.06 >= $0.05. Soft limits never refuse.
    assert.equal((await chat(tg.base, k.secret, govBody())).status, 200);
    await waitFor(() => sink.received.length >= 1, 5000, 'the webhook POST');
    const hook = sink.received[0];
    assert.equal(hook.method, 'POST');
    assert.equal(hook.path, '/hook');
    assert.match(hook.headers['content-type'], /application\/json/);
    assert.ok(hook.json, `webhook body is JSON: ${hook.text}`);
    assert.equal(hook.json.event, 'budget.soft_limit');
    assert.equal(hook.json.budget, budgetName);
    closeTo(hook.json.spent_usd, 3 * COST, 'spent_usd in the alert');
    closeTo(hook.json.soft_limit_usd, 0.05, 'soft_limit_usd in the alert');
    assert.match(tg.stderr, /crossed its soft limit/);

    for (let i = 0; i < 2; i++) assert.equal((await chat(tg.base, k.secret, govBody())).status, 200);
    await sleep(300);
    assert.equal(sink.received.length, 1, 'one alert per crossing, not one per request');
    const b = await budgetRow(tg.base, budgetName);
    assert.equal(b.soft_limit_exceeded, true);
    assert.equal(b.limit_usd, null);
    await stop(tg, 'soft limit');
  } finally {
    await sink.close();
  }
});

test('soft limit alert is valid JSON whatever the budget name (quotes, backslashes)', async () => {
  fake.reset().set({ usage: USAGE });
  const sink = await startWebhookSink();
  try {
    const tg = await startGov({ fake, governance: { alert_webhook: sink.url } });
    const k = await createKeyAdmin(tg.base, { name: 'soft-quoted' });
    const name = 'team "blue" \\ alerts';
    const put = await admin(tg.base, 'POST', '/admin/budgets', { name, scope: 'key', subject: k.key.id, soft_limit_usd: 0.01 });
    assert.equal(put.status, 200, put.text);
    assert.equal((await chat(tg.base, k.secret, govBody())).status, 200);
    await waitFor(() => sink.received.length >= 1, 5000, 'the webhook POST');
    assert.ok(sink.received[0].json, `webhook body must be valid JSON, got: ${sink.received[0].text}`);
    assert.equal(sink.received[0].json.budget, name);
    await stop(tg, 'soft limit quoted name');
  } finally {
    await sink.close();
  }
});

test('persistence: spend survives a restart; an exhausted budget stays exhausted', async () => {
  fake.reset().set({ usage: USAGE });
  const budgets = [{ name: 'persist-global', scope: 'global', window: 'lifetime', limit_usd: 0.05 }];
  const tg = await startGov({ fake, budgets });
  const k = await createKeyAdmin(tg.base, { name: 'persist', budget: { limit_usd: 1, window: 'lifetime' } });
  const keyBudget = `key:${k.key.id}`;
  const body = govBody({ max_tokens: 600 }); // worst case ~$0.013
  for (let i = 0; i < 2; i++) assert.equal((await chat(tg.base, k.secret, body)).status, 200);
  // $0.04 spent; the next worst case does not fit under $0.05.
  const refused = await chat(tg.base, k.secret, body);
  const e = assertApiError(refused, 429, 'budget_exceeded', 'third request');
  assert.match(e.message, /persist-global/);
  assert.match(e.message, /resets at never/);
  assert.equal(refused.headers.get('retry-after'), null, 'a lifetime budget never resets: no Retry-After');

  // Lower the key budget below what was spent: now fully exhausted.
  const put = await admin(tg.base, 'PUT', '/admin/budgets', { name: keyBudget, scope: 'key', subject: k.key.id, window: 'lifetime', limit_usd: 0.03 });
  assert.equal(put.status, 200, put.text);
  const beforeStop = await admin(tg.base, 'GET', '/admin/budgets');
  await stop(tg, 'persistence, first run');

  const tg2 = await startGov({ fake, budgets, dbPath: tg.dbPath });
  const afterStart = await admin(tg2.base, 'GET', '/admin/budgets');
  for (const name of ['persist-global', keyBudget]) {
    const b1 = beforeStop.json.data.find((b) => b.name === name);
    const b2 = afterStart.json.data.find((b) => b.name === name);
    assert.ok(b2, `${name} still there`);
    closeTo(b2.spent_usd, 2 * COST, `${name} spent after restart`);
    closeTo(b2.spent_usd, b1.spent_usd, `${name} spent before vs after`);
  }
  assert.equal(afterStart.json.data.find((b) => b.name === keyBudget).hard_limit_reached, true);
  assert.equal(afterStart.json.data.find((b) => b.name === keyBudget).limit_usd, 0.03, 'admin change survived');
  const still = await chat(tg2.base, k.secret, govBody({ max_tokens: 1 }));
  assertApiError(still, 429, 'budget_exceeded', 'after restart');
  const other = await createKeyAdmin(tg2.base, { name: 'persist-2' });
  assertApiError(await chat(tg2.base, other.secret, body), 429, 'budget_exceeded', 'global budget after restart');
  await stop(tg2, 'persistence, second run');

  const rec = await cli(['reconcile', '--db', tg.dbPath]);
  assert.equal(rec.code, 0, rec.stdout + rec.stderr);
  assert.match(rec.stdout, /2 windows checked, 0 mismatched/);
});

test('a stream cut right after a burst: the chunks the upstream sent are relayed and charged', async () => {
  // No delay: the 6 chunks and the connection reset reach tollgate together.
  fake.reset().set({ content: Array.from({ length: 30 }, (_, i) => `token${i}`).join(' '), cutAfterChunks: 6 });
  const tg = await startGov({
    fake, auth: { enabled: false },
    budgets: [{ name: 'burst-budget', scope: 'global', window: 'lifetime', limit_usd: 5 }],
  });
  const r = await chat(tg.base, null, govBody({ stream: true, max_tokens: 300 }));
  const id = r.headers.get('x-tollgate-request-id');
  const [row] = await tg.waitForRows(1, { where: `id = '${id}'` });
  await stop(tg, 'burst cut');
  assert.equal(row.error_class, 'stream_broken');
  // The upstream delivered role + token0..token4 before the reset.
  assert.match(r.text, /token0 /, `chunks delivered before the cut must reach the client: ${r.text.slice(0, 400)}`);
  assert.ok(row.output_tokens > 0, `output tokens seen before the cut are charged (output_tokens ${row.output_tokens}, cost $${row.cost_usd})`);
});

test('every server of this file exited 0 on SIGTERM (no crash at shutdown after upstream traffic)', async () => {
  assert.ok(exits.length >= 6, `${exits.length} exits recorded`);
  // A few more short runs with many pooled upstream connections at shutdown.
  fake.reset();
  for (let i = 0; i < 4 && exits.every((e) => e.code === 0); i++) {
    const tg = await startGov({ fake, auth: { enabled: false } });
    await Promise.all(Array.from({ length: 40 }, () => chat(tg.base, null, govBody())));
    await stop(tg, `shutdown run ${i + 1} after 40 concurrent requests`);
  }
  const bad = exits.filter((e) => e.code !== 0);
  assert.deepEqual(bad, [], `crashed on shutdown: ${JSON.stringify(bad, null, 1)}`);
});
