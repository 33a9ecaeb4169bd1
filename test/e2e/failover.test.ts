/**
 * In-pool failover end to end: Ballast runs in this process, every backend is
 * its own OS process (test/fixtures/backend-server.ts) so it can really crash
 * (SIGKILL) or hang (SIGSTOP). Detection times are read from Ballast's events
 * and printed; assertions use generous bounds.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { BallastEvent } from '../../src/index.js';
import { simpleConfig, startWatchedBallast, type RunningBallast } from '../helpers/ballast.js';
import { eventually } from '../helpers/net.js';
import { startBackendProcess, startBackendProcesses, type BackendProcess } from '../fixtures/backend-server.js';
import { percentile, runLoad, type LoadRecord } from '../fixtures/load-client.js';

function states(lb: RunningBallast): Record<string, string> {
  const servers = lb.handle.status().pools[0]?.servers ?? [];
  return Object.fromEntries(servers.map((s) => [s.name, s.state]));
}

async function allHealthy(lb: RunningBallast): Promise<void> {
  await eventually(() => Object.values(states(lb)).every((state) => state === 'healthy'), 'every server healthy', 15_000);
}

/** The first event taking `server` out of rotation (ejection or active check down). */
function removal(events: readonly BallastEvent[], server: string): BallastEvent | undefined {
  return events.find((e) => e.server === server && (e.type === 'server-ejected' || e.type === 'server-down'));
}

function describeFailures(records: readonly LoadRecord[], since: number): string {
  return records
    .filter((r) => r.status !== 200)
    .slice(0, 10)
    .map((r) => `${r.status || r.error} at +${(r.sentAt - since).toFixed(0)} ms`)
    .join(', ');
}

async function get(url: string): Promise<{ status: number; backend: string | null; ms: number }> {
  const started = performance.now();
  const response = await fetch(url);
  await response.arrayBuffer();
  return { status: response.status, backend: response.headers.get('x-backend'), ms: performance.now() - started };
}

test('SIGKILL of one of three backends under load: no client sees an error', async (t) => {
  const backends = await startBackendProcesses(t, [{ name: 'b1' }, { name: 'b2' }, { name: 'b3' }]);
  const { lb, events } = await startWatchedBallast(
    t,
    simpleConfig(
      backends.map((b) => b.address),
      {
        healthCheck: { type: 'http', path: '/healthz', interval: '500ms', timeout: '500ms', healthyThreshold: 2, unhealthyThreshold: 2 },
        outlierDetection: { consecutiveFailures: 3, ejectionTime: '30s' },
        timeouts: { connect: '500ms', response: '2s' },
      },
    ),
  );
  await allHealthy(lb);

  const victim = backends[1] as BackendProcess;
  const load = runLoad({ url: `${lb.url()}/work`, concurrency: 50, durationMs: 6000 });
  await sleep(2000);
  const killedAt = Date.now();
  victim.signal('SIGKILL');
  const summary = await load;

  const removed = removal(events, 'b2');
  const failed = summary.records.filter((r) => r.status !== 200);
  console.log(
    `SIGKILL under load: ${summary.sent} requests by 50 clients in ${(summary.elapsedMs / 1000).toFixed(1)} s, ` +
      `${failed.length} failed, p99 ${percentile(summary.records, 99).toFixed(1)} ms; ` +
      `b2 removed by ${removed?.type ?? 'nothing'} (${removed?.reason ?? '-'}) ${removed === undefined ? '-' : removed.time - killedAt} ms after the kill`,
  );
  assert.equal(failed.length, 0, `no failed responses; got ${describeFailures(summary.records, killedAt)}`);
  assert.ok(summary.sent >= 300, `enough load was sent (${summary.sent})`);
  assert.ok(summary.records.some((r) => r.sentAt > killedAt + 2000), 'the load went on for seconds after the kill');
  assert.ok(removed !== undefined, 'the killed backend was taken out of rotation');
  const later = summary.records.filter((r) => r.sentAt > killedAt + 1000);
  assert.equal(later.filter((r) => r.backend === 'b2').length, 0, 'nothing was served by the dead backend');
  assert.deepEqual([...new Set(later.map((r) => r.backend))].sort(), ['b1', 'b3'], 'the survivors share the traffic');
});

