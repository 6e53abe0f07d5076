// A loopback fake of Google's Gemini API (generativelanguage.googleapis.com),
// used as tollgate's upstream in tests.
//
//   POST /v1beta/models/{model}:generateContent
//        a GenerateContentResponse, pretty-printed as Google sends it
//   POST /v1beta/models/{model}:streamGenerateContent?alt=sse
//        SSE: `data: {...}\r\n\r\n` chunks (no event names, no [DONE]), each
//        carrying the running usageMetadata; the last has finishReason STOP.
//        Without alt=sse the real API answers a JSON array; so does this fake.
// The key comes in `x-goog-api-key` (or ?key=); errors use Google's envelope
// {"error":{"code","message","status"}}.
//
// usageMetadata semantics (Gemini 2.5): promptTokenCount INCLUDES
// cachedContentTokenCount; candidatesTokenCount EXCLUDES thoughtsTokenCount;
// totalTokenCount = prompt + candidates + thoughts.
//
// Requests are recorded in `fake.requests` ({method, path, query, headers,
// bodyText, body, model, verb, sent}); `sent` is the exact response body.

import http from 'node:http';

export const DEFAULT_GEMINI_BEHAVIOUR = Object.freeze({
  text: 'Hello from the fake Gemini model.',
  usage: { promptTokenCount: 1000, candidatesTokenCount: 200, thoughtsTokenCount: 0, cachedContentTokenCount: 0 },
  // modelVersion in answers; null echoes the model of the path.
  modelVersion: null,
  // Every generate request gets `errorStatus` with exactly `errorBody`.
  errorStatus: null,
  errorBody: null,
  // SSE line endings: Google frames events with CRLF ("data: {...}\r\n\r\n").
  crlf: true,
  // Budget tests: report candidatesTokenCount = the request's
  // generationConfig.maxOutputTokens (a model that honours its cap spends all of
  // it), or `uncappedOutputTokens` when it set none. Thoughts are then 0.
  honourCaps: false,
  uncappedOutputTokens: 50000,
});

function pieces(text) {
  return text.match(/\S+\s*/g) ?? [];
}

/**
 * JSON the way Google's SSE chunks print it: a space after each colon, none
 * after commas (`{"candidates": [{"content": {"parts": [...`). Byte-for-byte
 * passthrough is then visible: no JSON library re-serialises it that way.
 */
export function googleCompactJson(v) {
  if (Array.isArray(v)) return '[' + v.map(googleCompactJson).join(',') + ']';
  if (v !== null && typeof v === 'object') {
    return '{' + Object.entries(v).filter(([, x]) => x !== undefined)
      .map(([k, x]) => JSON.stringify(k) + ': ' + googleCompactJson(x)).join(',') + '}';
  }
  return JSON.stringify(v);
}

/** Google's usageMetadata object for cumulative counts. */
export function usageMetadata(u, candidates = u.candidatesTokenCount) {
  const m = {
    promptTokenCount: u.promptTokenCount,
    candidatesTokenCount: candidates,
    totalTokenCount: u.promptTokenCount + candidates + (u.thoughtsTokenCount ?? 0) + (u.toolUsePromptTokenCount ?? 0),
  };
  if (u.cachedContentTokenCount) m.cachedContentTokenCount = u.cachedContentTokenCount;
  if (u.toolUsePromptTokenCount) m.toolUsePromptTokenCount = u.toolUsePromptTokenCount;
  m.promptTokensDetails = [{ modality: 'TEXT', tokenCount: u.promptTokenCount }];
  if (u.cachedContentTokenCount) m.cacheTokensDetails = [{ modality: 'TEXT', tokenCount: u.cachedContentTokenCount }];
  if (u.thoughtsTokenCount) m.thoughtsTokenCount = u.thoughtsTokenCount;
  return m;
}

function googleError(code, status, message) {
  return { error: { code, message, status } };
}

export class FakeGemini {
  constructor() {
    this.behaviour = { ...DEFAULT_GEMINI_BEHAVIOUR };
    this.requests = [];
    this.counter = 0;
    this.server = null;
    this.port = null;
  }

