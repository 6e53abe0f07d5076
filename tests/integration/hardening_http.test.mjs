// Issue 11's smaller holes, tested on the wire: strict request framing (no
// request can ride inside another), the connection cap (a flood of trickling
// connections cannot starve /healthz, even under a low `ulimit -n`), error
// bodies that are valid UTF-8 whatever they echo, `nosniff` on the dashboard
// API, and OpenAI's type checks on the fields tollgate reads.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import {
  startTollgate, stopAll, simProvider, post, get, chatBody, tempDir, toYaml, TOLLGATE_BIN, sleep,
} from './lib/harness.mjs';

let tg;
before(async () => {
  tg = await startTollgate({
    providers: [simProvider('sim', { latency_ms: 0, tokens_per_second: 100000, response_tokens: 4 })],
    models: [
      { name: 'sim-small', deployments: [{ provider: 'sim', model: 'sim-small' }] },
      { name: 'gemini-2.5-flash', deployments: [{ provider: 'sim', model: 'gemini-2.5-flash' }] },
    ],
  });
});
after(stopAll);

/** Sends raw bytes on a new connection; resolves with everything received until the server closes (or timeoutMs). */
function raw(base, bytes, timeoutMs = 5000) {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const chunks = [];
    const s = net.connect(Number(port), hostname, () => s.write(bytes));
    const t = setTimeout(() => { s.destroy(); resolve({ data: Buffer.concat(chunks), closed: false }); }, timeoutMs);
    s.on('data', (d) => chunks.push(d));
    s.on('close', () => { clearTimeout(t); resolve({ data: Buffer.concat(chunks), closed: true }); });
    s.on('error', (e) => { clearTimeout(t); if (chunks.length) resolve({ data: Buffer.concat(chunks), closed: true }); else reject(e); });
  });
}

function statusLines(buf) {
  return buf.toString('latin1').split('\r\n').filter((l) => /^HTTP\/1\.1 \d{3}/.test(l));
}

function bodyOf(buf) {
  const i = buf.indexOf('\r\n\r\n');
  return buf.subarray(i + 4);
}

const smuggled = 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n';
const inner = JSON.stringify(chatBody('sim-small'));

for (const [name, te, withLength] of [
  ['xchunked with a Content-Length', 'xchunked', true],
  ['"chunked, gzip" with a Content-Length', 'chunked, gzip', true],
  ['"chunked, gzip" alone', 'chunked, gzip', false],
  ['chunked together with a Content-Length', 'chunked', true],
]) {
  test(`Transfer-Encoding ${name}: 400 and the connection closes, nothing rides along`, async () => {
    const body = withLength ? inner : `${inner.length.toString(16)}\r\n${inner}\r\n0\r\n\r\n`;
    const head = `POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n` +
      `Transfer-Encoding: ${te}\r\n` + (withLength ? `Content-Length: ${body.length}\r\n` : '') + '\r\n';
    const before = (await tg.rows()).length;
    const { data, closed } = await raw(tg.base, head + body + smuggled);
    assert.ok(closed, 'the server closed the connection');
    assert.deepEqual(statusLines(data), ['HTTP/1.1 400 Bad Request'], data.toString('latin1'));
    const err = JSON.parse(bodyOf(data).toString('utf8'));
    assert.equal(err.error.code, 'bad_http');
    assert.match(err.error.message, /Transfer-Encoding|Content-Length/);
    await sleep(100);
    assert.equal((await tg.rows()).length, before, 'no request was served from that connection');
  });
}

test('a well-formed chunked request is still served', async () => {
  const body = `${inner.length.toString(16)}\r\n${inner}\r\n0\r\n\r\n`;
  const head = 'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n' +
    'Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n';
  const { data } = await raw(tg.base, head + body);
  assert.deepEqual(statusLines(data), ['HTTP/1.1 200 OK'], data.toString('latin1'));
});

test('a 404 that echoes invalid UTF-8 is valid UTF-8 JSON', async () => {
  const req = Buffer.concat([Buffer.from('GET /v1/'), Buffer.from([0xff, 0xfe, 0xc0, 0xaf]), Buffer.from(' HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')]);
  const { data } = await raw(tg.base, req);
  assert.match(statusLines(data)[0], / 404 /);
  const body = bodyOf(data);
  const text = new TextDecoder('utf-8', { fatal: true }).decode(body);  // throws on invalid UTF-8
  assert.match(JSON.parse(text).error.message, /\uFFFD/);
});

test('the dashboard API: a 400 that echoes invalid UTF-8 is valid UTF-8, and every answer says nosniff', async () => {
  const bad = await fetch(`${tg.base}/api/breakdown?by=%FF%FEx`);
  assert.equal(bad.status, 400);
  assert.equal(bad.headers.get('x-content-type-options'), 'nosniff');
  const text = new TextDecoder('utf-8', { fatal: true }).decode(new Uint8Array(await bad.arrayBuffer()));
  assert.match(JSON.parse(text).error.message, /\uFFFD/);
  const ok = await fetch(`${tg.base}/api/budgets`);
  assert.equal(ok.status, 200);
  assert.equal(ok.headers.get('x-content-type-options'), 'nosniff');
});

