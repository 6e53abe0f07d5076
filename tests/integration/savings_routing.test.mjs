// Savings engine, part 2: routing (issue 5).
//
// Routed (virtual) models with route rules (regex, tags, tools, images,
// prompt-token bounds, default) and their x-tollgate-route header and ledger
// counterfactual; deployment strategies (weighted, least_latency, cheapest with
// a latency objective) over loopback fakes with different latencies and
// prices; cascades with every check type (refusal, regex, length, json_schema,
// confidence, judge), accepted and escalated, non-stream and streamed through
// the official `openai` client, with one ledger row per upstream call;
// budget-aware prompting; and config errors.
//
// Every "model" of this file is served by its own FakeOpenAI, so a test can
// tell which one answered and how often each was called.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { writeFileSync } from 'node:fs';
import OpenAI from 'openai';
import { startFakeOpenAI } from './lib/fake_openai.mjs';
import {
  startTollgate, stopAll, toYaml, openaiProvider, post, tempDir, runTollgate, closeTo, parseSSE, chatText,
} from './lib/harness.mjs';

// USD per 1M tokens, per provider model id.
const PRICE = {
  'small-model': { input: 0.1, output: 0.4 },
  'mid-model': { input: 1.0, output: 4.0 },
  'large-model': { input: 10.0, output: 30.0 },
  'judge-model': { input: 1.0, output: 2.0 },
  'lat-model': { input: 1.0, output: 1.0 },
};
const USAGE = { prompt_tokens: 100, completion_tokens: 20, cached_tokens: 0, reasoning_tokens: 0 };
const cost = (model, u = USAGE) => (u.prompt_tokens * PRICE[model].input + u.completion_tokens * PRICE[model].output) / 1e6;

const SCHEMA = { type: 'object', required: ['answer'], properties: { answer: { type: 'string' } } };
const CASCADES = {
  'casc-refusal': [{ type: 'refusal' }],
  'casc-regex': [{ type: 'regex', pattern: '^[ABCD]$' }],
  'casc-length': [{ type: 'length', min_chars: 10, max_chars: 60 }],
  'casc-json': [{ type: 'json_schema', json_schema: JSON.stringify(SCHEMA) }], // JSON text
  'casc-json-map': [{ type: 'json_schema', json_schema: SCHEMA }],              // YAML mapping
  'casc-confidence': [{ type: 'confidence', min_confidence: 0.8 }],
  'casc-judge': [{ type: 'judge', min_score: 7 }],
  'casc-multi': [{ type: 'refusal' }, { type: 'length', min_chars: 3 }],
};

