// Coding agents through tollgate (issue 19), end to end against loopback fakes:
//   * Claude Code's requests to a model it does not take for Claude carry
//     {"role":"system"} turns inside `messages`: the Anthropic -> chat translator
//     keeps each one, in place, as a chat system message (the repro, raw,
//     and the @anthropic-ai/sdk streamed);
//   * `HEAD /` (Claude Code's first request) and HEAD of any GET resource is
//     answered with the GET head and no body, so the keep-alive connection stays
//     in step;
//   * the access log (server.access_log): one JSON line per request, 4xx included,
//     never the bearer secret or the query;
//   * Claude Code's metadata.user_id: its account (or device) is the user and its
//     session a ledger column of its own, summed by `tollgate report --by session`;
//   * `tollgate usage` prices a log's tollgate alias through the config's models;
//   * a Claude Code-sized call (124 KB, max_tokens 32000) fits a $2 budget: the
//     reservation prices only the tiers its prompt can reach.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Anthropic from '@anthropic-ai/sdk';
import { startFakeOpenAI } from './lib/fake_openai.mjs';
import { startFakeAnthropic, anthropicProvider } from './lib/fake_anthropic.mjs';
import {
  startTollgate, stopAll, openaiProvider, simProvider, post, runTollgate, tempDir, closeTo, expectedCost, PRICES,
  sleep, toYaml,
} from './lib/harness.mjs';

const ALIAS = 'team-gpt';  // a tollgate model name that is not the provider's
let fake;
let tg;
let accessLog;

before(async () => {
  fake = await startFakeOpenAI();
  const dir = tempDir('tollgate-agents-log-');
  accessLog = path.join(dir, 'access.log');
  tg = await startTollgate({
    server: { access_log: accessLog },
    providers: [openaiProvider('openai', fake.baseUrl), simProvider('sim')],
    models: [
      { name: 'gpt-4o-mini', deployments: [{ provider: 'openai', model: 'gpt-4o-mini' }] },
      { name: ALIAS, deployments: [{ provider: 'openai', model: 'gpt-4o-mini' }] },
      { name: 'sim-small', deployments: [{ provider: 'sim', model: 'sim-small' }] },
    ],
  });
});
after(async () => { await stopAll(); await fake.close(); });

const ANTHROPIC_HEADERS = { 'anthropic-version': '2023-06-01' };

test('the issue\'s repro: a system turn inside messages reaches an OpenAI model, in place', async () => {
  fake.requests.length = 0;
  const r = await post(tg.base, '/v1/messages', {
    model: 'gpt-4o-mini', max_tokens: 64,
    messages: [{ role: 'user', content: 'say hello' }, { role: 'system', content: 'Be brief.' }],
  }, ANTHROPIC_HEADERS);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.type, 'message');
  assert.equal(r.json.content[0].text, 'Hello from the fake upstream model.');
  assert.equal(r.json.usage.input_tokens, 1000);
  assert.equal(r.json.usage.output_tokens, 500);
  const sent = fake.requests.find((q) => q.path === '/v1/chat/completions').body;
  assert.deepEqual(sent.messages, [
    { role: 'user', content: 'say hello' },
    { role: 'system', content: 'Be brief.' },
  ]);
  const [row] = await tg.waitForRows(1, { where: `endpoint = 'messages' and status = 200` });
  closeTo(row.cost_usd, expectedCost('gpt-4o-mini', { input: 1000, output: 500 }));
});

