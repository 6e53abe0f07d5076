// Savings engine, part 3: the `replay` provider (issue 5).
//
// A replay provider serves the answers recorded in a RouterBench CSV (one
// column per model: score, `|model_response`, `|total_cost`), so a policy can
// be evaluated offline through the real gateway. These tests read the same CSV
// with their own small parser (RFC 4180 + Python list-repr strings), send the
// decoded prompt, and check the answer, the score header, the ledger's cost
// (the recorded total_cost), quality column and counterfactual baseline, the
// SSE replay through the official `openai` client, the Anthropic Messages
// shape, misses (404 replay_miss) and config errors.
//
// Needs ../shared/data/routerbench/arc_challenge_test.csv next to the repo;
// every test is skipped when it is absent.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import OpenAI from 'openai';
import {
  startTollgate, stopAll, toYaml, post, tempDir, runTollgate, closeTo, REPO_ROOT, parseSSE, chatText, sleep,
} from './lib/harness.mjs';

const DATASET = path.resolve(REPO_ROOT, '..', 'shared', 'data', 'routerbench', 'arc_challenge_test.csv');
const HAVE_DATA = existsSync(DATASET);
const skip = HAVE_DATA ? false : `dataset not found: ${DATASET}`;

const BIG = 'gpt-4-1106-preview';
const SMALL = 'mistralai/mistral-7b-chat';

// ---------------------------------------------------------------------------
// A small CSV reader (RFC 4180: quoted fields, "" escapes, newlines inside quotes).

function parseCsv(text) {
  const rows = [];
  let row = [];
  let field = '';
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  let started = false;
  while (i < text.length) {
    const c = text[i];
    if (c === '"' && !started) {
      i++;
      for (;;) {
        if (i >= text.length) throw new Error('unterminated quoted field');
        const q = text[i++];
        if (q === '"') {
          if (text[i] === '"') { field += '"'; i++; } else break;
        } else {
          field += q;
        }
      }
      started = true;
      continue;
    }
    if (c === ',') { row.push(field); field = ''; started = false; i++; continue; }
    if (c === '\r' || c === '\n') {
      row.push(field); rows.push(row); row = []; field = ''; started = false;
      i += c === '\r' && text[i + 1] === '\n' ? 2 : 1;
      continue;
    }
    field += c; started = true; i++;
  }
  if (started || row.length) { row.push(field); rows.push(row); }
  return rows;
}

/** Decodes a Python list of str repr (`['a', "b"]`) to its items joined by \n; other text is returned as is. */
function decodePyList(repr) {
  const s = repr.trim();
  if (!s.startsWith('[')) return repr;
  const items = [];
  let i = 1;
  for (;;) {
    while (/\s/.test(s[i] ?? '')) i++;
    if (s[i] === ']') break;
    if (items.length) {
      if (s[i] !== ',') return repr;
      i++;
      while (/\s/.test(s[i] ?? '')) i++;
      if (s[i] === ']') break;
    }
    const quote = s[i];
    if (quote !== "'" && quote !== '"') return repr;
    i++;
    let out = '';
    for (;;) {
      if (i >= s.length) return repr;
      const c = s[i++];
      if (c === quote) break;
      if (c !== '\\') { out += c; continue; }
      const e = s[i++];
      const simple = { n: '\n', t: '\t', r: '\r', '0': '\0', a: '\x07', b: '\b', f: '\f', v: '\v', '\\': '\\', "'": "'", '"': '"', '\n': '' };
      if (e in simple) { out += simple[e]; continue; }
      const len = { x: 2, u: 4, U: 8 }[e];
      if (len) { out += String.fromCodePoint(parseInt(s.slice(i, i + len), 16)); i += len; continue; }
      out += '\\' + e;
    }
    items.push(out);
  }
  return items.join('\n');
}

/** The dataset's samples: [{id, prompt, models: {NAME: {score, response, cost}}}]. */
function loadSamples(file) {
  const rows = parseCsv(readFileSync(file, 'utf8'));
  const header = rows[0];
  const col = (name) => {
    const k = header.indexOf(name);
    if (k < 0) throw new Error(`missing column ${name}`);
    return k;
  };
  const names = [BIG, SMALL];
  return rows.slice(1).filter((r) => r.length === header.length).map((r) => ({
    id: r[col('sample_id')],
    prompt: decodePyList(r[col('prompt')]),
    models: Object.fromEntries(names.map((m) => [m, {
      score: Number(r[col(m)] || 0),
      response: decodePyList(r[col(`${m}|model_response`)]),
      cost: Number(r[col(`${m}|total_cost`)] || 0),
    }])),
  }));
}

