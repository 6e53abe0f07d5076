// OpenAI Responses API (POST /v1/responses) passthrough with the official
// `openai` client, non-stream and stream, metered with the cached-input and
// reasoning subsets; and Azure OpenAI (deployment URLs, api-version, api-key).
//
// The Responses upstream is a small fake in this file speaking OpenAI's wire
// format: a `response` object, or named SSE events response.created,
// response.in_progress, response.output_item.added/done,
// response.content_part.added/done, response.output_text.delta/done and
// response.completed (which carries usage), each with sequence_number; no [DONE].
// Azure is lib/fake_openai.mjs mounted under /openai/deployments/{d}/... by a
// small recording wrapper.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import OpenAI from 'openai';
import { startFakeOpenAI } from './lib/fake_openai.mjs';
import { startTollgate, stopAll, post, closeTo, parseSSE, chatText, openaiProvider } from './lib/harness.mjs';

const MODEL = 'gpt-5-mini';
const SERVED = 'gpt-5-mini-2025-08-07';
// USD per 1M tokens (pricing override): cached input at a tenth, reasoning at the output price.
const P = { input: 1, cached_input: 0.1, output: 4, reasoning: 4 };

// ---------------------------------------------------------------------------
// Fake Responses upstream

class FakeResponses {
  constructor() { this.reset(); }

  reset() {
    this.text = 'Paris is the capital of France.';
    this.usage = { input_tokens: 1200, cached_tokens: 1000, output_tokens: 700, reasoning_tokens: 500 };
    this.requests = [];
    this.counter = 0;
    return this;
  }

  async start() {
    this.server = http.createServer((req, res) => this.#handle(req, res).catch((err) => {
      console.error('fake responses handler error:', err);
      res.destroy();
    }));
    this.server.keepAliveTimeout = 1000;
    await new Promise((r) => this.server.listen(0, '127.0.0.1', r));
    this.baseUrl = `http://127.0.0.1:${this.server.address().port}/v1`;
    return this;
  }

  async close() {
    this.server.closeAllConnections?.();
    await new Promise((r) => this.server.close(() => r()));
  }

  usageObject() {
    const u = this.usage;
    return {
      input_tokens: u.input_tokens,
      input_tokens_details: { cached_tokens: u.cached_tokens },
      output_tokens: u.output_tokens,
      output_tokens_details: { reasoning_tokens: u.reasoning_tokens },
      total_tokens: u.input_tokens + u.output_tokens,
    };
  }

  /** The response object in a given state; the final one has output and usage. */
  responseObject(id, body, { status, output, usage }) {
    return {
      id, object: 'response', created_at: 1741476542, status, background: false, error: null,
      incomplete_details: null, instructions: body.instructions ?? null, max_output_tokens: body.max_output_tokens ?? null,
      model: SERVED, output, parallel_tool_calls: true, previous_response_id: null,
      reasoning: { effort: body.reasoning?.effort ?? 'medium', summary: null }, service_tier: 'default', store: true,
      temperature: 1.0, text: { format: { type: 'text' }, verbosity: 'medium' }, tool_choice: 'auto', tools: [],
      top_p: 1.0, truncation: 'disabled', usage, user: null, metadata: {},
    };
  }

  async #handle(req, res) {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const bodyText = Buffer.concat(chunks).toString('utf8');
    const body = JSON.parse(bodyText);
    const record = { path: req.url, headers: req.headers, bodyText, body, sent: '' };
    this.requests.push(record);
    if (req.url !== '/v1/responses' || req.method !== 'POST') {
      res.writeHead(404, { 'content-type': 'application/json' });
      return res.end(JSON.stringify({ error: { message: 'Invalid URL', type: 'invalid_request_error', param: null, code: null } }));
    }
    const n = String(++this.counter).padStart(6, '0');
    const id = `resp_fake${n}`;
    const rsId = `rs_fake${n}`;
    const msgId = `msg_fake${n}`;
    const reasoningItem = { id: rsId, type: 'reasoning', summary: [] };
    const part = (text) => ({ type: 'output_text', annotations: [], logprobs: [], text });
    const message = (status, text) => ({ id: msgId, type: 'message', status, content: text === null ? [] : [part(text)], role: 'assistant' });

    if (!body.stream) {
      const text = JSON.stringify(this.responseObject(id, body, {
        status: 'completed', output: [reasoningItem, message('completed', this.text)], usage: this.usageObject(),
      }), null, 2);
      record.sent = text;
      res.writeHead(200, { 'content-type': 'application/json', 'x-request-id': `req_${n}`, 'openai-processing-ms': '321' });
      return res.end(text);
    }

    const events = [];
    const ev = (type, fields) => events.push({ type, sequence_number: events.length, ...fields });
    ev('response.created', { response: this.responseObject(id, body, { status: 'in_progress', output: [], usage: null }) });
    ev('response.in_progress', { response: this.responseObject(id, body, { status: 'in_progress', output: [], usage: null }) });
    ev('response.output_item.added', { output_index: 0, item: { ...reasoningItem } });
    ev('response.output_item.done', { output_index: 0, item: { ...reasoningItem } });
    ev('response.output_item.added', { output_index: 1, item: message('in_progress', null) });
    ev('response.content_part.added', { item_id: msgId, output_index: 1, content_index: 0, part: part('') });
    for (const p of this.text.match(/\S+\s*/g)) {
      ev('response.output_text.delta', { item_id: msgId, output_index: 1, content_index: 0, delta: p, logprobs: [] });
    }
    ev('response.output_text.done', { item_id: msgId, output_index: 1, content_index: 0, text: this.text, logprobs: [] });
    ev('response.content_part.done', { item_id: msgId, output_index: 1, content_index: 0, part: part(this.text) });
    ev('response.output_item.done', { output_index: 1, item: message('completed', this.text) });
    ev('response.completed', {
      response: this.responseObject(id, body, { status: 'completed', output: [reasoningItem, message('completed', this.text)], usage: this.usageObject() }),
    });
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'x-request-id': `req_${n}` });
    res.flushHeaders();
    for (const e of events) {
      const text = `event: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`;
      record.sent += text;
      res.write(text);
    }
    res.end();
  }
}

