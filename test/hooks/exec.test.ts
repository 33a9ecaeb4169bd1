import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { buildPayload, type Delivery } from '../../src/hooks/delivery.js';
import { OUTPUT_LIMIT, runExec } from '../../src/hooks/exec.js';
import { HANG, RECORD_EVENT, event, execAction, killPidFile, parseRecords, processAlive, readText, tempDir, waitUntil } from './helpers.js';
import type { BallastEvent } from '../../src/core/events.js';

function delivery(ev: BallastEvent, sequence = 1, attempt = 1): Delivery {
  return { hook: 'test-hook', sequence, attempt, event: ev, body: JSON.stringify(buildPayload('test-hook', sequence, ev)) };
}

describe('exec hooks', () => {
  test('the program gets the event as JSON on stdin and as BALLAST_* variables', async (t) => {
    const tmp = tempDir();
    t.after(() => tmp.cleanup());
    const out = tmp.file('record');
    const ev = event('server-down', { pool: 'web', server: 'web-2', reason: 'timeout', detail: { status: 503 } });
    const outcome = await runExec(execAction(RECORD_EVENT, [out]), delivery(ev, 7, 2), new AbortController().signal);
    assert.equal(outcome.ok, true, JSON.stringify(outcome));

    const [run, ...more] = parseRecords(readText(out));
    assert.equal(more.length, 0);
    assert.ok(run);
    const time = new Date(ev.time).toISOString();
    assert.deepEqual(run.payload, {
      hook: 'test-hook',
      sequence: 7,
      type: 'server-down',
      time,
      pool: 'web',
      server: 'web-2',
      reason: 'timeout',
      detail: { status: 503 },
    });
    assert.equal(run.env['BALLAST_EVENT'], 'server-down');
    assert.equal(run.env['BALLAST_EVENT_TIME'], time);
    assert.equal(run.env['BALLAST_POOL'], 'web');
    assert.equal(run.env['BALLAST_SERVER'], 'web-2');
    assert.equal(run.env['BALLAST_SITE'], '');
    assert.equal(run.env['BALLAST_REASON'], 'timeout');
    assert.equal(run.env['BALLAST_HOOK'], 'test-hook');
    assert.equal(run.env['BALLAST_SEQUENCE'], '7');
    assert.equal(run.env['BALLAST_ATTEMPT'], '2');
    assert.deepEqual(JSON.parse(run.env['BALLAST_EVENT_JSON'] ?? 'null'), run.payload);
  });

  test('the program inherits Ballast’s environment and runs in the configured directory', async (t) => {
    const tmp = tempDir();
    t.after(() => tmp.cleanup());
    process.env['HOOK_TEST_INHERITED'] = 'inherited-value';
    t.after(() => delete process.env['HOOK_TEST_INHERITED']);
    const action = execAction('sh', ['-c', 'printf "%s %s" "$HOOK_TEST_INHERITED" "$(pwd)" > out.txt'], { cwd: tmp.dir });
    const outcome = await runExec(action, delivery(event('site-down', { site: 'eu' })), new AbortController().signal);
    assert.equal(outcome.ok, true, JSON.stringify(outcome));
    assert.equal(readFileSync(tmp.file('out.txt'), 'utf8'), `inherited-value ${tmp.dir}`);
  });

  test('a non-zero exit fails, retryably, with the output captured', async () => {
    const action = execAction('sh', ['-c', 'echo to-stdout; echo to-stderr >&2; exit 3']);
    const outcome = await runExec(action, delivery(event('pool-empty', { pool: 'web' })), new AbortController().signal);
    assert.equal(outcome.ok, false);
    assert.ok(!outcome.ok);
    assert.equal(outcome.retryable, true);
    assert.equal(outcome.error, 'exit 3');
    assert.deepEqual(outcome.output, { stdout: 'to-stdout', stderr: 'to-stderr' });
  });

  test('a program that does not read stdin still succeeds', async () => {
    const outcome = await runExec(execAction('true', []), delivery(event('dns-changed')), new AbortController().signal);
    assert.equal(outcome.ok, true, JSON.stringify(outcome));
  });

  test('a program that cannot start fails with the reason', async () => {
    const outcome = await runExec(execAction('/nonexistent/hook-program', []), delivery(event('site-up')), new AbortController().signal);
    assert.ok(!outcome.ok);
    assert.match(outcome.error, /cannot start \/nonexistent\/hook-program: .*ENOENT/);
  });

  test('output is bounded to the last bytes', async () => {
    const action = execAction(process.execPath, ['-e', `process.stdout.write('a'.repeat(100000) + 'THE-END')`]);
    const outcome = await runExec(action, delivery(event('server-up')), new AbortController().signal);
    assert.ok(outcome.ok);
    const stdout = outcome.output?.stdout ?? '';
    assert.ok(stdout.endsWith('THE-END'));
    assert.match(stdout, /^\[\d+ bytes omitted\] a+THE-END$/);
    assert.ok(stdout.length < OUTPUT_LIMIT + 40, `kept ${stdout.length} characters`);
  });

  test('the timeout kills a hanging program together with the processes it started', async (t) => {
    const tmp = tempDir();
    const pidFile = tmp.file('pid');
    t.after(() => {
      killPidFile(pidFile);
      tmp.cleanup();
    });
    const started = Date.now();
    const outcome = await runExec(execAction('sh', [HANG, pidFile], { timeout: 500 }), delivery(event('server-down')), new AbortController().signal);
    const elapsed = Date.now() - started;
    assert.ok(!outcome.ok);
    assert.equal(outcome.retryable, true);
    assert.equal(outcome.error, 'killed after the 500 ms timeout');
    assert.ok(elapsed >= 450 && elapsed < 20_000, `took ${elapsed} ms`);
    const pid = Number(readText(pidFile).trim());
    assert.ok(pid > 0, 'the program wrote the pid of its child');
    await waitUntil(() => !processAlive(pid), 'the sleeping grandchild to be killed', 5000);
  });

  test('aborting (shutdown) kills the program and says so', async (t) => {
    const tmp = tempDir();
    const pidFile = tmp.file('pid');
    t.after(() => {
      killPidFile(pidFile);
      tmp.cleanup();
    });
    const controller = new AbortController();
    const running = runExec(execAction('sh', [HANG, pidFile], { timeout: 60_000 }), delivery(event('server-down')), controller.signal);
    await waitUntil(() => readText(pidFile).trim() !== '', 'the program to start');
    controller.abort();
    const outcome = await running;
    assert.ok(!outcome.ok);
    assert.equal(outcome.retryable, false);
    assert.equal(outcome.error, 'killed at shutdown');
    const pid = Number(readText(pidFile).trim());
    await waitUntil(() => !processAlive(pid), 'the sleeping grandchild to be killed', 5000);
  });

  test('a program that leaves a background process holding its output still completes', async (t) => {
    const tmp = tempDir();
    const pidFile = tmp.file('pid');
    t.after(() => {
      killPidFile(pidFile);
      tmp.cleanup();
    });
    // The background sleep keeps stdout open; the program itself exits 0 at once.
    const action = execAction('sh', ['-c', `sleep 600 & echo $! > ${pidFile}; echo started`], { timeout: 30_000 });
    const started = Date.now();
    const outcome = await runExec(action, delivery(event('pool-degraded', { pool: 'web' })), new AbortController().signal);
    assert.equal(outcome.ok, true, JSON.stringify(outcome));
    assert.ok(Date.now() - started < 20_000);
    const pid = Number(readText(pidFile).trim());
    assert.ok(processAlive(pid), 'a normal exit leaves the background process alone');
  });
});
