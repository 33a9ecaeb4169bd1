/**
 * Event hooks: the small interfaces the dispatcher is built from. The
 * configuration types (`HookConfig`, one per entry of the top-level `hooks`
 * list) live with the rest of the normalized config in `config/types.ts`.
 */
import { BALLAST_EVENT_TYPES, type BallastEventType } from '../core/events.js';
import type { HookAction, Millis } from '../config/types.js';

export type { ExecHookAction, HookAction, HookConfig, Millis, WebhookHookAction } from '../config/types.js';

/** Every event type a hook can subscribe to. */
export const HOOK_EVENT_TYPES: readonly BallastEventType[] = BALLAST_EVENT_TYPES;

/** Longest wait between two attempts, unless `retryDelay` itself is longer. */
export const MAX_RETRY_DELAY: Millis = 60_000;

/**
 * The JSON document a hook receives (exec: stdin; webhook: the request body).
 * Optional fields are present only when the event carries them. The body is
 * the same for every attempt of one delivery.
 */
export interface HookPayload {
  /** Name of the hook delivering it. */
  readonly hook: string;
  /** Per hook, from 1, in the order events were accepted; a gap means events were dropped. */
  readonly sequence: number;
  readonly type: BallastEventType;
  /** ISO 8601 time of the state change. */
  readonly time: string;
  readonly pool?: string;
  readonly server?: string;
  readonly site?: string;
  readonly reason?: string;
  readonly detail?: Readonly<Record<string, string | number | boolean>>;
}

/** Structured log lines; a pino logger fits. */
export interface HookLogger {
  debug(fields: Readonly<Record<string, unknown>>, message: string): void;
  info(fields: Readonly<Record<string, unknown>>, message: string): void;
  warn(fields: Readonly<Record<string, unknown>>, message: string): void;
  error(fields: Readonly<Record<string, unknown>>, message: string): void;
}


/** Counters of one hook since the dispatcher started. */
export interface HookStats {
  readonly name: string;
  readonly type: HookAction['type'];
  /** Events delivered (possibly after retries). */
  readonly delivered: number;
  /** Events given up on after the last attempt failed. */
  readonly failed: number;
  /** Events never attempted: pushed out of a full queue, or left over at shutdown or removal. */
  readonly dropped: number;
  /** Attempts repeated after a failure. */
  readonly retried: number;
  /** Events waiting now. */
  readonly queued: number;
  /** Whether a delivery is under way now. */
  readonly inFlight: boolean;
  /** Why the last failed attempt failed; undefined if none has. */
  readonly lastError: string | undefined;
  /** Wall-clock milliseconds of the last successful delivery. */
  readonly lastDeliveredAt: number | undefined;
}
