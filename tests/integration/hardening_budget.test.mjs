// Budgets cannot be overspent by an uncapped answer (issue 11, point 4).
//
// A governed request reserves its worst case: its input bound plus its output
// cap (or governance.default_max_tokens when it sets none) at the model's
// output price. That reservation only holds if the upstream cannot produce
// more than the cap, so tollgate injects the reserved cap into every governed
// request that sets none, in the field of the upstream API:
//   chat         max_completion_tokens (provider type openai / azure),
//                max_tokens (openai-compatible)
//   completions  max_tokens
//   responses    max_output_tokens (also read for the reservation)
//   messages     max_tokens
//   Gemini       generationConfig.maxOutputTokens (also read for the reservation)
// With clamp_max_tokens the injected cap is the clamped one.
//
// The fakes run with `honourCaps`: each reports as many output tokens as the
// cap it received (a model that uses all of it), or 50,000 when it received
// none, and 10 prompt tokens (fewer than any body has bytes, so the input part
// of a reservation is honest). Prices: $10 / 1M input, $20 / 1M output for
// every model, so an uncapped answer costs $1 and a default-capped one $0.0201.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { startFakeOpenAI } from './lib/fake_openai.mjs';
import { startFakeAnthropic, anthropicProvider, DEFAULT_ANTHROPIC_BEHAVIOUR } from './lib/fake_anthropic.mjs';
import { startFakeGemini, geminiProvider } from './lib/fake_gemini.mjs';
import { startTollgate, stopAll, toYaml, openaiProvider, post, closeTo } from './lib/harness.mjs';
import { IN_USD, OUT_USD, GOV_PRICE, sql, MASTER_KEY } from './lib/governance_helpers.mjs';

const DEFAULT_MAX = 1000;   // governance.default_max_tokens of these servers
const PROMPT_TOKENS = 10;   // what every fake reports as input
const UNCAPPED = 50000;     // what every fake reports as output when it got no cap
const OWN_CAP = 37;

// ---------------------------------------------------------------------------
// Upstreams

/** A minimal OpenAI Responses upstream (non-stream) that honours max_output_tokens. */
class FakeResponses {
  constructor() { this.requests = []; this.counter = 0; }

  async start() {
    this.server = http.createServer((req, res) => this.#handle(req, res).catch((err) => {
      console.error('fake responses handler error:', err);
      res.destroy();
    }));
    this.server.keepAliveTimeout = 1000;
    await new Promise((r) => this.server.listen(0, '127.0.0.1', r));
    this.port = this.server.address().port;
    this.baseUrl = `http://127.0.0.1:${this.port}/v1`;
    return this;
  }

  async close() {
    this.server.closeAllConnections?.();
    await new Promise((r) => this.server.close(() => r()));
  }

  async #handle(req, res) {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const bodyText = Buffer.concat(chunks).toString('utf8');
    let body = null;
    try { body = JSON.parse(bodyText); } catch { /* answered 400 below */ }
    const record = { path: req.url, headers: req.headers, bodyText, body };
    this.requests.push(record);
    if (req.url !== '/v1/responses' || req.method !== 'POST' || body === null) {
      res.writeHead(req.url === '/v1/responses' ? 400 : 404, { 'content-type': 'application/json' });
      return res.end(JSON.stringify({ error: { message: 'Invalid request', type: 'invalid_request_error', param: null, code: null } }));
    }
    const cap = body.max_output_tokens;
    const output = Number.isInteger(cap) && cap > 0 ? cap : UNCAPPED;
    record.usage = { input_tokens: PROMPT_TOKENS, output_tokens: output };
    const n = String(++this.counter).padStart(6, '0');
    const text = 'Hello from the fake Responses model.';
    res.writeHead(200, { 'content-type': 'application/json', 'x-request-id': `req_${n}` });
    res.end(JSON.stringify({
      id: `resp_fake${n}`, object: 'response', created_at: 1741476542, status: 'completed', error: null,
      incomplete_details: null, max_output_tokens: body.max_output_tokens ?? null, model: body.model,
      output: [{ id: `msg_fake${n}`, type: 'message', status: 'completed', role: 'assistant',
        content: [{ type: 'output_text', annotations: [], text }] }],
      usage: {
        input_tokens: PROMPT_TOKENS, input_tokens_details: { cached_tokens: 0 },
        output_tokens: output, output_tokens_details: { reasoning_tokens: 0 },
        total_tokens: PROMPT_TOKENS + output,
      },
    }));
  }
}

