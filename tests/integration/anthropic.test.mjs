// Anthropic Messages passthrough, end to end with the official
// @anthropic-ai/sdk: POST /v1/messages (non-stream and stream, with prompt
// caching at both TTLs, tool use and thinking), /v1/messages/count_tokens,
// ANTHROPIC_BASE_URL, metering of every Anthropic token class into the ledger,
// and Anthropic-shaped errors. The upstream is lib/fake_anthropic.mjs.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import Anthropic, { NotFoundError, BadRequestError, APIError } from '@anthropic-ai/sdk';
import { startFakeAnthropic, anthropicProvider, anthropicError, messageStreamEvents, sseText } from './lib/fake_anthropic.mjs';
import { startTollgate, stopAll, post, closeTo, keyFingerprint, parseCostTrailer } from './lib/harness.mjs';

const MODEL = 'claude-sonnet-4-5';
// USD per 1M tokens, set by a pricing override so the arithmetic is explicit.
const P = { input: 3, cached_input: 0.3, cache_write_5m: 3.75, cache_write_1h: 6, output: 15 };
const cost = (r) => (r.input * P.input + r.cache_read * P.cached_input + r.w5m * P.cache_write_5m +
  r.w1h * P.cache_write_1h + r.output * P.output) / 1e6;

const CLIENT_KEY = 'sk-ant-client-key';
const TRAILER = /^: tollgate cost_usd=(\S+) request_id=(req_[0-9a-f]+)\n\n$/;

let fake;
let tg;
let client;
// The headers the SDK itself sent (its own anthropic-version and auth), to
// compare with what reached the upstream.
let clientHeaders = null;
const recordingFetch = (url, init) => { clientHeaders = new Headers(init?.headers); return fetch(url, init); };
before(async () => {
  fake = await startFakeAnthropic();
  tg = await startTollgate({
    providers: [anthropicProvider('anthropic', fake.baseUrl)],
    models: [{ name: MODEL, deployments: [{ provider: 'anthropic', model: MODEL }] }],
    overrides: [{ model: MODEL, ...P, reasoning: P.output }],
  });
  client = new Anthropic({ baseURL: tg.base, apiKey: CLIENT_KEY, maxRetries: 0, timeout: 10000, fetch: recordingFetch });
});
after(async () => { await stopAll(); await fake.close(); });

/** Usage with every Anthropic class: 5m and 1h writes, reads, uncached input. */
function cachedUsage({ input, read, w5m, w1h, output }) {
  return {
    input_tokens: input,
    cache_creation_input_tokens: w5m + w1h,
    cache_read_input_tokens: read,
    cache_creation: { ephemeral_5m_input_tokens: w5m, ephemeral_1h_input_tokens: w1h },
    output_tokens: output,
    service_tier: 'standard',
  };
}

function assertTokens(row, { input, read, w5m, w1h, output }) {
  assert.equal(row.input_tokens, input, 'input_tokens');
  assert.equal(row.cache_read_tokens, read, 'cache_read_tokens');
  assert.equal(row.cache_write_5m_tokens, w5m, 'cache_write_5m_tokens');
  assert.equal(row.cache_write_1h_tokens, w1h, 'cache_write_1h_tokens');
  assert.equal(row.output_tokens, output, 'output_tokens');
  assert.equal(row.reasoning_tokens, 0, 'thinking is inside output_tokens');
  closeTo(row.input_cost_usd, input * P.input / 1e6, 'input_cost_usd');
  closeTo(row.cache_read_cost_usd, read * P.cached_input / 1e6, 'cache_read_cost_usd');
  closeTo(row.cache_write_cost_usd, (w5m * P.cache_write_5m + w1h * P.cache_write_1h) / 1e6, 'cache_write_cost_usd');
  closeTo(row.output_cost_usd, output * P.output / 1e6, 'output_cost_usd');
  closeTo(row.cost_usd, cost({ input, cache_read: read, w5m, w1h, output }));
}

const LONG_SYSTEM = 'You are the support assistant of Example Corp. ' + 'Policy clause: be terse and exact. '.repeat(40);

