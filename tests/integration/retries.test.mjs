// 4. Retries and fallbacks: transient upstream failures (5xx, 429, connection
//    refused/reset) are retried on the same deployment, then the next
//    deployment is tried; client errors (4xx) are passed through untouched.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startFakeOpenAI } from './lib/fake_openai.mjs';
import { startTollgate, stopAll, openaiProvider, chatBody, closedPort, post } from './lib/harness.mjs';

let primary;
let backup;
before(async () => {
  primary = await startFakeOpenAI();
  backup = await startFakeOpenAI();
});
after(async () => { await stopAll(); await primary.close(); await backup.close(); });

/** tollgate with model gpt-4o-mini -> [primary deployment, backup deployment]. */
function gateway(primaryUrl, backupUrl, providerExtra = {}) {
  return startTollgate({
    providers: [
      openaiProvider('primary', primaryUrl, { max_retries: 2, retry_backoff_ms: 10, ...providerExtra }),
      openaiProvider('backup', backupUrl, { max_retries: 2, retry_backoff_ms: 10, ...providerExtra }),
    ],
    models: [{
      name: 'gpt-4o-mini',
      deployments: [
        { provider: 'primary', model: 'gpt-4o-mini' },
        { provider: 'backup', model: 'backup-model' },
      ],
    }],
  });
}

async function rowOf(tg, r) {
  const id = r.headers.get('x-tollgate-request-id');
  assert.ok(id, 'x-tollgate-request-id present');
  const [row] = await tg.waitForRows(1, { where: `id = '${id}'` });
  return row;
}

test('upstream 500 twice then OK: 200 with retries=2 on the same deployment', async () => {
  primary.reset().set({ failFirst: 2, failStatus: 500 });
  backup.reset();
  const tg = await gateway(primary.baseUrl, backup.baseUrl);
  const r = await post(tg.base, '/v1/chat/completions', chatBody());
  assert.equal(r.status, 200, r.text);
  assert.equal(primary.apiRequests().length, 3);
  assert.equal(backup.apiRequests().length, 0);
  const row = await rowOf(tg, r);
  assert.equal(row.status, 200);
  assert.equal(row.retries, 2);
  assert.equal(row.fallbacks, 0);
  assert.equal(row.provider, 'primary');
  assert.ok(row.cost_usd > 0);
  await tg.stop();
});

test('429 is retried like a 5xx', async () => {
  primary.reset().set({ failFirst: 1, failStatus: 429 });
  backup.reset();
  const tg = await gateway(primary.baseUrl, backup.baseUrl);
  const r = await post(tg.base, '/v1/chat/completions', chatBody());
  assert.equal(r.status, 200, r.text);
  assert.equal(primary.apiRequests().length, 2);
  assert.equal((await rowOf(tg, r)).retries, 1);
  await tg.stop();
});

test('connection reset before any byte is retried', async () => {
  primary.reset().set({ failFirst: 1, failMode: 'reset' });
  backup.reset();
  const tg = await gateway(primary.baseUrl, backup.baseUrl);
  const r = await post(tg.base, '/v1/chat/completions', chatBody());
  assert.equal(r.status, 200, r.text);
  assert.equal(primary.apiRequests().length, 2);
  const row = await rowOf(tg, r);
  assert.equal(row.retries, 1);
  assert.equal(row.provider, 'primary');
  await tg.stop();
});

test('first deployment always 503: falls back to the second (fallbacks=1)', async () => {
  primary.reset().set({ alwaysStatus: 503 });
  backup.reset();
  const tg = await gateway(primary.baseUrl, backup.baseUrl);
  const r = await post(tg.base, '/v1/chat/completions', chatBody());
  assert.equal(r.status, 200, r.text);
  assert.equal(primary.apiRequests().length, 3, '1 try + max_retries=2 on the first deployment');
  assert.equal(backup.apiRequests().length, 1);
  assert.equal(backup.apiRequests()[0].body.model, 'backup-model', 'provider-side model name of the fallback');
  const row = await rowOf(tg, r);
  assert.equal(row.status, 200);
  assert.equal(row.fallbacks, 1);
  assert.equal(row.provider, 'backup');
  assert.equal(row.requested_model, 'gpt-4o-mini');
  assert.equal(row.served_model, 'backup-model');
  assert.ok(row.cost_usd > 0, 'priced with the backup model price');
  await tg.stop();
});

test('first deployment refuses connections (closed port): falls back to the second', async () => {
  backup.reset();
  const dead = `http://127.0.0.1:${await closedPort()}/v1`;
  const tg = await gateway(dead, backup.baseUrl);
  const t0 = Date.now();
  const r = await post(tg.base, '/v1/chat/completions', chatBody());
  assert.equal(r.status, 200, r.text);
  assert.ok(Date.now() - t0 < 3000, 'connection refused fails fast');
  assert.equal(backup.apiRequests().length, 1);
  const row = await rowOf(tg, r);
  assert.equal(row.fallbacks, 1);
  assert.equal(row.provider, 'backup');
  await tg.stop();
});

test('every deployment unreachable: 502 upstream_unreachable naming the provider', async () => {
  const dead1 = `http://127.0.0.1:${await closedPort()}/v1`;
  const dead2 = `http://127.0.0.1:${await closedPort()}/v1`;
  const tg = await gateway(dead1, dead2);
  const r = await post(tg.base, '/v1/chat/completions', chatBody());
  assert.equal(r.status, 502, r.text);
  assert.equal(r.json?.error?.code, 'upstream_unreachable');
  assert.equal(typeof r.json.error.type, 'string');
  assert.ok('param' in r.json.error, 'OpenAI error shape has param');
  assert.match(r.json.error.message, /primary|backup/, 'message names the provider');
  const row = await rowOf(tg, r);
  assert.equal(row.status, 502);
  assert.equal(row.error_class, 'upstream_unreachable');
  await tg.stop();
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
  primary.reset().set({ errorStatus: 400, errorBody: body });
  backup.reset();
  const tg = await gateway(primary.baseUrl, backup.baseUrl);
  const r = await post(tg.base, '/v1/chat/completions', chatBody());
  assert.equal(r.status, 400);
  assert.equal(r.text, body, 'body byte-for-byte');
  assert.equal(primary.apiRequests().length, 1, '4xx is not retried');
  assert.equal(backup.apiRequests().length, 0, '4xx does not fall back');
  const row = await rowOf(tg, r);
  assert.equal(row.status, 400);
  assert.equal(row.error_class, 'upstream_4xx');
  await tg.stop();
});

test('streaming request falls back too (before any byte reached the client)', async () => {
  primary.reset().set({ alwaysStatus: 500 });
  backup.reset();
  const tg = await gateway(primary.baseUrl, backup.baseUrl, { max_retries: 0 });
  const r = await post(tg.base, '/v1/chat/completions', chatBody('gpt-4o-mini', { stream: true }));
  assert.equal(r.status, 200, r.text);
  assert.match(r.text, /data: \[DONE\]/);
  const row = await rowOf(tg, r);
  assert.equal(row.fallbacks, 1);
  assert.equal(row.provider, 'backup');
  assert.equal(row.streamed, 1);
  await tg.stop();
});
