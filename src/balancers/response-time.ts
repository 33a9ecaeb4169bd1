import { systemClock, type Clock } from '../core/clock.js';
import { systemRandom, type Random } from '../core/random.js';
import type { BalancerTarget } from '../core/server.js';
import { Roster } from './roster.js';
import type { Balancer, PickContext } from './types.js';
import { isPickableWeight } from './types.js';
import { WeightedSampler } from './weighted-sampler.js';

/** Default `responseTimeWindowMs`: how fast old latency observations fade. */
export const DEFAULT_RESPONSE_TIME_WINDOW_MS = 10_000;
/** Pairs drawn before falling back to a scan when drawn servers are at capacity. */
const MAX_DRAWS = 4;
/**
 * Least estimate used for scoring (ms), so requests in flight still count
 * before any latency was observed.
 */
const MIN_SCORED_ESTIMATE_MS = 0.001;

interface Latency {
  /** Peak-EWMA latency estimate in ms, as of `stamp`. */
  estimate: number;
  /** Clock time of the last observation (or of the seeding). */
  stamp: number;
  /** Whether the weight was pickable at the last setUp/reweight. */
  pickable: boolean;
}

export interface ResponseTimeOptions {
  readonly random?: Random;
  readonly clock?: Clock;
  /** The decay window τ in ms; must be finite and above zero. */
  readonly windowMs?: number;
}

/**
 * `response-time`: latency-aware balancing with peak-EWMA and the power of
 * two choices (the technique of Finagle and Linkerd).
 *
 * Each server keeps a latency estimate. An observation above the estimate
 * replaces it at once (a spike is seen immediately); one below it is blended
 * in with weight 1 - e^(-Δt/τ), so the estimate follows time, not request
 * counts, over the window τ. A pick draws two servers at random (weighted),
 * scores each `estimate × (inFlight + 1)` and takes the lower.
 *
 * For scoring, an estimate also fades towards 0 with e^(-Δt/τ) since its last
 * observation. A server that got slow loses every comparison, receives no
 * traffic, and so fades until it is tried again: a still-slow server is
 * pushed back at once by the peak rule, a recovered one rejoins. A new or
 * recovered server (or one whose weight returns from 0) starts at the average
 * estimate of the servers in service, so it is neither flooded (as a 0
 * estimate would) nor starved.
 *
 * pick: O(1) (two weighted draws, two `exp`); at capacity, up to a few more
 * draws, then a scan bounded by n. Hooks: O(1). Membership and weight
 * changes: O(n), lazily at the next pick.
 */
export class ResponseTimeBalancer<T extends BalancerTarget> implements Balancer<T> {
  private readonly roster = new Roster<T>();
  private readonly latencies = new Map<T, Latency>();
  private readonly sampler = new WeightedSampler();
  private readonly random: Random;
  private readonly clock: Clock;
  private readonly windowMs: number;
  private seenVersion = -1;
  /** Eligible targets and their latency records, aligned with the sampler. */
  private list: readonly T[] = [];
  private records: Latency[] = [];

  constructor(options: ResponseTimeOptions = {}) {
    const windowMs = options.windowMs ?? DEFAULT_RESPONSE_TIME_WINDOW_MS;
    if (!(windowMs > 0 && windowMs < Infinity)) {
      throw new RangeError(`response-time window must be a positive number of ms, got ${windowMs}`);
    }
    this.windowMs = windowMs;
    this.random = options.random ?? systemRandom;
    this.clock = options.clock ?? systemClock;
  }

  add(target: T): void {
    this.roster.add(target);
  }

  remove(target: T): void {
    if (this.roster.remove(target)) this.latencies.delete(target);
  }

  setUp(target: T): void {
    if (!this.roster.has(target) || this.roster.isUp(target)) return;
    const now = this.clock.now();
    const estimate = this.poolAverage(now, target);
    this.roster.setUp(target);
    this.latencies.set(target, { estimate, stamp: now, pickable: isPickableWeight(target.weight) });
  }

  setDown(target: T): void {
    this.roster.setDown(target);
  }

