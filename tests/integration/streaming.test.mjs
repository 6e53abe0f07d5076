// 2. Streaming: SSE chunks pass through in order and unbuffered, usage is
//    obtained from the upstream even when the client did not ask for it (and
//    the usage-only chunk is then stripped), the stream ends with the cost
//    trailer comment, and the ledger row is exact (not estimated, never $0).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startFakeOpenAI } from './lib/fake_openai.mjs';
import {
  startTollgate, stopAll, openaiProvider, chatBody, parseSSE, parseCostTrailer,
  chatText, expectedCost, closeTo,
} from './lib/harness.mjs';

const USAGE = { prompt_tokens: 300, completion_tokens: 120, cached_tokens: 0, reasoning_tokens: 20 };
const COST = expectedCost('gpt-4o-mini', { input: 300, output: 100, reasoning: 20 });

let fake;
let tg;
before(async () => {
  fake = await startFakeOpenAI();
  tg = await startTollgate({
    providers: [openaiProvider('fakeai', fake.baseUrl)],
    models: [
      { name: 'gpt-4o-mini', deployments: [{ provider: 'fakeai', model: 'gpt-4o-mini' }] },
      { name: 'gpt-3.5-turbo-instruct', deployments: [{ provider: 'fakeai', model: 'gpt-3.5-turbo-instruct' }] },
    ],
  });
});
after(async () => { await stopAll(); await fake.close(); });

/**
 * Streams a request and records when each piece arrived, so tests can tell
 * pass-through streaming from buffer-then-send.
 */
async function streamRequest(body, headers = {}) {
  const t0 = Date.now();
  const res = await fetch(tg.base + '/v1/chat/completions', {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer sk-client', ...headers },
    body: JSON.stringify(body),
  });
  let text = '';
  let firstDataAt = null;
  const decoder = new TextDecoder();
  for await (const part of res.body) {
    text += decoder.decode(part, { stream: true });
    if (firstDataAt === null && text.includes('data:')) firstDataAt = Date.now() - t0;
  }
  return { status: res.status, headers: res.headers, text, firstDataAt, totalMs: Date.now() - t0 };
}

test('stream without include_usage: chunks in order, usage requested upstream and stripped, cost trailer', async () => {
  fake.reset().set({ content: 'one two three four five six seven eight', chunkDelayMs: 40, usage: USAGE });
  const r = await streamRequest(chatBody('gpt-4o-mini', { stream: true }));
  assert.equal(r.status, 200, r.text);
  assert.match(r.headers.get('content-type') ?? '', /^text\/event-stream/);
  const requestId = r.headers.get('x-tollgate-request-id');
  assert.match(requestId ?? '', /^req_[0-9a-f]+$/);

  // tollgate asked the upstream for usage although the client did not.
  const [up] = fake.apiRequests();
  assert.equal(up.body.stream, true);
  assert.equal(up.body.stream_options?.include_usage, true, 'upstream must be asked for include_usage');

  const events = parseSSE(r.text);
  const data = events.filter((e) => e.data !== null).map((e) => e.data);
  const doneAt = data.indexOf('[DONE]');
  assert.equal(doneAt, data.length - 1, 'data: [DONE] is the last data event');
  const chunks = data.slice(0, doneAt).map((d) => JSON.parse(d));

  // Same chunks, same order as the upstream sent them, minus the usage-only chunk.
  const expected = up.sentChunks.filter((c) => c.choices.length > 0);
  assert.equal(chunks.length, expected.length, 'every content chunk forwarded, usage chunk stripped');
  chunks.forEach((c, i) => {
    assert.equal(c.object, 'chat.completion.chunk');
    assert.equal(c.id, expected[i].id);
    assert.deepEqual(c.choices, expected[i].choices, `chunk ${i}`);
    assert.ok(!c.usage, `chunk ${i} must not carry usage when the client did not ask for it`);
  });
  assert.equal(chatText(events), 'one two three four five six seven eight');

  // Pass-through, not buffered: first data well before the stream ends (10 chunks x 40 ms).
  assert.ok(r.firstDataAt < r.totalMs - 200, `first data at ${r.firstDataAt} ms of ${r.totalMs} ms: stream looks buffered`);

  // `: tollgate cost_usd=... request_id=...` after [DONE].
  const trailer = parseCostTrailer(r.text);
  assert.ok(trailer, `cost trailer comment missing; stream tail: ${JSON.stringify(r.text.slice(-200))}`);
  assert.ok(r.text.indexOf('data: [DONE]') < r.text.indexOf(': tollgate cost_usd='), 'trailer comes after [DONE]');
  assert.equal(trailer.requestId, requestId);
  closeTo(trailer.cost, COST, 'trailer cost_usd');

  const [row] = await tg.waitForRows(1, { where: `id = '${requestId}'` });
  assert.equal(row.status, 200);
  assert.equal(row.error_class, null);
  assert.equal(row.streamed, 1);
  assert.equal(row.estimated, 0, 'usage came from the upstream, not an estimate');
  assert.equal(row.input_tokens, 300);
  assert.equal(row.output_tokens, 100);
  assert.equal(row.reasoning_tokens, 20);
  assert.ok(row.cost_usd > 0, 'a streamed request never costs $0');
  closeTo(row.cost_usd, COST, 'ledger cost_usd');
  assert.notEqual(row.ttft_ms, null, 'ttft_ms recorded for streams');
  assert.ok(row.ttft_ms >= 30, `ttft_ms ${row.ttft_ms} should include the 40 ms first-chunk delay`);
  assert.ok(row.ttft_ms <= row.latency_ms, `ttft_ms ${row.ttft_ms} <= latency_ms ${row.latency_ms}`);
  assert.ok(row.latency_ms >= 300, `latency_ms ${row.latency_ms} covers the whole stream`);
});

