import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { WeightedRoundRobinBalancer } from '../../src/balancers/weighted-round-robin.js';
import { seededRandom, type Random } from '../../src/core/random.js';
import { addUp, FakeTarget, makeTargets, NO_KEY, pickNames, tally } from './fake-target.js';

/**
 * NGINX's smooth weighted round robin written the obvious O(n) way, with the
 * run-time semantics the balancer documents: a server that comes up starts
 * at current 0, a weight change keeps `current`, down servers are skipped.
 */
class ReferenceSwrr {
  readonly current: number[];
  readonly up: boolean[];

  constructor(readonly weights: number[]) {
    this.current = weights.map(() => 0);
    this.up = weights.map(() => true);
  }

  pick(): number {
    let total = 0;
    let best = -1;
    for (let i = 0; i < this.weights.length; i++) {
      if (!this.up[i] || this.weights[i]! <= 0) continue;
      this.current[i] = this.current[i]! + this.weights[i]!;
      total += this.weights[i]!;
      if (best === -1 || this.current[i]! > this.current[best]!) best = i;
    }
    if (best !== -1) this.current[best] = this.current[best]! - total;
    return best;
  }

  setUp(i: number): void {
    if (this.up[i]) return;
    this.up[i] = true;
    this.current[i] = 0;
  }

  setDown(i: number): void {
    this.up[i] = false;
  }

  reweight(i: number, weight: number): void {
    if (this.weights[i]! <= 0 && weight > 0) this.current[i] = 0;
    this.weights[i] = weight;
  }
}

function names(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `s${i}`);
}

describe('weighted-round-robin', () => {
  const sequences: { weights: number[]; expected: string }[] = [
    { weights: [5, 1, 1], expected: 'a a b a c a a a a b a c a a' },
    { weights: [1, 1, 1], expected: 'a b c a b c' },
    { weights: [2, 1], expected: 'a b a a b a' },
    { weights: [3, 1], expected: 'a a b a a a b a' },
    { weights: [1, 2, 3], expected: 'c b a c b c c b a c b c' },
    { weights: [0, 4, 2], expected: 'b c b b c b' },
  ];
  for (const { weights, expected } of sequences) {
    test(`weights {${weights.join(', ')}} give ${expected}`, () => {
      const balancer = new WeightedRoundRobinBalancer<FakeTarget>();
      addUp(balancer, makeTargets(['a', 'b', 'c'].slice(0, weights.length), weights));
      assert.equal(pickNames(balancer, expected.split(' ').length, () => NO_KEY).join(' '), expected);
    });
  }

  test('{5, 1, 1} never sends a burst of five', () => {
    const balancer = new WeightedRoundRobinBalancer<FakeTarget>();
    addUp(balancer, makeTargets(['a', 'b', 'c'], [5, 1, 1]));
    let run = 0;
    let longest = 0;
    for (const name of pickNames(balancer, 7000, () => NO_KEY)) {
      run = name === 'a' ? run + 1 : 0;
      longest = Math.max(longest, run);
    }
    assert.ok(longest < 5, `longest run of a: ${longest}`);
  });

  test('ratios over 10,000 picks follow the weights exactly', () => {
    const balancer = new WeightedRoundRobinBalancer<FakeTarget>();
    addUp(balancer, makeTargets(['a', 'b', 'c', 'd'], [1, 2, 3, 4]));
    const counts = tally(pickNames(balancer, 10_000, () => NO_KEY));
    assert.deepEqual(
      ['a', 'b', 'c', 'd'].map((name) => counts.get(name)),
      [1000, 2000, 3000, 4000],
    );
  });

  test('matches the O(n) reference pick for pick, with run-time changes', () => {
    const random = seededRandom(20260101);
    for (let trial = 0; trial < 60; trial++) {
      const count = 1 + Math.floor(random() * 40);
      const weights = Array.from({ length: count }, () => 1 + Math.floor(random() * 12));
      const targets = makeTargets(names(count), weights);
      const balancer = new WeightedRoundRobinBalancer<FakeTarget>();
      addUp(balancer, targets);
      const reference = new ReferenceSwrr([...weights]);
      for (let step = 0; step < 3000; step++) {
        if (step % 250 === 249) change(random, targets, balancer, reference);
        const expected = reference.pick();
        const picked = balancer.pick(NO_KEY);
        assert.equal(picked?.name ?? null, expected === -1 ? null : targets[expected]!.name, `trial ${trial}, pick ${step}`);
      }
    }
  });

  test('matches the reference at 1,000 servers', () => {
    const random = seededRandom(7);
    const weights = Array.from({ length: 1000 }, () => 1 + Math.floor(random() * 100));
    const targets = makeTargets(names(1000), weights);
    const balancer = new WeightedRoundRobinBalancer<FakeTarget>();
    addUp(balancer, targets);
    const reference = new ReferenceSwrr([...weights]);
    for (let step = 0; step < 20_000; step++) {
      assert.equal(balancer.pick(NO_KEY), targets[reference.pick()], `pick ${step}`);
    }
  });

  test('a weight change at run time changes the ratio without resetting the others', () => {
    const balancer = new WeightedRoundRobinBalancer<FakeTarget>();
    const targets = makeTargets(['a', 'b'], [1, 1]);
    addUp(balancer, targets);
    assert.deepEqual([...tally(pickNames(balancer, 10_000, () => NO_KEY)).values()], [5000, 5000]);
    targets[1]!.weight = 4;
    balancer.reweight(targets[1]!);
    const counts = tally(pickNames(balancer, 10_000, () => NO_KEY));
    assert.ok(Math.abs(counts.get('b')! - 8000) <= 1, `b: ${counts.get('b')}`);
  });

  test('a server at capacity forfeits its turns and gets no burst when it frees up', () => {
    const balancer = new WeightedRoundRobinBalancer<FakeTarget>();
    const targets = makeTargets(['a', 'b', 'c'], [5, 1, 1]);
    addUp(balancer, targets);
    targets[0]!.maxConnections = 0;
    const whileFull = tally(pickNames(balancer, 1000, () => NO_KEY));
    assert.equal(whileFull.get('a'), undefined);
    assert.ok(Math.abs(whileFull.get('b')! - 500) <= 1);
    targets[0]!.maxConnections = Infinity;
    const next = pickNames(balancer, 700, () => NO_KEY);
    assert.ok(tally(next.slice(0, 14)).get('a')! <= 11, 'no burst right after');
    assert.ok(Math.abs(tally(next).get('a')! - 500) <= 5, `a: ${tally(next).get('a')}`);
  });
});

function change(
  random: Random,
  targets: FakeTarget[],
  balancer: WeightedRoundRobinBalancer<FakeTarget>,
  reference: ReferenceSwrr,
): void {
  const i = Math.floor(random() * targets.length);
  const target = targets[i]!;
  const what = random();
  if (what < 0.4) {
    const weight = Math.floor(random() * 10);
    target.weight = weight;
    balancer.reweight(target);
    reference.reweight(i, weight);
  } else if (what < 0.7) {
    balancer.setDown(target);
    reference.setDown(i);
  } else {
    balancer.setUp(target);
    reference.setUp(i);
  }
}
