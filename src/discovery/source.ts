/**
 * The contract every discovery source keeps, and what they share: status,
 * logging and the injected timers.
 */
import type { ServerConfig } from '../config/types.js';
import { sameServerList } from './diff.js';

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

/** A warning line: its own fields (besides the source's) and message. */
export interface LogLine {
  readonly fields: object;
  readonly message: string;
}

/**
 * What a source currently contributes and how its attempts went: the state
 * behind `status()`, the log lines on a change of state, and the promise of
 * `firstAttempt()`. Both kinds of source keep their books here.
 */
export class SourceLedger {
  current: readonly ServerConfig[] = [];
  private state: SourceState = 'pending';
  private lastSuccess: number | null = null;
  private lastChange: number | null = null;
  private lastError: string | null = null;
  private failures = 0;
  private readonly first: Promise<void>;
  private settleFirst: () => void = () => undefined;

  constructor(
    private readonly type: SourceStatus['type'],
    private readonly target: string,
    private readonly logger: DiscoveryLogger,
    /** Fields every log line of this source carries. */
    readonly fields: Readonly<Record<string, string>>,
  ) {
    this.first = new Promise((resolve) => {
      this.settleFirst = resolve;
    });
  }

  get consecutiveFailures(): number {
    return this.failures;
  }

  firstAttempt(): Promise<void> {
    return this.first;
  }

  /** An attempt ended (or the source stopped): `firstAttempt()` resolves. */
  attemptEnded(): void {
    this.settleFirst();
  }

  /**
   * A lookup or read at wall-clock `now` produced `servers`. Returns true
   * when they differ from the current list, which they then replace.
   */
  succeeded(now: number, servers: readonly ServerConfig[], recovered: string): boolean {
    this.lastSuccess = now;
    if (this.state === 'failing') this.logger.info(this.fields, recovered);
    this.state = 'ok';
    this.lastError = null;
    this.failures = 0;
    if (sameServerList(this.current, servers)) return false;
    this.current = servers;
    this.lastChange = now;
    this.logger.info({ ...this.fields, servers: servers.map((server) => server.name) }, `discovery: ${servers.length} servers`);
    return true;
  }

  /** The attempt failed; logged once per distinct `error`. */
  failed(error: string, log: LogLine): void {
    this.failures++;
    this.setError(error, log);
  }

  /**
   * The lookup at wall-clock `now` worked but its result is not used (a
   * valid answer without servers): not a failure, yet the state is failing.
   */
  declined(now: number, error: string, log: LogLine): void {
    this.lastSuccess = now;
    this.failures = 0;
    this.setError(error, log);
  }

  private setError(error: string, log: LogLine): void {
    this.state = 'failing';
    if (this.lastError !== error) this.logger.warn({ ...this.fields, ...log.fields }, log.message);
    this.lastError = error;
  }

  status(): SourceStatus {
    return {
      type: this.type,
      target: this.target,
      state: this.state,
      servers: this.current.length,
      lastSuccess: this.lastSuccess,
      lastChange: this.lastChange,
      lastError: this.lastError,
      consecutiveFailures: this.failures,
    };
  }
}