test('messages.create (non-stream): exact upstream body and answer, cache_control TTLs intact, metered', async () => {
  const tokens = { input: 30, read: 5000, w5m: 1000, w1h: 2000, output: 400 };
  fake.reset().set({
    content: [{ type: 'text', text: 'Clause summary: be terse.' }],
    usage: cachedUsage(tokens),
  });
  const req = {
    model: MODEL,
    max_tokens: 1024,
    system: [{ type: 'text', text: LONG_SYSTEM, cache_control: { type: 'ephemeral', ttl: '1h' } }],
    messages: [{ role: 'user', content: [{ type: 'text', text: 'Summarise the policy.', cache_control: { type: 'ephemeral', ttl: '5m' } }] }],
    metadata: { user_id: 'user-123' },
  };
  const { data, response } = await client.messages.create(req).withResponse();

  // The upstream got the client's request (cache_control with ttl 1h included)
  // and tollgate's key, never the client's.
  const up = fake.lastMessageRequest();
  assert.deepEqual(up.body, req);
  assert.equal(up.body.system[0].cache_control.ttl, '1h');
  assert.equal(up.headers['x-api-key'], 'sk-ant-upstream-test');
  assert.equal(up.headers.authorization, undefined);
  assert.ok(clientHeaders.get('anthropic-version'));
  assert.equal(up.headers['anthropic-version'], clientHeaders.get('anthropic-version'), "the client's anthropic-version is forwarded");

  // The SDK got the upstream's message unchanged.
  assert.deepEqual(data, JSON.parse(up.sent));
  assert.equal(data.content[0].text, 'Clause summary: be terse.');
  assert.equal(data.usage.cache_creation.ephemeral_1h_input_tokens, 2000);

  const id = response.headers.get('x-tollgate-request-id');
  assert.match(id, /^req_[0-9a-f]+$/);
  closeTo(response.headers.get('x-tollgate-cost-usd'), cost({ ...tokens, cache_read: tokens.read }), 'x-tollgate-cost-usd');
  const [row] = await tg.waitForRows(1, { where: `id = '${id}'` });
  assert.equal(row.endpoint, 'messages');
  assert.equal(row.status, 200);
  assert.equal(row.error_class, null);
  assert.equal(row.requested_model, MODEL);
  assert.equal(row.served_model, MODEL);
  assert.equal(row.provider, 'anthropic');
  assert.equal(row.streamed, 0);
  assert.equal(row.estimated, 0);
  assert.equal(row.user, 'user-123');
  assert.equal(row.api_key, keyFingerprint(CLIENT_KEY));
  assertTokens(row, tokens);
  // Hand check of the arithmetic: 30*3 + 5000*0.3 + 1000*3.75 + 2000*6 + 400*15 = 23340 micro-USD.
  closeTo(row.cost_usd, 0.02334);
});

test('raw non-stream bytes: request and response pass through byte for byte, anthropic-beta forwarded', async () => {
  fake.reset().set({ usage: cachedUsage({ input: 12, read: 0, w5m: 0, w1h: 700, output: 9 }) });
  // Odd but valid JSON spacing and key order: any re-serialisation would show.
  const raw = `{ "max_tokens":256,  "model" : "${MODEL}",\n "messages":[{"role":"user","content":[{"type":"text","text":"caf\\u00e9 ☕","cache_control":{"type":"ephemeral","ttl":"1h"}}]}]}`;
  const res = await post(tg.base, '/v1/messages', raw, {
    authorization: '', 'x-api-key': CLIENT_KEY, 'anthropic-version': '2023-06-01',
    'anthropic-beta': 'extended-cache-ttl-2025-04-11,interleaved-thinking-2025-05-14',
  });
  assert.equal(res.status, 200);
  const up = fake.lastMessageRequest();
  assert.equal(up.bodyText, raw, 'the upstream body is the client body, byte for byte');
  assert.equal(up.headers['anthropic-beta'], 'extended-cache-ttl-2025-04-11,interleaved-thinking-2025-05-14');
  assert.equal(res.text, up.sent, 'the client body is the upstream body, byte for byte');
  assert.match(res.headers.get('content-type'), /^application\/json/);
  const [row] = await tg.waitForRows(1, { where: `id = '${res.headers.get('x-tollgate-request-id')}'` });
  assertTokens(row, { input: 12, read: 0, w5m: 0, w1h: 700, output: 9 });
});

test('anthropic-version defaults to the provider api_version when the client sends none', async () => {
  fake.reset();
  const res = await post(tg.base, '/v1/messages', { model: MODEL, max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] },
    { authorization: '', 'x-api-key': CLIENT_KEY });
  assert.equal(res.status, 200, res.text);
  assert.equal(fake.lastMessageRequest().headers['anthropic-version'], '2023-06-01');
  assert.equal(fake.lastMessageRequest().headers['anthropic-beta'], undefined);
});

