/**
 * What one delivery attempt is given and what it reports, shared by the
 * exec and webhook transports: the JSON payload, the environment variables
 * of an exec hook, and a bounded capture of program output.
 */
import type { BallastEvent } from '../core/events.js';
import type { HookPayload } from './types.js';

/** One event on its way to one hook. `body` is built once and reused by every attempt. */
export interface Delivery {
  readonly hook: string;
  readonly sequence: number;
  /** 1 for the first attempt. */
  readonly attempt: number;
  readonly event: BallastEvent;
  /** The JSON payload (`HookPayload`), without a trailing newline. */
  readonly body: string;
}

export type DeliveryOutcome =
  | { readonly ok: true; readonly summary: string; readonly output?: CapturedOutput }
  | {
      readonly ok: false;
      /** False when another attempt cannot succeed (e.g. a webhook answering 404). */
      readonly retryable: boolean;
      readonly error: string;
      readonly output?: CapturedOutput;
    };

export interface CapturedOutput {
  readonly stdout: string;
  readonly stderr: string;
}

/** The payload of `event` for `hook`; fields the event lacks are left out. */
export function buildPayload(hook: string, sequence: number, event: BallastEvent): HookPayload {
  return {
    hook,
    sequence,
    type: event.type,
    time: new Date(event.time).toISOString(),
    ...(event.pool === undefined ? {} : { pool: event.pool }),
    ...(event.server === undefined ? {} : { server: event.server }),
    ...(event.site === undefined ? {} : { site: event.site }),
    ...(event.reason === undefined ? {} : { reason: event.reason }),
    ...(event.detail === undefined ? {} : { detail: event.detail }),
  };
}

/**
 * Variables added to an exec hook's environment. Every name is always set
 * (empty when the event lacks the field) so scripts running with `set -u`
 * can read them all. NUL characters, which an environment cannot hold, are
 * removed.
 */
export function hookEnvironment(delivery: Delivery): Record<string, string> {
  const { event } = delivery;
  return {
    BALLAST_HOOK: clean(delivery.hook),
    BALLAST_EVENT: event.type,
    BALLAST_EVENT_TIME: new Date(event.time).toISOString(),
    BALLAST_POOL: clean(event.pool ?? ''),
    BALLAST_SERVER: clean(event.server ?? ''),
    BALLAST_SITE: clean(event.site ?? ''),
    BALLAST_REASON: clean(event.reason ?? ''),
    BALLAST_SEQUENCE: String(delivery.sequence),
    BALLAST_ATTEMPT: String(delivery.attempt),
    BALLAST_EVENT_JSON: delivery.body,
  };
}

function clean(value: string): string {
  return value.includes('\0') ? value.replaceAll('\0', '') : value;
}

/**
 * Keeps the last `limit` bytes written to it, so a chatty program cannot
 * make Ballast hold its whole output. O(1) amortized per chunk.
 */
export class OutputTail {
  private chunks: Buffer[] = [];
  private kept = 0;
  private omitted = 0;

  constructor(private readonly limit: number) {}

  add(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.kept += chunk.length;
    while (this.kept > this.limit) {
      const first = this.chunks[0];
      if (first === undefined) break;
      const excess = this.kept - this.limit;
      if (first.length <= excess) {
        this.chunks.shift();
        this.kept -= first.length;
        this.omitted += first.length;
      } else {
        this.chunks[0] = first.subarray(excess);
        this.kept -= excess;
        this.omitted += excess;
      }
    }
  }

  /** The kept text, trimmed, prefixed with the number of bytes left out (if any). */
  text(): string {
    const kept = Buffer.concat(this.chunks).toString('utf8').trim();
    return this.omitted === 0 ? kept : `[${this.omitted} bytes omitted] ${kept}`;
  }
}
