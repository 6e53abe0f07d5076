// 8. End to end with the official `openai` npm client pointed at tollgate:
//    what users actually run must work unchanged.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI, { NotFoundError } from 'openai';
import { startFakeOpenAI } from './lib/fake_openai.mjs';
import { startTollgate, stopAll, openaiProvider, simProvider, keyFingerprint } from './lib/harness.mjs';

let fake;
let tg;
let client;
before(async () => {
  fake = await startFakeOpenAI();
  tg = await startTollgate({
    providers: [openaiProvider('fakeai', fake.baseUrl), simProvider('sim')],
    models: [
      { name: 'gpt-4o-mini', deployments: [{ provider: 'fakeai', model: 'gpt-4o-mini' }] },
      { name: 'text-embedding-3-small', deployments: [{ provider: 'fakeai', model: 'text-embedding-3-small' }] },
      { name: 'sim-small', deployments: [{ provider: 'sim', model: 'sim-small' }] },
    ],
  });
  client = new OpenAI({ baseURL: tg.base + '/v1', apiKey: 'sk-e2e-client', maxRetries: 0, timeout: 10000 });
});
after(async () => { await stopAll(); await fake.close(); });

test('chat.completions.create, non-streaming', async () => {
  fake.reset();
  const { data, response } = await client.chat.completions
    .create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], user: 'e2e-user' })
    .withResponse();
  assert.equal(data.choices[0].message.content, 'Hello from the fake upstream model.');
  assert.equal(data.usage.total_tokens, 1500);
  const id = response.headers.get('x-tollgate-request-id');
  assert.ok(id);
  assert.ok(Number(response.headers.get('x-tollgate-cost-usd')) > 0);
  const [row] = await tg.waitForRows(1, { where: `id = '${id}'` });
  assert.equal(row.api_key, keyFingerprint('sk-e2e-client'));
  assert.equal(row.user, 'e2e-user');
});

test('chat.completions.create, streaming (for await)', async () => {
  fake.reset().set({ content: 'The quick brown fox jumps over the lazy dog.' });
  const stream = await client.chat.completions.create({
    model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], stream: true,
  });
  let text = '';
  let chunks = 0;
  for await (const chunk of stream) {
    chunks++;
    assert.equal(chunk.object, 'chat.completion.chunk');
    text += chunk.choices[0]?.delta?.content ?? '';
  }
  assert.equal(text, 'The quick brown fox jumps over the lazy dog.');
  assert.ok(chunks >= 9);
});

test('streaming with include_usage gives the client its usage chunk', async () => {
  fake.reset();
  const stream = await client.chat.completions.create({
    model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], stream: true,
    stream_options: { include_usage: true },
  });
  let usage = null;
  for await (const chunk of stream) if (chunk.usage) usage = chunk.usage;
  assert.equal(usage?.prompt_tokens, 1000);
});

test('embeddings.create and models.list', async () => {
  fake.reset();
  const emb = await client.embeddings.create({ model: 'text-embedding-3-small', input: 'hello' });
  assert.equal(emb.data.length, 1);
  assert.ok(Array.isArray(emb.data[0].embedding));
  const models = [];
  for await (const m of client.models.list()) models.push(m.id);
  assert.deepEqual(models.sort(), ['gpt-4o-mini', 'sim-small', 'text-embedding-3-small']);
});

test('sim model through the client, streaming', async () => {
  const stream = await client.chat.completions.create({ model: 'sim-small', messages: [{ role: 'user', content: 'hi' }], stream: true });
  let text = '';
  for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
  assert.match(text, /^\[simulated\]/);
});

test('unknown model: the client throws NotFoundError (404)', async () => {
  await assert.rejects(
    client.chat.completions.create({ model: 'no-such-model', messages: [{ role: 'user', content: 'hi' }] }),
    (err) => {
      assert.ok(err instanceof NotFoundError, `expected NotFoundError, got ${err?.constructor?.name}: ${err?.message}`);
      assert.equal(err.status, 404);
      assert.equal(err.code, 'model_not_found');
      return true;
    },
  );
});
