// Savings engine, part 1: the response cache (issue 5).
//
// Exact cache (hit/miss/bypass headers, $0 hits, ledger counterfactual
// columns, client x-tollgate-cache on|off|refresh, temperature policy),
// streamed hits replayed as valid SSE to the official `openai` client,
// streamed misses stored, tenant isolation by scope (key, project, global),
// persistence across a restart, the MinHash semantic matcher and the
// embeddings-based semantic matcher (against a loopback fake /v1/embeddings),
// and config errors.
//
// Requests send `temperature: 0` unless a test is about temperature: with the
// default temperature_policy (bypass), a request without temperature counts
// as the API default 1 and is not cached.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import path from 'node:path';
import { writeFileSync } from 'node:fs';
import OpenAI from 'openai';
import { startFakeOpenAI } from './lib/fake_openai.mjs';
import {
  startTollgate, stopAll, toYaml, openaiProvider, post, PRICES, tempDir, runTollgate, closeTo, expectedCost,
  parseSSE, chatText, keyFingerprint,
} from './lib/harness.mjs';

const MODEL = 'gpt-4o-mini';
const USAGE = { prompt_tokens: 400, completion_tokens: 100, cached_tokens: 0, reasoning_tokens: 0 };
const COST = expectedCost(MODEL, { input: 400, output: 100 });

/** Full config YAML with a cache: section in front of `fake` (ledger path: DB_PATH). */
function cacheYaml(fake, cache) {
  return toYaml({
    server: { max_body_bytes: 1048576, threads: 2 },
    ledger: { path: 'DB_PATH', batch_size: 256, flush_interval_ms: 20 },
    pricing: { overrides: Object.entries(PRICES).map(([model, p]) => ({ model, ...p })) },
    cache: { enabled: true, ...cache },
    providers: [openaiProvider('fakeai', fake.baseUrl)],
    models: [
      { name: MODEL, deployments: [{ provider: 'fakeai', model: MODEL }] },
      { name: 'gpt-3.5-turbo-instruct', deployments: [{ provider: 'fakeai', model: 'gpt-3.5-turbo-instruct' }] },
    ],
  }) + '\n';
}

const body = (content, extra = {}) => ({ model: MODEL, messages: [{ role: 'user', content }], temperature: 0, ...extra });
const chatPost = (tg, b, headers = {}) => post(tg.base, '/v1/chat/completions', b, headers);
const rowOf = async (tg, r) => (await tg.waitForRows(1, { where: `id = '${r.headers.get('x-tollgate-request-id')}'` }))[0];
const answer = (r) => r.json?.choices?.[0]?.message?.content;

let fake;
let tg; // scope key (default), semantic MinHash on
before(async () => {
  fake = await startFakeOpenAI();
  fake.set({ usage: USAGE });
  tg = await startTollgate({ yaml: cacheYaml(fake, { path: path.join(tempDir(), 'cache.db'), semantic: true }) });
});
after(async () => { await stopAll(); await fake.close(); });

// ---------------------------------------------------------------------------
// Exact cache

test('exact cache: miss then hit, the hit costs $0, is not sent upstream and replays the stored answer', async () => {
  fake.reset().set({ usage: USAGE, content: 'Paris is the capital of France.' });
  const b = body('exact-1: what is the capital of France?');
  const miss = await chatPost(tg, b);
  assert.equal(miss.status, 200, miss.text);
  assert.equal(miss.headers.get('x-tollgate-cache'), 'miss');
  closeTo(miss.headers.get('x-tollgate-cost-usd'), COST, 'miss cost header');

  // The upstream would now answer differently: a hit must not ask it.
  fake.set({ content: 'SOMETHING ELSE' });
  const hit = await chatPost(tg, b);
  assert.equal(hit.status, 200, hit.text);
  assert.equal(hit.headers.get('x-tollgate-cache'), 'hit');
  assert.equal(hit.headers.get('x-tollgate-cache-match'), null, 'an exact hit is not marked semantic');
  assert.equal(Number(hit.headers.get('x-tollgate-cost-usd')), 0);
  assert.match(hit.headers.get('content-type') ?? '', /application\/json/);
  assert.equal(answer(hit), 'Paris is the capital of France.');
  assert.deepEqual(hit.json.usage, miss.json.usage, 'the stored usage is served');
  assert.equal(fake.apiRequests().length, 1, 'only the miss reached the upstream');
  assert.notEqual(hit.headers.get('x-tollgate-request-id'), miss.headers.get('x-tollgate-request-id'));

  const mrow = await rowOf(tg, miss);
  assert.equal(mrow.cache, 'miss');
  assert.equal(mrow.provider, 'fakeai');
  closeTo(mrow.cost_usd, COST, 'miss ledger cost');
  assert.equal(mrow.savings_lever, null);
  const hrow = await rowOf(tg, hit);
  assert.equal(hrow.cache, 'hit');
  assert.equal(hrow.provider, 'cache');
  assert.equal(hrow.status, 200);
  assert.equal(hrow.cost_usd, 0);
  assert.equal(hrow.savings_lever, 'cache');
  assert.equal(hrow.baseline_model, MODEL);
  closeTo(hrow.baseline_cost_usd, COST, 'hit baseline = what the filling call cost');
  assert.equal(hrow.api_key, keyFingerprint('sk-client-test'));
});

