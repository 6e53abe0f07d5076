// Governance, part 3: per-minute rate limits, per key (rpm, tpm,
// usd_per_minute fields of the key) and per model (`rate_limits:` config).
// Refusals are 429 rate_limit_exceeded with Retry-After and the
// x-ratelimit-* headers OpenAI clients know.
//
// Windows are whole UTC minutes, so each test first steps past the end of the
// current minute when too little of it is left (avoidMinuteEdge).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startFakeOpenAI } from './lib/fake_openai.mjs';
import { stopAll } from './lib/harness.mjs';
import {
  IN_USD, OUT_USD, MASTER_KEY, startGov, cli, createKeyCli, createKeyAdmin, admin, chat, govBody, bodyBytes, worstCase,
  waitFor, assertApiError, avoidMinuteEdge, minuteNow,
} from './lib/governance_helpers.mjs';

const TPM = 3000;
let fake;
let tg;
before(async () => {
  fake = await startFakeOpenAI();
  tg = await startGov({ fake, rate_limits: [{ model: 'other-model', tpm: TPM }] });
});
after(async () => { await stopAll(); await fake.close(); });

/** Sends up to `max` requests one by one; returns [statuses, first refusal]. */
async function untilRefused(secret, body, max) {
  const statuses = [];
  for (let i = 0; i < max; i++) {
    const r = await chat(tg.base, secret, body);
    statuses.push(r.status);
    if (r.status !== 200) return [statuses, r];
  }
  return [statuses, null];
}

test('key rpm=3: the 4th request in the minute is 429 with Retry-After and x-ratelimit-* headers', async () => {
  fake.reset();
  const k = await createKeyAdmin(tg.base, { name: 'rpm3', rpm: 3 });
  const free = await createKeyAdmin(tg.base, { name: 'no-limits' });
  let statuses; let refused;
  // Retried once if the sequence happened to straddle a minute boundary.
  for (let attempt = 0; attempt < 2; attempt++) {
    await avoidMinuteEdge(3000);
    const m0 = minuteNow();
    [statuses, refused] = await untilRefused(k.secret, govBody(), 4);
    if (minuteNow() === m0) break;
  }
  assert.deepEqual(statuses, [200, 200, 200, 429]);
  const e = assertApiError(refused, 429, 'rate_limit_exceeded', '4th request');
  assert.match(e.message, new RegExp(`key ${k.key.id}`));
  assert.match(e.message, /3 requests per minute/);
  assert.equal(refused.headers.get('x-ratelimit-limit-requests'), '3');
  assert.equal(refused.headers.get('x-ratelimit-remaining-requests'), '0');
  assert.match(refused.headers.get('x-ratelimit-reset-requests') ?? '', /^\d+s$/);
  const ra = Number(refused.headers.get('retry-after'));
  assert.ok(Number.isInteger(ra) && ra >= 1 && ra <= 60, `Retry-After ${refused.headers.get('retry-after')}`);
  assert.equal(fake.apiRequests().length, 3, 'the refused request never reached the upstream');

  const [row] = await tg.waitForRows(1, { where: `id = '${refused.headers.get('x-tollgate-request-id')}'` });
  assert.equal(row.status, 429);
  assert.equal(row.error_class, 'rate_limit_exceeded');
  assert.equal(row.key_id, k.key.id);

  // Limits are per key: another key is unaffected.
  assert.equal((await chat(tg.base, free.secret, govBody())).status, 200);

  // The CLI's --rpm works the same once the server has reloaded.
  const c = await createKeyCli(tg.dbPath, ['--rpm', '2']);
  await waitFor(async () => (await chat(tg.base, c.secret, govBody())).status === 200, 3000, 'the CLI key');
  const r2 = await chat(tg.base, c.secret, govBody());
  const r3 = await chat(tg.base, c.secret, govBody());
  if (r2.status === 200) {
    assertApiError(r3, 429, 'rate_limit_exceeded', 'CLI --rpm 2, 3rd request');
    assert.equal(r3.headers.get('x-ratelimit-limit-requests'), '2');
  } // else the minute rolled over between the first and second request: nothing to check
});

test('model rate_limits tpm: 429 on tokens (reserved up front, corrected to actual usage)', async () => {
  fake.reset(); // usage 1000 + 500 = 1500 tokens per request
  const k1 = await createKeyAdmin(tg.base, { name: 'tpm-a' });
  const k2 = await createKeyAdmin(tg.base, { name: 'tpm-b' });
  await avoidMinuteEdge(3000);

  // One request whose bound alone (body bytes + max_tokens) exceeds the limit.
  const big = await chat(tg.base, k1.secret, govBody({ max_tokens: 5000 }, 'other-model'));
  const e = assertApiError(big, 429, 'rate_limit_exceeded', 'max_tokens over tpm');
  assert.match(e.message, /model other-model/);
  assert.match(e.message, new RegExp(`${TPM} tokens per minute`));
  assert.equal(big.headers.get('x-ratelimit-limit-tokens'), String(TPM));
  assert.equal(big.headers.get('x-ratelimit-remaining-tokens'), String(TPM), 'nothing used yet');
  assert.match(big.headers.get('x-ratelimit-reset-tokens') ?? '', /^\d+s$/);
  assert.ok(Number(big.headers.get('retry-after')) >= 1);
  assert.equal(big.headers.get('x-ratelimit-limit-requests'), null, 'no requests limit on this model');

  // ~290 tokens reserved each; settled to 1500: two fit in 3000, the third does not.
  const small = govBody({ max_tokens: 200 }, 'other-model');
  assert.ok(bodyBytes(small) + 200 + 1500 <= TPM && 1500 * 2 + bodyBytes(small) + 200 > TPM);
  const m0 = minuteNow();
  const [statuses, refused] = await untilRefused(k1.secret, small, 4);
  if (minuteNow() !== m0) return; // straddled a minute: the counts below do not apply
  assert.deepEqual(statuses, [200, 200, 429]);
  assertApiError(refused, 429, 'rate_limit_exceeded');
  assert.equal(refused.headers.get('x-ratelimit-remaining-tokens'), '0');
  // Per model: every key is held back; other models are not.
  assertApiError(await chat(tg.base, k2.secret, small), 429, 'rate_limit_exceeded', 'second key, same model');
  assert.equal((await chat(tg.base, k2.secret, govBody({ max_tokens: 200 }))).status, 200, 'other model unaffected');
});