test('Claude Code\'s shape through the Anthropic SDK, streamed: system prompt, system turns, thinking', async () => {
  fake.requests.length = 0;
  const ant = new Anthropic({ baseURL: tg.base, apiKey: 'sk-agents-client', maxRetries: 0, timeout: 10000 });
  const stream = ant.messages.stream({
    model: 'gpt-4o-mini', max_tokens: 32000, stream: true,
    system: [{ type: 'text', text: 'You are Claude Code.', cache_control: { type: 'ephemeral' } }],
    thinking: { type: 'enabled', budget_tokens: 1024 },
    messages: [
      { role: 'user', content: [{ type: 'text', text: 'list files' }] },
      { role: 'assistant', content: [{ type: 'thinking', thinking: 'ls', signature: 'sig' }, { type: 'text', text: 'Sure.' }] },
      { role: 'system', content: [{ type: 'text', text: 'Reminder: be terse.' }] },
      { role: 'user', content: 'go' },
    ],
  });
  const msg = await stream.finalMessage();
  assert.equal(msg.content[0].text, 'Hello from the fake upstream model.');
  const sent = fake.requests.find((q) => q.path === '/v1/chat/completions').body;
  assert.deepEqual(sent.messages.map((m) => [m.role, m.content]), [
    ['system', 'You are Claude Code.'], ['user', 'list files'], ['assistant', 'Sure.'],
    ['system', 'Reminder: be terse.'], ['user', 'go'],
  ]);
  assert.equal(sent.stream, true);
});

test('a system turn chat cannot take is a 400 in the Anthropic dialect, not a crash', async () => {
  const r = await post(tg.base, '/v1/messages', {
    model: 'gpt-4o-mini', max_tokens: 8, messages: [{ role: 'system', content: 5 }, { role: 'user', content: 'x' }],
  }, ANTHROPIC_HEADERS);
  assert.equal(r.status, 400, r.text);
  assert.equal(r.json.type, 'error');
});

// Sends raw bytes on one connection and collects what comes back until `done(text)`.
function exchange(base, raw, done, timeoutMs = 3000) {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const sock = net.connect(Number(port), hostname, () => sock.write(raw));
    let text = '';
    const timer = setTimeout(() => { sock.destroy(); resolve(text); }, timeoutMs);
    sock.on('data', (d) => {
      text += d.toString('latin1');
      if (done(text)) { clearTimeout(timer); sock.destroy(); resolve(text); }
    });
    sock.on('error', (e) => { clearTimeout(timer); reject(e); });
  });
}

test('HEAD carries no body: HEAD / then GET /healthz on one keep-alive connection', async () => {
  const host = new URL(tg.base).host;
  const raw = `HEAD / HTTP/1.1\r\nHost: ${host}\r\n\r\n` +
    `HEAD /healthz HTTP/1.1\r\nHost: ${host}\r\n\r\n` +
    `HEAD /v1/models HTTP/1.1\r\nHost: ${host}\r\n\r\n` +
    `GET /healthz HTTP/1.1\r\nHost: ${host}\r\n\r\n`;
  const text = await exchange(tg.base, raw, (t) => t.includes('{"status":"ok"}'));
  const heads = text.split('\r\n\r\n');
  // Four heads, then the one body (GET /healthz); nothing between the heads.
  assert.equal(heads.length, 5, JSON.stringify(text));
  assert.match(heads[0], /^HTTP\/1\.1 \d{3} /);
  assert.match(heads[1], /^HTTP\/1\.1 200 /);
  assert.match(heads[1], /Content-Length: 15/i);  // the GET's length, as RFC 9110 allows
  assert.match(heads[2], /^HTTP\/1\.1 200 /);  // HEAD is GET without the body, so it is allowed
  assert.match(heads[3], /^HTTP\/1\.1 200 /);
  assert.equal(heads[4], '{"status":"ok"}');
});

test('HEAD of an API endpoint: 405 head, no body, connection still usable', async () => {
  const host = new URL(tg.base).host;
  const raw = `HEAD /v1/messages HTTP/1.1\r\nHost: ${host}\r\n\r\nGET /healthz HTTP/1.1\r\nHost: ${host}\r\n\r\n`;
  const text = await exchange(tg.base, raw, (t) => t.includes('{"status":"ok"}'));
  const heads = text.split('\r\n\r\n');
  assert.equal(heads.length, 3, JSON.stringify(text));
  assert.match(heads[0], /^HTTP\/1\.1 405 /);
  assert.match(heads[1], /^HTTP\/1\.1 200 /);
});