test('OpenAI type checks on the fields tollgate reads: 400 with OpenAI\'s message, a ledger row, nothing forwarded', async () => {
  const cases = [
    [{ messages: 'hello' }, 'messages', 'invalid_type', "Invalid type for 'messages': expected an array of objects, but got a string instead."],
    [{ max_tokens: -1 }, 'max_tokens', 'integer_below_min_value', "Invalid 'max_tokens': integer below minimum value. Expected a value >= 1, but got -1 instead."],
    [{ max_tokens: 1e30 }, 'max_tokens', 'invalid_type', "Invalid type for 'max_tokens': expected an integer, but got a decimal number instead."],
    [{ max_completion_tokens: 0 }, 'max_completion_tokens', 'integer_below_min_value', null],
    [{ temperature: 'hot' }, 'temperature', 'invalid_type', null],
    [{ user: 42 }, 'user', 'invalid_type', null],
  ];
  for (const [extra, param, code, message] of cases) {
    const r = await post(tg.base, '/v1/chat/completions', { ...chatBody('sim-small'), ...extra });
    assert.equal(r.status, 400, `${JSON.stringify(extra)}: ${r.text}`);
    assert.equal(r.json.error.param, param);
    assert.equal(r.json.error.code, code);
    assert.equal(r.json.error.type, 'invalid_request_error');
    if (message) assert.equal(r.json.error.message, message);
    const [row] = await tg.waitForRows(1, { where: `id = '${r.headers.get('x-tollgate-request-id')}'` });
    assert.equal(row.status, 400);
    assert.equal(row.error_class, code);
  }
});

test('type checks answer in each client\'s dialect', async () => {
  const m = await post(tg.base, '/v1/messages', { model: 'sim-small', max_tokens: -5, messages: [{ role: 'user', content: 'x' }] },
    { 'anthropic-version': '2023-06-01' });
  assert.equal(m.status, 400, m.text);
  assert.equal(m.json.type, 'error');
  assert.equal(m.json.error.type, 'invalid_request_error');
  assert.match(m.json.error.message, /max_tokens/);

  const g = await post(tg.base, '/v1beta/models/gemini-2.5-flash:generateContent',
    { contents: [{ role: 'user', parts: [{ text: 'x' }] }], generationConfig: { maxOutputTokens: 'lots' } });
  assert.equal(g.status, 400, g.text);
  assert.equal(g.json.error.code, 400);
  assert.equal(g.json.error.status, 'INVALID_ARGUMENT');
  assert.match(g.json.error.message, /generationConfig\.maxOutputTokens/);

  const e = await post(tg.base, '/v1/embeddings', { model: 'sim-small', input: { text: 'x' } });
  assert.equal(e.status, 400, e.text);
  assert.equal(e.json.error.param, 'input');
});

/** Opens n connections that send half a request head and then trickle a byte now and then. */
async function trickle(base, n) {
  const { hostname, port } = new URL(base);
  const socks = [];
  for (let i = 0; i < n; ++i) {
    const s = net.connect(Number(port), hostname);
    s.on('error', () => {});
    await new Promise((r) => { s.once('connect', r); s.once('error', r); });
    s.write('POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n');
    socks.push(s);
  }
  const timer = setInterval(() => { for (const s of socks) if (!s.destroyed) s.write('X'); }, 500);
  return { socks, close() { clearInterval(timer); for (const s of socks) s.destroy(); } };
}

async function healthz(base) {
  const started = Date.now();
  const r = await fetch(`${base}/healthz`, { signal: AbortSignal.timeout(3000) });
  return { status: r.status, json: await r.json(), ms: Date.now() - started };
}

test('server.max_connections: one connection past it gets a quick 503, and service resumes when they go', async () => {
  const small = await startTollgate({ server: { max_connections: 20 } });
  const t = await trickle(small.base, 20);
  try {
    await sleep(100);
    const h = await healthz(small.base);
    assert.equal(h.status, 503);
    assert.equal(h.json.error.code, 'too_many_connections');
  } finally {
    t.close();
  }
  await sleep(200);
  assert.equal((await healthz(small.base)).status, 200);
  assert.equal((await post(small.base, '/v1/chat/completions', chatBody('sim-small'))).status, 200);
});

test('600 trickling connections under ulimit -n 256: /healthz answers at once (503), then 200', async () => {
  const dir = tempDir();
  const configPath = path.join(dir, 'tollgate.yaml');
  writeFileSync(configPath, toYaml({
    ledger: { path: path.join(dir, 'ledger.db') },
    providers: [simProvider('sim')],
    models: [{ name: 'sim-small', deployments: [{ provider: 'sim', model: 'sim-small' }] }],
  }) + '\n');
  // `ulimit -n` sets the hard limit too, so tollgate cannot raise it: max_connections is clamped to fit.
  const proc = spawn('bash', ['-c', 'ulimit -n 256 && exec "$0" serve --config "$1" --listen 127.0.0.1:0', TOLLGATE_BIN, configPath],
    { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '', err = '';
  proc.stderr.on('data', (d) => { err += d; });
  const base = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no listening line; stderr: ${err}`)), 10000);
    proc.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/tollgate listening on (http:\/\/\S+)/);
      if (m) { clearTimeout(timer); resolve(m[1]); }
    });
  });
  let t;
  try {
    assert.match(err, /does not fit the open-file limit 256/);
    t = await trickle(base, 600);
    await sleep(300);
    const h = await healthz(base);
    assert.equal(h.status, 503, JSON.stringify(h));
    assert.ok(h.ms < 2000, `answered in ${h.ms} ms`);
    t.close();
    t = null;
    await sleep(300);
    assert.equal((await healthz(base)).status, 200);
  } finally {
    if (t) t.close();
    proc.kill('SIGTERM');
    await new Promise((r) => proc.on('exit', r));
  }
});
