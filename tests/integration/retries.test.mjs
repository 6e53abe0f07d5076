// 4. Retries and fallbacks: transient upstream failures (5xx, 429, connection
//    refused/reset) are retried on the same deployment, then the next
//    deployment is tried; client errors (4xx) are passed through untouched.
//
// One gateway serves every scenario; each scenario is its own model name:
//   gpt-4o-mini  -> [primary (2 retries), backup]     steered per test via the fakes
//   dead-first   -> [closed port, backup]
//   all-dead     -> [closed port, another closed port]
//   no-retry     -> [primary (0 retries), backup]     streaming fallback

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startFakeOpenAI } from './lib/fake_openai.mjs';
import { startTollgate, stopAll, openaiProvider, chatBody, closedPort, post } from './lib/harness.mjs';

let primary;
let backup;
let tg;
before(async () => {
  primary = await startFakeOpenAI();
  backup = await startFakeOpenAI();
  const dead1 = `http://127.0.0.1:${await closedPort()}/v1`;
  const dead2 = `http://127.0.0.1:${await closedPort()}/v1`;
  const retrying = { max_retries: 2, retry_backoff_ms: 10 };
  tg = await startTollgate({
    providers: [
      openaiProvider('primary', primary.baseUrl, retrying),
      openaiProvider('backup', backup.baseUrl, retrying),
      openaiProvider('primary-noretry', primary.baseUrl, { max_retries: 0 }),
      openaiProvider('dead-one', dead1, retrying),
      openaiProvider('dead-two', dead2, retrying),
    ],
    models: [
      { name: 'gpt-4o-mini', deployments: [{ provider: 'primary', model: 'gpt-4o-mini' }, { provider: 'backup', model: 'backup-model' }] },
      { name: 'dead-first', deployments: [{ provider: 'dead-one', model: 'gpt-4o-mini' }, { provider: 'backup', model: 'backup-model' }] },
      { name: 'all-dead', deployments: [{ provider: 'dead-one', model: 'gpt-4o-mini' }, { provider: 'dead-two', model: 'gpt-4o-mini' }] },
      { name: 'no-retry', deployments: [{ provider: 'primary-noretry', model: 'gpt-4o-mini' }, { provider: 'backup', model: 'backup-model' }] },
    ],
  });
});
after(async () => { await stopAll(); await primary.close(); await backup.close(); });

/** Fresh fakes for each test. */
function resetFakes(primaryBehaviour = {}) {
  primary.reset().set(primaryBehaviour);
  backup.reset();
}

async function rowOf(r) {
  const id = r.headers.get('x-tollgate-request-id');
  assert.ok(id, 'x-tollgate-request-id present');
  const [row] = await tg.waitForRows(1, { where: `id = '${id}'` });
  return row;
}

test('upstream 500 twice then OK: 200 with retries=2 on the same deployment', async () => {
  resetFakes({ failFirst: 2, failStatus: 500 });
  const r = await post(tg.base, '/v1/chat/completions', chatBody());
  assert.equal(r.status, 200, r.text);
  assert.equal(primary.apiRequests().length, 3);
  assert.equal(backup.apiRequests().length, 0);
  const row = await rowOf(r);
  assert.equal(row.status, 200);
  assert.equal(row.error_class, null);
  assert.equal(row.retries, 2);
  assert.equal(row.fallbacks, 0);
  assert.equal(row.provider, 'primary');
  assert.ok(row.cost_usd > 0);
});

test('429 is retried like a 5xx', async () => {
  resetFakes({ failFirst: 1, failStatus: 429 });
  const r = await post(tg.base, '/v1/chat/completions', chatBody());
  assert.equal(r.status, 200, r.text);
  assert.equal(primary.apiRequests().length, 2);
  assert.equal((await rowOf(r)).retries, 1);
});