test('exact cache: a different prompt, model parameter or max_tokens is a different entry', async () => {
  fake.reset().set({ usage: USAGE, content: 'v1' });
  const b = body('exact-2: name a prime number');
  assert.equal((await chatPost(tg, b)).headers.get('x-tollgate-cache'), 'miss');
  assert.equal((await chatPost(tg, { ...b, max_tokens: 5 })).headers.get('x-tollgate-cache'), 'miss');
  assert.equal((await chatPost(tg, body('exact-2: name an even number'))).headers.get('x-tollgate-cache'), 'miss');
  // Neutral fields (user, stream_options without stream, metadata) and key order do not matter.
  const reordered = { temperature: 0, messages: b.messages, model: MODEL, user: 'someone-else' };
  const r = await chatPost(tg, reordered);
  assert.equal(r.headers.get('x-tollgate-cache'), 'hit');
  assert.equal(fake.apiRequests().length, 3);
});

test('exact cache: /v1/completions is cached too', async () => {
  fake.reset().set({ usage: USAGE, content: 'completion text' });
  const b = { model: 'gpt-3.5-turbo-instruct', prompt: 'exact-3: say something', temperature: 0, max_tokens: 20 };
  const miss = await post(tg.base, '/v1/completions', b);
  assert.equal(miss.status, 200, miss.text);
  assert.equal(miss.headers.get('x-tollgate-cache'), 'miss');
  fake.set({ content: 'other text' });
  const hit = await post(tg.base, '/v1/completions', b);
  assert.equal(hit.headers.get('x-tollgate-cache'), 'hit');
  assert.equal(hit.json.choices[0].text, 'completion text');
  assert.equal(fake.apiRequests().length, 1);
});

test('client header: off bypasses, refresh re-fetches and overwrites, on forces caching at temperature > 0', async () => {
  fake.reset().set({ usage: USAGE, content: 'first answer' });
  const b = body('hdr-1: tell me about the moon');
  assert.equal((await chatPost(tg, b)).headers.get('x-tollgate-cache'), 'miss');

  fake.set({ content: 'second answer' });
  const off = await chatPost(tg, b, { 'x-tollgate-cache': 'off' });
  assert.equal(off.headers.get('x-tollgate-cache'), 'bypass');
  assert.equal(answer(off), 'second answer', 'off goes upstream');
  assert.equal((await rowOf(tg, off)).cache, 'bypass');
  // ...and does not overwrite the entry.
  assert.equal(answer(await chatPost(tg, b)), 'first answer');

  const refresh = await chatPost(tg, b, { 'x-tollgate-cache': 'refresh' });
  assert.equal(refresh.headers.get('x-tollgate-cache'), 'miss');
  assert.equal(answer(refresh), 'second answer', 'refresh goes upstream');
  fake.set({ content: 'third answer' });
  const after = await chatPost(tg, b);
  assert.equal(after.headers.get('x-tollgate-cache'), 'hit');
  assert.equal(answer(after), 'second answer', 'refresh stored the new answer');
  assert.equal(fake.apiRequests().length, 3, 'miss, off, refresh went upstream');
});

