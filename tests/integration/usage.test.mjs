// `tollgate usage`: imports Claude Code and Codex CLI logs that this file writes
// into a temp folder, checks the JSON report to the token and the cent, and the
// --into-ledger path end to end (idempotent re-import, then `tollgate report`).
//
// Every run points HOME, CLAUDE_CONFIG_DIR and CODEX_HOME into its temp folder, so
// the machine's real agent logs are never read.

import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { requireBinary, runTollgate, tempDir, ledgerRows, closeTo } from './lib/harness.mjs';

const SONNET = 'claude-sonnet-4-5-20250929';
// Catalog prices, USD per 1M tokens.
const SONNET_PRICE = { input: 3, cacheRead: 0.3, write5m: 3.75, write1h: 6, output: 15 };
const GPT5_PRICE = { input: 1.25, cacheRead: 0.125, output: 10 };

let dir;
let claudeDir;
let codexDir;
let sessA;
let rollout;
// Isolated from the real home folder; individual tests add to it.
let env;

function claudeLine({ session, ts, msgId, reqId, model = SONNET, usage }) {
  return JSON.stringify({
    parentUuid: null, isSidechain: false, userType: 'external', cwd: '/home/alice/webapp', sessionId: session,
    version: '2.0.14', gitBranch: 'main', type: 'assistant', uuid: `u-${msgId}-${ts}`, timestamp: ts, requestId: reqId,
    message: { id: msgId, type: 'message', role: 'assistant', model, content: [{ type: 'text', text: 'ok' }],
      stop_reason: null, stop_sequence: null, usage },
  });
}

function tokenCount(ts, info) {
  return JSON.stringify({ timestamp: ts, type: 'event_msg', payload: { type: 'token_count', info, rate_limits: null } });
}

function tokens(input, cached, output, reasoning) {
  return { input_tokens: input, cached_input_tokens: cached, output_tokens: output,
    reasoning_output_tokens: reasoning, total_tokens: input + output };
}

const writeLines = (file, lines) => {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, lines.join('\n') + '\n');
};

// Expected cost of the two Claude calls and the two Codex turns below.
const costA = (100 * SONNET_PRICE.input + 5000 * SONNET_PRICE.cacheRead + 1500 * SONNET_PRICE.write5m +
  500 * SONNET_PRICE.write1h + 300 * SONNET_PRICE.output) / 1e6;
const costB = (50 * SONNET_PRICE.input + 1000 * SONNET_PRICE.write5m + 200 * SONNET_PRICE.output) / 1e6;
const costT1 = (800 * GPT5_PRICE.input + 200 * GPT5_PRICE.cacheRead + 300 * GPT5_PRICE.output) / 1e6;
const costT2 = (500 * GPT5_PRICE.input + 1500 * GPT5_PRICE.cacheRead + 100 * GPT5_PRICE.output) / 1e6;

before(() => {
  requireBinary();
  dir = tempDir('tollgate-usage-');
  claudeDir = path.join(dir, 'claude');
  codexDir = path.join(dir, 'codex');
  env = { HOME: path.join(dir, 'home'), CLAUDE_CONFIG_DIR: path.join(dir, 'nothing'), CODEX_HOME: path.join(dir, 'nothing') };
  const usageA = { input_tokens: 100, cache_creation_input_tokens: 2000, cache_read_input_tokens: 5000,
    cache_creation: { ephemeral_5m_input_tokens: 1500, ephemeral_1h_input_tokens: 500 }, output_tokens: 300 };
  sessA = path.join(claudeDir, 'projects', '-home-alice-webapp', 'sess-a.jsonl');
  writeLines(sessA, [
    JSON.stringify({ type: 'user', sessionId: 'sess-a', timestamp: '2025-10-01T10:14:00.000Z', message: { role: 'user', content: 'hi' } }),
    claudeLine({ session: 'sess-a', ts: '2025-10-01T10:15:00.000Z', msgId: 'msg_A', reqId: 'req_A', usage: usageA }),
    // the same call's second content block
    claudeLine({ session: 'sess-a', ts: '2025-10-01T10:15:01.000Z', msgId: 'msg_A', reqId: 'req_A', usage: usageA }),
    '{"type":"assistant","message":{', // line 4: malformed
    claudeLine({ session: 'sess-a', ts: '2025-10-01T12:30:00.000Z', msgId: 'msg_B', reqId: 'req_B',
      usage: { input_tokens: 50, cache_creation_input_tokens: 1000, cache_read_input_tokens: 0, output_tokens: 200 } }),
  ]);
  rollout = path.join(codexDir, 'sessions', '2025', '10', '01', 'rollout-2025-10-01T11-00-00-0199a000-0000-7000-8000-000000000001.jsonl');
  writeLines(rollout, [
    JSON.stringify({ timestamp: '2025-10-01T11:00:00.000Z', type: 'session_meta',
      payload: { id: '0199a000-0000-7000-8000-000000000001', cwd: '/home/alice/webapp', originator: 'codex_cli_rs', cli_version: '0.46.0' } }),
    JSON.stringify({ timestamp: '2025-10-01T11:00:01.000Z', type: 'turn_context', payload: { cwd: '/home/alice/webapp', model: 'gpt-5' } }),
    tokenCount('2025-10-01T11:01:00.000Z', { total_token_usage: tokens(1000, 200, 300, 100), last_token_usage: tokens(1000, 200, 300, 100) }),
    tokenCount('2025-10-01T11:01:00.400Z', { total_token_usage: tokens(1000, 200, 300, 100), last_token_usage: tokens(1000, 200, 300, 100) }),
    // cumulative only: the turn is the difference (500 input, 1500 cached, 100 output)
    tokenCount('2025-10-01T11:05:00.000Z', { total_token_usage: tokens(3000, 1700, 400, 100) }),
  ]);
});