// ---------------------------------------------------------------------------

let tg;
let samples = [];
before(async () => {
  if (!HAVE_DATA) return;
  samples = loadSamples(DATASET);
  tg = await startTollgate({
    yaml: toYaml({
      server: { max_body_bytes: 4194304, threads: 2 },
      ledger: { path: 'DB_PATH', batch_size: 256, flush_interval_ms: 20 },
      providers: [{ name: 'rb', type: 'replay', dataset: DATASET }],
      models: [
        { name: 'big', deployments: [{ provider: 'rb', model: BIG }] },
        { name: 'small', deployments: [{ provider: 'rb', model: SMALL }] },
        { name: 'auto', route: { default: 'small', baseline: 'big' } },
      ],
    }) + '\n',
  });
});
after(() => stopAll());

const chat = (model, content, extra = {}) =>
  post(tg.base, '/v1/chat/completions', { model, messages: [{ role: 'user', content }], ...extra });
const rowOf = async (r) => (await tg.waitForRows(1, { where: `id = '${r.headers.get('x-tollgate-request-id')}'` }))[0];

/** A sample whose two models answered differently, with different costs (first such row). */
function distinctSample() {
  const s = samples.find((x) => x.models[BIG].response !== x.models[SMALL].response && x.models[BIG].cost > x.models[SMALL].cost
    && x.models[SMALL].cost > 0);
  assert.ok(s, 'the dataset has a sample where the models differ');
  return s;
}

test('the test CSV reader agrees with the dataset shape', { skip }, () => {
  assert.ok(samples.length > 100, `samples: ${samples.length}`);
  const s = samples[0];
  assert.ok(!s.prompt.startsWith("['"), 'the prompt is decoded from its list repr');
  assert.match(s.prompt, /Answer:/);
  assert.ok(s.models[BIG].response.length > 0);
});

test('replay: the recorded answer, score header, and the recorded total_cost in the ledger', { skip }, async () => {
  const s = samples[0];
  for (const [model, id] of [['big', BIG], ['small', SMALL]]) {
    const rec = s.models[id];
    const r = await chat(model, s.prompt);
    assert.equal(r.status, 200, `${model}: ${r.text.slice(0, 300)}`);
    assert.equal(r.json.object, 'chat.completion');
    assert.equal(r.json.model, id);
    assert.equal(r.json.choices[0].message.role, 'assistant');
    assert.equal(r.json.choices[0].message.content, rec.response, `${model}: recorded model_response`);
    assert.ok(r.json.usage.prompt_tokens > 0 && r.json.usage.completion_tokens >= 0);
    const score = r.headers.get('x-tollgate-replay-score');
    assert.ok(score !== null, 'x-tollgate-replay-score header');
    closeTo(score, rec.score, `${model}: score header`);
    closeTo(r.headers.get('x-tollgate-cost-usd'), rec.cost, `${model}: cost header = recorded total_cost`);

    const row = await rowOf(r);
    assert.equal(row.provider, 'rb');
    assert.equal(row.served_model, id);
    assert.equal(row.status, 200);
    closeTo(row.cost_usd, rec.cost, `${model}: ledger cost_usd = ${id}|total_cost`);
    closeTo(row.quality, rec.score, `${model}: ledger quality = recorded score`);
    assert.equal(row.estimated, 1, 'tokens are estimated (the dataset records cost, not tokens)');
    assert.equal(row.baseline_model, id);
    closeTo(row.baseline_cost_usd, rec.cost, 'unrouted: baseline = own recorded cost');
  }
});

test('replay: several samples, both models, answers and costs match the CSV', { skip }, async () => {
  for (const s of samples.slice(1, 9)) {
    for (const [model, id] of [['big', BIG], ['small', SMALL]]) {
      const r = await chat(model, s.prompt);
      assert.equal(r.status, 200, `${s.id} ${model}: ${r.text.slice(0, 200)}`);
      assert.equal(r.json.choices[0].message.content, s.models[id].response, `${s.id} ${model}`);
      closeTo(r.headers.get('x-tollgate-cost-usd'), s.models[id].cost, `${s.id} ${model} cost`);
      closeTo(r.headers.get('x-tollgate-replay-score'), s.models[id].score, `${s.id} ${model} score`);
    }
  }
});