test('temperature policy bypass: temperature > 0 (or absent) is never cached unless the client sends on', async () => {
  fake.reset().set({ usage: USAGE, content: 'warm' });
  const hot = body('temp-1: write a poem', { temperature: 0.7 });
  const a = await chatPost(tg, hot);
  const b = await chatPost(tg, hot);
  assert.equal(a.headers.get('x-tollgate-cache'), 'bypass');
  assert.equal(b.headers.get('x-tollgate-cache'), 'bypass');
  assert.equal((await rowOf(tg, b)).cache, 'bypass');
  const noTemp = { model: MODEL, messages: [{ role: 'user', content: 'temp-1: no temperature given' }] };
  assert.equal((await chatPost(tg, noTemp)).headers.get('x-tollgate-cache'), 'bypass', 'absent temperature is the API default 1');
  assert.equal(fake.apiRequests().length, 3);

  const on1 = await chatPost(tg, hot, { 'x-tollgate-cache': 'on' });
  assert.equal(on1.headers.get('x-tollgate-cache'), 'miss');
  fake.set({ content: 'changed' });
  const on2 = await chatPost(tg, hot, { 'x-tollgate-cache': 'on' });
  assert.equal(on2.headers.get('x-tollgate-cache'), 'hit');
  assert.equal(answer(on2), 'warm');
  assert.equal(fake.apiRequests().length, 4);
});

test('client header: an unknown x-tollgate-cache value is a 400 naming the header', async () => {
  fake.reset();
  for (const v of ['maybe', 'bypass', 'hit']) {
    const r = await chatPost(tg, body('hdr-2: anything'), { 'x-tollgate-cache': v });
    assert.equal(r.status, 400, `${JSON.stringify(v)} -> ${r.status} ${r.text}`);
    assert.equal(r.json?.error?.type, 'invalid_request_error', r.text);
    assert.equal(r.json.error.param, 'x-tollgate-cache');
    assert.match(r.json.error.message, /x-tollgate-cache/);
    assert.ok(r.headers.get('x-tollgate-request-id'));
  }
  assert.equal(fake.apiRequests().length, 0);
});

// ---------------------------------------------------------------------------
// Streaming

function sdk(tgInst, apiKey = 'sk-client-test') {
  return new OpenAI({ baseURL: tgInst.base + '/v1', apiKey, maxRetries: 0, timeout: 10000 });
}

test('streamed hit: the openai client gets a valid SSE replay of the stored answer, with usage when asked', async () => {
  const text = 'The mitochondria is the powerhouse of the cell, as every biology student learns early on.';
  fake.reset().set({ usage: USAGE, content: text });
  const b = body('stream-1: what is the powerhouse of the cell?');
  const miss = await chatPost(tg, b);
  assert.equal(miss.headers.get('x-tollgate-cache'), 'miss');
  fake.set({ content: 'not this one' });

  const client = sdk(tg);
  const { data: stream, response } = await client.chat.completions.create({ ...b, stream: true }).withResponse();
  assert.equal(response.headers.get('x-tollgate-cache'), 'hit');
  assert.match(response.headers.get('content-type') ?? '', /^text\/event-stream/);
  let got = '';
  let chunks = 0;
  let finish = null;
  let usage = null;
  for await (const chunk of stream) {
    chunks++;
    assert.equal(chunk.object, 'chat.completion.chunk');
    got += chunk.choices[0]?.delta?.content ?? '';
    finish = chunk.choices[0]?.finish_reason ?? finish;
    if (chunk.usage) usage = chunk.usage;
  }
  assert.equal(got, text);
  assert.ok(chunks >= 3, `a real stream of several chunks, got ${chunks}`);
  assert.equal(finish, 'stop');
  assert.equal(usage, null, 'no usage chunk unless asked for');

  const s2 = await client.chat.completions.create({ ...b, stream: true, stream_options: { include_usage: true } });
  got = '';
  for await (const chunk of s2) {
    got += chunk.choices[0]?.delta?.content ?? '';
    if (chunk.usage) usage = chunk.usage;
  }
  assert.equal(got, text);
  assert.ok(usage, 'include_usage yields a usage chunk on a hit');
  assert.equal(usage.prompt_tokens, USAGE.prompt_tokens);
  assert.equal(usage.completion_tokens, USAGE.completion_tokens);
  assert.equal(fake.apiRequests().length, 1, 'both streams came from the cache');

  // Raw wire: [DONE] last, a cost trailer of 0, a streamed hit row.
  const raw = await chatPost(tg, { ...b, stream: true });
  const data = parseSSE(raw.text).filter((e) => e.data !== null).map((e) => e.data);
  assert.equal(data.at(-1), '[DONE]');
  assert.equal(chatText(parseSSE(raw.text)), text);
  // The documented trailer, `: tollgate cost_usd=X request_id=Y`; a hit appends ` cache=hit`.
  const m = raw.text.match(/^: ?tollgate cost_usd=(\S+) request_id=(\S+)(?: cache=hit)?\s*$/m);
  assert.ok(m, `cost trailer in ${raw.text.slice(-200)}`);
  assert.equal(Number(m[1]), 0);
  assert.equal(m[2], raw.headers.get('x-tollgate-request-id'));
  const row = await rowOf(tg, raw);
  assert.equal(row.cache, 'hit');
  assert.equal(row.provider, 'cache');
  assert.equal(row.streamed, 1);
  assert.equal(row.cost_usd, 0);
});

