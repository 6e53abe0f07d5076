// Gemini native API through tollgate: POST /v1beta/models/{model}:generateContent
// and :streamGenerateContent?alt=sse, passed through to a gemini-type provider
// (lib/fake_gemini.mjs) and metered from usageMetadata, thoughtsTokenCount as
// reasoning and cachedContentTokenCount as cache reads.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startFakeGemini, geminiProvider } from './lib/fake_gemini.mjs';
import { startTollgate, stopAll, post, closeTo, parseSSE, keyFingerprint } from './lib/harness.mjs';

const MODEL = 'gemini-2.5-flash';
// USD per 1M tokens (pricing override); thinking is billed at the output price.
const P = { input: 0.3, cached_input: 0.03, output: 2.5, reasoning: 2.5 };
const TRAILER = /^: tollgate cost_usd=(\S+) request_id=(req_[0-9a-f]+)\n\n$/;

let fake;
let tg;
before(async () => {
  fake = await startFakeGemini();
  tg = await startTollgate({
    providers: [geminiProvider('google', fake.baseUrl)],
    models: [
      { name: MODEL, deployments: [{ provider: 'google', model: MODEL }] },
      // A gateway alias served by another upstream model name.
      { name: 'fast', deployments: [{ provider: 'google', model: 'gemini-2.5-flash-lite' }] },
    ],
    overrides: [
      { model: MODEL, ...P },
      { model: 'gemini-2.5-flash-lite', input: 0.1, cached_input: 0.01, output: 0.4, reasoning: 0.4 },
    ],
  });
});
after(async () => { await stopAll(); await fake.close(); });

function expectRow(row, u, p = P) {
  const input = u.promptTokenCount - (u.cachedContentTokenCount ?? 0);
  assert.equal(row.input_tokens, input, 'input_tokens = prompt - cached');
  assert.equal(row.cache_read_tokens, u.cachedContentTokenCount ?? 0, 'cache_read_tokens');
  assert.equal(row.output_tokens, u.candidatesTokenCount, 'output_tokens = candidates');
  assert.equal(row.reasoning_tokens, u.thoughtsTokenCount ?? 0, 'reasoning_tokens = thoughts');
  const expected = (input * p.input + (u.cachedContentTokenCount ?? 0) * p.cached_input +
    u.candidatesTokenCount * p.output + (u.thoughtsTokenCount ?? 0) * p.reasoning) / 1e6;
  closeTo(row.cost_usd, expected);
  closeTo(row.reasoning_cost_usd, (u.thoughtsTokenCount ?? 0) * p.reasoning / 1e6, 'reasoning_cost_usd');
}

const GEN_BODY = `{"contents": [{"role": "user", "parts": [{"text": "Explain caching in one line."}]}],
  "systemInstruction": {"parts": [{"text": "Be terse."}]},
  "generationConfig": {"thinkingConfig": {"thinkingBudget": 1024}, "maxOutputTokens": 512}}`;

test('generateContent: byte-for-byte passthrough, key swapped, metered incl. thoughts and cache', async () => {
  const usage = { promptTokenCount: 1000, cachedContentTokenCount: 600, candidatesTokenCount: 200, thoughtsTokenCount: 300 };
  fake.reset().set({ usage });
  const res = await post(tg.base, `/v1beta/models/${MODEL}:generateContent`, GEN_BODY,
    { authorization: '', 'x-goog-api-key': 'client-gemini-key' });
  assert.equal(res.status, 200, res.text);
  const up = fake.lastRequest();
  assert.equal(up.path, `/v1beta/models/${MODEL}:generateContent`);
  assert.equal(up.query, '');
  assert.equal(up.headers['x-goog-api-key'], 'gemini-upstream-test-key');
  assert.equal(up.headers.authorization, undefined);
  assert.equal(up.bodyText, GEN_BODY, 'request body unchanged');
  assert.equal(res.text, up.sent, 'response body unchanged');
  assert.equal(res.json.usageMetadata.thoughtsTokenCount, 300);
  // 400*0.3 + 600*0.03 + 200*2.5 + 300*2.5 = 1388 micro-USD
  closeTo(res.headers.get('x-tollgate-cost-usd'), 0.001388, 'x-tollgate-cost-usd');
  const [row] = await tg.waitForRows(1, { where: `id = '${res.headers.get('x-tollgate-request-id')}'` });
  assert.equal(row.endpoint, 'gemini.generate');
  assert.equal(row.requested_model, MODEL);
  assert.equal(row.served_model, MODEL);
  assert.equal(row.provider, 'google');
  assert.equal(row.streamed, 0);
  assert.equal(row.status, 200);
  expectRow(row, usage);
});

test('generateContent on a gateway alias calls the deployment model in the path', async () => {
  const usage = { promptTokenCount: 50, candidatesTokenCount: 10 };
  fake.reset().set({ usage });
  const res = await post(tg.base, '/v1beta/models/fast:generateContent', GEN_BODY, { authorization: '', 'x-goog-api-key': 'k' });
  assert.equal(res.status, 200, res.text);
  assert.equal(fake.lastRequest().path, '/v1beta/models/gemini-2.5-flash-lite:generateContent');
  const [row] = await tg.waitForRows(1, { where: `id = '${res.headers.get('x-tollgate-request-id')}'` });
  assert.equal(row.requested_model, 'fast');
  assert.equal(row.served_model, 'gemini-2.5-flash-lite');
  expectRow(row, usage, { input: 0.1, cached_input: 0.01, output: 0.4, reasoning: 0.4 });
});

