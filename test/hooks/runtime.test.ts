import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startBallast, simpleConfig } from '../helpers/ballast.js';
import { startBackendProcess, type BackendProcess } from '../fixtures/backend-server.js';
import { HANG, RECORD_EVENT, killPidFile, parseRecords, readText, startReceiver, tempDir, waitUntil } from './helpers.js';

test('hooks from the config: server-down then server-up reach the script; a hanging hook does not delay traffic; reload updates hooks', async (t) => {
  const tmp = tempDir();
  const backends: BackendProcess[] = [await startBackendProcess({ name: 'b1' }), await startBackendProcess({ name: 'b2' })];
  t.after(async () => {
    await Promise.all(backends.map((backend) => backend.stop()));
  });
  const b1 = backends[0] as BackendProcess;
  const record = tmp.file('record');
  const hangPid = tmp.file('hang-pid');
  const receiver = await startReceiver();
  t.after(() => receiver.close());
  const base = simpleConfig(backends.map((backend) => backend.address), {
    healthCheck: { type: 'http', path: '/healthz', interval: '100ms', timeout: '500ms', healthyThreshold: 1, unhealthyThreshold: 1 },
  });
  const hooks = [
    { name: 'record', on: ['server-down', 'server-up'], pools: ['app'], exec: { command: RECORD_EVENT, args: [record] } },
    { name: 'stuck', exec: { command: 'sh', args: [HANG, hangPid], timeout: '60s' } },
  ];
  const lb = await startBallast({ ...base, hooks });
  t.after(async () => {
    await lb.close();
    killPidFile(hangPid);
    tmp.cleanup();
  });
  await waitUntil(() => lb.handle.status().pools[0]?.servers.every((server) => server.state === 'healthy') === true, 'healthy');
  // The first verdicts (unknown → healthy) are events too.
  await waitUntil(() => parseRecords(readText(record)).length >= 2, 'the first server-up of each server');
  const before = 2;

  b1.signal('SIGKILL');
  await b1.exited();
  await waitUntil(() => parseRecords(readText(record)).length >= before + 1, 'server-down');
  for (let index = 0; index < 10; index++) {
    const response = await fetch(`${lb.url()}/`, { signal: AbortSignal.timeout(5000) });
    assert.equal(response.status, 200);
    await response.text();
  }
  backends.push(await startBackendProcess({ name: 'b1', port: b1.port }));
  await waitUntil(() => parseRecords(readText(record)).length >= before + 2, 'server-up');
  const runs = parseRecords(readText(record)).slice(before);
  assert.deepEqual(runs.map((run) => [run.payload['type'], run.payload['server']]), [['server-down', 'b1'], ['server-up', 'b1']]);

  await lb.handle.reload({ ...base, hooks: [...hooks, { name: 'pager', on: ['config-reloaded'], webhook: { url: receiver.url } }] });
  await waitUntil(() => receiver.requests.length === 1, 'the new hook to get config-reloaded');
  assert.equal(JSON.parse(receiver.requests[0]?.body ?? '{}').type, 'config-reloaded');
});
