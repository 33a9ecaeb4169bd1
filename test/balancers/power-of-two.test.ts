import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { PowerOfTwoBalancer } from '../../src/balancers/power-of-two.js';
import { seededRandom } from '../../src/core/random.js';
import { addUp, type FakeTarget, makeTargets, NO_KEY, pickNames, tally } from './fake-target.js';

describe('power-of-two', () => {
  test('of two servers, the one with fewer in flight wins every time', () => {
    const balancer = new PowerOfTwoBalancer<FakeTarget>(seededRandom(1));
    const [a, b] = makeTargets(['a', 'b']);
    addUp(balancer, [a!, b!]);
    a!.inFlight = 3;
    b!.inFlight = 1;
    assert.deepEqual([...tally(pickNames(balancer, 1000, () => NO_KEY)).keys()], ['b']);
  });

  test('the most loaded of several servers is never picked', () => {
    const balancer = new PowerOfTwoBalancer<FakeTarget>(seededRandom(2));
    const targets = makeTargets(['a', 'b', 'c', 'd']);
    addUp(balancer, targets);
    targets[2]!.inFlight = 50;
    const counts = tally(pickNames(balancer, 10_000, () => NO_KEY));
    assert.equal(counts.get('c'), undefined);
    for (const name of ['a', 'b', 'd']) assert.ok(Math.abs(counts.get(name)! / 10_000 - 1 / 3) < 0.03);
  });

  test('load is compared per unit of weight', () => {
    const balancer = new PowerOfTwoBalancer<FakeTarget>(seededRandom(3));
    const [a, b] = makeTargets(['a', 'b'], [4, 1]);
    addUp(balancer, [a!, b!]);
    a!.inFlight = 6; // 6/4 < 2/1
    b!.inFlight = 2;
    assert.deepEqual([...tally(pickNames(balancer, 1000, () => NO_KEY)).keys()], ['a']);
  });

  for (const seed of [1, 2, 3]) {
    test(`idle servers are drawn in proportion to weight (20,000 picks, seed ${seed})`, () => {
      const balancer = new PowerOfTwoBalancer<FakeTarget>(seededRandom(seed));
      const weights = [1, 2, 3, 4];
      addUp(balancer, makeTargets(['a', 'b', 'c', 'd'], weights));
      const counts = tally(pickNames(balancer, 20_000, () => NO_KEY));
      ['a', 'b', 'c', 'd'].forEach((name, i) => {
        const share = counts.get(name)! / 20_000;
        assert.ok(Math.abs(share - weights[i]! / 10) < 0.02, `${name}: ${share}`);
      });
    });
  }

  test('under load in-flight counts stay close together', () => {
    const random = seededRandom(4);
    const balancer = new PowerOfTwoBalancer<FakeTarget>(seededRandom(5));
    const targets = makeTargets(['a', 'b', 'c', 'd', 'e']);
    addUp(balancer, targets);
    const open: FakeTarget[] = [];
    let worstSpread = 0;
    for (let i = 0; i < 20_000; i++) {
      const target = balancer.pick(NO_KEY)!;
      target.inFlight++;
      open.push(target);
      if (open.length > 100) {
        const done = open.splice(Math.floor(random() * open.length), 1)[0]!;
        done.inFlight--;
      }
      if (i > 1000) {
        const counts = targets.map((t) => t.inFlight);
        worstSpread = Math.max(worstSpread, Math.max(...counts) - Math.min(...counts));
      }
    }
    assert.ok(worstSpread <= 12, `largest in-flight spread ${worstSpread} with 100 in flight over 5 servers`);
  });
});
