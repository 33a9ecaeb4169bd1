import type { Clock } from '../core/clock.js';
import type { Random } from '../core/random.js';
import type { BalancerTarget } from '../core/server.js';

/** What a pick may look at besides the servers. Built once per request or connection. */
export interface PickContext {
  /** The client's address (after PROXY protocol or trusted X-Forwarded-For). */
  readonly clientAddress: string;
  /** The value of the pool's `hashKey` for this request; undefined when the request lacks it. */
  readonly hashKey: string | undefined;
}

/**
 * One load-balancing algorithm. Implementations keep their own index of the
 * servers they were given and never perform I/O or set timers.
 *
 * Contract:
 * - `add`/`remove` change membership; a new server starts down until `setUp`.
 *   Adding a member twice, or calling any method with a target that is not a
 *   member, is a no-op.
 * - `setUp`/`setDown` are called only when eligibility changes (health, drain,
 *   disable, ejection); repeated calls are harmless.
 * - `reweight` is called after a target's `weight` changed (admin call, slow start).
 * - `pick` returns an up server with weight > 0 that is not `atCapacity`, or
 *   null when there is none. It costs O(1) or O(log n) amortised while most
 *   servers have free capacity; skipping servers at capacity may scan, bounded by n.
 * - When the hooks are defined, the pool calls them for every request or
 *   connection to a member, right after it updated `inFlight`
 *   (`onRequestStart` after the increment, `onRequestEnd` after the decrement).
 */
export interface Balancer<T extends BalancerTarget = BalancerTarget> {
  add(target: T): void;
  remove(target: T): void;
  setUp(target: T): void;
  setDown(target: T): void;
  reweight(target: T): void;
  pick(ctx: PickContext): T | null;
  /** Called when a request or connection to `target` starts. */
  onRequestStart?(target: T): void;
  /** Called when it ends, with its latency in milliseconds (time to response headers). */
  onRequestEnd?(target: T, latencyMs: number): void;
}

/** What `createBalancer` may inject; every field has a production default. */
export interface BalancerOptions {
  /** Uniform numbers in [0, 1) for the randomized algorithms. Default `Math.random`. */
  readonly random?: Random;
  /** Time source for `response-time` decay. Default the system monotonic clock. */
  readonly clock?: Clock;
  /** `response-time`: the window over which latency observations decay. Default 10 000 ms. */
  readonly responseTimeWindowMs?: number;
}

/** True for a weight a balancer may pick: finite and above zero. */
export function isPickableWeight(weight: number): boolean {
  return weight > 0 && weight < Infinity;
}
