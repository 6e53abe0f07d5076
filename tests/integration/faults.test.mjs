// Fault injection (issue 11: "never crash, never lose a row").
//
// A raw-TCP fake upstream (lib/fake_faulty.mjs) resets, truncates, stalls or
// sends garbage at every point of an answer: before the head, after the head,
// mid-body, mid-stream and in the usage event. The matrix drives it through
// every client API (chat, completions, embeddings, responses, messages, Gemini),
// streamed and not (embeddings: not), passthrough and translated (chat client ->
// anthropic provider, messages client -> openai provider). Every case asserts:
//   1. tollgate is alive afterwards (the child has not exited, /healthz answers,
//      no sanitizer report in its stderr);
//   2. the client got a clean error in its own dialect: OpenAI's
//      {"error":{...}}, Anthropic's {"type":"error","error":{...}}, Google's
//      {"error":{"code","message","status"}}; 502 for an upstream that broke,
//      504 for one that stalled, when nothing had been sent yet; for a stream
//      whose head was already out, an error event in the client's dialect, the
//      cost trailer and a clean end of the chunked body;
//   3. the ledger has exactly one row for the request (by x-tollgate-request-id),
//      billed for what was delivered: $0 and 502/504 when nothing reached the
//      client, > $0 (estimated or from real usage, at least the text's tokens)
//      when content did.
// A crash fails the case that caused it; the next case starts a fresh tollgate.
// Cases of one block run one at a time (a crash is attributed to one case); the
// blocks run concurrently, each with its own tollgate.
//
// The two crash repros of the issue have their own describe block at the end.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startFakeFaulty, faultTag } from './lib/fake_faulty.mjs';
import { anthropicProvider } from './lib/fake_anthropic.mjs';
import { geminiProvider } from './lib/fake_gemini.mjs';
import {
  startTollgate, stopAll, openaiProvider, parseSSE, sleep, PRICES,
} from './lib/harness.mjs';

// first_byte_timeout_ms and idle_timeout_ms of every provider: stalls end fast,
// healthy answers (immediate, from loopback) are never near it, even under ASan.
const STALL_MS = 1000;
const CLAUDE = 'claude-haiku-4-5';
const GEMINI = 'gemini-2.5-flash';

let fake;
before(async () => { fake = await startFakeFaulty({ stallMaxMs: 15000 }); });
after(async () => { await stopAll(); await fake?.close(); });

function gatewayOptions() {
  const fast = { first_byte_timeout_ms: STALL_MS, idle_timeout_ms: STALL_MS, connect_timeout_ms: 1000, max_retries: 0 };
  return {
    providers: [
      openaiProvider('faulty-openai', fake.baseUrl, fast),
      anthropicProvider('faulty-anthropic', fake.baseUrl, fast),
      geminiProvider('faulty-gemini', fake.geminiBaseUrl, fast),
    ],
    models: [
      { name: 'gpt-4o-mini', deployments: [{ provider: 'faulty-openai', model: 'gpt-4o-mini' }] },
      { name: 'gpt-3.5-turbo-instruct', deployments: [{ provider: 'faulty-openai', model: 'gpt-3.5-turbo-instruct' }] },
      { name: 'text-embedding-3-small', deployments: [{ provider: 'faulty-openai', model: 'text-embedding-3-small' }] },
      { name: CLAUDE, deployments: [{ provider: 'faulty-anthropic', model: CLAUDE }] },
      { name: GEMINI, deployments: [{ provider: 'faulty-gemini', model: GEMINI }] },
    ],
    overrides: [
      ...Object.entries(PRICES).map(([model, p]) => ({ model, ...p })),
      { model: CLAUDE, input: 1, output: 5 },
      { model: GEMINI, input: 0.3, output: 2.5, reasoning: 2.5 },
    ],
  };
}

// ---------------------------------------------------------------------------
// Client APIs: request, error dialect, streamed text and normal end.