test('connection reset before any byte is retried', async () => {
  resetFakes({ failFirst: 1, failMode: 'reset' });
  const r = await post(tg.base, '/v1/chat/completions', chatBody());
  assert.equal(r.status, 200, r.text);
  assert.equal(primary.apiRequests().length, 2);
  const row = await rowOf(r);
  // A reset on a *reused* keep-alive connection may be retried transparently as
  // a stale connection (not counted); on a fresh connection it counts as a retry.
  assert.ok(row.retries <= 1, `retries ${row.retries}`);
  assert.equal(row.fallbacks, 0);
  assert.equal(row.provider, 'primary');
});

test('first deployment always 503: falls back to the second (fallbacks=1)', async () => {
  resetFakes({ alwaysStatus: 503 });
  const r = await post(tg.base, '/v1/chat/completions', chatBody());
  assert.equal(r.status, 200, r.text);
  assert.equal(primary.apiRequests().length, 3, '1 try + max_retries=2 on the first deployment');
  assert.equal(backup.apiRequests().length, 1);
  assert.equal(backup.apiRequests()[0].body.model, 'backup-model', 'provider-side model name of the fallback');
  const row = await rowOf(r);
  assert.equal(row.status, 200);
  assert.equal(row.fallbacks, 1);
  assert.equal(row.provider, 'backup');
  assert.equal(row.requested_model, 'gpt-4o-mini');
  assert.equal(row.served_model, 'backup-model');
  assert.ok(row.cost_usd > 0, 'priced with the backup model price');
});

test('first deployment refuses connections (closed port): falls back to the second', async () => {
  resetFakes();
  const t0 = Date.now();
  const r = await post(tg.base, '/v1/chat/completions', chatBody('dead-first'));
  assert.equal(r.status, 200, r.text);
  assert.ok(Date.now() - t0 < 3000, 'connection refused fails fast');
  assert.equal(backup.apiRequests().length, 1);
  const row = await rowOf(r);
  assert.equal(row.fallbacks, 1);
  assert.equal(row.provider, 'backup');
});

test('every deployment unreachable: 502 upstream_unreachable naming the provider', async () => {
  const r = await post(tg.base, '/v1/chat/completions', chatBody('all-dead'));
  assert.equal(r.status, 502, r.text);
  assert.equal(r.json?.error?.code, 'upstream_unreachable');
  assert.equal(typeof r.json.error.type, 'string');
  assert.ok('param' in r.json.error, 'OpenAI error shape has param');
  assert.match(r.json.error.message, /dead-one|dead-two/, 'message names the provider');
  const row = await rowOf(r);
  assert.equal(row.status, 502);
  assert.equal(row.error_class, 'upstream_unreachable');
  assert.equal(row.cost_usd ?? 0, 0, 'nothing was served, nothing is charged');
});

test('upstream 400 is passed through unchanged and not retried', async () => {
  const body = JSON.stringify({
    error: {
      message: "Invalid 'messages[0].role': expected one of system, user, assistant.",
      type: 'invalid_request_error',
      param: 'messages[0].role',
      code: 'invalid_value',
    },
  }, null, 2) + '\n';
  resetFakes({ errorStatus: 400, errorBody: body });
  const r = await post(tg.base, '/v1/chat/completions', chatBody());
  assert.equal(r.status, 400);
  assert.equal(r.text, body, 'body byte-for-byte');
  assert.equal(primary.apiRequests().length, 1, '4xx is not retried');
  assert.equal(backup.apiRequests().length, 0, '4xx does not fall back');
  const row = await rowOf(r);
  assert.equal(row.status, 400);
  assert.equal(row.error_class, 'upstream_4xx');
});

test('streaming request falls back too (before any byte reached the client)', async () => {
  resetFakes({ alwaysStatus: 500 });
  const r = await post(tg.base, '/v1/chat/completions', chatBody('no-retry', { stream: true }));
  assert.equal(r.status, 200, r.text);
  assert.match(r.text, /data: \[DONE\]/);
  assert.equal(primary.apiRequests().length, 1, 'max_retries: 0');
  const row = await rowOf(r);
  assert.equal(row.retries, 0);
  assert.equal(row.fallbacks, 1);
  assert.equal(row.provider, 'backup');
  assert.equal(row.streamed, 1);
});