test('replay: the prompt is matched after trimming surrounding whitespace', { skip }, async () => {
  const s = samples[1];
  const r = await chat('big', `\n  ${s.prompt}  \n\n`);
  assert.equal(r.status, 200, r.text.slice(0, 300));
  assert.equal(r.json.choices[0].message.content, s.models[BIG].response);
});

test('replay behind a routed model: baseline_cost_usd is the baseline model\'s recorded cost', { skip }, async () => {
  const s = distinctSample();
  const r = await chat('auto', s.prompt);
  assert.equal(r.status, 200, r.text.slice(0, 300));
  assert.equal(r.headers.get('x-tollgate-route'), 'default->small');
  assert.equal(r.json.choices[0].message.content, s.models[SMALL].response);
  const row = await rowOf(r);
  assert.equal(row.requested_model, 'auto');
  assert.equal(row.served_model, SMALL);
  closeTo(row.cost_usd, s.models[SMALL].cost, 'cost = small recorded cost');
  assert.equal(row.baseline_model, BIG);
  closeTo(row.baseline_cost_usd, s.models[BIG].cost, 'baseline = big recorded cost for the same prompt');
  assert.equal(row.savings_lever, 'routing');
  closeTo(row.quality, s.models[SMALL].score, 'quality of the answer served');
});

test('replay streamed through the openai client: valid SSE of the recorded answer, usage when asked', { skip }, async () => {
  const s = samples[2];
  const client = new OpenAI({ baseURL: tg.base + '/v1', apiKey: 'sk-client-test', maxRetries: 0, timeout: 10000 });
  const { data: stream, response } = await client.chat.completions.create({
    model: 'big', messages: [{ role: 'user', content: s.prompt }], stream: true, stream_options: { include_usage: true },
  }).withResponse();
  assert.match(response.headers.get('content-type') ?? '', /^text\/event-stream/);
  closeTo(response.headers.get('x-tollgate-replay-score'), s.models[BIG].score, 'score header on a stream');
  let text = '';
  let usage = null;
  let finish = null;
  for await (const chunk of stream) {
    assert.equal(chunk.object, 'chat.completion.chunk');
    text += chunk.choices[0]?.delta?.content ?? '';
    finish = chunk.choices[0]?.finish_reason ?? finish;
    if (chunk.usage) usage = chunk.usage;
  }
  assert.equal(text, s.models[BIG].response);
  assert.equal(finish, 'stop');
  assert.ok(usage && usage.prompt_tokens > 0, 'usage chunk');

  const raw = await chat('small', s.prompt, { stream: true });
  assert.equal(chatText(parseSSE(raw.text)), s.models[SMALL].response);
  const m = raw.text.match(/^: ?tollgate cost_usd=(\S+) request_id=(\S+)/m);
  assert.ok(m, 'cost trailer');
  closeTo(m[1], s.models[SMALL].cost, 'trailer cost = recorded cost');
  const row = await rowOf(raw);
  closeTo(row.cost_usd, s.models[SMALL].cost, 'streamed ledger cost');
  closeTo(row.quality, s.models[SMALL].score, 'streamed ledger quality');
});

test('replay streamed: the ledger row says streamed = 1', {
  skip,
}, async () => {
  const s = samples[4];
  const raw = await chat('big', s.prompt, { stream: true });
  assert.equal(raw.status, 200);
  const row = await rowOf(raw);
  assert.equal(row.streamed, 1);
});

test('replay through the Anthropic Messages endpoint', { skip }, async () => {
  const s = samples[3];
  const r = await post(tg.base, '/v1/messages', {
    model: 'big', max_tokens: 100, messages: [{ role: 'user', content: s.prompt }],
  }, { 'anthropic-version': '2023-06-01' });
  assert.equal(r.status, 200, r.text.slice(0, 300));
  assert.equal(r.json.type, 'message');
  assert.equal(r.json.content.map((b) => b.text).join(''), s.models[BIG].response);
  closeTo(r.headers.get('x-tollgate-cost-usd'), s.models[BIG].cost, 'messages cost');
});

