// Test harness: runs the real tollgate binary against a temp config and a temp
// SQLite ledger, and offers small helpers for HTTP, SSE and the ledger.
//
// Every tollgate started here listens on 127.0.0.1:0 and lives in its own
// mkdtemp folder, so test files can run in parallel without sharing anything.
// The binary is $TOLLGATE_BIN, or <repo>/build/tollgate.

import { spawn, execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createHash } from 'node:crypto';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = path.resolve(HERE, '..', '..', '..');
export const TOLLGATE_BIN = process.env.TOLLGATE_BIN
  ? path.resolve(process.env.TOLLGATE_BIN)
  : path.join(REPO_ROOT, 'build', 'tollgate');

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Fails fast with a clear message when the binary has not been built. */
export function requireBinary() {
  if (!existsSync(TOLLGATE_BIN)) {
    throw new Error(`tollgate binary not found at ${TOLLGATE_BIN} (build it, or set TOLLGATE_BIN)`);
  }
}

/** A fresh temp folder, removed when the test process exits. */
export function tempDir(prefix = 'tollgate-it-') {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  tempDirs.add(dir);
  return dir;
}
const tempDirs = new Set();

// ---------------------------------------------------------------------------
// YAML writer: just enough YAML for tollgate configs (maps, lists, scalars),
// block style only, so it does not depend on the flow-style corners of
// whichever YAML parser tollgate uses.

const PLAIN_SAFE = /^[A-Za-z0-9_./@$][A-Za-z0-9_./:@${}+-]*$/;
const LOOKS_TYPED = /^(true|false|yes|no|on|off|null|~|[-+]?(\d[\d_]*)?\.?\d+([eE][-+]?\d+)?)$/i;

function yamlScalar(v) {
  if (v === null) return 'null';
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  const s = String(v);
  if (PLAIN_SAFE.test(s) && !LOOKS_TYPED.test(s)) return s;
  return JSON.stringify(s); // a JSON string is a valid YAML double-quoted scalar
}

const isMap = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
const isEmpty = (v) => v === undefined || (Array.isArray(v) && v.length === 0) || (isMap(v) && Object.keys(v).length === 0);

/** Serialises a plain object to block-style YAML (undefined/empty values are left out). */
export function toYaml(value, indent = 0) {
  const pad = ' '.repeat(indent);
  const lines = [];
  if (Array.isArray(value)) {
    for (const item of value) {
      if (isMap(item) || Array.isArray(item)) {
        const inner = toYaml(item, indent + 2).split('\n');
        lines.push(`${pad}- ${inner[0].slice(indent + 2)}`, ...inner.slice(1));
      } else {
        lines.push(`${pad}- ${yamlScalar(item)}`);
      }
    }
  } else {
    for (const [k, v] of Object.entries(value)) {
      if (isEmpty(v)) continue;
      if (isMap(v) || Array.isArray(v)) lines.push(`${pad}${k}:`, toYaml(v, indent + 2));
      else lines.push(`${pad}${k}: ${yamlScalar(v)}`);
    }
  }
  return lines.join('\n');
}

// ---------------------------------------------------------------------------
// Config building blocks

/** Provider settings that keep failing tests fast; tests override as needed. */
export function openaiProvider(name, baseUrl, extra = {}) {
  return {
    name,
    type: 'openai-compatible',
    api_key: 'sk-upstream-test',
    base_url: baseUrl,
    connect_timeout_ms: 1000,
    first_byte_timeout_ms: 5000,
    idle_timeout_ms: 5000,
    max_retries: 0,
    retry_backoff_ms: 10,
    ...extra,
  };
}

/** A `sim` provider tuned to answer quickly. */
export function simProvider(name = 'sim', extra = {}) {
  return { name, type: 'sim', latency_ms: 5, tokens_per_second: 5000, response_tokens: 16, ...extra };
}

/** USD per 1M tokens used by the test configs (round numbers: costs are checkable by hand). */
export const PRICES = {
  'gpt-4o-mini': { input: 1.0, output: 2.0 },
  'backup-model': { input: 3.0, output: 6.0 },
  'text-embedding-3-small': { input: 0.5, output: 0.0 },
  'gpt-3.5-turbo-instruct': { input: 1.5, output: 2.0 },
  'sim-small': { input: 0.15, output: 0.6 },
};

/** Expected cost from disjoint token classes; reasoning is billed at the output price. */
export function expectedCost(model, { input = 0, output = 0, reasoning = 0 }) {
  const p = PRICES[model];
  return (input * p.input + (output + reasoning) * p.output) / 1e6;
}

