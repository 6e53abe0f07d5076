// Governance, part 1: virtual keys (auth), the admin API, the audit log and the
// governance CLI's handling of bad input (the latter in governance_cli.test.mjs).
//
// One tollgate (auth on, admin API on, reload_interval_ms 100) in front of the
// fake upstream serves most tests; keys are created both with the CLI (which
// writes the database directly, picked up by the server's reloader) and with
// the admin API (effective at once).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, existsSync } from 'node:fs';
import { startFakeOpenAI } from './lib/fake_openai.mjs';
import { stopAll, sleep } from './lib/harness.mjs';
import {
  MASTER_KEY, GOV_MODEL, startGov, cli, createKeyCli, createKeyAdmin, admin, chat, govBody, sql, waitFor,
  assertApiError,
} from './lib/governance_helpers.mjs';

let fake;
let tg;
// Every secret handed out in this file: none may ever be stored or logged.
const secrets = [];
const remember = (s) => { secrets.push(s); return s; };

before(async () => {
  fake = await startFakeOpenAI();
  fake.set({ usage: { prompt_tokens: 20, completion_tokens: 10 } });
  tg = await startGov({ fake });
});
after(async () => { await stopAll(); await fake.close(); });

/** Waits until `secret` is accepted (the server reloads CLI changes every 100 ms). */
async function waitUntilAccepted(secret, body = govBody()) {
  return waitFor(async () => {
    const r = await chat(tg.base, secret, body);
    return r.status === 200 ? r : null;
  }, 3000, 'the new key to be accepted');
}

// ---------------------------------------------------------------------------
// Authentication

test('auth: missing or unknown key -> 401 OpenAI-shaped invalid_api_key', async () => {
  const none = await chat(tg.base, null, govBody());
  const e1 = assertApiError(none, 401, 'invalid_api_key', 'no Authorization');
  assert.equal(e1.type, 'invalid_request_error');
  assert.match(e1.message, /Missing API key/);

  const bogus = await chat(tg.base, remember('tg-notAKeyThatExists0000000000000000000000'), govBody());
  const e2 = assertApiError(bogus, 401, 'invalid_api_key', 'unknown key');
  assert.match(e2.message, /Invalid API key/);

  const empty = await chat(tg.base, '', govBody(), { authorization: 'Bearer ' });
  assertApiError(empty, 401, 'invalid_api_key', 'empty bearer');

  // The master key is for /admin only, not a virtual key.
  assertApiError(await chat(tg.base, MASTER_KEY, govBody()), 401, 'invalid_api_key', 'master key on /v1');
  assert.equal(fake.apiRequests().length, 0, 'nothing unauthenticated reached the upstream');
});

test('auth: a CLI-created key works and its identity goes into the ledger row', async () => {
  const { key, secret } = await createKeyCli(tg.dbPath, [
    '--name', 'ledger-identity', '--project', 'proj-a', '--team', 'team-a', '--user', 'user-a', '--tag', 'from-key',
  ]);
  remember(secret);
  assert.match(key.id, /^key_[0-9a-f]+$/);
  assert.ok(secret.startsWith(key.secret_prefix), 'secret_prefix is the start of the secret');

  // Request headers try to claim another project/user: the key is authoritative.
  const r = await waitUntilAccepted(secret, govBody());
  const again = await chat(tg.base, secret, govBody(), { 'x-tollgate-project': 'spoofed', 'x-tollgate-user': 'mallory' });
  assert.equal(again.status, 200, again.text);
  const id = again.headers.get('x-tollgate-request-id');
  assert.ok(r.headers.get('x-tollgate-request-id'));

  const [row] = await tg.waitForRows(1, { where: `id = '${id}'` });
  assert.equal(row.key_id, key.id);
  assert.equal(row.api_key, key.id, 'api_key column holds the key id, not the secret');
  assert.equal(row.project, 'proj-a');
  assert.equal(row.team, 'team-a');
  assert.equal(row.user, 'user-a');
  assert.match(row.tags, /from-key/);
  assert.equal(row.status, 200);
  assert.ok(row.cost_usd > 0);

  // x-api-key (Anthropic-style clients) is accepted too.
  const viaHeader = await chat(tg.base, null, govBody(), { 'x-api-key': secret });
  assert.equal(viaHeader.status, 200, viaHeader.text);
});