let small; let mid; let large; let judge; let slow; let fast;
let tg;
before(async () => {
  [small, mid, large, judge, slow, fast] = await Promise.all(Array.from({ length: 6 }, () => startFakeOpenAI()));
  for (const f of [small, mid, large, judge, slow, fast]) f.set({ usage: USAGE });
  const dep = (provider, model, extra = {}) => ({ provider, model, ...extra });
  tg = await startTollgate({
    yaml: toYaml({
      server: { max_body_bytes: 1048576, threads: 2 },
      ledger: { path: 'DB_PATH', batch_size: 256, flush_interval_ms: 20 },
      pricing: { overrides: Object.entries(PRICE).map(([model, p]) => ({ model, ...p })) },
      providers: [
        openaiProvider('smallp', small.baseUrl), openaiProvider('midp', mid.baseUrl),
        openaiProvider('largep', large.baseUrl), openaiProvider('judgep', judge.baseUrl),
        openaiProvider('slowp', slow.baseUrl), openaiProvider('fastp', fast.baseUrl),
      ],
      models: [
        { name: 'small', deployments: [dep('smallp', 'small-model')] },
        { name: 'mid', deployments: [dep('midp', 'mid-model')] },
        { name: 'large', deployments: [dep('largep', 'large-model')] },
        { name: 'judge', deployments: [dep('judgep', 'judge-model')] },
        {
          name: 'auto',
          route: {
            rules: [
              { name: 'code', when: { regex: '(?i)\\bpython\\b' }, to: 'large' },
              { name: 'premium', when: { tags_any: ['premium', 'vip'] }, to: 'large' },
              { name: 'tools', when: { has_tools: true }, to: 'large' },
              { when: { has_images: true }, to: 'large' }, // unnamed: rule:#4
              { name: 'long', when: { min_prompt_tokens: 300 }, to: 'large' },
              { name: 'short', when: { max_prompt_tokens: 12 }, to: 'small' },
            ],
            default: 'mid',
            baseline: 'large',
          },
        },
        ...Object.entries(CASCADES).map(([name, checks]) => ({
          name,
          route: { cascade: { steps: ['small', 'large'], checks, judge_model: name === 'casc-judge' ? 'judge' : undefined } },
        })),
        {
          name: 'casc-3',
          route: { cascade: { steps: ['small', 'mid', 'large'], checks: [{ type: 'refusal' }] } },
        },
        {
          name: 'weighted-m', strategy: 'weighted',
          deployments: [dep('smallp', 'small-model', { weight: 3 }), dep('largep', 'large-model', { weight: 1 })],
        },
        {
          name: 'cheap-m', strategy: 'cheapest',
          deployments: [dep('largep', 'large-model'), dep('midp', 'mid-model'), dep('smallp', 'small-model')],
        },
        {
          name: 'cheap-slo', strategy: 'cheapest', latency_objective_ms: 100,
          deployments: [dep('largep', 'large-model'), dep('slowp', 'small-model')],
        },
        { name: 'fast-m', strategy: 'least_latency', deployments: [dep('slowp', 'lat-model'), dep('fastp', 'lat-model')] },
        { name: 'hinted', deployments: [dep('smallp', 'small-model')], budget_hint: { max_tokens: 50, hint_tokens: 100, control_share: 0 } },
        {
          name: 'hinted-custom', deployments: [dep('smallp', 'small-model')],
          budget_hint: { hint_tokens: 42, hint: 'Budget: {budget} tokens, no more.', control_share: 0 },
        },
      ],
    }) + '\n',
  });
});
after(async () => {
  await stopAll();
  await Promise.all([small, mid, large, judge, slow, fast].map((f) => f.close()));
});

function resetAll(content = {}) {
  for (const [name, f] of Object.entries({ small, mid, large, judge, slow, fast })) {
    f.reset().set({ usage: USAGE, content: content[name] ?? `answer from ${name}` });
  }
}
const chat = (model, content, extra = {}, headers = {}) =>
  post(tg.base, '/v1/chat/completions', { model, messages: [{ role: 'user', content }], ...extra }, headers);
const answer = (r) => r.json?.choices?.[0]?.message?.content;
const rowsOf = (id) => tg.waitForRows(1, { where: `id = '${id}'` });
const calls = (f) => f.apiRequests().length;

// ---------------------------------------------------------------------------
// Route rules

test('rules: regex, tags, tools, images, prompt-token bounds and default pick the target and say why', async () => {
  resetAll();
  const cases = [
    { what: 'regex (case-insensitive)', r: () => chat('auto', 'Write PYTHON code to add two numbers together.'), route: 'rule:code->large', f: large },
    { what: 'tags_any', r: () => chat('auto', 'Tell me about the history of the Roman Empire.', {}, { 'x-tollgate-tags': 'team-a, vip' }), route: 'rule:premium->large', f: large },
    {
      what: 'has_tools',
      r: () => chat('auto', 'What is the weather like in Paris today, please?', {
        tools: [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }],
      }),
      route: 'rule:tools->large', f: large,
    },
    {
      what: 'has_images (unnamed rule)',
      r: () => post(tg.base, '/v1/chat/completions', {
        model: 'auto',
        messages: [{ role: 'user', content: [{ type: 'text', text: 'What is in this picture, in detail?' }, { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } }] }],
      }),
      route: 'rule:#4->large', f: large,
    },
    { what: 'min_prompt_tokens', r: () => chat('auto', 'lorem ipsum dolor sit amet '.repeat(80)), route: 'rule:long->large', f: large },
    { what: 'max_prompt_tokens', r: () => chat('auto', 'hi'), route: 'rule:short->small', f: small },
    { what: 'default', r: () => chat('auto', 'Tell me something interesting about the history of the Roman emperors and their wars.'), route: 'default->mid', f: mid },
  ];
  for (const c of cases) {
    const before = calls(c.f);
    const r = await c.r();
    assert.equal(r.status, 200, `${c.what}: ${r.text}`);
    assert.equal(r.headers.get('x-tollgate-route'), c.route, c.what);
    assert.equal(calls(c.f), before + 1, `${c.what}: served by the target's upstream`);
    const up = c.f.apiRequests().at(-1);
    assert.equal(up.body.model, { [large.port]: 'large-model', [small.port]: 'small-model', [mid.port]: 'mid-model' }[c.f.port], `${c.what}: upstream model id`);
    const [row] = await rowsOf(r.headers.get('x-tollgate-request-id'));
    assert.equal(row.route, c.route, c.what);
    assert.equal(row.requested_model, 'auto');
    assert.equal(row.baseline_model, 'large-model', `${c.what}: the configured baseline`);
  }
});

