// A loopback fake of Anthropic's Messages API, used as tollgate's upstream in tests.
//
// It speaks the wire format of api.anthropic.com closely enough that neither
// tollgate nor the official @anthropic-ai/sdk can tell the difference:
//   POST /v1/messages               non-stream `message` object, or SSE with
//                                   named events: message_start, ping,
//                                   content_block_start / content_block_delta /
//                                   content_block_stop per block (text_delta;
//                                   tool_use with input_json_delta; thinking with
//                                   thinking_delta + signature_delta),
//                                   message_delta, message_stop
//   POST /v1/messages/count_tokens  {"input_tokens": N}
// Errors use Anthropic's envelope: {"type":"error","error":{"type","message"},"request_id"}.
//
// It also validates requests the way the real API does where tollgate's
// translations could go wrong (a key in x-api-key or Authorization: Bearer,
// anthropic-version required, max_tokens required, roles only user/assistant,
// no empty text blocks, custom tools need input_schema, tool_result must answer
// a tool_use of the previous assistant turn), so a bad translation fails loudly.
//
// Every request is recorded in `fake.requests` ({method, path, query, headers,
// bodyText, body, sent}); `sent` is the exact response body bytes (string), so
// tests can compare what tollgate forwarded byte for byte.

import http from 'node:http';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Behaviour knobs, resettable per test with fake.set(). */
export const DEFAULT_ANTHROPIC_BEHAVIOUR = Object.freeze({
  // Content blocks of the answer, in Anthropic's non-stream shape:
  //   {type:'text', text}, {type:'thinking', thinking, signature},
  //   {type:'tool_use', id, name, input}
  content: [{ type: 'text', text: 'Hello from the fake Claude model.' }],
  // null: 'tool_use' when content has a tool_use block, else 'end_turn'.
  stopReason: null,
  // Anthropic's usage object, verbatim (input_tokens, cache_read_input_tokens
  // and cache_creation_input_tokens are disjoint; thinking is inside output_tokens).
  usage: {
    input_tokens: 100,
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: 0,
    cache_creation: { ephemeral_5m_input_tokens: 0, ephemeral_1h_input_tokens: 0 },
    output_tokens: 50,
    service_tier: 'standard',
  },
  // Model echoed in the answer; null echoes the request's `model`.
  responseModel: null,
  // Budget tests: report output_tokens = the request's max_tokens (a model that
  // honours its cap spends all of it). The API requires max_tokens, so a request
  // without one is still refused with a 400 (see validate()).
  honourCaps: false,
  // Answer of /v1/messages/count_tokens.
  countTokens: 42,
  // Every /v1/messages request gets `errorStatus` with exactly `errorBody`.
  errorStatus: null,
  errorBody: null,
  // Streams: delay before each event; cut the connection after N events.
  eventDelayMs: 0,
  cutAfterEvents: null,
});

const TOOL_ID = /^[a-zA-Z0-9_-]+$/;

/** Splits text into word-sized pieces, keeping the spaces. */
function pieces(text) {
  return text.match(/\S+\s*/g) ?? [];
}

/** Splits a string into `n` roughly equal slices (at least one, possibly empty). */
function slices(s, n) {
  const out = [];
  const size = Math.max(1, Math.ceil(s.length / n));
  for (let i = 0; i < s.length; i += size) out.push(s.slice(i, i + size));
  return out.length ? out : [''];
}

/** Anthropic's error envelope. */
export function anthropicError(type, message, requestId = 'req_fake_error') {
  return { type: 'error', error: { type, message }, request_id: requestId };
}

/**
 * The SSE events of a streamed answer, as [{event, data}] with `data` the exact
 * JSON text sent after "data: ". Exposed so tests can predict the stream.
 */
