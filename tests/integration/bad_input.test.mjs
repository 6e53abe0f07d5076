// Bad request fields that only show up in translation or type checks: each
// gets a clear 400 (in the client's dialect), a ledger row, and the server
// keeps serving.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTollgate, stopAll, simProvider, post, chatBody, closedPort } from './lib/harness.mjs';

let tg;
before(async () => {
  const port = await closedPort();
  tg = await startTollgate({
    providers: [
      simProvider('sim'),
      // Translation is refused before any connection, so these never need to answer.
      { name: 'claude', type: 'anthropic', base_url: `http://127.0.0.1:${port}/v1`, api_key: 'k', max_retries: 0 },
      { name: 'compat', type: 'openai-compatible', base_url: `http://127.0.0.1:${port}/v1`, max_retries: 0 },
    ],
    models: [
      { name: 'sim-small', deployments: [{ provider: 'sim', model: 'sim-small' }] },
      { name: 'claude-sonnet-4-5', deployments: [{ provider: 'claude', model: 'claude-sonnet-4-5' }] },
      { name: 'compat-model', deployments: [{ provider: 'compat', model: 'compat-model' }] },
    ],
  });
});
after(stopAll);

async function stillServing() {
  assert.equal((await post(tg.base, '/v1/chat/completions', chatBody('sim-small'))).status, 200);
}

test('"stream" that is not a boolean', async () => {
  const r = await post(tg.base, '/v1/chat/completions', chatBody('sim-small', { stream: 'yes' }));
  assert.equal(r.status, 400, r.text);
  assert.equal(r.json.error.param, 'stream');
  await stillServing();
});

test('a chat request an Anthropic model cannot take (n > 1)', async () => {
  const r = await post(tg.base, '/v1/chat/completions', chatBody('claude-sonnet-4-5', { n: 2 }));
  assert.equal(r.status, 400, r.text);
  assert.match(r.json.error.message, /\bn\b/);
  const [row] = await tg.waitForRows(1, { where: `id = '${r.headers.get('x-tollgate-request-id')}'` });
  assert.equal(row.status, 400);
  await stillServing();
});

test('an Anthropic request an OpenAI-compatible model cannot take (document block)', async () => {
  const body = {
    model: 'compat-model', max_tokens: 10,
    messages: [{ role: 'user', content: [{ type: 'document', source: { type: 'text', media_type: 'text/plain', data: 'x' } }] }],
  };
  const r = await post(tg.base, '/v1/messages', body, { 'anthropic-version': '2023-06-01' });
  assert.equal(r.status, 400, r.text);
  assert.equal(r.json.type, 'error');  // Anthropic's error shape on /v1/messages
  assert.equal(r.json.error.type, 'invalid_request_error');
  await stillServing();
});

test('an Anthropic request without messages', async () => {
  const r = await post(tg.base, '/v1/messages', { model: 'compat-model', max_tokens: 10 }, { 'anthropic-version': '2023-06-01' });
  assert.equal(r.status, 400, r.text);
  await stillServing();
});