test('rules: a cheaper target is measured against the baseline (savings_lever routing); the baseline target saves nothing', async () => {
  resetAll();
  const cheap = await chat('auto', 'Tell me something interesting about the history of the Roman emperors and their wars.');
  assert.equal(cheap.headers.get('x-tollgate-route'), 'default->mid');
  closeTo(cheap.headers.get('x-tollgate-cost-usd'), cost('mid-model'), 'cost at the served model');
  const [row] = await rowsOf(cheap.headers.get('x-tollgate-request-id'));
  assert.equal(row.served_model, 'mid-model');
  closeTo(row.cost_usd, cost('mid-model'), 'ledger cost');
  closeTo(row.baseline_cost_usd, cost('large-model'), 'same tokens at the baseline price');
  assert.equal(row.savings_lever, 'routing');

  const dear = await chat('auto', 'Some python please.');
  const [drow] = await rowsOf(dear.headers.get('x-tollgate-request-id'));
  closeTo(drow.cost_usd, cost('large-model'), 'large cost');
  closeTo(drow.baseline_cost_usd, cost('large-model'), 'baseline = cost');
  assert.equal(drow.savings_lever, null);
});

test('rules: the first matching rule wins, and tags that do not match fall through', async () => {
  resetAll();
  // Both "code" (rule 1) and "premium" (rule 2) match: rule 1 wins.
  const both = await chat('auto', 'python question here for you', {}, { 'x-tollgate-tags': 'premium' });
  assert.equal(both.headers.get('x-tollgate-route'), 'rule:code->large');
  // A tag that is only a substring of a listed one does not match.
  const sub = await chat('auto', 'Tell me something interesting about the history of the Roman emperors and their wars.', {}, { 'x-tollgate-tags': 'premiu,vips' });
  assert.equal(sub.headers.get('x-tollgate-route'), 'default->mid');
  // The routed model is what the client asked for, in the response too.
  const m = await chat('auto', 'hi');
  assert.equal(m.status, 200);
  assert.equal(answer(m), 'answer from small');
});

// ---------------------------------------------------------------------------
// Deployment strategies

test('strategy weighted: ~3:1 split over 200 requests, header names the pick', async () => {
  resetAll();
  const seen = { 'weighted:smallp/small-model': 0, 'weighted:largep/large-model': 0 };
  const N = 200;
  for (let i = 0; i < N; i += 10) {
    const batch = await Promise.all(Array.from({ length: 10 }, () => chat('weighted-m', 'pick one')));
    for (const r of batch) {
      assert.equal(r.status, 200, r.text);
      const h = r.headers.get('x-tollgate-route');
      assert.ok(h in seen, `unexpected route header ${h}`);
      seen[h]++;
    }
  }
  const share = seen['weighted:smallp/small-model'] / N;
  assert.ok(share > 0.6 && share < 0.9, `weight 3 of 4 should get ~75%, got ${(share * 100).toFixed(1)}% (${JSON.stringify(seen)})`);
  assert.equal(calls(small), seen['weighted:smallp/small-model']);
  assert.equal(calls(large), seen['weighted:largep/large-model']);
});

