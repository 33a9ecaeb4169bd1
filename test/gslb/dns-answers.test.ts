import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { DnsRecordConfig } from '../../src/config/types.js';
import { seededRandom } from '../../src/core/random.js';
import { computeAnswer, pickWeighted, recordFqdn, sameAnswer, staticValues } from '../../src/gslb/dns-answers.js';

const targets = [
  { site: 'eu', address: '192.0.2.1', weight: 1 },
  { site: 'us', address: '192.0.2.2', weight: 3 },
  { site: 'ap', address: '192.0.2.3', weight: 0 },
];

function record(policy: DnsRecordConfig['policy'], type: DnsRecordConfig['type'] = 'A', list = targets): DnsRecordConfig {
  return { name: 'www', type, policy, targets: list };
}

const activeSet = (...sites: string[]) => (site: string) => sites.includes(site);
const addresses = (answer: ReturnType<typeof computeAnswer>) => answer.targets.map((target) => target.address);

describe('recordFqdn', () => {
  test('relative names join the zone; @ is the apex; absolute names stay', () => {
    assert.equal(recordFqdn('www', 'Example.COM.'), 'www.example.com');
    assert.equal(recordFqdn('@', 'example.com'), 'example.com');
    assert.equal(recordFqdn('a.b', 'example.com'), 'a.b.example.com');
    assert.equal(recordFqdn('host.example.com.', 'example.com'), 'host.example.com');
  });
});

describe('computeAnswer by policy', () => {
  const cases: { policy: DnsRecordConfig['policy']; active: string[]; expected: string[]; allDown: boolean }[] = [
    { policy: 'failover', active: ['eu', 'us', 'ap'], expected: ['192.0.2.1'], allDown: false },
    { policy: 'failover', active: ['us', 'ap'], expected: ['192.0.2.2'], allDown: false },
    { policy: 'failover', active: ['ap'], expected: ['192.0.2.3'], allDown: false },
    { policy: 'failover', active: [], expected: ['192.0.2.1'], allDown: true },
    { policy: 'all-healthy', active: ['eu', 'ap'], expected: ['192.0.2.1', '192.0.2.3'], allDown: false },
    { policy: 'all-healthy', active: [], expected: ['192.0.2.1', '192.0.2.2', '192.0.2.3'], allDown: true },
    { policy: 'weighted', active: ['eu', 'us', 'ap'], expected: ['192.0.2.1', '192.0.2.2'], allDown: false },
    { policy: 'weighted', active: ['ap'], expected: ['192.0.2.3'], allDown: false },
    { policy: 'weighted', active: [], expected: ['192.0.2.1', '192.0.2.2'], allDown: true },
  ];
  for (const c of cases) {
    test(`${c.policy} with [${c.active.join(',')}] active → ${c.expected.join(',')}`, () => {
      const answer = computeAnswer(record(c.policy), 'example.com', activeSet(...c.active));
      assert.deepEqual(addresses(answer), c.expected);
      assert.equal(answer.allTargetsDown, c.allDown);
      assert.equal(answer.fqdn, 'www.example.com');
    });
  }

  test('with no active target, healthy targets still in failback hysteresis serve before the configured order', () => {
    const answer = computeAnswer(record('failover'), 'example.com', activeSet(), activeSet('us'));
    assert.deepEqual(addresses(answer), ['192.0.2.2']);
    assert.equal(answer.allTargetsDown, false);
    const preferActive = computeAnswer(record('failover'), 'example.com', activeSet('us'), activeSet('eu', 'us'));
    assert.deepEqual(addresses(preferActive), ['192.0.2.2'], 'an active site keeps traffic while eu recovers');
  });

  test('a CNAME has a single value even under all-healthy', () => {
    const list = [
      { site: 'eu', address: 'eu.cdn.example.net.', weight: 1 },
      { site: 'us', address: 'us.cdn.example.net', weight: 1 },
    ];
    const answer = computeAnswer(record('all-healthy', 'CNAME', list), 'example.com', activeSet('eu', 'us'));
    assert.deepEqual(addresses(answer), ['eu.cdn.example.net']);
  });

  test('weight-0 targets are used only when no active target has weight', () => {
    const answer = computeAnswer(record('weighted'), 'example.com', activeSet('ap'));
    assert.deepEqual(answer.targets.map((target) => target.weight), [1]);
  });
});

describe('pickWeighted', () => {
  test('draws in proportion to weight', () => {
    const answer = computeAnswer(record('weighted'), 'example.com', activeSet('eu', 'us'));
    const random = seededRandom(99);
    const counts = new Map<string, number>();
    const draws = 20_000;
    for (let i = 0; i < draws; i++) {
      const target = pickWeighted(answer.targets, random);
      counts.set(target.address, (counts.get(target.address) ?? 0) + 1);
    }
    const euShare = (counts.get('192.0.2.1') ?? 0) / draws;
    assert.ok(Math.abs(euShare - 0.25) < 0.02, `eu share ${euShare}`);
    assert.equal(counts.get('192.0.2.3'), undefined);
  });
});

describe('staticValues and sameAnswer', () => {
  test('an external server gets every weighted candidate, or the heaviest CNAME', () => {
    const weighted = computeAnswer(record('weighted'), 'example.com', activeSet('eu', 'us'));
    assert.deepEqual(staticValues(weighted), ['192.0.2.1', '192.0.2.2']);
    const cnames = [
      { site: 'eu', address: 'a.example.net', weight: 1 },
      { site: 'us', address: 'b.example.net', weight: 5 },
    ];
    assert.deepEqual(staticValues(computeAnswer(record('weighted', 'CNAME', cnames), 'example.com', activeSet('eu', 'us'))), ['b.example.net']);
  });

  test('compares content, including the fail-open flag', () => {
    const a = computeAnswer(record('failover'), 'example.com', activeSet('eu'));
    const b = computeAnswer(record('failover'), 'example.com', activeSet('eu', 'us'));
    const down = computeAnswer(record('failover'), 'example.com', activeSet());
    assert.ok(sameAnswer(a, b));
    assert.ok(!sameAnswer(a, down), 'same address but answering configured order');
    assert.ok(!sameAnswer(a, computeAnswer(record('failover'), 'example.com', activeSet('us'))));
  });
});
