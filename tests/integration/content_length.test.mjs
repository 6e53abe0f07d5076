// Regression: an upstream answering with Content-Length (nginx, most real
// servers) instead of chunked framing. Beast 1.74 treated an unset body limit
// as "over the limit" for sized bodies and every such answer became a 502.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { startTollgate, stopAll, openaiProvider, simProvider, post, chatBody } from './lib/harness.mjs';

const BODY = JSON.stringify({
  id: 'chatcmpl-cl', object: 'chat.completion', created: 1, model: 'gpt-4o-mini',
  choices: [{ index: 0, message: { role: 'assistant', content: 'sized' }, finish_reason: 'stop' }],
  usage: { prompt_tokens: 10, completion_tokens: 2, total_tokens: 12 },
});

let server;
after(async () => { await stopAll(); server?.close(); });

test('an upstream answer framed with Content-Length passes through', async () => {
  server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(BODY) });
      res.end(BODY);
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const tg = await startTollgate({
    providers: [openaiProvider('sized', `http://127.0.0.1:${server.address().port}/v1`)],
    models: [{ name: 'gpt-4o-mini', deployments: [{ provider: 'sized', model: 'gpt-4o-mini' }] }],
  });
  for (let i = 0; i < 3; i++) {  // the second and third reuse the pooled connection
    const r = await post(tg.base, '/v1/chat/completions', chatBody('gpt-4o-mini'));
    assert.equal(r.status, 200, r.text);
    assert.equal(r.text, BODY);
  }
});

// curl sends "Expect: 100-continue" with bodies over 1 KiB and waits a second
// for the go-ahead: tollgate must give it at once, then read the body.
test('Expect: 100-continue gets "100 Continue" before the body is sent', async () => {
  const tg = await startTollgate({
    providers: [simProvider()],
    models: [{ name: 'sim-model', deployments: [{ provider: 'sim', model: 'sim-model' }] }],
  });
  const { port } = new URL(tg.base);
  const body = JSON.stringify({ model: 'sim-model', messages: [{ role: 'user', content: 'x'.repeat(4000) }] });
  const sock = net.connect(Number(port), '127.0.0.1');
  let got = '';
  sock.on('data', (d) => { got += d.toString(); });
  await new Promise((r) => sock.on('connect', r));
  sock.write(`POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n` +
             `Content-Length: ${Buffer.byteLength(body)}\r\nExpect: 100-continue\r\n\r\n`);
  const t0 = Date.now();
  while (!got.includes('\r\n\r\n') && Date.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 5));
  assert.match(got, /^HTTP\/1\.1 100 Continue\r\n\r\n$/, 'the go-ahead comes before the body is sent');
  sock.write(body);
  while (!/"object":"chat\.completion"/.test(got) && Date.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 5));
  sock.destroy();
  assert.match(got, /HTTP\/1\.1 200 OK\r\n/);
  assert.match(got, /"object":"chat\.completion"/);
});