// ---------------------------------------------------------------------------
// Azure wrapper: /openai/deployments/{d}/{op}?api-version=V -> fake_openai /v1/{op},
// and /openai/responses?api-version=V -> the Responses fake.

async function startAzureWrapper(target, responsesPort) {
  const requests = [];
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://x');
    const m = url.pathname.match(/^\/openai\/deployments\/([^/]+)\/(chat\/completions|completions|embeddings)$/);
    // Azure's Responses API has no deployment segment: the deployment is the body's model.
    const responses = url.pathname === '/openai/responses';
    requests.push({ method: req.method, path: url.pathname, query: Object.fromEntries(url.searchParams), headers: req.headers, deployment: m?.[1] });
    if ((!m && !responses) || !url.searchParams.get('api-version')) {
      res.writeHead(404, { 'content-type': 'application/json' });
      return res.end(JSON.stringify({ error: { code: '404', message: 'Resource not found' } }));
    }
    if (req.headers['api-key'] !== 'azure-upstream-key') {
      res.writeHead(401, { 'content-type': 'application/json' });
      return res.end(JSON.stringify({ error: { code: '401', message: 'Access denied due to invalid subscription key or wrong API endpoint.' } }));
    }
    const { host, ...headers } = req.headers;
    const [port, path] = responses ? [responsesPort, '/v1/responses'] : [target.port, `/v1/${m[2]}`];
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
    requests,
    baseUrl: `http://127.0.0.1:${server.address().port}/openai`,
    close: () => { server.closeAllConnections?.(); return new Promise((r) => server.close(() => r())); },
  };
}

// ---------------------------------------------------------------------------

let fake;
let fakeOpenAI;
let azure;
let tg;
let client;
before(async () => {
  fake = await new FakeResponses().start();
  fakeOpenAI = await startFakeOpenAI();
  azure = await startAzureWrapper(fakeOpenAI, fake.server.address().port);
  tg = await startTollgate({
    providers: [
      openaiProvider('openai', fake.baseUrl, { type: 'openai', api_key: 'sk-openai-upstream' }),
      openaiProvider('azure', azure.baseUrl, { type: 'azure', api_key: 'azure-upstream-key', api_version: '2025-01-01-preview' }),
    ],
    models: [
      { name: MODEL, deployments: [{ provider: 'openai', model: MODEL }] },
      { name: 'azure-4o-mini', deployments: [{ provider: 'azure', model: 'my-4o-mini-deployment' }] },
      { name: 'azure-gpt-5-mini', deployments: [{ provider: 'azure', model: 'my-gpt5-deployment' }] },
    ],
    overrides: [
      { model: SERVED, ...P, cache_write_5m: P.input, cache_write_1h: P.input },
      { model: 'gpt-4o-mini', input: 1.0, output: 2.0 },
    ],
  });
  client = new OpenAI({ baseURL: tg.base + '/v1', apiKey: 'sk-client-responses', maxRetries: 0, timeout: 10000 });
});
after(async () => { await stopAll(); await fake.close(); await azure.close(); await fakeOpenAI.close(); });