const THINK_TEXT_TOOL = [
  {
    type: 'thinking',
    thinking: 'The user asks for the weather in Paris. I should call get_weather with celsius.',
    signature: 'EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds7wO4fLhHxAsCCDz0TZ7yjtrKlTsKlHWk2q1eRcXKfuoYw==',
  },
  { type: 'text', text: 'Let me look up the current weather in Paris.' },
  { type: 'tool_use', id: 'toolu_01A09q90qw90lq917835lq9', name: 'get_weather', input: { location: 'Paris, France', unit: 'celsius' } },
];
const WEATHER_TOOL = {
  name: 'get_weather',
  description: 'Get the current weather in a given location',
  input_schema: {
    type: 'object',
    properties: { location: { type: 'string' }, unit: { type: 'string', enum: ['celsius', 'fahrenheit'] } },
    required: ['location'],
  },
  cache_control: { type: 'ephemeral', ttl: '1h' },
};

test('messages.stream: thinking + text + tool_use, SDK finalMessage, events in order, metered', async () => {
  const tokens = { input: 500, read: 2000, w5m: 100, w1h: 300, output: 250 };
  fake.reset().set({ content: THINK_TEXT_TOOL, usage: cachedUsage(tokens) });
  const req = {
    model: MODEL,
    max_tokens: 4096,
    thinking: { type: 'enabled', budget_tokens: 2048 },
    system: [{ type: 'text', text: LONG_SYSTEM, cache_control: { type: 'ephemeral', ttl: '1h' } }],
    tools: [WEATHER_TOOL],
    messages: [{ role: 'user', content: 'What is the weather in Paris?' }],
  };
  const stream = client.messages.stream(req);
  const types = [];
  const jsonSnapshots = [];
  stream.on('streamEvent', (ev) => types.push(ev.type));
  stream.on('inputJson', (_partial, snapshot) => jsonSnapshots.push(snapshot));
  const final = await stream.finalMessage();

  const up = fake.lastMessageRequest();
  assert.deepEqual(up.body, { ...req, stream: true }, 'upstream got the SDK body (tools and cache_control intact)');
  assert.equal(up.body.tools[0].cache_control.ttl, '1h');

  // Every upstream event except ping (which the SDK drops) reached the SDK, in order.
  const sentTypes = [...up.sent.matchAll(/^event: (\S+)$/gm)].map((m) => m[1]).filter((t) => t !== 'ping');
  assert.deepEqual(types, sentTypes);
  assert.ok(up.sent.includes('event: ping\ndata: {"type": "ping"}\n\n'));

  assert.equal(final.id, JSON.parse(up.sent.split('\n')[1].slice(6)).message.id);
  assert.equal(final.stop_reason, 'tool_use');
  assert.deepEqual(final.content.map((b) => b.type), ['thinking', 'text', 'tool_use']);
  assert.equal(final.content[0].thinking, THINK_TEXT_TOOL[0].thinking);
  assert.equal(final.content[0].signature, THINK_TEXT_TOOL[0].signature);
  assert.equal(final.content[1].text, THINK_TEXT_TOOL[1].text);
  assert.equal(final.content[2].id, THINK_TEXT_TOOL[2].id);
  assert.equal(final.content[2].name, 'get_weather');
  assert.deepEqual(final.content[2].input, { location: 'Paris, France', unit: 'celsius' });
  assert.deepEqual(jsonSnapshots.at(-1), { location: 'Paris, France', unit: 'celsius' });
  assert.equal(final.usage.output_tokens, 250);
  assert.equal(final.usage.cache_read_input_tokens, 2000);

  const rows = await tg.waitForRows(1, { where: `endpoint = 'messages' and streamed = 1` });
  const row = rows.at(-1);
  assert.equal(row.status, 200);
  assert.equal(row.error_class, null);
  assert.equal(row.estimated, 0);
  assert.ok(row.ttft_ms !== null && row.ttft_ms >= 0);
  assertTokens(row, tokens);
});

