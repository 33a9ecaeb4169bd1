import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { SourceIpBalancer } from '../../src/balancers/source-ip.js';
import { addUp, FakeTarget, makeTargets, movedFraction, pickNames, tally } from './fake-target.js';

const SERVERS = ['web-1', 'web-2', 'web-3', 'web-4', 'web-5'];

function balancerOf(targets: FakeTarget[]): SourceIpBalancer<FakeTarget> {
  const balancer = new SourceIpBalancer<FakeTarget>();
  addUp(balancer, targets);
  return balancer;
}

/** 10,000 distinct IPv4 clients, and some IPv6 ones, as contexts. */
function client(i: number): { clientAddress: string; hashKey: undefined } {
  const address = i % 5 === 4 ? `2001:db8:${(i >> 16).toString(16)}::${(i & 0xffff).toString(16)}` : `198.${18 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`;
  return { clientAddress: address, hashKey: undefined };
}

const CLIENTS = 10_000;

describe('source-ip', () => {
  test('maps addresses to the same servers on every machine and version', () => {
    // Fixed expectations: a change here would break stickiness across a rolling upgrade.
    const balancer = balancerOf(makeTargets(SERVERS));
    const golden: [string, string][] = [
      ['192.0.2.1', 'web-1'],
      ['192.0.2.2', 'web-3'],
      ['198.51.100.7', 'web-5'],
      ['203.0.113.200', 'web-2'],
      ['2001:db8::1', 'web-4'],
      ['2001:db8::2', 'web-1'],
      ['10.1.2.3', 'web-1'],
      ['172.16.0.9', 'web-3'],
    ];
    for (const [address, server] of golden) {
      assert.equal(balancer.pick({ clientAddress: address, hashKey: undefined })?.name, server, address);
    }
  });

  test('two instances agree whatever order their servers were added in', () => {
    const first = balancerOf(makeTargets(SERVERS));
    const second = balancerOf(makeTargets([...SERVERS].reverse()));
    assert.deepEqual(pickNames(first, CLIENTS, client), pickNames(second, CLIENTS, client));
  });

  test('one client always gets one server, in every spelling of its address', () => {
    const balancer = balancerOf(makeTargets(SERVERS));
    for (const [a, b] of [
      ['192.0.2.44', '::ffff:192.0.2.44'],
      ['2001:db8::7', '2001:0DB8:0:0:0:0:0:7'],
      ['fe80::9', 'fe80::9%lo'],
    ] as const) {
      const server = balancer.pick({ clientAddress: a, hashKey: undefined });
      for (let i = 0; i < 10; i++) {
        assert.equal(balancer.pick({ clientAddress: a, hashKey: undefined }), server);
        assert.equal(balancer.pick({ clientAddress: b, hashKey: undefined }), server);
      }
    }
  });

  test('clients spread evenly, and by weight', () => {
    const even = tally(pickNames(balancerOf(makeTargets(SERVERS)), CLIENTS, client));
    for (const name of SERVERS) assert.ok(Math.abs(even.get(name)! / CLIENTS - 0.2) < 0.03, `${name}: ${even.get(name)}`);
    const weighted = tally(pickNames(balancerOf(makeTargets(['a', 'b'], [1, 3])), CLIENTS, client));
    assert.ok(Math.abs(weighted.get('b')! / CLIENTS - 0.75) < 0.03, `b: ${weighted.get('b')}`);
  });

  test('when a server fails only its clients move, and they come back', () => {
    const targets = makeTargets(SERVERS);
    const balancer = balancerOf(targets);
    const before = pickNames(balancer, CLIENTS, client);
    balancer.setDown(targets[2]!);
    const during = pickNames(balancer, CLIENTS, client);
    for (let i = 0; i < CLIENTS; i++) {
      if (before[i] === 'web-3') assert.notEqual(during[i], 'web-3');
      else assert.equal(during[i], before[i], `client ${i} of a healthy server moved`);
    }
    const movedTo = tally(during.filter((_, i) => before[i] === 'web-3'));
    assert.equal(movedTo.size, 4, 'the failed server’s clients spread over all the others');
    balancer.setUp(targets[2]!);
    assert.deepEqual(pickNames(balancer, CLIENTS, client), before);
  });

  test('removing or adding a server moves about 1/n of the clients', () => {
    const targets = makeTargets(['s0', 's1', 's2', 's3', 's4', 's5', 's6', 's7', 's8', 's9']);
    const balancer = balancerOf(targets);
    const before = pickNames(balancer, CLIENTS, client);
    balancer.remove(targets[4]!);
    const removed = movedFraction(before, pickNames(balancer, CLIENTS, client));
    assert.ok(removed <= 1 / 10 + 0.015, `removal moved ${removed}`);
    addUp(balancer, [targets[4]!]);
    assert.deepEqual(pickNames(balancer, CLIENTS, client), before, 'adding it back restores the mapping');
    addUp(balancer, [new FakeTarget('s10')]);
    const added = movedFraction(before, pickNames(balancer, CLIENTS, client));
    assert.ok(added <= 1 / 11 + 0.015, `adding moved ${added}`);
  });

  test('a context without an address is served round robin', () => {
    const balancer = balancerOf(makeTargets(['a', 'b', 'c']));
    const names = pickNames(balancer, 6, () => ({ clientAddress: '', hashKey: undefined }));
    assert.equal(names.join(' '), 'a b c a b c');
  });
});
