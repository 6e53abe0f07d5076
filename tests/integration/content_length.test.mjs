// Regression: an upstream answering with Content-Length (nginx, most real
// servers) instead of chunked framing. Beast 1.74 treated an unset body limit
// as "over the limit" for sized bodies and every such answer became a 502.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { startTollgate, stopAll, openaiProvider, post, chatBody } from './lib/harness.mjs';

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