/**
 * Azure OpenAI in front of the fakes: /openai/deployments/{d}/{op}?api-version=V
 * goes to fake_openai's /v1/{op}, /openai/responses to the Responses fake.
 */
async function startAzureWrapper(openaiPort, responsesPort) {
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://x');
    const m = url.pathname.match(/^\/openai\/deployments\/([^/]+)\/(chat\/completions|completions)$/);
    const responses = url.pathname === '/openai/responses';
    if ((!m && !responses) || !url.searchParams.get('api-version') || req.headers['api-key'] !== 'azure-upstream-key') {
      res.writeHead(404, { 'content-type': 'application/json' });
      return res.end(JSON.stringify({ error: { code: '404', message: 'Resource not found' } }));
    }
    const { host, ...headers } = req.headers;
    const [port, path] = responses ? [responsesPort, '/v1/responses'] : [openaiPort, `/v1/${m[2]}`];
    const up = http.request({ host: '127.0.0.1', port, method: req.method, path, headers }, (upRes) => {
      res.writeHead(upRes.statusCode, upRes.headers);
      upRes.pipe(res);
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  server.keepAliveTimeout = 1000;
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return {
    baseUrl: `http://127.0.0.1:${server.address().port}/openai`,
    close: () => { server.closeAllConnections?.(); return new Promise((r) => server.close(() => r())); },
  };
}

let openai;
let anthropic;
let gemini;
let responses;
let azure;

before(async () => {
  openai = await startFakeOpenAI();
  openai.set({
    honourCaps: true, uncappedOutputTokens: UNCAPPED,
    usage: { prompt_tokens: PROMPT_TOKENS, completion_tokens: 0, cached_tokens: 0, reasoning_tokens: 0 },
  });
  anthropic = await startFakeAnthropic();
  anthropic.set({ honourCaps: true, usage: { ...DEFAULT_ANTHROPIC_BEHAVIOUR.usage, input_tokens: PROMPT_TOKENS, output_tokens: 0 } });
  gemini = await startFakeGemini();
  gemini.set({
    honourCaps: true, uncappedOutputTokens: UNCAPPED,
    usage: { promptTokenCount: PROMPT_TOKENS, candidatesTokenCount: 0, thoughtsTokenCount: 0, cachedContentTokenCount: 0 },
  });
  responses = await new FakeResponses().start();
  azure = await startAzureWrapper(openai.port, responses.port);
});
after(async () => {
  await stopAll();
  await Promise.all([openai.close(), anthropic.close(), gemini.close(), responses.close(), azure.close()]);
});

// ---------------------------------------------------------------------------
// The gateway: one model per (client API, provider type) pair.

const MODELS = {
  'm-compat': { provider: 'compat', model: 'm-compat' },           // openai-compatible
  'm-openai': { provider: 'oai', model: 'm-openai' },              // openai
  'm-azure': { provider: 'az', model: 'm-azure-deploy' },          // azure (chat, completions)
  'm-responses': { provider: 'oai-resp', model: 'm-responses' },   // openai (Responses fake)
  'm-azure-resp': { provider: 'az-resp', model: 'm-azure-resp' },  // azure (Responses fake)
  'm-claude': { provider: 'claude', model: 'm-claude' },           // anthropic
  'm-gemini': { provider: 'google', model: 'm-gemini' },           // gemini
};

/** Starts tollgate with every provider above; `budgets` and `governance` as given. */
async function startGateway({ budgets, governance = {} }) {
  const served = [...new Set(Object.values(MODELS).map((d) => d.model))];
  const cfg = {
    server: { max_body_bytes: 1048576, threads: 2 },
    ledger: { path: 'DB_PATH', batch_size: 256, flush_interval_ms: 20 },
    pricing: { overrides: served.map((model) => ({ model, ...GOV_PRICE })) },
    providers: [
      openaiProvider('compat', openai.baseUrl),
      openaiProvider('oai', openai.baseUrl, { type: 'openai', api_key: 'sk-openai-upstream' }),
      openaiProvider('az', azure.baseUrl, { type: 'azure', api_key: 'azure-upstream-key', api_version: '2025-01-01-preview' }),
      openaiProvider('oai-resp', responses.baseUrl, { type: 'openai', api_key: 'sk-openai-upstream' }),
      openaiProvider('az-resp', azure.baseUrl, { type: 'azure', api_key: 'azure-upstream-key', api_version: '2025-01-01-preview' }),
      anthropicProvider('claude', anthropic.baseUrl),
      geminiProvider('google', gemini.baseUrl),
    ],
    models: Object.entries(MODELS).map(([name, d]) => ({ name, deployments: [d] })),
    auth: { enabled: false, master_key: MASTER_KEY },
    governance: { reload_interval_ms: 100, default_max_tokens: DEFAULT_MAX, ...governance },
    budgets,
  };
  return startTollgate({ yaml: toYaml(cfg) + '\n' });
}

// ---------------------------------------------------------------------------
// Client APIs: how to send a request, where it lands, and its cap field.

const chatMsgs = [{ role: 'user', content: 'Say hello.' }];

/**
 * Each API case: the client path and body, with `cap` the client's own output
 * cap (undefined: none); `fake()` the recorder that sees the upstream request,
 * `field` the upstream cap field (a path into the body), and `absent` the cap
 * fields that must not be added beside it.
 */
const API = {
  'chat/openai-compatible': {
    path: '/v1/chat/completions',
    body: (cap, stream) => ({ model: 'm-compat', messages: chatMsgs, ...(stream ? { stream: true } : {}), ...(cap ? { max_tokens: cap } : {}) }),
    fake: () => openai.apiRequests(), field: ['max_tokens'], absent: ['max_completion_tokens'],
  },
  'chat/openai': {
    path: '/v1/chat/completions',
    body: (cap, stream) => ({ model: 'm-openai', messages: chatMsgs, ...(stream ? { stream: true } : {}), ...(cap ? { max_completion_tokens: cap } : {}) }),
    fake: () => openai.apiRequests(), field: ['max_completion_tokens'], absent: ['max_tokens'],
  },
  'chat/azure': {
    path: '/v1/chat/completions',
    body: (cap, stream) => ({ model: 'm-azure', messages: chatMsgs, ...(stream ? { stream: true } : {}), ...(cap ? { max_completion_tokens: cap } : {}) }),
    fake: () => openai.apiRequests(), field: ['max_completion_tokens'], absent: ['max_tokens'],
  },
  'completions/openai-compatible': {
    path: '/v1/completions',
    body: (cap, stream) => ({ model: 'm-compat', prompt: 'Say hello.', ...(stream ? { stream: true } : {}), ...(cap ? { max_tokens: cap } : {}) }),
    fake: () => openai.apiRequests(), field: ['max_tokens'], absent: ['max_completion_tokens'],
  },
  'completions/openai': {
    path: '/v1/completions',
    body: (cap) => ({ model: 'm-openai', prompt: 'Say hello.', ...(cap ? { max_tokens: cap } : {}) }),
    fake: () => openai.apiRequests(), field: ['max_tokens'], absent: ['max_completion_tokens'],
  },
  'responses/openai': {
    path: '/v1/responses',
    body: (cap) => ({ model: 'm-responses', input: 'Say hello.', ...(cap ? { max_output_tokens: cap } : {}) }),
    fake: () => responses.requests, field: ['max_output_tokens'], absent: ['max_tokens', 'max_completion_tokens'],
  },
  'responses/azure': {
    path: '/v1/responses',
    body: (cap) => ({ model: 'm-azure-resp', input: 'Say hello.', ...(cap ? { max_output_tokens: cap } : {}) }),
    fake: () => responses.requests, field: ['max_output_tokens'], absent: ['max_tokens', 'max_completion_tokens'],
  },
  'messages/anthropic': {
    path: '/v1/messages',
    headers: { 'anthropic-version': '2023-06-01' },
    body: (cap, stream) => ({ model: 'm-claude', messages: chatMsgs, ...(stream ? { stream: true } : {}), ...(cap ? { max_tokens: cap } : {}) }),
    fake: () => anthropic.messageRequests(), field: ['max_tokens'], absent: ['max_completion_tokens'],
  },
  'gemini/gemini': {
    path: '/v1beta/models/m-gemini:generateContent',
    streamPath: '/v1beta/models/m-gemini:streamGenerateContent?alt=sse',
    headers: { authorization: '', 'x-goog-api-key': 'client-gemini-key' },
    body: (cap) => ({
      contents: [{ role: 'user', parts: [{ text: 'Say hello.' }] }],
      ...(cap ? { generationConfig: { maxOutputTokens: cap } } : {}),
    }),
    fake: () => gemini.requests, field: ['generationConfig', 'maxOutputTokens'], absent: ['max_tokens', 'max_completion_tokens'],
  },
};

const dig = (obj, path) => path.reduce((o, k) => (o === null || o === undefined ? undefined : o[k]), obj);

/** Sends one request of API case `api`; returns {res, up} with `up` the upstream request it caused. */
async function send(tg, api, { cap, stream = false, project, body } = {}) {
  const a = API[api];
  const fakeBefore = a.fake().length;
  const b = body ?? a.body(cap, stream);
  const headers = { ...(a.headers ?? {}), ...(project ? { 'x-tollgate-project': project } : {}) };
  const res = await post(tg.base, stream && a.streamPath ? a.streamPath : a.path, JSON.stringify(b), headers);
  const ups = a.fake().slice(fakeBefore);
  return { res, ups, up: ups[0], bodyBytes: Buffer.byteLength(JSON.stringify(b)) };
}

/** The ledger row of a response (by x-tollgate-request-id). */
async function rowOf(tg, res) {
  const id = res.headers.get('x-tollgate-request-id');
  assert.ok(id, `x-tollgate-request-id on ${res.status} ${res.text.slice(0, 200)}`);
  const [row] = await tg.waitForRows(1, { where: `id = '${id}'`, timeoutMs: 5000 });
  return row;
}

/** Asserts a reservation of (input bound + cap) within a few bytes of input. */
function assertReservedFor(row, bodyBytes, cap, what) {
  const expected = bodyBytes * IN_USD + cap * OUT_USD;
  // 64 bytes of slack on the input bound ($0.00064) is far below the gap
  // between caps the tests tell apart (37 vs 1000 tokens: $0.019).
  assert.ok(Math.abs(row.reserved_usd - expected) <= 64 * IN_USD + 1e-12,
    `${what}: reserved_usd ${row.reserved_usd}, expected ~${expected} (${bodyBytes} body bytes + ${cap} output tokens)`);
}

// A global budget far above anything spent here: every request is governed.
const GLOBAL = { name: 'global-roomy', scope: 'global', window: 'lifetime', limit_usd: 1000 };

// ---------------------------------------------------------------------------

test('no cap: governance.default_max_tokens is injected upstream, in the field of each API and provider type', async () => {
  const tg = await startGateway({ budgets: [GLOBAL] });
  const cases = [
    ...Object.keys(API).map((api) => [api, false]),
    ['chat/openai-compatible', true], ['chat/openai', true], ['messages/anthropic', true], ['gemini/gemini', true],
  ];
  const failures = [];
  for (const [api, stream] of cases) {
    const what = `${api}${stream ? ' (stream)' : ''}`;
    try {
      const { res, up, bodyBytes } = await send(tg, api, { stream });
      assert.equal(res.status, 200, `${what}: ${res.text.slice(0, 300)}`);
      assert.ok(up?.body, `${what}: the upstream got a JSON body`);
      const a = API[api];
      assert.equal(dig(up.body, a.field), DEFAULT_MAX, `${what}: upstream ${a.field.join('.')} in ${up.bodyText}`);
      for (const f of a.absent) assert.ok(!(f in up.body), `${what}: no ${f} beside ${a.field.join('.')}: ${up.bodyText}`);
      const row = await rowOf(tg, res);
      assertReservedFor(row, bodyBytes, DEFAULT_MAX, what);
      closeTo(row.cost_usd, PROMPT_TOKENS * IN_USD + DEFAULT_MAX * OUT_USD, `${what}: cost of the capped answer`);
      assert.ok(row.cost_usd <= row.reserved_usd + 1e-12, `${what}: cost ${row.cost_usd} > reserved ${row.reserved_usd}`);
    } catch (e) {
      failures.push(e.message);
    }
  }
  // A Gemini generationConfig of the client's own keeps its other settings.
  try {
    const body = { contents: [{ role: 'user', parts: [{ text: 'Say hello.' }] }], generationConfig: { temperature: 0.25, topK: 3 } };
    const { res, up } = await send(tg, 'gemini/gemini', { body });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(up.body.generationConfig, { temperature: 0.25, topK: 3, maxOutputTokens: DEFAULT_MAX },
      `gemini generationConfig merged: ${up.bodyText}`);
  } catch (e) {
    failures.push(e.message);
  }
  await tg.stop();
  assert.deepEqual(failures, [], `${failures.length} cases failed:\n${failures.join('\n')}`);
});

test('own cap: forwarded with its own value, and reserved for (max_output_tokens and maxOutputTokens included)', async () => {
  const tg = await startGateway({ budgets: [GLOBAL] });
  const cases = [
    ...Object.keys(API).map((api) => [api, API[api].body(OWN_CAP), API[api].field, API[api].absent]),
    // The other OpenAI chat cap field is the client's cap just as well: nothing added beside it.
    ['chat/openai-compatible', { model: 'm-compat', messages: chatMsgs, max_completion_tokens: OWN_CAP }, ['max_completion_tokens'], ['max_tokens']],
    ['chat/openai', { model: 'm-openai', messages: chatMsgs, max_tokens: OWN_CAP }, ['max_tokens'], ['max_completion_tokens']],
  ];
  const failures = [];
  for (const [api, body, field, absent] of cases) {
    const what = `${api} with ${field.join('.')}: ${OWN_CAP}`;
    try {
      const { res, up, bodyBytes } = await send(tg, api, { body });
      assert.equal(res.status, 200, `${what}: ${res.text.slice(0, 300)}`);
      assert.equal(dig(up.body, field), OWN_CAP, `${what}: upstream body ${up.bodyText}`);
      for (const f of absent) assert.ok(!(f in up.body), `${what}: no ${f} added: ${up.bodyText}`);
      const row = await rowOf(tg, res);
      assertReservedFor(row, bodyBytes, OWN_CAP, what);
      closeTo(row.cost_usd, PROMPT_TOKENS * IN_USD + OWN_CAP * OUT_USD, `${what}: cost`);
    } catch (e) {
      failures.push(e.message);
    }
  }
  await tg.stop();
  assert.deepEqual(failures, [], `${failures.length} cases failed:\n${failures.join('\n')}`);
});

test('clamp_max_tokens: the injected (or lowered) cap is the clamped reservation, in each API\'s field', async () => {
  // One $0.01 budget per case (by project), so each starts empty: what fits is
  // floor(($0.01 - body bytes x $0.00001) / $0.00002), about 460 tokens.
  const LIMIT = 0.01;
  const cases = [
    ['chat/openai-compatible', undefined], ['chat/openai', undefined], ['completions/openai-compatible', undefined],
    ['responses/openai', undefined], ['responses/openai', 100000],
    ['messages/anthropic', undefined], ['messages/anthropic', 100000],
    ['gemini/gemini', undefined], ['gemini/gemini', 100000],
  ];
  const budgets = [GLOBAL, ...cases.map((_, i) => ({ name: `clamp-${i}`, scope: 'project', subject: `clamp-${i}`, window: 'lifetime', limit_usd: LIMIT }))];
  const tg = await startGateway({ budgets, governance: { clamp_max_tokens: true } });
  const failures = [];
  for (const [i, [api, cap]] of cases.entries()) {
    const what = `${api} ${cap ? `with cap ${cap}` : 'without a cap'}`;
    try {
      const { res, up, bodyBytes } = await send(tg, api, { cap, project: `clamp-${i}` });
      assert.equal(res.status, 200, `${what}: ${res.text.slice(0, 300)}`);
      const fit = Math.floor((LIMIT - bodyBytes * IN_USD) / OUT_USD);
      const sent = dig(up.body, API[api].field);
      // +-1: float rounding of (limit - input) / price differs by order of operations.
      assert.ok(Number.isInteger(sent) && Math.abs(sent - fit) <= 1,
        `${what}: upstream ${API[api].field.join('.')} = ${sent}, expected ~${fit}: ${up.bodyText}`);
      for (const f of API[api].absent) assert.ok(!(f in up.body), `${what}: no ${f} added: ${up.bodyText}`);
      const row = await rowOf(tg, res);
      assert.ok(row.reserved_usd <= LIMIT + 1e-12, `${what}: reserved ${row.reserved_usd}`);
      assert.ok(row.cost_usd <= LIMIT + 1e-12, `${what}: cost ${row.cost_usd} over the $${LIMIT} budget`);
    } catch (e) {
      failures.push(e.message);
    }
  }
  await tg.stop();
  assert.deepEqual(failures, [], `${failures.length} cases failed:\n${failures.join('\n')}`);
});

// ---------------------------------------------------------------------------
// The acceptance test of issue 11: $0.50, 200 concurrent requests, every API.

const N = 200;
const LIMIT = 0.5;
const RUNS = [
  ['chat/openai-compatible', false], ['chat/openai', false], ['completions/openai-compatible', false],
  ['responses/openai', false], ['messages/anthropic', false], ['gemini/gemini', false],
  ['chat/openai-compatible', true], ['messages/anthropic', true], ['gemini/gemini', true],
];

test(`a $${LIMIT} budget under ${N} concurrent requests never records more than $${LIMIT}, for every API`, async (t) => {
  const project = (i) => `half-dollar-${i}`;
  const budgets = [GLOBAL, ...RUNS.map((_, i) => ({ name: project(i), scope: 'project', subject: project(i), window: 'lifetime', limit_usd: LIMIT }))];
  const tg = await startGateway({ budgets });
  const summary = [];
  try {
    for (const [i, [api, stream]] of RUNS.entries()) {
      await t.test(`${api}${stream ? ', streamed' : ''}`, async () => {
        const a = API[api];
        const fakeBefore = a.fake().length;
        // Three in four set no cap (the runaway case); one in four asks for 2000
        // tokens in its API's own field, which must be reserved for as such.
        const results = await Promise.all(Array.from({ length: N }, async (_, k) => {
          const body = a.body(k % 4 === 3 ? 2000 : undefined, stream);
          const headers = { ...(a.headers ?? {}), 'x-tollgate-project': project(i) };
          return post(tg.base, stream && a.streamPath ? a.streamPath : a.path, JSON.stringify(body), headers);
        }));
        const rows = await tg.waitForRows(N, { where: `project = '${project(i)}'`, timeoutMs: 10000 });
        const ups = a.fake().slice(fakeBefore);

        const [{ spent }] = await sql(tg.dbPath, `select coalesce(sum(cost_usd), 0) spent from requests where project = '${project(i)}'`);
        const ok = rows.filter((r) => r.status === 200);
        const refused = rows.filter((r) => r.status === 429);
        summary.push(`${api}${stream ? ' stream' : ''}: ${ok.length} admitted, ${refused.length} refused, $${spent.toFixed(4)} recorded`);
        assert.ok(spent <= LIMIT + 1e-9, `overspent: $${spent} recorded against a $${LIMIT} budget ` +
          `(${ok.length} admitted; upstream output tokens: ${[...new Set(ups.map((u) => JSON.stringify(u.usage)))].slice(0, 4).join(' ')})`);

        const statuses = results.map((r) => r.status);
        assert.equal(statuses.filter((s) => s === 200 || s === 429).length, N, `statuses: ${[...new Set(statuses)]} ` +
          `${results.find((r) => r.status !== 200 && r.status !== 429)?.text.slice(0, 300) ?? ''}`);
        assert.ok(ok.length > 0, 'some requests were admitted');
        assert.ok(refused.length > 0, 'some requests were refused');
        assert.equal(ok.length, statuses.filter((s) => s === 200).length, 'one 200 row per 200 answer');
        for (const r of refused) assert.equal(r.error_class, 'budget_exceeded', `429 row: ${JSON.stringify(r)}`);
        for (const r of results.filter((x) => x.status === 429)) assert.match(r.text, /budget_exceeded/, `429 body: ${r.text}`);
        // No request costs more than it reserved, and every one reached the upstream with a cap.
        for (const r of ok) {
          assert.ok(r.cost_usd > 0, `admitted request charged: ${JSON.stringify(r)}`);
          assert.ok(r.cost_usd <= r.reserved_usd + 1e-12, `cost ${r.cost_usd} > reserved ${r.reserved_usd}`);
        }
        assert.equal(ups.length, ok.length, 'one upstream request per admitted request');
        const uncapped = ups.filter((u) => !Number.isInteger(dig(u.body, a.field)));
        assert.equal(uncapped.length, 0, `${uncapped.length} upstream requests without ${a.field.join('.')}, e.g. ${uncapped[0]?.bodyText}`);
        const [b] = (await sql(tg.dbPath, `select s.spent_usd from budget_spend s join budgets b on b.id = s.budget_id where b.name = '${project(i)}'`));
        if (b) assert.ok(b.spent_usd <= LIMIT + 1e-9, `budget_spend.spent_usd ${b.spent_usd}`);
      });
    }
  } finally {
    t.diagnostic(summary.join('; '));
    console.log(`# budget runs: ${summary.join('; ')}`);
    const r = await tg.stop();
    assert.equal(r.code, 0, `tollgate exit: ${JSON.stringify(r)} ${tg.stderr.slice(-2000)}`);
  }
});