test('usage --format json: exact tokens and costs from both agents, malformed lines reported', async () => {
  const r = await runTollgate(['usage', '--claude-dir', claudeDir, '--codex-dir', codexDir, '--format', 'json',
    '--no-progress'], { env });
  assert.equal(r.code, 0, r.stderr);
  const rep = JSON.parse(r.stdout);
  assert.equal(rep.by, 'daily');
  assert.equal(rep.rows.length, 2);
  const [claude, codex] = rep.rows;
  assert.equal(claude.group, '2025-10-01');
  assert.equal(claude.agent, 'claude-code');
  assert.equal(claude.entries, 2);
  assert.equal(claude.input_tokens, 150);
  assert.equal(claude.cache_read_tokens, 5000);
  assert.equal(claude.cache_write_5m_tokens, 2500);
  assert.equal(claude.cache_write_1h_tokens, 500);
  assert.equal(claude.output_tokens, 500);
  closeTo(claude.cost_usd, costA + costB, 'claude cost');
  assert.equal(codex.agent, 'codex');
  assert.equal(codex.entries, 2);
  assert.equal(codex.input_tokens, 1300);
  assert.equal(codex.cache_read_tokens, 1700);
  assert.equal(codex.output_tokens, 300);
  assert.equal(codex.reasoning_tokens, 100);
  closeTo(codex.cost_usd, costT1 + costT2, 'codex cost');
  closeTo(rep.totals.cost_usd, costA + costB + costT1 + costT2, 'total cost');
  assert.equal(rep.import.duplicates, 2);
  assert.equal(rep.import.diagnostics, 1);
  // Dollar figures carry at most 10 decimals: no float noise such as 0.38120999999999996.
  const costs = [...r.stdout.matchAll(/"cost_usd":([^,}]*)/g)].map((m) => m[1]);
  assert.equal(costs.length, 3);
  for (const c of costs) assert.match(c, /^\d+(\.\d{1,10})?$/, r.stdout);
  assert.ok(r.stderr.includes(`${sessA}:4: invalid JSON`), r.stderr);
});

test('usage --by session and --by blocks', async () => {
  const s = await runTollgate(['usage', '--claude-dir', claudeDir, '--codex-dir', codexDir, '--by', 'session',
    '--format', 'json', '--no-progress'], { env });
  assert.equal(s.code, 0, s.stderr);
  const sessions = JSON.parse(s.stdout).rows;
  assert.deepEqual(sessions.map((x) => [x.session, x.project, x.entries]), [
    ['0199a000-0000-7000-8000-000000000001', '/home/alice/webapp', 2],
    ['sess-a', '-home-alice-webapp', 2],
  ]);
  const b = await runTollgate(['usage', '--source', 'claude', '--claude-dir', claudeDir, '--by', 'blocks',
    '--format', 'json', '--no-progress'], { env });
  assert.equal(b.code, 0, b.stderr);
  const blocks = JSON.parse(b.stdout).rows;
  assert.equal(blocks.length, 1);
  assert.equal(blocks[0].start, '2025-10-01T10:00:00Z');
  assert.equal(blocks[0].end, '2025-10-01T15:00:00Z');
  assert.equal(blocks[0].active, false);
});

test('usage finds logs through CLAUDE_CONFIG_DIR and CODEX_HOME; table output', async () => {
  const r = await runTollgate(['usage', '--no-progress'],
    { env: { ...env, CLAUDE_CONFIG_DIR: claudeDir, CODEX_HOME: codexDir } });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^daily\s+agent\s+models/m);
  assert.match(r.stdout, /2025-10-01\s+claude-code\s+claude-sonnet-4-5-20250929/);
  assert.match(r.stdout, /2025-10-01\s+codex\s+gpt-5/);
  assert.match(r.stdout, /^TOTAL/m);
  assert.match(r.stderr, /read 2 files/);
});

