/**
 * The contract every discovery source keeps, and what they share: status,
 * logging and the injected timers.
 */
import type { ServerConfig } from '../config/types.js';

/** Where sources write what operators should know; pino's logger fits. */
export interface DiscoveryLogger {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
}

export const silentLogger: DiscoveryLogger = {
  info: () => undefined,
  warn: () => undefined,
};

/**
 * `pending` until the first attempt ends; then `ok` after a successful
 * lookup or read, `failing` while the latest attempt failed (the last good
 * servers stay in use).
 */
export type SourceState = 'pending' | 'ok' | 'failing';

export interface SourceStatus {
  readonly type: 'dns' | 'file';
  /** What is looked up or read, e.g. `SRV _api._tcp.example.com` or a file path. */
  readonly target: string;
  readonly state: SourceState;
  /** Servers this source currently contributes. */
  readonly servers: number;
  /** Wall-clock ms of the last successful lookup or read; null before the first. */
  readonly lastSuccess: number | null;
  /** Wall-clock ms when the servers last changed; null before the first set. */
  readonly lastChange: number | null;
  /** Why the latest attempt failed, or why its result was not used; null when it was used. */
  readonly lastError: string | null;
  readonly consecutiveFailures: number;
}

/**
 * A source of servers for one pool.
 *
 * Contract:
 * - `start` is called once. `onChange` receives the complete list this source
 *   contributes whenever it differs from the previous one (first: when the
 *   first usable result arrives); never with the same list twice in a row.
 *   Names are unique within a list.
 * - A failed lookup or read never calls `onChange`: the last list stays.
 * - `firstAttempt` resolves once the first lookup or read has ended, whatever
 *   its outcome (it never rejects).
 * - After `stop` resolves, `onChange` is not called again and no timer,
 *   socket or watcher of the source remains.
 */
export interface DiscoverySource {
  start(onChange: (servers: readonly ServerConfig[]) => void): void;
  firstAttempt(): Promise<void>;
  status(): SourceStatus;
  stop(): Promise<void>;
}