const API = {
  chat: {
    dialect: 'openai',
    path: () => '/v1/chat/completions',
    body: (model, text, stream) => ({ model, messages: [{ role: 'user', content: text }], ...(stream ? { stream: true } : {}) }),
    text: (d) => d.choices?.[0]?.delta?.content ?? '',
    wholeOk: (j) => j?.object === 'chat.completion' && typeof j.choices?.[0]?.message?.content === 'string',
    isEnd: (e) => e.data === '[DONE]',
  },
  completions: {
    dialect: 'openai',
    path: () => '/v1/completions',
    body: (model, text, stream) => ({ model, prompt: text, max_tokens: 16, ...(stream ? { stream: true } : {}) }),
    text: (d) => d.choices?.[0]?.text ?? '',
    wholeOk: (j) => j?.object === 'text_completion' && typeof j.choices?.[0]?.text === 'string',
    isEnd: (e) => e.data === '[DONE]',
  },
  embeddings: {
    dialect: 'openai',
    path: () => '/v1/embeddings',
    body: (model, text) => ({ model, input: text }),
    wholeOk: (j) => j?.object === 'list' && Array.isArray(j.data?.[0]?.embedding),
  },
  responses: {
    dialect: 'responses',
    path: () => '/v1/responses',
    body: (model, text, stream) => ({ model, input: text, ...(stream ? { stream: true } : {}) }),
    text: (d) => (d.type === 'response.output_text.delta' ? d.delta ?? '' : ''),
    wholeOk: (j) => j?.object === 'response' && Array.isArray(j.output),
    isEnd: (e) => /^response\.(completed|incomplete|failed)$/.test(json(e.data)?.type ?? ''),
  },
  messages: {
    dialect: 'anthropic',
    path: () => '/v1/messages',
    headers: { 'anthropic-version': '2023-06-01' },
    body: (model, text, stream) => ({ model, max_tokens: 64, messages: [{ role: 'user', content: text }], ...(stream ? { stream: true } : {}) }),
    text: (d) => (d.type === 'content_block_delta' ? d.delta?.text ?? '' : ''),
    wholeOk: (j) => j?.type === 'message' && Array.isArray(j.content),
    isEnd: (e) => json(e.data)?.type === 'message_stop',
  },
  gemini: {
    dialect: 'gemini',
    path: (model, stream) => `/v1beta/models/${model}:${stream ? 'streamGenerateContent?alt=sse' : 'generateContent'}`,
    headers: { authorization: '', 'x-goog-api-key': 'client-gemini-key' },
    body: (model, text) => ({ contents: [{ role: 'user', parts: [{ text }] }] }),
    text: (d) => (d.candidates?.[0]?.content?.parts ?? []).map((p) => p.text ?? '').join(''),
    wholeOk: (j) => Array.isArray(j?.candidates) && j.candidates.length > 0,
    isEnd: (e) => Boolean(json(e.data)?.candidates?.[0]?.finishReason),
  },
};

function json(text) {
  if (typeof text !== 'string') return null;
  try { return JSON.parse(text); } catch { return null; }
}

const isObj = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Why `j` is not a whole-response error in `dialect` with `status`, or null. */
function wholeErrorProblem(dialect, j, status) {
  if (!isObj(j)) return 'the body is not a JSON object';
  const e = j.error;
  if (!isObj(e)) return 'no "error" object';
  if (dialect === 'anthropic') {
    if (j.type !== 'error') return 'Anthropic dialect: top-level "type" must be "error"';
    if (typeof e.type !== 'string' || typeof e.message !== 'string') return 'Anthropic dialect: error.type and error.message must be strings';
    return null;
  }
  if (dialect === 'gemini') {
    if (e.code !== status) return `Gemini dialect: error.code must be the number ${status} (got ${JSON.stringify(e.code)})`;
    if (typeof e.message !== 'string') return 'Gemini dialect: error.message must be a string';
    if (typeof e.status !== 'string' || !/^[A-Z_]+$/.test(e.status)) return `Gemini dialect: error.status must be a canonical code like UNAVAILABLE (got ${JSON.stringify(e.status)})`;
    return null;
  }
  // OpenAI (chat, completions, embeddings, responses)
  if ('type' in j) return 'OpenAI dialect: unexpected top-level "type" (Anthropic shape?)';
  if (typeof e.message !== 'string' || typeof e.type !== 'string') return 'OpenAI dialect: error.message and error.type must be strings';
  if (!('param' in e) || !('code' in e)) return 'OpenAI dialect: error.param and error.code must be present';
  return null;
}

