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
 * - `setUp`/`setDown` are called only when eligibility changes (health, drain,
 *   disable, ejection).
 * - `reweight` is called after a target's `weight` changed (admin call, slow start).
 * - `pick` returns an up server with weight > 0 that is not `atCapacity`, or
 *   null when there is none. It costs O(1) or O(log n) amortised.
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
