// 1. Basics: health, model listing, non-stream pass-through, cost headers and
//    the ledger row of a plain chat completion (identity, tags, tokens, costs).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startFakeOpenAI } from './lib/fake_openai.mjs';
import {
  startTollgate, stopAll, openaiProvider, simProvider, post, get, chatBody,
  expectedCost, closeTo, keyFingerprint, PRICES, parseSSE, parseCostTrailer, runTollgate,
} from './lib/harness.mjs';

let fake;
let tg;
before(async () => {
  fake = await startFakeOpenAI();
  tg = await startTollgate({
    providers: [
      // api_key comes from the environment, as in real configs.
      openaiProvider('fakeai', fake.baseUrl, { api_key: '${FAKE_UPSTREAM_KEY}' }),
      simProvider('sim'),
    ],
    models: [
      { name: 'gpt-4o-mini', deployments: [{ provider: 'fakeai', model: 'gpt-4o-mini' }] },
      { name: 'text-embedding-3-small', deployments: [{ provider: 'fakeai', model: 'text-embedding-3-small' }] },
      { name: 'gpt-3.5-turbo-instruct', deployments: [{ provider: 'fakeai', model: 'gpt-3.5-turbo-instruct' }] },
      { name: 'sim-small', deployments: [{ provider: 'sim', model: 'sim-small' }] },
      // No override and not in any catalog: its price is unknown.
      { name: 'mystery', deployments: [{ provider: 'fakeai', model: 'mystery-model-xyz' }] },
    ],
    env: { FAKE_UPSTREAM_KEY: 'sk-upstream-from-env' },
  });
});
after(async () => { await stopAll(); await fake.close(); });

test('GET /healthz answers {"status":"ok"}', async () => {
  const r = await get(tg.base, '/healthz');
  assert.equal(r.status, 200);
  assert.deepEqual(r.json, { status: 'ok' });
});

test('GET /v1/models lists the configured model names', async () => {
  const r = await get(tg.base, '/v1/models');
  assert.equal(r.status, 200);
  assert.equal(r.json.object, 'list');
  const ids = r.json.data.map((m) => m.id).sort();
  assert.deepEqual(ids, ['gpt-3.5-turbo-instruct', 'gpt-4o-mini', 'mystery', 'sim-small', 'text-embedding-3-small']);
  for (const m of r.json.data) assert.equal(m.object, 'model');
});