test('auth: a key revoked with the CLI while the server runs stops working within the reload interval', async () => {
  const { key, secret } = await createKeyCli(tg.dbPath, ['--name', 'cli-revoke']);
  remember(secret);
  await waitUntilAccepted(secret);

  const rev = await cli(['keys', 'revoke', key.id, '--db', tg.dbPath]);
  assert.equal(rev.code, 0, rev.stderr);
  const t0 = Date.now();
  const denied = await waitFor(async () => {
    const r = await chat(tg.base, secret, govBody());
    return r.status === 401 ? r : null;
  }, 3000, 'the revoked key to be refused');
  // reload_interval_ms is 100: allow generous slack for a loaded CI box.
  assert.ok(Date.now() - t0 < 2000, `revocation took ${Date.now() - t0} ms to take effect`);
  assertApiError(denied, 401, 'invalid_api_key');

  // Revoking twice is a clear error, not a crash.
  const twice = await cli(['keys', 'revoke', key.id, '--db', tg.dbPath]);
  assert.equal(twice.code, 2);
  assert.match(twice.stderr, /already revoked/);
});

test('auth: admin API revoke (DELETE and POST /revoke) is immediate', async () => {
  const a = await createKeyAdmin(tg.base, { name: 'admin-revoke-a' });
  const b = await createKeyAdmin(tg.base, { name: 'admin-revoke-b' });
  remember(a.secret); remember(b.secret);
  // Admin changes reload at once: no waiting needed.
  assert.equal((await chat(tg.base, a.secret, govBody())).status, 200);
  assert.equal((await chat(tg.base, b.secret, govBody())).status, 200);

  const del = await admin(tg.base, 'DELETE', `/admin/keys/${a.key.id}`);
  assert.equal(del.status, 200, del.text);
  assert.equal(del.json.revoked, a.key.id);
  assertApiError(await chat(tg.base, a.secret, govBody()), 401, 'invalid_api_key', 'after DELETE');

  const post = await admin(tg.base, 'POST', `/admin/keys/${b.key.id}/revoke`);
  assert.equal(post.status, 200, post.text);
  assertApiError(await chat(tg.base, b.secret, govBody()), 401, 'invalid_api_key', 'after POST /revoke');

  const shown = await admin(tg.base, 'GET', `/admin/keys/${a.key.id}`);
  assert.equal(shown.status, 200);
  assert.ok(shown.json.revoked_at, 'revoked_at is set');
  const active = await admin(tg.base, 'GET', '/admin/keys');
  assert.ok(!active.json.data.some((k) => k.id === a.key.id), 'revoked keys are hidden from the default list');
  const all = await admin(tg.base, 'GET', '/admin/keys?all=1');
  assert.ok(all.json.data.some((k) => k.id === a.key.id), '?all=1 lists revoked keys');
  assert.ok(all.json.data.every((k) => !('secret' in k) && !('secret_hash' in k)), 'listings carry no secret material');

  // Revoking an already revoked key: 400, not 500.
  assertApiError(await admin(tg.base, 'DELETE', `/admin/keys/${a.key.id}`), 400, 'invalid_request', 'revoke twice');
});