test('streamed miss is stored: a later non-stream request hits with the same content', async () => {
  const text = 'Streaming first, then served whole from the cache.';
  fake.reset().set({ usage: USAGE, content: text });
  const b = body('stream-2: stream me first');
  const client = sdk(tg);
  const { data: stream, response } = await client.chat.completions.create({ ...b, stream: true }).withResponse();
  assert.equal(response.headers.get('x-tollgate-cache'), 'miss');
  let got = '';
  for await (const chunk of stream) got += chunk.choices[0]?.delta?.content ?? '';
  assert.equal(got, text);

  fake.set({ content: 'upstream changed' });
  // The entry is stored once the stream completes; allow the handler to finish.
  let hit;
  for (let i = 0; i < 20; i++) {
    hit = await chatPost(tg, b);
    if (hit.headers.get('x-tollgate-cache') === 'hit') break;
    await new Promise((r) => setTimeout(r, 25));
  }
  assert.equal(hit.headers.get('x-tollgate-cache'), 'hit', 'the streamed miss was stored');
  assert.equal(hit.json.object, 'chat.completion');
  assert.equal(answer(hit), text);
  assert.equal(hit.json.choices[0].finish_reason, 'stop');
  closeTo((await rowOf(tg, hit)).baseline_cost_usd, COST, 'baseline of a hit on a streamed entry');

  // And it streams back out again.
  const again = await client.chat.completions.create({ ...b, stream: true });
  got = '';
  for await (const chunk of again) got += chunk.choices[0]?.delta?.content ?? '';
  assert.equal(got, text);
  assert.equal(fake.apiRequests().length, 1);
});

test('streamed miss is stored with its usage: the non-stream hit has a usage object, include_usage streams it', {
}, async () => {
  fake.reset().set({ usage: USAGE, content: 'Usage must survive the round trip.' });
  const b = body('stream-3: keep my usage');
  const s = await chatPost(tg, { ...b, stream: true });
  assert.equal(s.headers.get('x-tollgate-cache'), 'miss');
  let hit;
  for (let i = 0; i < 20; i++) {
    hit = await chatPost(tg, b);
    if (hit.headers.get('x-tollgate-cache') === 'hit') break;
    await new Promise((r) => setTimeout(r, 25));
  }
  assert.equal(hit.headers.get('x-tollgate-cache'), 'hit');
  assert.deepEqual(
    { prompt: hit.json.usage?.prompt_tokens, completion: hit.json.usage?.completion_tokens, total: hit.json.usage?.total_tokens },
    { prompt: USAGE.prompt_tokens, completion: USAGE.completion_tokens, total: USAGE.prompt_tokens + USAGE.completion_tokens },
    `non-stream hit body: ${hit.text}`,
  );
  const withUsage = await chatPost(tg, { ...b, stream: true, stream_options: { include_usage: true } });
  const chunks = parseSSE(withUsage.text).filter((e) => e.data && e.data !== '[DONE]').map((e) => JSON.parse(e.data));
  const u = chunks.find((c) => c.usage)?.usage;
  assert.equal(u?.prompt_tokens, USAGE.prompt_tokens, `usage chunk of the streamed hit: ${withUsage.text}`);
});

// ---------------------------------------------------------------------------
// Tenant isolation

