/**
 * The drill's load generator.
 *
 * Rate mode is an open loop: request i is scheduled at t0 + i / rate and sent
 * then, whatever happened to the earlier ones, and its latency is measured
 * from that *scheduled* time. A stalled server therefore shows as the latency
 * its users really saw, instead of as a pause in the load (coordinated
 * omission). Concurrency mode is a closed loop of N clients, each sending its
 * next request when the previous one finished; its latencies are measured
 * from the send time and hide stalls, so prefer rate mode for drills.
 *
 * Requests go through undici `Pool`s (keep-alive, at most `connections` per
 * address) with one small handler object per request and no promise or
 * timer per request: a single sweep every few milliseconds fails requests
 * older than `timeoutMs` (counted from their scheduled time). The load is
 * bounded by `durationMs` and `maxRequests`; `done()` resolves once every
 * request sent has finished, so totals are final.
 *
 * An optional warm-up (`warmupMs`) runs the same load before time 0 so
 * connections are open and code is warm when measuring starts; warm-up
 * requests are tagged `x-ballast-drill: <run>-warmup` and not recorded.
 */
import { Pool } from 'undici';
import type { Dispatcher } from 'undici';
import { VERSION } from '../core/version.js';
import type { TimeBuckets } from './buckets.js';
import type { DnsResolver } from './dns.js';
import type { LoadSpec } from './scenario.js';

/** Requests in flight at most; beyond, new requests fail at once as `client-overload` (the drill host is the bottleneck). */
export const DEFAULT_MAX_IN_FLIGHT = 20_000;

export interface LoadTarget {
  readonly url: URL;
  /** Site drills: resolves `url`'s host; requests go to its current answer with the name as Host. */
  readonly resolver: DnsResolver | undefined;
}

export interface LoadOptions {
  readonly spec: LoadSpec;
  readonly target: LoadTarget;
  readonly buckets: TimeBuckets;
  /** Sent as `x-ballast-drill` on every request so drill traffic can be told apart in logs. */
  readonly runId: string;
  readonly maxInFlight?: number;
  /** Monotonic ms. */
  readonly now?: () => number;
}

export interface LoadTotals {
  readonly sent: number;
  readonly succeeded: number;
  readonly failed: number;
  readonly slow: number;
}

interface Origin {
  readonly pool: Pool;
  readonly options: Dispatcher.DispatchOptions;
  /** The same request tagged as warm-up traffic. */
  readonly warmOptions: Dispatcher.DispatchOptions;
}

/** Why a request failed without a response, as reported (`refused`, `reset`, `timeout`, …). */
export function classifyError(error: Error): string {
  const code = (error as NodeJS.ErrnoException).code ?? '';
  switch (code) {
    case 'ECONNREFUSED':
      return 'refused';
    case 'ECONNRESET':
    case 'EPIPE':
    case 'UND_ERR_SOCKET':
      return 'reset';
    case 'UND_ERR_HEADERS_TIMEOUT':
    case 'UND_ERR_BODY_TIMEOUT':
    case 'UND_ERR_CONNECT_TIMEOUT':
    case 'ETIMEDOUT':
      return 'timeout';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'dns';
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return 'unreachable';
    case 'UND_ERR_CLOSED':
    case 'UND_ERR_DESTROYED':
      return 'closed';
    default:
      return code === '' ? 'error' : code.toLowerCase();
  }
}

/** One request; receives undici's callbacks. */
class Exchange implements Dispatcher.DispatchHandler {
  status = 0;
  done = false;
  private controller: Dispatcher.DispatchController | undefined;

  constructor(
    private readonly generator: LoadGenerator,
    /** ms from the start of the load (exact: i / rate in rate mode). */
    readonly scheduledMs: number,
    /** The same instant on the monotonic clock. */
    readonly scheduledAt: number,
  ) {}

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.done) controller.abort(new Error('request timed out before it was sent'));
  }

  onResponseStart(_controller: Dispatcher.DispatchController, statusCode: number): void {
    this.status = statusCode;
  }

  onResponseData(): void {
    // The body is read and dropped; only its end matters.
  }

  onResponseEnd(): void {
    this.generator.finish(this, undefined);
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    this.generator.finish(this, classifyError(error));
  }

  /** Gives up on the request (timeout or shutdown). */
  abandon(): void {
    this.controller?.abort(new Error('request timed out'));
  }
}

