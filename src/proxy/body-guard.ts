/**
 * Limits on a request body while it streams through the proxy: its size
 * (`maxBodySize`, 413), the total time it may take (`timeouts.requestBody`,
 * 408) and the longest pause between two of its pieces
 * (`timeouts.requestBodyIdle`, 408).
 *
 * The guard sits between the body and whoever reads it: it counts the bytes
 * of each piece as it passes and tells its owner when a limit is broken; the
 * owner stops forwarding and answers. O(1) per piece, one timer per body.
 */
import type { BodySink, RequestBody } from './messages.js';

export interface BodyLimits {
  /** Largest body in bytes; undefined = no limit. */
  readonly maxBytes: number | undefined;
  /** Time from the start of guarding to the end of the body, ms; 0 = no limit. */
  readonly totalMs: number;
  /** Longest time without a byte of body arriving, ms; 0 = no limit. */
  readonly idleMs: number;
}

/** The owner of a guarded body. */
export interface BodyGuardOwner {
  /** The body broke a limit: 413 (too large) or 408 (too slow). Called at most once. */
  bodyRejected(status: 408 | 413): void;
}

function onQuiet(guard: GuardedBody): void {
  guard.quiet();
}

/**
 * `body` with `limits` applied; `body` itself when there are none or it
 * already arrived.
 */
export function guardRequestBody(body: RequestBody, limits: BodyLimits, owner: BodyGuardOwner): RequestBody {
  if (limits.maxBytes === undefined && limits.totalMs === 0 && limits.idleMs === 0) return body;
  if (body.complete) return body;
  return new GuardedBody(body, limits, owner);
}

class GuardedBody implements RequestBody, BodySink {
  private sink: BodySink | null = null;
  private received = 0;
  private readonly maxBytes: number;
  /** `performance.now()` deadline, or Infinity. */
  private readonly deadline: number;
  private readonly quietMs: number;
  private timer: NodeJS.Timeout | undefined;
  private done = false;

  constructor(
    private readonly body: RequestBody,
    limits: BodyLimits,
    private readonly owner: BodyGuardOwner,
  ) {
    this.maxBytes = limits.maxBytes ?? Number.POSITIVE_INFINITY;
    this.deadline = limits.totalMs === 0 ? Number.POSITIVE_INFINITY : performance.now() + limits.totalMs;
    // Without an idle limit, the total limit still needs a timer for a client that sends nothing at all.
    this.quietMs = limits.idleMs > 0 ? limits.idleMs : limits.totalMs;
    if (this.quietMs > 0) {
      this.timer = setTimeout(onQuiet, this.quietMs, this);
      this.timer.unref();
    }
  }

  get length(): number | undefined {
    return this.body.length;
  }

  get complete(): boolean {
    return this.body.complete;
  }

  start(sink: BodySink): void {
    this.sink = sink;
    this.body.start(this);
  }

  resume(): void {
    this.body.resume();
  }

  data(chunk: Buffer): boolean {
    if (this.done) return true;
    this.received += chunk.length;
    if (this.received > this.maxBytes) {
      this.reject(413);
      return true;
    }
    if (this.deadline !== Number.POSITIVE_INFINITY && performance.now() > this.deadline) {
      this.reject(408);
      return true;
    }
    this.timer?.refresh();
    return (this.sink as BodySink).data(chunk);
  }

  end(): void {
    if (this.done) return;
    this.release();
    this.sink?.end();
  }

  quiet(): void {
    if (!this.done) this.reject(408);
  }

  private reject(status: 408 | 413): void {
    this.release();
    this.owner.bodyRejected(status);
  }

  private release(): void {
    this.done = true;
    clearTimeout(this.timer);
  }
}
