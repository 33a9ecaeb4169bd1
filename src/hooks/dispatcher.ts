/**
 * Delivers Ballast events to the configured hooks without ever holding up
 * the code that publishes them.
 *
 * Contract:
 * - `handle(event)` is synchronous, O(number of hooks), and never throws: it
 *   filters the event per hook and appends it to that hook's queue.
 * - Each hook has one bounded FIFO queue and at most one delivery under way,
 *   so a hook sees events in the order they were handled. Hooks are
 *   independent: a slow or hanging one delays only its own queue.
 * - When a queue is full, the oldest waiting event is dropped, counted and
 *   logged (at most one warning per hook every `DROP_WARNING_INTERVAL`).
 * - A failed attempt is retried after `retryDelay`, doubling each time (at
 *   most `MAX_RETRY_DELAY`, unless `retryDelay` is longer), up to `retries`
 *   times; then the event is given up with an error log line and the queue
 *   moves on.
 * - `close(timeoutMs)` stops accepting events and lets the queues drain up to
 *   the deadline; then deliveries under way are aborted (programs killed,
 *   requests cancelled) and what is left is counted as dropped.
 */
import { systemClock, type Clock } from '../core/clock.js';
import type { BallastEvent, BallastEventType } from '../core/events.js';
import { systemTimers, type TimerHandle, type Timers } from '../core/timers.js';
import { buildPayload, type CapturedOutput, type Delivery, type DeliveryOutcome } from './delivery.js';
import { runExec } from './exec.js';
import { Ring } from './ring.js';
import {
  MAX_RETRY_DELAY,
  type HookAction,
  type HookConfig,
  type HookLogger,
  type HookStats,
} from './types.js';
import { postWebhook } from './webhook.js';

/** Shortest time between two "queue full" warnings of one hook. */
export const DROP_WARNING_INTERVAL = 10_000;

export interface HookDispatcherOptions {
  readonly logger?: HookLogger;
  /** Measures delivery durations and spaces warnings. Default: the system clock. */
  readonly clock?: Clock;
  /** Retry backoff and the close deadline. Default: Node's timers, unref'd. */
  readonly timers?: Timers;
}

const silentLogger: HookLogger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};

/** A logger whose failures are swallowed: a broken log sink must not stop deliveries or break `handle`. */
function guarded(logger: HookLogger): HookLogger {
  const wrap =
    (level: keyof HookLogger) =>
    (fields: Readonly<Record<string, unknown>>, message: string): void => {
      try {
        logger[level](fields, message);
      } catch {
        // nothing sensible left to report it to
      }
    };
  return { debug: wrap('debug'), info: wrap('info'), warn: wrap('warn'), error: wrap('error') };
}

interface Queued {
  readonly event: BallastEvent;
  readonly sequence: number;
}

/** The filter of one hook, as sets for O(1) membership. */
interface Filter {
  readonly types: ReadonlySet<BallastEventType> | undefined;
  readonly pools: ReadonlySet<string> | undefined;
  readonly sites: ReadonlySet<string> | undefined;
}

class HookQueue {
  config: HookConfig;
  filter: Filter;
  readonly pending: Ring<Queued>;
  /** Sequence number of the last accepted event. */
  sequence = 0;
  running: Promise<void> | undefined;
  inFlight = false;
  /** Set when the hook was removed by `update`: its queue is abandoned after the delivery under way. */
  retired = false;
  delivered = 0;
  failed = 0;
  dropped = 0;
  retried = 0;
  lastError: string | undefined;
  lastDeliveredAt: number | undefined;
  lastDropWarning: number | undefined;
  droppedSinceWarning = 0;

  constructor(config: HookConfig) {
    this.config = config;
    this.filter = filterOf(config);
    this.pending = new Ring(config.queueSize);
  }

  matches(event: BallastEvent): boolean {
    const { types, pools, sites } = this.filter;
    if (types !== undefined && !types.has(event.type)) return false;
    if (pools !== undefined && (event.pool === undefined || !pools.has(event.pool))) return false;
    if (sites !== undefined && (event.site === undefined || !sites.has(event.site))) return false;
    return true;
  }
}

function filterOf(config: HookConfig): Filter {
  return {
    types: config.on === undefined ? undefined : new Set(config.on),
    pools: config.pools === undefined ? undefined : new Set(config.pools),
    sites: config.sites === undefined ? undefined : new Set(config.sites),
  };
}

