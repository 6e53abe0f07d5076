// `tollgate tokens FILE|-` and `tollgate prices`: exact counts for OpenAI
// encodings, per-model pricing of the input, and clear errors on bad input.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { runTollgate, tempDir } from './lib/harness.mjs';

test('tokens counts a text file exactly for gpt-4o and prices it', async () => {
  const f = path.join(tempDir(), 'hello.txt');
  writeFileSync(f, 'hello world');
  const r = await runTollgate(['tokens', f, '--model', 'gpt-4o', '--format', 'json']);
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.equal(j.request, false);
  assert.equal(j.models[0].tokens, 2);  // o200k_base: [24912, 2375]
  assert.equal(j.models[0].count, 'exact');
  assert.ok(Math.abs(j.models[0].input_cost_usd - 2 * 2.5 / 1e6) < 1e-12);  // gpt-4o input $2.50 / 1M
});

test('tokens reads a chat request body with message framing', async () => {
  const f = path.join(tempDir(), 'req.json');
  writeFileSync(f, JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hello world, how are you?' }] }));
  const r = await runTollgate(['tokens', f, '--format', 'json']);
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.equal(j.request, true);
  assert.equal(j.models.length, 1);  // the body names its model
  assert.equal(j.models[0].tokens, 14);  // 7 text + 3 per message + 1 role + 3 reply priming
});

test('tokens and prices reject bad input clearly', async () => {
  const missing = await runTollgate(['tokens', '/nonexistent/file.txt']);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /cannot read/);
  const f = path.join(tempDir(), 'x.txt');
  writeFileSync(f, 'x');
  const unknown = await runTollgate(['tokens', f, '--model', 'no-such-model']);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /no price for model 'no-such-model'/);
  const neg = await runTollgate(['prices', 'gpt-4o', '--input', '-5']);
  assert.equal(neg.code, 2);
  assert.match(neg.stderr, /must be 0 or more/);
  const cost = await runTollgate(['prices', 'gpt-4o', '--input', '1000000', '--output', '1000000', '--json']);
  assert.equal(cost.code, 0, cost.stderr);
  assert.ok(Math.abs(JSON.parse(cost.stdout).cost_usd - 12.5) < 1e-9);  // $2.50 + $10.00
});
