import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ConsistentHashBalancer } from '../../src/balancers/consistent-hash.js';
import { buildMaglevTable, MAGLEV_TABLE_SIZE } from '../../src/balancers/maglev.js';
import { addUp, FakeTarget, makeTargets, movedFraction, NO_KEY, pickNames, tally } from './fake-target.js';

const KEYS = 10_000;

function keyed(i: number): { clientAddress: string; hashKey: string } {
  return { clientAddress: '127.0.0.1', hashKey: `session-${i}` };
}

function balancerOf(targets: FakeTarget[]): ConsistentHashBalancer<FakeTarget> {
  const balancer = new ConsistentHashBalancer<FakeTarget>();
  addUp(balancer, targets);
  return balancer;
}

function names(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `server-${i}`);
}

describe('consistent-hash', () => {
  test('maps keys to the same servers on every machine and version', () => {
    const balancer = balancerOf(makeTargets(['web-1', 'web-2', 'web-3', 'web-4', 'web-5']));
    const golden: [string, string][] = [
      ['alice', 'web-3'],
      ['bob', 'web-2'],
      ['carol', 'web-1'],
      ['/api/v1/users', 'web-1'],
      ['session-0001', 'web-3'],
      ['日本', 'web-4'],
    ];
    for (const [key, server] of golden) assert.equal(balancer.pick({ clientAddress: '', hashKey: key })?.name, server, key);
  });

  test('a request without the key is served round robin', () => {
    const balancer = balancerOf(makeTargets(['a', 'b', 'c']));
    assert.equal(pickNames(balancer, 7, () => NO_KEY).join(' '), 'a b c a b c a');
  });

  test('an address key matches source-ip hashing in every spelling', () => {
    const balancer = balancerOf(makeTargets(names(7)));
    const a = balancer.pick({ clientAddress: '', hashKey: '192.0.2.9' });
    assert.equal(balancer.pick({ clientAddress: '', hashKey: '::ffff:192.0.2.9' }), a);
  });

  const weightCases: number[][] = [
    [1, 1, 1, 1],
    [1, 2, 3, 4],
    [10, 1],
    [0.5, 1.5],
  ];
  for (const weights of weightCases) {
    test(`key shares follow weights {${weights.join(', ')}}`, () => {
      const targets = makeTargets(names(weights.length), weights);
      const counts = tally(pickNames(balancerOf(targets), 20_000, keyed));
      const total = weights.reduce((sum, weight) => sum + weight, 0);
      targets.forEach((target, i) => {
        const share = (counts.get(target.name) ?? 0) / 20_000;
        assert.ok(Math.abs(share - weights[i]! / total) < 0.02, `${target.name}: ${share}`);
      });
    });
  }

  for (const n of [3, 5, 10, 50]) {
    test(`removing one of ${n} servers, or adding one, moves about 1/n of ${KEYS} keys`, () => {
      const targets = makeTargets(names(n));
      const balancer = balancerOf(targets);
      const before = pickNames(balancer, KEYS, keyed);
      balancer.remove(targets[1]!);
      const after = pickNames(balancer, KEYS, keyed);
      const removed = movedFraction(before, after);
      assert.ok(removed <= 1 / n + 0.015, `removal moved ${removed}`);
      addUp(balancer, [targets[1]!]);
      assert.deepEqual(pickNames(balancer, KEYS, keyed), before);
      addUp(balancer, [new FakeTarget('server-new')]);
      const added = movedFraction(before, pickNames(balancer, KEYS, keyed));
      assert.ok(added <= 1 / (n + 1) + 0.015, `adding moved ${added}`);
    });
  }

  test('raising one weight moves keys only towards that server, about its gain', () => {
    const targets = makeTargets(names(10));
    const balancer = balancerOf(targets);
    const before = pickNames(balancer, KEYS, keyed);
    targets[3]!.weight = 2;
    balancer.reweight(targets[3]!);
    const after = pickNames(balancer, KEYS, keyed);
    const moved = movedFraction(before, after);
    // Its share goes from 1/10 to 2/11: a gain of about 0.082.
    assert.ok(moved >= 0.06 && moved <= 0.082 + 0.03, `moved ${moved}`);
    assert.ok(Math.abs(tally(after).get('server-3')! / KEYS - 2 / 11) < 0.02);
  });

  test('a server that is down or full sends only its keys elsewhere, deterministically', () => {
    const targets = makeTargets(names(6));
    const balancer = balancerOf(targets);
    const before = pickNames(balancer, KEYS, keyed);
    balancer.setDown(targets[0]!);
    targets[5]!.maxConnections = 0;
    const during = pickNames(balancer, KEYS, keyed);
    for (let i = 0; i < KEYS; i++) {
      if (before[i] === 'server-0' || before[i] === 'server-5') {
        assert.ok(during[i] !== 'server-0' && during[i] !== 'server-5');
      } else {
        assert.equal(during[i], before[i]);
      }
    }
    assert.deepEqual(pickNames(balancer, KEYS, keyed), during, 'the fallback is stable');
    balancer.setUp(targets[0]!);
    targets[5]!.maxConnections = Infinity;
    assert.deepEqual(pickNames(balancer, KEYS, keyed), before);
  });

  test('with most servers down every key still finds the one left', () => {
    const targets = makeTargets(names(40));
    const balancer = balancerOf(targets);
    for (const target of targets.slice(1)) balancer.setDown(target);
    assert.deepEqual([...tally(pickNames(balancer, 2000, keyed)).keys()], ['server-0']);
  });

  test('the Maglev table gives each server entries in proportion to its weight', () => {
    const weights = [1, 2, 3, 4, 10];
    const table = buildMaglevTable(names(5), weights);
    assert.equal(table.length, MAGLEV_TABLE_SIZE);
    const counts = new Array<number>(weights.length).fill(0);
    for (const member of table) counts[member]!++;
    weights.forEach((weight, i) => {
      assert.ok(Math.abs(counts[i]! / MAGLEV_TABLE_SIZE - weight / 20) < 0.001, `member ${i}: ${counts[i]}`);
    });
    assert.deepEqual(buildMaglevTable(names(5), weights), table, 'the build is deterministic');
  });
});
