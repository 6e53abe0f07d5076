// Opens N concurrent streaming chat requests to tollgate (against a slow SSE
// upstream), samples tollgate's VmRSS while they are open, waits for all to
// finish and checks every stream ended with [DONE] and a tollgate cost comment.
// Prints one JSON line. Node built-ins only.
// usage: node streams.js URL MODEL N PID [TIMEOUT_S=60]
'use strict';
const http = require('http');
const fs = require('fs');

const [url, model, nArg, pidArg, timeoutArg] = process.argv.slice(2);
const n = Number(nArg);
const pid = Number(pidArg);
const timeoutS = Number(timeoutArg || 60);
const body = JSON.stringify({
  model, stream: true, max_tokens: 32,
  messages: [{ role: 'user', content: 'Stream me something slowly.' }],
});

function rssKb() {
  try {
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch (e) {
    return 0;
  }
}

const t0 = Date.now();
const startRss = rssKb();
let peakRss = startRss;
let rssAllOpen = null;
let firstData = 0;      // streams that received their first data: event
let finished = 0;
let ok = 0;
let concurrent = 0;     // streams with headers received and not yet ended
let maxConcurrent = 0;
let allOpenMs = null;
const errors = {};
function fail(kind) { errors[kind] = (errors[kind] || 0) + 1; }

const sampler = setInterval(() => { peakRss = Math.max(peakRss, rssKb()); }, 50);
const agent = new http.Agent({ keepAlive: false, maxSockets: Infinity });

function finish() {
  clearInterval(sampler);
  peakRss = Math.max(peakRss, rssKb());
  const out = {
    n, ok, finished, max_concurrent: maxConcurrent, all_open_ms: allOpenMs,
    start_rss_kb: startRss, rss_all_open_kb: rssAllOpen, peak_rss_kb: peakRss,
    end_rss_kb: rssKb(), elapsed_ms: Date.now() - t0, errors,
  };
  process.stdout.write(JSON.stringify(out) + '\n');
  process.exit(ok === n ? 0 : 1);
}

function done() {
  finished++;
  if (finished === n) setTimeout(finish, 200);
}

setTimeout(() => { fail('timeout'); finish(); }, timeoutS * 1000).unref();

for (let i = 0; i < n; i++) {
  const req = http.request(url, {
    method: 'POST', agent,
    headers: {
      'content-type': 'application/json', 'content-length': Buffer.byteLength(body),
      authorization: 'Bearer sk-bench-client-key', 'x-tollgate-project': 'bench-streams',
    },
  }, (res) => {
    concurrent++;
    maxConcurrent = Math.max(maxConcurrent, concurrent);
    res.setEncoding('utf8');
    let buf = '';
    let gotFirst = false;
    res.on('data', (d) => {
      buf += d;
      if (!gotFirst && buf.includes('data:')) {
        gotFirst = true;
        if (++firstData === n) {
          allOpenMs = Date.now() - t0;
          rssAllOpen = rssKb();
          peakRss = Math.max(peakRss, rssAllOpen);
        }
      }
    });
    res.on('end', () => {
      concurrent--;
      if (res.statusCode !== 200) fail('http_' + res.statusCode);
      else if (!buf.includes('data: [DONE]')) fail('no_done');
      else if (!/: tollgate cost_usd=[0-9.]+ request_id=req_/.test(buf)) fail('no_cost_comment');
      else ok++;
      done();
    });
    res.on('error', (e) => { concurrent--; fail('res_' + (e.code || e.message)); done(); });
  });
  req.on('error', (e) => { fail('req_' + (e.code || e.message)); done(); });
  req.end(body);
}
