// Self-test of the fake upstream: the official `openai` client talks to it
// directly (no tollgate). If these fail, the fake is wrong, not tollgate.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { startFakeOpenAI } from './lib/fake_openai.mjs';
import { parseSSE, post } from './lib/harness.mjs';

let fake;
let client;
before(async () => {
  fake = await startFakeOpenAI();
  client = new OpenAI({ baseURL: fake.baseUrl, apiKey: 'sk-direct', maxRetries: 0 });
});
after(() => fake.close());

test('fake: non-stream chat has usage with cached and reasoning details', async () => {
  fake.reset().set({ usage: { prompt_tokens: 10, completion_tokens: 7, cached_tokens: 4, reasoning_tokens: 2 } });
  const r = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] });
  assert.equal(r.object, 'chat.completion');
  assert.equal(r.choices[0].message.content, 'Hello from the fake upstream model.');
  assert.equal(r.usage.total_tokens, 17);
  assert.equal(r.usage.prompt_tokens_details.cached_tokens, 4);
  assert.equal(r.usage.completion_tokens_details.reasoning_tokens, 2);
  assert.equal(fake.requests[0].headers.authorization, 'Bearer sk-direct');
});

test('fake: stream without include_usage sends no usage chunk', async () => {
  fake.reset();
  const stream = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [], stream: true });
  let text = '';
  let usageChunks = 0;
  for await (const c of stream) {
    if (c.choices.length === 0) usageChunks++;
    text += c.choices[0]?.delta?.content ?? '';
  }
  assert.equal(text, 'Hello from the fake upstream model.');
  assert.equal(usageChunks, 0);
});

test('fake: stream with include_usage ends with a choices:[] usage chunk then [DONE]', async () => {
  fake.reset();
  const base = `http://127.0.0.1:${fake.port}`;
  const r = await post(base, '/v1/chat/completions', { model: 'm', messages: [], stream: true, stream_options: { include_usage: true } });
  assert.match(r.headers.get('content-type'), /^text\/event-stream/);
  const events = parseSSE(r.text);
  assert.equal(events.at(-1).data, '[DONE]');
  const last = JSON.parse(events.at(-2).data);
  assert.deepEqual(last.choices, []);
  assert.equal(last.usage.prompt_tokens, 1000);
  // Regular chunks carry "usage": null when include_usage is on.
  assert.equal(JSON.parse(events[0].data).usage, null);
});

test('fake: failFirst, errorStatus, embeddings, completions, models', async () => {
  fake.reset().set({ failFirst: 1, failStatus: 429 });
  const base = `http://127.0.0.1:${fake.port}`;
  assert.equal((await post(base, '/v1/chat/completions', { model: 'm', messages: [] })).status, 429);
  assert.equal((await post(base, '/v1/chat/completions', { model: 'm', messages: [] })).status, 200);

  const emb = await client.embeddings.create({ model: 'text-embedding-3-small', input: ['a', 'b'] });
  assert.equal(emb.data.length, 2);
  const cmpl = await client.completions.create({ model: 'gpt-3.5-turbo-instruct', prompt: 'x' });
  assert.equal(cmpl.object, 'text_completion');
  const models = await client.models.list();
  assert.ok(models.data.some((m) => m.id === 'gpt-4o-mini'));

  fake.set({ errorStatus: 400, errorBody: '{"error":{"message":"nope","type":"invalid_request_error","param":null,"code":null}}' });
  await assert.rejects(client.chat.completions.create({ model: 'm', messages: [] }), (e) => e.status === 400);
});

test('fake: cutAfterChunks destroys the socket mid-stream', async () => {
  fake.reset().set({ cutAfterChunks: 2 });
  const base = `http://127.0.0.1:${fake.port}`;
  await assert.rejects(post(base, '/v1/chat/completions', { model: 'm', messages: [], stream: true }));
});
