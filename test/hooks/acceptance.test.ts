import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HookDispatcher } from '../../src/hooks/dispatcher.js';
import { startBallast, simpleConfig, type RunningBallast } from '../helpers/ballast.js';
import { startBackendProcess, type BackendProcess } from '../fixtures/backend-server.js';
import {
  HANG,
  RECORD_EVENT,
  execAction,
  hook,
  killPidFile,
  parseRecords,
  readText,
  recordingLogger,
  startReceiver,
  tempDir,
  waitUntil,
  webhookAction,
} from './helpers.js';

/** Sends `count` GETs one after another; each must answer within `limitMs` (far below the hooks' 60 s hang). */
async function traffic(lb: RunningBallast, count: number, limitMs: number): Promise<{ statuses: number[]; backends: string[] }> {
  const statuses: number[] = [];
  const backends: string[] = [];
  for (let index = 0; index < count; index++) {
    const response = await fetch(`${lb.url()}/work`, { signal: AbortSignal.timeout(limitMs) });
    await response.text();
    statuses.push(response.status);
    backends.push(response.headers.get('x-backend') ?? '');
  }
  return { statuses, backends };
}

test('a hook script receives server-down then server-up when a backend is killed and restarted; hanging hooks do not delay traffic', async (t) => {
  const tmp = tempDir();
  const backends: BackendProcess[] = [await startBackendProcess({ name: 'b1' }), await startBackendProcess({ name: 'b2' })];
  t.after(async () => {
    await Promise.all(backends.map((backend) => backend.stop()));
  });
  const b1 = backends[0] as BackendProcess;
  const lb = await startBallast(
    simpleConfig(backends.map((backend) => backend.address), {
      healthCheck: { type: 'http', path: '/healthz', interval: '100ms', timeout: '500ms', healthyThreshold: 1, unhealthyThreshold: 1 },
      timeouts: { connect: '500ms', response: '5s' },
    }),
  );
  t.after(() => lb.close());
  await waitUntil(() => lb.handle.status().pools[0]?.servers.every((server) => server.state === 'healthy') === true, 'both servers healthy');

  const hanging = await startReceiver(() => {
    // never answers
  });
  t.after(() => hanging.close());
  const record = tmp.file('record');
  const hangPid = tmp.file('hang-pid');
  const logger = recordingLogger();
  const dispatcher = new HookDispatcher(
    [
      hook('record', execAction(RECORD_EVENT, [record]), { on: ['server-down', 'server-up'], pools: ['app'] }),
      hook('stuck-script', execAction('sh', [HANG, hangPid], { timeout: 60_000 })),
      hook('stuck-webhook', webhookAction(hanging.url, { timeout: 60_000 })),
    ],
    { logger },
  );
  const unsubscribe = lb.handle.onEvent((event) => dispatcher.handle(event));
  t.after(async () => {
    unsubscribe();
    await dispatcher.close(0);
    killPidFile(hangPid);
    tmp.cleanup();
  });

  b1.signal('SIGKILL');
  await b1.exited();
  await waitUntil(() => parseRecords(readText(record)).length >= 1, 'the hook to run for server-down');

  // Both hanging hooks hold their first event while traffic flows.
  const during = await traffic(lb, 20, 5000);
  assert.deepEqual(during.statuses, Array(20).fill(200));
  assert.deepEqual([...new Set(during.backends)], ['b2']);
  const stuck = dispatcher.stats().filter((stats) => stats.name.startsWith('stuck-'));
  assert.deepEqual(stuck.map((stats) => [stats.name, stats.inFlight, stats.delivered]), [
    ['stuck-script', true, 0],
    ['stuck-webhook', true, 0],
  ]);

  const restarted = await startBackendProcess({ name: 'b1', port: b1.port });
  backends.push(restarted);
  await waitUntil(() => parseRecords(readText(record)).length >= 2, 'the hook to run for server-up');
  await waitUntil(() => lb.handle.status().pools[0]?.servers.every((server) => server.state === 'healthy') === true, 'b1 healthy again');

  const runs = parseRecords(readText(record));
  assert.deepEqual(
    runs.map((run) => [run.payload['sequence'], run.payload['type'], run.payload['pool'], run.payload['server']]),
    [
      [1, 'server-down', 'app', 'b1'],
      [2, 'server-up', 'app', 'b1'],
    ],
  );
  assert.deepEqual(runs.map((run) => run.env['BALLAST_EVENT']), ['server-down', 'server-up']);

  const after = await traffic(lb, 20, 5000);
  assert.deepEqual(after.statuses, Array(20).fill(200));
  assert.deepEqual([...new Set(after.backends)].sort(), ['b1', 'b2']);
  assert.equal(dispatcher.stats()[0]?.failed, 0);
});
