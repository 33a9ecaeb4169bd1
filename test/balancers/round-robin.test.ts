import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { RoundRobinBalancer } from '../../src/balancers/round-robin.js';
import { addUp, FakeTarget, makeTargets, NO_KEY, pickNames } from './fake-target.js';

describe('round-robin', () => {
  const sequences: { name: string; weights: number[]; picks: number; expected: string }[] = [
    { name: 'three servers take turns in order', weights: [1, 1, 1], picks: 7, expected: 'a b c a b c a' },
    { name: 'weights other than 0 do not matter', weights: [5, 1, 3], picks: 6, expected: 'a b c a b c' },
    { name: 'a weight-0 server is left out', weights: [1, 0, 1], picks: 4, expected: 'a c a c' },
    { name: 'one server takes every turn', weights: [2], picks: 3, expected: 'a a a' },
  ];
  for (const { name, weights, picks, expected } of sequences) {
    test(name, () => {
      const balancer = new RoundRobinBalancer<FakeTarget>();
      addUp(balancer, makeTargets(['a', 'b', 'c'].slice(0, weights.length), weights));
      assert.equal(pickNames(balancer, picks, () => NO_KEY).join(' '), expected);
    });
  }

  test('the rotation resumes after the last pick when membership changes', () => {
    const balancer = new RoundRobinBalancer<FakeTarget>();
    const [a, b, c] = makeTargets(['a', 'b', 'c']);
    addUp(balancer, [a!, b!, c!]);
    assert.equal(pickNames(balancer, 2, () => NO_KEY).join(' '), 'a b');
    const d = new FakeTarget('d');
    addUp(balancer, [d]);
    assert.equal(pickNames(balancer, 4, () => NO_KEY).join(' '), 'c d a b');
    balancer.setDown(c!);
    assert.equal(pickNames(balancer, 3, () => NO_KEY).join(' '), 'd a b');
    balancer.remove(a!);
    assert.equal(pickNames(balancer, 3, () => NO_KEY).join(' '), 'd b d');
  });

  test('a server at capacity loses its turn, the order of the others holds', () => {
    const balancer = new RoundRobinBalancer<FakeTarget>();
    const targets = makeTargets(['a', 'b', 'c']);
    addUp(balancer, targets);
    targets[1]!.maxConnections = 0;
    assert.equal(pickNames(balancer, 4, () => NO_KEY).join(' '), 'a c a c');
    targets[1]!.maxConnections = Infinity;
    assert.equal(pickNames(balancer, 3, () => NO_KEY).join(' '), 'a b c');
  });

  test('10,000 picks over 7 servers are exactly even', () => {
    const balancer = new RoundRobinBalancer<FakeTarget>();
    const names = ['a', 'b', 'c', 'd', 'e', 'f', 'g'];
    addUp(balancer, makeTargets(names));
    const counts = new Map<string, number>();
    for (const name of pickNames(balancer, 10_003, () => NO_KEY)) counts.set(name, (counts.get(name) ?? 0) + 1);
    for (const name of names) assert.equal(counts.get(name), 1429);
  });
});
