// Every dashboard view answers in under 1 s from a million-row ledger
// (big_ledger.mjs seeds it, serves it and times each view; the results are
// written to artifacts/dashboard-1m.md). Set TOLLGATE_DASHBOARD_BIG_ROWS to
// use another size.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';

import { artifactPath } from './lib/harness.mjs';
import { LIMIT_MS, markdown, measure, overLimit } from './big_ledger.mjs';

test(`each view loads in under ${LIMIT_MS} ms from a 1M-row ledger`, { timeout: 300000 }, async () => {
  const rows = Number(process.env.TOLLGATE_DASHBOARD_BIG_ROWS ?? 1_000_000);
  const m = await measure({ rows, runs: 3 });
  writeFileSync(artifactPath('dashboard-1m.md'), markdown(m) + '\n');
  writeFileSync(artifactPath('dashboard-1m.json'), JSON.stringify(m, null, 2) + '\n');
  console.log(markdown(m));
  assert.equal(m.rows, rows);
  assert.deepEqual(overLimit(m).map((r) => `${r.view}: ${r.max_ms.toFixed(0)} ms`), []);
});