/** Whether SSE data `d` (parsed) is an error event in `dialect`. */
function isStreamError(dialect, d) {
  if (!isObj(d)) return false;
  switch (dialect) {
    case 'anthropic': return d.type === 'error' && isObj(d.error) && typeof d.error.type === 'string' && typeof d.error.message === 'string';
    case 'responses': return d.type === 'error' && typeof d.message === 'string';
    case 'gemini': return isObj(d.error) && Number.isInteger(d.error.code) && typeof d.error.message === 'string' && typeof d.error.status === 'string';
    default: return !('type' in d) && isObj(d.error) && typeof d.error.message === 'string' && typeof d.error.type === 'string';
  }
}

// ---------------------------------------------------------------------------
// Expectations per fault

const WHOLE_FAULTS = [
  'head.reset', 'head.close', 'head.garbage', 'head.stall',
  'afterhead.reset', 'afterhead.close', 'afterhead.stall',
  'body.cut', 'body.reset', 'body.stall', 'body.usage_types',
];
const STREAM_FAULTS = [
  'head.reset', 'head.close', 'head.garbage', 'head.stall',
  'afterhead.reset', 'afterhead.close', 'afterhead.stall',
  'stream.reset', 'stream.close', 'stream.stall', 'stream.garbage', 'stream.badchunk', 'stream.end',
  'usage.before', 'usage.inside', 'usage.malformed',
];

/**
 * What the client must see:
 *   {kind: 'error', status}    nothing sent yet: a whole JSON error
 *   {kind: 'broken', content}  a 200 stream ending in an error event
 *   {kind: 'ends'}             a 200 stream that ends normally or in an error event
 *   {kind: 'ok'}               a 200 whole answer
 */
function expectation(stream, fault) {
  const stall = fault.endsWith('.stall');
  if (fault.startsWith('head.')) return { kind: 'error', status: stall ? 504 : 502 };
  if (!stream) {
    if (fault === 'body.usage_types') return { kind: 'ok' };
    return { kind: 'error', status: stall ? 504 : 502 };
  }
  if (fault.startsWith('afterhead.')) return { kind: 'broken', content: false };
  if (fault === 'stream.garbage' || fault === 'usage.malformed') return { kind: 'ends' };
  return { kind: 'broken', content: true };
}

// ---------------------------------------------------------------------------
// One tollgate per block, restarted after a crash.

class Gateway {
  constructor(name) {
    this.name = name;
    this.tg = null;
  }

  alive() {
    return this.tg !== null && this.tg.proc.exitCode === null && this.tg.proc.signalCode === null;
  }

  async ensure() {
    if (this.alive()) return this.tg;
    if (this.tg) await this.tg.stop(2000);
    this.tg = await startTollgate({ ...gatewayOptions(), startTimeoutMs: 30000 });
    return this.tg;
  }

  async stop() {
    if (this.tg) await this.tg.stop();
  }
}

/** Sanitizer / crash lines of a stderr slice, for failure messages. */
function sanitizerLines(text) {
  return text.split('\n').filter((l) => /runtime error:|ERROR: AddressSanitizer|ERROR: LeakSanitizer|SUMMARY: |free\(\)|double free|invalid pointer|Segmentation|Aborted|terminate called/.test(l)).slice(0, 8);
}

async function healthz(base) {
  try {
    const r = await fetch(base + '/healthz', { signal: AbortSignal.timeout(3000) });
    await r.text();
    return r.status;
  } catch (err) {
    return `unreachable (${err.cause?.code ?? err.name})`;
  }
}

