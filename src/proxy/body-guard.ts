/**
 * Limits on a request body while it streams through the proxy: its size
 * (`maxBodySize`, 413), the total time it may take (`timeouts.requestBody`,
 * 408) and the longest pause between two of its pieces
 * (`timeouts.requestBodyIdle`, 408).
 *
 * The guard only watches: it counts the bytes of each chunk as it passes and
 * tells its owner when a limit is broken; the owner stops forwarding and
 * answers. The listeners are module functions and the state one small object
 * on the request, so guarding a body allocates no closure. O(1) per chunk.
 */
import type { IncomingMessage } from 'node:http';

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

const kGuard = Symbol('ballast.bodyGuard');

interface GuardState {
  received: number;
  readonly maxBytes: number;
  /** `performance.now()` deadline, or Infinity. */
  readonly deadline: number;
  /** Whether an inactivity timeout was set. */
  readonly timed: boolean;
  readonly owner: BodyGuardOwner;
}

type GuardedRequest = IncomingMessage & { [kGuard]?: GuardState };

/**
 * Watches the body of `req` until it ends. Does not change how the body is
 * consumed: a stream not yet flowing is paused, so that whoever reads it
 * later (undici) still sees every byte; a flowing one keeps flowing.
 * The idle timer is the connection's (HTTP/1) or the stream's (HTTP/2)
 * inactivity timeout, cleared when the body ends.
 */
export function guardRequestBody(req: IncomingMessage, limits: BodyLimits, owner: BodyGuardOwner): void {
  if (limits.maxBytes === undefined && limits.totalMs === 0 && limits.idleMs === 0) return;
  if (req.complete) return;
  // Without an idle limit, the total limit still needs a timer for a client that sends nothing at all.
  const quietMs = limits.idleMs > 0 ? limits.idleMs : limits.totalMs;
  const guarded = req as GuardedRequest;
  guarded[kGuard] = {
    received: 0,
    maxBytes: limits.maxBytes ?? Number.POSITIVE_INFINITY,
    deadline: limits.totalMs === 0 ? Number.POSITIVE_INFINITY : performance.now() + limits.totalMs,
    timed: quietMs > 0,
    owner,
  };
  if (req.readableFlowing !== true) req.pause();
  req.on('data', onGuardedData);
  req.once('end', releaseGuard);
  if (quietMs > 0) {
    req.on('timeout', onGuardedTimeout);
    req.setTimeout(quietMs);
  }
}

function onGuardedData(this: GuardedRequest, chunk: Buffer): void {
  const state = this[kGuard];
  if (state === undefined) return;
  state.received += chunk.length;
  if (state.received > state.maxBytes) reject(this, state, 413);
  else if (state.deadline !== Number.POSITIVE_INFINITY && performance.now() > state.deadline) reject(this, state, 408);
}

function onGuardedTimeout(this: GuardedRequest): void {
  const state = this[kGuard];
  if (state !== undefined) reject(this, state, 408);
}

function reject(req: GuardedRequest, state: GuardState, status: 408 | 413): void {
  releaseGuard.call(req);
  state.owner.bodyRejected(status);
}

function releaseGuard(this: GuardedRequest): void {
  const state = this[kGuard];
  if (state === undefined) return;
  this[kGuard] = undefined;
  this.off('data', onGuardedData);
  this.off('end', releaseGuard);
  if (state.timed) {
    this.off('timeout', onGuardedTimeout);
    // The connection (HTTP/1) or stream (HTTP/2) goes back to having no inactivity timeout while the response runs.
    if (!this.destroyed && this.socket !== null && !this.socket.destroyed) this.setTimeout(0);
  }
}
