import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { RandomBalancer } from '../../src/balancers/random.js';
import { WeightedSampler } from '../../src/balancers/weighted-sampler.js';
import { seededRandom } from '../../src/core/random.js';
import { addUp, type FakeTarget, makeTargets, NO_KEY, pickNames, tally } from './fake-target.js';

describe('random', () => {
  const cases: { weights: number[]; picks: number; tolerance: number }[] = [
    { weights: [1, 1, 1, 1], picks: 20_000, tolerance: 0.015 },
    { weights: [1, 2, 3, 4], picks: 20_000, tolerance: 0.015 },
    { weights: [10, 1], picks: 20_000, tolerance: 0.01 },
    { weights: [0.5, 0.25, 0.25], picks: 20_000, tolerance: 0.015 },
  ];
  for (const { weights, picks, tolerance } of cases) {
    for (const seed of [7, 8, 9]) {
      test(`weights {${weights.join(', ')}}: shares within ±${tolerance} over ${picks} picks (seed ${seed})`, () => {
        const balancer = new RandomBalancer<FakeTarget>(seededRandom(seed));
        const names = weights.map((_, i) => `s${i}`);
        addUp(balancer, makeTargets(names, weights));
        const counts = tally(pickNames(balancer, picks, () => NO_KEY));
        const total = weights.reduce((sum, weight) => sum + weight, 0);
        names.forEach((name, i) => {
          const share = (counts.get(name) ?? 0) / picks;
          assert.ok(Math.abs(share - weights[i]! / total) < tolerance, `${name}: ${share}`);
        });
      });
    }
  }

  test('a weight change at run time changes the shares', () => {
    const balancer = new RandomBalancer<FakeTarget>(seededRandom(10));
    const targets = makeTargets(['a', 'b']);
    addUp(balancer, targets);
    targets[1]!.weight = 9;
    balancer.reweight(targets[1]!);
    const share = tally(pickNames(balancer, 20_000, () => NO_KEY)).get('b')! / 20_000;
    assert.ok(Math.abs(share - 0.9) < 0.01, `b: ${share}`);
  });

  test('the alias table is exact over an even grid of uniform numbers', () => {
    const sampler = new WeightedSampler();
    const weights = [3, 1, 4, 1, 5, 9, 2, 6];
    sampler.reset(weights, weights.length);
    const grid = 310_000;
    const counts = new Array<number>(weights.length).fill(0);
    for (let i = 0; i < grid; i++) counts[sampler.sample((i + 0.5) / grid)]!++;
    const total = weights.reduce((sum, weight) => sum + weight, 0);
    weights.forEach((weight, i) => {
      assert.ok(Math.abs(counts[i]! - (grid * weight) / total) <= weights.length + 1, `index ${i}: ${counts[i]}`);
    });
  });
});