test('strategy cheapest: the cheapest deployment answers, whatever its position', async () => {
  resetAll();
  for (let i = 0; i < 5; i++) {
    const r = await chat('cheap-m', 'cheap please');
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers.get('x-tollgate-route'), 'cheapest:smallp/small-model');
    assert.equal(answer(r), 'answer from small');
  }
  assert.equal(calls(small), 5);
  assert.equal(calls(large) + calls(mid), 0);
  // The others stay as fallbacks, cheapest first.
  small.set({ alwaysStatus: 503 });
  const r = await chat('cheap-m', 'cheap please');
  assert.equal(r.status, 200, r.text);
  assert.equal(answer(r), 'answer from mid', 'next cheapest is the fallback');
  const [row] = await rowsOf(r.headers.get('x-tollgate-request-id'));
  assert.equal(row.fallbacks, 1);
  assert.equal(row.served_model, 'mid-model');
});

test('strategy cheapest + latency_objective_ms: a cheap deployment measured over the objective moves behind', async () => {
  resetAll();
  slow.set({ headerDelayMs: 180 });
  const first = await chat('cheap-slo', 'latency matters');
  assert.equal(first.headers.get('x-tollgate-route'), 'cheapest:slowp/small-model', 'unmeasured: cheapest first');
  const second = await chat('cheap-slo', 'latency matters');
  assert.equal(second.status, 200);
  assert.equal(second.headers.get('x-tollgate-route'), 'cheapest:largep/large-model(1 cheaper over 100ms)');
  assert.equal(answer(second), 'answer from large');
  assert.equal(calls(slow), 1);
});

test('strategy least_latency: each deployment is measured once, then the fast one is preferred; it adapts', async () => {
  resetAll();
  slow.set({ headerDelayMs: 100 });
  const routes = [];
  for (let i = 0; i < 10; i++) {
    const r = await chat('fast-m', 'quick');
    assert.equal(r.status, 200, r.text);
    routes.push(r.headers.get('x-tollgate-route'));
  }
  assert.match(routes[0], /^least_latency:slowp\/lat-model\(unmeasured\)$/);
  assert.match(routes[1], /^least_latency:fastp\/lat-model\(unmeasured\)$/);
  for (const h of routes.slice(2)) assert.match(h, /^least_latency:fastp\/lat-model\(\d+ms\)$/);
  assert.equal(calls(slow), 1, 'after warm-up the slow deployment is not used');
  assert.equal(calls(fast), 9);

  // The fast one slows down past the other: within a few requests the other takes over.
  fast.set({ headerDelayMs: 200 });
  let switched = false;
  for (let i = 0; i < 8 && !switched; i++) {
    const r = await chat('fast-m', 'quick');
    switched = /^least_latency:slowp\//.test(r.headers.get('x-tollgate-route'));
  }
  assert.ok(switched, 'least_latency moved to the now-faster deployment');
});

// ---------------------------------------------------------------------------
// Cascades

const REFUSAL = "I'm sorry, but I can't help with that request.";
const CHECK_CASES = [
  { model: 'casc-refusal', accept: 'Paris is the capital of France.', reject: REFUSAL, reason: /refusal/ },
  { model: 'casc-regex', accept: 'B', reject: 'The answer is B', reason: /regex: no match/ },
  { model: 'casc-length', accept: 'A reasonably sized answer.', reject: 'Short', reason: /length: 5 chars < 10/ },
  { model: 'casc-json', accept: '{"answer": "42"}', reject: 'forty-two', reason: /json_schema: answer is not JSON/ },
  { model: 'casc-confidence', accept: 'It is 42. Confidence: 0.9', reject: 'It is 42. Confidence: 55%', reason: /confidence/ },
];

