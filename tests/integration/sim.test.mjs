// 9. The `sim` provider answers offline (no upstream at all), marks its
//    answers as simulated, and is metered like any other provider.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTollgate, stopAll, simProvider, chatBody, post, parseSSE, parseCostTrailer, chatText, closeTo, expectedCost } from './lib/harness.mjs';

let tg;
before(async () => {
  tg = await startTollgate({
    providers: [simProvider('sim', { latency_ms: 20, tokens_per_second: 2000, response_tokens: 12 })],
    models: [{ name: 'sim-small', deployments: [{ provider: 'sim', model: 'sim-small' }] }],
  });
});
after(() => stopAll());

test('sim non-stream: simulated answer with usage and cost', async () => {
  const r = await post(tg.base, '/v1/chat/completions', chatBody('sim-small'));
  assert.equal(r.status, 200, r.text);
  assert.equal(r.headers.get('x-tollgate-simulated'), 'true');
  assert.equal(r.json.object, 'chat.completion');
  assert.equal(r.json.system_fingerprint, 'tollgate-sim');
  assert.match(r.json.choices[0].message.content, /^\[simulated\]/);
  assert.equal(r.json.choices[0].message.role, 'assistant');
  const u = r.json.usage;
  assert.ok(u.prompt_tokens > 0);
  assert.ok(u.completion_tokens > 0);
  assert.equal(u.total_tokens, u.prompt_tokens + u.completion_tokens);
  const cost = expectedCost('sim-small', { input: u.prompt_tokens, output: u.completion_tokens });
  closeTo(r.headers.get('x-tollgate-cost-usd'), cost, 'x-tollgate-cost-usd');

  const [row] = await tg.waitForRows(1, { where: `id = '${r.headers.get('x-tollgate-request-id')}'` });
  assert.equal(row.provider, 'sim');
  assert.equal(row.status, 200);
  assert.equal(row.input_tokens, u.prompt_tokens);
  assert.equal(row.output_tokens, u.completion_tokens);
  closeTo(row.cost_usd, cost, 'ledger cost');
});

test('sim stream: chunks, [DONE], cost trailer, TTFT >= latency_ms', async () => {
  const r = await post(tg.base, '/v1/chat/completions', chatBody('sim-small', { stream: true }));
  assert.equal(r.status, 200, r.text);
  assert.equal(r.headers.get('x-tollgate-simulated'), 'true');
  assert.match(r.headers.get('content-type') ?? '', /^text\/event-stream/);
  const events = parseSSE(r.text);
  const data = events.filter((e) => e.data !== null).map((e) => e.data);
  assert.equal(data.at(-1), '[DONE]');
  const chunks = data.slice(0, -1).map((d) => JSON.parse(d));
  assert.ok(chunks.length >= 3, `several chunks expected, got ${chunks.length}`);
  for (const c of chunks) {
    assert.equal(c.object, 'chat.completion.chunk');
    assert.equal(c.system_fingerprint, 'tollgate-sim');
    assert.ok(c.choices.length > 0, 'no usage-only chunk unless asked for');
  }
  assert.match(chatText(events), /^\[simulated\]/);
  const trailer = parseCostTrailer(r.text);
  assert.ok(trailer, 'cost trailer');
  assert.ok(Number(trailer.cost) > 0);

  const [row] = await tg.waitForRows(1, { where: `id = '${r.headers.get('x-tollgate-request-id')}'` });
  assert.equal(row.streamed, 1);
  assert.equal(row.estimated, 0);
  assert.ok(row.ttft_ms >= 15, `ttft_ms ${row.ttft_ms} should reflect latency_ms: 20`);
  closeTo(row.cost_usd, Number(trailer.cost), 'ledger equals trailer');
});

test('sim stream with include_usage forwards the usage chunk', async () => {
  const r = await post(tg.base, '/v1/chat/completions', chatBody('sim-small', { stream: true, stream_options: { include_usage: true } }));
  assert.equal(r.status, 200);
  const data = parseSSE(r.text).filter((e) => e.data !== null).map((e) => e.data);
  const usageChunk = JSON.parse(data.at(-2));
  assert.deepEqual(usageChunk.choices, []);
  assert.ok(usageChunk.usage.completion_tokens > 0);
});