test('auth: rotation (admin API and CLI): old secret 401, new secret works, same id', async () => {
  const k = await createKeyAdmin(tg.base, { name: 'rotate-me', project: 'rot' });
  remember(k.secret);
  assert.equal((await chat(tg.base, k.secret, govBody())).status, 200);

  const rot = await admin(tg.base, 'POST', `/admin/keys/${k.key.id}/rotate`);
  assert.equal(rot.status, 200, rot.text);
  const fresh = remember(rot.json.secret);
  assert.notEqual(fresh, k.secret);
  assertApiError(await chat(tg.base, k.secret, govBody()), 401, 'invalid_api_key', 'old secret after rotate');
  const ok = await chat(tg.base, fresh, govBody());
  assert.equal(ok.status, 200, ok.text);
  const [row] = await tg.waitForRows(1, { where: `id = '${ok.headers.get('x-tollgate-request-id')}'` });
  assert.equal(row.key_id, k.key.id, 'rotation keeps the key id');
  assert.equal(row.project, 'rot', 'and its attributes');

  // CLI rotation, picked up by the reloader.
  const r = await cli(['keys', 'rotate', k.key.id, '--db', tg.dbPath]);
  assert.equal(r.code, 0, r.stderr);
  const m = r.stdout.match(/secret: (\S+)/);
  assert.ok(m, r.stdout);
  const cliSecret = remember(m[1]);
  await waitUntilAccepted(cliSecret);
  assertApiError(await chat(tg.base, fresh, govBody()), 401, 'invalid_api_key', 'previous secret after CLI rotate');
});

test('auth: a key restricted to some models gets 403 for others', async () => {
  const k = await createKeyAdmin(tg.base, { name: 'only-gov', models: [GOV_MODEL] });
  remember(k.secret);
  assert.equal((await chat(tg.base, k.secret, govBody())).status, 200);
  const before = fake.apiRequests().length;
  const denied = await chat(tg.base, k.secret, govBody({}, 'other-model'));
  const e = assertApiError(denied, 403, 'model_not_allowed', 'disallowed model');
  assert.equal(e.type, 'permission_error');
  assert.match(e.message, /other-model/);
  assert.match(e.message, new RegExp(GOV_MODEL));
  assert.equal(fake.apiRequests().length, before, 'the refused request never reached the upstream');

  // Same through the CLI's --model.
  const c = await createKeyCli(tg.dbPath, ['--model', 'other-model']);
  remember(c.secret);
  await waitUntilAccepted(c.secret, govBody({}, 'other-model'));
  assertApiError(await chat(tg.base, c.secret, govBody()), 403, 'model_not_allowed', 'CLI --model');
});

test('auth: expiry — past dates refused at creation, a future expiry works, an expired key is 401', async () => {
  const past = await cli(['keys', 'create', '--db', tg.dbPath, '--expires', '2000-01-01']);
  assert.equal(past.code, 2, `exit ${past.code} ${past.stderr}`);
  assert.match(past.stderr, /expir\w* must be in the future/i);
  const garbage = await cli(['keys', 'create', '--db', tg.dbPath, '--expires', '31/12/2099']);
  assert.equal(garbage.code, 2);
  assert.match(garbage.stderr, /--expires must be a date YYYY-MM-DD/);

  const tomorrow = new Date(Date.now() + 86400000).toISOString().slice(0, 10);
  const t = await createKeyCli(tg.dbPath, ['--expires', tomorrow]);
  remember(t.secret);
  assert.ok(t.key.expires_at, 'expires_at is reported');
  await waitUntilAccepted(t.secret);

  // Admin API: expires_at in Unix seconds, ~1-2 s ahead, then wait it out.
  assertApiError(await admin(tg.base, 'POST', '/admin/keys', { expires_at: '2000-01-01' }), 400, 'invalid_request', 'past expiry');
  const expSec = Math.floor(Date.now() / 1000) + 2;
  const soon = await createKeyAdmin(tg.base, { name: 'expires-soon', expires_at: expSec });
  remember(soon.secret);
  if (Date.now() < expSec * 1000 - 100) {
    assert.equal((await chat(tg.base, soon.secret, govBody())).status, 200, 'works before expiry');
  }
  await sleep(Math.max(0, expSec * 1000 - Date.now()) + 100);
  const expired = await chat(tg.base, soon.secret, govBody());
  const e = assertApiError(expired, 401, 'invalid_api_key', 'expired key');
  assert.match(e.message, /expired/);
});

