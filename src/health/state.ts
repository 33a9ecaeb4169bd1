/**
 * The rise/fall state machine of one server under active health checking.
 *
 * - `healthy` → `unhealthy` after `unhealthyThreshold` consecutive failures (fall);
 * - `unhealthy` → `healthy` after `healthyThreshold` consecutive successes (rise);
 * - `unknown` (the start, unless `initialState: healthy`) → `healthy` after the
 *   first success (`firstRise: 'first-success'`, the default) or after
 *   `healthyThreshold` successes (`firstRise: 'threshold'`), and → `unhealthy`
 *   after `unhealthyThreshold` consecutive failures.
 *
 * A result that breaks a streak resets the other counter. O(1) per result.
 */
import type { HealthStatus } from './types.js';

export interface RiseFallOptions {
  readonly healthyThreshold: number;
  readonly unhealthyThreshold: number;
  readonly initialState: 'unknown' | 'healthy';
  /** Successes an `unknown` server needs: one, or `healthyThreshold`. Default `first-success`. */
  readonly firstRise?: 'first-success' | 'threshold';
}

export interface HealthTransition {
  readonly from: HealthStatus;
  readonly to: HealthStatus;
  /** The reason of the check result that caused the change (`status 503`, `timeout`, `200`...). */
  readonly reason: string;
}

export class RiseFall {
  private current: HealthStatus;
  private successes = 0;
  private failures = 0;
  private readonly rise: number;
  private readonly fall: number;
  private readonly firstRise: number;

  constructor(options: RiseFallOptions) {
    this.rise = Math.max(1, options.healthyThreshold);
    this.fall = Math.max(1, options.unhealthyThreshold);
    this.firstRise = options.firstRise === 'threshold' ? this.rise : 1;
    this.current = options.initialState;
  }

  get state(): HealthStatus {
    return this.current;
  }

  /** Successes in a row, counting the latest result. */
  get consecutiveSuccesses(): number {
    return this.successes;
  }

  /** Failures in a row, counting the latest result. */
  get consecutiveFailures(): number {
    return this.failures;
  }

  /** Feeds one check result; returns the transition it caused, or null. */
  record(ok: boolean, reason: string): HealthTransition | null {
    if (ok) {
      this.successes++;
      this.failures = 0;
      const needed = this.current === 'unknown' ? this.firstRise : this.rise;
      if (this.current !== 'healthy' && this.successes >= needed) return this.move('healthy', reason);
    } else {
      this.failures++;
      this.successes = 0;
      if (this.current !== 'unhealthy' && this.failures >= this.fall) return this.move('unhealthy', reason);
    }
    return null;
  }

  private move(to: HealthStatus, reason: string): HealthTransition {
    const transition: HealthTransition = { from: this.current, to, reason };
    this.current = to;
    return transition;
  }
}