export function messageStreamEvents({ id, model, content, stopReason, usage }) {
  const ev = [];
  const push = (event, obj) => ev.push({ event, data: JSON.stringify(obj) });
  // message_start carries the input counters and a provisional output count.
  const startUsage = { ...usage, output_tokens: Math.min(1, usage.output_tokens ?? 0) };
  push('message_start', {
    type: 'message_start',
    message: { id, type: 'message', role: 'assistant', model, content: [], stop_reason: null, stop_sequence: null, usage: startUsage },
  });
  content.forEach((block, index) => {
    if (block.type === 'text') {
      push('content_block_start', { type: 'content_block_start', index, content_block: { type: 'text', text: '' } });
      if (index === 0) ev.push({ event: 'ping', data: '{"type": "ping"}' }); // the API's own spacing
      for (const p of pieces(block.text)) {
        push('content_block_delta', { type: 'content_block_delta', index, delta: { type: 'text_delta', text: p } });
      }
    } else if (block.type === 'thinking') {
      push('content_block_start', { type: 'content_block_start', index, content_block: { type: 'thinking', thinking: '', signature: '' } });
      if (index === 0) ev.push({ event: 'ping', data: '{"type": "ping"}' });
      for (const p of pieces(block.thinking)) {
        push('content_block_delta', { type: 'content_block_delta', index, delta: { type: 'thinking_delta', thinking: p } });
      }
      push('content_block_delta', { type: 'content_block_delta', index, delta: { type: 'signature_delta', signature: block.signature } });
    } else if (block.type === 'tool_use') {
      push('content_block_start', {
        type: 'content_block_start', index,
        content_block: { type: 'tool_use', id: block.id, name: block.name, input: {} },
      });
      if (index === 0) ev.push({ event: 'ping', data: '{"type": "ping"}' });
      // The API opens with an empty partial_json, then streams the JSON in pieces.
      push('content_block_delta', { type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json: '' } });
      for (const part of slices(JSON.stringify(block.input), 3)) {
        push('content_block_delta', { type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json: part } });
      }
    } else {
      throw new Error(`fake_anthropic: unsupported block type ${block.type}`);
    }
    push('content_block_stop', { type: 'content_block_stop', index });
  });
  // message_delta: cumulative usage (current API versions repeat the input counters).
  push('message_delta', {
    type: 'message_delta',
    delta: { stop_reason: stopReason, stop_sequence: null },
    usage: {
      input_tokens: usage.input_tokens,
      cache_creation_input_tokens: usage.cache_creation_input_tokens,
      cache_read_input_tokens: usage.cache_read_input_tokens,
      output_tokens: usage.output_tokens,
    },
  });
  push('message_stop', { type: 'message_stop' });
  return ev;
}

/** Serialises events in Anthropic's SSE framing. */
export function sseText(events) {
  return events.map((e) => `event: ${e.event}\ndata: ${e.data}\n\n`).join('');
}