/** Sends a request; reads the whole answer (a read error is returned, not thrown). */
async function send(base, path, body, headers, timeoutMs = 20000) {
  let res;
  try {
    res = await fetch(base + path, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer sk-client-test', ...headers },
      body: typeof body === 'string' ? body : JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (err) {
    return { status: null, headers: new Headers(), text: '', json: null, error: `no response: ${err.cause?.code ?? err.cause?.message ?? err.message}` };
  }
  let text = '';
  let error = null;
  try { text = await res.text(); } catch (err) { error = `body not cleanly ended: ${err.cause?.code ?? err.cause?.message ?? err.message}`; }
  return { status: res.status, headers: res.headers, text, json: json(text), error };
}

/**
 * Checks liveness, sanitizer output and the ledger for one request; pushes what
 * is wrong onto `problems`. Returns the request's ledger row (or null).
 */
async function checkGatewayAndLedger(gw, tg, { id, rowsBefore, errMark }, problems) {
  let row = null;
  if (!id) {
    problems.push('no x-tollgate-request-id on the response: cannot find its ledger row');
  } else {
    const deadline = Date.now() + 5000;
    for (;;) {
      [row] = await tg.rows(`id = '${id}'`);
      if (row || Date.now() > deadline || !gw.alive()) break;
      await sleep(25);
    }
    if (!row && !gw.alive()) [row] = await tg.rows(`id = '${id}'`);
    if (!row) problems.push(`ledger: no row with id ${id}${gw.alive() ? ' within 5 s' : ' (tollgate died: the queued row was lost)'}`);
  }
  await sleep(60); // three flush intervals: a stray second row would be written by now
  // A sanitizer report is printed before the process aborts: wait for the abort,
  // so that the death is charged to this case, not to the next one.
  if (gw.alive() && sanitizerLines(tg.stderr.slice(errMark)).length) await Promise.race([tg.exited, sleep(3000)]);
  if (gw.alive()) {
    const n = (await tg.rows()).length - rowsBefore;
    if (n !== 1) problems.push(`ledger: expected exactly 1 new row, found ${n}`);
  }
  if (!gw.alive()) {
    const { code, signal } = await tg.exited;
    const lines = sanitizerLines(tg.stderr);
    problems.push(`tollgate DIED (exit code ${code}, signal ${signal})${lines.length ? `:\n      ${lines.join('\n      ')}` : `; stderr tail: ${tg.stderr.slice(-600)}`}`);
  } else {
    const h = await healthz(tg.base);
    if (h !== 200) problems.push(`/healthz after the case: ${h}`);
    const lines = sanitizerLines(tg.stderr.slice(errMark));
    if (lines.length) problems.push(`sanitizer report in stderr:\n      ${lines.join('\n      ')}`);
  }
  return row;
}

let caseSeq = 0;

/** Runs one matrix case. */
async function runCase(gw, { api, model, stream, fault }) {
  const a = API[api];
  const tg = await gw.ensure();
  const rowsBefore = (await tg.rows()).length;
  const errMark = tg.stderr.length;
  const problems = [];
  const check = (ok, msg) => { if (!ok) problems.push(msg); return ok; };

  // A nonce per case finds its upstream request in the fake's record.
  const nonce = `case-${++caseSeq}-${process.pid}`;
  const r = await send(tg.base, a.path(model, stream), a.body(model, `Say hello (${nonce}). ${faultTag(fault)}`, stream), a.headers ?? {});
  const id = r.headers.get('x-tollgate-request-id');
  // The fault must really have been injected (not, say, the request refused before the upstream).
  const upstream = fake.requests.filter((q) => q.bodyText.includes(nonce));
  check(upstream.some((q) => q.outcome === fault),
    `setup: the fake did not inject ${fault} (upstream attempts: ${JSON.stringify(upstream.map((q) => q.outcome))})`);
  const exp = expectation(stream, fault);
  const shown = () => JSON.stringify(r.text.length > 400 ? r.text.slice(0, 200) + ' ... ' + r.text.slice(-200) : r.text);
  let delivered = '';

  if (check(r.status !== null, `client: ${r.error}`)) {
    if (exp.kind === 'error') {
      check(r.status === exp.status, `client: HTTP ${r.status}, expected ${exp.status}; body ${shown()}`);
      check(/application\/json/.test(r.headers.get('content-type') ?? ''), `client: content-type ${r.headers.get('content-type')}, expected application/json`);
      const p = wholeErrorProblem(a.dialect, r.json, exp.status);
      check(!p, `client: not a ${a.dialect} error body: ${p}; body ${shown()}`);
      check(!r.error, `client: ${r.error}`);
    } else if (exp.kind === 'ok') {
      check(r.status === 200, `client: HTTP ${r.status}, expected 200; body ${shown()}`);
      check(a.wholeOk(r.json), `client: not a ${api} answer: ${shown()}`);
    } else {
      check(r.status === 200, `client: HTTP ${r.status}, expected 200 (the stream's head); body ${shown()}`);
      check(/text\/event-stream/.test(r.headers.get('content-type') ?? ''), `client: content-type ${r.headers.get('content-type')}, expected text/event-stream`);
      check(!r.error, `client: ${r.error} (the stream must end with a clean chunked end)`);
      const events = parseSSE(r.text);
      const dataEvents = events.filter((e) => e.data !== null);
      delivered = dataEvents.map((e) => json(e.data)).filter(isObj).map((d) => a.text(d)).join('');
      const last = dataEvents.at(-1);
      const lastIsError = last !== undefined && isStreamError(a.dialect, json(last.data));
      const trailer = events.at(-1)?.comments.find((c) => c.startsWith('tollgate cost_usd='));
      check(trailer, `client: the stream does not end with the ": tollgate cost_usd=... request_id=..." trailer; tail ${JSON.stringify(r.text.slice(-300))}`);
      if (trailer && id) check(trailer.includes(`request_id=${id}`), `client: trailer ${trailer} names another request than ${id}`);
      if (exp.kind === 'broken') {
        check(lastIsError, `client: the last data event is not a ${a.dialect} error event: ${JSON.stringify(last?.data?.slice(0, 300) ?? null)}`);
        if (exp.content) check(delivered.length > 0, 'client: no content reached the client before the fault (the fake cut too early?)');
      } else {
        check(lastIsError || (last && a.isEnd(last)),
          `client: the stream ends neither normally nor with a ${a.dialect} error event: last data ${JSON.stringify(last?.data?.slice(0, 300) ?? null)}`);
        check(delivered.length > 0, 'client: no content reached the client');
      }
    }
  }

  const row = await checkGatewayAndLedger(gw, tg, { id, rowsBefore, errMark }, problems);
  if (row) {
    const cost = row.cost_usd === null ? null : Number(row.cost_usd);
    const tokens = ['input_tokens', 'cache_read_tokens', 'cache_write_5m_tokens', 'cache_write_1h_tokens', 'output_tokens', 'reasoning_tokens'];
    for (const t of tokens) check(!(Number(row[t]) < 0), `ledger: ${t} = ${row[t]} is negative`);
    if (r.status !== null) check(row.status === r.status, `ledger: status ${row.status}, but the client got HTTP ${r.status}`);
    if (exp.kind === 'error') {
      check(row.status === exp.status, `ledger: status ${row.status}, expected ${exp.status}`);
      const cls = exp.status === 504 ? 'upstream_timeout' : 'upstream_unreachable';
      check(row.error_class === cls, `ledger: error_class ${row.error_class}, expected ${cls}`);
      check(cost === 0, `ledger: cost_usd ${row.cost_usd}, expected 0 (nothing reached the client)`);
    } else if (exp.kind === 'ok') {
      check(row.status === 200 && row.error_class === null, `ledger: status ${row.status} error_class ${row.error_class}, expected 200 / null`);
      check(cost !== null && Number.isFinite(cost) && cost > 0,
        `ledger: cost_usd ${row.cost_usd} for a delivered answer whose usage was malformed, expected > 0 (estimated) (tokens in/out ${row.input_tokens}/${row.output_tokens}, estimated ${row.estimated})`);
    } else {
      check(row.streamed === 1, `ledger: streamed ${row.streamed}, expected 1`);
      if (exp.kind === 'broken') check(row.error_class === 'stream_broken', `ledger: error_class ${row.error_class}, expected stream_broken`);
      else check(row.error_class === null || row.error_class === 'stream_broken', `ledger: error_class ${row.error_class}, expected null or stream_broken`);
      check(cost !== null && Number.isFinite(cost) && cost >= 0, `ledger: cost_usd ${row.cost_usd}, expected a known cost >= 0`);
      if (exp.kind === 'ends' || exp.content) {
        check(cost > 0, `ledger: cost_usd ${row.cost_usd}, expected > 0: content reached the client`);
        const out = Number(row.output_tokens) + Number(row.reasoning_tokens);
        const seen = Math.floor(delivered.length / 4);
        check(row.estimated === 1 || out > 0, `ledger: neither estimated nor real output usage (output ${out}, estimated ${row.estimated})`);
        check(out >= seen, `ledger: billed ${out} output tokens for ${delivered.length} characters delivered (>= ${seen} expected; estimated ${row.estimated})`);
      }
    }
  }
  if (problems.length) assert.fail(`${problems.length} problem(s):\n  - ${problems.join('\n  - ')}`);
}

// ---------------------------------------------------------------------------
// The matrix

const BLOCKS = [
  { name: 'chat -> openai', api: 'chat', model: 'gpt-4o-mini', streams: [false, true] },
  { name: 'completions -> openai', api: 'completions', model: 'gpt-3.5-turbo-instruct', streams: [false, true] },
  { name: 'embeddings -> openai', api: 'embeddings', model: 'text-embedding-3-small', streams: [false] },
  { name: 'responses -> openai', api: 'responses', model: 'gpt-4o-mini', streams: [false, true] },
  { name: 'messages -> anthropic', api: 'messages', model: CLAUDE, streams: [false, true] },
  { name: 'gemini -> gemini', api: 'gemini', model: GEMINI, streams: [false, true] },
  { name: 'chat -> anthropic (translated)', api: 'chat', model: CLAUDE, streams: [false, true] },
  { name: 'messages -> openai (translated)', api: 'messages', model: 'gpt-4o-mini', streams: [false, true] },
];

describe('fault matrix', { concurrency: true }, () => {
  for (const block of BLOCKS) {
    describe(block.name, { concurrency: 1 }, () => {
      const gw = new Gateway(block.name);
      before(() => gw.ensure());
      after(() => gw.stop());
      for (const stream of block.streams) {
        for (const fault of stream ? STREAM_FAULTS : WHOLE_FAULTS) {
          const exp = expectation(stream, fault);
          const what = exp.kind === 'error' ? `${exp.status}` : exp.kind === 'broken' ? 'error event' : exp.kind === 'ok' ? '200' : 'clean end';
          test(`${block.name} | ${stream ? 'stream' : 'whole'} | ${fault} -> ${what}`, () =>
            runCase(gw, { api: block.api, model: block.model, stream, fault }));
        }
      }
      test(`${block.name} | SIGTERM: exit 0, no sanitizer report`, async () => {
        const tg = await gw.ensure();
        const { code, signal } = await tg.stop();
        const lines = sanitizerLines(tg.stderr);
        assert.ok(code === 0 && signal === null && lines.length === 0,
          `exit code ${code}, signal ${signal}${lines.length ? `\n  ${lines.join('\n  ')}` : ''}`);
      });
    });
  }
});

// ---------------------------------------------------------------------------
// The two crash repros of issue 11

describe('issue 11 crash repros', { concurrency: 1 }, () => {
  const gw = new Gateway('repros');
  before(() => gw.ensure());
  after(() => gw.stop());

  /** Sends a raw body, expects `status` with an error in `dialect`, a live gateway and one row. */
  async function expectClean(path, bodyText, headers, dialect, status, rowCheck) {
    const tg = await gw.ensure();
    const rowsBefore = (await tg.rows()).length;
    const errMark = tg.stderr.length;
    const problems = [];
    const r = await send(tg.base, path, bodyText, headers);
    if (r.status === null) problems.push(`client: ${r.error}`);
    else {
      if (r.status !== status) problems.push(`client: HTTP ${r.status}, expected ${status}; body ${JSON.stringify(r.text.slice(0, 300))}`);
      const p = wholeErrorProblem(dialect, r.json, status);
      if (p) problems.push(`client: not a ${dialect} error body: ${p}; body ${JSON.stringify(r.text.slice(0, 300))}`);
      else rowCheck?.body?.(r.json, problems);
    }
    const id = r.headers.get('x-tollgate-request-id');
    const row = await checkGatewayAndLedger(gw, tg, { id, rowsBefore, errMark }, problems);
    if (row) {
      if (row.status !== status) problems.push(`ledger: status ${row.status}, expected ${status}`);
      if (Number(row.cost_usd) !== 0) problems.push(`ledger: cost_usd ${row.cost_usd}, expected 0`);
      rowCheck?.row?.(row, problems);
    }
    if (problems.length) assert.fail(`${problems.length} problem(s):\n  - ${problems.join('\n  - ')}`);
  }

  // (a) A deeply nested JSON body: a 400 invalid-request error, never a stack overflow.
  const deep = (n) => '{"model":"x","d":' + '['.repeat(n) + ']'.repeat(n) + '}';
  const invalidRequest = {
    body: (j, problems) => {
      const type = j.type === 'error' ? j.error.type : j.error.type ?? j.error.status;
      if (!/invalid_request_error|INVALID_ARGUMENT/.test(String(type))) problems.push(`client: error type ${type}, expected invalid_request_error (INVALID_ARGUMENT for Gemini)`);
    },
    row: (row, problems) => {
      if (!/^invalid_/.test(row.error_class ?? '')) problems.push(`ledger: error_class ${row.error_class}, expected invalid_json / invalid_request`);
    },
  };
  const JSON_ENDPOINTS = [
    ['/v1/chat/completions', 'openai'],
    ['/v1/completions', 'openai'],
    ['/v1/embeddings', 'openai'],
    ['/v1/responses', 'openai'],
    ['/v1/messages', 'anthropic'],
    ['/v1/messages/count_tokens', 'anthropic'],
    [`/v1beta/models/${GEMINI}:generateContent`, 'gemini'],
    [`/v1beta/models/${GEMINI}:streamGenerateContent?alt=sse`, 'gemini'],
  ];
  for (const [path, dialect] of JSON_ENDPOINTS) {
    test(`(a) 200000-deep JSON array to ${path} -> 400, alive, one row`, () =>
      expectClean(path, deep(200000), dialect === 'gemini' ? { authorization: '', 'x-goog-api-key': 'k' } : {}, dialect, 400, invalidRequest));
  }
  for (const [path, dialect] of JSON_ENDPOINTS.filter(([p]) => /chat|\/completions|messages$/.test(p))) {
    test(`(a) 90000-deep JSON array to ${path} -> 400, alive, one row`, () =>
      expectClean(path, deep(90000), {}, dialect, 400, invalidRequest));
  }
  test('(a) 150000-deep JSON objects to /v1/chat/completions -> 400, alive, one row', () =>
    expectClean('/v1/chat/completions', '{"model":"x","d":' + '{"a":'.repeat(150000) + '1' + '}'.repeat(150000) + '}', {}, 'openai', 400, invalidRequest));

  // (b) An upstream that sends `HTTP/1.1 200 OK`, `Content-Length: 100`, `{"id":` and closes,
  // to an openai-compatible provider with max_retries 0: one non-streamed chat request.
  const chat = (fault) => JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: `Say hello. ${faultTag(fault)}` }] });
  const unreachable = {
    row: (row, problems) => { if (row.error_class !== 'upstream_unreachable') problems.push(`ledger: error_class ${row.error_class}, expected upstream_unreachable`); },
  };
  for (const [label, ctype] of [['JSON content type', 'application/json'], ['no JSON content type (curl -d)', 'application/x-www-form-urlencoded']]) {
    for (const fault of ['repro.cl100', 'repro.cl100_json']) {
      test(`(b) upstream 200 + Content-Length: 100 + {"id": + close${fault.endsWith('json') ? ' (upstream JSON content type)' : ''}, client ${label} -> 502, alive, one row`, () =>
        expectClean('/v1/chat/completions', chat(fault), { 'content-type': ctype }, 'openai', 502, unreachable));
    }
  }
  test('repros | SIGTERM: exit 0, no sanitizer report', async () => {
    const tg = await gw.ensure();
    const { code, signal } = await tg.stop();
    const lines = sanitizerLines(tg.stderr);
    assert.ok(code === 0 && signal === null && lines.length === 0, `exit code ${code}, signal ${signal}${lines.length ? `\n  ${lines.join('\n  ')}` : ''}`);
  });
});