test('usage --into-ledger is idempotent and shows up in tollgate report', async () => {
  const db = path.join(dir, 'ledger.db');
  const args = ['usage', '--claude-dir', claudeDir, '--codex-dir', codexDir, '--into-ledger', '--db', db,
    '--format', 'json', '--no-progress'];
  const first = await runTollgate(args, { env });
  assert.equal(first.code, 0, first.stderr);
  assert.deepEqual(JSON.parse(first.stdout), { ledger: db, entries: 4, new_rows: 4, already_present: 0, unknown_cost_entries: 0 });
  const again = await runTollgate(args, { env });
  assert.equal(again.code, 0, again.stderr);
  assert.equal(JSON.parse(again.stdout).new_rows, 0);

  const rows = await ledgerRows(db);
  assert.equal(rows.length, 4);
  const claudeRows = rows.filter((x) => x.endpoint === 'agent.claude-code');
  assert.equal(claudeRows.length, 2);
  for (const x of claudeRows) {
    assert.equal(x.provider, 'anthropic');
    assert.equal(x.requested_model, SONNET);
    assert.equal(x.project, '-home-alice-webapp');
    assert.equal(x.tags, 'agent,claude-code');
    assert.match(x.id, /^imp_[0-9a-f]{24}$/);
  }
  const codexRows = rows.filter((x) => x.endpoint === 'agent.codex');
  assert.deepEqual(codexRows.map((x) => [x.provider, x.served_model, x.project]),
    [['openai', 'gpt-5', '/home/alice/webapp'], ['openai', 'gpt-5', '/home/alice/webapp']]);
  assert.equal(rows[0].ts_start_ms, Date.parse('2025-10-01T10:15:00.000Z'));

  const rep = await runTollgate(['report', '--db', db, '--by', 'model', '--from', '2025-10-01', '--to', '2025-10-01',
    '--format', 'json'], { env });
  assert.equal(rep.code, 0, rep.stderr);
  const byModel = Object.fromEntries(JSON.parse(rep.stdout).rows.map((x) => [x.group, x]));
  assert.equal(byModel[SONNET].requests, 2);
  closeTo(byModel[SONNET].cost_usd, costA + costB, 'sonnet in report');
  assert.equal(byModel['gpt-5'].requests, 2);
  assert.equal(byModel['gpt-5'].input_tokens, 3000);
  closeTo(byModel['gpt-5'].cost_usd, costT1 + costT2, 'gpt-5 in report');
});

test('usage --config reads a config that has only a pricing: section', async () => {
  const cfg = path.join(dir, 'pricing-only.yaml');
  writeFileSync(cfg, 'pricing:\n  overrides:\n    - model: gpt-5\n      input: 2\n      cached_input: 0.2\n' +
    '      output: 20\n      reasoning: 20\n');
  const r = await runTollgate(['usage', '--codex-dir', codexDir, '--config', cfg, '--format', 'json', '--no-progress'],
    { env });
  assert.equal(r.code, 0, r.stderr);
  const rep = JSON.parse(r.stdout);
  // 1300 input, 1700 cached, 300 output and 100 reasoning at the overridden prices.
  closeTo(rep.totals.cost_usd, (1300 * 2 + 1700 * 0.2 + 300 * 20 + 100 * 20) / 1e6, 'overridden gpt-5');
  // A mistake in it is still reported at its line.
  writeFileSync(cfg, 'pricing:\n  overrides:\n    - input: 2\n');
  const bad = await runTollgate(['usage', '--codex-dir', codexDir, '--config', cfg, '--no-progress'], { env });
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /pricing-only\.yaml:3:.*no model/);
});

test('usage keeps Codex reasoning that output_tokens left out, with a warning', async () => {
  const home = path.join(dir, 'codex-reasoning');
  const file = path.join(home, 'sessions', 'rollout-2025-10-02T09-00-00-0199c000-0000-7000-8000-000000000003.jsonl');
  writeLines(file, [
    JSON.stringify({ timestamp: '2025-10-02T09:00:00.000Z', type: 'turn_context', payload: { model: 'gpt-5' } }),
    tokenCount('2025-10-02T09:01:00.000Z', { last_token_usage: { input_tokens: 100, cached_input_tokens: 0,
      output_tokens: 10, reasoning_output_tokens: 70, total_tokens: 180 } }),
  ]);
  const r = await runTollgate(['usage', '--codex-dir', home, '--format', 'json', '--no-progress'], { env });
  assert.equal(r.code, 0, r.stderr);
  const rep = JSON.parse(r.stdout);
  assert.equal(rep.totals.total_tokens, 180);
  assert.equal(rep.totals.output_tokens, 10);
  assert.equal(rep.totals.reasoning_tokens, 70);
  closeTo(rep.totals.cost_usd, (100 * GPT5_PRICE.input + 80 * GPT5_PRICE.output) / 1e6, 'reasoning kept');
  assert.match(r.stderr, new RegExp(`${file.replace(/[.]/g, '\\.')}:2: token_count counts disagree.*counted as 180 tokens`));
});

test('usage rejects bad arguments with exit code 2', async () => {
  const missing = await runTollgate(['usage', '--claude-dir', path.join(dir, 'nope'), '--no-progress'], { env });
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /--claude-dir .*nope: no such directory/);
  const badDate = await runTollgate(['usage', '--claude-dir', claudeDir, '--from', '10/01/2025'], { env });
  assert.equal(badDate.code, 2);
  assert.match(badDate.stderr, /--from must be a date YYYY-MM-DD/);
  const badBy = await runTollgate(['usage', '--by', 'hourly'], { env });
  assert.equal(badBy.code, 2);
});