// ---------------------------------------------------------------------------
// Admin API

test('admin API: 404 when no master_key is configured; 401 with a wrong or missing master key', async () => {
  const noAdmin = await startGov({ fake, auth: { enabled: true } });
  for (const key of [null, MASTER_KEY, 'anything-at-all-123']) {
    const r = await admin(noAdmin.base, 'GET', '/admin/keys', undefined, key);
    assertApiError(r, 404, 'admin_disabled', `admin disabled, key ${key}`);
  }
  assertApiError(await admin(noAdmin.base, 'POST', '/admin/keys', {}), 404, 'admin_disabled');
  await noAdmin.stop();

  for (const [path, method] of [['/admin/keys', 'GET'], ['/admin/keys', 'POST'], ['/admin/budgets', 'GET'], ['/admin/audit', 'GET']]) {
    assertApiError(await admin(tg.base, method, path, method === 'POST' ? {} : undefined, null), 401, 'invalid_api_key', `${method} ${path} without key`);
    assertApiError(await admin(tg.base, method, path, method === 'POST' ? {} : undefined, 'mk-wrong-0123456789abcdef'), 401, 'invalid_api_key', `${method} ${path} wrong key`);
    // A virtual key is not a master key.
    assertApiError(await admin(tg.base, method, path, method === 'POST' ? {} : undefined, secrets[secrets.length - 1]), 401, 'invalid_api_key', `${method} ${path} virtual key`);
  }
});

