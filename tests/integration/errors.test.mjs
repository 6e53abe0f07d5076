// 7. Errors: bad client input gets OpenAI-shaped errors (and is still
//    metered), bad configs are rejected with FILE:LINE:COL diagnostics, and
//    garbage on the socket never takes the server down.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import path from 'node:path';
import { writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import {
  startTollgate, stopAll, simProvider, chatBody, post, get, runTollgate, tempDir, sleep,
} from './lib/harness.mjs';

const MAX_BODY = 2048;

let tg;
before(async () => {
  tg = await startTollgate({
    server: { max_body_bytes: MAX_BODY },
    providers: [simProvider('sim')],
    models: [
      { name: 'sim-small', deployments: [{ provider: 'sim', model: 'sim-small' }] },
      { name: 'gpt-4o-mini', deployments: [{ provider: 'sim', model: 'sim-small' }] },
    ],
  });
});
after(() => stopAll());

/** Asserts the OpenAI error envelope and returns the error object. */
function openaiError(r, status, code) {
  assert.equal(r.status, status, r.text);
  assert.match(r.headers.get('content-type') ?? '', /application\/json/);
  assert.ok(r.json?.error, `OpenAI error envelope expected, got ${r.text}`);
  const e = r.json.error;
  assert.equal(typeof e.message, 'string');
  assert.equal(typeof e.type, 'string');
  assert.ok('param' in e, 'error.param present (null allowed)');
  if (code) assert.equal(e.code, code);
  return e;
}

// Request ids of the error responses that must each have a ledger row.
const metered = [];

test('malformed JSON: 400 invalid_json naming the offset', async () => {
  const body = '{"model": "sim-small", "messages": [}';
  const r = await post(tg.base, '/v1/chat/completions', body);
  const e = openaiError(r, 400, 'invalid_json');
  assert.equal(e.type, 'invalid_request_error');
  assert.match(e.message, /(offset|byte|position|column)\D{0,3}\d+/i, `message should name the offset: ${e.message}`);
  metered.push({ id: r.headers.get('x-tollgate-request-id'), status: 400, error_class: 'invalid_json' });
});

test('missing model: 400', async () => {
  const r = await post(tg.base, '/v1/chat/completions', { messages: [{ role: 'user', content: 'hi' }] });
  const e = openaiError(r, 400);
  assert.equal(e.type, 'invalid_request_error');
  assert.match(e.message, /model/);
  metered.push({ id: r.headers.get('x-tollgate-request-id'), status: 400 });
});

test('unknown model: 404 model_not_found listing the available models', async () => {
  const r = await post(tg.base, '/v1/chat/completions', chatBody('gpt-9-ultra'));
  const e = openaiError(r, 404, 'model_not_found');
  assert.match(e.message, /gpt-9-ultra/);
  assert.match(e.message, /sim-small/);
  assert.match(e.message, /gpt-4o-mini/);
  metered.push({ id: r.headers.get('x-tollgate-request-id'), status: 404, error_class: 'model_not_found', requested_model: 'gpt-9-ultra' });
});

test('body over max_body_bytes: 413 request_too_large', async () => {
  const body = chatBody('sim-small', { messages: [{ role: 'user', content: 'x'.repeat(MAX_BODY * 2) }] });
  const r = await post(tg.base, '/v1/chat/completions', body);
  openaiError(r, 413, 'request_too_large');
  metered.push({ id: r.headers.get('x-tollgate-request-id'), status: 413, error_class: 'request_too_large' });
});

test('huge Content-Length is refused up front, without reading the body', async () => {
  // Only headers are sent; a server that waits for 50 MB would time out here.
  const reply = await rawExchange(
    'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n'
    + 'Content-Length: 50000000\r\n\r\n', 2000);
  assert.match(reply, /^HTTP\/1\.[01] 413 /, `got: ${JSON.stringify(reply.slice(0, 100))}`);
  const id = reply.match(/^x-tollgate-request-id: *(\S+)/im)?.[1];
  metered.push({ id, status: 413, error_class: 'request_too_large' });
});

test('unknown path: 404 not_found; wrong method: 405', async () => {
  const r = await get(tg.base, '/v1/does-not-exist');
  openaiError(r, 404, 'not_found');
  const p = await post(tg.base, '/v2/chat/completions', chatBody());
  openaiError(p, 404, 'not_found');
  const m = await get(tg.base, '/v1/chat/completions');
  assert.equal(m.status, 405, m.text);
});

test('every error request above has its ledger row; unknown paths have none', async () => {
  for (const m of metered) assert.match(m.id ?? '', /^req_[0-9a-f]+$/, 'error responses carry x-tollgate-request-id');
  const rows = await tg.waitForRows(metered.length);
  for (const m of metered) {
    const row = rows.find((r) => r.id === m.id);
    assert.ok(row, `ledger row for ${JSON.stringify(m)}`);
    assert.equal(row.status, m.status);
    if (m.error_class) assert.equal(row.error_class, m.error_class);
    else assert.notEqual(row.error_class, null);
    if (m.requested_model) assert.equal(row.requested_model, m.requested_model);
    assert.equal(row.endpoint, 'chat.completions');
  }
  await sleep(300); // more than a flush interval: a stray row would show up now
  const all = await tg.rows();
  assert.equal(all.length, metered.length, `unexpected rows: ${JSON.stringify(all.filter((r) => !metered.some((m) => m.id === r.id)))}`);
});

/** Writes raw bytes to tollgate and returns whatever came back before close/timeout. */
function rawExchange(bytes, waitMs = 1500) {
  return new Promise((resolve) => {
    const url = new URL(tg.base);
    const sock = net.connect(Number(url.port), url.hostname);
    let got = '';
    const done = () => { clearTimeout(timer); sock.destroy(); resolve(got); };
    const timer = setTimeout(done, waitMs);
    sock.on('data', (d) => { got += d.toString('latin1'); });
    sock.on('end', done);
    sock.on('close', done);
    sock.on('error', done);
    sock.on('connect', () => sock.write(bytes));
  });
}

test('server keeps serving after garbage on the socket', async () => {
  const garbage = [
    randomBytes(4096),                                              // binary noise
    '\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03',                  // a TLS ClientHello on plain HTTP
    'GET / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n',     // invalid Content-Length
    'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nZZZ\r\nxx\r\n', // bad chunk size
    'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"mo', // truncated body, then hang up
    'GET /' + 'a'.repeat(200000) + ' HTTP/1.1\r\n',                 // absurd request line
    'GET /healthz HTTP/1.1\r\n' + 'X-Junk: y\r\n'.repeat(5000) + '\r\n', // absurd header count
    '\r\n\r\n\r\n',
  ];
  for (const g of garbage) {
    await rawExchange(g, 500);
    const h = await get(tg.base, '/healthz');
    assert.equal(h.status, 200, `healthz after garbage ${JSON.stringify(String(g).slice(0, 40))}`);
  }
  assert.equal(tg.proc.exitCode, null, 'tollgate still running');
  const r = await post(tg.base, '/v1/chat/completions', chatBody('sim-small'));
  assert.equal(r.status, 200, r.text);
});

// ---------------------------------------------------------------------------
// Config errors: exit 2 with `FILE:LINE:COL: error: MESSAGE (fix: HINT)`.

const BAD_CONFIGS = [
  {
    name: 'provider with an unknown type',
    yaml: [
      'server:',
      '  threads: 2',
      'providers:',
      '  - name: p1',
      '    type: carrier-pigeon', // line 5
      '    base_url: http://127.0.0.1:9/v1',
      'models:',
      '  - name: m',
      '    deployments:',
      '      - provider: p1',
      '        model: m',
    ],
    lines: [5],
  },
  {
    name: 'model referencing a missing provider',
    yaml: [
      'providers:',
      '  - name: p1',
      '    type: sim',
      'models:',
      '  - name: m',
      '    deployments:',
      '      - provider: p1',
      '        model: m',
      '      - provider: nope', // line 9
      '        model: m',
    ],
    lines: [9],
  },
  {
    name: 'openai-compatible provider without base_url',
    yaml: [
      'providers:',
      '  - name: p1',            // line 2
      '    type: openai-compatible', // line 3
      '    api_key: sk-x',       // line 4
      'models:',
      '  - name: m',
      '    deployments:',
      '      - provider: p1',
      '        model: m',
    ],
    lines: [2, 3, 4],
  },
  {
    name: 'invalid YAML syntax',
    yaml: [
      'server:',
      '  threads: 2',
      'providers:',
      '  - name: p1',
      '    type: sim: oops',      // line 5: "mapping values are not allowed here"
      'models:',
      '  - name: m',
      '    deployments:',
      '      - provider: p1',
      '        model: m',
    ],
    lines: [4, 5, 6],
  },
];

for (const bad of BAD_CONFIGS) {
  test(`bad config (${bad.name}): exits 2 with FILE:LINE:COL`, async () => {
    const dir = tempDir();
    const file = path.join(dir, 'bad.yaml');
    writeFileSync(file, bad.yaml.join('\n') + '\n');
    for (const args of [['serve', '--config', file, '--listen', '127.0.0.1:0', '--db', path.join(dir, 'x.db')], ['config', 'check', file]]) {
      const r = await runTollgate(args, { timeoutMs: 5000 });
      const cmd = `tollgate ${args.slice(0, 2).join(' ')}`;
      assert.equal(r.code, 2, `${cmd}: exit code ${r.code} (signal ${r.signal}); stderr: ${r.stderr}`);
      const m = r.stderr.match(new RegExp(`${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:(\\d+):(\\d+): error: (.+)`));
      assert.ok(m, `${cmd}: stderr should contain ${file}:LINE:COL: error: ...; got: ${r.stderr}`);
      assert.ok(bad.lines.includes(Number(m[1])), `${cmd}: line ${m[1]} not in expected ${bad.lines}; stderr: ${r.stderr}`);
      assert.match(m[3], /\(fix: .+\)/, `${cmd}: a fix hint is given`);
      assert.doesNotMatch(r.stdout, /listening/);
    }
  });
}

test('a valid config passes `tollgate config check`', async () => {
  const r = await runTollgate(['config', 'check', tg.configPath]);
  assert.equal(r.code, 0, r.stderr);
});