/** Asserts two USD amounts are equal up to float noise / decimal printing. */
export function closeTo(actual, expected, what = 'cost') {
  const a = Number(actual);
  if (!Number.isFinite(a) || Math.abs(a - expected) > Math.max(1e-12, Math.abs(expected) * 1e-6)) {
    throw new Error(`${what}: expected ${expected}, got ${actual}`);
  }
}

/** key_<12 hex of sha256(token)>, the ledger fingerprint of a client API key. */
export function keyFingerprint(token) {
  return 'key_' + createHash('sha256').update(token).digest('hex').slice(0, 12);
}

// ---------------------------------------------------------------------------
// Process management

const running = new Set();
process.on('exit', () => {
  for (const p of running) { try { p.kill('SIGKILL'); } catch { /* already gone */ } }
  for (const d of tempDirs) { try { rmSync(d, { recursive: true, force: true }); } catch { /* ignore */ } }
});

/**
 * Writes a config and starts `tollgate serve` on 127.0.0.1:0.
 *
 * @param {object} opts
 * @param {object[]} [opts.providers]  provider entries (see openaiProvider/simProvider)
 * @param {object[]} [opts.models]     model entries ({name, deployments:[{provider, model}]})
 * @param {object}   [opts.server]     extra `server:` settings
 * @param {object}   [opts.ledger]     extra `ledger:` settings
 * @param {object[]} [opts.overrides]  pricing overrides (default: PRICES)
 * @param {string}   [opts.yaml]       raw YAML instead of the above (use DB_PATH placeholder for the ledger path)
 * @param {object}   [opts.env]        extra environment variables
 * @param {number}   [opts.startTimeoutMs]
 */
