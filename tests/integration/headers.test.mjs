// Bad x-tollgate-* attribution headers get a clear OpenAI-shaped 400, and the
// refused request still has its ledger row.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startTollgate, stopAll, post, chatBody } from './lib/harness.mjs';

let tg;
before(async () => { tg = await startTollgate(); });
after(stopAll);

function assertInvalidHeader(r, name) {
  assert.equal(r.status, 400, r.text);
  assert.equal(r.json.error.code, 'invalid_header');
  assert.equal(r.json.error.param, name);
  assert.match(r.json.error.message, new RegExp(name));
}

test('an oversized x-tollgate-project is refused and ledgered', async () => {
  const r = await post(tg.base, '/v1/chat/completions', chatBody('sim-small'), { 'x-tollgate-project': 'p'.repeat(300) });
  assertInvalidHeader(r, 'x-tollgate-project');
  const id = r.headers.get('x-tollgate-request-id');
  const [row] = await tg.waitForRows(1, { where: `id = '${id}'` });
  assert.equal(row.status, 400);
  assert.equal(row.error_class, 'invalid_header');
});

test('more than 32 tags are refused', async () => {
  const tags = Array.from({ length: 33 }, (_, i) => `t${i}`).join(',');
  const r = await post(tg.base, '/v1/chat/completions', chatBody('sim-small'), { 'x-tollgate-tags': tags });
  assert.equal(r.status, 400, r.text);
  assert.equal(r.json.error.param, 'x-tollgate-tags');
});

test('a control character in x-tollgate-user is refused (raw socket: fetch would not send it)', async () => {
  const url = new URL(tg.base);
  const body = JSON.stringify(chatBody('sim-small'));
  const text = await new Promise((resolve, reject) => {
    const s = net.connect(Number(url.port), url.hostname, () => {
      s.write(`POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n` +
              `x-tollgate-user: bad\x01user\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
    });
    let out = '';
    s.on('data', (d) => { out += d; });
    s.on('end', () => resolve(out));
    s.on('error', reject);
  });
  // Either the HTTP parser or the gateway refuses it; never a 200.
  assert.match(text, /^HTTP\/1\.1 400/);
  // And the server keeps serving.
  assert.equal((await post(tg.base, '/v1/chat/completions', chatBody('sim-small'))).status, 200);
});
