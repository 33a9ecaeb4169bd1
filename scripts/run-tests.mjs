#!/usr/bin/env node
// Runs every compiled *.test.js under build/test with Node's test runner.
// Usage: node scripts/run-tests.mjs [substring-filter ...]
//
// Tests that measure the memory of a Ballast process run afterwards, alone:
// two test files at once on a two-core machine delay the garbage collector's
// concurrent marking enough to move a process's peak RSS by tens of MB, which
// would measure the machine rather than Ballast.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

const ISOLATED = ['e2e/proxy-streaming.test.js'];

function findTests(dir) {
  const found = [];
  for (const entry of readdirSync(dir)) {
    const full = join(dir, entry);
    if (statSync(full).isDirectory()) found.push(...findTests(full));
    else if (entry.endsWith('.test.js')) found.push(full);
  }
  return found;
}

const filters = process.argv.slice(2);
const files = findTests('build/test')
  .filter((file) => filters.length === 0 || filters.some((f) => file.includes(f)))
  .sort();
if (files.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}
const isolated = files.filter((file) => ISOLATED.some((name) => file.endsWith(name)));
const shared = files.filter((file) => !isolated.includes(file));

function run(list, concurrency) {
  if (list.length === 0) return 0;
  const result = spawnSync(
    process.execPath,
    ['--enable-source-maps', '--test', `--test-concurrency=${concurrency}`, '--test-timeout=180000', ...list],
    { stdio: 'inherit' },
  );
  return result.status ?? 1;
}

const sharedStatus = run(shared, process.env.BALLAST_TEST_CONCURRENCY ?? '2');
const isolatedStatus = run(isolated, '1');
process.exit(sharedStatus !== 0 ? sharedStatus : isolatedStatus);
