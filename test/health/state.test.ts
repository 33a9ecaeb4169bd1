import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { RiseFall, type RiseFallOptions } from '../../src/health/state.js';
import type { HealthStatus } from '../../src/health/types.js';

interface Row {
  readonly name: string;
  readonly options: RiseFallOptions;
  /** `+` success, `-` failure. */
  readonly results: string;
  /** State after each result. */
  readonly states: readonly HealthStatus[];
}

const rise2fall3 = { healthyThreshold: 2, unhealthyThreshold: 3, initialState: 'unknown' } as const;

const rows: readonly Row[] = [
  { name: 'unknown becomes healthy after the first success', options: rise2fall3, results: '+', states: ['healthy'] },
  {
    name: 'unknown needs healthyThreshold successes with firstRise: threshold',
    options: { ...rise2fall3, firstRise: 'threshold' },
    results: '++',
    states: ['unknown', 'healthy'],
  },
  {
    name: 'unknown becomes unhealthy after unhealthyThreshold failures',
    options: rise2fall3,
    results: '---',
    states: ['unknown', 'unknown', 'unhealthy'],
  },
  {
    name: 'healthy falls after unhealthyThreshold consecutive failures only',
    options: rise2fall3,
    results: '+--+---',
    states: ['healthy', 'healthy', 'healthy', 'healthy', 'healthy', 'healthy', 'unhealthy'],
  },
  {
    name: 'unhealthy rises after healthyThreshold consecutive successes only',
    options: rise2fall3,
    results: '---+-++',
    states: ['unknown', 'unknown', 'unhealthy', 'unhealthy', 'unhealthy', 'unhealthy', 'healthy'],
  },
  {
    name: 'initialState healthy starts healthy and falls normally',
    options: { ...rise2fall3, initialState: 'healthy' },
    results: '--+---',
    states: ['healthy', 'healthy', 'healthy', 'healthy', 'healthy', 'unhealthy'],
  },
  {
    name: 'thresholds of 1 flip on every change',
    options: { healthyThreshold: 1, unhealthyThreshold: 1, initialState: 'unknown' },
    results: '+-+-',
    states: ['healthy', 'unhealthy', 'healthy', 'unhealthy'],
  },
  {
    name: 'thresholds below 1 behave as 1',
    options: { healthyThreshold: 0, unhealthyThreshold: 0, initialState: 'unknown' },
    results: '-+',
    states: ['unhealthy', 'healthy'],
  },
];

describe('RiseFall', () => {
  for (const row of rows) {
    test(row.name, () => {
      const machine = new RiseFall(row.options);
      const seen: HealthStatus[] = [];
      for (const symbol of row.results) {
        const before = machine.state;
        const transition = machine.record(symbol === '+', symbol === '+' ? '200' : 'status 503');
        if (transition === null) assert.equal(machine.state, before, 'no transition means no change');
        else {
          assert.equal(transition.from, before);
          assert.equal(transition.to, machine.state);
          assert.notEqual(transition.from, transition.to);
        }
        seen.push(machine.state);
      }
      assert.deepEqual(seen, row.states);
    });
  }

  test('a transition carries the reason of the result that caused it', () => {
    const machine = new RiseFall(rise2fall3);
    assert.deepEqual(machine.record(true, '204'), { from: 'unknown', to: 'healthy', reason: '204' });
    assert.equal(machine.record(false, 'status 500'), null);
    assert.equal(machine.record(false, 'timeout'), null);
    assert.deepEqual(machine.record(false, 'refused'), { from: 'healthy', to: 'unhealthy', reason: 'refused' });
    assert.equal(machine.consecutiveFailures, 3);
    assert.equal(machine.record(true, '200'), null);
    assert.equal(machine.consecutiveSuccesses, 1);
    assert.equal(machine.consecutiveFailures, 0);
    assert.deepEqual(machine.record(true, '200'), { from: 'unhealthy', to: 'healthy', reason: '200' });
  });

  test('repeated results in the same state never produce a transition', () => {
    const machine = new RiseFall({ ...rise2fall3, initialState: 'healthy' });
    for (let i = 0; i < 100; i++) assert.equal(machine.record(true, '200'), null);
    for (let i = 0; i < 2; i++) assert.equal(machine.record(false, 'timeout'), null);
    assert.notEqual(machine.record(false, 'timeout'), null);
    for (let i = 0; i < 100; i++) assert.equal(machine.record(false, 'timeout'), null);
  });
});
