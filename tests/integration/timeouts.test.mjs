// 5. Timeouts: an upstream that accepts the connection but never answers
//    must not hang the client: 504 upstream_timeout after first_byte_timeout_ms;
//    a stream that stalls mid-way is cut after idle_timeout_ms and still metered.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startFakeOpenAI } from './lib/fake_openai.mjs';
import { startTollgate, stopAll, openaiProvider, chatBody, post, parseSSE, chatText } from './lib/harness.mjs';

let fake;
let tg;
before(async () => {
  fake = await startFakeOpenAI();
  tg = await startTollgate({
    providers: [openaiProvider('slowai', fake.baseUrl, { first_byte_timeout_ms: 300, idle_timeout_ms: 400, max_retries: 0 })],
    models: [{ name: 'gpt-4o-mini', deployments: [{ provider: 'slowai', model: 'gpt-4o-mini' }] }],
  });
});
after(async () => { await stopAll(); await fake.close(); });

for (const stream of [false, true]) {
  test(`first-byte timeout (${stream ? 'stream' : 'non-stream'}): 504 upstream_timeout`, async () => {
    fake.reset().set({ headerDelayMs: 3000 });
    const t0 = Date.now();
    const r = await post(tg.base, '/v1/chat/completions', chatBody('gpt-4o-mini', { stream }));
    const elapsed = Date.now() - t0;
    assert.equal(r.status, 504, r.text);
    assert.equal(r.json?.error?.code, 'upstream_timeout');
    assert.ok(elapsed >= 250, `answered after ${elapsed} ms, before the 300 ms timeout`);
    assert.ok(elapsed < 2000, `answered after ${elapsed} ms; should be ~300 ms`);
    const id = r.headers.get('x-tollgate-request-id');
    assert.ok(id, 'x-tollgate-request-id on the error');
    const [row] = await tg.waitForRows(1, { where: `id = '${id}'` });
    assert.equal(row.status, 504);
    assert.equal(row.error_class, 'upstream_timeout');
    assert.equal(row.provider, 'slowai');
  });
}

test('a slow but in-time upstream is not cut off', async () => {
  fake.reset().set({ headerDelayMs: 100 });
  const r = await post(tg.base, '/v1/chat/completions', chatBody());
  assert.equal(r.status, 200, r.text);
});

test('stream stalls mid-way: cut after idle_timeout_ms, estimated, cost > 0', async () => {
  fake.reset().set({ content: 'one two three four five six', stallAfterChunks: 3 });
  const t0 = Date.now();
  const res = await fetch(tg.base + '/v1/chat/completions', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(chatBody('gpt-4o-mini', { stream: true })),
  });
  assert.equal(res.status, 200);
  const id = res.headers.get('x-tollgate-request-id');
  let text = '';
  const decoder = new TextDecoder();
  try {
    for await (const part of res.body) text += decoder.decode(part, { stream: true });
  } catch { /* an aborted body is an acceptable way to end it */ }
  const elapsed = Date.now() - t0;
  assert.ok(elapsed >= 350 && elapsed < 3000, `client stream ended after ${elapsed} ms; idle_timeout_ms is 400`);
  assert.equal(chatText(parseSSE(text.split('data: [DONE]')[0])), 'one two ', 'chunks before the stall were forwarded');
  const [row] = await tg.waitForRows(1, { where: `id = '${id}'` });
  assert.ok(['upstream_timeout', 'stream_broken'].includes(row.error_class), `error_class ${row.error_class}`);
  assert.equal(row.estimated, 1);
  assert.ok(row.output_tokens > 0);
  assert.ok(row.cost_usd > 0, `cost_usd ${row.cost_usd}`);
  assert.ok(fake.apiRequests()[0].closedEarly, 'tollgate closed the stalled upstream connection');
});