for (const c of CHECK_CASES) {
  test(`cascade ${c.model}: accepted answer -> "cascade:small accepted", one upstream call`, async () => {
    resetAll({ small: c.accept });
    const r = await chat(c.model, `question for ${c.model}`);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers.get('x-tollgate-route'), 'cascade:small accepted');
    assert.equal(answer(r), c.accept);
    assert.equal(calls(small), 1);
    assert.equal(calls(large), 0);
    assert.equal(small.apiRequests()[0].body.stream, undefined, 'the cheap step is not streamed');
    const id = r.headers.get('x-tollgate-request-id');
    closeTo(r.headers.get('x-tollgate-cost-usd'), cost('small-model'), 'cost of the accepted step');
    const [row] = await rowsOf(id);
    assert.equal(row.route, 'cascade:small accepted');
    assert.equal(row.savings_lever, 'cascade');
    assert.equal(row.served_model, 'small-model');
    assert.equal(row.requested_model, c.model);
    assert.equal(row.baseline_model, 'large-model', 'default baseline: the dearest step');
    closeTo(row.cost_usd, cost('small-model'), 'ledger cost');
    closeTo(row.baseline_cost_usd, cost('large-model'), 'accepted tokens at the baseline price');
  });

  test(`cascade ${c.model}: rejected answer -> escalated, the client only sees the large answer`, async () => {
    resetAll({ small: c.reject, large: 'The strong model answer.' });
    const r = await chat(c.model, `hard question for ${c.model}`);
    assert.equal(r.status, 200, r.text);
    const route = r.headers.get('x-tollgate-route');
    assert.match(route, /^cascade:large escalated \(small: /);
    assert.match(route, c.reason);
    assert.equal(answer(r), 'The strong model answer.');
    assert.ok(!r.text.includes(c.reject) || c.reject === 'B', 'the rejected answer never reaches the client');
    assert.equal(calls(small), 1);
    assert.equal(calls(large), 1);
    const id = r.headers.get('x-tollgate-request-id');
    closeTo(r.headers.get('x-tollgate-cost-usd'), cost('large-model'), 'header: the large call');

    const [row] = await rowsOf(id);
    assert.equal(row.route, route);
    assert.equal(row.served_model, 'large-model');
    assert.equal(row.savings_lever, 'cascade');
    closeTo(row.cost_usd, cost('large-model'), 'escalated row cost');
    const all = await tg.waitForRows(2, { where: `requested_model = '${c.model}' and ts_start_ms >= ${row.ts_start_ms - 5000}` });
    const rejected = all.filter((x) => x.id !== id && x.route?.startsWith('cascade:small rejected'));
    assert.equal(rejected.length, 1, `one row for the rejected step: ${JSON.stringify(all.map((x) => x.route))}`);
    assert.equal(rejected[0].served_model, 'small-model');
    assert.equal(rejected[0].savings_lever, 'cascade');
    assert.equal(rejected[0].baseline_cost_usd, 0, 'a rejected step is pure cascade overhead');
    closeTo(rejected[0].cost_usd, cost('small-model'), 'rejected step cost');
    assert.match(rejected[0].route, c.reason);
  });
}

