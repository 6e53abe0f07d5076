// The savings CLI: `tollgate router train|eval`, `tollgate whatif` (a dataset
// through the real gateway, and a ledger re-priced) and `tollgate report
// --savings`, on small CSVs the test writes; and clear errors on bad input.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { post, runTollgate, simProvider, startTollgate, stopAll, tempDir } from './lib/harness.mjs';
import { after } from 'node:test';

after(stopAll);

const MODELS = ['cheap', 'strong'];

// A routerbench-shaped CSV: the cheap model is right on "easy" prompts only,
// the strong model always; costs 0.001 vs 0.01.
function writeDataset(dir, name, n) {
  const header = ['', 'sample_id', 'prompt', 'eval_name', ...MODELS, ...MODELS.map((m) => `${m}|model_response`),
    ...MODELS.map((m) => `${m}|total_cost`), 'oracle_model_to_route_to'];
  const rows = [header.join(',')];
  for (let i = 0; i < n; i++) {
    const easy = i % 2 === 0;
    const prompt = easy ? `easy question number ${i}: what is ${i} plus one?` : `hard proof ${i}: show that the series converges`;
    const cells = [i, `s${i}`, `"['${prompt}']"`, 'toy', easy ? 1 : 0, 1, `"['cheap answer ${i}']"`, `"['strong answer ${i}']"`,
      0.001, 0.01, easy ? 'cheap' : 'strong'];
    rows.push(cells.join(','));
  }
  const f = path.join(dir, name);
  writeFileSync(f, rows.join('\n') + '\n');
  return f;
}

test('router train → whatif: a learned policy through the real gateway beats always-strong on cost', async () => {
  const dir = tempDir();
  const train = writeDataset(dir, 'train.csv', 60);
  const testCsv = writeDataset(dir, 'test.csv', 20);
  const model = path.join(dir, 'router.json');
  const t = await runTollgate(['router', 'train', train, '--out', model, '--strong-share', '0.5']);
  assert.equal(t.code, 0, t.stderr);
  const policy = path.join(dir, 'policy.yaml');
  writeFileSync(policy, `ledger: {path: ${path.join(dir, 'unused.db')}}
pricing:
  overrides:
    - {model: cheap, input: 0.1, output: 0.1}
    - {model: strong, input: 10, output: 10}
providers:
  - {name: rb, type: replay, dataset: ${testCsv}}
models:
  - {name: c, deployments: [{provider: rb, model: cheap}]}
  - {name: s, deployments: [{provider: rb, model: strong}]}
  - name: auto
    route:
      baseline: s
      learned: {model_file: ${model}, candidates: {cheap: c, strong: s}}
`);
  const w = await runTollgate(['whatif', '-c', policy, '--dataset', testCsv, '--model', 'auto', '--baseline', 'strong', '--json']);
  assert.equal(w.code, 0, w.stderr + w.stdout);
  const j = JSON.parse(w.stdout);
  assert.equal(j.policy.prompts, 20);
  assert.equal(j.policy.errors, 0);
  assert.equal(j.baseline.prompts, 20);
  assert.ok(Math.abs(j.baseline.cost_usd - 0.2) < 1e-9, `baseline cost ${j.baseline.cost_usd}`);
  assert.ok(j.policy.cost_usd < j.baseline.cost_usd, `policy ${j.policy.cost_usd} vs baseline ${j.baseline.cost_usd}`);
  assert.ok(j.served.cheap > 0 && j.served.strong > 0, JSON.stringify(j.served));
});

