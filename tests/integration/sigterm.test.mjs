// 10. SIGTERM flush: rows still buffered in the ledger writer are written on
//     shutdown; none of 200 requests answered just before SIGTERM may be lost.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import http from 'node:http';
import { startTollgate, stopAll, simProvider, chatBody, post, ledgerRows, runTollgate } from './lib/harness.mjs';

after(() => stopAll());

const N = 200;
const CONCURRENCY = 16;

test(`${N} requests then SIGTERM: exit 0 and all ${N} rows in the ledger`, async () => {
  const tg = await startTollgate({
    providers: [simProvider('sim', { latency_ms: 0, tokens_per_second: 100000, response_tokens: 4 })],
    models: [{ name: 'sim-small', deployments: [{ provider: 'sim', model: 'sim-small' }] }],
    // Huge batch and interval: only the shutdown flush can write these rows.
    ledger: { batch_size: 100000, flush_interval_ms: 60000 },
  });

  let next = 0;
  const ids = [];
  async function worker() {
    while (next < N) {
      const i = next++;
      const r = await post(tg.base, '/v1/chat/completions', chatBody('sim-small', { stream: i % 2 === 1 }), {
        'x-tollgate-project': 'flush-test',
      });
      assert.equal(r.status, 200, r.text);
      ids.push(r.headers.get('x-tollgate-request-id'));
    }
  }
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  assert.equal(new Set(ids).size, N);

  const { code, signal } = await tg.stop(10000);
  assert.equal(signal, null, 'exited by itself, not killed');
  assert.equal(code, 0, `exit code; stderr: ${tg.stderr}`);

  const rows = await ledgerRows(tg.dbPath);
  assert.equal(rows.length, N, `rows in the ledger after SIGTERM`);
  assert.deepEqual(new Set(rows.map((r) => r.id)), new Set(ids));
  assert.ok(rows.every((r) => r.status === 200 && r.project === 'flush-test' && r.cost_usd > 0));
  assert.equal(rows.filter((r) => r.streamed === 1).length, N / 2);

  // The report CLI reads the same ledger.
  const rep = await runTollgate(['report', '--db', tg.dbPath, '--by', 'project', '--format', 'json']);
  assert.equal(rep.code, 0, rep.stderr);
  const json = JSON.parse(rep.stdout);
  assert.equal(json.totals.requests, N);
  const sum = rows.reduce((s, r) => s + r.cost_usd, 0);
  assert.ok(Math.abs(json.totals.cost_usd - sum) < 1e-9, `report total ${json.totals.cost_usd} vs ledger ${sum}`);
  const g = json.rows.find((r) => r.group === 'flush-test');
  assert.ok(g, `report row for project flush-test: ${rep.stdout}`);
  assert.equal(g.requests, N);
  assert.equal(g.errors, 0);
});

test('SIGINT also shuts down cleanly', async () => {
  const tg = await startTollgate({});
  const r = await post(tg.base, '/v1/chat/completions', chatBody('sim-small'));
  assert.equal(r.status, 200);
  tg.proc.kill('SIGINT');
  const { code } = await tg.exited;
  assert.equal(code, 0);
  const rows = await ledgerRows(tg.dbPath);
  assert.equal(rows.length, 1);
});

/** Opens a raw connection, does one keep-alive request, and leaves it idle. */
async function idleKeepAliveConnection(base) {
  const url = new URL(base);
  const sock = net.connect(Number(url.port), url.hostname);
  await new Promise((resolve, reject) => { sock.once('connect', resolve); sock.once('error', reject); });
  sock.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
  await new Promise((resolve) => sock.once('data', resolve));
  sock.on('error', () => {});
  return sock;
}

test('SIGTERM does not wait for idle keep-alive client connections', async () => {
  const tg = await startTollgate({});
  const sock = await idleKeepAliveConnection(tg.base);
  const t0 = Date.now();
  const { code } = await tg.stop(10000);
  const elapsed = Date.now() - t0;
  sock.destroy();
  assert.equal(code, 0);
  assert.ok(elapsed < 1500, `shutdown took ${elapsed} ms with one idle keep-alive connection open`);
});

test('SIGTERM during an in-flight stream: the stream is drained and metered', async () => {
  const tg = await startTollgate({
    // ~1 s stream: 20 tokens at 20 tokens/s.
    providers: [simProvider('sim', { latency_ms: 0, tokens_per_second: 20, response_tokens: 20 })],
  });
  const url = new URL(tg.base + '/v1/chat/completions');
  const done = new Promise((resolve) => {
    const req = http.request({ host: url.hostname, port: url.port, path: url.pathname, method: 'POST',
      headers: { 'content-type': 'application/json', connection: 'close' } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { text += d; });
      res.on('end', () => resolve({ status: res.statusCode, id: res.headers['x-tollgate-request-id'], text }));
      res.on('error', () => resolve({ status: res.statusCode, id: res.headers['x-tollgate-request-id'], text, broken: true }));
    });
    req.on('error', (e) => resolve({ error: e }));
    req.end(JSON.stringify(chatBody('sim-small', { stream: true })));
  });
  await new Promise((r) => setTimeout(r, 200)); // stream is under way
  const stopped = tg.stop(10000);
  const r = await done;
  const { code } = await stopped;
  assert.equal(code, 0);
  assert.ok(r.id, `stream got a response (${JSON.stringify(r.error?.message ?? '')})`);
  assert.match(r.text, /data: \[DONE\]/, 'in-flight stream finished despite SIGTERM');
  const rows = await ledgerRows(tg.dbPath);
  assert.equal(rows.length, 1);
  assert.equal(rows[0].id, r.id);
});