/** Disjoint classes from Responses usage: input and output include their subsets. */
function expectRow(row, u) {
  const input = u.input_tokens - u.cached_tokens;
  const output = u.output_tokens - u.reasoning_tokens;
  assert.equal(row.input_tokens, input, 'input_tokens (uncached)');
  assert.equal(row.cache_read_tokens, u.cached_tokens, 'cache_read_tokens');
  assert.equal(row.cache_write_5m_tokens, 0);
  assert.equal(row.cache_write_1h_tokens, 0);
  assert.equal(row.output_tokens, output, 'output_tokens (reasoning excluded)');
  assert.equal(row.reasoning_tokens, u.reasoning_tokens, 'reasoning_tokens');
  const expected = (input * P.input + u.cached_tokens * P.cached_input + output * P.output + u.reasoning_tokens * P.reasoning) / 1e6;
  closeTo(row.cost_usd, expected);
  closeTo(row.reasoning_cost_usd, u.reasoning_tokens * P.reasoning / 1e6, 'reasoning_cost_usd');
  closeTo(row.cache_read_cost_usd, u.cached_tokens * P.cached_input / 1e6, 'cache_read_cost_usd');
}

test('responses.create (non-stream): passthrough, metered with cached and reasoning subsets', async () => {
  fake.reset();
  const req = { model: MODEL, instructions: 'Answer in one sentence.', input: 'What is the capital of France?', reasoning: { effort: 'low' } };
  const { data, response } = await client.responses.create(req).withResponse();
  const up = fake.requests.at(-1);
  assert.equal(up.path, '/v1/responses');
  assert.deepEqual(up.body, req);
  assert.equal(up.headers.authorization, 'Bearer sk-openai-upstream');
  assert.equal(data.output_text, 'Paris is the capital of France.');
  assert.equal(data.id, JSON.parse(up.sent).id);
  assert.deepEqual(data.usage, JSON.parse(up.sent).usage);
  assert.equal(response.headers.get('x-request-id'), `req_${String(fake.counter).padStart(6, '0')}`);
  // 200*1 + 1000*0.1 + 200*4 + 500*4 = 3100 micro-USD
  closeTo(response.headers.get('x-tollgate-cost-usd'), 0.0031, 'x-tollgate-cost-usd');
  const [row] = await tg.waitForRows(1, { where: `id = '${response.headers.get('x-tollgate-request-id')}'` });
  assert.equal(row.endpoint, 'responses');
  assert.equal(row.requested_model, MODEL);
  assert.equal(row.provider, 'openai');
  assert.equal(row.streamed, 0);
  assert.equal(row.status, 200);
  expectRow(row, fake.usage);
});

test('raw non-stream bytes pass through unchanged', async () => {
  fake.reset();
  const raw = `{"input":[{"role":"user","content":"hi"}],  "model":"${MODEL}"}`;
  const res = await post(tg.base, '/v1/responses', raw);
  assert.equal(res.status, 200);
  assert.equal(fake.requests.at(-1).bodyText, raw);
  assert.equal(res.text, fake.requests.at(-1).sent);
});

test('responses.create stream: every event passes through, trailer only added, metered', async () => {
  fake.reset();
  fake.usage = { input_tokens: 5000, cached_tokens: 4096, output_tokens: 1500, reasoning_tokens: 1024 };
  const stream = await client.responses.create({ model: MODEL, input: 'Capital of France?', stream: true });
  const events = [];
  for await (const ev of stream) events.push(ev);
  const up = fake.requests.at(-1);
  assert.equal(up.body.stream, true);
  const sentEvents = parseSSE(up.sent).map((e) => JSON.parse(e.data));
  assert.deepEqual(events, sentEvents, 'the client saw exactly the upstream events');
  assert.equal(events.at(-1).type, 'response.completed');
  assert.equal(events.filter((e) => e.type === 'response.output_text.delta').map((e) => e.delta).join(''), 'Paris is the capital of France.');

  const rows = await tg.waitForRows(1, { where: `endpoint = 'responses' and streamed = 1` });
  const row = rows.at(-1);
  assert.equal(row.error_class, null);
  assert.equal(row.estimated, 0);
  expectRow(row, fake.usage);
});

