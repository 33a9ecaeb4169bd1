import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createBalancer } from '../../src/balancers/index.js';
import { ResponseTimeBalancer } from '../../src/balancers/response-time.js';
import { ManualClock } from '../../src/core/clock.js';
import { seededRandom } from '../../src/core/random.js';
import { addUp, FakeTarget, makeTargets, NO_KEY } from './fake-target.js';

function setup(names: string[], windowMs = 10_000): {
  clock: ManualClock;
  balancer: ResponseTimeBalancer<FakeTarget>;
  targets: FakeTarget[];
} {
  const clock = new ManualClock(5000);
  const balancer = new ResponseTimeBalancer<FakeTarget>({ clock, random: seededRandom(11), windowMs });
  const targets = makeTargets(names);
  addUp(balancer, targets);
  return { clock, balancer, targets };
}

function near(actual: number | undefined, expected: number, tolerance = 1e-9): void {
  assert.ok(actual !== undefined && Math.abs(actual - expected) <= tolerance, `${actual} vs ${expected}`);
}

/**
 * Sequential traffic in simulated time: one request per millisecond, each
 * answered after its server's latency (±20 %). Returns the share of `watched`
 * in each 10 s slice.
 */
function simulate(
  clock: ManualClock,
  balancer: ResponseTimeBalancer<FakeTarget>,
  latency: Map<FakeTarget, number>,
  durationMs: number,
  watched: FakeTarget,
): number[] {
  const jitter = seededRandom(5);
  const shares: number[] = [];
  let picks = 0;
  let hits = 0;
  for (let elapsed = 1; elapsed <= durationMs; elapsed++) {
    const target = balancer.pick(NO_KEY)!;
    picks++;
    if (target === watched) hits++;
    balancer.onRequestEnd(target, latency.get(target)! * (0.8 + 0.4 * jitter()));
    clock.advance(1);
    if (elapsed % 10_000 === 0) {
      shares.push(hits / picks);
      picks = 0;
      hits = 0;
    }
  }
  return shares;
}

