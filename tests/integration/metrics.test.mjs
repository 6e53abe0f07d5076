// GET /metrics: Prometheus text with requests, tokens and cost by model and
// provider, latency/TTFT histograms and budget gauges; label values come only
// from the config, so unknown client input cannot grow the series.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTollgate, stopAll, simProvider, post, get, chatBody } from './lib/harness.mjs';

let tg;
before(async () => {
  tg = await startTollgate({
    providers: [simProvider('sim', { latency_ms: 1, tokens_per_second: 100000 })],
    models: [{ name: 'sim-small', deployments: [{ provider: 'sim', model: 'sim-small' }] }],
  });
});
after(stopAll);

function metric(text, name, labels) {
  const line = text.split('\n').find((l) => l.startsWith(name + '{') && labels.every((x) => l.includes(x)));
  return line === undefined ? undefined : Number(line.split(' ').pop());
}

test('requests, tokens, cost and latency are exported with bounded labels', async () => {
  for (let i = 0; i < 3; i++) assert.equal((await post(tg.base, '/v1/chat/completions', chatBody('sim-small'))).status, 200);
  const s = await post(tg.base, '/v1/chat/completions', chatBody('sim-small', { stream: true }));
  assert.equal(s.status, 200);
  // Unknown models (any string a client sends) land in one "other" series.
  for (const m of ['nope-1', 'nope-2', 'nope-3']) assert.equal((await post(tg.base, '/v1/chat/completions', chatBody(m))).status, 404);

  const r = await get(tg.base, '/metrics');
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type'), /text\/plain/);
  const t = r.text;
  assert.equal(metric(t, 'tollgate_requests_total', ['model="sim-small"', 'provider="sim"', 'outcome="ok"']), 4);
  assert.equal(metric(t, 'tollgate_requests_total', ['model="other"', 'outcome="client_error"']), 3);
  assert.ok(!t.includes('nope-1'), 'client-chosen model names never become label values');
  assert.ok(metric(t, 'tollgate_tokens_total', ['model="sim-small"', 'class="output"']) > 0);
  assert.ok(metric(t, 'tollgate_cost_usd_total', ['model="sim-small"']) > 0);
  assert.equal(metric(t, 'tollgate_request_duration_seconds_count', ['provider="sim"']), 4);
  assert.equal(metric(t, 'tollgate_time_to_first_token_seconds_count', ['provider="sim"']), 1);
  assert.match(t, /# TYPE tollgate_request_duration_seconds histogram/);
  assert.match(t, /tollgate_cache_hits_total\{match="exact"\} 0/);
});