test('admin API: bad input on every endpoint -> clear 4xx OpenAI-shaped errors, server keeps serving', async () => {
  const keysBefore = (await admin(tg.base, 'GET', '/admin/keys?all=1')).json.data.length;
  const budgetsBefore = (await admin(tg.base, 'GET', '/admin/budgets')).json.data.length;

  // [method, path, body, status, message regexp]
  const cases = [
    ['POST', '/admin/keys', '{"name": "x",', 400, /Invalid JSON/],
    ['POST', '/admin/keys', '', 400, /Invalid JSON/],
    ['POST', '/admin/keys', '[1,2]', 400, /JSON object/],
    ['POST', '/admin/keys', { name: 42 }, 400, /'name' must be a string/],
    ['POST', '/admin/keys', { rpm: '3' }, 400, /'rpm' must be a non-negative integer/],
    ['POST', '/admin/keys', { rpm: -1 }, 400, /'rpm' must be a non-negative integer/],
    ['POST', '/admin/keys', { tpm: 1.5 }, 400, /'tpm' must be a non-negative integer/],
    ['POST', '/admin/keys', { usd_per_minute: -0.5 }, 400, /'usd_per_minute' must be a non-negative number/],
    ['POST', '/admin/keys', { models: 'gov-model' }, 400, /'models' must be an array of strings/],
    ['POST', '/admin/keys', { tags: [1] }, 400, /'tags' must be an array of strings/],
    ['POST', '/admin/keys', { secret: 'tg-chosen-by-me' }, 400, /unknown field 'secret'/],
    ['POST', '/admin/keys', { expires_at: 'next tuesday' }, 400, /'expires_at' must be a date/],
    ['POST', '/admin/keys', { name: 'a,b' }, 400, /without commas/],
    ['POST', '/admin/keys', { budget: 5 }, 400, /'budget' must be an object/],
    ['POST', '/admin/keys', { budget: { limit_usd: 1, window: 'hourly' } }, 400, /'window' must be daily, weekly, monthly or lifetime/],
    ['POST', '/admin/keys', { budget: { limit_usd: -1 } }, 400, /'limit_usd' must be a non-negative number/],
    ['POST', '/admin/keys', { budget: { limit_usd: 1, soft_limit_usd: 2 } }, 400, /soft_limit_usd must not exceed limit_usd/],
    ['POST', '/admin/keys', { budget: {} }, 400, /needs limit_usd/],
    ['POST', '/admin/keys', { budget: { limit_usd: 1, scope: 'global' } }, 400, /unknown field 'scope'/],
    ['GET', '/admin/keys/key_doesnotexist', undefined, 404, /no key 'key_doesnotexist'/],
    ['DELETE', '/admin/keys/key_doesnotexist', undefined, 404, /no key/],
    ['POST', '/admin/keys/key_doesnotexist/revoke', undefined, 404, /no key/],
    ['POST', '/admin/keys/key_doesnotexist/rotate', undefined, 404, /no key/],
    ['POST', '/admin/budgets', 'not json', 400, /Invalid JSON/],
    ['PUT', '/admin/budgets', '"a string"', 400, /JSON object/],
    ['POST', '/admin/budgets', { scope: 'global', limit_usd: 1 }, 400, /budget name/],
    ['POST', '/admin/budgets', { name: 'b1', scope: 'planet', limit_usd: 1 }, 400, /scope must be global, key, user, project or team/],
    ['POST', '/admin/budgets', { name: 'b1', scope: 'global', window: 'hourly', limit_usd: 1 }, 400, /'window' must be/],
    ['POST', '/admin/budgets', { name: 'b1', scope: 'global', limit_usd: -5 }, 400, /'limit_usd' must be a non-negative number/],
    ['POST', '/admin/budgets', { name: 'b1', scope: 'global', limit_usd: '5' }, 400, /'limit_usd' must be a non-negative number/],
    ['POST', '/admin/budgets', { name: 'b1', scope: 'global', limit_usd: 1, soft_limit_usd: 2 }, 400, /soft_limit_usd must not exceed limit_usd/],
    ['POST', '/admin/budgets', { name: 'b1', scope: 'global' }, 400, /needs limit_usd/],
    ['POST', '/admin/budgets', { name: 'b1', scope: 'user', limit_usd: 1 }, 400, /needs a subject/],
    ['POST', '/admin/budgets', { name: 'b1', scope: 'global', subject: 'x', limit_usd: 1 }, 400, /takes no subject/],
    ['POST', '/admin/budgets', { name: 'b1', scope: 'global', limit_usd: 1, hard: true }, 400, /unknown field 'hard'/],
    ['DELETE', '/admin/budgets/no-such-budget', undefined, 404, /no budget 'no-such-budget'/],
    ['GET', '/admin/nothing-here', undefined, 404, /No admin route/],
    ['PATCH', '/admin/keys', undefined, 404, /No admin route/],
    ['POST', '/admin/audit', '{}', 404, /No admin route/],
  ];
  for (const [method, path, body, status, re] of cases) {
    const r = await admin(tg.base, method, path, body);
    const e = assertApiError(r, status, undefined, `${method} ${path} ${JSON.stringify(body)}`);
    assert.match(e.message, re, `${method} ${path} ${JSON.stringify(body)}: ${e.message}`);
  }

  // Nothing half-created by the refused requests.
  assert.equal((await admin(tg.base, 'GET', '/admin/keys?all=1')).json.data.length, keysBefore, 'no key created by a refused request');
  assert.equal((await admin(tg.base, 'GET', '/admin/budgets')).json.data.length, budgetsBefore, 'no budget created');

  // Still serving.
  assert.equal((await fetch(tg.base + '/healthz')).status, 200);
  const k = await createKeyAdmin(tg.base, { name: 'after-bad-input' });
  remember(k.secret);
  assert.equal((await chat(tg.base, k.secret, govBody())).status, 200);
  assert.equal(tg.proc.exitCode, null, 'server still running');
});

