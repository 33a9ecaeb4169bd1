/**
 * Runs active health checks for a set of servers and reports state changes.
 *
 * Schedule: a server's first check starts `random × jitter × interval` after
 * `start()` (or after `add()` when already running), so a fleet of checkers
 * does not probe in lockstep; each next check starts `interval × (1 + random ×
 * jitter)` after the previous one started, or as soon as it ended when it ran
 * longer than that. Checks of one server never overlap. Each check is aborted
 * after `timeout`. A server whose checks start failing is therefore marked
 * unhealthy within `unhealthyThreshold × interval × (1 + jitter) + timeout`.
 */
import type { HealthCheckConfig } from '../config/types.js';
import { systemClock, type Clock } from '../core/clock.js';
import { systemRandom, type Random } from '../core/random.js';
import type { HostPort } from '../core/server.js';
import { runCheck } from './active/index.js';
import { abortReason } from './active/probe.js';
import { RiseFall } from './state.js';
import { systemTimers, type TimerHandle, type Timers } from '../core/timers.js';
import type { CheckFunction, CheckResult, HealthStatus } from './types.js';

/** What the checker needs to know of a server: where to probe it. */
export interface HealthCheckTarget {
  readonly address: HostPort;
}

/** The latest verdict for a server, for status pages. */
export interface LastCheck extends CheckResult {
  /** Wall-clock milliseconds since the epoch when the check ended. */
  readonly at: number;
  readonly durationMs: number;
}

export interface ActiveHealthCheckerOptions<S extends HealthCheckTarget> {
  readonly config: HealthCheckConfig;
  /**
   * Called only when a server's state changes, with the reason of the check
   * that changed it. Runs synchronously inside the checker and must not throw.
   */
  readonly onChange: (server: S, from: HealthStatus, to: HealthStatus, reason: string) => void;
  /** Called after every completed check with its verdict (metrics); must not throw. */
  readonly onResult?: (server: S, result: CheckResult) => void;
  /** The probe; default runs the check `config.type` names. */
  readonly check?: CheckFunction;
  readonly random?: Random;
  readonly clock?: Clock;
  readonly timers?: Timers;
  /** See `RiseFallOptions.firstRise`. Default `first-success`. */
  readonly firstRise?: 'first-success' | 'threshold';
}

interface Entry {
  readonly machine: RiseFall;
  /** The next check's timer, while one is scheduled. */
  timer: TimerHandle | undefined;
  inFlight: AbortController | undefined;
  /** The timeout of the check in flight. */
  deadline: TimerHandle | undefined;
  settled: Promise<void> | undefined;
  last: LastCheck | undefined;
}

export class ActiveHealthChecker<S extends HealthCheckTarget> {
  private readonly entries = new Map<S, Entry>();
  private readonly config: HealthCheckConfig;
  private readonly onChange: ActiveHealthCheckerOptions<S>['onChange'];
  private readonly onResult: ActiveHealthCheckerOptions<S>['onResult'];
  private readonly check: CheckFunction;
  private readonly random: Random;
  private readonly clock: Clock;
  private readonly timers: Timers;
  private readonly firstRise: 'first-success' | 'threshold';
  private running = false;
  private completed = 0;

  constructor(options: ActiveHealthCheckerOptions<S>) {
    this.config = options.config;
    this.onChange = options.onChange;
    this.onResult = options.onResult;
    this.check = options.check ?? runCheck;
    this.random = options.random ?? systemRandom;
    this.clock = options.clock ?? systemClock;
    this.timers = options.timers ?? systemTimers;
    this.firstRise = options.firstRise ?? 'first-success';
  }

  /** Checks that ran to a verdict (aborted checks are not counted). */
  get checksRun(): number {
    return this.completed;
  }

  get isRunning(): boolean {
    return this.running;
  }

  /** Starts checking `server` (at once if running). Adding a known server does nothing. */
  add(server: S): void {
    if (this.entries.has(server)) return;
    const entry: Entry = {
      machine: new RiseFall({ ...this.config, firstRise: this.firstRise }),
      timer: undefined,
      inFlight: undefined,
      deadline: undefined,
      settled: undefined,
      last: undefined,
    };
    this.entries.set(server, entry);
    if (this.running) this.schedule(server, entry, this.firstDelay());
  }