test('scope key: two bearer keys never share an entry', async () => {
  fake.reset().set({ usage: USAGE, content: 'tenant A secret answer' });
  const b = body('tenant-1: summarise my private notes');
  const a1 = await chatPost(tg, b, { authorization: 'Bearer sk-tenant-a' });
  assert.equal(a1.headers.get('x-tollgate-cache'), 'miss');
  fake.set({ content: 'tenant B answer' });
  const b1 = await chatPost(tg, b, { authorization: 'Bearer sk-tenant-b' });
  assert.equal(b1.headers.get('x-tollgate-cache'), 'miss', 'B must not see A\'s entry');
  assert.equal(answer(b1), 'tenant B answer');
  const a2 = await chatPost(tg, b, { authorization: 'Bearer sk-tenant-a' });
  assert.equal(a2.headers.get('x-tollgate-cache'), 'hit');
  assert.equal(answer(a2), 'tenant A secret answer');
  const b2 = await chatPost(tg, b, { authorization: 'Bearer sk-tenant-b' });
  assert.equal(answer(b2), 'tenant B answer');
  // Nor semantically: B's re-typed prompt does not match A's entry.
  fake.set({ content: 'tenant C answer' });
  const c1 = await chatPost(tg, body('TENANT-1: Summarise my private notes!'), { authorization: 'Bearer sk-tenant-c' });
  assert.equal(c1.headers.get('x-tollgate-cache'), 'miss');
  assert.equal(answer(c1), 'tenant C answer');
  assert.equal(fake.apiRequests().length, 3);
});

test('scope key with virtual keys (auth on): each virtual key has its own entries', async () => {
  const f = await startFakeOpenAI();
  try {
    f.set({ usage: USAGE, content: 'vk answer one' });
    const MASTER = 'mk-savings-cache-0123456789';
    const yaml = cacheYaml(f, { path: '' }) + toYaml({ auth: { enabled: true, master_key: MASTER } }) + '\n';
    const t = await startTollgate({ yaml });
    const mk = async (name) => {
      const res = await fetch(t.base + '/admin/keys', {
        method: 'POST', headers: { authorization: `Bearer ${MASTER}`, 'content-type': 'application/json' }, body: JSON.stringify({ name }),
      });
      assert.equal(res.status, 201, await res.clone().text());
      return (await res.json()).secret;
    };
    const [one, two] = [await mk('cache-vk-one'), await mk('cache-vk-two')];
    const b = body('vk-1: what is on my calendar?');
    const r1 = await chatPost(t, b, { authorization: `Bearer ${one}` });
    assert.equal(r1.status, 200, r1.text);
    assert.equal(r1.headers.get('x-tollgate-cache'), 'miss');
    f.set({ content: 'vk answer two' });
    const r2 = await chatPost(t, b, { authorization: `Bearer ${two}` });
    assert.equal(r2.headers.get('x-tollgate-cache'), 'miss', 'another virtual key does not see the entry');
    assert.equal(answer(r2), 'vk answer two');
    const r3 = await chatPost(t, b, { authorization: `Bearer ${one}` });
    assert.equal(r3.headers.get('x-tollgate-cache'), 'hit');
    assert.equal(answer(r3), 'vk answer one');
    const row = await rowOf(t, r3);
    assert.equal(row.provider, 'cache');
    assert.ok(row.key_id, 'the hit is attributed to the virtual key');
    assert.equal(row.key_id, (await rowOf(t, r1)).key_id);
    assert.equal(f.apiRequests().length, 2);
    await t.stop();
  } finally {
    await f.close();
  }
});

test('scope global shares entries across keys; scope project shares within a project only', async () => {
  const gfake = await startFakeOpenAI();
  try {
    gfake.set({ usage: USAGE, content: 'shared answer' });
    const g = await startTollgate({ yaml: cacheYaml(gfake, { path: '', scope: 'global' }) });
    const p = await startTollgate({ yaml: cacheYaml(gfake, { path: '', scope: 'project' }) });
    const b = body('scope-1: what is two plus two?');
    assert.equal((await chatPost(g, b, { authorization: 'Bearer sk-one' })).headers.get('x-tollgate-cache'), 'miss');
    const other = await chatPost(g, b, { authorization: 'Bearer sk-two' });
    assert.equal(other.headers.get('x-tollgate-cache'), 'hit', 'global: another key hits');
    assert.equal(answer(other), 'shared answer');
    assert.equal(gfake.apiRequests().length, 1);

    const ph = (key, project) => ({ authorization: `Bearer ${key}`, 'x-tollgate-project': project });
    assert.equal((await chatPost(p, b, ph('sk-one', 'alpha'))).headers.get('x-tollgate-cache'), 'miss');
    assert.equal((await chatPost(p, b, ph('sk-two', 'alpha'))).headers.get('x-tollgate-cache'), 'hit', 'same project, other key');
    assert.equal((await chatPost(p, b, ph('sk-one', 'beta'))).headers.get('x-tollgate-cache'), 'miss', 'other project');
    assert.equal(gfake.apiRequests().length, 3);
    await Promise.all([g.stop(), p.stop()]);
  } finally {
    await gfake.close();
  }
});

