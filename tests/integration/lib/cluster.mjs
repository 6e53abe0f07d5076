// Real servers for the multi-replica tests (issue 13): PostgreSQL, Redis and
// nginx started on loopback in temp folders, and N tollgate replicas sharing
// one PostgreSQL database (and, when given, one Redis) behind nginx.
//
// Nothing listens on a fixed port. Each server has stop() / start() / kill()
// so a test can take it away mid-run and bring it back on the same port, and
// close() for `after()`. Whatever a test leaves running is also stopped when
// the test process exits or is killed (SIGTERM/SIGINT), so a failing test does
// not leave a postmaster behind.
//
// PostgreSQL runs as the `postgres` OS user when the tests run as root (initdb
// refuses root), like tests/unit/pg_test_server.cc. nginx runs with
// `master_process off` (one process, so SIGKILL at exit takes it all).

import { spawn, execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, chownSync, existsSync, readdirSync, writeFileSync, readFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import net from 'node:net';
import { closedPort, startTollgate, toYaml, openaiProvider, sleep, get } from './harness.mjs';
import { MASTER_KEY, GOV_MODEL, GOV_PRICE } from './governance_helpers.mjs';

// ---------------------------------------------------------------------------
// Processes and folders this module owns, cleaned up at exit whatever happens.

const cleanups = new Set();
function atExit(fn) { cleanups.add(fn); return () => cleanups.delete(fn); }
function runCleanups() {
  for (const fn of [...cleanups].reverse()) { try { fn(); } catch { /* best effort */ } }
  cleanups.clear();
}
process.on('exit', runCleanups);
for (const sig of ['SIGTERM', 'SIGINT']) {
  process.once(sig, () => { runCleanups(); process.exit(128 + (sig === 'SIGINT' ? 2 : 15)); });
}

function ownDir(prefix) {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  return dir;
}

/** Runs a program to completion; rejects with its output on a non-zero exit. */
function run(file, args, { timeoutMs = 60000, input } = {}) {
  return new Promise((resolve, reject) => {
    const child = execFile(file, args, { timeout: timeoutMs, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${file} ${args.join(' ')} failed: ${err.message}\n${stderr}${stdout}`));
      else resolve(stdout);
    });
    child.stdin.end(input ?? '');
  });
}

const isRoot = () => process.getuid?.() === 0;

/** Resolves when 127.0.0.1:port accepts a TCP connection; throws after timeoutMs. */
async function waitForPort(port, timeoutMs, what) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => { s.destroy(); resolve(true); });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`${what} did not accept connections on 127.0.0.1:${port} within ${timeoutMs} ms`);
    await sleep(25);
  }
}

/**
 * A child process that can be killed and started again with the same
 * arguments. `ready(proc)` resolves once it serves.
 */
function restartable(what, file, args, { cwd, ready }) {
  let proc = null;
  let log = '';
  const state = {
    get pid() { return proc?.pid; },
    get log() { return log; },
    get running() { return proc !== null && proc.exitCode === null && proc.signalCode === null; },
    async start() {
      if (state.running) return;
      const p = spawn(file, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
      proc = p;
      const drop = atExit(() => { try { p.kill('SIGKILL'); } catch { /* gone */ } });
      p.exited = new Promise((resolve) => p.once('exit', () => { drop(); resolve(); }));
      for (const s of [p.stdout, p.stderr]) { s.setEncoding('utf8'); s.on('data', (d) => { log += d; }); }
      const early = p.exited.then(() => { throw new Error(`${what} exited early:\n${log}`); });
      await Promise.race([ready(p), early]);
      early.catch(() => {});
    },
    /** SIGKILL: gone at once, nothing flushed. */
    async kill() {
      if (!state.running) return;
      proc.kill('SIGKILL');
      await proc.exited;
    },
    /** SIGTERM, and SIGKILL after 5 s. */
    async stop() {
      if (!state.running) return;
      proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), 5000);
      await proc.exited;
      clearTimeout(t);
    },
  };
  return state;
}

// ---------------------------------------------------------------------------
// Which servers are installed

/** The newest /usr/lib/postgresql/<major>/bin holding pg_ctl, or null. */
export function postgresBinDir() {
  let best = null;
  let bestMajor = -1;
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return null;
  for (const name of readdirSync(root)) {
    const major = parseInt(name, 10);
    const bin = path.join(root, name, 'bin');
    if (major > bestMajor && existsSync(path.join(bin, 'pg_ctl'))) { best = bin; bestMajor = major; }
  }
  return best;
}

function onPath(cmd) {
  const dirs = (process.env.PATH ?? '').split(':').concat(['/usr/sbin', '/sbin']);
  return dirs.some((d) => d && existsSync(path.join(d, cmd)));
}
const nginxBin = () => ['/usr/sbin/nginx', '/usr/bin/nginx'].find(existsSync) ?? 'nginx';

/** What is missing to run the cluster tests (empty when all is there). */
export function missingServers() {
  const missing = [];
  if (!postgresBinDir()) missing.push('PostgreSQL (/usr/lib/postgresql/*/bin/pg_ctl; apt-get install postgresql)');
  if (!onPath('psql')) missing.push('psql (apt-get install postgresql-client)');
  if (!onPath('redis-server')) missing.push('redis-server (apt-get install redis-server)');
  if (!onPath('nginx')) missing.push('nginx (apt-get install nginx-light)');
  return missing;
}

// ---------------------------------------------------------------------------
// PostgreSQL

/**
 * initdb + pg_ctl start on a free loopback port (trust auth, user postgres,
 * fsync off). Returns
 * {port, url(db), createDatabase(name), query(url, sql), json(url, sql), stop(), start(), kill(), close(), log()}.
 */
export async function startPostgres() {
  const bin = postgresBinDir();
  if (!bin) throw new Error('PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/pg_ctl): run scripts/install-deps.sh');
  const dir = ownDir('tollgate-pg-');
  let as = [];
  if (isRoot()) {
    const uid = parseInt(execFileSync('id', ['-u', 'postgres']).toString(), 10);
    const gid = parseInt(execFileSync('id', ['-g', 'postgres']).toString(), 10);
    chownSync(dir, uid, gid);
    as = ['runuser', '-u', 'postgres', '--'];
  }
  const pgRun = (tool, args, opts) => (as.length
    ? run(as[0], [...as.slice(1), path.join(bin, tool), ...args], opts)
    : run(path.join(bin, tool), args, opts));
  const data = path.join(dir, 'data');
  const logFile = path.join(dir, 'server.log');
  await pgRun('initdb', ['-D', data, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--locale=C', '--no-sync']);

  let port = 0;
  let up = false;
  const pgCtl = (...args) => pgRun('pg_ctl', ['-D', data, ...args]);
  const startServer = () => pgCtl('-l', logFile, '-w', '-t', '60', '-o',
    // fsync off: only the OS crashing loses data then, and these tests crash
    // the server, not the OS. synchronous_commit stays on: with it off, an
    // immediate shutdown loses commits already acknowledged (the WAL buffers).
    `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off ` +
    '-c max_connections=200', 'start');
  const immediateStopSync = () => {
    const cmd = [...as, path.join(bin, 'pg_ctl'), '-D', data, '-m', 'immediate', '-w', 'stop'];
    try { execFileSync(cmd[0], cmd.slice(1), { stdio: 'ignore', timeout: 30000 }); } catch { /* not running */ }
    // A postmaster still starting (interrupted mid `pg_ctl start`) is not
    // stopped by pg_ctl; its pid file names it.
    try { process.kill(parseInt(readFileSync(path.join(data, 'postmaster.pid'), 'utf8'), 10), 'SIGKILL'); } catch { /* gone */ }
  };
  const drop = atExit(() => { immediateStopSync(); rmSync(dir, { recursive: true, force: true }); });

  for (let attempt = 0; ; ++attempt) {
    port = await closedPort();
    try { await startServer(); break; } catch (e) {
      if (attempt === 2) throw new Error(`${e.message}\n${readLog()}`);
    }
  }
  up = true;
  function readLog() { try { return readFileSync(logFile, 'utf8'); } catch { return ''; } }

  const url = (db) => `postgres://postgres@127.0.0.1:${port}/${db}`;
  /** SQL (on psql's stdin: it may be long) against `dbUrl`: stdout (unaligned, tuples only). */
  const query = (dbUrl, sql) => run('psql', ['-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-d', dbUrl, '-f', '-'], { input: sql });
  const pg = {
    port,
    dir,
    url,
    query,
    /** The rows of SELECT `sql` as objects. */
    async json(dbUrl, sql) {
      const out = await query(dbUrl, `SELECT coalesce(json_agg(t), '[]') FROM (${sql}) t`);
      return JSON.parse(out.trim() || '[]');
    },
    async createDatabase(name) {
      await query(url('postgres'), `CREATE DATABASE ${name}`);
      return url(name);
    },
    get up() { return up; },
    log: readLog,
    /** Fast shutdown (clients are disconnected, a clean checkpoint). */
    async stop() { if (up) { up = false; await pgCtl('-m', 'fast', '-w', 'stop'); } },
    /** Immediate shutdown: every process quits at once, as in a crash; crash recovery on the next start. */
    async kill() { if (up) { up = false; await pgCtl('-m', 'immediate', '-w', 'stop'); } },
    /** Starts it again on the same port. */
    async start() { if (!up) { await startServer(); up = true; } },
    async close() {
      up = false;
      immediateStopSync();
      rmSync(dir, { recursive: true, force: true });
      drop();
    },
  };
  return pg;
}

/**
 * A server `file` started as our child on a free loopback port in a fresh
 * folder (`args(port, dir)`; ready once the port accepts connections), tried
 * on three ports. Returns its restartable handle with port, dir and close().
 */
async function serveOnFreePort(what, file, args, setup = () => {}) {
  const dir = ownDir(`tollgate-${what}-`);
  const drop = atExit(() => rmSync(dir, { recursive: true, force: true }));
  const remove = () => { rmSync(dir, { recursive: true, force: true }); drop(); };
  for (let attempt = 0; ; ++attempt) {
    const port = await closedPort();
    setup(port, dir);
    const srv = restartable(what, file, args(port, dir), { cwd: dir, ready: () => waitForPort(port, 10000, what) });
    try { await srv.start(); } catch (e) {
      if (attempt === 2) { remove(); throw e; }
      continue;
    }
    return Object.assign(srv, { port, dir, async close() { await srv.kill(); remove(); } });
  }
}

// ---------------------------------------------------------------------------
// Redis

/** redis-server on a free loopback port, no persistence: {port, url, stop(), start(), kill(), close(), cli(...args)}. */
export async function startRedis() {
  const srv = await serveOnFreePort('redis', 'redis-server', (port, dir) => [
    '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir,
    '--daemonize', 'no', '--loglevel', 'warning']);
  return Object.assign(srv, {
    url: `redis://127.0.0.1:${srv.port}`,
    /** redis-cli against this server: its stdout. */
    cli: (...args) => run('redis-cli', ['-h', '127.0.0.1', '-p', String(srv.port), ...args]),
  });
}

// ---------------------------------------------------------------------------
// nginx

/** The nginx.conf of a round-robin load balancer over `upstreams` (host:port), listening on `port`. */
export function nginxConfig({ port, upstreams, dir, single = true }) {
  const t = (name) => path.join(dir, 'tmp', name);
  return `# tollgate replicas behind nginx (written by tests/integration/lib/cluster.mjs)
${single ? 'master_process off;' : 'worker_processes auto;'}
${isRoot() ? 'user root root;' : ''}
pid ${path.join(dir, 'nginx.pid')};
error_log ${path.join(dir, 'error.log')} warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${t('body')};
  proxy_temp_path ${t('proxy')};
  fastcgi_temp_path ${t('fastcgi')};
  uwsgi_temp_path ${t('uwsgi')};
  scgi_temp_path ${t('scgi')};
  client_max_body_size 10m;

  upstream tollgate {
${upstreams.map((u) => `    server ${u};`).join('\n')}
    keepalive 64;
  }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://tollgate;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_buffering off;
      proxy_request_buffering off;
      proxy_read_timeout 300s;
      # The default, said out loud: a replica that refuses the connection or
      # times out is skipped, but a POST it was sent is never replayed on
      # another (it may have been admitted and billed there).
      proxy_next_upstream error timeout;
      add_header x-upstream $upstream_addr always;
    }
  }
}
`;
}

/** nginx in front of `upstreams` ("127.0.0.1:PORT" each): {port, base, dir, stop(), start(), kill(), close()}. */
export async function startNginx(upstreams) {
  const srv = await serveOnFreePort('nginx', nginxBin(),
    (port, dir) => ['-p', dir, '-c', path.join(dir, 'nginx.conf'), '-e', path.join(dir, 'error.log'), '-g', 'daemon off;'],
    (port, dir) => {
      mkdirSync(path.join(dir, 'tmp'), { recursive: true });
      writeFileSync(path.join(dir, 'nginx.conf'), nginxConfig({ port, upstreams, dir }));
    });
  return Object.assign(srv, { base: `http://127.0.0.1:${srv.port}` });
}

// ---------------------------------------------------------------------------
// tollgate replicas

/**
 * The config every replica of a cluster shares: the ledger in PostgreSQL,
 * auth on with MASTER_KEY, GOV_MODEL (and other-model) priced at GOV_PRICE and
 * served by `fake`, and the `counters:` section when given.
 */
export function replicaConfig({ pgUrl, fake, counters, ledger, governance, threads = 1 }) {
  const models = [GOV_MODEL, 'other-model'];
  return {
    server: { max_body_bytes: 1048576, threads },
    ledger: { url: pgUrl, batch_size: 256, flush_interval_ms: 20, ...ledger },
    pricing: { overrides: models.map((model) => ({ model, ...GOV_PRICE })) },
    providers: [openaiProvider('fakeai', fake.baseUrl)],
    models: models.map((name) => ({ name, deployments: [{ provider: 'fakeai', model: name }] })),
    auth: { enabled: true, master_key: MASTER_KEY },
    governance,
    counters,
  };
}

/**
 * N tollgate replicas with the same config (see replicaConfig) behind nginx,
 * on a fresh database of `pg`. They start together, so the migrations race
 * (they run under an advisory lock). Returns
 * {replicas, lb, pgUrl, configPath, rows(where), close()}.
 *
 * @param {object} o
 * @param {object} o.pg        from startPostgres()
 * @param {string} o.db        database name to create
 * @param {object} o.fake      FakeOpenAI upstream
 * @param {number} [o.n]       replicas (default 3)
 * @param {object} [o.counters] the counters: section (url, policy, replicas)
 * @param {object} [o.ledger]  extra ledger: settings
 * @param {object} [o.governance] governance: settings
 */
export async function startCluster(o) {
  const pgUrl = await o.pg.createDatabase(o.db);
  const yaml = toYaml(replicaConfig({ ...o, pgUrl })) + '\n';
  const replicas = await Promise.all(Array.from({ length: o.n ?? 3 }, () => startTollgate({ yaml })));
  const lb = await startNginx(replicas.map((r) => new URL(r.base).host));
  return {
    replicas,
    lb,
    pgUrl,
    yaml,
    /** Any replica's config file (they are identical): for `tollgate reconcile --config`. */
    configPath: replicas[0].configPath,
    /** Ledger rows in PostgreSQL, optional WHERE clause. */
    rows: (where = '') => o.pg.json(pgUrl, `SELECT * FROM requests ${where ? `WHERE ${where}` : ''} ORDER BY seq`),
    async close() {
      await lb.close();
      await Promise.all(replicas.map((r) => r.stop()));
    },
  };
}

/** The value of metric `name` (summed over its label sets) on a replica, or null when it does not export it. */
export async function metric(base, name) {
  const r = await get(base, '/metrics');
  let found = false;
  let sum = 0;
  for (const line of r.text.split('\n')) {
    const m = line.match(/^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)/);
    if (m && m[1] === name) { found = true; sum += Number(m[3]); }
  }
  return found ? sum : null;
}
