import type { ManualClock } from '../../src/core/clock.js';
import type { TimerHandle, Timers } from '../../src/core/timers.js';

interface Pending {
  readonly id: number;
  readonly at: number;
  readonly callback: () => void;
}

/** Lets promise callbacks and I/O callbacks queued so far run. */
export function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * Timers driven by a ManualClock: `advance` fires due timers in time order,
 * moving the clock to each one and letting the promises they start settle.
 */
export class ManualTimers implements Timers {
  private readonly pending: Pending[] = [];
  private nextId = 1;

  constructor(private readonly clock: ManualClock) {}

  get count(): number {
    return this.pending.length;
  }

  setTimeout(callback: () => void, delayMs: number): TimerHandle {
    const id = this.nextId++;
    this.pending.push({ id, at: this.clock.now() + Math.max(0, delayMs), callback });
    return id;
  }

  clearTimeout(handle: TimerHandle): void {
    const index = this.pending.findIndex((timer) => timer.id === handle);
    if (index >= 0) this.pending.splice(index, 1);
  }

  async advance(ms: number): Promise<void> {
    const target = this.clock.now() + ms;
    await settle();
    for (;;) {
      let next: Pending | undefined;
      for (const timer of this.pending) {
        if (timer.at <= target && (next === undefined || timer.at < next.at || (timer.at === next.at && timer.id < next.id))) {
          next = timer;
        }
      }
      if (next === undefined) break;
      this.pending.splice(this.pending.indexOf(next), 1);
      if (next.at > this.clock.now()) this.clock.advance(next.at - this.clock.now());
      next.callback();
      await settle();
    }
    if (target > this.clock.now()) this.clock.advance(target - this.clock.now());
  }
}