test('stream with include_usage: the usage chunk is forwarded to the client', async () => {
  fake.reset().set({ content: 'alpha beta gamma', usage: USAGE });
  const r = await streamRequest(chatBody('gpt-4o-mini', { stream: true, stream_options: { include_usage: true } }));
  assert.equal(r.status, 200);
  const [up] = fake.apiRequests();
  assert.equal(up.body.stream_options?.include_usage, true);

  const data = parseSSE(r.text).filter((e) => e.data !== null).map((e) => e.data);
  assert.equal(data.at(-1), '[DONE]');
  const usageChunk = JSON.parse(data.at(-2));
  assert.deepEqual(usageChunk.choices, []);
  assert.equal(usageChunk.usage.prompt_tokens, 300);
  assert.equal(usageChunk.usage.completion_tokens, 120);
  assert.equal(chatText(parseSSE(r.text)), 'alpha beta gamma');

  const trailer = parseCostTrailer(r.text);
  assert.ok(trailer, 'cost trailer present');
  closeTo(trailer.cost, COST, 'trailer cost_usd');
  const [row] = await tg.waitForRows(1, { where: `id = '${r.headers.get('x-tollgate-request-id')}'` });
  assert.equal(row.streamed, 1);
  assert.equal(row.estimated, 0);
  closeTo(row.cost_usd, COST, 'ledger cost_usd');
});

test('client stream_options without include_usage is still upgraded upstream', async () => {
  fake.reset().set({ usage: USAGE });
  const r = await streamRequest(chatBody('gpt-4o-mini', { stream: true, stream_options: { include_usage: false } }));
  assert.equal(r.status, 200);
  const [up] = fake.apiRequests();
  assert.equal(up.body.stream_options?.include_usage, true);
  const chunks = parseSSE(r.text).filter((e) => e.data && e.data !== '[DONE]').map((e) => JSON.parse(e.data));
  assert.ok(chunks.every((c) => c.choices.length > 0), 'usage-only chunk stripped');
  const [row] = await tg.waitForRows(1, { where: `id = '${r.headers.get('x-tollgate-request-id')}'` });
  assert.equal(row.estimated, 0);
  closeTo(row.cost_usd, COST);
});

test('streaming /v1/completions is metered from upstream usage', async () => {
  fake.reset().set({ content: 'a b c d', usage: { prompt_tokens: 50, completion_tokens: 4, cached_tokens: 0, reasoning_tokens: 0 } });
  const res = await fetch(tg.base + '/v1/completions', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'gpt-3.5-turbo-instruct', prompt: 'x', stream: true }),
  });
  const text = await res.text();
  assert.equal(res.status, 200, text);
  assert.equal(chatText(parseSSE(text)), 'a b c d');
  const [up] = fake.apiRequests();
  assert.equal(up.body.stream_options?.include_usage, true);
  const [row] = await tg.waitForRows(1, { where: `id = '${res.headers.get('x-tollgate-request-id')}'` });
  assert.equal(row.endpoint, 'completions');
  assert.equal(row.streamed, 1);
  assert.equal(row.estimated, 0);
  assert.equal(row.input_tokens, 50);
  assert.equal(row.output_tokens, 4);
  closeTo(row.cost_usd, expectedCost('gpt-3.5-turbo-instruct', { input: 50, output: 4 }));
});