export class HookDispatcher {
  private readonly queues = new Map<string, HookQueue>();
  private readonly logger: HookLogger;
  private readonly clock: Clock;
  private readonly timers: Timers;
  /** Aborts deliveries under way and backoff waits once the close deadline passes. */
  private readonly abort = new AbortController();
  /** Drains under way, including those of hooks removed by `update`. */
  private readonly drains = new Set<Promise<void>>();
  private closing: Promise<void> | undefined;

  /** Precondition: hook names are unique (the config loader checks it). */
  constructor(hooks: readonly HookConfig[], options: HookDispatcherOptions = {}) {
    this.logger = options.logger === undefined ? silentLogger : guarded(options.logger);
    this.clock = options.clock ?? systemClock;
    this.timers = options.timers ?? systemTimers;
    for (const hook of hooks) this.queues.set(hook.name, new HookQueue(hook));
  }

  /** Queues `event` for every hook whose filter it passes. O(hooks); never blocks, never throws. */
  handle(event: BallastEvent): void {
    if (this.closing !== undefined) return;
    for (const queue of this.queues.values()) {
      try {
        if (!queue.matches(event)) continue;
        queue.sequence++;
        const dropped = queue.pending.push({ event, sequence: queue.sequence });
        if (dropped !== undefined) this.countDrop(queue, dropped);
        if (queue.running === undefined) this.start(queue);
      } catch (error) {
        this.logger.error({ hook: queue.config.name, err: messageOf(error) }, 'hook could not queue an event');
      }
    }
  }

  /**
   * Applies a new hook list (config reload). A hook whose name stays keeps its
   * queue, counters and sequence, and uses the new settings from its next
   * attempt on; a removed hook finishes the delivery under way and drops the
   * rest; a new hook starts empty. O(hooks + dropped events).
   */
  update(hooks: readonly HookConfig[]): void {
    if (this.closing !== undefined) return;
    const previous = new Map(this.queues);
    this.queues.clear();
    for (const hook of hooks) {
      const queue = previous.get(hook.name);
      previous.delete(hook.name);
      if (queue === undefined) {
        this.queues.set(hook.name, new HookQueue(hook));
        continue;
      }
      queue.config = hook;
      queue.filter = filterOf(hook);
      if (queue.pending.capacity !== hook.queueSize) {
        for (const dropped of queue.pending.resize(hook.queueSize)) this.countDrop(queue, dropped);
      }
      this.queues.set(hook.name, queue);
    }
    for (const [name, queue] of previous) {
      queue.retired = true;
      const left = queue.pending.clear();
      queue.dropped += left;
      if (left > 0) this.logger.warn({ hook: name, dropped: left }, 'hook removed; its waiting events were dropped');
    }
  }

  /** Counters per hook, in config order. O(hooks). */
  stats(): HookStats[] {
    return [...this.queues.values()].map((queue) => ({
      name: queue.config.name,
      type: queue.config.action.type,
      delivered: queue.delivered,
      failed: queue.failed,
      dropped: queue.dropped,
      retried: queue.retried,
      queued: queue.pending.length,
      inFlight: queue.inFlight,
      lastError: queue.lastError,
      lastDeliveredAt: queue.lastDeliveredAt,
    }));
  }

  /**
   * Stops accepting events, waits until every queue is empty or `timeoutMs`
   * passed, then aborts what is still under way and drops what still waits.
   * Idempotent: later calls return the first call's promise. Never rejects.
   */
  close(timeoutMs: number): Promise<void> {
    this.closing ??= this.shutDown(timeoutMs);
    return this.closing;
  }

  private async shutDown(timeoutMs: number): Promise<void> {
    const drained = Promise.all(this.drains);
    let deadline: TimerHandle | undefined;
    const expired = new Promise<void>((resolve) => {
      deadline = this.timers.setTimeout(resolve, Math.max(0, timeoutMs));
    });
    await Promise.race([drained, expired]);
    this.timers.clearTimeout(deadline);
    this.abort.abort();
    await drained;
    for (const queue of this.queues.values()) {
      const left = queue.pending.clear();
      if (left === 0) continue;
      queue.dropped += left;
      this.logger.warn({ hook: queue.config.name, dropped: left }, 'hook events not delivered before shutdown');
    }
  }

