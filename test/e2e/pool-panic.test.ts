/**
 * Panic mode end to end (as Envoy's panic threshold): when the share of
 * healthy primaries falls below `panicThreshold` percent, requests go to every
 * primary, healthy or not, rather than overload the few that pass their
 * checks; healthy backups still come first when no primary is healthy.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startBallast, simpleConfig, type RunningBallast } from '../helpers/ballast.js';
import { startCheckedBackends, type Cleanup } from '../helpers/http-backend.js';
import { eventually } from '../helpers/net.js';

// A generous timeout: a busy machine must not make a check fail and a server flap.
const HEALTH_CHECK = { type: 'http', path: '/healthz', interval: '100ms', timeout: '1s', healthyThreshold: 1, unhealthyThreshold: 1 };

async function ballast(t: Cleanup, config: Record<string, unknown>): Promise<RunningBallast> {
  const lb = await startBallast(config);
  t.after(() => lb.close());
  await eventually(() => lb.handle.status().pools[0]?.servers.every((s) => s.state === 'healthy') === true, 'every server healthy');
  return lb;
}

async function untilStates(lb: RunningBallast, expected: Record<string, string>): Promise<void> {
  const current = (): Record<string, string> =>
    Object.fromEntries((lb.handle.status().pools[0]?.servers ?? []).map((s) => [s.name, s.state]));
  await eventually(() => JSON.stringify(current()) === JSON.stringify(expected), `states ${JSON.stringify(expected)}`);
}

/** The set of backends that answered `count` sequential requests, and their statuses. */
async function spread(lb: RunningBallast, count: number): Promise<{ backends: string[]; statuses: number[] }> {
  const seen = new Set<string>();
  const statuses = new Set<number>();
  for (let i = 0; i < count; i++) {
    const response = await fetch(`${lb.url()}/x`);
    await response.arrayBuffer();
    statuses.add(response.status);
    const backend = response.headers.get('x-backend');
    if (backend !== null) seen.add(backend);
  }
  return { backends: [...seen].sort(), statuses: [...statuses] };
}

test('below panicThreshold every primary gets traffic, healthy or not; above it only healthy ones', async (t) => {
  const healthy = new Map<string, boolean>();
  const servers = await startCheckedBackends(t, ['b1', 'b2', 'b3'], healthy);
  const lb = await ballast(t, simpleConfig(servers.map((b) => b.address), { healthCheck: HEALTH_CHECK, panicThreshold: 50 }));

  healthy.set('b1', false);
  await untilStates(lb, { b1: 'unhealthy', b2: 'healthy', b3: 'healthy' });
  assert.deepEqual((await spread(lb, 6)).backends, ['b2', 'b3'], '2 of 3 healthy (67 %) is above the threshold');

  healthy.set('b2', false);
  await untilStates(lb, { b1: 'unhealthy', b2: 'unhealthy', b3: 'healthy' });
  assert.deepEqual((await spread(lb, 6)).backends, ['b1', 'b2', 'b3'], '1 of 3 healthy (33 %) is below: panic spreads the load');

  healthy.set('b3', false);
  await untilStates(lb, { b1: 'unhealthy', b2: 'unhealthy', b3: 'unhealthy' });
  assert.deepEqual(await spread(lb, 6), { backends: ['b1', 'b2', 'b3'], statuses: [200] }, 'with no healthy server, panic still serves');

  healthy.clear();
  await untilStates(lb, { b1: 'healthy', b2: 'healthy', b3: 'healthy' });
  assert.deepEqual((await spread(lb, 6)).backends, ['b1', 'b2', 'b3']);
});

test('without panicThreshold, failing checks leave the pool empty: 503', async (t) => {
  const healthy = new Map<string, boolean>();
  const servers = await startCheckedBackends(t, ['b1', 'b2'], healthy);
  const lb = await ballast(t, simpleConfig(servers.map((b) => b.address), { healthCheck: HEALTH_CHECK }));
  healthy.set('b1', false);
  healthy.set('b2', false);
  await untilStates(lb, { b1: 'unhealthy', b2: 'unhealthy' });
  assert.deepEqual(await spread(lb, 3), { backends: [], statuses: [503] });
});

test('healthy backups come before panic when no primary is healthy', async (t) => {
  const healthy = new Map<string, boolean>();
  const servers = await startCheckedBackends(t, ['p1', 'p2', 'k1'], healthy);
  const lb = await ballast(
    t,
    simpleConfig([], {
      servers: [
        { name: 'p1', address: servers[0]?.address },
        { name: 'p2', address: servers[1]?.address },
        { name: 'k1', address: servers[2]?.address, backup: true },
      ],
      healthCheck: HEALTH_CHECK,
      panicThreshold: 50,
    }),
  );
  healthy.set('p1', false);
  healthy.set('p2', false);
  await untilStates(lb, { p1: 'unhealthy', p2: 'unhealthy', k1: 'healthy' });
  assert.deepEqual((await spread(lb, 6)).backends, ['k1'], 'the healthy backup serves');

  healthy.set('k1', false);
  await untilStates(lb, { p1: 'unhealthy', p2: 'unhealthy', k1: 'unhealthy' });
  assert.deepEqual((await spread(lb, 6)).backends, ['p1', 'p2'], 'nothing healthy at all: panic spreads over the primaries');
});
