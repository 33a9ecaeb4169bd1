/**
 * `ballast drill --demo`: the complete drill, run as users run it (a child
 * process), checked against counts kept by the demo's own backends.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DrillReport } from '../../src/drill/report.js';
import { run } from '../helpers/process.js';

/** The drill's stand-alone entry as compiled for the tests (`ballast drill` runs the same code). */
const DRILL = 'build/src/drill/main.js';

function parseReport(stdout: string, stderr: string): DrillReport {
  try {
    return JSON.parse(stdout) as DrillReport;
  } catch {
    throw new Error(`the drill did not print JSON.\nstdout: ${stdout.slice(0, 2000)}\nstderr: ${stderr.slice(0, 2000)}`);
  }
}

test('--demo --json completes and its numbers agree with the counts the backends kept', async (t) => {
  const counts = mkdtempSync(join(tmpdir(), 'drill-counts-'));
  t.after(() => rmSync(counts, { recursive: true, force: true }));
  // A generous request timeout: on a starved machine requests get slow, and slow is not what this test is about.
  const result = await run(process.execPath, [DRILL, '--demo', '--json', '--demo-count-dir', counts, '--max-failed', '0', '--timeout', '30s'], { timeoutMs: 90_000 });
  const report = parseReport(result.stdout, result.stderr);
  assert.equal(result.code, 0, `exit ${result.code}\n${result.stderr}`);
  assert.equal(report.format, 'ballast-drill/1');
  assert.equal(report.passed, true);

  // 200 requests/s for 6 s, all answered before the report.
  assert.equal(report.requests.sent, 1200);
  assert.equal(report.requests.succeeded + report.requests.failed, report.requests.sent);
  assert.equal(report.requests.failed, 0, 'retries hide the killed backend from users');

  // The backends' independent count: one byte per request answered, written before the answer.
  // A SIGKILL between the write and the send can add one request that was retried elsewhere.
  const files = readdirSync(counts).sort();
  assert.deepEqual(files, ['app-1.count', 'app-2.count', 'app-3.count']);
  const perBackend = files.map((file) => statSync(join(counts, file)).size);
  const answered = perBackend.reduce((a, b) => a + b, 0);
  assert.ok(answered - report.requests.succeeded >= 0 && answered - report.requests.succeeded <= 1, `backends answered ${answered} (${perBackend.join(' + ')}), the drill saw ${report.requests.succeeded} successes`);
  for (const count of perBackend) assert.ok(count > 100, `every backend served traffic (${perBackend.join(', ')})`);

  const [fault] = report.faults;
  assert.ok(fault);
  assert.equal(fault.action, 'kill');
  assert.ok(fault.injectedAtMs !== null && Math.abs(fault.injectedAtMs - 2000) < 500, `killed at ${fault.injectedAtMs}`);
  assert.ok(fault.detection !== null, 'Ballast noticed the kill');
  assert.ok(['server-ejected', 'server-down'].includes(fault.detection.event.type), fault.detection.event.type);
  assert.equal(fault.detection.event.server, 'app-2');
  assert.ok(fault.detection.afterMs < 3000, `detected after ${fault.detection.afterMs} ms`);
  assert.deepEqual(fault.recovery, { afterMs: 0, lastFailedAtMs: null });
  assert.ok(fault.restoredAtMs !== null, 'app-2 was started again');
  assert.ok((report.retries.count ?? 0) >= 1, `Ballast retried the requests app-2 could not take (${report.retries.count})`);
  assert.equal(report.retries.source, 'access-log');
  assert.equal(report.eventSource, 'in-process');
  assert.ok(report.latency.before !== null && report.latency.during !== null && report.latency.after !== null);
  assert.equal(report.latency.overall.count, 1200);
  assert.deepEqual(report.thresholds, [{ name: 'max-failed', limit: 0, unit: 'requests', actual: 0, passed: true }]);
});

test('--max-failed 0 fails with retries off when a backend is killed, and passes with retries on', async () => {
  // A generous request timeout, so that a starved machine shows slow requests rather than failed ones.
  const [off, on] = await Promise.all([
    run(process.execPath, [DRILL, '--demo', '--no-retries', '--max-failed', '0', '--timeout', '30s'], { timeoutMs: 90_000 }),
    run(process.execPath, [DRILL, '--demo', '--max-failed', '0', '--timeout', '30s'], { timeoutMs: 90_000 }),
  ]);
  assert.equal(off.code, 1, `retries off: exit ${off.code}\n${off.stdout}\n${off.stderr}`);
  assert.match(off.stdout, /FAIL max-failed 0: actual [1-9]/);
  assert.match(off.stdout, /Result: FAILED/);
  assert.equal(on.code, 0, `retries on: exit ${on.code}\n${on.stdout}\n${on.stderr}`);
  assert.match(on.stdout, /ok {3}max-failed 0: actual 0/);
  assert.match(on.stdout, /Result: PASSED/);
});
