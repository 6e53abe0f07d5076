// A loopback fake upstream that misbehaves at byte level, for the fault-injection
// matrix (faults.test.mjs, issue 11).
//
// It is a raw `net` TCP server, not node:http, so it can do what node:http
// never would: reset before any byte, send garbage instead of HTTP, promise a
// Content-Length and close short, break the chunked framing, stall mid-stream.
// Its healthy answers speak each provider's wire format, with the shapes of the
// other fakes (the Anthropic and Gemini builders are imported from
// fake_anthropic.mjs / fake_gemini.mjs, and the default texts and usage of all
// three are theirs):
//   POST /v1/chat/completions, /v1/completions, /v1/embeddings   OpenAI
//   POST /v1/responses                                           OpenAI Responses
//   POST /v1/messages                                            Anthropic
//   POST /v1beta/models/{m}:generateContent|streamGenerateContent?alt=sse   Gemini
// Streams are SSE in `Transfer-Encoding: chunked` (one event per chunk), as the
// real APIs send them, so a cut is visible at the HTTP level; every answer is
// `Connection: close` (one request per connection: no pooled connection can
// carry a fault into the next request).
//
// The fault is chosen per request by a tag anywhere in the request body,
// `[[fault:KIND]]` or `[[fault:KIND:N]]` (see faultTag()): the tag lives in the
// prompt text, so it survives tollgate's chat <-> messages translation, and
// concurrent requests of different tests never share a setting. KINDs:
//
//   before the head     head.reset     read the request, then RST
//                       head.close     read the request, then FIN without a byte
//                       head.garbage   bytes that are not HTTP, then FIN
//                       head.stall     never answer (past first_byte_timeout_ms)
//   after the head      afterhead.reset / afterhead.close / afterhead.stall
//                                      the response head only (Content-Length or
//                                      chunked SSE), then RST / FIN / silence
//   mid-body            body.cut       half of a Content-Length body, then FIN
//   (not streamed)      body.reset     half of it, then RST
//                       body.stall     half of it, then silence (past idle_timeout_ms)
//                       body.usage_types  a complete answer whose usage object is
//                                      malformed: negative counts, strings, floats
//   mid-stream          stream.reset / stream.close / stream.stall
//   (after N content    stream.garbage one SSE event of garbage bytes, then the rest
//    events, default 2)                of the stream as normal
//                       stream.badchunk  an invalid chunk-size line, then FIN
//                       stream.end     a clean end of the chunked body, but no
//                                      final event ([DONE], message_stop, ...)
//   usage event         usage.before   FIN just before the event carrying usage
//                       usage.inside   half of the usage event's bytes, then FIN
//                       usage.malformed  the usage event's JSON broken, the rest
//                                      of the stream as normal
//   raw answers         repro.cl100       exactly `HTTP/1.1 200 OK`,
//                                         `Content-Length: 100`, `{"id":`, FIN
//                       repro.cl100_json  the same with a JSON Content-Type
//   none (no tag)       a healthy answer
//
// The usage event is: OpenAI's usage-only chunk (choices: []; `data: [DONE]`
// when the request did not ask for usage), Responses' response.completed,
// Anthropic's message_delta, Gemini's last chunk. A "content event" is one that
// carries answer text.
//
// Every silence is bounded (stallMaxMs, default 15 s): the fake then closes.
// Every request is recorded in `fake.requests` ({method, path, query, headers,
// bodyText, body, fault, n, wire, stream, outcome}).

import net from 'node:net';
import { DEFAULT_BEHAVIOUR } from './fake_openai.mjs';
import { DEFAULT_ANTHROPIC_BEHAVIOUR, messageStreamEvents, sseText, anthropicError } from './fake_anthropic.mjs';
import { DEFAULT_GEMINI_BEHAVIOUR, googleCompactJson, usageMetadata } from './fake_gemini.mjs';

export const FAULT_KINDS = Object.freeze([
  'head.reset', 'head.close', 'head.garbage', 'head.stall',
  'afterhead.reset', 'afterhead.close', 'afterhead.stall',
  'body.cut', 'body.reset', 'body.stall', 'body.usage_types',
  'stream.reset', 'stream.close', 'stream.stall', 'stream.garbage', 'stream.badchunk', 'stream.end',
  'usage.before', 'usage.inside', 'usage.malformed',
  'repro.cl100', 'repro.cl100_json',
]);