test('default_mode off + temperature_policy cache: cached only on request, temperature does not matter', async () => {
  const f = await startFakeOpenAI();
  try {
    f.set({ usage: USAGE, content: 'opt-in answer' });
    const t = await startTollgate({ yaml: cacheYaml(f, { path: '', default_mode: 'off', temperature_policy: 'cache' }) });
    const b = body('mode-1: opt in please', { temperature: 0.9 });
    assert.equal((await chatPost(t, b)).headers.get('x-tollgate-cache'), 'bypass');
    assert.equal((await chatPost(t, b)).headers.get('x-tollgate-cache'), 'bypass');
    assert.equal((await chatPost(t, b, { 'x-tollgate-cache': 'on' })).headers.get('x-tollgate-cache'), 'miss');
    const hit = await chatPost(t, b, { 'x-tollgate-cache': 'on' });
    assert.equal(hit.headers.get('x-tollgate-cache'), 'hit', 'temperature 0.9 is cached under temperature_policy: cache');
    assert.equal(answer(hit), 'opt-in answer');
    assert.equal(f.apiRequests().length, 3);
    await t.stop();
  } finally {
    await f.close();
  }
});

// ---------------------------------------------------------------------------
// Persistence

test('the cache persists in SQLite across a restart (exact and semantic)', async () => {
  const f = await startFakeOpenAI();
  try {
    f.set({ usage: USAGE, content: 'persisted answer' });
    const cachePath = path.join(tempDir(), 'persist-cache.db');
    const yaml = cacheYaml(f, { path: cachePath, semantic: true });
    const b = body('persist-1: Which planet is known as the Red Planet?');
    const t1 = await startTollgate({ yaml });
    assert.equal((await chatPost(t1, b)).headers.get('x-tollgate-cache'), 'miss');
    const stopped = await t1.stop();
    assert.equal(stopped.code, 0, `clean exit: ${t1.stderr}`);

    f.set({ content: 'fresh upstream answer' });
    const t2 = await startTollgate({ yaml });
    const hit = await chatPost(t2, b);
    assert.equal(hit.headers.get('x-tollgate-cache'), 'hit', 'exact entry survived the restart');
    assert.equal(answer(hit), 'persisted answer');
    const sem = await chatPost(t2, body('PERSIST-1 which planet is known as the red planet'));
    assert.equal(sem.headers.get('x-tollgate-cache'), 'hit', 'semantic index rebuilt from the file');
    assert.equal(sem.headers.get('x-tollgate-cache-match'), 'semantic');
    assert.equal(answer(sem), 'persisted answer');
    assert.equal(f.apiRequests().length, 1);
    await t2.stop();
  } finally {
    await f.close();
  }
});

// ---------------------------------------------------------------------------
// Semantic cache: MinHash (no embeddings_url)

test('semantic (MinHash): a re-typed prompt differing in case and punctuation hits; an unrelated one misses', async () => {
  fake.reset().set({ usage: USAGE, content: 'The Treaty of Westphalia was signed in 1648.' });
  const miss = await chatPost(tg, body('When was the Treaty of Westphalia signed? Give only the year.'));
  assert.equal(miss.headers.get('x-tollgate-cache'), 'miss');
  fake.set({ content: 'upstream again' });

  const retyped = await chatPost(tg, body('when was the treaty of westphalia signed give only the year'));
  assert.equal(retyped.headers.get('x-tollgate-cache'), 'hit');
  assert.equal(retyped.headers.get('x-tollgate-cache-match'), 'semantic');
  assert.equal(Number(retyped.headers.get('x-tollgate-cost-usd')), 0);
  assert.equal(answer(retyped), 'The Treaty of Westphalia was signed in 1648.');
  const row = await rowOf(tg, retyped);
  assert.equal(row.cache, 'semantic_hit');
  assert.equal(row.savings_lever, 'semantic_cache');
  assert.equal(row.provider, 'cache');
  assert.equal(row.cost_usd, 0);
  closeTo(row.baseline_cost_usd, COST, 'semantic hit baseline');

  const unrelated = await chatPost(tg, body('List three primary colours used in painting.'));
  assert.equal(unrelated.headers.get('x-tollgate-cache'), 'miss');
  assert.equal(unrelated.headers.get('x-tollgate-cache-match'), null);
  assert.equal(answer(unrelated), 'upstream again');

  // Only the user's wording may differ: another system prompt or temperature is another scope.
  const sys = await chatPost(tg, {
    model: MODEL, temperature: 0,
    messages: [{ role: 'system', content: 'Answer in French.' }, { role: 'user', content: 'when was the treaty of westphalia signed give only the year' }],
  });
  assert.equal(sys.headers.get('x-tollgate-cache'), 'miss', 'a system prompt changes the semantic scope');
  // Multi-turn requests are cached exactly only.
  const multi = await chatPost(tg, {
    model: MODEL, temperature: 0,
    messages: [
      { role: 'user', content: 'hi' }, { role: 'assistant', content: 'hello' },
      { role: 'user', content: 'When was the Treaty of Westphalia signed? Give only the year' },
    ],
  });
  assert.equal(multi.headers.get('x-tollgate-cache'), 'miss', 'multi-turn is not matched semantically');
  assert.equal(fake.apiRequests().length, 4);
});