test('streamGenerateContent?alt=sse (LF framing): byte-for-byte plus trailer, last usageMetadata metered', async () => {
  const usage = { promptTokenCount: 2000, cachedContentTokenCount: 1024, candidatesTokenCount: 90, thoughtsTokenCount: 700 };
  fake.reset().set({ usage, crlf: false, text: 'Caching stores computed results so repeated requests are cheap.' });
  const res = await post(tg.base, `/v1beta/models/${MODEL}:streamGenerateContent?alt=sse`, GEN_BODY,
    { authorization: '', 'x-goog-api-key': 'client-gemini-key' });
  assert.equal(res.status, 200, res.text);
  assert.match(res.headers.get('content-type'), /^text\/event-stream/);
  const up = fake.lastRequest();
  assert.equal(up.path, `/v1beta/models/${MODEL}:streamGenerateContent`);
  assert.equal(up.query, '?alt=sse');
  assert.equal(up.bodyText, GEN_BODY);
  assert.ok(res.text.startsWith(up.sent), `client stream differs:\n${res.text}`);
  const m = res.text.slice(up.sent.length).match(TRAILER);
  assert.ok(m, `unexpected tail: ${JSON.stringify(res.text.slice(up.sent.length))}`);
  const [row] = await tg.waitForRows(1, { where: `id = '${m[2]}'` });
  assert.equal(row.streamed, 1);
  assert.equal(row.error_class, null);
  assert.equal(row.estimated, 0);
  assert.ok(row.ttft_ms !== null);
  expectRow(row, usage);
  closeTo(m[1], row.cost_usd, 'trailer cost');
});

test('streamGenerateContent with Google CRLF framing: every chunk payload unchanged, stream parses', async () => {
  const usage = { promptTokenCount: 300, candidatesTokenCount: 40, thoughtsTokenCount: 120 };
  fake.reset().set({ usage, crlf: true, text: 'One two three four five.' });
  const res = await post(tg.base, `/v1beta/models/${MODEL}:streamGenerateContent?alt=sse`, GEN_BODY,
    { authorization: '', 'x-goog-api-key': 'client-gemini-key' });
  assert.equal(res.status, 200, res.text);
  const up = fake.lastRequest();
  assert.ok(up.sent.includes('\r\n\r\n'));
  const sent = parseSSE(up.sent).map((e) => e.data);
  const got = parseSSE(res.text).filter((e) => e.data !== null).map((e) => e.data);
  assert.deepEqual(got, sent, 'the data payloads are byte-identical');
  assert.equal(got.length, 5);
  assert.ok(got.every((d) => d.startsWith('{"candidates": [{"content": {"parts": [{"text": ')));
  const text = got.map((d) => JSON.parse(d).candidates[0].content.parts[0].text).join('');
  assert.equal(text, 'One two three four five.');
  const [row] = await tg.waitForRows(1, { where: `id = '${res.headers.get('x-tollgate-request-id')}'` });
  expectRow(row, usage);
});

test('Gemini upstream 400 passes through unchanged', async () => {
  const errorBody = JSON.stringify({ error: { code: 400, message: '* GenerateContentRequest.contents[0].parts: contents.parts must not be empty.', status: 'INVALID_ARGUMENT' } }, null, 2);
  fake.reset().set({ errorStatus: 400, errorBody });
  const res = await post(tg.base, `/v1beta/models/${MODEL}:generateContent`, GEN_BODY, { authorization: '', 'x-goog-api-key': 'k' });
  assert.equal(res.status, 400);
  assert.equal(res.text, errorBody);
  const [row] = await tg.waitForRows(1, { where: `id = '${res.headers.get('x-tollgate-request-id')}'` });
  assert.equal(row.error_class, 'upstream_4xx');
  assert.equal(row.endpoint, 'gemini.generate');
});

test('unknown Gemini model is refused without calling upstream', async () => {
  fake.reset();
  const res = await post(tg.base, '/v1beta/models/gemini-nope:generateContent', GEN_BODY, { authorization: '', 'x-goog-api-key': 'k' });
  assert.equal(res.status, 404);
  assert.equal(fake.requests.length, 0);
  const [row] = await tg.waitForRows(1, { where: `id = '${res.headers.get('x-tollgate-request-id')}'` });
  assert.equal(row.error_class, 'model_not_found');
  assert.equal(row.requested_model, 'gemini-nope');
});

test('the client key of a native Gemini client (x-goog-api-key) is fingerprinted in the ledger', {
}, async () => {
  fake.reset();
  const res = await post(tg.base, `/v1beta/models/${MODEL}:generateContent`, GEN_BODY, { authorization: '', 'x-goog-api-key': 'client-gemini-key' });
  const [row] = await tg.waitForRows(1, { where: `id = '${res.headers.get('x-tollgate-request-id')}'` });
  assert.equal(row.api_key, keyFingerprint('client-gemini-key'));
});
