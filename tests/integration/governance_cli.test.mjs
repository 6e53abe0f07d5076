// Governance, part 1b: the governance CLI refuses bad input with exit 1 or 2
// and a clear message, and creates nothing. Its own file: it runs the binary
// about 30 times, which under the sanitizers takes most of the per-file time
// budget that run.sh gives each file.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { stopAll, tempDir } from './lib/harness.mjs';
import { cli } from './lib/governance_helpers.mjs';

after(async () => { await stopAll(); });

test('CLI: bad input exits non-zero with a clear message, no crash', async () => {
  const dir = tempDir('tollgate-gov-cli-');
  const db = `${dir}/state.db`;
  const cases = [
    [['keys', 'create', '--db', db, '--rpm', '-1'], /--rpm/],
    [['keys', 'create', '--db', db, '--tpm=-5'], /--tpm/],
    [['keys', 'create', '--db', db, '--budget-usd', '1', '--budget-window', 'hourly'], /--budget-window: hourly not in \{daily,weekly,monthly,lifetime\}/],
    [['keys', 'create', '--db', db, '--budget-usd', '1', '--soft-budget-usd', '2'], /soft_limit_usd must not exceed limit_usd/],
    [['keys', 'create', '--db', db, '--name', 'dup'], null], // ok, sets up the next case
    [['keys', 'create', '--db', db, '--name', 'dup'], /a key named 'dup' already exists/],
    [['keys', 'create', '--db', db, '--name', 'has,comma'], /without commas/],
    [['budgets', 'set', '--db', db, '--limit-usd', '1'], /--name is required/],
    [['budgets', 'set', '--db', db, '--name', 'u', '--scope', 'user', '--limit-usd', '1'], /a user budget needs a subject/],
    [['budgets', 'set', '--db', db, '--name', 'u', '--scope', 'galaxy', '--limit-usd', '1'], /--scope: galaxy not in/],
    [['budgets', 'set', '--db', db, '--name', 'u'], /needs limit_usd/],
    [['budgets', 'set', '--db', db, '--name', 'u', '--limit-usd', '-3'], /--limit-usd/],
    [['budgets', 'set', '--db', db, '--name', 'u', '--window', 'hourly', '--limit-usd', '1'], /--window: hourly not in/],
    [['budgets', 'delete', 'nosuchbudget', '--db', db], /no budget 'nosuchbudget'/],
    [['keys', 'revoke', 'nosuchkey', '--db', db], /no key 'nosuchkey'/],
    [['keys', 'rotate', 'nosuchkey', '--db', db], /no key 'nosuchkey'/],
    [['keys', 'show', 'nosuchkey', '--db', db], /no key 'nosuchkey'/],
    [['keys', 'revoke', '--db', db], /key is required/],
    [['keys', 'list', '--db', '/nonexistent/dir/x.db'], /cannot open \/nonexistent\/dir\/x\.db/],
    [['keys', 'create', '--db', '/nonexistent/dir/x.db'], /cannot open \/nonexistent\/dir\/x\.db/],
    [['budgets', 'list', '--db', '/nonexistent/dir/x.db'], /cannot open/],
    [['reconcile', '--db', '/nonexistent/dir/x.db'], /cannot open/],
    [['audit', '--db', db, '--limit', '0'], /--limit/],
    [['keys', 'list', '--config', '/nonexistent/cfg.yaml'], /nonexistent\/cfg\.yaml/],
    [['keys'], /subcommand/i],
  ];
  for (const [args, re] of cases) {
    const r = await cli(args);
    const what = `tollgate ${args.join(' ')} -> exit ${r.code} signal ${r.signal}\nstderr: ${r.stderr}`;
    assert.equal(r.signal, null, `killed by a signal: ${what}`);
    if (re === null) { assert.equal(r.code, 0, what); continue; }
    assert.ok(r.code === 1 || r.code === 2, `exit 1 or 2 expected: ${what}`);
    assert.match(r.stderr, re, what);
    assert.doesNotMatch(r.stderr, /terminate called|Aborted|Segmentation|what\(\)/, what);
  }
  // Nothing was created by the refused commands (one key from the setup case).
  const list = await cli(['keys', 'list', '--db', db, '--all', '--format', 'json']);
  assert.equal(list.code, 0, list.stderr);
  assert.equal(JSON.parse(list.stdout).length, 1);
  const budgets = await cli(['budgets', 'list', '--db', db, '--format', 'json']);
  assert.equal(JSON.parse(budgets.stdout).length, 0);
});