/** The tag that selects a fault when it appears in a request body. */
export function faultTag(kind, n) {
  if (!FAULT_KINDS.includes(kind)) throw new Error(`fake_faulty: unknown fault ${kind}`);
  return `[[fault:${kind}${n === undefined ? '' : `:${n}`}]]`;
}

const TAG = /\[\[fault:([a-z_]+\.[a-z_0-9]+)(?::(\d+))?\]\]/;
const CREATED = 1732000000;
const MAX_REQUEST_BYTES = 4 << 20;
const GARBAGE = Buffer.concat([
  Buffer.from([0x00, 0xff, 0xfe, 0x16, 0x03, 0x01]),
  Buffer.from('\r\nSSH-2.0-notHTTP \x7f{"id":\r\n\r\n'),
  Buffer.from([0xc3, 0x28, 0xa0, 0xa1, 0x00, 0x0d, 0x0a]),
]);

const pieces = (text) => text.match(/\S+\s*/g) ?? [];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------
// Healthy answers. An answer is {headers, body} (not streamed) or
// {headers, events: [{text, content, usage}]} (SSE; `text` is the whole event
// with its blank line).

function openaiUsage(u) {
  return {
    prompt_tokens: u.prompt_tokens,
    completion_tokens: u.completion_tokens,
    total_tokens: u.prompt_tokens + u.completion_tokens,
    prompt_tokens_details: { cached_tokens: u.cached_tokens ?? 0, audio_tokens: 0 },
    completion_tokens_details: { reasoning_tokens: u.reasoning_tokens ?? 0, audio_tokens: 0 },
  };
}

/** Usage objects of the right place but the wrong content (body.usage_types). */
const BAD_USAGE = {
  openai: { prompt_tokens: -1000, completion_tokens: '500', total_tokens: 1.5e300, prompt_tokens_details: 'none', completion_tokens_details: { reasoning_tokens: -7 } },
  responses: { input_tokens: -1200, input_tokens_details: [], output_tokens: '700', output_tokens_details: { reasoning_tokens: 1e300 }, total_tokens: null },
  anthropic: { input_tokens: -100, output_tokens: '50', cache_read_input_tokens: 1.5e300, cache_creation_input_tokens: null, cache_creation: 'x' },
  gemini: { promptTokenCount: -1000, candidatesTokenCount: '200', thoughtsTokenCount: 1.5e300, totalTokenCount: null },
};