/**
 * usd_per_minute: a request is admitted if (dollars already counted this
 * minute) + (its worst case) fits; once answered, its worst case is replaced
 * by its actual cost. Returns how many requests in a row should pass.
 */
function expectedUsdAdmissions(limit, worst, actual) {
  let used = 0;
  let n = 0;
  while (used + worst <= limit + 1e-12 && n < 100) { used += actual; n++; }
  return n;
}

async function usdPerMinuteRun(spec) {
  fake.reset().set({ usage: { prompt_tokens: 100, completion_tokens: 100 } });
  const actual = 100 * IN_USD + 100 * OUT_USD; // $0.003
  const body = govBody({ max_tokens: 100 });
  const worst = worstCase(body); // ~$0.0029
  const LIMIT = 0.02;
  const want = expectedUsdAdmissions(LIMIT, worst, actual); // 6
  for (let attempt = 0; attempt < 2; attempt++) {
    const k = await createKeyAdmin(tg.base, { usd_per_minute: LIMIT, ...spec });
    await avoidMinuteEdge(3000);
    const m0 = minuteNow();
    const [statuses, refused] = await untilRefused(k.secret, body, want + 2);
    if (minuteNow() !== m0) continue;
    assert.ok(refused, `never refused: ${statuses}`);
    const e = assertApiError(refused, 429, 'rate_limit_exceeded');
    assert.match(e.message, /usd per minute/);
    assert.ok(Number(refused.headers.get('retry-after')) >= 1);
    return { admitted: statuses.length - 1, want, worst, actual };
  }
  throw new Error('two minute boundaries in a row');
}

test('key usd_per_minute (with a budget on the key): worst case reserved, then corrected to the actual cost', async () => {
  const r = await usdPerMinuteRun({ name: 'usd-with-budget', budget: { limit_usd: 100, window: 'daily' } });
  assert.equal(r.admitted, r.want, `admitted ${r.admitted} requests of $${r.actual} (worst $${r.worst.toFixed(5)}) under $0.02/min`);
});

test('key usd_per_minute (no budget applies): same admissions as with a budget', async () => {
  const r = await usdPerMinuteRun({ name: 'usd-no-budget' });
  // Each admitted request must count its actual cost once, not worst + actual.
  const doubleCounted = Math.floor((0.02 - r.worst) / (r.worst + r.actual)) + 1;
  assert.equal(r.admitted, r.want, `admitted ${r.admitted} requests of $${r.actual} (worst $${r.worst.toFixed(5)}) under $0.02/min` +
    (r.admitted === doubleCounted ? ': exactly what counting worst + actual per request gives' : ''));
});

test('key usd_per_minute with clamp_max_tokens: a clamped request counts its actual cost, not its unclamped worst case', async () => {
  fake.reset().set({ usage: { prompt_tokens: 10, completion_tokens: 10 } }); // $0.0003 each
  // The budget ($0.02) cannot pay for max_tokens 2000 ($0.04): each request is
  // clamped to ~950 tokens. The key may spend $0.10 a minute.
  const clampTg = await startGov({
    fake, governance: { clamp_max_tokens: true },
    budgets: [{ name: 'clamp-global', scope: 'global', window: 'lifetime', limit_usd: 0.02 }],
  });
  try {
    const body = govBody({ max_tokens: 2000 });
    assert.ok(worstCase(body) < 0.1 && worstCase(body) > 0.02);
    for (let attempt = 0; attempt < 2; attempt++) {
      const k = await createKeyAdmin(clampTg.base, { name: `usd-clamp-${attempt}`, usd_per_minute: 0.1 });
      await avoidMinuteEdge(3000);
      const m0 = minuteNow();
      const statuses = [];
      for (let i = 0; i < 6; i++) statuses.push((await chat(clampTg.base, k.secret, body)).status);
      if (minuteNow() !== m0) continue;
      // 6 x $0.0003 actual is far below $0.10.
      assert.deepEqual(statuses, [200, 200, 200, 200, 200, 200]);
      assert.ok(fake.apiRequests().every((r) => r.body.max_tokens < 2000), 'requests were clamped');
      return;
    }
  } finally {
    await clampTg.stop();
  }
});

test('rate-limited keys created with bad limits are refused (CLI and API)', async () => {
  assertApiError(await admin(tg.base, 'POST', '/admin/keys', { rpm: -3 }, MASTER_KEY), 400, 'invalid_request', 'rpm -3');
  assertApiError(await admin(tg.base, 'POST', '/admin/keys', { usd_per_minute: 'lots' }), 400, 'invalid_request', 'usd string');
  const c = await cli(['keys', 'create', '--db', tg.dbPath, '--usd-per-minute', '-1']);
  assert.equal(c.code, 2);
  assert.match(c.stderr, /--usd-per-minute/);
});