  /**
   * Starts delivering a queue on a later turn of the event loop, so that
   * `handle` never spawns a program or opens a connection on its caller's time.
   */
  private start(queue: HookQueue): void {
    const running = new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.drain(queue)).finally(() => {
      queue.running = undefined;
      queue.inFlight = false;
      this.drains.delete(running);
    });
    queue.running = running;
    this.drains.add(running);
  }

  /** Delivers the queue's events one at a time until it is empty, retired or aborted. */
  private async drain(queue: HookQueue): Promise<void> {
    try {
      while (!queue.retired && !this.abort.signal.aborted) {
        const item = queue.pending.shift();
        if (item === undefined) return;
        queue.inFlight = true;
        await this.deliver(queue, item);
        queue.inFlight = false;
      }
    } catch (error) {
      this.logger.error({ hook: queue.config.name, err: messageOf(error) }, 'hook queue stopped by an unexpected error');
    }
  }

  /** All attempts of one event; updates the counters. */
  private async deliver(queue: HookQueue, item: Queued): Promise<void> {
    const name = queue.config.name;
    const body = JSON.stringify(buildPayload(name, item.sequence, item.event));
    for (let attempt = 1; ; attempt++) {
      // Read per attempt: a reload changes the settings of the next attempt.
      const action = queue.config.action;
      const delivery: Delivery = { hook: name, sequence: item.sequence, attempt, event: item.event, body };
      const started = this.clock.now();
      const outcome = await this.attempt(action, delivery);
      const fields = {
        hook: name,
        event: item.event.type,
        sequence: item.sequence,
        attempt,
        durationMs: Math.round(this.clock.now() - started),
        ...outputFields(outcome.output),
      };
      if (outcome.ok) {
        queue.delivered++;
        queue.lastDeliveredAt = this.clock.wallNow();
        // Success is worth an info line only when the program said something.
        if ('stdout' in fields || 'stderr' in fields) this.logger.info({ ...fields, result: outcome.summary }, 'hook delivered');
        else this.logger.debug({ ...fields, result: outcome.summary }, 'hook delivered');
        return;
      }
      queue.lastError = outcome.error;
      const finalAttempt = !outcome.retryable || attempt > action.retries || this.abort.signal.aborted || queue.retired;
      if (finalAttempt) {
        queue.failed++;
        this.logger.error({ ...fields, err: outcome.error }, 'hook delivery failed; event given up');
        return;
      }
      const delay = backoff(action.retryDelay, attempt);
      queue.retried++;
      this.logger.warn({ ...fields, err: outcome.error, retryInMs: delay }, 'hook delivery failed; will retry');
      await this.sleep(delay);
    }
  }

  private async attempt(action: HookAction, delivery: Delivery): Promise<DeliveryOutcome> {
    try {
      switch (action.type) {
        case 'exec':
          return await runExec(action, delivery, this.abort.signal);
        case 'webhook':
          return await postWebhook(action, delivery, this.abort.signal);
        default: {
          const unknown: never = action;
          return { ok: false, retryable: false, error: `unknown hook action ${JSON.stringify(unknown)}` };
        }
      }
    } catch (error) {
      return { ok: false, retryable: true, error: messageOf(error) };
    }
  }

  /** Resolves after `ms`, or at once when deliveries are aborted. */
  private sleep(ms: number): Promise<void> {
    const signal = this.abort.signal;
    if (signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        this.timers.clearTimeout(handle);
        signal.removeEventListener('abort', done);
        resolve();
      };
      const handle = this.timers.setTimeout(done, ms);
      signal.addEventListener('abort', done, { once: true });
    });
  }

  private countDrop(queue: HookQueue, dropped: Queued): void {
    queue.dropped++;
    queue.droppedSinceWarning++;
    const now = this.clock.now();
    if (queue.lastDropWarning !== undefined && now - queue.lastDropWarning < DROP_WARNING_INTERVAL) return;
    this.logger.warn(
      {
        hook: queue.config.name,
        dropped: queue.droppedSinceWarning,
        oldestDropped: dropped.sequence,
        queueSize: queue.pending.capacity,
      },
      'hook queue full; oldest events dropped',
    );
    queue.lastDropWarning = now;
    queue.droppedSinceWarning = 0;
  }
}

/** `retryDelay` × 2^(attempt-1), at most max(`retryDelay`, MAX_RETRY_DELAY). */
export function backoff(retryDelay: number, attempt: number): number {
  const cap = Math.max(retryDelay, MAX_RETRY_DELAY);
  return Math.min(cap, retryDelay * 2 ** Math.min(attempt - 1, 30));
}

function outputFields(output: CapturedOutput | undefined): Record<string, string> {
  if (output === undefined) return {};
  return {
    ...(output.stdout === '' ? {} : { stdout: output.stdout }),
    ...(output.stderr === '' ? {} : { stderr: output.stderr }),
  };
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
