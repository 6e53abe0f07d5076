// 3. Disconnects: a stream that ends early on either side must still be
//    metered (estimated tokens, cost > 0), never silently recorded as $0.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { startFakeOpenAI } from './lib/fake_openai.mjs';
import { startTollgate, stopAll, openaiProvider, chatBody, sleep } from './lib/harness.mjs';

// 40 words -> 42 chunks; at 50 ms per chunk the stream would take ~2 s.
const LONG = Array.from({ length: 40 }, (_, i) => `word${i}`).join(' ');

let fake;
let tg;
before(async () => {
  fake = await startFakeOpenAI();
  tg = await startTollgate({
    providers: [openaiProvider('fakeai', fake.baseUrl)],
    models: [{ name: 'gpt-4o-mini', deployments: [{ provider: 'fakeai', model: 'gpt-4o-mini' }] }],
  });
});
after(async () => { await stopAll(); await fake.close(); });

/**
 * Starts a streaming request with node:http (so the socket can be destroyed
 * deterministically) and resolves once `minChunks` data events arrived.
 */
function openStream(body, minChunks) {
  return new Promise((resolve, reject) => {
    const url = new URL(tg.base + '/v1/chat/completions');
    const req = http.request({
      host: url.hostname, port: url.port, path: url.pathname, method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer sk-client' },
    }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => {
        text += d;
        const n = (text.match(/^data: /gm) ?? []).length;
        if (n >= minChunks) resolve({ req, res, requestId: res.headers['x-tollgate-request-id'], text: () => text });
      });
      res.on('error', () => {});
    });
    req.on('error', (e) => { if (!req.destroyed) reject(e); });
    req.end(JSON.stringify(body));
    setTimeout(() => reject(new Error('stream did not produce enough chunks in 5 s')), 5000).unref();
  });
}

test('client aborts mid-stream: 499 client_disconnect, estimated, cost > 0', async () => {
  fake.reset().set({ content: LONG, chunkDelayMs: 50 });
  const s = await openStream(chatBody('gpt-4o-mini', { stream: true }), 4);
  assert.ok(s.requestId, 'x-tollgate-request-id on the stream');
  s.req.destroy(); // hang up: the client is gone

  const [row] = await tg.waitForRows(1, { where: `id = '${s.requestId}'`, timeoutMs: 5000 });
  assert.equal(row.status, 499);
  assert.equal(row.error_class, 'client_disconnect');
  assert.equal(row.streamed, 1);
  assert.equal(row.estimated, 1, 'no upstream usage arrived, so tokens are estimated');
  assert.ok(row.input_tokens > 0, `input_tokens estimated (${row.input_tokens})`);
  assert.ok(row.output_tokens > 0, `output_tokens estimated from forwarded text (${row.output_tokens})`);
  assert.ok(row.output_tokens < 200, `output_tokens (${row.output_tokens}) should reflect the partial answer only`);
  assert.ok(row.cost_usd > 0, `cost_usd must be > 0 (got ${row.cost_usd})`);

  // tollgate should also stop reading the upstream (it keeps generating tokens otherwise).
  const deadline = Date.now() + 3000;
  while (!fake.apiRequests()[0].closedEarly && Date.now() < deadline) await sleep(50);
  assert.ok(fake.apiRequests()[0].closedEarly, 'upstream connection closed after the client left');
});

test('upstream cuts the stream: stream_broken, estimated, cost > 0, client stream ends', async () => {
  fake.reset().set({ content: LONG, chunkDelayMs: 10, cutAfterChunks: 6 });
  const t0 = Date.now();
  const res = await fetch(tg.base + '/v1/chat/completions', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(chatBody('gpt-4o-mini', { stream: true })),
  });
  assert.equal(res.status, 200);
  const requestId = res.headers.get('x-tollgate-request-id');
  // The client stream must end (cleanly or with an error), not hang.
  let text = '';
  const decoder = new TextDecoder();
  try {
    for await (const part of res.body) text += decoder.decode(part, { stream: true });
  } catch { /* tollgate may abort the client body after an upstream cut; that is fine */ }
  assert.ok(Date.now() - t0 < 4000, 'client stream ended promptly after the upstream cut');
  assert.match(text, /word0/, 'chunks received before the cut were forwarded');

  const [row] = await tg.waitForRows(1, { where: `id = '${requestId}'`, timeoutMs: 5000 });
  assert.equal(row.error_class, 'stream_broken');
  assert.equal(row.streamed, 1);
  assert.equal(row.estimated, 1);
  assert.ok(row.output_tokens > 0, `output_tokens (${row.output_tokens}) estimated from the 6 chunks received`);
  assert.ok(row.cost_usd > 0, `cost_usd must be > 0 (got ${row.cost_usd})`);
});