test('slow checks, no outlier detection: connect failures to a dead backend are retried until the checks notice', async (t) => {
  const backends = await startBackendProcesses(t, [{ name: 'b1' }, { name: 'b2' }, { name: 'b3' }]);
  const { lb, events } = await startWatchedBallast(
    t,
    simpleConfig(
      backends.map((b) => b.address),
      { healthCheck: { type: 'http', path: '/healthz', interval: '2s', timeout: '1s', healthyThreshold: 2, unhealthyThreshold: 3 } },
    ),
  );
  await allHealthy(lb);
  const load = runLoad({ url: `${lb.url()}/work`, concurrency: 50, durationMs: 6500 });
  await sleep(1000);
  const killedAt = Date.now();
  (backends[1] as BackendProcess).signal('SIGKILL');
  const summary = await load;

  const removed = removal(events, 'b2');
  const failed = summary.records.filter((r) => r.status !== 200);
  const exposed = summary.records.filter((r) => r.sentAt > killedAt && (removed === undefined || r.sentAt < removed.time));
  console.log(
    `SIGKILL, checks every 2 s: ${summary.sent} requests, ${failed.length} failed; ` +
      `${exposed.length} sent while b2 was dead but in rotation (${removed === undefined ? 'never removed' : `removed after ${removed.time - killedAt} ms`})`,
  );
  assert.equal(failed.length, 0, `connect failures are retried outside the retry budget; got ${describeFailures(summary.records, killedAt)}`);
  assert.ok(exposed.length >= 200, `a long stretch of traffic met the dead server in rotation (${exposed.length} requests)`);
});

test('SIGSTOP (a hung backend): ejected soon after the first timeout, its GETs retried elsewhere', async (t) => {
  const backends = await startBackendProcesses(t, [{ name: 'b1' }, { name: 'b2' }, { name: 'b3' }]);
  const responseTimeout = 300;
  const { lb, events } = await startWatchedBallast(
    t,
    simpleConfig(
      backends.map((b) => b.address),
      {
        healthCheck: { type: 'http', path: '/healthz', interval: '1s', timeout: '500ms', healthyThreshold: 2, unhealthyThreshold: 2 },
        outlierDetection: { consecutiveFailures: 3, ejectionTime: '30s' },
        timeouts: { connect: '500ms', response: `${responseTimeout}ms` },
      },
    ),
  );
  await allHealthy(lb);

  const victim = backends[1] as BackendProcess;
  const load = runLoad({ url: `${lb.url()}/work`, concurrency: 50, durationMs: 5000 });
  await sleep(1500);
  const stoppedAt = Date.now();
  victim.signal('SIGSTOP');
  const summary = await load;
  victim.signal('SIGCONT');

  const removed = removal(events, 'b2');
  const failed = summary.records.filter((r) => r.status !== 200);
  const slow = summary.records.filter((r) => r.latencyMs >= responseTimeout);
  const firstTimeout = stoppedAt + responseTimeout;
  console.log(
    `SIGSTOP under load: ${summary.sent} requests, ${failed.length} failed, ${slow.length} slow (>= ${responseTimeout} ms, retried after the timeout), ` +
      `max ${summary.records.reduce((max, r) => Math.max(max, r.latencyMs), 0).toFixed(0)} ms; ` +
      `b2 removed by ${removed?.type ?? 'nothing'} (${removed?.reason ?? '-'}) ${removed === undefined ? '-' : removed.time - firstTimeout} ms after the first possible timeout`,
  );
  assert.equal(failed.length, 0, `the GETs that hit the hung backend were retried; got ${describeFailures(summary.records, stoppedAt)}`);
  assert.ok(removed !== undefined, 'the hung backend was taken out of rotation');
  assert.ok(removed.time - firstTimeout <= 1500, `removed within 1.5 s of the first timeout (${removed.time - firstTimeout} ms)`);
  assert.ok(slow.length > 0, 'requests caught by the hang waited for the response timeout');
  const later = summary.records.filter((r) => r.sentAt > removed.time + 100);
  assert.ok(later.length > 0, 'the load went on after the ejection');
  assert.equal(later.filter((r) => r.backend === 'b2').length, 0, 'nothing was sent to the hung backend after its ejection');
});

test('a backend answering 500 to everything is ejected by outlier detection', async (t) => {
  const backends = await startBackendProcesses(t, [{ name: 'b1' }, { name: 'b2' }, { name: 'b3', status: 500 }]);
  const { lb, events } = await startWatchedBallast(
    t,
    simpleConfig(
      backends.map((b) => b.address),
      { outlierDetection: { consecutiveFailures: 5, ejectionTime: '30s' } },
    ),
  );
  const statuses: number[] = [];
  for (let i = 0; i < 30; i++) statuses.push((await get(`${lb.url()}/work`)).status);

  const ejected = events.find((e) => e.type === 'server-ejected');
  assert.deepEqual(
    { server: ejected?.server, reason: ejected?.reason },
    { server: 'b3', reason: '5 consecutive failures' },
    'b3 is ejected with the reason',
  );
  assert.equal(statuses.filter((s) => s === 500).length, 5, `exactly consecutiveFailures answers of 500 reached clients: ${statuses.join(' ')}`);
  assert.deepEqual(statuses.slice(-12), new Array<number>(12).fill(200), 'after the ejection every answer is 200');
  assert.equal(states(lb)['b3'], 'ejected');
});

