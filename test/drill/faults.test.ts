/**
 * Fault injection for real: launched processes that are stopped, killed and
 * restarted, commands that fail, and admin calls to a real admin API.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { FaultTimeline, httpAdmin, ManagedProcess, runCommand } from '../../src/drill/faults.js';
import { buildScenario, type ProcessSpec } from '../../src/drill/scenario.js';
import { eventually, freePort } from '../helpers/net.js';
import { startBackend } from '../helpers/http-backend.js';
import { ADMIN_TOKEN, startAdminBallast } from './harness.js';

/** The demo backend, as compiled for the tests. */
const BACKEND = 'build/src/drill/demo-backend.js';

function processSpec(name: string, command: string[], ready: Partial<ProcessSpec['ready']> = {}): ProcessSpec {
  return { name, command, env: {}, cwd: undefined, ready: { output: undefined, tcp: undefined, timeoutMs: 5000, ...ready } };
}

async function get(port: number, timeoutMs = 1000): Promise<string> {
  try {
    const response = await request(`http://127.0.0.1:${port}/`, { headersTimeout: timeoutMs, bodyTimeout: timeoutMs, reset: true });
    return `${response.statusCode} ${await response.body.text()}`;
  } catch (error) {
    return `error ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`;
  }
}

test('a launched process is stopped, continued, killed, started again and terminated', async (t) => {
  const port = await freePort();
  const managed = new ManagedProcess(processSpec('b', [process.execPath, BACKEND, '--name', 'b', '--port', String(port)], { output: 'listening', tcp: { host: '127.0.0.1', port } }));
  t.after(() => managed.terminate());
  await managed.start();
  assert.equal(managed.running, true);
  assert.equal(await get(port), '200 hello from b\n');

  managed.signal('SIGSTOP');
  assert.match(await get(port, 300), /^error UND_ERR_HEADERS_TIMEOUT/, 'a stopped process accepts but does not answer');
  managed.signal('SIGCONT');
  assert.equal(await get(port), '200 hello from b\n');

  managed.signal('SIGKILL');
  await managed.exited();
  assert.equal(managed.running, false);
  assert.match(await get(port), /^error ECONNREFUSED/);
  assert.throws(() => managed.signal('SIGKILL'), /not running/);

  await managed.start();
  assert.equal(await get(port), '200 hello from b\n');
  managed.signal('SIGSTOP');
  await managed.terminate(2000);
  assert.equal(managed.running, false, 'terminate continues a stopped process before SIGTERM');
});

test('start fails clearly: missing program, early exit, never ready', async () => {
  await assert.rejects(new ManagedProcess(processSpec('x', ['/nonexistent/program'])).start(), /cannot start x/);
  await assert.rejects(new ManagedProcess(processSpec('y', ['sh', '-c', 'echo bye; exit 1'], { output: 'never' })).start(), /y exited before it was ready; its output ends with:\nbye/);
  const slow = new ManagedProcess(processSpec('z', ['sleep', '30'], { output: 'never', timeoutMs: 300 }));
  await assert.rejects(slow.start(), /z was not ready within 300 ms/);
  assert.equal(slow.running, false, 'a process that never got ready is killed');
});

test('runCommand reports exit codes, output and timeouts', async () => {
  assert.deepEqual(await runCommand(['sh', '-c', 'echo out; echo err >&2; exit 4'], 5000), { code: 4, signal: null, output: 'out\nerr\n', timedOut: false });
  const slow = await runCommand(['sleep', '30'], 200);
  assert.equal(slow.timedOut, true);
  await assert.rejects(runCommand(['/nonexistent/program'], 1000), /cannot run/);
});