  /** Stops checking `server`, aborting a check in flight; its verdict is dropped. */
  remove(server: S): void {
    const entry = this.entries.get(server);
    if (entry === undefined) return;
    this.halt(entry);
    this.entries.delete(server);
  }

  has(server: S): boolean {
    return this.entries.has(server);
  }

  /** The state of `server`, or undefined when it is not checked here. */
  state(server: S): HealthStatus | undefined {
    return this.entries.get(server)?.machine.state;
  }

  lastCheck(server: S): LastCheck | undefined {
    return this.entries.get(server)?.last;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    for (const [server, entry] of this.entries) this.schedule(server, entry, this.firstDelay());
  }

  /**
   * Cancels every timer and aborts every check in flight; their verdicts are
   * dropped. The built-in checks destroy their sockets synchronously on abort;
   * the promise resolves once the checker has let go of every aborted check.
   * States are kept, so `start()` resumes where the checker left off.
   */
  async stop(): Promise<void> {
    this.running = false;
    const pending: Promise<void>[] = [];
    for (const entry of this.entries.values()) {
      if (entry.settled !== undefined) pending.push(entry.settled);
      this.halt(entry);
    }
    await Promise.all(pending);
  }

  private halt(entry: Entry): void {
    if (entry.timer !== undefined) this.timers.clearTimeout(entry.timer);
    entry.timer = undefined;
    if (entry.deadline !== undefined) this.timers.clearTimeout(entry.deadline);
    entry.deadline = undefined;
    entry.inFlight?.abort(new DOMException('health checker stopped', 'AbortError'));
    entry.inFlight = undefined;
  }

  private firstDelay(): number {
    return this.random() * this.config.jitter * this.config.interval;
  }

  private period(): number {
    return this.config.interval * (1 + this.random() * this.config.jitter);
  }

  private schedule(server: S, entry: Entry, delayMs: number): void {
    entry.timer = this.timers.setTimeout(() => {
      entry.timer = undefined;
      entry.settled = this.run(server, entry);
    }, delayMs);
  }

  private async run(server: S, entry: Entry): Promise<void> {
    const controller = new AbortController();
    entry.inFlight = controller;
    const startedAt = this.clock.now();
    const deadline = this.timers.setTimeout(
      () => controller.abort(new DOMException('health check timed out', 'TimeoutError')),
      this.config.timeout,
    );
    entry.deadline = deadline;
    // The verdict is taken when the check settles or the signal aborts, whichever
    // is first, so the timeout holds even for a check that ignores its signal.
    let onAbort: (() => void) | undefined;
    const aborted = new Promise<CheckResult>((resolve) => {
      onAbort = () => resolve({ ok: false, reason: abortReason(controller.signal) });
      controller.signal.addEventListener('abort', onAbort, { once: true });
    });
    let result: CheckResult;
    try {
      result = await Promise.race([this.check(server.address, this.config, controller.signal), aborted]);
    } catch (error) {
      result = { ok: false, reason: `error: ${error instanceof Error ? error.message : String(error)}` };
    } finally {
      this.timers.clearTimeout(deadline);
      if (entry.deadline === deadline) entry.deadline = undefined;
      if (onAbort !== undefined) controller.signal.removeEventListener('abort', onAbort);
    }
    // Removed or stopped while the check ran: the verdict belongs to nobody.
    if (entry.inFlight !== controller) return;
    entry.inFlight = undefined;
    entry.settled = undefined;
    const endedAt = this.clock.now();
    this.completed++;
    entry.last = { ok: result.ok, reason: result.reason, at: this.clock.wallNow(), durationMs: endedAt - startedAt };
    this.schedule(server, entry, Math.max(0, startedAt + this.period() - endedAt));
    this.onResult?.(server, result);
    const transition = entry.machine.record(result.ok, result.reason);
    if (transition !== null) this.onChange(server, transition.from, transition.to, transition.reason);
  }
}
