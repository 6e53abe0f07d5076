// Time to first token: sequential streaming chat requests, time from sending
// the request to the first `data:` line of the response. Prints one JSON line.
// Node built-ins only. One keep-alive connection, like a real client.
// usage: node ttft.js URL MODEL N [WARMUP=5] [EXPECT_COST=0|1]
'use strict';
const http = require('http');

const [url, model, nArg, warmArg, expectCostArg] = process.argv.slice(2);
const n = Number(nArg || 50);
const warmup = Number(warmArg || 5);
const expectCost = expectCostArg === '1';
const body = JSON.stringify({
  model, stream: true, max_tokens: 16,
  messages: [{ role: 'user', content: 'Say hello in five words.' }],
});
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

function once() {
  return new Promise((resolve) => {
    const t0 = process.hrtime.bigint();
    let ttft = null;
    let buf = '';
    const req = http.request(url, {
      method: 'POST', agent,
      headers: {
        'content-type': 'application/json', 'content-length': Buffer.byteLength(body),
        authorization: 'Bearer sk-bench-client-key',
      },
    }, (res) => {
      res.setEncoding('utf8');
      res.on('data', (d) => {
        buf += d;
        if (ttft === null && buf.includes('data:')) ttft = Number(process.hrtime.bigint() - t0) / 1e6;
      });
      res.on('end', () => {
        let err = null;
        if (res.statusCode !== 200) err = 'http_' + res.statusCode;
        else if (!buf.includes('data: [DONE]')) err = 'no_done';
        else if (expectCost && !/: tollgate cost_usd=[0-9.]+ request_id=req_/.test(buf)) err = 'no_cost_comment';
        resolve({ ttft, err });
      });
    });
    req.on('error', (e) => resolve({ ttft: null, err: 'req_' + (e.code || e.message) }));
    req.end(body);
  });
}

(async () => {
  const times = [];
  const errors = {};
  for (let i = 0; i < warmup + n; i++) {
    const r = await once();
    if (r.err) errors[r.err] = (errors[r.err] || 0) + 1;
    else if (i >= warmup) times.push(r.ttft);
  }
  times.sort((a, b) => a - b);
  const q = (p) => (times.length ? times[Math.min(times.length - 1, Math.floor(p * times.length))] : null);
  const median = times.length ? (times.length % 2 ? times[(times.length - 1) / 2]
    : (times[times.length / 2 - 1] + times[times.length / 2]) / 2) : null;
  const out = { n, warmup, ok: times.length, median_ms: median, p90_ms: q(0.9), min_ms: times[0] ?? null,
    max_ms: times[times.length - 1] ?? null, errors };
  process.stdout.write(JSON.stringify(out) + '\n');
  process.exit(times.length === n ? 0 : 1);
})();