  async start() {
    this.server = http.createServer((req, res) => this.#handle(req, res).catch((err) => {
      console.error('fake_gemini handler error:', err);
      res.destroy();
    }));
    this.server.keepAliveTimeout = 1000;
    await new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(0, '127.0.0.1', resolve);
    });
    this.port = this.server.address().port;
    return this;
  }

  /** Base URL for tollgate's provider `base_url` (ends in /v1beta). */
  get baseUrl() {
    return `http://127.0.0.1:${this.port}/v1beta`;
  }

  set(behaviour) {
    this.behaviour = { ...this.behaviour, ...behaviour };
    return this;
  }

  reset() {
    this.behaviour = { ...DEFAULT_GEMINI_BEHAVIOUR };
    this.requests = [];
    return this;
  }

  lastRequest() {
    const r = this.requests.at(-1);
    if (!r) throw new Error('fake_gemini: no request was received');
    return r;
  }

  async close() {
    if (!this.server) return;
    this.server.closeAllConnections?.();
    await new Promise((resolve) => this.server.close(() => resolve()));
    this.server = null;
  }

  #json(res, record, status, obj) {
    const text = typeof obj === 'string' ? obj : JSON.stringify(obj, null, 2);
    record.sent = text;
    res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8', 'server-timing': 'gfet4t7; dur=12' });
    res.end(text);
  }

  async #handle(req, res) {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const bodyText = Buffer.concat(chunks).toString('utf8');
    let body = null;
    try { body = bodyText ? JSON.parse(bodyText) : null; } catch { body = null; }
    const url = new URL(req.url, 'http://x');
    const m = url.pathname.match(/^\/v1beta\/models\/([^/:]+):(generateContent|streamGenerateContent)$/);
    const record = {
      method: req.method, path: url.pathname, query: url.search, headers: req.headers, bodyText, body,
      model: m?.[1] ?? null, verb: m?.[2] ?? null, sent: '', at: Date.now(),
    };
    this.requests.push(record);
    ++this.counter;
    const b = this.behaviour;

    if (req.method !== 'POST' || !m) {
      return this.#json(res, record, 404, googleError(404, 'NOT_FOUND', `Requested entity was not found.`));
    }
    if (!req.headers['x-goog-api-key'] && !url.searchParams.get('key')) {
      return this.#json(res, record, 403, googleError(403, 'PERMISSION_DENIED',
        'Method doesn\'t allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.'));
    }
    if (b.errorStatus) return this.#json(res, record, b.errorStatus, b.errorBody ?? googleError(b.errorStatus, 'INVALID_ARGUMENT', 'bad request'));
    if (body === null || !Array.isArray(body.contents) || body.contents.length === 0) {
      return this.#json(res, record, 400, googleError(400, 'INVALID_ARGUMENT', '* GenerateContentRequest.contents: contents is not specified'));
    }

    let u = b.usage;
    if (b.honourCaps) {
      const cap = body.generationConfig?.maxOutputTokens;
      u = { ...b.usage, candidatesTokenCount: Number.isInteger(cap) && cap > 0 ? cap : b.uncappedOutputTokens, thoughtsTokenCount: 0 };
    }
    record.usage = u;
    const modelVersion = b.modelVersion ?? m[1];
    const responseId = `fakeResp${String(this.counter).padStart(6, '0')}`;
    if (m[2] === 'generateContent') {
      return this.#json(res, record, 200, {
        candidates: [{ content: { parts: [{ text: b.text }], role: 'model' }, finishReason: 'STOP', index: 0 }],
        usageMetadata: usageMetadata(u),
        modelVersion,
        responseId,
      });
    }

    // streamGenerateContent: one chunk per word, running candidate counts.
    const words = pieces(b.text);
    const chunkObjs = words.map((w, i) => {
      const last = i === words.length - 1;
      const running = last ? u.candidatesTokenCount : Math.max(1, Math.floor((u.candidatesTokenCount * (i + 1)) / words.length));
      const cand = { content: { parts: [{ text: w }], role: 'model' } };
      if (last) cand.finishReason = 'STOP';
      cand.index = 0;
      return { candidates: [cand], usageMetadata: usageMetadata(u, running), modelVersion, responseId };
    });
    if (url.searchParams.get('alt') !== 'sse') {
      // Without alt=sse Google streams one JSON array.
      return this.#json(res, record, 200, chunkObjs);
    }
    res.writeHead(200, { 'content-type': 'text/event-stream', 'server-timing': 'gfet4t7; dur=12' });
    res.flushHeaders();
    const nl = b.crlf ? '\r\n' : '\n';
    for (const c of chunkObjs) {
      if (res.destroyed) return;
      const text = `data: ${googleCompactJson(c)}${nl}${nl}`;
      record.sent += text;
      res.write(text);
    }
    res.end();
  }
}

export async function startFakeGemini() {
  return new FakeGemini().start();
}

/** A tollgate provider entry of type gemini in front of `baseUrl`, failing fast in tests. */
export function geminiProvider(name, baseUrl, extra = {}) {
  return {
    name,
    type: 'gemini',
    api_key: 'gemini-upstream-test-key',
    base_url: baseUrl,
    connect_timeout_ms: 1000,
    first_byte_timeout_ms: 5000,
    idle_timeout_ms: 5000,
    max_retries: 0,
    retry_backoff_ms: 10,
    ...extra,
  };
}