  reweight(target: T): void {
    const record = this.latencies.get(target);
    const pickable = isPickableWeight(target.weight);
    if (record !== undefined && this.roster.isUp(target) && pickable && !record.pickable) {
      // Back in service after weight 0: its old estimate has faded towards 0.
      const now = this.clock.now();
      record.estimate = this.poolAverage(now, target);
      record.stamp = now;
    }
    if (record !== undefined) record.pickable = pickable;
    this.roster.reweight(target);
  }

  onRequestEnd(target: T, latencyMs: number): void {
    const record = this.latencies.get(target);
    if (record === undefined || !(latencyMs >= 0)) return;
    const now = this.clock.now();
    if (latencyMs >= record.estimate) {
      record.estimate = latencyMs;
    } else {
      const keep = Math.exp(-Math.max(0, now - record.stamp) / this.windowMs);
      record.estimate = record.estimate * keep + latencyMs * (1 - keep);
    }
    record.stamp = now;
  }

  /**
   * The latency estimate (ms) of an up member as the balancer sees it now,
   * faded for the time since its last observation; undefined for others.
   */
  estimate(target: T): number | undefined {
    const record = this.latencies.get(target);
    if (record === undefined || !this.roster.isUp(target)) return undefined;
    return this.faded(record, this.clock.now());
  }

  pick(_ctx?: PickContext): T | null {
    if (this.roster.version !== this.seenVersion) this.sync();
    const list = this.list;
    const n = list.length;
    if (n <= 1) {
      const only = list[0];
      return only === undefined || only.atCapacity ? null : only;
    }
    const now = this.clock.now();
    for (let draw = 0; draw < MAX_DRAWS; draw++) {
      const first = this.sampler.sample(this.random());
      let second = this.sampler.sample(this.random());
      if (second === first) second = this.sampler.sample(this.random());
      if (second === first) second = first + 1 === n ? 0 : first + 1;
      const a = list[first]!;
      const b = list[second]!;
      const scoreA = this.score(a, this.records[first]!, now);
      const scoreB = this.score(b, this.records[second]!, now);
      const better = scoreB < scoreA ? b : a;
      const worse = better === a ? b : a;
      if (!better.atCapacity) return better;
      if (!worse.atCapacity) return worse;
    }
    return this.pickByScan(now);
  }

  /** The lowest-scoring server with free capacity, by scan. O(n). */
  private pickByScan(now: number): T | null {
    let best: T | null = null;
    let bestScore = Infinity;
    for (let i = 0; i < this.list.length; i++) {
      const target = this.list[i]!;
      if (target.atCapacity) continue;
      const score = this.score(target, this.records[i]!, now);
      if (best === null || score < bestScore) {
        best = target;
        bestScore = score;
      }
    }
    return best;
  }

  private faded(record: Latency, now: number): number {
    const age = now - record.stamp;
    return age > 0 ? record.estimate * Math.exp(-age / this.windowMs) : record.estimate;
  }

  /** What a pick compares: faded estimate × (inFlight + 1). */
  private score(target: T, record: Latency, now: number): number {
    const estimate = this.faded(record, now);
    return (estimate > MIN_SCORED_ESTIMATE_MS ? estimate : MIN_SCORED_ESTIMATE_MS) * (target.inFlight + 1);
  }

  /** Mean faded estimate of the servers in service (up, pickable weight) but `except`; 0 when there are none. O(n). */
  private poolAverage(now: number, except: T): number {
    let sum = 0;
    let count = 0;
    for (const target of this.roster.eligible()) {
      if (target === except) continue;
      sum += this.faded(this.latencies.get(target)!, now);
      count++;
    }
    return count === 0 ? 0 : sum / count;
  }

  private sync(): void {
    this.seenVersion = this.roster.version;
    const list = this.roster.eligible();
    const weights = new Float64Array(list.length);
    const records: Latency[] = [];
    for (let i = 0; i < list.length; i++) {
      const target = list[i]!;
      weights[i] = target.weight;
      // Invariant: every up member got its record in setUp.
      records.push(this.latencies.get(target)!);
    }
    this.list = list;
    this.records = records;
    this.sampler.reset(weights, list.length);
  }
}
