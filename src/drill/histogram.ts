/**
 * A log-linear latency histogram in the spirit of HdrHistogram: values are
 * kept as counts in buckets whose width grows with the value, so the memory
 * does not depend on how many values were recorded and every percentile is
 * within {@link RELATIVE_ERROR} of the true value.
 *
 * Values are microseconds internally. Below 64 µs each microsecond has its
 * own bucket; above, each power of two is split into 32 equal buckets. The
 * exact maximum is kept beside the buckets. Storage is sparse (only buckets
 * that hold a value), at most {@link MAX_BUCKETS} entries.
 */

const LINEAR_LIMIT = 64;
const SUB_BUCKET_BITS = 5;
const SUB_BUCKETS = 1 << SUB_BUCKET_BITS;
/** log2 of LINEAR_LIMIT: the first exponent in the logarithmic range. */
const FIRST_EXPONENT = 6;
/** Largest recordable value, µs (about 9.5 days); larger values are clamped. */
const MAX_MICROS = 2 ** 49;

/** Worst-case relative error of a reported percentile (half a sub-bucket). */
export const RELATIVE_ERROR = 1 / (2 * SUB_BUCKETS);
/** Upper bound of the number of distinct buckets one histogram can hold. */
export const MAX_BUCKETS = LINEAR_LIMIT + (49 - FIRST_EXPONENT + 1) * SUB_BUCKETS;

/** The bucket index of a value in µs. O(1). */
function indexOf(micros: number): number {
  if (micros < LINEAR_LIMIT) return micros;
  let exponent = Math.floor(Math.log2(micros));
  // log2 may round up just below a power of two.
  if (2 ** exponent > micros) exponent--;
  const shift = exponent - SUB_BUCKET_BITS;
  const mantissa = Math.floor(micros / 2 ** shift) - SUB_BUCKETS;
  return LINEAR_LIMIT + (exponent - FIRST_EXPONENT) * SUB_BUCKETS + mantissa;
}

/** The middle of bucket `index`, µs. */
function valueOf(index: number): number {
  if (index < LINEAR_LIMIT) return index;
  const offset = index - LINEAR_LIMIT;
  const exponent = Math.floor(offset / SUB_BUCKETS) + FIRST_EXPONENT;
  const width = 2 ** (exponent - SUB_BUCKET_BITS);
  const low = (SUB_BUCKETS + (offset % SUB_BUCKETS)) * width;
  return low + width / 2;
}

export class LatencyHistogram {
  private readonly counts = new Map<number, number>();
  private total = 0;
  private maxMicros = 0;

  /** Number of recorded values. */
  get count(): number {
    return this.total;
  }

  /** The exact largest recorded value, ms (0 when empty). */
  get maxMs(): number {
    return this.maxMicros / 1000;
  }

  /** Records one latency in milliseconds; negative values count as 0. O(1). */
  record(ms: number): void {
    const micros = Math.min(MAX_MICROS, Math.max(0, Math.round(ms * 1000)));
    const index = indexOf(micros);
    this.counts.set(index, (this.counts.get(index) ?? 0) + 1);
    this.total++;
    if (micros > this.maxMicros) this.maxMicros = micros;
  }

  /** Adds every value of `other` to this histogram. O(buckets of other). */
  add(other: LatencyHistogram): void {
    for (const [index, count] of other.counts) this.counts.set(index, (this.counts.get(index) ?? 0) + count);
    this.total += other.total;
    if (other.maxMicros > this.maxMicros) this.maxMicros = other.maxMicros;
  }

  /**
   * The value at percentile `p` (0-100), ms: the smallest recorded value
   * such that at least p % of the values are at or below it, reported as
   * its bucket's middle (never above the exact maximum; the top rank is the
   * exact maximum). 0 when empty.
   * O(buckets × log buckets).
   */
  percentile(p: number): number {
    if (this.total === 0) return 0;
    const rank = Math.max(1, Math.ceil((Math.min(100, Math.max(0, p)) / 100) * this.total));
    if (rank >= this.total) return this.maxMs;
    const indices = [...this.counts.keys()].sort((a, b) => a - b);
    let seen = 0;
    for (const index of indices) {
      seen += this.counts.get(index) ?? 0;
      if (seen >= rank) return Math.min(valueOf(index), this.maxMicros) / 1000;
    }
    return this.maxMs;
  }
}
