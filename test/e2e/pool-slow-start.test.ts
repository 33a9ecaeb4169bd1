/**
 * Slow start end to end: a server that recovers, or that a reload adds, gets
 * its effective weight (as `status()` shows it) ramped from 10 % to 100 % over
 * `slowStart`, and with it a growing share of the traffic; servers present
 * when the pool starts come up at full weight.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { BallastEvent } from '../../src/index.js';
import { startBallast, simpleConfig, type RunningBallast } from '../helpers/ballast.js';
import { startCheckedBackends } from '../helpers/http-backend.js';
import { eventually } from '../helpers/net.js';

function weights(lb: RunningBallast): Record<string, number> {
  const servers = lb.handle.status().pools[0]?.servers ?? [];
  return Object.fromEntries(servers.map((s) => [s.name, s.effectiveWeight]));
}

async function backendOf(lb: RunningBallast): Promise<string | null> {
  const response = await fetch(`${lb.url()}/x`);
  await response.arrayBuffer();
  return response.headers.get('x-backend');
}

// A generous timeout: a busy machine must not make a check fail and a server flap.
const HEALTH_CHECK = { type: 'http', path: '/healthz', interval: '100ms', timeout: '1s', healthyThreshold: 1, unhealthyThreshold: 1 };

test('servers present when the pool starts come up at full weight', async (t) => {
  const healthy = new Map<string, boolean>();
  const backends = await startCheckedBackends(t, ['b1', 'b2', 'b3'], healthy);
  const lb = await startBallast(
    simpleConfig(
      backends.map((b) => b.address),
      { algorithm: 'weighted-round-robin', slowStart: '5s', healthCheck: { ...HEALTH_CHECK, jitter: 1 } },
    ),
  );
  t.after(() => lb.close());
  await eventually(() => lb.handle.status().pools[0]?.servers.every((s) => s.state === 'healthy') === true, 'every server healthy');
  assert.deepEqual(weights(lb), { b1: 1, b2: 1, b3: 1 }, 'no ramp for servers that pass their first check');
});

test('a recovered server ramps its effective weight and traffic share up over slowStart', async (t) => {
  const healthy = new Map<string, boolean>();
  const backends = await startCheckedBackends(t, ['b1', 'b2'], healthy);
  // Long enough that the low weights last for many requests even on a busy machine.
  const slowStartMs = 6000;
  const lb = await startBallast(
    simpleConfig([], {
      algorithm: 'weighted-round-robin',
      servers: backends.map((b) => ({ name: b.name, address: b.address, weight: 10 })),
      slowStart: `${slowStartMs}ms`,
      healthCheck: HEALTH_CHECK,
    }),
  );
  t.after(() => lb.close());
  const events: BallastEvent[] = [];
  lb.handle.onEvent((event) => events.push(event));
  await eventually(() => lb.handle.status().pools[0]?.servers.every((s) => s.state === 'healthy') === true, 'every server healthy');

  healthy.set('b2', false);
  await eventually(() => events.some((e) => e.type === 'server-down' && e.server === 'b2'), 'b2 down');
  const downAt = events.length;
  healthy.set('b2', true);
  await eventually(() => events.slice(downAt).some((e) => e.type === 'server-up' && e.server === 'b2'), 'b2 up again', 10_000, 5);
  const upAt = Date.now();

  // Sample the ramp, sending requests meanwhile; stop once full weight was seen.
  const samples: number[] = [];
  let early = { b1: 0, b2: 0 };
  let fullAt = 0;
  const deadline = Date.now() + slowStartMs + 8000;
  while (Date.now() < deadline) {
    const weight = weights(lb)['b2'] as number;
    samples.push(weight);
    if (weight === 10) {
      fullAt = Date.now();
      break;
    }
    for (const backend of await Promise.all([backendOf(lb), backendOf(lb), backendOf(lb), backendOf(lb)])) {
      if (weight <= 4 && (backend === 'b1' || backend === 'b2')) early = { ...early, [backend]: early[backend] + 1 };
    }
    await sleep(5);
  }
  const after = { b1: 0, b2: 0 };
  for (let i = 0; i < 40; i++) {
    const backend = await backendOf(lb);
    if (backend === 'b1' || backend === 'b2') after[backend]++;
  }
  const distinct = [...new Set(samples)];
  console.log(
    `slow start: b2 weights ${distinct.map((w) => w.toFixed(1)).join(' → ')}; full after ${fullAt - upAt} ms; ` +
      `traffic b1:b2 at weight <= 4 ${early.b1}:${early.b2}, at full weight ${after.b1}:${after.b2}`,
  );
  assert.ok((samples[0] as number) < 10, `the ramp starts below the configured weight (${samples[0]})`);
  assert.ok(fullAt > 0, 'the ramp reaches the configured weight');
  assert.ok(fullAt - upAt >= slowStartMs * 0.75, `the ramp takes about slowStart (${fullAt - upAt} ms)`);
  assert.ok(distinct.length >= 3, `the weight rises in steps: ${distinct.join(', ')}`);
  assert.deepEqual(samples, [...samples].sort((a, b) => a - b), 'the weight never goes down during the ramp');
  const earlyTotal = early.b1 + early.b2;
  assert.ok(earlyTotal >= 8, `enough requests early in the ramp (${earlyTotal})`);
  // At weight ≤ 4 against 10, smooth weighted round robin gives b2 at most 4/14 of the picks.
  assert.ok(early.b2 / earlyTotal <= 0.4, `the recovering server gets a small share early on (${early.b2}/${earlyTotal})`);
  // Equal weights: smooth weighted round robin alternates exactly.
  assert.deepEqual(after, { b1: 20, b2: 20 }, 'at full weight it gets its full share');
});

test('a server added by a reload ramps up; the others keep their weight', async (t) => {
  const healthy = new Map<string, boolean>();
  const backends = await startCheckedBackends(t, ['b1', 'b2', 'b3'], healthy);
  const pool = (count: number): Record<string, unknown> =>
    simpleConfig([], {
      algorithm: 'weighted-round-robin',
      servers: backends.slice(0, count).map((b) => ({ name: b.name, address: b.address, weight: 10 })),
      slowStart: '1s',
    });
  const lb = await startBallast(pool(2));
  t.after(() => lb.close());
  assert.deepEqual(weights(lb), { b1: 10, b2: 10 });
  await lb.handle.reload(pool(3));
  const right = weights(lb);
  assert.equal(right['b1'], 10);
  assert.ok((right['b3'] as number) < 10, `the added server starts low (${right['b3']})`);
  await eventually(() => weights(lb)['b3'] === 10, 'b3 at full weight', 10_000);
});