test('replay miss: an unknown prompt is a 404 replay_miss, OpenAI-shaped, metered at $0, and the server lives on', {
  skip,
}, async () => {
  // Its own server: the shared one must survive for the other tests.
  const own = await startTollgate({
    yaml: toYaml({
      ledger: { path: 'DB_PATH', batch_size: 256, flush_interval_ms: 20 },
      providers: [{ name: 'rb', type: 'replay', dataset: DATASET }],
      models: [{ name: 'big', deployments: [{ provider: 'rb', model: BIG }] }],
    }) + '\n',
  });
  try {
    const r = await post(own.base, '/v1/chat/completions', { model: 'big', messages: [{ role: 'user', content: 'This prompt is certainly not in the RouterBench ARC test split.' }] });
    assert.equal(r.status, 404, r.text);
    assert.equal(r.json?.error?.code, 'replay_miss');
    assert.equal(r.json.error.type, 'invalid_request_error');
    assert.match(r.json.error.message, /rb/);
    assert.ok('param' in r.json.error);
    await sleep(200);
    assert.equal(own.proc.exitCode, null, `tollgate still running (signal ${own.proc.signalCode}); stderr: ${own.stderr.slice(-300)}`);
    assert.equal(own.proc.signalCode, null);
    const [row] = await own.waitForRows(1, { where: `id = '${r.headers.get('x-tollgate-request-id')}'`, timeoutMs: 2000 });
    assert.equal(row.status, 404);
    assert.equal(row.error_class, 'replay_miss');
    assert.equal(row.cost_usd, 0);
    // The raw list repr is not the prompt (the gateway decodes the CSV, clients send text).
    const raw = await post(own.base, '/v1/chat/completions', { model: 'big', messages: [{ role: 'user', content: `['${samples[0].prompt.slice(0, 40)}']` }] });
    assert.equal(raw.status, 404);
    const ok = await post(own.base, '/v1/chat/completions', { model: 'big', messages: [{ role: 'user', content: samples[0].prompt }] });
    assert.equal(ok.status, 200);
  } finally {
    await own.stop(2000);
  }
});

test('replay serves chat and messages only: /v1/completions is refused', { skip }, async () => {
  const r = await post(tg.base, '/v1/completions', { model: 'big', prompt: samples[0].prompt });
  assert.ok(r.status >= 400 && r.status < 500, `${r.status} ${r.text.slice(0, 200)}`);
  assert.ok(r.json?.error, r.text.slice(0, 200));
});

// ---------------------------------------------------------------------------
// Config errors

function badReplayYaml(dataset, model) {
  return [
    'providers:',               // 1
    '  - name: rb',             // 2
    '    type: replay',         // 3
    ...(dataset === null ? [] : [`    dataset: ${JSON.stringify(dataset)}`]), // 4
    'models:',
    '  - name: big',
    '    deployments:',
    '      - provider: rb',
    `        model: ${JSON.stringify(model)}`,
  ].join('\n') + '\n';
}

async function expectConfigError(yaml, cmds, lineRe, msgRe) {
  const dir = tempDir();
  const file = path.join(dir, 'bad.yaml');
  writeFileSync(file, yaml);
  for (const args of cmds.map((c) => (c === 'serve'
    ? ['serve', '--config', file, '--listen', '127.0.0.1:0', '--db', path.join(dir, 'x.db')]
    : ['config', 'check', file]))) {
    const r = await runTollgate(args, { timeoutMs: 10000 });
    assert.equal(r.code, 2, `${args[0]}: exit ${r.code}; stderr: ${r.stderr}`);
    const m = r.stderr.match(new RegExp(`${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:(\\d+)(?::\\d+)?: error: (.+)`));
    assert.ok(m, `FILE:LINE: error: in ${r.stderr}`);
    assert.match(m[1], lineRe, r.stderr);
    assert.match(m[2], msgRe, r.stderr);
    assert.match(m[2], /fix:/, r.stderr);
    assert.doesNotMatch(r.stdout, /listening/);
  }
}

test('bad config: a replay provider without dataset', async () => {
  await expectConfigError(badReplayYaml(null, BIG), ['check', 'serve'], /^[23]$/, /needs dataset/);
});

test('bad config: a replay dataset that cannot be read', async () => {
  await expectConfigError(badReplayYaml('/nonexistent/routerbench.csv', BIG), ['serve'], /^[2-4]$/, /replay provider 'rb'.*\/nonexistent\/routerbench\.csv/);
});

test('bad config: a deployment naming a model the dataset does not have', { skip }, async () => {
  await expectConfigError(badReplayYaml(DATASET, 'gpt-5-imaginary'), ['serve'], /^[5-9]$/, /no model 'gpt-5-imaginary'/);
});
