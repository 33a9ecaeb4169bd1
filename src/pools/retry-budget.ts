import type { Clock } from '../core/clock.js';

/** How far back the budget remembers requests and retries. */
export const RETRY_BUDGET_WINDOW_MS = 10_000;
/** The window is kept as this many slots that expire one at a time. */
const SLOTS = 10;
const SLOT_MS = RETRY_BUDGET_WINDOW_MS / SLOTS;

/**
 * A pool's retry budget (as Finagle's RetryBudget): over the last
 * `RETRY_BUDGET_WINDOW_MS`, retries may be at most `percent` % of the
 * requests, plus `minimumPerSecond` per second so a quiet pool can still fail
 * over. Attempts are counted as they start; the requests are the attempts that
 * were not granted retries.
 *
 * A cap on concurrent retries would refuse a burst — every request in flight
 * to a server that just crashed fails at the same moment, a third of the pool's
 * traffic when one of three servers dies. A rate keeps that burst covered by
 * the budget earned before it, while a pool whose servers all fail still sees
 * at most `percent` % more attempts than requests (plus the floor): no retry
 * storm.
 *
 * Every operation is O(1) amortised: slots expire lazily when time moves on.
 */
export class RetryBudget {
  private readonly attempts = new Float64Array(SLOTS);
  private readonly retries = new Float64Array(SLOTS);
  private attemptTotal = 0;
  private retryTotal = 0;
  /** Index of the slot that counts now, and the monotonic time that slot started. */
  private slot = 0;
  private slotStart: number;

  constructor(private readonly clock: Clock) {
    this.slotStart = clock.now();
  }

  /** Counts an attempt that starts (a first attempt or a granted retry). */
  recordAttempt(): void {
    this.advance();
    this.attempts[this.slot] = (this.attempts[this.slot] as number) + 1;
    this.attemptTotal++;
  }

  /** Takes a retry from the budget; false when the budget is spent. */
  tryRetry(minimumPerSecond: number, percent: number): boolean {
    this.advance();
    const requests = this.attemptTotal - this.retryTotal;
    const allowed = (requests * percent) / 100 + (minimumPerSecond * RETRY_BUDGET_WINDOW_MS) / 1000;
    if (this.retryTotal + 1 > allowed) return false;
    this.retries[this.slot] = (this.retries[this.slot] as number) + 1;
    this.retryTotal++;
    return true;
  }

  /** Expires the slots that fell out of the window since the last call. */
  private advance(): void {
    const elapsed = Math.floor((this.clock.now() - this.slotStart) / SLOT_MS);
    if (elapsed <= 0) return;
    for (let i = 0; i < Math.min(elapsed, SLOTS); i++) {
      this.slot = (this.slot + 1) % SLOTS;
      this.attemptTotal -= this.attempts[this.slot] as number;
      this.retryTotal -= this.retries[this.slot] as number;
      this.attempts[this.slot] = 0;
      this.retries[this.slot] = 0;
    }
    this.slotStart += elapsed * SLOT_MS;
  }
}
