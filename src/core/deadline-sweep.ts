/** Something with deadlines, checked from outside. */
export interface Timed {
  /** Acts on whatever deadline passed by `now` (performance.now()). */
  checkDeadline(now: number): void;
}

/**
 * A set of connections whose deadlines one interval checks while the set is
 * not empty, as Node's HTTP server does, instead of a timer per connection
 * and request: the precision is the interval, the cost per request nothing.
 */
export class DeadlineSweep<T extends Timed> implements Iterable<T> {
  private readonly members = new Set<T>();
  private timer: NodeJS.Timeout | undefined;
  private intervalMs = 0;

  /**
   * Adds `member`, to be checked at least every `intervalMs`. While others
   * remain the sweep only ever runs more often (they may need the shorter
   * interval of settings since replaced); it stops when the set empties.
   */
  add(member: T, intervalMs: number): void {
    this.members.add(member);
    if (this.timer !== undefined && intervalMs >= this.intervalMs) return;
    clearInterval(this.timer);
    this.intervalMs = intervalMs;
    this.timer = setInterval(() => {
      const now = performance.now();
      for (const each of this.members) each.checkDeadline(now);
    }, intervalMs);
    this.timer.unref();
  }

  delete(member: T): void {
    this.members.delete(member);
    if (this.members.size > 0 || this.timer === undefined) return;
    clearInterval(this.timer);
    this.timer = undefined;
  }

  get size(): number {
    return this.members.size;
  }

  [Symbol.iterator](): Iterator<T> {
    return this.members.values();
  }
}