// ---------------------------------------------------------------------------
// Semantic cache: embeddings from a loopback OpenAI-compatible /v1/embeddings

const PARA_A = 'How do I reverse a list in Python?';
const PARA_B = 'What is the way to invert the order of a Python list?';
const NEAR = 'Python list reversal: which method?';         // cosine 0.95 with the paraphrases
const FAR = 'Explain list comprehensions in Python.';        // cosine 0.8: below the 0.9 threshold
const UNRELATED = 'Write a haiku about autumn leaves.';      // orthogonal
const VECTORS = new Map([
  [PARA_A, [1, 0, 0, 0]],
  [PARA_B, [1, 0, 0, 0]],
  [NEAR, [0.95, Math.sqrt(1 - 0.95 ** 2), 0, 0]],
  [FAR, [0.8, 0, 0.6, 0]],
  [UNRELATED, [0, 0, 0, 1]],
]);

async function startEmbeddingsFake() {
  const calls = [];
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      let json = null;
      try { json = JSON.parse(text); } catch { /* bad request */ }
      calls.push({ path: req.url, headers: req.headers, json });
      if (req.method !== 'POST' || req.url !== '/v1/embeddings' || !json) {
        res.writeHead(404, { 'content-type': 'application/json' });
        return res.end('{"error":{"message":"not found","type":"invalid_request_error","param":null,"code":null}}');
      }
      const inputs = Array.isArray(json.input) ? json.input : [json.input];
      const data = inputs.map((s, index) => ({ object: 'embedding', index, embedding: VECTORS.get(s) ?? [0, 0.6, 0, 0.8] }));
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ object: 'list', data, model: json.model, usage: { prompt_tokens: 8, total_tokens: 8 } }));
    });
  });
  server.keepAliveTimeout = 500;
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return {
    calls,
    url: `http://127.0.0.1:${server.address().port}/v1`,
    close: () => new Promise((r) => { server.closeAllConnections?.(); server.close(() => r()); }),
  };
}

