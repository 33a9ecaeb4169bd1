/**
 * The drill's record of what users saw: every request's outcome goes into
 * the time bucket (default 100 ms) of the moment it was *scheduled*, with its
 * latency in that bucket's histogram; every successful response also counts
 * towards the throughput of the bucket in which it *completed*. Memory is
 * O(buckets × latency buckets used), independent of the request count.
 */
import { LatencyHistogram } from './histogram.js';

export const DEFAULT_BUCKET_MS = 100;

/** Status classes as reported: index 0 = 1xx … index 4 = 5xx. */
export const STATUS_CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx'] as const;
export type StatusClass = (typeof STATUS_CLASSES)[number];

export interface Bucket {
  /** Requests scheduled in this bucket. */
  sent: number;
  /** Of those, requests that finished (success or failure). */
  completed: number;
  succeeded: number;
  failed: number;
  /** Requests slower than the slow threshold (successful or not). */
  slow: number;
  /** Responses by status class (index 0 = 1xx … 4 = 5xx). */
  readonly statusClasses: number[];
  /** Failures without a response, by kind (`refused`, `reset`, `timeout`, …), and failed statuses as `http-NNN`. */
  readonly errors: Map<string, number>;
  /** Latency of every finished request scheduled in this bucket, from its scheduled time. */
  readonly latency: LatencyHistogram;
  /** Successful responses that *completed* in this bucket. */
  throughput: number;
  /** Scheduled time (ms) of the last failed request of this bucket; -1 when none failed. */
  lastFailureMs: number;
}

/** One finished request. Times in ms relative to the start of the load. */
export interface Outcome {
  readonly scheduledMs: number;
  readonly latencyMs: number;
  /** HTTP status, or 0 when no response arrived. */
  readonly status: number;
  /** Why the request failed without a response, or undefined. */
  readonly error: string | undefined;
  readonly failed: boolean;
  readonly slow: boolean;
}

function emptyBucket(): Bucket {
  return {
    sent: 0,
    completed: 0,
    succeeded: 0,
    failed: 0,
    slow: 0,
    statusClasses: [0, 0, 0, 0, 0],
    errors: new Map(),
    latency: new LatencyHistogram(),
    throughput: 0,
    lastFailureMs: -1,
  };
}

export class TimeBuckets {
  private readonly list: Bucket[] = [];

  constructor(readonly bucketMs: number = DEFAULT_BUCKET_MS) {}

  /** Buckets from time 0, without gaps; a bucket nothing happened in is empty. */
  get buckets(): readonly Bucket[] {
    return this.list;
  }

  /** The bucket holding time `ms` (created with its predecessors as needed). Negative times fall in bucket 0. */
  at(ms: number): Bucket {
    const index = Math.max(0, Math.floor(ms / this.bucketMs));
    while (this.list.length <= index) this.list.push(emptyBucket());
    return this.list[index] as Bucket;
  }

  /** Notes that a request was scheduled at `scheduledMs`. O(1) amortized. */
  sent(scheduledMs: number): void {
    this.at(scheduledMs).sent++;
  }

  /** Records a finished request. O(1) amortized. */
  record(outcome: Outcome): void {
    const bucket = this.at(outcome.scheduledMs);
    bucket.completed++;
    bucket.latency.record(outcome.latencyMs);
    if (outcome.slow) bucket.slow++;
    if (outcome.status >= 100 && outcome.status < 600) {
      const index = Math.floor(outcome.status / 100) - 1;
      bucket.statusClasses[index] = (bucket.statusClasses[index] ?? 0) + 1;
    }
    if (outcome.failed) {
      bucket.failed++;
      const kind = outcome.error ?? `http-${outcome.status}`;
      bucket.errors.set(kind, (bucket.errors.get(kind) ?? 0) + 1);
      if (outcome.scheduledMs > bucket.lastFailureMs) bucket.lastFailureMs = outcome.scheduledMs;
    } else {
      bucket.succeeded++;
      this.at(outcome.scheduledMs + outcome.latencyMs).throughput++;
    }
  }

  /** Sums `pick` over buckets [from, to) of time (ms). */
  sum(fromMs: number, toMs: number, pick: (bucket: Bucket) => number): number {
    let total = 0;
    const end = Math.min(this.list.length, Math.ceil(toMs / this.bucketMs));
    for (let i = Math.max(0, Math.floor(fromMs / this.bucketMs)); i < end; i++) total += pick(this.list[i] as Bucket);
    return total;
  }

  /** Scheduled time of the last failed request in [from, to) (ms), or undefined. Bucket-exact at the edges: [from, to) are rounded outwards to buckets, then filtered exactly. */
  lastFailure(fromMs: number, toMs: number): number | undefined {
    const first = Math.max(0, Math.floor(fromMs / this.bucketMs));
    for (let i = Math.min(this.list.length, Math.ceil(toMs / this.bucketMs)) - 1; i >= first; i--) {
      const last = (this.list[i] as Bucket).lastFailureMs;
      if (last >= fromMs && last < toMs) return last;
    }
    return undefined;
  }

  /** The merged latency of buckets [from, to) of time (ms). */
  latency(fromMs: number, toMs: number): LatencyHistogram {
    const merged = new LatencyHistogram();
    const end = Math.min(this.list.length, Math.ceil(toMs / this.bucketMs));
    for (let i = Math.max(0, Math.floor(fromMs / this.bucketMs)); i < end; i++) merged.add((this.list[i] as Bucket).latency);
    return merged;
  }
}