test('cascade json_schema: JSON that violates the schema escalates with the failing keyword', async () => {
  resetAll({ small: '{"answer": 42}' });
  const r = await chat('casc-json', 'schema violation question');
  assert.equal(r.status, 200, r.text);
  assert.match(r.headers.get('x-tollgate-route'), /^cascade:large escalated \(small: json_schema: schema violation: 'type' at #\/answer\)/);
  // A fenced JSON block is accepted.
  resetAll({ small: 'Here you go:\n```json\n{"answer": "42"}\n```' });
  const f = await chat('casc-json', 'fenced question');
  assert.equal(f.headers.get('x-tollgate-route'), 'cascade:small accepted');
});

test('cascade json_schema given as a YAML mapping (config.cc: "either a JSON string or a YAML mapping") works like the JSON text', {
}, async () => {
  resetAll({ small: '{"answer": "42"}' });
  const r = await chat('casc-json-map', 'question for casc-json-map');
  assert.equal(r.status, 200, r.text);
  assert.equal(r.headers.get('x-tollgate-route'), 'cascade:small accepted');
  assert.equal(answer(r), '{"answer": "42"}');
  assert.deepEqual([calls(small), calls(large)], [1, 0]);
  resetAll({ small: '{"answer": 42}' });
  const bad = await chat('casc-json-map', 'another question for casc-json-map');
  assert.match(bad.headers.get('x-tollgate-route'), /^cascade:large escalated \(small: json_schema: schema violation: 'type' at #\/answer\)/);
});

test('cascade judge: the judge model grades the cheap answer; >= min_score accepts, below escalates', async () => {
  resetAll({ small: 'Water boils at 100 degrees Celsius at sea level.', judge: '8', large: 'Large says 100 C.' });
  const ok = await chat('casc-judge', 'At what temperature does water boil?');
  assert.equal(ok.status, 200, ok.text);
  assert.equal(ok.headers.get('x-tollgate-route'), 'cascade:small accepted');
  assert.equal(answer(ok), 'Water boils at 100 degrees Celsius at sea level.');
  assert.equal(calls(judge), 1);
  assert.equal(calls(large), 0);
  const jreq = judge.apiRequests()[0].body;
  assert.equal(jreq.model, 'judge-model');
  const jtext = jreq.messages.map((m) => m.content).join('\n');
  assert.match(jtext, /At what temperature does water boil\?/, 'the judge sees the question');
  assert.match(jtext, /Water boils at 100 degrees Celsius/, 'the judge sees the answer');
  const jrows = await tg.waitForRows(1, { where: `served_model = 'judge-model'` });
  assert.match(jrows.at(-1).route, /^cascade:judge\(small\) score=8/);
  assert.equal(jrows.at(-1).baseline_cost_usd, 0);
  closeTo(jrows.at(-1).cost_usd, cost('judge-model'), 'judge call is metered');

  resetAll({ small: 'Water boils at 50 degrees.', judge: 'Score: 3', large: 'Large says 100 C.' });
  const bad = await chat('casc-judge', 'At what temperature does water boil, really?');
  assert.equal(bad.status, 200, bad.text);
  assert.match(bad.headers.get('x-tollgate-route'), /^cascade:large escalated \(small: judge: score 3/);
  assert.equal(answer(bad), 'Large says 100 C.');
  assert.deepEqual([calls(small), calls(judge), calls(large)], [1, 1, 1]);
});

test('cascade with several checks: every check must pass; three steps escalate one at a time', async () => {
  resetAll({ small: 'OK' }); // no refusal, but shorter than min_chars 3
  const r = await chat('casc-multi', 'multi-check question');
  assert.match(r.headers.get('x-tollgate-route'), /^cascade:large escalated \(small: length: 2 chars < 3\)/);

  resetAll({ small: REFUSAL, mid: 'Mid model handles it.' });
  const m = await chat('casc-3', 'three step question');
  assert.equal(m.headers.get('x-tollgate-route'), 'cascade:mid accepted');
  assert.equal(answer(m), 'Mid model handles it.');
  assert.deepEqual([calls(small), calls(mid), calls(large)], [1, 1, 0]);

  resetAll({ small: REFUSAL, mid: REFUSAL });
  const l = await chat('casc-3', 'three step question, harder');
  assert.match(l.headers.get('x-tollgate-route'), /^cascade:large escalated \(small: refusal.*; mid: refusal/);
  assert.equal(answer(l), 'answer from large');
  assert.deepEqual([calls(small), calls(mid), calls(large)], [1, 1, 1]);
});

test('cascade: a cheap step that fails upstream (HTTP 503) escalates, and its failed attempt is recorded', async () => {
  resetAll({ large: 'Large covers for the outage.' });
  small.set({ alwaysStatus: 503 });
  const r = await chat('casc-refusal', 'question during an outage');
  assert.equal(r.status, 200, r.text);
  assert.match(r.headers.get('x-tollgate-route'), /^cascade:large escalated \(small: HTTP 503\)/);
  assert.equal(answer(r), 'Large covers for the outage.');
  const rows = await tg.waitForRows(1, { where: `requested_model = 'casc-refusal' and route like 'cascade:small rejected (HTTP 503)%'` });
  assert.equal(rows.at(-1).status, 503);
  assert.equal(rows.at(-1).cost_usd, 0);
});

test('cascade streamed (openai client): accepted -> valid SSE of the cheap answer only, usage when asked', async () => {
  const text = 'Paris is the capital of France, and it sits on the river Seine in the north of the country.';
  resetAll({ small: text });
  const client = new OpenAI({ baseURL: tg.base + '/v1', apiKey: 'sk-client-test', maxRetries: 0, timeout: 10000 });
  const { data: stream, response } = await client.chat.completions.create({
    model: 'casc-refusal', messages: [{ role: 'user', content: 'Capital of France?' }], stream: true,
    stream_options: { include_usage: true },
  }).withResponse();
  assert.equal(response.headers.get('x-tollgate-route'), 'cascade:small accepted');
  assert.match(response.headers.get('content-type') ?? '', /^text\/event-stream/);
  let got = '';
  let chunks = 0;
  let usage = null;
  for await (const chunk of stream) {
    chunks++;
    got += chunk.choices[0]?.delta?.content ?? '';
    if (chunk.usage) usage = chunk.usage;
  }
  assert.equal(got, text);
  assert.ok(chunks >= 3, `several chunks, got ${chunks}`);
  assert.equal(usage?.prompt_tokens, USAGE.prompt_tokens, 'include_usage gives a usage chunk');
  assert.deepEqual([calls(small), calls(large)], [1, 0]);
  const [row] = await rowsOf(response.headers.get('x-tollgate-request-id'));
  assert.equal(row.route, 'cascade:small accepted');
});

test('cascade streamed (openai client): rejected -> only the large answer, streamed from the strong model', async () => {
  resetAll({ small: REFUSAL, large: 'The strong model streams this answer word by word.' });
  const client = new OpenAI({ baseURL: tg.base + '/v1', apiKey: 'sk-client-test', maxRetries: 0, timeout: 10000 });
  const { data: stream, response } = await client.chat.completions.create({
    model: 'casc-refusal', messages: [{ role: 'user', content: 'Something the small model refuses.' }], stream: true,
  }).withResponse();
  assert.match(response.headers.get('x-tollgate-route') ?? '', /^cascade:large escalated \(small: refusal/);
  let got = '';
  for await (const chunk of stream) got += chunk.choices[0]?.delta?.content ?? '';
  assert.equal(got, 'The strong model streams this answer word by word.');
  assert.deepEqual([calls(small), calls(large)], [1, 1]);
  assert.equal(large.apiRequests()[0].body.stream, true, 'the last step is streamed as asked');

  // Same over the raw wire: one [DONE], no refusal text anywhere.
  resetAll({ small: REFUSAL, large: 'Raw wire answer.' });
  const raw = await chat('casc-refusal', 'Refuse me again.', { stream: true });
  const events = parseSSE(raw.text);
  assert.equal(chatText(events), 'Raw wire answer.');
  assert.equal(events.filter((e) => e.data === '[DONE]').length, 1);
  assert.ok(!raw.text.includes("I'm sorry"), 'the refusal is not streamed');
});

// ---------------------------------------------------------------------------
// Budget-aware prompting

test('budget_hint: max_tokens clamped to 50 and a system hint with the 100-token budget', async () => {
  resetAll();
  const r = await chat('hinted', 'Explain quantum computing.', { max_tokens: 500 });
  assert.equal(r.status, 200, r.text);
  const up = small.apiRequests().at(-1).body;
  assert.ok(up.max_tokens <= 50, `upstream max_tokens ${up.max_tokens}`);
  assert.equal(up.messages[0].role, 'system');
  assert.match(up.messages[0].content, /100 tokens/);
  assert.deepEqual(up.messages.at(-1), { role: 'user', content: 'Explain quantum computing.' });

  // No max_tokens: one is added. A lower one is kept. An existing system prompt gets the hint appended.
  await chat('hinted', 'No limit given.');
  assert.equal(small.apiRequests().at(-1).body.max_tokens, 50);
  await chat('hinted', 'Lower limit.', { max_tokens: 20 });
  assert.equal(small.apiRequests().at(-1).body.max_tokens, 20);
  await post(tg.base, '/v1/chat/completions', {
    model: 'hinted', max_completion_tokens: 400,
    messages: [{ role: 'system', content: 'You are terse.' }, { role: 'user', content: 'Hi.' }],
  });
  const b = small.apiRequests().at(-1).body;
  assert.equal(b.max_completion_tokens, 50, 'max_completion_tokens is the field clamped when present');
  assert.equal(b.max_tokens, undefined);
  assert.equal(b.messages.length, 2);
  assert.match(b.messages[0].content, /^You are terse\.[\s\S]*100 tokens/);

  // A custom hint text with {budget}.
  await chat('hinted-custom', 'Custom hint.');
  const c = small.apiRequests().at(-1).body;
  assert.equal(c.messages[0].content, 'Budget: 42 tokens, no more.');
  assert.equal(c.max_tokens, undefined, 'no clamp configured');
});

// ---------------------------------------------------------------------------
// Config errors

const MODELS_HEAD = [
  'providers:',           // 1
  '  - name: p1',         // 2
  '    type: sim',        // 3
  'models:',              // 4
  '  - name: small',      // 5
  '    deployments:',     // 6
  '      - provider: p1', // 7
  '  - name: large',      // 8
  '    deployments:',     // 9
  '      - provider: p1', // 10
];
const BAD_ROUTING = [
  {
    name: 'route names an unknown model',
    tail: ['  - name: auto', '    route:', '      default: huge'], lines: [13],
    msg: /unknown model 'huge'/,
  },
  {
    name: 'rule target unknown',
    tail: ['  - name: auto', '    route:', '      rules:', '        - name: r', '          when: {tags_any: [x]}', '          to: nope', '      default: small'],
    lines: [16], msg: /unknown model 'nope'/,
  },
  {
    name: 'cascade with one step',
    tail: ['  - name: auto', '    route:', '      cascade:', '        steps: [small]', '        checks: [{type: refusal}]'],
    lines: [14], msg: /at least two steps/,
  },
  {
    name: 'cascade check with an invalid regex',
    tail: ['  - name: auto', '    route:', '      cascade:', '        steps: [small, large]', '        checks:', '          - type: regex', "            pattern: '([a-z'"],
    lines: [17], msg: /invalid regex/,
  },
  {
    name: 'rule with an invalid regex',
    tail: ['  - name: auto', '    route:', '      rules:', '        - to: large', "          when: {regex: '[unclosed'}", '      default: small'],
    lines: [15], msg: /invalid regex/,
  },
  {
    name: 'unknown cascade check type',
    tail: ['  - name: auto', '    route:', '      cascade:', '        steps: [small, large]', '        checks:', '          - type: vibes'],
    lines: [16], msg: /unknown cascade check type 'vibes'/,
  },
  {
    name: 'judge check without judge_model',
    tail: ['  - name: auto', '    route:', '      cascade:', '        steps: [small, large]', '        checks:', '          - type: judge', '            min_score: 7'],
    lines: [16], msg: /judge_model/,
  },
  {
    name: 'route and deployments together',
    tail: ['  - name: auto', '    route:', '      default: small', '    deployments:', '      - provider: p1'],
    lines: [11], msg: /both route and deployments/,
  },
  {
    name: 'unknown strategy',
    tail: ['  - name: auto', '    strategy: random', '    deployments:', '      - provider: p1'],
    lines: [12], msg: /unknown strategy 'random'/,
  },
  {
    name: 'route to a routed model',
    tail: ['  - name: auto', '    route:', '      default: small', '  - name: auto2', '    route:', '      default: auto'],
    lines: [16], msg: /routed model 'auto'/,
  },
  {
    name: 'budget_hint without {budget}',
    tail: ['  - name: auto', '    deployments:', '      - provider: p1', '    budget_hint:', '      hint_tokens: 100', "      hint: 'be brief'"],
    lines: [16], msg: /\{budget\}/,
  },
];

for (const bad of BAD_ROUTING) {
  test(`bad config (${bad.name}): exits 2 with FILE:LINE and a fix`, async () => {
    const dir = tempDir();
    const file = path.join(dir, 'bad.yaml');
    writeFileSync(file, [...MODELS_HEAD, ...bad.tail].join('\n') + '\n');
    for (const args of [['config', 'check', file], ['serve', '--config', file, '--listen', '127.0.0.1:0', '--db', path.join(dir, 'x.db')]]) {
      const r = await runTollgate(args, { timeoutMs: 5000 });
      assert.equal(r.code, 2, `${args[0]}: exit ${r.code}; stderr: ${r.stderr}`);
      const m = r.stderr.match(new RegExp(`${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:(\\d+)(?::\\d+)?: error: (.+)`));
      assert.ok(m, `FILE:LINE: error: in ${r.stderr}`);
      assert.ok(bad.lines.includes(Number(m[1])), `line ${m[1]} not in ${bad.lines}: ${r.stderr}`);
      assert.match(m[2], bad.msg, r.stderr);
      assert.match(m[2], /fix:/, r.stderr);
      assert.doesNotMatch(r.stdout, /listening/);
    }
  });
}
