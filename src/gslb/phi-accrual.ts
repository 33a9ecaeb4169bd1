/**
 * The phi-accrual failure detector (Hayashibara et al., 2004).
 *
 * Instead of a yes/no timeout it reports a suspicion level
 * phi = -log10(P(a heartbeat arrives later than now)), where the arrival time
 * is modelled as a normal distribution fitted to the recent inter-arrival
 * intervals. phi = 8 means "the chance that this peer is merely late is 1e-8".
 * On a lossy or jittery link the fitted deviation grows and detection slows
 * down by itself, which is what keeps a site from flip-flopping.
 *
 * Pure: every method takes the current monotonic time; no timers, no I/O.
 */

export interface PhiAccrualOptions {
  /** phi above which the peer is suspected. */
  readonly threshold: number;
  /** The sender's heartbeat interval; seeds the history before real samples exist. */
  readonly expectedInterval: number;
  /**
   * Floor for the fitted standard deviation, in ms. A perfectly regular link
   * would otherwise give a deviation near zero and suspect a peer after one
   * late packet.
   */
  readonly minStdDeviation: number;
  /** Extra pause tolerated on top of the fitted distribution (GC pauses), ms. Default 0. */
  readonly acceptablePause?: number;
  /** Intervals kept in the sliding window. Default 200. */
  readonly maxSamples?: number;
}

const LN10 = Math.log(10);
const SQRT1_2 = Math.SQRT1_2;

/**
 * ln(erfc(x)) without underflow for large x (Numerical Recipes `erfcc`,
 * fractional error below 1.2e-7 everywhere). Taking the logarithm of the
 * closed form keeps phi finite and monotonic even when erfc(x) is far below
 * the smallest double.
 */
function logErfc(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const poly =
    -z * z -
    1.26551223 +
    t *
      (1.00002368 +
        t *
          (0.37409196 +
            t *
              (0.09678418 +
                t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))));
  const logValue = Math.log(t) + poly;
  if (x >= 0) return logValue;
  return Math.log(2 - Math.exp(logValue));
}

/**
 * phi for an elapsed time given the fitted mean and deviation:
 * -log10(1 - CDF(elapsed)) = -log10(0.5 * erfc((elapsed - mean) / (std * sqrt 2))).
 */
export function phiOf(elapsed: number, mean: number, stdDeviation: number): number {
  const y = (elapsed - mean) / stdDeviation;
  const phi = -(Math.log(0.5) + logErfc(y * SQRT1_2)) / LN10;
  return phi > 0 ? phi : 0;
}

/**
 * The elapsed time since the last heartbeat at which phi reaches `threshold`
 * for a given mean and deviation: what "expected detection time" means.
 * O(log) bisection; used for documentation, status and tests.
 */
export function elapsedForPhi(threshold: number, mean: number, stdDeviation: number): number {
  let low = mean;
  let high = mean + 40 * stdDeviation;
  for (let i = 0; i < 100; i++) {
    const mid = (low + high) / 2;
    if (phiOf(mid, mean, stdDeviation) < threshold) low = mid;
    else high = mid;
  }
  return high;
}

export class PhiAccrualDetector {
  private readonly threshold: number;
  private readonly expectedInterval: number;
  private readonly minStd: number;
  private readonly pause: number;
  private readonly capacity: number;
  /** Ring buffer of inter-arrival intervals; `sum`/`sumSquares` keep mean and variance O(1). */
  private readonly samples: number[] = [];
  private next = 0;
  private sum = 0;
  private sumSquares = 0;
  private last: number | undefined;

  constructor(options: PhiAccrualOptions) {
    if (!(options.threshold > 0)) throw new RangeError('phi threshold must be positive');
    if (!(options.expectedInterval > 0)) throw new RangeError('expected interval must be positive');
    this.threshold = options.threshold;
    this.expectedInterval = options.expectedInterval;
    this.minStd = Math.max(1, options.minStdDeviation);
    this.pause = options.acceptablePause ?? 0;
    this.capacity = Math.max(2, options.maxSamples ?? 200);
    this.seed();
  }

  /** Monotonic time of the last heartbeat, or undefined before the first. */
  get lastHeartbeat(): number | undefined {
    return this.last;
  }

  /**
   * Records a heartbeat arriving at `now`. An arrival after the peer was
   * already suspected starts a fresh history: the outage gap says nothing
   * about the link's normal jitter and would slow the next detection down.
   * O(1).
   */
  heartbeat(now: number): void {
    if (this.last !== undefined) {
      if (this.phi(now) >= this.threshold) this.seed();
      else this.add(Math.max(0, now - this.last));
    }
    this.last = now;
  }

  /** Suspicion level at `now`; 0 before the first heartbeat (see `isAvailable`). O(1). */
  phi(now: number): number {
    if (this.last === undefined) return 0;
    return phiOf(now - this.last, this.mean() + this.pause, this.stdDeviation());
  }

  /** True once a heartbeat has arrived and phi is below the threshold. */
  isAvailable(now: number): boolean {
    return this.last !== undefined && this.phi(now) < this.threshold;
  }

  mean(): number {
    return this.sum / this.samples.length;
  }

  stdDeviation(): number {
    const n = this.samples.length;
    const mean = this.sum / n;
    const variance = Math.max(0, this.sumSquares / n - mean * mean);
    return Math.max(this.minStd, Math.sqrt(variance));
  }

  /** Elapsed time since the last heartbeat at which this peer would be suspected now. */
  detectionTime(): number {
    return elapsedForPhi(this.threshold, this.mean() + this.pause, this.stdDeviation());
  }

  /** Forgets everything, as for a peer never heard from. */
  reset(): void {
    this.seed();
    this.last = undefined;
  }

  /** Two synthetic samples around the expected interval, as Akka's detector seeds its history. */
  private seed(): void {
    this.samples.length = 0;
    this.next = 0;
    this.sum = 0;
    this.sumSquares = 0;
    const spread = this.expectedInterval / 4;
    this.add(this.expectedInterval - spread);
    this.add(this.expectedInterval + spread);
  }

  private add(interval: number): void {
    if (this.samples.length < this.capacity) {
      this.samples.push(interval);
    } else {
      const old = this.samples[this.next] ?? 0;
      this.sum -= old;
      this.sumSquares -= old * old;
      this.samples[this.next] = interval;
      this.next = (this.next + 1) % this.capacity;
      if (this.next === 0) {
        // Once per lap, recompute the running sums so rounding errors never accumulate.
        this.sum = 0;
        this.sumSquares = 0;
        for (const sample of this.samples) {
          this.sum += sample;
          this.sumSquares += sample * sample;
        }
        return;
      }
    }
    this.sum += interval;
    this.sumSquares += interval * interval;
  }
}
