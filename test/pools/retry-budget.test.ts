import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ManualClock } from '../../src/core/clock.js';
import { RETRY_BUDGET_WINDOW_MS, RetryBudget } from '../../src/pools/retry-budget.js';

/** Takes retries until the budget refuses one; returns how many it granted (bounded). */
function drain(budget: RetryBudget, minimumPerSecond: number, percent: number): number {
  let granted = 0;
  while (granted < 100_000 && budget.tryRetry(minimumPerSecond, percent)) {
    budget.recordAttempt();
    granted++;
  }
  return granted;
}

describe('RetryBudget', () => {
  test('a quiet pool may still retry: the floor is minimumPerSecond over the window', () => {
    const budget = new RetryBudget(new ManualClock());
    assert.equal(drain(budget, 3, 20), (3 * RETRY_BUDGET_WINDOW_MS) / 1000);
  });

  test('retries are a share of the requests, not of the attempts retries add', () => {
    const budget = new RetryBudget(new ManualClock());
    for (let i = 0; i < 1000; i++) budget.recordAttempt();
    assert.equal(drain(budget, 0, 20), 200);
    assert.equal(budget.tryRetry(0, 20), false);
  });

  test('a burst of retries is covered by the budget earned before it', () => {
    const clock = new ManualClock();
    const budget = new RetryBudget(clock);
    // Steady traffic: 100 requests per 100 ms for 2 s.
    for (let step = 0; step < 20; step++) {
      for (let i = 0; i < 100; i++) budget.recordAttempt();
      clock.advance(100);
    }
    // A third of 50 requests in flight fail at once: far more than 20 % of those in flight.
    let granted = 0;
    for (let i = 0; i < 17; i++) if (budget.tryRetry(0, 20)) granted++;
    assert.equal(granted, 17);
  });

  test('requests and retries leave the budget after the window', () => {
    const clock = new ManualClock();
    const budget = new RetryBudget(clock);
    for (let i = 0; i < 100; i++) budget.recordAttempt();
    assert.equal(drain(budget, 0, 10), 10);
    clock.advance(RETRY_BUDGET_WINDOW_MS / 2);
    assert.equal(budget.tryRetry(0, 10), false, 'half a window later the old requests still count, and so do the retries');
    clock.advance(RETRY_BUDGET_WINDOW_MS);
    assert.equal(budget.tryRetry(0, 10), false, 'a window later nothing is left to earn retries from');
    for (let i = 0; i < 50; i++) budget.recordAttempt();
    assert.equal(drain(budget, 0, 10), 5, 'new traffic earns a fresh budget; the old retries no longer weigh');
  });

  test('a long idle time clears everything in one step', () => {
    const clock = new ManualClock();
    const budget = new RetryBudget(clock);
    for (let i = 0; i < 1000; i++) budget.recordAttempt();
    clock.advance(10 * RETRY_BUDGET_WINDOW_MS);
    assert.equal(drain(budget, 1, 20), RETRY_BUDGET_WINDOW_MS / 1000);
  });
});
