// 5. Timeouts: an upstream that accepts the connection but never answers
//    must not hang the client: 504 upstream_timeout after first_byte_timeout_ms.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startFakeOpenAI } from './lib/fake_openai.mjs';
import { startTollgate, stopAll, openaiProvider, chatBody, post } from './lib/harness.mjs';

let fake;
let tg;
before(async () => {
  fake = await startFakeOpenAI();
  tg = await startTollgate({
    providers: [openaiProvider('slowai', fake.baseUrl, { first_byte_timeout_ms: 300, max_retries: 0 })],
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