test('raw stream bytes: identical to the upstream (event names included), plus the cost comment', async () => {
  fake.reset();
  const res = await fetch(tg.base + '/v1/responses', {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer sk-client-responses' },
    body: JSON.stringify({ model: MODEL, input: 'hi', stream: true }),
  });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type'), /^text\/event-stream/);
  const text = await res.text();
  const up = fake.requests.at(-1);
  assert.ok(up.sent.includes('event: response.created\ndata: {"type":"response.created"'));
  assert.ok(text.startsWith(up.sent), `client stream differs:\n${text}`);
  const m = text.slice(up.sent.length).match(/^: tollgate cost_usd=(\S+) request_id=(req_[0-9a-f]+)\n\n$/);
  assert.ok(m, `unexpected tail: ${JSON.stringify(text.slice(up.sent.length))}`);
  closeTo(m[1], 0.0031, 'trailer cost');
});

test('responses.stream helper: finalResponse has output_text and usage', async () => {
  fake.reset();
  const stream = client.responses.stream({ model: MODEL, input: 'Capital of France?' });
  const final = await stream.finalResponse();
  assert.equal(final.status, 'completed');
  assert.equal(final.output_text, 'Paris is the capital of France.');
  assert.equal(final.usage.output_tokens_details.reasoning_tokens, 500);
});

test('Azure: deployment URL, api-version query and api-key header; body model is the deployment', async () => {
  fakeOpenAI.reset().set({ responseModel: 'gpt-4o-mini' });
  azure.requests.length = 0;
  const res = await client.chat.completions.create({ model: 'azure-4o-mini', messages: [{ role: 'user', content: 'hi' }] }).withResponse();
  assert.equal(res.data.choices[0].message.content, 'Hello from the fake upstream model.');
  const [r] = azure.requests;
  assert.equal(r.path, '/openai/deployments/my-4o-mini-deployment/chat/completions');
  assert.deepEqual(r.query, { 'api-version': '2025-01-01-preview' });
  assert.equal(r.headers['api-key'], 'azure-upstream-key');
  assert.equal(r.headers.authorization, undefined, 'no bearer token goes to Azure');
  assert.equal(fakeOpenAI.apiRequests().at(-1).body.model, 'my-4o-mini-deployment');
  const [row] = await tg.waitForRows(1, { where: `id = '${res.response.headers.get('x-tollgate-request-id')}'` });
  assert.equal(row.provider, 'azure');
  assert.equal(row.served_model, 'my-4o-mini-deployment');
  assert.equal(row.input_tokens, 1000);
  assert.equal(row.output_tokens, 500);
  closeTo(row.cost_usd, (1000 * 1 + 500 * 2) / 1e6);
});

test('Azure streaming: usage injected and metered, client stream intact', async () => {
  fakeOpenAI.reset().set({ responseModel: 'gpt-4o-mini', content: 'Streaming through Azure works.' });
  azure.requests.length = 0;
  const res = await post(tg.base, '/v1/chat/completions', { model: 'azure-4o-mini', messages: [{ role: 'user', content: 'hi' }], stream: true });
  assert.equal(res.status, 200);
  assert.equal(chatText(parseSSE(res.text)), 'Streaming through Azure works.');
  assert.equal(azure.requests[0].query['api-version'], '2025-01-01-preview');
  assert.equal(fakeOpenAI.apiRequests().at(-1).body.stream_options?.include_usage, true);
  const [row] = await tg.waitForRows(1, { where: `id = '${res.headers.get('x-tollgate-request-id')}'` });
  assert.equal(row.streamed, 1);
  assert.equal(row.input_tokens, 1000);
  assert.equal(row.output_tokens, 500);
  assert.equal(row.estimated, 0);
});

test('Azure Responses API: POST /openai/responses?api-version=V with the deployment as model', {
}, async () => {
  fake.reset();
  azure.requests.length = 0;
  const r = await client.responses.create({ model: 'azure-gpt-5-mini', input: 'hi' });
  assert.equal(azure.requests[0].path, '/openai/responses');
  assert.ok(azure.requests[0].query['api-version']);
  assert.equal(fake.requests.at(-1).body.model, 'my-gpt5-deployment');
  assert.equal(r.output_text, 'Paris is the capital of France.');
});