export class LoadGenerator {
  private readonly spec: LoadSpec;
  private readonly buckets: TimeBuckets;
  private readonly now: () => number;
  private readonly maxInFlight: number;
  private readonly origins = new Map<string, Origin>();
  /** In scheduled order (insertion order of a Set), so the sweep stops at the first young one. */
  private readonly inFlight = new Set<Exchange>();
  private readonly headers: string[];
  private readonly warmHeaders: string[];
  private t0 = 0;
  private index = 0;
  private scheduling = false;
  private stopped = false;
  private scheduleTimer: NodeJS.Timeout | undefined;
  private sweepTimer: NodeJS.Timeout | undefined;
  private refillPending = 0;
  private refillScheduled = false;
  private resolveDone: (() => void) | undefined;
  private readonly donePromise: Promise<void>;
  private counts = { sent: 0, succeeded: 0, failed: 0, slow: 0 };

  constructor(private readonly options: LoadOptions) {
    this.spec = options.spec;
    this.buckets = options.buckets;
    this.now = options.now ?? (() => performance.now());
    this.maxInFlight = options.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT;
    this.headers = ['x-ballast-drill', options.runId, 'user-agent', `ballast-drill/${VERSION}`];
    for (const [name, value] of Object.entries(this.spec.headers)) this.headers.push(name, value);
    if (options.target.resolver !== undefined && this.spec.headers.host === undefined && this.spec.headers.Host === undefined) {
      this.headers.push('host', options.target.url.host);
    }
    this.warmHeaders = [...this.headers];
    this.warmHeaders[1] = `${options.runId}-warmup`;
    this.donePromise = new Promise((resolve) => {
      this.resolveDone = resolve;
    });
  }

  /** Totals so far (final once `done()` resolved). */
  get totals(): LoadTotals {
    return { ...this.counts };
  }

  get pending(): number {
    return this.inFlight.size;
  }

  /**
   * Starts the load with time 0 at `t0` (monotonic ms); the warm-up, if any,
   * begins at once and should end at `t0` (pass now + warmupMs). Call once.
   */
  start(t0: number): void {
    this.t0 = t0;
    this.scheduling = true;
    if (this.spec.mode === 'rate') this.index = -Math.ceil((this.spec.warmupMs * this.spec.rate) / 1000);
    const sweepEvery = Math.max(5, Math.min(50, this.spec.timeoutMs / 4));
    this.sweepTimer = setInterval(() => this.sweep(), sweepEvery);
    if (this.spec.mode === 'rate') this.tick();
    else for (let i = 0; i < this.spec.concurrency; i++) this.sendNext(this.now());
  }

  /** Stops sending (requests in flight still finish or time out). */
  stop(): void {
    this.stopped = true;
    this.endScheduling();
  }

  /** Resolves when the load is over and every request sent has finished. */
  done(): Promise<void> {
    return this.donePromise;
  }

  /** Closes the connections; call after `done()`. */
  async close(): Promise<void> {
    if (this.sweepTimer !== undefined) clearInterval(this.sweepTimer);
    if (this.scheduleTimer !== undefined) clearTimeout(this.scheduleTimer);
    await Promise.all([...this.origins.values()].map((origin) => origin.pool.destroy()));
  }

  /** Rate mode: sends every request whose time has come, then sleeps until the next one. */
  private tick(): void {
    this.scheduleTimer = undefined;
    if (this.stopped) return;
    const interval = 1000 / this.spec.rate;
    const now = this.now();
    while (this.index < this.spec.maxRequests) {
      const due = this.index * interval;
      if (this.t0 + due > now) break;
      if (due >= this.spec.durationMs) {
        this.index = this.spec.maxRequests;
        break;
      }
      this.index++;
      this.send(due);
    }
    if (this.index >= this.spec.maxRequests) {
      this.endScheduling();
      return;
    }
    const wait = Math.max(0, this.t0 + this.index * interval - this.now());
    this.scheduleTimer = setTimeout(() => this.tick(), wait);
  }

  /** Concurrency mode: one client sends its next request, if the load is not over. */
  private sendNext(now: number): void {
    if (this.stopped || !this.scheduling) return;
    if (this.index >= this.spec.maxRequests || now - this.t0 >= this.spec.durationMs) {
      this.endScheduling();
      return;
    }
    if (now >= this.t0) this.index++;
    this.send(now - this.t0);
  }

  private endScheduling(): void {
    if (!this.scheduling) return;
    this.scheduling = false;
    if (this.scheduleTimer !== undefined) clearTimeout(this.scheduleTimer);
    this.scheduleTimer = undefined;
    this.checkDone();
  }