test('whatif and router reject bad input with exit 2 and a clear message', async () => {
  const dir = tempDir();
  const bad = path.join(dir, 'bad.csv');
  writeFileSync(bad, 'a,b\n"unterminated\n');
  const t = await runTollgate(['router', 'train', bad, '--out', path.join(dir, 'r.json')]);
  assert.equal(t.code, 2, t.stderr);
  assert.match(t.stderr, /bad\.csv:\d+/);
  const policy = path.join(dir, 'p.yaml');
  writeFileSync(policy, 'providers:\n  - {name: s, type: sim}\nmodels:\n  - {name: m, deployments: [{provider: s}]}\n');
  const noModel = await runTollgate(['whatif', '-c', policy, '--dataset', writeDataset(dir, 'd.csv', 2)]);
  assert.equal(noModel.code, 2);
  assert.match(noModel.stderr, /--model/);
  const both = await runTollgate(['whatif', '-c', policy]);
  assert.equal(both.code, 2);
  assert.match(both.stderr, /exactly one of --dataset or --ledger/);
  const missingRouter = path.join(dir, 'p2.yaml');
  writeFileSync(missingRouter, `providers:\n  - {name: s, type: sim}\nmodels:\n  - {name: m, deployments: [{provider: s}]}\n  - name: auto\n    route:\n      learned: {model_file: ${path.join(dir, 'nope.json')}, candidates: {a: m, b: m}}\n`);
  const w = await runTollgate(['whatif', '-c', missingRouter, '--dataset', writeDataset(dir, 'e.csv', 2), '--model', 'auto']);
  assert.equal(w.code, 2);
  assert.match(w.stderr, /p2\.yaml:\d+: error: .*learned router.*fix:/);
});

test('whatif --ledger re-prices real traffic under a policy; report --savings sums the same ledger', async () => {
  const tg = await startTollgate({
    overrides: [{ model: 'gpt-4.1', input: 2, output: 8 }, { model: 'gpt-4o-mini', input: 0.15, output: 0.6 }],
    providers: [simProvider('sim', { latency_ms: 1, tokens_per_second: 1000, response_tokens: 10 })],
    models: [
      { name: 'big', deployments: [{ provider: 'sim', model: 'gpt-4.1' }] },
      { name: 'small', deployments: [{ provider: 'sim', model: 'gpt-4o-mini' }] },
      { name: 'auto', route: { baseline: 'big', rules: [{ name: 'vip', when: { tags_any: ['vip'] }, to: 'big' }], default: 'small' } },
    ],
  });
  try {
    const ask = (model, tags) => post(tg.base, '/v1/chat/completions',
      { model, messages: [{ role: 'user', content: 'hello there' }] }, tags ? { 'x-tollgate-tags': tags } : {});
    for (let i = 0; i < 3; i++) assert.equal((await ask('big')).status, 200);
    assert.equal((await ask('auto')).status, 200);
    assert.equal((await ask('auto', 'vip')).status, 200);
    await tg.waitForRows(5);
  } finally {
    await tg.stop();
  }
  // The policy: send "big" to the small model. Same tokens, re-priced.
  const policy = path.join(tg.dir, 'policy.yaml');
  writeFileSync(policy, `pricing:
  overrides:
    - {model: gpt-4.1, input: 2, output: 8}
    - {model: gpt-4o-mini, input: 0.15, output: 0.6}
providers:
  - {name: sim, type: sim}
models:
  - {name: small, deployments: [{provider: sim, model: gpt-4o-mini}]}
  - {name: big, route: {default: small}}
`);
  const w = await runTollgate(['whatif', '-c', policy, '--ledger', tg.dbPath]);
  assert.equal(w.code, 0, w.stderr);
  const total = w.stdout.split('\n').find((l) => l.startsWith('TOTAL'));
  assert.ok(total, w.stdout);
  const [, , before, after] = total.trim().split(/\s+/);
  assert.ok(Number(after) < Number(before), total);
  assert.match(w.stdout, /big -> gpt-4o-mini/);

  const rep = await runTollgate(['report', '--savings', '--by', 'lever', '--db', tg.dbPath, '--format', 'json']);
  assert.equal(rep.code, 0, rep.stderr);
  const j = JSON.parse(rep.stdout);
  assert.equal(j.totals.requests, 5);
  // Only the routed "auto" request that went to the small model saved money, against "big".
  assert.ok(j.totals.by_lever.routing > 0, rep.stdout);
  assert.ok(Math.abs(j.totals.saved_usd - j.totals.by_lever.routing) < 1e-12, rep.stdout);
  assert.ok(j.totals.baseline_usd > j.totals.cost_usd);

  const missing = await runTollgate(['whatif', '-c', policy, '--ledger', path.join(tg.dir, 'none.db')]);
  assert.notEqual(missing.code, 0);  // an error, not a crash
  assert.equal(missing.signal ?? null, null);
});