describe('response-time', () => {
  test('a latency spike raises the estimate at once', () => {
    const { balancer, targets, clock } = setup(['a']);
    const a = targets[0]!;
    balancer.onRequestEnd(a, 10);
    clock.advance(1);
    balancer.onRequestEnd(a, 500);
    near(balancer.estimate(a), 500);
  });

  test('lower latencies are blended in over the window', () => {
    const { balancer, targets, clock } = setup(['a'], 10_000);
    const a = targets[0]!;
    balancer.onRequestEnd(a, 100);
    clock.advance(10_000);
    balancer.onRequestEnd(a, 0);
    near(balancer.estimate(a), 100 * Math.exp(-1));
    clock.advance(1);
    balancer.onRequestEnd(a, 0);
    near(balancer.estimate(a), 100 * Math.exp(-1) * Math.exp(-1 / 10_000), 1e-9);
  });

  test('the window is configurable through createBalancer', () => {
    const clock = new ManualClock(0);
    const fast = createBalancer<FakeTarget>('response-time', { clock, responseTimeWindowMs: 1000 });
    const [a] = makeTargets(['a']);
    addUp(fast, [a!]);
    fast.onRequestEnd!(a!, 100);
    clock.advance(1000);
    fast.onRequestEnd!(a!, 0);
    near((fast as ResponseTimeBalancer<FakeTarget>).estimate(a!), 100 * Math.exp(-1));
    assert.throws(() => new ResponseTimeBalancer({ windowMs: 0 }), RangeError);
  });

  test('an idle estimate fades so the server is tried again', () => {
    const { balancer, targets, clock } = setup(['a']);
    const a = targets[0]!;
    balancer.onRequestEnd(a, 200);
    clock.advance(20_000);
    near(balancer.estimate(a), 200 * Math.exp(-2));
  });

  test('of two servers the faster takes the traffic', () => {
    const { balancer, targets } = setup(['a', 'b']);
    balancer.onRequestEnd(targets[0]!, 10);
    balancer.onRequestEnd(targets[1]!, 100);
    for (let i = 0; i < 1000; i++) assert.equal(balancer.pick(NO_KEY), targets[0]);
  });

  test('requests in flight count: estimate × (inFlight + 1)', () => {
    const { balancer, targets } = setup(['a', 'b']);
    const [a, b] = targets as [FakeTarget, FakeTarget];
    balancer.onRequestEnd(a, 10);
    balancer.onRequestEnd(b, 100);
    a.inFlight = 20; // 10 × 21 = 210 > 100 × 1
    assert.equal(balancer.pick(NO_KEY), b);
    a.inFlight = 5; // 10 × 6 = 60 < 100
    assert.equal(balancer.pick(NO_KEY), a);
  });

  test('a new server starts at the pool average, and so does a recovered one', () => {
    const { balancer, targets, clock } = setup(['a', 'b']);
    balancer.onRequestEnd(targets[0]!, 10);
    balancer.onRequestEnd(targets[1]!, 30);
    const c = new FakeTarget('c');
    addUp(balancer, [c]);
    near(balancer.estimate(c), 20);
    balancer.onRequestEnd(c, 500);
    balancer.setDown(c);
    assert.equal(balancer.estimate(c), undefined);
    clock.advance(1);
    balancer.setUp(c);
    near(balancer.estimate(c), 20 * Math.exp(-1 / 10_000), 1e-9);
  });

  test('a new server in a busy pool is neither flooded nor starved', () => {
    const { balancer, targets, clock } = setup(['a', 'b', 'c']);
    const latency = new Map<FakeTarget, number>(targets.map((target) => [target, 20]));
    simulate(clock, balancer, latency, 10_000, targets[0]!);
    const d = new FakeTarget('d');
    addUp(balancer, [d]);
    latency.set(d, 20);
    const [share] = simulate(clock, balancer, latency, 10_000, d);
    assert.ok(share! > 0.1 && share! < 0.45, `new server share ${share}`);
  });

  test("a slow server's share drops at once and recovers after it heals", () => {
    const { balancer, targets, clock } = setup(['a', 'b', 'c']);
    const c = targets[2]!;
    const latency = new Map<FakeTarget, number>(targets.map((target) => [target, 10]));
    const before = simulate(clock, balancer, latency, 20_000, c);
    for (const share of before) assert.ok(share > 0.2 && share < 0.45, `healthy share ${share}`);
    latency.set(c, 200);
    const slow = simulate(clock, balancer, latency, 30_000, c);
    for (const share of slow) assert.ok(share < 0.01, `share while slow ${share}`);
    latency.set(c, 10);
    const after = simulate(clock, balancer, latency, 120_000, c);
    const last = after.slice(-3);
    for (const share of last) assert.ok(share > 0.2 && share < 0.45, `share after recovery ${share} (${after.join(', ')})`);
  });
});

describe('response-time: back in service', () => {
  test('a server whose weight returns from 0 starts at the pool average, not at a faded estimate', () => {
    const { balancer, targets, clock } = setup(['a', 'b', 'c']);
    const [a, b, c] = targets as [FakeTarget, FakeTarget, FakeTarget];
    balancer.onRequestEnd(c, 40);
    c.weight = 0;
    balancer.reweight(c);
    clock.advance(60_000);
    balancer.onRequestEnd(a, 10);
    balancer.onRequestEnd(b, 30);
    c.weight = 1;
    balancer.reweight(c);
    near(balancer.estimate(c), 20);
  });

  test('before any latency is known, requests in flight decide', () => {
    const { balancer, targets } = setup(['a', 'b']);
    targets[0]!.inFlight = 3;
    for (let i = 0; i < 100; i++) assert.equal(balancer.pick(NO_KEY), targets[1]);
  });
});