test('admin API: budgets CRUD and the audit log (API and CLI) record changes, never a secret', async () => {
  const put = await admin(tg.base, 'POST', '/admin/budgets', {
    name: 'audit-budget', scope: 'project', subject: 'proj-z', window: 'weekly', limit_usd: 3, soft_limit_usd: 2,
  });
  assert.equal(put.status, 200, put.text);
  assert.equal(put.json.name, 'audit-budget');
  assert.equal(put.json.window, 'weekly');
  // PUT with the same name updates in place (same id).
  const upd = await admin(tg.base, 'PUT', '/admin/budgets', {
    name: 'audit-budget', scope: 'project', subject: 'proj-z', window: 'monthly', limit_usd: 4,
  });
  assert.equal(upd.status, 200, upd.text);
  assert.equal(upd.json.id, put.json.id);
  const list = await admin(tg.base, 'GET', '/admin/budgets');
  const b = list.json.data.find((x) => x.name === 'audit-budget');
  assert.equal(b.limit_usd, 4);
  assert.equal(b.soft_limit_usd, null);
  assert.equal(b.window, 'monthly');
  assert.equal(b.spent_usd, 0);
  assert.ok(b.resets_at, 'resets_at present');
  const del = await admin(tg.base, 'DELETE', '/admin/budgets/audit-budget');
  assert.equal(del.status, 200, del.text);

  const k = await createKeyAdmin(tg.base, { name: 'audited' });
  remember(k.secret);
  const rot = await admin(tg.base, 'POST', `/admin/keys/${k.key.id}/rotate`);
  remember(rot.json.secret);
  await admin(tg.base, 'DELETE', `/admin/keys/${k.key.id}`);
  // Use a secret on the wire so it has every chance to leak into a log.
  await chat(tg.base, rot.json.secret, govBody());

  const audit = await admin(tg.base, 'GET', '/admin/audit');
  assert.equal(audit.status, 200, audit.text);
  const entries = audit.json.data;
  const has = (action, target, actor = 'admin-api') => entries.some((e) => e.action === action && e.target === target && e.actor === actor);
  assert.ok(has('key.create', k.key.id), 'key.create audited');
  assert.ok(has('key.rotate', k.key.id), 'key.rotate audited');
  assert.ok(has('key.revoke', k.key.id), 'key.revoke audited');
  assert.ok(has('budget.put', put.json.id), 'budget.put audited');
  assert.ok(entries.some((e) => e.action === 'budget.delete' && e.actor === 'admin-api'), 'budget.delete audited');
  assert.ok(entries.some((e) => e.actor === 'cli' && e.action === 'key.revoke'), 'CLI actions audited as actor cli');
  assert.ok(entries.every((e) => e.ts), 'entries are timestamped');

  const cliAudit = await cli(['audit', '--db', tg.dbPath, '--limit', '500']);
  assert.equal(cliAudit.code, 0, cliAudit.stderr);
  assert.match(cliAudit.stdout, /key\.rotate/);
  assert.match(cliAudit.stdout, new RegExp(k.key.id));

  // Flush, then look for every secret anywhere it could have been written.
  await tg.stop();
  assert.ok(secrets.length >= 15, `collected ${secrets.length} secrets`);
  const places = {
    'GET /admin/audit': audit.text,
    'tollgate audit': cliAudit.stdout + cliAudit.stderr,
    'server stderr': tg.stderr,
    'server stdout': tg.stdout,
  };
  for (const f of [tg.dbPath, tg.dbPath + '-wal', tg.dbPath + '-shm']) {
    if (existsSync(f)) places[f] = readFileSync(f).toString('latin1');
  }
  // The scan is not vacuous: what is stored in clear (key ids) is found this way.
  assert.ok(places[tg.dbPath].includes(k.key.id) || (places[tg.dbPath + '-wal'] ?? '').includes(k.key.id), 'key id readable in the DB files');
  for (const s of secrets) {
    for (const [where, text] of Object.entries(places)) {
      assert.ok(!text.includes(s), `secret ${s.slice(0, 7)}... found in ${where}`);
    }
  }
  const dump = await sql(tg.dbPath, 'select * from keys');
  assert.ok(dump.every((k2) => /^[0-9a-f]{64}$/.test(k2.secret_hash)), 'only SHA-256 hex stored');
});

// ---------------------------------------------------------------------------
// CLI bad input: non-zero exit, a clear message on stderr, never a crash