const CLAUDE_CODE_USER_ID = (session) =>
  JSON.stringify({ device_id: 'dev-0a1b2c', account_uuid: 'acct-4242', session_id: session });

test('metadata.user_id: account as the user, session recorded, report --by session', async () => {
  const send = (userId, extra = {}) => post(tg.base, '/v1/messages', {
    model: 'sim-small', max_tokens: 16, messages: [{ role: 'user', content: 'hi' }], metadata: { user_id: userId },
  }, { ...ANTHROPIC_HEADERS, ...extra });
  for (const userId of [CLAUDE_CODE_USER_ID('sess-A'), CLAUDE_CODE_USER_ID('sess-A'), CLAUDE_CODE_USER_ID('sess-B'),
    'user_9f8e_account__session_sess-C', 'plain-alice', '{"device_id":', '{"session_id":{"x":1}}']) {
    const r = await send(userId);
    assert.equal(r.status, 200, r.text);
  }
  const r = await send(CLAUDE_CODE_USER_ID('sess-ignored'), { 'x-tollgate-session': 'sess-header' });
  assert.equal(r.status, 200, r.text);
  const rows = await tg.waitForRows(8, { where: `requested_model = 'sim-small'` });
  assert.deepEqual(rows.map((x) => [x.user, x.session]), [
    ['acct-4242', 'sess-A'], ['acct-4242', 'sess-A'], ['acct-4242', 'sess-B'], ['9f8e', 'sess-C'],
    ['plain-alice', null], ['{"device_id":', null], ['{"session_id":{"x":1}}', null], ['acct-4242', 'sess-header'],
  ]);
  const rep = await runTollgate(['report', '--db', tg.dbPath, '--by', 'session', '--format', 'json']);
  assert.equal(rep.code, 0, rep.stderr);
  const groups = Object.fromEntries(JSON.parse(rep.stdout).rows.map((g) => [g.group, g.requests]));
  assert.equal(groups['sess-A'], 2);
  assert.equal(groups['sess-B'], 1);
  assert.equal(groups['sess-C'], 1);
});

test('access log: one JSON line per request, 4xx and HEAD included, no secret, no query', async () => {
  const secret = 'sk-agents-secret-do-not-log';
  const ok = await post(tg.base, '/v1/chat/completions', { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] },
    { authorization: `Bearer ${secret}`, 'x-tollgate-session': 'sess-log' });
  assert.equal(ok.status, 200);
  const missing = await post(tg.base, '/v1/chat/completions', { model: 'nope', messages: [] }, { authorization: `Bearer ${secret}` });
  assert.equal(missing.status, 404);
  const gem = await fetch(`${tg.base}/v1beta/models/x:generateContent?key=${secret}`, { method: 'POST', body: '{}' });
  await gem.text();
  let lines = [];
  for (let i = 0; i < 100; ++i) {
    lines = readFileSync(accessLog, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
    if (lines.some((l) => l.path === '/v1beta/models/x:generateContent')) break;
    await sleep(20);
  }
  const text = readFileSync(accessLog, 'utf8');
  assert.ok(!text.includes(secret), 'the access log must never hold a secret');
  assert.ok(!text.includes('say hello'), 'the access log must never hold a prompt');
  const okLine = lines.find((l) => l.request_id === ok.headers.get('x-tollgate-request-id'));
  assert.ok(okLine, JSON.stringify(lines));
  assert.equal(okLine.method, 'POST');
  assert.equal(okLine.path, '/v1/chat/completions');
  assert.equal(okLine.status, 200);
  assert.equal(okLine.model, 'gpt-4o-mini');
  assert.equal(okLine.provider, 'openai');
  assert.equal(okLine.input_tokens, 1000);
  assert.equal(okLine.output_tokens, 500);
  closeTo(okLine.cost_usd, expectedCost('gpt-4o-mini', { input: 1000, output: 500 }));
  assert.equal(okLine.session, 'sess-log');
  assert.match(okLine.key, /^key_[0-9a-f]{12}$/);
  assert.ok(okLine.latency_ms >= 0);
  const notFound = lines.find((l) => l.status === 404 && l.model === 'nope');
  assert.ok(notFound, 'a 404 has its line');
  assert.ok(lines.some((l) => l.method === 'HEAD' && l.path === '/'), 'HEAD / has its line');
  // Every request so far has exactly one line: the rows of the ledger each appear once.
  const ids = lines.map((l) => l.request_id).filter(Boolean);
  assert.equal(new Set(ids).size, ids.length);
});