export async function startTollgate(opts = {}) {
  requireBinary();
  const dir = tempDir();
  const dbPath = path.join(dir, 'ledger.db');
  const configPath = path.join(dir, 'tollgate.yaml');
  const yaml = opts.yaml !== undefined
    ? opts.yaml.replaceAll('DB_PATH', dbPath)
    : toYaml({
      server: { max_body_bytes: 1048576, threads: 2, ...opts.server },
      ledger: { path: dbPath, batch_size: 256, flush_interval_ms: 20, ...opts.ledger },
      pricing: {
        overrides: opts.overrides ?? Object.entries(PRICES).map(([model, p]) => ({ model, ...p })),
      },
      providers: opts.providers ?? [simProvider()],
      models: opts.models ?? [{ name: 'sim-small', deployments: [{ provider: 'sim', model: 'sim-small' }] }],
    }) + '\n';
  writeFileSync(configPath, yaml);

  const proc = spawn(TOLLGATE_BIN, ['serve', '--config', configPath, '--listen', '127.0.0.1:0'], {
    cwd: dir,
    env: { ...process.env, ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(proc);
  let stdout = '';
  let stderr = '';
  proc.stdout.setEncoding('utf8');
  proc.stderr.setEncoding('utf8');
  const exited = new Promise((resolve) => proc.on('exit', (code, signal) => { running.delete(proc); resolve({ code, signal }); }));

  const base = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`tollgate did not print its listening line within ${opts.startTimeoutMs ?? 10000} ms\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, opts.startTimeoutMs ?? 10000);
    proc.stdout.on('data', (d) => {
      stdout += d;
      const m = stdout.match(/tollgate listening on (http:\/\/\S+)/);
      if (m) { clearTimeout(timer); resolve(m[1].replace(/\/$/, '')); }
    });
    proc.stderr.on('data', (d) => { stderr += d; });
    exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`tollgate exited early (code ${code}, signal ${signal})\nconfig:\n${yaml}\nstderr: ${stderr}`));
    });
  });

  const tg = {
    base, dir, dbPath, configPath, proc, yaml,
    get stdout() { return stdout; },
    get stderr() { return stderr; },
    exited,
    /** SIGTERM, then wait for exit; returns {code, signal}. SIGKILLs after timeoutMs. */
    async stop(timeoutMs = 10000) {
      if (proc.exitCode !== null || proc.signalCode !== null) return exited;
      proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
      const r = await exited;
      clearTimeout(t);
      return r;
    },
    rows: (where) => ledgerRows(dbPath, where),
    waitForRows: (n, o) => waitForRows(dbPath, n, o),
  };
  return tg;
}

/** Stops every tollgate still running (for `after()` hooks). */
export async function stopAll() {
  await Promise.all([...running].map((p) => {
    p.kill('SIGTERM');
    return new Promise((r) => {
      const t = setTimeout(() => { p.kill('SIGKILL'); }, 5000);
      p.on('exit', () => { clearTimeout(t); r(); });
      if (p.exitCode !== null || p.signalCode !== null) { clearTimeout(t); r(); }
    });
  }));
}

/** Runs tollgate with arbitrary args to completion: {code, signal, stdout, stderr}. */
export function runTollgate(args, { timeoutMs = 10000, env = {}, cwd } = {}) {
  requireBinary();
  return new Promise((resolve) => {
    execFile(TOLLGATE_BIN, args, { timeout: timeoutMs, env: { ...process.env, ...env }, cwd, maxBuffer: 16 << 20 },
      (err, stdout, stderr) => {
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, signal: err?.signal ?? null, stdout, stderr });
      });
  });
}

// ---------------------------------------------------------------------------
// Ledger access (Debian's sqlite3 CLI reads the WAL database while tollgate runs)

/** All rows of the `requests` table, oldest first; optional SQL WHERE clause. */
export function ledgerRows(dbPath, where = '') {
  if (!existsSync(dbPath)) return Promise.resolve([]);
  const sql = `select * from requests ${where ? 'where ' + where : ''} order by ts_start_ms, id`;
  return new Promise((resolve, reject) => {
    execFile('sqlite3', ['-json', '-cmd', '.timeout 2000', dbPath, sql], { maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      if (err) {
        // The table may not exist yet right after start-up.
        if (/no such table/.test(stderr)) return resolve([]);
        return reject(new Error(`sqlite3 failed: ${stderr || err.message}`));
      }
      resolve(stdout.trim() ? JSON.parse(stdout) : []);
    });
  });
}

/** Polls the ledger until at least `n` rows (matching `where`) exist. */
export async function waitForRows(dbPath, n, { where = '', timeoutMs = 5000 } = {}) {
  const deadline = Date.now() + timeoutMs;
  let rows = [];
  for (;;) {
    rows = await ledgerRows(dbPath, where);
    if (rows.length >= n) return rows;
    if (Date.now() > deadline) {
      throw new Error(`expected >= ${n} ledger rows${where ? ` where ${where}` : ''} within ${timeoutMs} ms, found ${rows.length}: ${JSON.stringify(rows, null, 1)}`);
    }
    await sleep(50);
  }
}

// ---------------------------------------------------------------------------
// HTTP helpers

/** POSTs JSON (or a raw string body) and reads the whole answer. */
export async function post(base, urlPath, body, headers = {}) {
  const res = await fetch(base + urlPath, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer sk-client-test', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* not JSON (SSE or garbage) */ }
  return { status: res.status, headers: res.headers, text, json };
}

export async function get(base, urlPath, headers = {}) {
  const res = await fetch(base + urlPath, { headers });
  const text = await res.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  return { status: res.status, headers: res.headers, text, json };
}

/**
 * Parses an SSE body into events: [{data, comments}], one per blank-line
 * separated block. `data` is the joined data lines (string) or null.
 */
export function parseSSE(text) {
  const events = [];
  for (const block of text.replace(/\r\n/g, '\n').split('\n\n')) {
    if (!block.trim()) continue;
    const data = [];
    const comments = [];
    for (const line of block.split('\n')) {
      if (line.startsWith(':')) comments.push(line.slice(1).trim());
      else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
    }
    events.push({ data: data.length ? data.join('\n') : null, comments });
  }
  return events;
}

/** The `: tollgate cost_usd=X request_id=Y` trailer of a stream, parsed. */
export function parseCostTrailer(text) {
  const m = text.match(/^: ?tollgate cost_usd=(\S+) request_id=(\S+)\s*$/m);
  return m ? { cost: m[1], requestId: m[2] } : null;
}

/** Content assembled from chat.completion.chunk data events. */
export function chatText(events) {
  return events
    .filter((e) => e.data && e.data !== '[DONE]')
    .map((e) => JSON.parse(e.data))
    .map((c) => c.choices?.[0]?.delta?.content ?? c.choices?.[0]?.text ?? '')
    .join('');
}

/** A TCP port on 127.0.0.1 that nothing listens on (connection refused). */
export async function closedPort() {
  const srv = net.createServer();
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address();
  await new Promise((r) => srv.close(r));
  return port;
}

/** Standard chat request body. */
export function chatBody(model = 'gpt-4o-mini', extra = {}) {
  return { model, messages: [{ role: 'user', content: 'Say hello.' }], ...extra };
}
