// A loopback fake of the OpenAI HTTP API, used as tollgate's upstream in tests.
//
// It speaks OpenAI's wire format closely enough that tollgate cannot tell the
// difference for the endpoints it proxies:
//   POST /v1/chat/completions  non-stream `chat.completion` object, or SSE
//                              `chat.completion.chunk` events ending in
//                              `data: [DONE]`; the usage-only chunk
//                              (`choices: []`) is sent only when the request had
//                              `stream_options.include_usage: true`, as OpenAI does.
//   POST /v1/completions       legacy `text_completion` (stream and non-stream)
//   POST /v1/embeddings        `list` of `embedding` objects
//   GET  /v1/models            `list` of `model` objects
//
// Every test gets its own instance (port 0 on 127.0.0.1, plain HTTP or HTTPS),
// and steers it with `fake.set({...})`; see DEFAULT_BEHAVIOUR for the knobs.
// Every request received is recorded in `fake.requests` so tests can assert
// what tollgate actually sent upstream (e.g. that it asked for
// `stream_options.include_usage: true`, or which Authorization it used).

import http from 'node:http';
import https from 'node:https';

/** Behaviour knobs, all resettable per test with fake.set(). */
export const DEFAULT_BEHAVIOUR = Object.freeze({
  // Text of the assistant answer. Streams send it word by word (one chunk per
  // word, trailing space kept) so tests can count chunks.
  content: 'Hello from the fake upstream model.',
  // Token usage reported by the upstream. OpenAI semantics: prompt_tokens
  // INCLUDES cached_tokens and completion_tokens INCLUDES reasoning_tokens.
  usage: { prompt_tokens: 1000, completion_tokens: 500, cached_tokens: 0, reasoning_tokens: 0 },
  // Model name echoed in responses; null echoes the `model` of the request.
  responseModel: null,
  // Budget tests: report completion_tokens = the output cap the request carried
  // (max_completion_tokens, else max_tokens; a model that honours its cap spends
  // all of it), or `uncappedOutputTokens` when it carried none (a runaway answer).
  // Reasoning tokens are then 0. Prompt and cached tokens still come from `usage`.
  honourCaps: false,
  uncappedOutputTokens: 50000,

  // Transient failures (retry tests): the first `failFirst` API requests fail,
  // either with `failStatus` and an OpenAI error body (failMode 'status') or by
  // resetting the connection without any response (failMode 'reset').
  failFirst: 0,
  failStatus: 500,
  failMode: 'status',
  // Permanent failure: every API request gets this status (e.g. 503) + error body.
  alwaysStatus: null,
  // Client-error pass-through tests: every API request gets `errorStatus` with
  // exactly `errorBody` (a string, sent byte for byte).
  errorStatus: null,
  errorBody: null,

  // Timeout tests: wait this long before sending the response headers.
  headerDelayMs: 0,
  // Streaming tests: wait this long before each SSE chunk (TTFT, disconnects).
  chunkDelayMs: 0,
  // Broken-stream tests: after this many chunks, destroy the socket mid-stream
  // (no usage chunk, no [DONE], no terminating zero-length chunk).
  cutAfterChunks: null,
  // Stalled-stream tests: after this many chunks, stop sending but keep the
  // connection open (until the other side gives up), to exercise idle_timeout_ms.
  stallAfterChunks: null,

  // Names listed by GET /v1/models.
  models: ['gpt-4o-mini', 'text-embedding-3-small', 'gpt-3.5-turbo-instruct'],
});

const API_PATHS = new Set(['/v1/chat/completions', '/v1/completions', '/v1/embeddings']);
const CREATED = 1732000000;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** OpenAI's `usage` object, with the detail objects current models send. */
function usageObject(u) {
  return {
    prompt_tokens: u.prompt_tokens,
    completion_tokens: u.completion_tokens,
    total_tokens: u.prompt_tokens + u.completion_tokens,
    prompt_tokens_details: { cached_tokens: u.cached_tokens ?? 0, audio_tokens: 0 },
    completion_tokens_details: {
      reasoning_tokens: u.reasoning_tokens ?? 0,
      audio_tokens: 0,
      accepted_prediction_tokens: 0,
      rejected_prediction_tokens: 0,
    },
  };
}

/** OpenAI's error envelope. */
function errorObject(status, message, type, code = null, param = null) {
  return { error: { message, type, param, code } };
}

/** Splits text into word-sized stream pieces, keeping the spaces. */
function pieces(text) {
  return text.match(/\S+\s*/g) ?? [];
}

export class FakeOpenAI {
  /**
   * @param {object} [opts]
   * @param {{key: string|Buffer, cert: string|Buffer}} [opts.tls] serve HTTPS with this key/cert
   */
  constructor(opts = {}) {
    this.tlsOptions = opts.tls ?? null;
    this.behaviour = { ...DEFAULT_BEHAVIOUR };
    /** Every request received: {method, path, headers, bodyText, body, at, closedEarly, sentChunks}. */
    this.requests = [];
    this.failuresLeft = 0;
    this.counter = 0;
    this.server = null;
    this.port = null;
  }