test('a backend whose health endpoint fails is marked down within interval × unhealthyThreshold + timeout', async (t) => {
  const backends = await startBackendProcesses(t, [{ name: 'b1' }, { name: 'b2' }]);
  const interval = 300;
  const timeout = 200;
  const unhealthyThreshold = 3;
  const { lb, events } = await startWatchedBallast(
    t,
    simpleConfig(
      backends.map((b) => b.address),
      {
        healthCheck: {
          type: 'http',
          path: '/healthz',
          interval: `${interval}ms`,
          timeout: `${timeout}ms`,
          jitter: 0,
          healthyThreshold: 2,
          unhealthyThreshold,
        },
      },
    ),
  );
  await allHealthy(lb);
  const failingAt = Date.now();
  await (backends[0] as BackendProcess).control({ health: 503 });
  await eventually(() => states(lb)['b1'] === 'unhealthy', 'b1 marked down', 10_000, 10);

  const down = events.find((e) => e.type === 'server-down' && e.server === 'b1' && e.time >= failingAt);
  assert.ok(down !== undefined);
  const bound = interval * unhealthyThreshold + timeout;
  const took = down.time - failingAt;
  console.log(`health endpoint failing: b1 marked down after ${took} ms (bound ${bound} ms), reason "${down.reason}"`);
  assert.equal(down.reason, 'status 503');
  // Timers run late on a busy machine; the slack covers that, not a slower detector.
  assert.ok(took <= bound + 500, `marked down within ${bound} ms (+500 ms scheduling slack): took ${took} ms`);
  for (let i = 0; i < 4; i++) assert.equal((await get(`${lb.url()}/x`)).backend, 'b2', 'traffic goes to the healthy server only');
});

test('all primaries down: backups serve; a primary back: traffic returns after rise', async (t) => {
  const backends = await startBackendProcesses(t, [{ name: 'p1' }, { name: 'p2' }, { name: 'k1' }]);
  const [p1, p2, k1] = backends as [BackendProcess, BackendProcess, BackendProcess];
  const config = simpleConfig([], {
    servers: [
      { name: 'p1', address: p1.address },
      { name: 'p2', address: p2.address },
      { name: 'k1', address: k1.address, backup: true },
    ],
    healthCheck: { type: 'http', path: '/healthz', interval: '200ms', timeout: '1s', healthyThreshold: 2, unhealthyThreshold: 2 },
  });
  const { lb, events } = await startWatchedBallast(t, config);
  await allHealthy(lb);

  const before = new Set<string | null>();
  for (let i = 0; i < 6; i++) before.add((await get(`${lb.url()}/x`)).backend);
  assert.deepEqual([...before].sort(), ['p1', 'p2'], 'the backup gets nothing while a primary is healthy');

  p1.signal('SIGKILL');
  p2.signal('SIGKILL');
  await Promise.all([p1.exited(), p2.exited()]);
  // Before the checks notice, connect failures are retried and reach the backup.
  for (let i = 0; i < 4; i++) assert.deepEqual((await get(`${lb.url()}/x`)).backend, 'k1');
  await eventually(() => lb.handle.status().pools[0]?.health === 'backup', 'the pool runs on its backup');
  for (let i = 0; i < 4; i++) assert.deepEqual((await get(`${lb.url()}/x`)).backend, 'k1');

  const restartedAt = Date.now();
  const again = await startBackendProcess({ name: 'p1', port: p1.port });
  t.after(() => again.stop());
  await eventually(() => events.some((e) => e.type === 'server-up' && e.server === 'p1' && e.time >= restartedAt), 'p1 up again');
  const up = events.find((e) => e.type === 'server-up' && e.server === 'p1' && e.time >= restartedAt) as BallastEvent;
  console.log(`backup failback: p1 back in rotation ${up.time - restartedAt} ms after it restarted (rise 2 × 200 ms)`);
  for (let i = 0; i < 6; i++) assert.equal((await get(`${lb.url()}/x`)).backend, 'p1', 'traffic returns to the primary');
  assert.equal(lb.handle.status().pools[0]?.health, 'degraded');
  assert.ok(events.some((e) => e.type === 'pool-degraded' && e.detail?.['health'] === 'backup'), 'the switch to backups is an event');
});

test('every server down: 503 at once, no hang', async (t) => {
  const backends = await startBackendProcesses(t, [{ name: 'b1' }, { name: 'b2' }]);
  const { lb, events } = await startWatchedBallast(
    t,
    simpleConfig(
      backends.map((b) => b.address),
      {
        healthCheck: { type: 'http', path: '/healthz', interval: '200ms', timeout: '1s', healthyThreshold: 2, unhealthyThreshold: 2 },
        queue: { size: 100, timeout: '10s' },
        timeouts: { connect: '2s', response: '30s' },
      },
    ),
  );
  await allHealthy(lb);
  for (const backend of backends) backend.signal('SIGKILL');
  await eventually(() => events.some((e) => e.type === 'pool-empty'), 'the pool to be empty');
  const answers = await Promise.all(Array.from({ length: 5 }, () => get(`${lb.url()}/x`)));
  console.log(`empty pool: answered in ${answers.map((a) => a.ms.toFixed(1)).join(', ')} ms`);
  for (const answer of answers) {
    assert.equal(answer.status, 503);
    assert.ok(answer.ms < 1000, `answered at once, not after a queue or connect timeout (${answer.ms.toFixed(0)} ms)`);
  }
});
