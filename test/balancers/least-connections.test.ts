import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { LeastConnectionsBalancer } from '../../src/balancers/least-connections.js';
import { seededRandom } from '../../src/core/random.js';
import { addUp, FakeTarget, makeTargets, NO_KEY, pickNames, tally } from './fake-target.js';

/** Starts a request on `target` as the pool does: count first, then the hook. */
function start(balancer: LeastConnectionsBalancer<FakeTarget>, target: FakeTarget): void {
  target.inFlight++;
  balancer.onRequestStart(target);
}

function finish(balancer: LeastConnectionsBalancer<FakeTarget>, target: FakeTarget): void {
  target.inFlight--;
  balancer.onRequestEnd(target);
}

describe('least-connections', () => {
  test('picks the server with the fewest requests in flight', () => {
    const balancer = new LeastConnectionsBalancer<FakeTarget>();
    const [a, b, c] = makeTargets(['a', 'b', 'c']);
    addUp(balancer, [a!, b!, c!]);
    for (const [target, count] of [[a!, 3], [b!, 1], [c!, 2]] as const) {
      for (let i = 0; i < count; i++) start(balancer, target);
    }
    assert.equal(balancer.pick(NO_KEY), b);
    start(balancer, b!);
    start(balancer, b!);
    assert.equal(balancer.pick(NO_KEY), c);
    finish(balancer, a!);
    finish(balancer, a!);
    assert.equal(balancer.pick(NO_KEY), a);
  });

  const ties: { name: string; busy: Record<string, number>; expected: string }[] = [
    { name: 'idle servers take turns in order', busy: {}, expected: 'a b c a b c a' },
    { name: 'the two least loaded alternate', busy: { a: 2 }, expected: 'b c b c b c' },
    { name: 'a single least loaded takes every turn', busy: { a: 1, c: 1 }, expected: 'b b b' },
  ];
  for (const { name, busy, expected } of ties) {
    test(`ties go round robin: ${name}`, () => {
      const balancer = new LeastConnectionsBalancer<FakeTarget>();
      const targets = makeTargets(['a', 'b', 'c']);
      addUp(balancer, targets);
      for (const target of targets) for (let i = 0; i < (busy[target.name] ?? 0); i++) start(balancer, target);
      assert.equal(pickNames(balancer, expected.split(' ').length, () => NO_KEY).join(' '), expected);
    });
  }

  test('load is in flight per unit of weight', () => {
    const balancer = new LeastConnectionsBalancer<FakeTarget>();
    const [a, b] = makeTargets(['a', 'b'], [3, 1]);
    addUp(balancer, [a!, b!]);
    for (let i = 0; i < 5; i++) start(balancer, a!);
    start(balancer, b!);
    start(balancer, b!);
    assert.equal(balancer.pick(NO_KEY), a, '5/3 < 2/1');
    start(balancer, a!);
    start(balancer, a!);
    assert.equal(balancer.pick(NO_KEY), b, '7/3 > 2/1');
  });

  const ratios: { weights: number[]; picks: number }[] = [
    { weights: [1, 2, 3], picks: 12_000 },
    { weights: [1, 1, 1, 1, 4], picks: 16_000 },
    { weights: [5, 1], picks: 12_000 },
  ];
  for (const { weights, picks } of ratios) {
    test(`sequential traffic over weights {${weights.join(', ')}} follows the weights (${picks} picks)`, () => {
      const balancer = new LeastConnectionsBalancer<FakeTarget>();
      const targets = makeTargets(weights.map((_, i) => `s${i}`), weights);
      addUp(balancer, targets);
      const total = weights.reduce((sum, weight) => sum + weight, 0);
      const counts = new Map<string, number>();
      for (let i = 0; i < picks; i++) {
        const target = balancer.pick(NO_KEY)!;
        start(balancer, target);
        finish(balancer, target);
        counts.set(target.name, (counts.get(target.name) ?? 0) + 1);
      }
      targets.forEach((target, i) => {
        const expected = (picks * weights[i]!) / total;
        assert.ok(Math.abs(counts.get(target.name)! - expected) <= 1, `${target.name}: ${counts.get(target.name)} vs ${expected}`);
      });
    });
  }

  test('under concurrent load every pick has the least load of its pool', () => {
    const random = seededRandom(99);
    const balancer = new LeastConnectionsBalancer<FakeTarget>();
    const targets = makeTargets(['a', 'b', 'c', 'd', 'e', 'f'], [1, 2, 1, 3, 1, 2]);
    addUp(balancer, targets);
    const open: FakeTarget[] = [];
    for (let i = 0; i < 30_000; i++) {
      const least = Math.min(...targets.map((target) => target.inFlight / target.weight));
      const picked = balancer.pick(NO_KEY)!;
      assert.equal(picked.inFlight / picked.weight, least, `pick ${i}`);
      start(balancer, picked);
      open.push(picked);
      while (open.length > 0 && random() < 0.5) {
        const done = open.splice(Math.floor(random() * open.length), 1)[0]!;
        finish(balancer, done);
      }
    }
  });

  test('a server that comes up joins the rotation without a burst of ties', () => {
    const balancer = new LeastConnectionsBalancer<FakeTarget>();
    const [a, b, c] = makeTargets(['a', 'b', 'c']);
    addUp(balancer, [a!, b!]);
    pickNames(balancer, 1000, () => NO_KEY);
    addUp(balancer, [c!]);
    const counts = tally(pickNames(balancer, 30, () => NO_KEY));
    assert.deepEqual([counts.get('a'), counts.get('b'), counts.get('c')], [10, 10, 10]);
  });

  test('a top server whose count grew without a hook is re-sorted before it is trusted', () => {
    const balancer = new LeastConnectionsBalancer<FakeTarget>();
    const [a, b] = makeTargets(['a', 'b']);
    addUp(balancer, [a!, b!]);
    a!.inFlight = 10;
    assert.equal(balancer.pick(NO_KEY), b);
  });
});