test('the timeline runs exec and admin faults and their restores at their times, and records failures', async (t) => {
  const backend = await startBackend('b1');
  t.after(() => backend.close());
  const ballast = await startAdminBallast({
    listeners: [{ name: 'web', protocol: 'http', listen: '127.0.0.1:0', routes: [{ pool: 'web' }] }],
    pools: [{ name: 'web', servers: [{ name: 'b1', address: backend.address }] }],
  });
  t.after(() => ballast.close());
  const dir = mkdtempSync(join(tmpdir(), 'drill-faults-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const marker = join(dir, 'restored');

  const scenario = buildScenario(
    {
      target: { url: 'http://127.0.0.1:1/' },
      admin: { url: ballast.adminUrl },
      load: { duration: '2s' },
      faults: [
        { at: '100ms', action: 'admin', call: 'drain', pool: 'web', server: 'b1', restore: { at: '400ms' } },
        { at: '200ms', action: 'exec', command: ['sh', '-c', 'echo boom >&2; exit 3'], restore: { at: '300ms', command: ['touch', marker] } },
        { at: '250ms', action: 'admin', call: 'disable', pool: 'web', server: 'nobody' },
      ],
    },
    'test',
  );
  const states: string[] = [];
  const unsubscribe = ballast.runtime.events.subscribe((event) => states.push(`${event.type} ${event.server ?? ''}`));
  t.after(unsubscribe);
  const timeline = new FaultTimeline(scenario.faults, { processes: new Map(), admin: httpAdmin(ballast.adminUrl, ADMIN_TOKEN), now: () => performance.now() });
  const t0 = performance.now();
  timeline.start(t0);
  await eventually(() => timeline.outcomes.every((o, i) => o.injectedAtMs !== undefined && (i === 2 || o.restoredAtMs !== undefined)), 'every step to begin');
  await timeline.finish();

  const [drain, exec, unknown] = timeline.outcomes;
  assert.ok(drain && exec && unknown);
  assert.ok((drain.injectedAtMs ?? 0) >= 90 && (drain.injectedAtMs ?? 0) < 5000, `drain at ${drain.injectedAtMs}`);
  assert.ok((drain.restoredAtMs ?? 0) >= 390);
  assert.deepEqual(drain.errors, []);
  assert.deepEqual(states.filter((s) => s.startsWith('server-')), ['server-draining b1', 'server-enabled b1']);
  assert.equal(ballast.runtime.status().pools[0]?.servers[0]?.state, 'healthy');

  assert.deepEqual(exec.errors, ['fault "sh -c echo boom >&2; exit 3": sh -c echo boom >&2; exit 3 exited with 3: boom']);
  assert.ok(existsSync(marker), 'the restore command ran although the fault command failed');
  assert.match(unknown.errors[0] ?? '', /admin disable web\/nobody answered 404: BALLAST_ERR_UNKNOWN_SERVER/);

  await assert.rejects(httpAdmin(ballast.adminUrl, 'wrong-token').act('web', 'b1', 'drain', undefined), /answered 403|answered 401/);
  await assert.rejects(httpAdmin(ballast.adminUrl, undefined).act('web', 'b1', 'drain', undefined), /answered 401/);
  await httpAdmin(ballast.adminUrl, ADMIN_TOKEN).act('web', 'b1', 'weight', 7);
  assert.equal(ballast.runtime.status().pools[0]?.servers[0]?.weight, 7);
});

test('a drill that ends early restores what it broke', async (t) => {
  const sleeper = new ManagedProcess(processSpec('sleeper', ['sleep', '30']));
  t.after(() => sleeper.terminate());
  await sleeper.start();
  const scenario = buildScenario(
    {
      target: { url: 'http://127.0.0.1:1/' },
      load: { duration: '60s' },
      processes: [{ name: 'sleeper', command: ['sleep', '30'] }],
      faults: [
        { at: '50ms', action: 'stop', process: 'sleeper', restore: { at: '50s' } },
        { at: '40s', action: 'kill', process: 'sleeper' },
      ],
    },
    'test',
  );
  const timeline = new FaultTimeline(scenario.faults, { processes: new Map([['sleeper', sleeper]]), admin: undefined, now: () => performance.now() });
  const state = (): string => readFileSync(`/proc/${sleeper.pid ?? 0}/stat`, 'utf8').split(') ')[1]?.[0] ?? '?';
  timeline.start(performance.now());
  await eventually(() => timeline.outcomes[0]?.injectedAtMs !== undefined, 'the stop');
  await eventually(() => state() === 'T', 'the process to be stopped');
  await timeline.finish();
  assert.ok(timeline.outcomes[0]?.restoredAtMs !== undefined, 'restored at once');
  assert.equal(timeline.outcomes[1]?.injectedAtMs, undefined, 'later faults are not injected');
  await eventually(() => state() !== 'T', 'the process to run again');
  assert.equal(sleeper.running, true);
});
