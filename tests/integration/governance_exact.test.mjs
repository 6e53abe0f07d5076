// Budget reservations count the exact input tokens (o200k_base) for text-only
// requests to OpenAI-encoded models, instead of the body's byte count: a
// request whose exact cost fits is admitted even though its byte bound would
// not fit, and one whose exact cost does not fit is refused.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startFakeOpenAI } from './lib/fake_openai.mjs';
import { startTollgate, stopAll, openaiProvider, post } from './lib/harness.mjs';

let fake;
let tg;
before(async () => {
  fake = await startFakeOpenAI();
  tg = await startTollgate({
    providers: [openaiProvider('fakeai', fake.baseUrl)],
    models: [{ name: 'gpt-4o-mini', deployments: [{ provider: 'fakeai', model: 'gpt-4o-mini' }] }],
    // $0.001 per input token, output free: the reservation is the input count in thousandths of a dollar.
    overrides: [{ model: 'gpt-4o-mini', input: 1000, output: 0 }],
    yaml: undefined,
  });
});
after(async () => { await stopAll(); await fake.close(); });

test('exact input tokens decide the reservation', async () => {
  // Budgets can be created at run time through the CLI; the server reloads them.
  const { runTollgate } = await import('./lib/harness.mjs');
  const r0 = await runTollgate(['budgets', 'set', '--db', tg.dbPath, '--name', 'tight', '--scope', 'global',
    '--window', 'lifetime', '--limit-usd', '0.03']);
  assert.equal(r0.code, 0, r0.stderr);
  await new Promise((r) => setTimeout(r, 1500));  // reload_interval_ms defaults to 250

  fake.reset().set({ usage: { prompt_tokens: 14, completion_tokens: 1 } });
  // "hello world, how are you?" is 7 o200k tokens, plus 3 per message, 1 for the
  // role and 3 priming the reply = 14 tokens = $0.014; the body is ~100 bytes ($0.10).
  const body = { model: 'gpt-4o-mini', max_tokens: 1, messages: [{ role: 'user', content: 'hello world, how are you?' }] };
  assert.ok(JSON.stringify(body).length * 0.001 > 0.03, 'the byte bound alone would be refused');
  const ok = await post(tg.base, '/v1/chat/completions', body);
  assert.equal(ok.status, 200, ok.text);
  const [row] = await tg.waitForRows(1);
  assert.ok(Math.abs(row.reserved_usd - 0.014) < 1e-9, `reserved ${row.reserved_usd}`);

  // 40 words cost more than what is left ($0.016): refused before reaching the upstream.
  const before = fake.requests.length;
  const long = { ...body, messages: [{ role: 'user', content: 'budget '.repeat(40) }] };
  const refused = await post(tg.base, '/v1/chat/completions', long);
  assert.equal(refused.status, 429, refused.text);
  assert.equal(refused.json.error.code, 'budget_exceeded');
  assert.equal(fake.requests.length, before);
});