test('semantic (embeddings_url): a paraphrase with the same vector hits, cosine 0.95 hits, 0.8 and orthogonal miss', async () => {
  const f = await startFakeOpenAI();
  const emb = await startEmbeddingsFake();
  try {
    f.set({ usage: USAGE, content: 'Use list.reverse() or slicing with [::-1].' });
    const t = await startTollgate({
      yaml: cacheYaml(f, {
        path: '', semantic: true, semantic_threshold: 0.9,
        embeddings_url: emb.url, embeddings_model: 'test-embedder', embeddings_api_key: 'sk-emb-test',
      }),
    });
    const first = await chatPost(t, body(PARA_A));
    assert.equal(first.headers.get('x-tollgate-cache'), 'miss');
    assert.ok(emb.calls.length >= 1, 'the embeddings endpoint was called');
    const call = emb.calls[0];
    assert.equal(call.path, '/v1/embeddings');
    assert.equal(call.json.model, 'test-embedder');
    assert.equal(call.json.input, PARA_A, 'the user text is embedded');
    assert.equal(call.headers.authorization, 'Bearer sk-emb-test');

    f.set({ content: 'upstream answer' });
    const para = await chatPost(t, body(PARA_B));
    assert.equal(para.headers.get('x-tollgate-cache'), 'hit', 'paraphrase with an identical vector');
    assert.equal(para.headers.get('x-tollgate-cache-match'), 'semantic');
    assert.equal(answer(para), 'Use list.reverse() or slicing with [::-1].');
    assert.equal((await rowOf(t, para)).cache, 'semantic_hit');

    const near = await chatPost(t, body(NEAR));
    assert.equal(near.headers.get('x-tollgate-cache'), 'hit', 'cosine 0.95 >= 0.9');
    assert.equal(near.headers.get('x-tollgate-cache-match'), 'semantic');

    const far = await chatPost(t, body(FAR));
    assert.equal(far.headers.get('x-tollgate-cache'), 'miss', 'cosine 0.8 < 0.9');
    assert.equal(answer(far), 'upstream answer');
    const unrelated = await chatPost(t, body(UNRELATED));
    assert.equal(unrelated.headers.get('x-tollgate-cache'), 'miss');
    assert.equal(answer(unrelated), 'upstream answer');
    assert.equal(f.apiRequests().length, 3, 'first, far and unrelated went upstream');
    await t.stop();
    // Each embeddings call is ledgered too: its own row, tagged, with the request's identity.
    const embRows = await t.rows("provider = 'semantic-cache'");
    assert.equal(embRows.length, emb.calls.length);
    for (const r of embRows) {
      assert.equal(r.endpoint, 'embeddings');
      assert.equal(r.served_model, 'test-embedder');
      assert.match(r.tags, /tollgate:semantic-cache/);
      assert.ok(r.input_tokens > 0);
    }
  } finally {
    await emb.close();
    await f.close();
  }
});

test('semantic (embeddings_url): an unreachable embeddings service only skips the semantic cache', async () => {
  const f = await startFakeOpenAI();
  const emb = await startEmbeddingsFake();
  const url = emb.url;
  await emb.close(); // nothing listens there now
  try {
    f.set({ usage: USAGE, content: 'still served' });
    const t = await startTollgate({
      yaml: cacheYaml(f, { path: '', semantic: true, embeddings_url: url, embeddings_timeout_ms: 500 }),
    });
    const b = body(PARA_A);
    const r1 = await chatPost(t, b);
    assert.equal(r1.status, 200, r1.text);
    assert.equal(answer(r1), 'still served');
    const r2 = await chatPost(t, b);
    assert.equal(r2.headers.get('x-tollgate-cache'), 'hit', 'the exact cache still works');
    await t.stop();
  } finally {
    await f.close();
  }
});

// ---------------------------------------------------------------------------
// Config errors

const BAD_CACHE = [
  { name: 'cache.scope: tenant', cache: ['  scope: tenant'], line: 6 },
  { name: 'cache.default_mode: sometimes', cache: ['  default_mode: sometimes'], line: 6 },
  { name: 'cache.temperature_policy: never', cache: ['  temperature_policy: never'], line: 6 },
  { name: 'cache.minhash_threshold: 1.5', cache: ['  minhash_threshold: 1.5'], line: 6 },
  { name: 'cache.embeddings_url without scheme', cache: ['  embeddings_url: localhost:8080/v1'], line: 6 },
];

for (const bad of BAD_CACHE) {
  test(`bad config (${bad.name}): exits 2 with FILE:LINE and a fix`, async () => {
    const dir = tempDir();
    const file = path.join(dir, 'bad.yaml');
    writeFileSync(file, [
      'providers:',           // 1
      '  - name: p1',         // 2
      '    type: sim',        // 3
      'cache:',               // 4
      '  enabled: true',      // 5
      ...bad.cache,           // 6
      'models:',
      '  - name: m',
      '    deployments:',
      '      - provider: p1',
      '        model: m',
    ].join('\n') + '\n');
    for (const args of [['config', 'check', file], ['serve', '--config', file, '--listen', '127.0.0.1:0', '--db', path.join(dir, 'x.db')]]) {
      const r = await runTollgate(args, { timeoutMs: 5000 });
      assert.equal(r.code, 2, `${args[0]}: exit ${r.code}; stderr: ${r.stderr}`);
      const m = r.stderr.match(new RegExp(`${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:(\\d+)(?::\\d+)?: error: (.+)`));
      assert.ok(m, `FILE:LINE: error: in ${r.stderr}`);
      assert.equal(Number(m[1]), bad.line, r.stderr);
      assert.match(m[2], /fix:/, r.stderr);
      assert.doesNotMatch(r.stdout, /listening/);
    }
  });
}
