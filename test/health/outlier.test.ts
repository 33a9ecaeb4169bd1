import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../src/core/clock.js';
import { OutlierDetector, type OutlierEvent } from '../../src/health/outlier.js';
import { outlierConfig } from './configs.js';

function detector(servers: readonly string[], overrides: Parameters<typeof outlierConfig>[0] = {}) {
  const clock = new ManualClock(1_000);
  const events: OutlierEvent<string>[] = [];
  const d = new OutlierDetector<string>(outlierConfig(overrides), { clock, onEvent: (e) => events.push(e) });
  for (const server of servers) d.add(server);
  return { d, clock, events };
}

function failTimes(d: OutlierDetector<string>, server: string, times: number): boolean[] {
  const results: boolean[] = [];
  for (let i = 0; i < times; i++) results.push(d.recordFailure(server));
  return results;
}

describe('OutlierDetector', () => {
  test('ejects after consecutiveFailures failures in a row, with the reason', () => {
    const { d, events, clock } = detector(['a', 'b', 'c', 'd'], { consecutiveFailures: 5 });
    assert.deepEqual(failTimes(d, 'a', 5), [false, false, false, false, true]);
    assert.equal(d.isEjected('a'), true);
    assert.equal(d.ejectedUntil('a'), clock.now() + 10_000);
    assert.deepEqual(events, [{ type: 'ejected', server: 'a', reason: '5 consecutive failures', ejections: 1, durationMs: 10_000 }]);
    assert.deepEqual(d.stats, { ejections: 1, refused: 0, ejected: 1 });
  });

  test('a success resets the count', () => {
    const { d } = detector(['a', 'b'], { consecutiveFailures: 3 });
    failTimes(d, 'a', 2);
    d.recordSuccess('a');
    assert.deepEqual(failTimes(d, 'a', 2), [false, false]);
    assert.equal(d.consecutiveFailures('a'), 2);
    assert.equal(d.recordFailure('a'), true);
  });

  test('the n-th ejection lasts ejectionTime × n and returns on time', () => {
    const { d, clock, events } = detector(['a', 'b', 'c', 'd'], { consecutiveFailures: 1, ejectionTime: 1_000 });
    for (let n = 1; n <= 4; n++) {
      const start = clock.now();
      assert.equal(d.recordFailure('a'), true);
      assert.equal(d.nextReturnAt(), start + 1_000 * n);
      clock.advance(1_000 * n - 1);
      assert.deepEqual(d.expired(), [], 'not before its time');
      assert.equal(d.isEjected('a'), true);
      clock.advance(1);
      assert.deepEqual(d.expired(), ['a']);
      assert.equal(d.isEjected('a'), false);
      assert.equal(d.nextReturnAt(), undefined);
    }
    const returned = events.filter((e) => e.type === 'returned');
    assert.deepEqual(
      returned.map((e) => [e.reason, e.ejections]),
      [
        ['ejection time elapsed', 1],
        ['ejection time elapsed', 2],
        ['ejection time elapsed', 3],
        ['ejection time elapsed', 4],
      ],
    );
    assert.deepEqual(
      events.filter((e) => e.type === 'ejected').map((e) => e.durationMs),
      [1_000, 2_000, 3_000, 4_000],
    );
  });

  test('the multiplier drops by one per ejectionTime spent in service', () => {
    const { d, clock } = detector(['a', 'b'], { consecutiveFailures: 1, ejectionTime: 1_000 });
    d.recordFailure('a'); // ×1
    clock.advance(1_000);
    d.expired();
    d.recordFailure('a'); // ×2
    clock.advance(2_000);
    d.expired();
    d.recordFailure('a'); // ×3
    clock.advance(3_000);
    d.expired();
    clock.advance(1_999); // one full ejectionTime in service: 3 - 1 = 2, so this ejection is ×3
    d.recordFailure('a');
    assert.equal(d.ejectedUntil('a'), clock.now() + 3_000);
    clock.advance(3_000);
    d.expired();
    clock.advance(60_000); // long healthy: back to ×1
    d.recordFailure('a');
    assert.equal(d.ejectedUntil('a'), clock.now() + 1_000);
  });

  test('returnNow ends an ejection early and keeps the multiplier', () => {
    const { d, clock, events } = detector(['a', 'b'], { consecutiveFailures: 1, ejectionTime: 5_000 });
    d.recordFailure('a');
    clock.advance(100);
    assert.equal(d.returnNow('a'), true);
    assert.equal(d.returnNow('a'), false, 'already back');
    assert.equal(d.isEjected('a'), false);
    assert.deepEqual(events.at(-1), { type: 'returned', server: 'a', reason: 'active check healthy', ejections: 1 });
    d.recordFailure('a');
    assert.equal(d.ejectedUntil('a'), clock.now() + 10_000, 'second ejection is ×2');
    assert.deepEqual(d.expired(clock.now() + 9_999), []);
    assert.deepEqual(d.expired(clock.now() + 10_000), ['a']);
  });

  test('never ejects more than maxEjectedPercent of the pool; a refused server is retried on its next failure', () => {
    const servers = Array.from({ length: 10 }, (_, i) => `s${i}`);
    const { d, clock } = detector(servers, { consecutiveFailures: 2, maxEjectedPercent: 30, ejectionTime: 1_000 });
    for (const server of servers) failTimes(d, server, 2);
    assert.deepEqual(
      servers.filter((s) => d.isEjected(s)),
      ['s0', 's1', 's2'],
    );
    assert.deepEqual(d.stats, { ejections: 3, refused: 7, ejected: 3 });
    assert.equal(d.recordFailure('s3'), false, 'still no room');
    clock.advance(1_000);
    assert.deepEqual(d.expired(), ['s0', 's1', 's2']);
    assert.equal(d.recordFailure('s3'), true, 'room again: the next failure ejects');
  });

  const rounding: readonly [size: number, percent: number, max: number][] = [
    [3, 50, 1], // floor(1.5)
    [4, 50, 2],
    [10, 10, 1],
    [10, 19, 1],
    [10, 20, 2],
    [1, 10, 1], // one server may always be ejected when none is
    [5, 1, 1],
    [4, 100, 4],
    [4, 0, 0], // 0 turns ejection off
  ];
  for (const [size, percent, max] of rounding) {
    test(`pool of ${size} with maxEjectedPercent ${percent} ejects at most ${max}`, () => {
      const servers = Array.from({ length: size }, (_, i) => `s${i}`);
      const { d } = detector(servers, { consecutiveFailures: 1, maxEjectedPercent: percent });
      for (const server of servers) d.recordFailure(server);
      assert.equal(d.stats.ejected, max);
      assert.equal(d.stats.refused, size - max);
    });
  }

  test('failures of ejected, unknown or removed servers are ignored; removing an ejected server frees its slot', () => {
    const { d } = detector(['a', 'b', 'c', 'd'], { consecutiveFailures: 1, maxEjectedPercent: 25 });
    assert.equal(d.recordFailure('zz'), false);
    d.recordSuccess('zz');
    assert.equal(d.recordFailure('a'), true);
    assert.equal(d.recordFailure('a'), false);
    assert.equal(d.recordFailure('b'), false, '25% of 4 is one server');
    d.remove('a');
    assert.equal(d.stats.ejected, 0);
    assert.equal(d.recordFailure('a'), false);
    assert.equal(d.recordFailure('b'), true);
    assert.equal(d.size, 3);
  });

  test('nextReturnAt is the earliest of several ejections', () => {
    const { d, clock } = detector(['a', 'b', 'c', 'd'], { consecutiveFailures: 1, ejectionTime: 1_000, maxEjectedPercent: 100 });
    d.recordFailure('a');
    clock.advance(1_000);
    d.expired();
    d.recordFailure('a'); // until now + 2000
    clock.advance(500);
    d.recordFailure('b'); // until now + 1000, earlier
    assert.equal(d.nextReturnAt(), clock.now() + 1_000);
    clock.advance(1_000);
    assert.deepEqual(d.expired(), ['b']);
    assert.equal(d.nextReturnAt(), clock.now() + 500);
  });
});