test('raw stream bytes: identical to the upstream, plus only the cost comment', async () => {
  const tokens = { input: 40, read: 800, w5m: 64, w1h: 128, output: 77 };
  fake.reset().set({ content: THINK_TEXT_TOOL, usage: cachedUsage(tokens) });
  const body = { model: MODEL, max_tokens: 512, stream: true, tools: [WEATHER_TOOL], messages: [{ role: 'user', content: 'Weather in Paris?' }] };
  const res = await fetch(tg.base + '/v1/messages', {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': CLIENT_KEY, 'anthropic-version': '2023-06-01' },
    body: JSON.stringify(body),
  });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type'), /^text\/event-stream/);
  const text = await res.text();
  const up = fake.lastMessageRequest();
  assert.equal(up.bodyText, JSON.stringify(body));
  // The fake's stream is exactly what messageStreamEvents predicts...
  const expected = sseText(messageStreamEvents({
    id: JSON.parse(up.sent.split('\n')[1].slice(6)).message.id, model: MODEL, content: THINK_TEXT_TOOL,
    stopReason: 'tool_use', usage: cachedUsage(tokens),
  }));
  assert.equal(up.sent, expected);
  // ...and the client got it byte for byte, followed by tollgate's trailer only.
  assert.ok(text.startsWith(up.sent), `client stream differs from upstream:\n--- client\n${text}\n--- upstream\n${up.sent}`);
  const tail = text.slice(up.sent.length);
  const m = tail.match(TRAILER);
  assert.ok(m, `unexpected tail after the upstream bytes: ${JSON.stringify(tail)}`);
  assert.equal(m[2], res.headers.get('x-tollgate-request-id'));
  closeTo(m[1], cost({ ...tokens, cache_read: tokens.read }), 'trailer cost');
  assert.deepEqual(parseCostTrailer(text), { cost: m[1], requestId: m[2] });
  const [row] = await tg.waitForRows(1, { where: `id = '${m[2]}'` });
  assertTokens(row, tokens);
});

test('count_tokens passes through (SDK and raw)', async () => {
  fake.reset().set({ countTokens: 1234 });
  const req = {
    model: MODEL,
    system: 'Be brief.',
    tools: [WEATHER_TOOL],
    messages: [{ role: 'user', content: 'How warm is it in Paris?' }],
  };
  const counted = await client.messages.countTokens(req);
  assert.deepEqual(counted, { input_tokens: 1234 });
  const up = fake.requests.at(-1);
  assert.equal(up.path, '/v1/messages/count_tokens');
  assert.deepEqual(up.body, req);
  assert.equal(up.headers['x-api-key'], 'sk-ant-upstream-test');
  assert.equal(up.headers['anthropic-version'], clientHeaders.get('anthropic-version'));

  const raw = await post(tg.base, '/v1/messages/count_tokens', req, { authorization: '', 'x-api-key': CLIENT_KEY, 'anthropic-beta': 'token-counting-2024-11-01' });
  assert.equal(raw.status, 200);
  assert.equal(raw.text, '{"input_tokens":1234}');
  assert.equal(fake.requests.at(-1).headers['anthropic-beta'], 'token-counting-2024-11-01');
  assert.equal(fake.messageRequests().length, 0, 'count_tokens is not a message');
});

test('ANTHROPIC_BASE_URL pointed at tollgate is all a user needs', async () => {
  fake.reset();
  const saved = process.env.ANTHROPIC_BASE_URL;
  process.env.ANTHROPIC_BASE_URL = tg.base;
  try {
    const envClient = new Anthropic({ apiKey: CLIENT_KEY, maxRetries: 0, timeout: 10000 });
    const msg = await envClient.messages.create({ model: MODEL, max_tokens: 64, messages: [{ role: 'user', content: 'hi' }] });
    assert.equal(msg.content[0].text, 'Hello from the fake Claude model.');
    assert.equal(fake.messageRequests().length, 1);
  } finally {
    if (saved === undefined) delete process.env.ANTHROPIC_BASE_URL; else process.env.ANTHROPIC_BASE_URL = saved;
  }
});

test('unknown model: 404 in Anthropic shape, SDK throws NotFoundError, ledgered', async () => {
  fake.reset();
  await assert.rejects(
    client.messages.create({ model: 'claude-nonexistent', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] }),
    (err) => {
      assert.ok(err instanceof NotFoundError, `expected NotFoundError, got ${err?.constructor?.name}: ${err}`);
      assert.equal(err.status, 404);
      assert.equal(err.error.type, 'error');
      assert.equal(err.error.error.type, 'not_found_error');
      assert.match(err.error.error.message, /claude-nonexistent/);
      return true;
    },
  );
  assert.equal(fake.requests.length, 0);
  const raw = await post(tg.base, '/v1/messages', { model: 'claude-nonexistent', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] });
  assert.equal(raw.status, 404);
  assert.equal(raw.json.type, 'error');
  assert.equal(raw.json.error.type, 'not_found_error');
  const [row] = await tg.waitForRows(1, { where: `id = '${raw.headers.get('x-tollgate-request-id')}'` });
  assert.equal(row.endpoint, 'messages');
  assert.equal(row.error_class, 'model_not_found');
  assert.equal(row.cost_usd, 0);
});