  /** Sends one request scheduled `scheduledMs` after the start of the load (negative: warm-up, not recorded). */
  private send(scheduledMs: number): void {
    if (scheduledMs >= 0) {
      this.counts.sent++;
      this.buckets.sent(scheduledMs);
    }
    if (this.inFlight.size >= this.maxInFlight) {
      this.record(scheduledMs, this.now(), 0, 'client-overload');
      return;
    }
    const origin = this.origin();
    if (origin === undefined) {
      this.record(scheduledMs, this.now(), 0, 'dns');
      return;
    }
    const exchange = new Exchange(this, scheduledMs, this.t0 + scheduledMs);
    this.inFlight.add(exchange);
    origin.pool.dispatch(scheduledMs >= 0 ? origin.options : origin.warmOptions, exchange);
  }

  /** The pool for the current destination; undefined when a site drill has no address yet. */
  private origin(): Origin | undefined {
    const url = this.options.target.url;
    let key = url.origin;
    const resolver = this.options.target.resolver;
    if (resolver !== undefined) {
      const address = resolver.current();
      if (address === undefined) return undefined;
      const host = address.includes(':') ? `[${address}]` : address;
      key = `${url.protocol}//${host}${url.port === '' ? '' : `:${url.port}`}`;
    }
    let origin = this.origins.get(key);
    if (origin === undefined) {
      const pool = new Pool(key, {
        connections: this.spec.connections,
        pipelining: 1,
        connectTimeout: this.spec.timeoutMs,
        headersTimeout: this.spec.timeoutMs + 1000,
        bodyTimeout: this.spec.timeoutMs + 1000,
        ...(resolver !== undefined && url.protocol === 'https:' ? { connect: { servername: url.hostname } } : {}),
      });
      const options: Dispatcher.DispatchOptions = {
        path: this.spec.path,
        method: this.spec.method as Dispatcher.HttpMethod,
        headers: this.headers,
        ...(this.spec.body === undefined ? {} : { body: this.spec.body }),
      };
      origin = { pool, options, warmOptions: { ...options, headers: this.warmHeaders } };
      this.origins.set(key, origin);
    }
    return origin;
  }

  /** undici's last word on a request: `error` is undefined when the response completed. */
  finish(exchange: Exchange, error: string | undefined): void {
    if (exchange.done) return;
    exchange.done = true;
    this.inFlight.delete(exchange);
    this.record(exchange.scheduledMs, this.now(), error === undefined ? exchange.status : 0, error);
    if (this.spec.mode === 'concurrency') this.refill();
    this.checkDone();
  }

  private record(scheduledMs: number, finishedAt: number, status: number, error: string | undefined): void {
    if (scheduledMs < 0) return;
    const latencyMs = Math.max(0, finishedAt - (this.t0 + scheduledMs));
    const failed = error !== undefined || !this.expected(status);
    const slow = latencyMs > this.spec.slowMs;
    if (failed) this.counts.failed++;
    else this.counts.succeeded++;
    if (slow) this.counts.slow++;
    this.buckets.record({ scheduledMs, latencyMs, status, error, failed, slow });
  }

  private expected(status: number): boolean {
    for (const range of this.spec.expectStatus) if (status >= range.min && status <= range.max) return true;
    return false;
  }

  /** Concurrency mode: replaces finished clients on the next turn of the event loop (never re-entering undici). */
  private refill(): void {
    this.refillPending++;
    if (this.refillScheduled) return;
    this.refillScheduled = true;
    setImmediate(() => {
      this.refillScheduled = false;
      const count = this.refillPending;
      this.refillPending = 0;
      const now = this.now();
      for (let i = 0; i < count; i++) this.sendNext(now);
      this.checkDone();
    });
  }

  /** Fails requests older than the timeout. O(expired + 1). */
  private sweep(): void {
    const deadline = this.now() - this.spec.timeoutMs;
    for (const exchange of this.inFlight) {
      if (exchange.scheduledAt > deadline) break;
      this.finish(exchange, 'timeout');
      exchange.abandon();
    }
  }

  private checkDone(): void {
    if (this.scheduling || this.inFlight.size > 0 || this.refillPending > 0 || this.resolveDone === undefined) return;
    if (this.sweepTimer !== undefined) clearInterval(this.sweepTimer);
    this.sweepTimer = undefined;
    const resolve = this.resolveDone;
    this.resolveDone = undefined;
    resolve();
  }
}