  /** Starts listening on 127.0.0.1:0; resolves to this. */
  async start() {
    const handler = (req, res) => this.#handle(req, res).catch((err) => {
      // A bug in the fake must be loud, not a silent hang.
      console.error('fake_openai handler error:', err);
      res.destroy();
    });
    this.server = this.tlsOptions ? https.createServer(this.tlsOptions, handler) : http.createServer(handler);
    // Keep-alive sockets must not keep close() waiting.
    this.server.keepAliveTimeout = 1000;
    await new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(0, '127.0.0.1', resolve);
    });
    this.port = this.server.address().port;
    return this;
  }

  /** Base URL to put in tollgate's provider `base_url` (ends in /v1). */
  get baseUrl() {
    return `${this.tlsOptions ? 'https' : 'http'}://127.0.0.1:${this.port}/v1`;
  }

  /** Merges behaviour knobs (see DEFAULT_BEHAVIOUR) and re-arms failFirst. */
  set(behaviour) {
    this.behaviour = { ...this.behaviour, ...behaviour };
    if ('failFirst' in behaviour) this.failuresLeft = behaviour.failFirst;
    return this;
  }

  /** Back to defaults and forget recorded requests. */
  reset() {
    this.behaviour = { ...DEFAULT_BEHAVIOUR };
    this.failuresLeft = 0;
    this.requests = [];
    return this;
  }

  /** Recorded requests to the proxied API endpoints (not /v1/models). */
  apiRequests() {
    return this.requests.filter((r) => API_PATHS.has(r.path));
  }

  async close() {
    if (!this.server) return;
    this.server.closeAllConnections?.();
    await new Promise((resolve) => this.server.close(() => resolve()));
    this.server = null;
  }

  async #handle(req, res) {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const bodyText = Buffer.concat(chunks).toString('utf8');
    let body = null;
    try { body = bodyText ? JSON.parse(bodyText) : null; } catch { body = null; }
    const path = new URL(req.url, 'http://x').pathname;
    const record = {
      method: req.method, path, headers: req.headers, bodyText, body,
      at: Date.now(), closedEarly: false, sentChunks: [],
    };
    this.requests.push(record);
    // Tells disconnect tests whether tollgate hung up on us before we finished.
    res.on('close', () => { if (!res.writableFinished) record.closedEarly = true; });

    const b = this.behaviour;
    const isApi = API_PATHS.has(path) && req.method === 'POST';

    if (req.method === 'GET' && path === '/v1/models') {
      return this.#json(res, 200, {
        object: 'list',
        data: b.models.map((id) => ({ id, object: 'model', created: CREATED, owned_by: 'fake' })),
      });
    }
    if (!isApi) {
      return this.#json(res, 404, errorObject(404, `Invalid URL (${req.method} ${path})`, 'invalid_request_error'));
    }

    // --- failure injection, in the order a real outage would show them ---
    if (this.failuresLeft > 0) {
      this.failuresLeft--;
      if (b.failMode === 'reset') { req.socket.destroy(); return; }
      return this.#json(res, b.failStatus, errorObject(b.failStatus,
        b.failStatus === 429 ? 'Rate limit reached for requests' : 'The server had an error while processing your request.',
        b.failStatus === 429 ? 'requests' : 'server_error'));
    }
    if (b.alwaysStatus) {
      return this.#json(res, b.alwaysStatus, errorObject(b.alwaysStatus, 'The engine is currently overloaded, please try again later', 'server_error'));
    }
    if (b.errorStatus) {
      res.writeHead(b.errorStatus, { 'content-type': 'application/json' });
      return res.end(b.errorBody ?? JSON.stringify(errorObject(b.errorStatus, 'bad request', 'invalid_request_error')));
    }
    if (b.headerDelayMs > 0) {
      await sleep(b.headerDelayMs);
      if (res.destroyed) return;
    }
    if (body === null) {
      return this.#json(res, 400, errorObject(400, 'We could not parse the JSON body of your request.', 'invalid_request_error'));
    }

    const model = b.responseModel ?? body.model ?? 'unknown';
    const id = `${path === '/v1/embeddings' ? 'emb' : path === '/v1/completions' ? 'cmpl' : 'chatcmpl'}-fake${String(++this.counter).padStart(6, '0')}`;

    if (path === '/v1/embeddings') {
      const inputs = Array.isArray(body.input) ? body.input : [body.input];
      return this.#json(res, 200, {
        object: 'list',
        data: inputs.map((_, index) => ({ object: 'embedding', index, embedding: [0.0023064255, -0.009327292, 0.015797347] })),
        model,
        usage: { prompt_tokens: b.usage.prompt_tokens, total_tokens: b.usage.prompt_tokens },
      });
    }

    const chat = path === '/v1/chat/completions';
    const usage = this.#usageFor(body, chat);
    record.usage = usage;
    if (body.stream === true) {
      return this.#stream(res, record, { chat, id, model, usage, includeUsage: body.stream_options?.include_usage === true });
    }
    if (chat) {
      return this.#json(res, 200, {
        id, object: 'chat.completion', created: CREATED, model,
        choices: [{
          index: 0,
          message: { role: 'assistant', content: b.content, refusal: null, annotations: [] },
          logprobs: null, finish_reason: 'stop',
        }],
        usage: usageObject(usage),
        service_tier: 'default',
        system_fingerprint: 'fp_fake',
      });
    }
    return this.#json(res, 200, {
      id, object: 'text_completion', created: CREATED, model,
      choices: [{ text: b.content, index: 0, logprobs: null, finish_reason: 'stop' }],
      usage: { prompt_tokens: usage.prompt_tokens, completion_tokens: usage.completion_tokens, total_tokens: usage.prompt_tokens + usage.completion_tokens },
    });
  }

  /** The usage to report for one request: `usage`, or with honourCaps the cap it carried. */
  #usageFor(body, chat) {
    const b = this.behaviour;
    if (!b.honourCaps) return b.usage;
    const caps = chat ? [body.max_completion_tokens, body.max_tokens] : [body.max_tokens];
    const cap = caps.find((v) => Number.isInteger(v) && v > 0);
    return { ...b.usage, completion_tokens: cap ?? b.uncappedOutputTokens, reasoning_tokens: 0 };
  }

  /** Non-stream JSON response, pretty-printed like OpenAI's. */
  #json(res, status, obj) {
    const text = JSON.stringify(obj, null, 2) + '\n';
    res.writeHead(status, {
      'content-type': 'application/json',
      'x-request-id': `req_fake_${this.counter}`,
      'openai-processing-ms': '12',
    });
    res.end(text);
  }

  /** SSE stream in OpenAI's framing: `data: <json>\n\n` ... `data: [DONE]\n\n`. */
  async #stream(res, record, { chat, id, model, usage, includeUsage }) {
    const b = this.behaviour;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      'x-request-id': `req_fake_${this.counter}`,
    });
    res.flushHeaders();

    // With include_usage, OpenAI puts "usage": null on every regular chunk.
    const usageField = includeUsage ? { usage: null } : {};
    const base = chat
      ? { id, object: 'chat.completion.chunk', created: CREATED, model, service_tier: 'default', system_fingerprint: 'fp_fake' }
      : { id, object: 'text_completion', created: CREATED, model };
    const events = [];
    if (chat) {
      events.push({ ...base, choices: [{ index: 0, delta: { role: 'assistant', content: '', refusal: null }, logprobs: null, finish_reason: null }], ...usageField });
      for (const p of pieces(b.content)) {
        events.push({ ...base, choices: [{ index: 0, delta: { content: p }, logprobs: null, finish_reason: null }], ...usageField });
      }
      events.push({ ...base, choices: [{ index: 0, delta: {}, logprobs: null, finish_reason: 'stop' }], ...usageField });
      if (includeUsage) events.push({ ...base, choices: [], usage: usageObject(usage) });
    } else {
      for (const p of pieces(b.content)) {
        events.push({ ...base, choices: [{ text: p, index: 0, logprobs: null, finish_reason: null }], ...usageField });
      }
      events.push({ ...base, choices: [{ text: '', index: 0, logprobs: null, finish_reason: 'stop' }], ...usageField });
      if (includeUsage) {
        events.push({ ...base, choices: [], usage: { prompt_tokens: usage.prompt_tokens, completion_tokens: usage.completion_tokens, total_tokens: usage.prompt_tokens + usage.completion_tokens } });
      }
    }

    for (const ev of events) {
      if (b.cutAfterChunks !== null && record.sentChunks.length >= b.cutAfterChunks) {
        // Simulates an upstream crash / network cut in the middle of a stream.
        // Let the chunks already written reach the wire first: destroying the
        // socket at once would discard node's buffered writes, and the test
        // would claim chunks were "sent" that never left this process.
        await new Promise((resolve) => res.write('', resolve));
        res.socket?.destroy();
        return;
      }
      if (b.stallAfterChunks !== null && record.sentChunks.length >= b.stallAfterChunks) {
        if (!res.destroyed) await new Promise((resolve) => res.once('close', resolve));
        return;
      }
      if (b.chunkDelayMs > 0) await sleep(b.chunkDelayMs);
      if (res.destroyed || res.writableEnded) return; // tollgate hung up on us
      res.write(`data: ${JSON.stringify(ev)}\n\n`);
      record.sentChunks.push(ev);
    }
    if (res.destroyed) return;
    res.end('data: [DONE]\n\n');
  }
}

/** Starts a fake upstream; `opts.tls` = {key, cert} for HTTPS. */
export async function startFakeOpenAI(opts = {}) {
  return new FakeOpenAI(opts).start();
}