const JSON_HEADERS = { 'Content-Type': 'application/json' };
const SSE_HEADERS = { 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-cache' };

function dataEvent(obj, { content = false, usage = false, name = null, nl = '\n' } = {}) {
  const data = typeof obj === 'string' ? obj : JSON.stringify(obj);
  return { text: `${name ? `event: ${name}${nl}` : ''}data: ${data}${nl}${nl}`, content, usage };
}

function openaiAnswer(wire, body, { stream, badUsage }, seq) {
  const b = DEFAULT_BEHAVIOUR;
  const model = body?.model ?? 'unknown';
  const usage = badUsage ? BAD_USAGE.openai : openaiUsage(b.usage);
  if (wire === 'openai.embeddings') {
    const inputs = Array.isArray(body?.input) ? body.input : [body?.input];
    return {
      headers: JSON_HEADERS,
      body: JSON.stringify({
        object: 'list',
        data: inputs.map((_, index) => ({ object: 'embedding', index, embedding: [0.0023064255, -0.009327292, 0.015797347] })),
        model,
        usage: badUsage ? { prompt_tokens: -1000, total_tokens: '1000' } : { prompt_tokens: b.usage.prompt_tokens, total_tokens: b.usage.prompt_tokens },
      }),
    };
  }
  const chat = wire === 'openai.chat';
  const id = `${chat ? 'chatcmpl' : 'cmpl'}-faulty${seq}`;
  if (!stream) {
    const choice = chat
      ? { index: 0, message: { role: 'assistant', content: b.content, refusal: null }, logprobs: null, finish_reason: 'stop' }
      : { text: b.content, index: 0, logprobs: null, finish_reason: 'stop' };
    return {
      headers: JSON_HEADERS,
      body: JSON.stringify({ id, object: chat ? 'chat.completion' : 'text_completion', created: CREATED, model, choices: [choice], usage }, null, 2),
    };
  }
  const includeUsage = body?.stream_options?.include_usage === true;
  const base = chat
    ? { id, object: 'chat.completion.chunk', created: CREATED, model, system_fingerprint: 'fp_faulty' }
    : { id, object: 'text_completion', created: CREATED, model };
  const nullUsage = includeUsage ? { usage: null } : {};
  const events = [];
  if (chat) events.push(dataEvent({ ...base, choices: [{ index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }], ...nullUsage }));
  for (const p of pieces(b.content)) {
    const choice = chat ? { index: 0, delta: { content: p }, logprobs: null, finish_reason: null } : { text: p, index: 0, logprobs: null, finish_reason: null };
    events.push(dataEvent({ ...base, choices: [choice], ...nullUsage }, { content: true }));
  }
  const last = chat ? { index: 0, delta: {}, logprobs: null, finish_reason: 'stop' } : { text: '', index: 0, logprobs: null, finish_reason: 'stop' };
  events.push(dataEvent({ ...base, choices: [last], ...nullUsage }));
  if (includeUsage) events.push(dataEvent({ ...base, choices: [], usage: chat ? usage : { prompt_tokens: b.usage.prompt_tokens, completion_tokens: b.usage.completion_tokens, total_tokens: b.usage.prompt_tokens + b.usage.completion_tokens } }, { usage: true }));
  events.push(dataEvent('[DONE]', { usage: !includeUsage }));
  return { headers: SSE_HEADERS, events };
}

function responsesAnswer(body, { stream, badUsage }, seq) {
  const text = DEFAULT_BEHAVIOUR.content;
  const u = DEFAULT_BEHAVIOUR.usage;
  const usage = badUsage ? BAD_USAGE.responses : {
    input_tokens: u.prompt_tokens, input_tokens_details: { cached_tokens: u.cached_tokens },
    output_tokens: u.completion_tokens, output_tokens_details: { reasoning_tokens: u.reasoning_tokens },
    total_tokens: u.prompt_tokens + u.completion_tokens,
  };
  const id = `resp_faulty${seq}`;
  const msgId = `msg_faulty${seq}`;
  const part = (t) => ({ type: 'output_text', annotations: [], text: t });
  const message = (status, t) => ({ id: msgId, type: 'message', status, role: 'assistant', content: t === null ? [] : [part(t)] });
  const response = (status, output, usageObj) => ({
    id, object: 'response', created_at: CREATED, status, error: null, incomplete_details: null,
    model: body?.model ?? 'unknown', output, usage: usageObj,
  });
  if (!stream) return { headers: JSON_HEADERS, body: JSON.stringify(response('completed', [message('completed', text)], usage), null, 2) };
  const events = [];
  const ev = (type, fields, flags = {}) => events.push(dataEvent({ type, sequence_number: events.length, ...fields }, { name: type, ...flags }));
  ev('response.created', { response: response('in_progress', [], null) });
  ev('response.in_progress', { response: response('in_progress', [], null) });
  ev('response.output_item.added', { output_index: 0, item: message('in_progress', null) });
  ev('response.content_part.added', { item_id: msgId, output_index: 0, content_index: 0, part: part('') });
  for (const p of pieces(text)) ev('response.output_text.delta', { item_id: msgId, output_index: 0, content_index: 0, delta: p }, { content: true });
  ev('response.output_text.done', { item_id: msgId, output_index: 0, content_index: 0, text });
  ev('response.content_part.done', { item_id: msgId, output_index: 0, content_index: 0, part: part(text) });
  ev('response.output_item.done', { output_index: 0, item: message('completed', text) });
  ev('response.completed', { response: response('completed', [message('completed', text)], usage) }, { usage: true });
  return { headers: SSE_HEADERS, events };
}

function anthropicAnswer(body, { stream, badUsage }, seq) {
  const b = DEFAULT_ANTHROPIC_BEHAVIOUR;
  const id = `msg_faulty${seq}`;
  const model = body?.model ?? 'unknown';
  const headers = { ...(stream ? SSE_HEADERS : JSON_HEADERS), 'request-id': `req_faulty${seq}` };
  if (!stream) {
    return {
      headers,
      body: JSON.stringify({ id, type: 'message', role: 'assistant', model, content: b.content, stop_reason: 'end_turn', stop_sequence: null, usage: badUsage ? BAD_USAGE.anthropic : b.usage }),
    };
  }
  const events = messageStreamEvents({ id, model, content: b.content, stopReason: 'end_turn', usage: b.usage }).map((e) => ({
    text: sseText([e]),
    content: e.event === 'content_block_delta',
    usage: e.event === 'message_delta',
  }));
  return { headers, events };
}

function geminiAnswer(model, { stream, badUsage }, seq) {
  const b = DEFAULT_GEMINI_BEHAVIOUR;
  const responseId = `faultyResp${seq}`;
  const headers = { 'Content-Type': stream ? 'text/event-stream' : 'application/json; charset=UTF-8' };
  if (!stream) {
    return {
      headers,
      body: JSON.stringify({
        candidates: [{ content: { parts: [{ text: b.text }], role: 'model' }, finishReason: 'STOP', index: 0 }],
        usageMetadata: badUsage ? BAD_USAGE.gemini : usageMetadata(b.usage),
        modelVersion: model, responseId,
      }, null, 2),
    };
  }
  const words = pieces(b.text);
  const events = words.map((w, i) => {
    const last = i === words.length - 1;
    const running = last ? b.usage.candidatesTokenCount : Math.max(1, Math.floor((b.usage.candidatesTokenCount * (i + 1)) / words.length));
    const cand = { content: { parts: [{ text: w }], role: 'model' } };
    if (last) cand.finishReason = 'STOP';
    cand.index = 0;
    const chunk = { candidates: [cand], usageMetadata: usageMetadata(b.usage, running), modelVersion: model, responseId };
    return { text: `data: ${googleCompactJson(chunk)}\r\n\r\n`, content: true, usage: last };
  });
  return { headers, events };
}

/** Which wire a request path speaks, or null. */
function wireOf(path) {
  switch (path) {
    case '/v1/chat/completions': return { wire: 'openai.chat' };
    case '/v1/completions': return { wire: 'openai.completions' };
    case '/v1/embeddings': return { wire: 'openai.embeddings' };
    case '/v1/responses': return { wire: 'openai.responses' };
    case '/v1/messages': return { wire: 'anthropic.messages' };
    default: {
      const m = path.match(/^\/v1beta\/models\/([^/:]+):(generateContent|streamGenerateContent)$/);
      return m ? { wire: 'gemini', model: m[1], geminiStream: m[2] === 'streamGenerateContent' } : null;
    }
  }
}

// ---------------------------------------------------------------------------
// The server

/** Reads one HTTP/1.1 request off a raw socket (Content-Length or chunked body). */
function parseRequest(buf) {
  const headEnd = buf.indexOf('\r\n\r\n');
  if (headEnd < 0) return null;
  const lines = buf.subarray(0, headEnd).toString('latin1').split('\r\n');
  const [method, target] = lines[0].split(' ');
  const headers = {};
  for (const l of lines.slice(1)) {
    const i = l.indexOf(':');
    if (i > 0) headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
  }
  let rest = buf.subarray(headEnd + 4);
  let body;
  if (/chunked/i.test(headers['transfer-encoding'] ?? '')) {
    const parts = [];
    for (let guard = 0; guard < 100000; guard++) {
      const eol = rest.indexOf('\r\n');
      if (eol < 0) return null;
      const size = parseInt(rest.subarray(0, eol).toString('latin1'), 16);
      if (!Number.isFinite(size)) throw new Error('bad chunk size in request');
      if (rest.length < eol + 2 + size + 2) return null;
      if (size === 0) break;
      parts.push(rest.subarray(eol + 2, eol + 2 + size));
      rest = rest.subarray(eol + 2 + size + 2);
    }
    body = Buffer.concat(parts);
  } else {
    const len = Number(headers['content-length'] ?? 0);
    if (rest.length < len) return null;
    body = rest.subarray(0, len);
  }
  const url = new URL(target ?? '/', 'http://x');
  return { method, path: url.pathname, query: url.search, headers, bodyText: body.toString('utf8') };
}

function headText(status, reason, headers) {
  return `HTTP/1.1 ${status} ${reason}\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`;
}

const chunk = (text) => {
  const b = Buffer.from(text);
  return Buffer.concat([Buffer.from(`${b.length.toString(16)}\r\n`), b, Buffer.from('\r\n')]);
};

/** Breaks an event's JSON: cuts it inside its usage object and adds a stray token. */
function malformed(eventText) {
  const at = Math.max(eventText.search(/"usage(Metadata)?"\s*:/), eventText.indexOf('data: ') + 8);
  const nl = eventText.endsWith('\r\n\r\n') ? '\r\n' : '\n';
  const head = eventText.slice(0, at + 12).replace(/\r?\n\r?\n$/, '');
  return `${head}",,}{"tokens": NaN]]${nl}${nl}`;
}

export class FakeFaulty {
  constructor({ stallMaxMs = 15000 } = {}) {
    this.stallMaxMs = stallMaxMs;
    this.requests = [];
    this.sockets = new Set();
    this.seq = 0;
    this.server = null;
    this.port = null;
  }

  async start() {
    this.server = net.createServer((sock) => this.#onConnection(sock));
    await new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(0, '127.0.0.1', resolve);
    });
    this.port = this.server.address().port;
    return this;
  }

  /** base_url for openai-compatible and anthropic providers. */
  get baseUrl() { return `http://127.0.0.1:${this.port}/v1`; }
  /** base_url for gemini providers. */
  get geminiBaseUrl() { return `http://127.0.0.1:${this.port}/v1beta`; }

  async close() {
    if (!this.server) return;
    for (const s of this.sockets) s.destroy();
    await new Promise((r) => this.server.close(() => r()));
    this.server = null;
  }

  #onConnection(sock) {
    this.sockets.add(sock);
    sock.setNoDelay(true);
    // Nothing here lives longer than a stall's bound plus a margin.
    const guard = setTimeout(() => sock.destroy(), this.stallMaxMs + 5000);
    sock.on('close', () => { clearTimeout(guard); this.sockets.delete(sock); });
    sock.on('error', () => {});
    let buf = Buffer.alloc(0);
    let handled = false;
    sock.on('data', (d) => {
      if (handled) return;
      buf = Buffer.concat([buf, d]);
      if (buf.length > MAX_REQUEST_BYTES) { handled = true; sock.destroy(); return; }
      let req;
      try { req = parseRequest(buf); } catch { handled = true; sock.destroy(); return; }
      if (!req) return;
      handled = true;
      this.#answer(sock, req).catch((err) => {
        console.error('fake_faulty handler error:', err);
        sock.destroy();
      });
    });
  }

  /** Writes and resolves once the bytes are handed to the kernel (false if the socket is gone). */
  #write(sock, data) {
    if (sock.destroyed) return Promise.resolve(false);
    return new Promise((resolve) => sock.write(data, (err) => resolve(!err)));
  }

  /** Waits until the peer closes, or stallMaxMs. */
  #stall(sock) {
    if (sock.destroyed) return Promise.resolve();
    return new Promise((resolve) => {
      const t = setTimeout(() => { sock.destroy(); resolve(); }, this.stallMaxMs);
      sock.once('close', () => { clearTimeout(t); resolve(); });
    });
  }

  /** RST: give the peer a moment to read what was sent, then reset. */
  async #reset(sock) {
    await sleep(30);
    if (!sock.destroyed) sock.resetAndDestroy();
  }

  /** FIN after the written bytes. */
  #fin(sock) {
    return new Promise((resolve) => {
      if (sock.destroyed) return resolve();
      sock.end(() => resolve());
      setTimeout(resolve, 2000);
    });
  }

  async #answer(sock, req) {
    let body = null;
    try { body = JSON.parse(req.bodyText); } catch { body = null; }
    const m = req.bodyText.match(TAG);
    const fault = m?.[1] ?? null;
    const n = m?.[2] !== undefined ? Number(m[2]) : 2;
    const w = wireOf(req.path);
    const stream = w?.wire === 'gemini' ? w.geminiStream : body?.stream === true;
    const record = { ...req, body, fault, n, wire: w?.wire ?? null, stream, outcome: 'pending' };
    this.requests.push(record);
    const seq = String(++this.seq).padStart(6, '0');
    const done = (outcome) => { record.outcome = outcome; };

    // Faults that need no answer.
    switch (fault) {
      case 'head.reset': done(fault); return this.#reset(sock);
      case 'head.close': done(fault); return this.#fin(sock);
      case 'head.garbage': await this.#write(sock, GARBAGE); done(fault); return this.#fin(sock);
      case 'head.stall': done(fault); return this.#stall(sock);
      case 'repro.cl100':
      case 'repro.cl100_json':
        await this.#write(sock, `HTTP/1.1 200 OK\r\n${fault === 'repro.cl100_json' ? 'Content-Type: application/json\r\n' : ''}Content-Length: 100\r\n\r\n{"id":`);
        done(fault);
        return this.#fin(sock);
      default: break;
    }

    if (req.method !== 'POST' || !w || (w.wire !== 'gemini' && body === null)) {
      const text = w?.wire === 'anthropic.messages'
        ? JSON.stringify(anthropicError('invalid_request_error', 'fake_faulty: bad request'))
        : JSON.stringify({ error: { message: `fake_faulty: cannot serve ${req.method} ${req.path}`, type: 'invalid_request_error', param: null, code: null } });
      await this.#write(sock, headText(w ? 400 : 404, w ? 'Bad Request' : 'Not Found', { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), Connection: 'close' }) + text);
      done('rejected');
      return this.#fin(sock);
    }

    const opts = { stream, badUsage: fault === 'body.usage_types' };
    let answer;
    if (w.wire === 'gemini') answer = geminiAnswer(w.model, opts, seq);
    else if (w.wire === 'anthropic.messages') answer = anthropicAnswer(body, opts, seq);
    else if (w.wire === 'openai.responses') answer = responsesAnswer(body, opts, seq);
    else answer = openaiAnswer(w.wire, body, opts, seq);

    if (answer.body !== undefined) return this.#whole(sock, answer, fault, done);
    return this.#sse(sock, answer, fault, n, done);
  }

  async #whole(sock, answer, fault, done) {
    const bytes = Buffer.from(answer.body);
    const head = headText(200, 'OK', { ...answer.headers, 'Content-Length': bytes.length, Connection: 'close' });
    if (!(await this.#write(sock, head))) return done('peer gone');
    switch (fault) {
      case 'afterhead.reset': done(fault); return this.#reset(sock);
      case 'afterhead.close': done(fault); return this.#fin(sock);
      case 'afterhead.stall': done(fault); return this.#stall(sock);
      default: break;
    }
    if (fault?.startsWith('body.') && fault !== 'body.usage_types') {
      await this.#write(sock, bytes.subarray(0, bytes.length >> 1));
      done(fault);
      if (fault === 'body.cut') return this.#fin(sock);
      if (fault === 'body.reset') return this.#reset(sock);
      return this.#stall(sock);
    }
    await this.#write(sock, bytes);
    done(fault ?? 'healthy');
    return this.#fin(sock);
  }

  async #sse(sock, answer, fault, n, done) {
    const head = headText(200, 'OK', { ...answer.headers, 'Transfer-Encoding': 'chunked', Connection: 'close' });
    if (!(await this.#write(sock, head))) return done('peer gone');
    switch (fault) {
      case 'afterhead.reset': done(fault); return this.#reset(sock);
      case 'afterhead.close': done(fault); return this.#fin(sock);
      case 'afterhead.stall': done(fault); return this.#stall(sock);
      default: break;
    }
    const events = answer.events;
    let usageAt = events.findIndex((e) => e.usage);
    if (usageAt < 0) usageAt = events.length - 1;
    let contentSent = 0;
    let garbageSent = false;
    for (let i = 0; i < events.length; i++) {
      const e = events[i];
      if (fault?.startsWith('stream.') && contentSent >= n && !garbageSent) {
        done(fault);
        switch (fault) {
          case 'stream.reset': return this.#reset(sock);
          case 'stream.close': return this.#fin(sock);
          case 'stream.stall': return this.#stall(sock);
          case 'stream.badchunk':
            await this.#write(sock, 'zz; not a chunk size\r\ndata: {}\r\n\r\n');
            return this.#fin(sock);
          case 'stream.end':
            await this.#write(sock, '0\r\n\r\n');
            return this.#fin(sock);
          case 'stream.garbage':
            await this.#write(sock, chunk(`data: \u0000\u00ff{"choices": [garbage\u001b[0m \ud800\n\n`));
            garbageSent = true; // once; the rest of the stream follows
            break;
          default: break;
        }
      }
      if (i === usageAt && fault?.startsWith('usage.')) {
        if (fault === 'usage.before') { done(fault); return this.#fin(sock); }
        if (fault === 'usage.inside') {
          await this.#write(sock, chunk(e.text.slice(0, e.text.length >> 1)));
          done(fault);
          return this.#fin(sock);
        }
        if (!(await this.#write(sock, chunk(malformed(e.text))))) return done('peer gone');
        continue;
      }
      if (!(await this.#write(sock, chunk(e.text)))) return done('peer gone');
      if (e.content) contentSent++;
    }
    await this.#write(sock, '0\r\n\r\n');
    done(fault ?? 'healthy');
    return this.#fin(sock);
  }
}

export async function startFakeFaulty(opts) {
  return new FakeFaulty(opts).start();
}
