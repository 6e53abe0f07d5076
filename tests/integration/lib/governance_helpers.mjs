// Helpers for the governance tests (virtual keys, budgets, rate limits, admin
// API). Built on lib/harness.mjs: same temp dirs, same process cleanup.
//
// startGov() writes a full config (auth:, governance:, budgets:, rate_limits:
// included, which startTollgate's structured options do not cover) and can
// point a second server at an existing database (restart tests).

import { execFile } from 'node:child_process';
import http from 'node:http';
import { existsSync } from 'node:fs';
import assert from 'node:assert/strict';
import { startTollgate, runTollgate, toYaml, openaiProvider, sleep } from './harness.mjs';

export const MASTER_KEY = 'mk-test-0123456789abcdef';

/**
 * Model used by the governance tests, priced so costs are round numbers:
 * $10 / 1M input tokens ($0.00001 each), $20 / 1M output tokens ($0.00002 each).
 */
export const GOV_MODEL = 'gov-model';
export const GOV_PRICE = { input: 10.0, output: 20.0 };
export const IN_USD = GOV_PRICE.input / 1e6;
export const OUT_USD = GOV_PRICE.output / 1e6;

/**
 * Starts tollgate with a governance config in front of `fake`.
 *
 * @param {object} o
 * @param {object} o.fake            FakeOpenAI instance (upstream for every model)
 * @param {object} [o.auth]          auth: section (default: enabled, MASTER_KEY)
 * @param {object} [o.governance]    governance: section (reload_interval_ms 100 by default)
 * @param {object[]} [o.budgets]
 * @param {object[]} [o.rate_limits]
 * @param {string[]} [o.models]      model names (all served by the fake under the same name)
 * @param {string} [o.dbPath]        reuse this database (restart); default: a fresh one
 */
export async function startGov(o) {
  const models = o.models ?? [GOV_MODEL, 'other-model'];
  const cfg = {
    server: { max_body_bytes: 1048576, threads: 2 },
    ledger: { path: o.dbPath ?? 'DB_PATH', batch_size: 256, flush_interval_ms: 20 },
    pricing: {
      overrides: models.map((model) => ({ model, ...GOV_PRICE })),
    },
    providers: [openaiProvider('fakeai', o.fake.baseUrl)],
    models: models.map((name) => ({ name, deployments: [{ provider: 'fakeai', model: name }] })),
    auth: o.auth ?? { enabled: true, master_key: MASTER_KEY },
    governance: { reload_interval_ms: 100, ...o.governance },
    budgets: o.budgets,
    rate_limits: o.rate_limits,
  };
  const tg = await startTollgate({ yaml: toYaml(cfg) + '\n' });
  if (o.dbPath) {
    // The harness's dbPath points into its own temp dir; ours is elsewhere.
    Object.defineProperty(tg, 'dbPath', { value: o.dbPath });
  }
  return tg;
}

/** `tollgate ARGS...`: {code, signal, stdout, stderr}. */
export const cli = (args, opts) => runTollgate(args, opts);

/** Creates a key with the CLI; returns {key, secret}. Extra CLI flags in `args`. */
export async function createKeyCli(dbPath, args = []) {
  const r = await cli(['keys', 'create', '--db', dbPath, '--format', 'json', ...args]);
  assert.equal(r.code, 0, `keys create failed: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

/** Admin API call: {status, headers, text, json}. */
export async function admin(base, method, path, body, key = MASTER_KEY) {
  const headers = {};
  if (key !== null) headers.authorization = `Bearer ${key}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(base + path, {
    method,
    headers,
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  return { status: res.status, headers: res.headers, text, json };
}

/** Creates a key through the admin API; returns {key, secret}. */
export async function createKeyAdmin(base, spec = {}) {
  const r = await admin(base, 'POST', '/admin/keys', spec);
  assert.equal(r.status, 201, `POST /admin/keys: ${r.text}`);
  return r.json;
}

/** A chat request with a bearer secret (null: no Authorization header). */
export async function chat(base, secret, body, headers = {}) {
  const h = { 'content-type': 'application/json', ...headers };
  if (secret !== null) h.authorization = `Bearer ${secret}`;
  const res = await fetch(base + '/v1/chat/completions', {
    method: 'POST', headers: h, body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* SSE */ }
  return { status: res.status, headers: res.headers, text, json };
}

/** Chat body for GOV_MODEL. */
export function govBody(extra = {}, model = GOV_MODEL) {
  return { model, messages: [{ role: 'user', content: 'Say hello.' }], ...extra };
}

/** Bytes of the JSON body as sent (tollgate's input-token upper bound). */
export const bodyBytes = (body) => Buffer.byteLength(typeof body === 'string' ? body : JSON.stringify(body));

/** Worst case tollgate reserves for a GOV_MODEL chat body with max_tokens. */
export function worstCase(body) {
  return bodyBytes(body) * IN_USD + body.max_tokens * OUT_USD;
}

/** Runs SQL against the database with the sqlite3 CLI; returns rows (objects). */
export function sql(dbPath, query) {
  if (!existsSync(dbPath)) return Promise.resolve([]);
  return new Promise((resolve, reject) => {
    execFile('sqlite3', ['-json', '-cmd', '.timeout 3000', dbPath, query], { maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`sqlite3 failed on ${query}: ${stderr || err.message}`));
      resolve(stdout.trim() ? JSON.parse(stdout) : []);
    });
  });
}

/** Polls `fn` (async, returns truthy when done) every 25 ms; throws after timeoutMs. */
export async function waitFor(fn, timeoutMs, what) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(25);
  }
}

/** Asserts an OpenAI-shaped error: {error: {message, type, param, code}}. */
export function assertApiError(res, status, code, what = '') {
  const ctx = `${what} -> ${res.status} ${res.text}`;
  assert.equal(res.status, status, ctx);
  assert.ok(res.json && typeof res.json.error === 'object' && res.json.error !== null, `OpenAI error envelope: ${ctx}`);
  const e = res.json.error;
  assert.equal(typeof e.message, 'string', ctx);
  assert.ok(e.message.length > 5, `a message that says something: ${ctx}`);
  assert.equal(typeof e.type, 'string', ctx);
  assert.ok('param' in e, `param present: ${ctx}`);
  if (code !== undefined) assert.equal(e.code, code, ctx);
  return e;
}

/** A local HTTP server that records JSON POST bodies (webhook target). */
export async function startWebhookSink() {
  const received = [];
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      let json = null;
      try { json = JSON.parse(text); } catch { /* recorded as text */ }
      received.push({ method: req.method, path: req.url, headers: req.headers, text, json });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"ok":true}');
    });
  });
  server.keepAliveTimeout = 500;
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return {
    received,
    url: `http://127.0.0.1:${server.address().port}/hook`,
    close: () => new Promise((r) => { server.closeAllConnections?.(); server.close(() => r()); }),
  };
}

/** The current UTC minute (tollgate's rate-limit windows are whole minutes). */
export const minuteNow = () => Math.floor(Date.now() / 60000);

/** Waits out the end of the minute if fewer than `needMs` ms remain in it. */
export async function avoidMinuteEdge(needMs = 4000) {
  const left = 60000 - (Date.now() % 60000);
  if (left < needMs) await sleep(left + 50);
}
