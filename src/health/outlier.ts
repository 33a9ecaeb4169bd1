/**
 * Passive health checking: ejects a server that fails live traffic.
 *
 * - `consecutiveFailures` failures in a row (connect errors, resets,
 *   timeouts, 5xx — the caller decides what counts) eject the server.
 * - The n-th ejection lasts `ejectionTime × n`. The multiplier n drops by one
 *   for every full `ejectionTime` the server then stays in service, so a
 *   server that failed once long ago starts again from `ejectionTime`.
 * - At most `maxEjectedPercent` of the pool is ejected at once: an ejection is
 *   refused when afterwards more than that share would be out, that is, at
 *   most floor(pool size × maxEjectedPercent / 100) servers are ejected — except
 *   that, as in Envoy, one server may always be ejected when none is (unless
 *   `maxEjectedPercent` is 0, which turns ejection off). A refused server stays
 *   a candidate: its next failure tries again.
 * - An ejected server returns when its time is up (`expired`) or when the
 *   active check says it is healthy (`returnNow`).
 *
 * The detector owns no timers: the pool asks `nextReturnAt()` and calls
 * `expired()` then. All operations are O(1) except `expired` and
 * `nextReturnAt`, which are O(pool size).
 */
import type { OutlierDetectionConfig } from '../config/types.js';
import { systemClock, type Clock } from '../core/clock.js';

export interface OutlierEvent<S> {
  readonly type: 'ejected' | 'returned';
  readonly server: S;
  /** `5 consecutive failures`, `ejection time elapsed`, `active check healthy`. */
  readonly reason: string;
  /** The multiplier of this ejection (ejected) or of the last one (returned). */
  readonly ejections: number;
  /** Ejected only: how long this ejection lasts, in milliseconds. */
  readonly durationMs?: number;
}

export interface OutlierDetectorOptions<S> {
  readonly clock?: Clock;
  /** Called synchronously on every ejection and return; must not throw. */
  readonly onEvent?: (event: OutlierEvent<S>) => void;
}

export interface OutlierStats {
  /** Ejections made since the detector was created. */
  readonly ejections: number;
  /** Ejections refused because of `maxEjectedPercent`. */
  readonly refused: number;
  /** Servers ejected now. */
  readonly ejected: number;
}

interface Entry {
  failures: number;
  /** Monotonic time the current ejection ends; undefined when in service. */
  until: number | undefined;
  multiplier: number;
  /** Monotonic time the server last returned to service. */
  returnedAt: number | undefined;
}

export class OutlierDetector<S> {
  private readonly entries = new Map<S, Entry>();
  private readonly config: OutlierDetectionConfig;
  private readonly clock: Clock;
  private readonly onEvent: ((event: OutlierEvent<S>) => void) | undefined;
  private ejectedNow = 0;
  private ejectionsTotal = 0;
  private refusedTotal = 0;

  constructor(config: OutlierDetectionConfig, options: OutlierDetectorOptions<S> = {}) {
    this.config = config;
    this.clock = options.clock ?? systemClock;
    this.onEvent = options.onEvent;
  }

  get size(): number {
    return this.entries.size;
  }

  get stats(): OutlierStats {
    return { ejections: this.ejectionsTotal, refused: this.refusedTotal, ejected: this.ejectedNow };
  }

  /** Adds `server` to the pool the percentage is computed over. */
  add(server: S): void {
    if (!this.entries.has(server)) {
      this.entries.set(server, { failures: 0, until: undefined, multiplier: 0, returnedAt: undefined });
    }
  }

  /** Forgets `server`; if it was ejected, it no longer counts as ejected. */
  remove(server: S): void {
    const entry = this.entries.get(server);
    if (entry === undefined) return;
    if (entry.until !== undefined) this.ejectedNow--;
    this.entries.delete(server);
  }

  isEjected(server: S): boolean {
    return this.entries.get(server)?.until !== undefined;
  }

  /** Monotonic time the ejection of `server` ends, or undefined when it is in service. */
  ejectedUntil(server: S): number | undefined {
    return this.entries.get(server)?.until;
  }

  /** Consecutive failures counted for `server` since its last success or return. */
  consecutiveFailures(server: S): number {
    return this.entries.get(server)?.failures ?? 0;
  }

  /** A request or connection to `server` succeeded. Unknown servers are ignored. */
  recordSuccess(server: S): void {
    const entry = this.entries.get(server);
    if (entry !== undefined) entry.failures = 0;
  }

  /**
   * A request or connection to `server` failed. Returns true when this
   * failure ejected it. Failures of ejected or unknown servers (late answers
   * after an ejection or a removal) are ignored.
   */
  recordFailure(server: S): boolean {
    const entry = this.entries.get(server);
    if (entry === undefined || entry.until !== undefined) return false;
    entry.failures++;
    if (entry.failures < this.config.consecutiveFailures) return false;
    if (!this.roomForOneMore()) {
      this.refusedTotal++;
      return false;
    }
    const now = this.clock.now();
    if (entry.returnedAt !== undefined) {
      const served = Math.floor((now - entry.returnedAt) / this.config.ejectionTime);
      entry.multiplier = Math.max(0, entry.multiplier - served);
    }
    entry.multiplier++;
    const durationMs = this.config.ejectionTime * entry.multiplier;
    entry.until = now + durationMs;
    this.ejectedNow++;
    this.ejectionsTotal++;
    const reason = `${entry.failures} consecutive failures`;
    entry.failures = 0;
    this.onEvent?.({ type: 'ejected', server, reason, ejections: entry.multiplier, durationMs });
    return true;
  }

  /** The earliest time an ejected server is due back, or undefined when none is ejected. */
  nextReturnAt(): number | undefined {
    let next: number | undefined;
    for (const entry of this.entries.values()) {
      if (entry.until !== undefined && (next === undefined || entry.until < next)) next = entry.until;
    }
    return next;
  }

  /** Returns to service every server whose ejection ended by `now`, and lists them. */
  expired(now: number = this.clock.now()): S[] {
    const returned: S[] = [];
    for (const [server, entry] of this.entries) {
      if (entry.until !== undefined && entry.until <= now) {
        this.restore(server, entry, now, 'ejection time elapsed');
        returned.push(server);
      }
    }
    return returned;
  }

  /**
   * Returns `server` to service before its time, because the active check
   * found it healthy. Returns false when it was not ejected. The ejection
   * multiplier is kept, so a flapping server is still ejected for longer.
   */
  returnNow(server: S, reason = 'active check healthy'): boolean {
    const entry = this.entries.get(server);
    if (entry === undefined || entry.until === undefined) return false;
    this.restore(server, entry, this.clock.now(), reason);
    return true;
  }

  private roomForOneMore(): boolean {
    const percent = this.config.maxEjectedPercent;
    if (percent <= 0) return false;
    if (this.ejectedNow === 0) return true;
    // Integer form of (ejected + 1) / size <= percent / 100.
    return (this.ejectedNow + 1) * 100 <= percent * this.entries.size;
  }

  private restore(server: S, entry: Entry, now: number, reason: string): void {
    entry.until = undefined;
    entry.failures = 0;
    entry.returnedAt = now;
    this.ejectedNow--;
    this.onEvent?.({ type: 'returned', server, reason, ejections: entry.multiplier });
  }
}
