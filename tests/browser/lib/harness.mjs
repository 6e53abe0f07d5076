// Harness of the dashboard's browser tests: temp ledgers, `tollgate serve` on
// 127.0.0.1:0, and Debian's headless Chromium driven by playwright-core.
//
// Every server and browser lives in its own mkdtemp folder (a new, empty
// Chromium profile each time) and is killed when the test process exits.
// Binaries: $TOLLGATE_BIN (default <repo>/build/tollgate) and $CHROMIUM_BIN
// (default /usr/bin/chromium).

import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = path.resolve(HERE, '..', '..', '..');
export const TOLLGATE_BIN = process.env.TOLLGATE_BIN
  ? path.resolve(process.env.TOLLGATE_BIN)
  : path.join(REPO_ROOT, 'build', 'tollgate');
export const CHROMIUM_BIN = process.env.CHROMIUM_BIN ?? '/usr/bin/chromium';
export const ARTIFACTS = path.join(REPO_ROOT, 'artifacts');

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const tempDirs = new Set();
const running = new Set();
process.on('exit', () => {
  for (const p of running) {
    try { p.kill('SIGKILL'); } catch { /* gone */ }
  }
  for (const d of tempDirs) {
    try { rmSync(d, { recursive: true, force: true }); } catch { /* ignore */ }
  }
});

export function tempDir(prefix = 'tollgate-browser-') {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  tempDirs.add(dir);
  return dir;
}

export function requireTools() {
  if (!existsSync(TOLLGATE_BIN)) throw new Error(`tollgate binary not found at ${TOLLGATE_BIN} (build it, or set TOLLGATE_BIN)`);
  if (!existsSync(CHROMIUM_BIN)) throw new Error(`chromium not found at ${CHROMIUM_BIN} (apt-get install chromium, or set CHROMIUM_BIN)`);
}

export function artifactPath(name) {
  mkdirSync(ARTIFACTS, { recursive: true });
  return path.join(ARTIFACTS, name);
}

/** USD per 1M tokens of the sim model that live requests use. */
export const SIM_PRICE = { input: 0.15, output: 0.6 };

/**
 * Starts `tollgate serve` on the ledger `dbPath` with a fast sim provider
 * serving the model `sim-small`. Resolves { base, stop }.
 */
export async function startServe({ dbPath, masterKey = '', authEnabled = false, extraYaml = '' }) {
  const dir = path.dirname(dbPath);
  const configPath = path.join(dir, `tollgate-${running.size}.yaml`);
  const yaml = [
    'server:',
    '  threads: 2',
    'ledger:',
    `  path: ${JSON.stringify(dbPath)}`,
    '  batch_size: 256',
    '  flush_interval_ms: 20',
    'auth:',
    `  enabled: ${authEnabled}`,
    `  master_key: ${JSON.stringify(masterKey)}`,
    'pricing:',
    '  overrides:',
    `    - model: sim-small`,
    `      input: ${SIM_PRICE.input}`,
    `      output: ${SIM_PRICE.output}`,
    'providers:',
    '  - name: sim',
    '    type: sim',
    '    latency_ms: 5',
    '    tokens_per_second: 5000',
    '    response_tokens: 16',
    'models:',
    '  - name: sim-small',
    '    deployments:',
    '      - provider: sim',
    '        model: sim-small',
    extraYaml,
  ].join('\n') + '\n';
  writeFileSync(configPath, yaml);
  const proc = spawn(TOLLGATE_BIN, ['serve', '--config', configPath, '--listen', '127.0.0.1:0'], {
    cwd: dir,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(proc);
  let stdout = '';
  let stderr = '';
  proc.stdout.setEncoding('utf8');
  proc.stderr.setEncoding('utf8');
  proc.stderr.on('data', (d) => { stderr += d; });
  const exited = new Promise((resolve) => proc.on('exit', (code, signal) => { running.delete(proc); resolve({ code, signal }); }));
  const base = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`tollgate did not start in 15 s\n${stderr}`)), 15000);
    proc.stdout.on('data', (d) => {
      stdout += d;
      const m = stdout.match(/tollgate listening on (http:\/\/\S+)/);
      if (m) { clearTimeout(timer); resolve(m[1].replace(/\/$/, '')); }
    });
    exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`tollgate exited early (code ${code}, signal ${signal})\n${stderr}`));
    });
  });
  return {
    base,
    stderr: () => stderr,
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill('SIGTERM');
      await Promise.race([exited, sleep(8000)]);
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    },
  };
}

/** One chat completion through the gateway's sim model. */
export async function chat(base, { project = 'live-demo', user = 'live-user', key = 'sk-live-demo' } = {}) {
  const res = await fetch(`${base}/v1/chat/completions`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      authorization: `Bearer ${key}`,
      'x-tollgate-project': project,
      'x-tollgate-user': user,
    },
    body: JSON.stringify({ model: 'sim-small', messages: [{ role: 'user', content: 'How much does this cost?' }], max_tokens: 32 }),
  });
  if (res.status !== 200) throw new Error(`chat: HTTP ${res.status}: ${await res.text()}`);
  return res.headers.get('x-tollgate-request-id');
}

/** GETs a dashboard API path with the master key; returns parsed JSON. */
export async function getJson(base, pathAndQuery, masterKey = '') {
  const res = await fetch(base + pathAndQuery, { headers: masterKey ? { authorization: `Bearer ${masterKey}` } : {} });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`${pathAndQuery}: HTTP ${res.status}: ${text}`);
  return JSON.parse(text);
}

/**
 * A fresh headless Chromium with an empty profile. `page.errors` collects
 * console errors and uncaught exceptions.
 */
export async function launch({ httpCredentials, viewport = { width: 1440, height: 900 } } = {}) {
  const profile = tempDir('tollgate-chromium-');
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM_BIN,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    viewport,
    acceptDownloads: true,
    httpCredentials,
    timezoneId: 'UTC',
    locale: 'en-US',
  });
  const page = context.pages()[0] ?? (await context.newPage());
  const errors = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('requestfailed', (r) => errors.push(`requestfailed: ${r.url()} ${r.failure()?.errorText}`));
  return { context, page, errors, close: () => context.close() };
}

/** Opens the dashboard for a range and waits until every panel has loaded. */
export async function openDashboard(page, base, { from, to } = {}) {
  const hash = from && to ? `#from=${from}&to=${to}` : '';
  const started = Date.now();
  await page.goto(`${base}/${hash}`, { waitUntil: 'load' });
  await page.waitForSelector('body[data-ready="true"]', { timeout: 20000 });
  return Date.now() - started;
}

/** What the page shows for a USD figure (the test's own copy of the rule). */
export function expectedUsd(v) {
  if (v !== 0 && Math.abs(v) < 1) return '$' + v.toFixed(4);
  return '$' + v.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 });
}
export const expectedInt = (v) => new Intl.NumberFormat('en-US').format(v);