test('non-stream chat: body passes through, cost headers match usage, ledger row is complete', async () => {
  fake.reset().set({ usage: { prompt_tokens: 1000, completion_tokens: 500, cached_tokens: 0, reasoning_tokens: 100 } });
  const t0 = Date.now();
  const r = await post(tg.base, '/v1/chat/completions', chatBody('gpt-4o-mini', { user: 'body-user-1' }), {
    authorization: 'Bearer sk-client-abc',
    'x-tollgate-project': 'proj-alpha',
    'x-tollgate-tags': 'team-a,exp-42',
  });
  assert.equal(r.status, 200, r.text);

  // The upstream answer reaches the client unchanged.
  const upstream = fake.apiRequests();
  assert.equal(upstream.length, 1);
  assert.equal(r.json.object, 'chat.completion');
  assert.equal(r.json.choices[0].message.content, 'Hello from the fake upstream model.');
  assert.deepEqual(r.json.usage, {
    prompt_tokens: 1000, completion_tokens: 500, total_tokens: 1500,
    prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
    completion_tokens_details: { reasoning_tokens: 100, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
  });
  assert.equal(r.json.system_fingerprint, 'fp_fake');

  // Upstream got the provider key (expanded from ${FAKE_UPSTREAM_KEY}), never the client's.
  assert.equal(upstream[0].headers.authorization, 'Bearer sk-upstream-from-env');
  assert.equal(upstream[0].body.model, 'gpt-4o-mini');
  assert.deepEqual(upstream[0].body.messages, chatBody().messages);

  // 1000 input @ $1/M + (400 output + 100 reasoning) @ $2/M = $0.002
  const cost = expectedCost('gpt-4o-mini', { input: 1000, output: 400, reasoning: 100 });
  assert.equal(cost, 0.002);
  const requestId = r.headers.get('x-tollgate-request-id');
  assert.match(requestId ?? '', /^req_[0-9a-f]+$/);
  closeTo(r.headers.get('x-tollgate-cost-usd'), cost, 'x-tollgate-cost-usd');

  const [row] = await tg.waitForRows(1, { where: `id = '${requestId}'` });
  assert.equal(row.endpoint, 'chat.completions');
  assert.equal(row.api_key, keyFingerprint('sk-client-abc'));
  assert.equal(row.user, 'body-user-1');
  assert.equal(row.project, 'proj-alpha');
  assert.equal(row.tags, 'team-a,exp-42');
  assert.equal(row.requested_model, 'gpt-4o-mini');
  assert.equal(row.served_model, 'gpt-4o-mini');
  assert.equal(row.provider, 'fakeai');
  assert.equal(row.status, 200);
  assert.equal(row.error_class, null);
  assert.equal(row.input_tokens, 1000);
  assert.equal(row.cache_read_tokens, 0);
  assert.equal(row.output_tokens, 400, 'output_tokens excludes reasoning tokens');
  assert.equal(row.reasoning_tokens, 100);
  closeTo(row.input_cost_usd, 0.001, 'input_cost_usd');
  closeTo(row.output_cost_usd, 0.0008, 'output_cost_usd');
  closeTo(row.reasoning_cost_usd, 0.0002, 'reasoning_cost_usd');
  closeTo(row.cost_usd, cost, 'ledger cost_usd');
  assert.equal(row.streamed, 0);
  assert.equal(row.estimated, 0);
  assert.equal(row.retries, 0);
  assert.equal(row.fallbacks, 0);
  assert.equal(row.ttft_ms, null, 'ttft_ms is NULL for non-streaming');
  assert.ok(row.latency_ms >= 0 && row.latency_ms < 5000, `latency_ms ${row.latency_ms}`);
  assert.ok(row.ts_start_ms >= t0 - 1000 && row.ts_end_ms >= row.ts_start_ms, 'timestamps are epoch ms');
});

test('x-tollgate-user header overrides the body user', async () => {
  fake.reset();
  const r = await post(tg.base, '/v1/chat/completions', chatBody('gpt-4o-mini', { user: 'body-user' }), {
    'x-tollgate-user': 'header-user',
  });
  assert.equal(r.status, 200);
  const id = r.headers.get('x-tollgate-request-id');
  const [row] = await tg.waitForRows(1, { where: `id = '${id}'` });
  assert.equal(row.user, 'header-user');
});

test('cached and reasoning tokens are split into disjoint classes', async () => {
  // OpenAI: prompt_tokens includes cached_tokens; completion_tokens includes reasoning_tokens.
  fake.reset().set({ usage: { prompt_tokens: 1200, completion_tokens: 500, cached_tokens: 200, reasoning_tokens: 100 } });
  const r = await post(tg.base, '/v1/chat/completions', chatBody());
  assert.equal(r.status, 200);
  const id = r.headers.get('x-tollgate-request-id');
  const [row] = await tg.waitForRows(1, { where: `id = '${id}'` });
  assert.equal(row.input_tokens, 1000, 'uncached input');
  assert.equal(row.cache_read_tokens, 200);
  assert.equal(row.output_tokens, 400);
  assert.equal(row.reasoning_tokens, 100);
  assert.equal(row.input_tokens + row.cache_read_tokens + row.cache_write_5m_tokens + row.cache_write_1h_tokens
    + row.output_tokens + row.reasoning_tokens, 1700, 'classes add up to total_tokens');
  closeTo(row.input_cost_usd, 1000 * PRICES['gpt-4o-mini'].input / 1e6, 'input_cost_usd');
  const parts = row.input_cost_usd + row.cache_read_cost_usd + row.cache_write_cost_usd + row.output_cost_usd + row.reasoning_cost_usd;
  closeTo(row.cost_usd, parts, 'cost_usd = sum of class costs');
  assert.ok(row.cache_read_cost_usd <= 200 * PRICES['gpt-4o-mini'].input / 1e6 + 1e-12, 'cached input never costs more than uncached');
  closeTo(r.headers.get('x-tollgate-cost-usd'), row.cost_usd, 'header equals ledger');
});

test('/v1/embeddings and /v1/completions are proxied and metered', async () => {
  fake.reset().set({ usage: { prompt_tokens: 2000, completion_tokens: 300, cached_tokens: 0, reasoning_tokens: 0 } });
  const e = await post(tg.base, '/v1/embeddings', { model: 'text-embedding-3-small', input: ['hello', 'world'] });
  assert.equal(e.status, 200, e.text);
  assert.equal(e.json.object, 'list');
  assert.equal(e.json.data.length, 2);
  closeTo(e.headers.get('x-tollgate-cost-usd'), expectedCost('text-embedding-3-small', { input: 2000 }), 'embeddings cost');

  const c = await post(tg.base, '/v1/completions', { model: 'gpt-3.5-turbo-instruct', prompt: 'Once upon', max_tokens: 5 });
  assert.equal(c.status, 200, c.text);
  assert.equal(c.json.object, 'text_completion');
  closeTo(c.headers.get('x-tollgate-cost-usd'), expectedCost('gpt-3.5-turbo-instruct', { input: 2000, output: 300 }), 'completions cost');

  const [er] = await tg.waitForRows(1, { where: `id = '${e.headers.get('x-tollgate-request-id')}'` });
  assert.equal(er.endpoint, 'embeddings');
  assert.equal(er.input_tokens, 2000);
  assert.equal(er.output_tokens, 0);
  const [cr] = await tg.waitForRows(1, { where: `id = '${c.headers.get('x-tollgate-request-id')}'` });
  assert.equal(cr.endpoint, 'completions');
  assert.equal(cr.input_tokens, 2000);
  assert.equal(cr.output_tokens, 300);
});

test('every request gets a distinct request id', async () => {
  fake.reset();
  const ids = new Set();
  for (let i = 0; i < 5; i++) {
    const r = await post(tg.base, '/v1/chat/completions', chatBody());
    ids.add(r.headers.get('x-tollgate-request-id'));
  }
  assert.equal(ids.size, 5);
});

test('unknown price: cost header and trailer say "unknown", ledger cost_usd is NULL, tokens still counted', async () => {
  fake.reset();
  const r = await post(tg.base, '/v1/chat/completions', chatBody('mystery'));
  assert.equal(r.status, 200, r.text);
  assert.equal(r.headers.get('x-tollgate-cost-usd'), 'unknown');
  const s = await post(tg.base, '/v1/chat/completions', chatBody('mystery', { stream: true }));
  assert.equal(s.status, 200);
  assert.equal(parseCostTrailer(s.text)?.cost, 'unknown');
  assert.equal(parseSSE(s.text).filter((e) => e.data === '[DONE]').length, 1);

  const rows = await tg.waitForRows(2, { where: "requested_model = 'mystery'" });
  for (const row of rows) {
    assert.equal(row.cost_usd, null, 'unknown price is NULL, never $0');
    assert.equal(row.served_model, 'mystery-model-xyz');
    assert.equal(row.input_tokens, 1000);
    assert.equal(row.output_tokens, 500);
  }
  const rep = await runTollgate(['report', '--db', tg.dbPath, '--by', 'model', '--format', 'json']);
  assert.equal(rep.code, 0, rep.stderr);
  assert.ok(JSON.parse(rep.stdout).totals.unknown_cost_requests >= 2, rep.stdout);
});

test('CLI: version, config docs, config check', async () => {
  const v = await runTollgate(['version']);
  assert.equal(v.code, 0);
  assert.match(v.stdout, /^tollgate \S+/);
  const d = await runTollgate(['config', 'docs']);
  assert.equal(d.code, 0);
  for (const key of ['max_body_bytes', 'flush_interval_ms', 'first_byte_timeout_ms', 'ca_file', 'tokens_per_second', 'deployments']) {
    assert.ok(d.stdout.includes(key), `config docs mentions ${key}`);
  }
  const c = await runTollgate(['config', 'check', tg.configPath], { env: { FAKE_UPSTREAM_KEY: 'x' } });
  assert.equal(c.code, 0, c.stderr);
});
