/**
 * Time as logic sees it. Algorithms and detectors take a Clock so tests can
 * drive them with simulated time instead of sleeping.
 */
export interface Clock {
  /** Monotonic milliseconds; only differences are meaningful. */
  now(): number;
  /** Wall-clock milliseconds since the Unix epoch, for records people read. */
  wallNow(): number;
}

export const systemClock: Clock = {
  now: () => performance.now(),
  wallNow: () => Date.now(),
};

/** A clock that moves only when told to; for tests and simulations. */
export class ManualClock implements Clock {
  private monotonic: number;
  private readonly epochOffset: number;

  constructor(start = 0, epoch = Date.UTC(2026, 0, 1)) {
    this.monotonic = start;
    this.epochOffset = epoch - start;
  }

  now(): number {
    return this.monotonic;
  }

  wallNow(): number {
    return this.monotonic + this.epochOffset;
  }

  advance(ms: number): void {
    this.monotonic += ms;
  }
}