/** Returns an Anthropic-style validation message, or null when the body is acceptable. */
function validate(body, { countTokens }) {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return 'Request body must be a JSON object';
  if (typeof body.model !== 'string' || !body.model) return 'model: Field required';
  if (!countTokens && !Number.isInteger(body.max_tokens)) return 'max_tokens: Field required';
  if (!Array.isArray(body.messages) || body.messages.length === 0) return 'messages: Field required';
  if (body.system !== undefined && typeof body.system !== 'string' && !Array.isArray(body.system)) {
    return 'system: Input should be a valid string or list of text blocks';
  }
  if (Array.isArray(body.system)) {
    for (const [i, b] of body.system.entries()) if (b?.type !== 'text' || !b.text) return `system.${i}: text content blocks must be non-empty`;
  }
  const toolNames = new Set();
  for (const [i, t] of (body.tools ?? []).entries()) {
    if (!t.name) return `tools.${i}.name: Field required`;
    if ((t.type === undefined || t.type === 'custom') && (typeof t.input_schema !== 'object' || t.input_schema === null)) {
      return `tools.${i}.custom.input_schema: Field required`;
    }
    toolNames.add(t.name);
  }
  let prevToolIds = new Set();
  for (const [i, m] of body.messages.entries()) {
    if (m.role !== 'user' && m.role !== 'assistant') return `messages.${i}.role: Input should be 'user' or 'assistant'`;
    const blocks = typeof m.content === 'string' ? [{ type: 'text', text: m.content }] : m.content;
    if (!Array.isArray(blocks) || blocks.length === 0) return `messages.${i}: all messages must have non-empty content`;
    const ids = new Set();
    for (const [j, b] of blocks.entries()) {
      if (b.type === 'text' && !b.text) return 'messages: text content blocks must be non-empty';
      if (b.type === 'tool_use') {
        if (m.role !== 'assistant') return `messages.${i}.content.${j}: tool_use blocks can only be in assistant messages`;
        if (!TOOL_ID.test(b.id ?? '')) return `messages.${i}.content.${j}.tool_use.id: String should match pattern '^[a-zA-Z0-9_-]+$'`;
        if (typeof b.input !== 'object' || b.input === null || Array.isArray(b.input)) return `messages.${i}.content.${j}.tool_use.input: Input should be a valid dictionary`;
        ids.add(b.id);
      }
      if (b.type === 'tool_result') {
        if (m.role !== 'user') return `messages.${i}.content.${j}: tool_result blocks can only be in user messages`;
        if (!prevToolIds.has(b.tool_use_id)) {
          return `messages.${i}.content.${j}: unexpected \`tool_use_id\` found in \`tool_result\` blocks: ${b.tool_use_id}. Each \`tool_result\` block must have a corresponding \`tool_use\` block in the previous message.`;
        }
      }
    }
    prevToolIds = ids;
  }
  return null;
}

export class FakeAnthropic {
  constructor() {
    this.behaviour = { ...DEFAULT_ANTHROPIC_BEHAVIOUR };
    /** Every request received: {method, path, query, headers, bodyText, body, sent, closedEarly}. */
    this.requests = [];
    this.counter = 0;
    this.server = null;
    this.port = null;
  }