test('invalid JSON on /v1/messages: 400 in Anthropic shape', async () => {
  const raw = await post(tg.base, '/v1/messages', '{"model": ', { authorization: '', 'x-api-key': CLIENT_KEY });
  assert.equal(raw.status, 400);
  assert.equal(raw.json.type, 'error');
  assert.equal(raw.json.error.type, 'invalid_request_error');
  assert.equal(typeof raw.json.error.message, 'string');
});

test('upstream 400 passes through unchanged (bytes, status); SDK throws BadRequestError', async () => {
  const errorBody = JSON.stringify(anthropicError('invalid_request_error', 'messages.0.content.0.text: Field required', 'req_011CUpstream400'));
  fake.reset().set({ errorStatus: 400, errorBody });
  const raw = await post(tg.base, '/v1/messages', { model: MODEL, max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] },
    { authorization: '', 'x-api-key': CLIENT_KEY });
  assert.equal(raw.status, 400);
  assert.equal(raw.text, errorBody);
  const [row] = await tg.waitForRows(1, { where: `id = '${raw.headers.get('x-tollgate-request-id')}'` });
  assert.equal(row.status, 400);
  assert.equal(row.error_class, 'upstream_4xx');
  assert.equal(row.provider, 'anthropic');

  await assert.rejects(
    client.messages.create({ model: MODEL, max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] }),
    (err) => {
      assert.ok(err instanceof BadRequestError, `expected BadRequestError, got ${err?.constructor?.name}: ${err}`);
      assert.deepEqual(err.error, JSON.parse(errorBody));
      return true;
    },
  );
});

test('upstream 529 overloaded passes through with its body', async () => {
  const errorBody = JSON.stringify(anthropicError('overloaded_error', 'Overloaded', 'req_011COverloaded'));
  fake.reset().set({ errorStatus: 529, errorBody });
  const raw = await post(tg.base, '/v1/messages', { model: MODEL, max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] },
    { authorization: '', 'x-api-key': CLIENT_KEY });
  assert.equal(raw.status, 529);
  assert.equal(raw.text, errorBody);
});

test('upstream stream cut mid-way: Anthropic error event, SDK throws, ledger stream_broken', async () => {
  fake.reset().set({ content: [{ type: 'text', text: 'one two three four five six seven eight' }], cutAfterEvents: 5 });
  const stream = client.messages.stream({ model: MODEL, max_tokens: 64, messages: [{ role: 'user', content: 'count' }] });
  await assert.rejects(stream.finalMessage(), (err) => {
    assert.ok(err instanceof APIError, `expected APIError, got ${err?.constructor?.name}: ${err}`);
    return true;
  });
  const rows = await tg.waitForRows(1, { where: `error_class = 'stream_broken'` });
  const row = rows.at(-1);
  assert.equal(row.endpoint, 'messages');
  assert.equal(row.input_tokens, 100, 'message_start usage was metered before the cut');
  assert.ok(row.cost_usd > 0);
});

// ----------------------------------------------------------------------------
// Gaps found by these tests, fixed since: they guard against regressions.

test('broken stream: output is estimated from the text already streamed', {
}, async () => {
  fake.reset().set({
    content: [{ type: 'text', text: 'one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen' }],
    cutAfterEvents: 14, // message_start, block start, ping, 11 text deltas
  });
  const res = await post(tg.base, '/v1/messages', { model: MODEL, max_tokens: 64, stream: true, messages: [{ role: 'user', content: 'count' }] },
    { authorization: '', 'x-api-key': CLIENT_KEY });
  const [row] = await tg.waitForRows(1, { where: `id = '${res.headers.get('x-tollgate-request-id')}'` });
  assert.equal(row.error_class, 'stream_broken');
  assert.equal(row.input_tokens, 100);
  assert.ok(row.output_tokens >= 11, `output_tokens ${row.output_tokens} < 11 words already streamed`);
  assert.equal(row.estimated, 1);
});

test("Anthropic's request-id and anthropic-ratelimit-* response headers reach the client", {
}, async () => {
  fake.reset();
  const { data, response } = await client.messages.create({ model: MODEL, max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] }).withResponse();
  assert.equal(response.headers.get('request-id'), `req_fake${String(fake.counter).padStart(6, '0')}`);
  assert.equal(data._request_id, response.headers.get('request-id'));
  assert.equal(response.headers.get('anthropic-ratelimit-requests-remaining'), '3999');
});