test('usage prices a log that names a tollgate alias through the config', async () => {
  const dir = tempDir('tollgate-agents-usage-');
  const claudeDir = path.join(dir, 'claude');
  const file = path.join(claudeDir, 'projects', 'p', 's1.jsonl');
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, JSON.stringify({
    type: 'assistant', sessionId: 's1', timestamp: '2025-10-01T10:00:00.000Z', requestId: 'req_1', uuid: 'u1',
    message: { id: 'msg_1', type: 'message', role: 'assistant', model: ALIAS, content: [],
      usage: { input_tokens: 1000, output_tokens: 500 } },
  }) + '\n');
  const env = { HOME: dir, CLAUDE_CONFIG_DIR: claudeDir, CODEX_HOME: path.join(dir, 'codex') };
  const args = ['usage', '--source', 'claude', '--claude-dir', claudeDir, '--format', 'json', '--no-progress'];
  const without = await runTollgate(args, { env });
  assert.equal(without.code, 0, without.stderr);
  assert.equal(JSON.parse(without.stdout).totals.unknown_cost_entries, 1);
  const withConfig = await runTollgate([...args, '--config', tg.configPath], { env });
  assert.equal(withConfig.code, 0, withConfig.stderr);
  const rep = JSON.parse(withConfig.stdout);
  assert.equal(rep.totals.unknown_cost_entries, 0);
  closeTo(rep.totals.cost_usd, (1000 * PRICES['gpt-4o-mini'].input + 500 * PRICES['gpt-4o-mini'].output) / 1e6);
});

test('a 124 KB, max_tokens 32000 call on Sonnet fits a $2 budget: no >200K-token tier for a prompt that cannot reach it', async () => {
  const ant = await startFakeAnthropic();
  try {
    const gw = await startTollgate({
      yaml: toYaml({
        server: { max_body_bytes: 1048576, threads: 2 },
        ledger: { path: 'DB_PATH', batch_size: 256, flush_interval_ms: 20 },
        providers: [anthropicProvider('anthropic', ant.baseUrl)],
        models: [{ name: 'claude-sonnet-4-5', deployments: [{ provider: 'anthropic', model: 'claude-sonnet-4-5-20250929' }] }],
        budgets: [{ name: 'dev-2usd', scope: 'global', window: 'lifetime', limit_usd: 2 }],
      }) + '\n',
    });
    const body = JSON.stringify({
      model: 'claude-sonnet-4-5', max_tokens: 32000,
      system: [{ type: 'text', text: 'You are Claude Code.' }],
      messages: [{ role: 'user', content: 'x'.repeat(124 * 1024) }],
    });
    const r = await post(gw.base, '/v1/messages', body, ANTHROPIC_HEADERS);
    assert.equal(r.status, 200, r.text);
    const [row] = await gw.waitForRows(1, { where: 'status = 200' });
    // Base rates: the prompt at the dearest input class (1h cache write, $6/M) per body
    // byte, the output at $15/M; Sonnet's >200K tier ($12/M, $22.5/M) made it $2.21.
    closeTo(row.reserved_usd, Buffer.byteLength(body) * 6e-6 + 32000 * 15e-6, 'reserved_usd');
    assert.ok(row.reserved_usd < 2);
  } finally {
    await ant.close();
  }
});