  async start() {
    this.server = http.createServer((req, res) => this.#handle(req, res).catch((err) => {
      console.error('fake_anthropic handler error:', err);
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

  /** Base URL for tollgate's provider `base_url` (ends in /v1; tollgate appends /messages). */
  get baseUrl() {
    return `http://127.0.0.1:${this.port}/v1`;
  }

  set(behaviour) {
    this.behaviour = { ...this.behaviour, ...behaviour };
    return this;
  }

  reset() {
    this.behaviour = { ...DEFAULT_ANTHROPIC_BEHAVIOUR };
    this.requests = [];
    return this;
  }

  /** Recorded POST /v1/messages requests. */
  messageRequests() {
    return this.requests.filter((r) => r.path === '/v1/messages');
  }

  /** The most recent POST /v1/messages request (throws when there is none). */
  lastMessageRequest() {
    const r = this.messageRequests().at(-1);
    if (!r) throw new Error('fake_anthropic: no /v1/messages request was received');
    return r;
  }

  async close() {
    if (!this.server) return;
    this.server.closeAllConnections?.();
    await new Promise((resolve) => this.server.close(() => resolve()));
    this.server = null;
  }

  #send(res, record, status, obj, extraHeaders = {}) {
    const text = typeof obj === 'string' ? obj : JSON.stringify(obj);
    record.sent = text;
    res.writeHead(status, {
      'content-type': 'application/json',
      'request-id': `req_fake${String(this.counter).padStart(6, '0')}`,
      'anthropic-organization-id': '00000000-0000-0000-0000-000000000000',
      'anthropic-ratelimit-requests-limit': '4000',
      'anthropic-ratelimit-requests-remaining': '3999',
      ...extraHeaders,
    });
    res.end(text);
  }

  async #handle(req, res) {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const bodyText = Buffer.concat(chunks).toString('utf8');
    let body = null;
    try { body = bodyText ? JSON.parse(bodyText) : null; } catch { body = null; }
    const url = new URL(req.url, 'http://x');
    const record = {
      method: req.method, path: url.pathname, query: url.search, headers: req.headers, bodyText, body,
      sent: '', closedEarly: false, at: Date.now(),
    };
    this.requests.push(record);
    res.on('close', () => { if (!res.writableFinished) record.closedEarly = true; });
    ++this.counter;
    const b = this.behaviour;

    const isMessages = url.pathname === '/v1/messages';
    const isCount = url.pathname === '/v1/messages/count_tokens';
    if (req.method !== 'POST' || (!isMessages && !isCount)) {
      return this.#send(res, record, 404, anthropicError('not_found_error', 'Not Found'));
    }
    // The API takes the key in x-api-key, or as a bearer token (what current SDKs send).
    if (!req.headers['x-api-key'] && !/^Bearer \S/.test(req.headers.authorization ?? '')) {
      return this.#send(res, record, 401, anthropicError('authentication_error', 'x-api-key header is required'));
    }
    if (!req.headers['anthropic-version']) {
      return this.#send(res, record, 400, anthropicError('invalid_request_error', 'anthropic-version: header is required'));
    }
    if (isMessages && b.errorStatus) {
      return this.#send(res, record, b.errorStatus, b.errorBody ?? anthropicError('invalid_request_error', 'bad request'));
    }
    if (body === null) {
      return this.#send(res, record, 400, anthropicError('invalid_request_error', 'There was an issue with the JSON body of your request'));
    }
    const problem = validate(body, { countTokens: isCount });
    if (problem) return this.#send(res, record, 400, anthropicError('invalid_request_error', problem));

    if (isCount) return this.#send(res, record, 200, { input_tokens: b.countTokens });

    const id = `msg_fake${String(this.counter).padStart(6, '0')}`;
    const model = b.responseModel ?? body.model;
    const stopReason = b.stopReason ?? (b.content.some((c) => c.type === 'tool_use') ? 'tool_use' : 'end_turn');
    const usage = b.honourCaps ? { ...b.usage, output_tokens: body.max_tokens } : b.usage;
    record.usage = usage;
    if (body.stream === true) {
      return this.#stream(res, record, messageStreamEvents({ id, model, content: b.content, stopReason, usage }));
    }
    return this.#send(res, record, 200, {
      id, type: 'message', role: 'assistant', model, content: b.content,
      stop_reason: stopReason, stop_sequence: null, usage,
    });
  }

  async #stream(res, record, events) {
    const b = this.behaviour;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      'request-id': `req_fake${String(this.counter).padStart(6, '0')}`,
      'anthropic-ratelimit-requests-limit': '4000',
      'anthropic-ratelimit-requests-remaining': '3999',
    });
    res.flushHeaders();
    let n = 0;
    for (const e of events) {
      if (b.cutAfterEvents !== null && n >= b.cutAfterEvents) { res.socket?.destroy(); return; }
      if (b.eventDelayMs > 0) await sleep(b.eventDelayMs);
      if (res.destroyed || res.writableEnded) return;
      const text = `event: ${e.event}\ndata: ${e.data}\n\n`;
      record.sent += text;
      // Before a cut, wait until each event has really left: Node corks the
      // socket until the next tick, and destroy() would drop corked data.
      if (b.cutAfterEvents !== null) await new Promise((resolve) => res.write(text, resolve));
      else res.write(text);
      n++;
    }
    res.end();
  }
}

export async function startFakeAnthropic() {
  return new FakeAnthropic().start();
}

/** A tollgate provider entry of type anthropic in front of `baseUrl`, failing fast in tests. */
export function anthropicProvider(name, baseUrl, extra = {}) {
  return {
    name,
    type: 'anthropic',
    api_key: 'sk-ant-upstream-test',
    base_url: baseUrl,
    connect_timeout_ms: 1000,
    first_byte_timeout_ms: 5000,
    idle_timeout_ms: 5000,
    max_retries: 0,
    retry_backoff_ms: 10,
    ...extra,
  };
}
