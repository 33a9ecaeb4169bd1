/**
 * Runs one drill: starts the scenario's processes, follows Ballast's events
 * (and, for site drills, the DNS answers), checks that the target answers,
 * then runs the load and the fault timeline from the same time 0, waits for
 * every request to finish, cleans up, and builds the report.
 */
import { randomBytes } from 'node:crypto';
import { request } from 'undici';
import type { BallastEvent } from '../core/events.js';
import type { ServerAction } from '../runtime/runtime.js';
import { TimeBuckets } from './buckets.js';
import { DnsClient, DnsResolver, DnsWatcher } from './dns.js';
import { followAdmin, followInProcess, followNothing, type EventFollower } from './events.js';
import { FaultTimeline, httpAdmin, ManagedProcess, type AdminActions } from './faults.js';
import { ErrorCodes } from '../core/errors.js';
import { LoadGenerator } from './load.js';
import { buildReport, describeEvent, type DrillReport, type RetrySource } from './report.js';
import { scrapeRetries } from './retries.js';
import type { AdminCall, Scenario } from './scenario.js';

/** Stable codes of drill failures (they complete the shared error catalogue). */
export const DrillErrorCodes = {
  /** The drill could not start: a process did not come up, the target or DNS did not answer. */
  SETUP: ErrorCodes.DRILL_SETUP,
} as const;

export class DrillError extends Error {
  readonly code = DrillErrorCodes.SETUP;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DrillError';
  }
}

/** A Ballast running in this process (the demo), reached without its admin listener. */
export interface InProcessBallast {
  onEvent(listener: (event: BallastEvent) => void): () => void;
  serverAction(pool: string, server: string, action: ServerAction): void;
}

/** What the caller provides beyond the scenario. */
export interface DrillEnvironment {
  readonly ballast?: InProcessBallast;
  /** Awaited after the processes started and before the load (e.g. until Ballast sees its servers healthy). */
  readonly beforeLoad?: () => Promise<void>;
  /** Called once the load is over; may count Ballast's retries (the demo reads its access log). */
  readonly afterLoad?: () => Promise<{ readonly retries?: number }>;
  /** Send one request before the load and give up when it gets no answer. Default true. */
  readonly preflight?: boolean;
  /** Admin bearer token used when the scenario gives none (the CLI passes $BALLAST_ADMIN_TOKEN). */
  readonly defaultToken?: string | undefined;
}

export interface DrillProgress {
  readonly elapsedMs: number;
  readonly durationMs: number;
  readonly sent: number;
  readonly succeeded: number;
  readonly failed: number;
  readonly inFlight: number;
  readonly lastEvent: string | undefined;
}

export interface DrillOptions {
  /** Called about four times a second while the load runs. */
  readonly onProgress?: (progress: DrillProgress) => void;
  /** Aborting stops the load early; the report covers what ran. */
  readonly signal?: AbortSignal;
  /** Monotonic ms. */
  readonly now?: () => number;
}

const PROGRESS_INTERVAL_MS = 250;
/** Time left after the load for the last state changes to arrive. */
const EVENT_GRACE_MS = 250;

function inProcessAdmin(ballast: InProcessBallast): AdminActions {
  return {
    act: async (pool: string, server: string, call: AdminCall, weight: number | undefined) => {
      const action: ServerAction = call === 'weight' ? { type: 'weight', weight: weight ?? 0 } : { type: call };
      ballast.serverAction(pool, server, action);
    },
  };
}

/** One request through the target; throws a DrillError when it gets no answer. */
async function preflight(scenario: Scenario, resolver: DnsResolver | undefined, runId: string): Promise<void> {
  const url = new URL(scenario.target.url);
  const headers: Record<string, string> = { ...scenario.load.headers, 'x-ballast-drill': `${runId}-preflight` };
  let origin = url.origin;
  if (resolver !== undefined) {
    const address = resolver.current() as string;
    origin = `${url.protocol}//${address.includes(':') ? `[${address}]` : address}${url.port === '' ? '' : `:${url.port}`}`;
    headers.host = url.host;
  }
  try {
    const response = await request(`${origin}${scenario.load.path}`, {
      method: scenario.load.method as 'GET',
      headers,
      ...(scenario.load.body === undefined ? {} : { body: scenario.load.body }),
      headersTimeout: Math.max(scenario.load.timeoutMs, 2_000),
      bodyTimeout: Math.max(scenario.load.timeoutMs, 2_000),
    });
    await response.body.dump();
  } catch (error) {
    throw new DrillError(`the target ${origin}${scenario.load.path} did not answer before the drill: ${(error as Error).message}`, { cause: error });
  }
}

/**
 * Runs `scenario` and returns its report. Throws {@link DrillError} when the
 * drill cannot start; everything started is stopped again in every case.
 */
export async function runDrill(scenario: Scenario, environment: DrillEnvironment = {}, options: DrillOptions = {}): Promise<DrillReport> {
  const now = options.now ?? (() => performance.now());
  const runId = randomBytes(6).toString('hex');
  const warnings: string[] = [];
  const processes = new Map<string, ManagedProcess>();
  let follower: EventFollower = followNothing();
  let dnsClient: DnsClient | undefined;
  let watcher: DnsWatcher | undefined;
  let resolver: DnsResolver | undefined;
  let load: LoadGenerator | undefined;
  let timeline: FaultTimeline | undefined;
  let progressTimer: NodeJS.Timeout | undefined;
  try {
    for (const spec of scenario.processes) {
      const managed = new ManagedProcess(spec);
      processes.set(spec.name, managed);
      try {
        await managed.start();
      } catch (error) {
        throw new DrillError(`process ${spec.name}: ${(error as Error).message}`, { cause: error });
      }
    }

    if (environment.ballast !== undefined) {
      follower = followInProcess((listener) => (environment.ballast as InProcessBallast).onEvent(listener));
    } else if (scenario.admin !== undefined) {
      try {
        follower = await followAdmin(scenario.admin.url);
      } catch (error) {
        warnings.push(`cannot follow events at ${scenario.admin.url}: ${(error as Error).message}; no detection times`);
      }
    }
    const admin = environment.ballast !== undefined ? inProcessAdmin(environment.ballast) : scenario.admin === undefined ? undefined : httpAdmin(scenario.admin.url, scenario.admin.token ?? environment.defaultToken);

    const url = new URL(scenario.target.url);
    if (scenario.target.dnsServers.length > 0) {
      dnsClient = new DnsClient();
      resolver = new DnsResolver(dnsClient, scenario.target.dnsServers, url.hostname, scenario.target.dnsType, now);
      if (!(await resolver.prime())) throw new DrillError(`no DNS server gave an address for ${url.hostname}`);
    }

    try {
      await environment.beforeLoad?.();
    } catch (error) {
      throw new DrillError((error as Error).message, { cause: error });
    }
    if (environment.preflight !== false) await preflight(scenario, resolver, runId);
    const retriesBefore = scenario.admin === undefined || environment.ballast !== undefined ? undefined : await scrapeRetries(scenario.admin.url);

    const buckets = new TimeBuckets();
    load = new LoadGenerator({ spec: scenario.load, target: { url, resolver }, buckets, runId, now });
    timeline = new FaultTimeline(scenario.faults, { processes, admin, now });
    const t0 = now() + scenario.load.warmupMs;
    const startWall = performance.timeOrigin + t0;
    if (dnsClient !== undefined) {
      watcher = new DnsWatcher(dnsClient, scenario.target.dnsServers, url.hostname, scenario.target.dnsType, scenario.target.dnsInterval, () => now() - t0);
      watcher.start();
    }
    load.start(t0);
    timeline.start(t0);
    const running = load;
    const onAbort = (): void => running.stop();
    options.signal?.addEventListener('abort', onAbort, { once: true });
    if (options.signal?.aborted === true) running.stop();
    if (options.onProgress !== undefined) {
      const report = options.onProgress;
      progressTimer = setInterval(() => {
        const totals = running.totals;
        const last = follower.events[follower.events.length - 1];
        report({
          elapsedMs: now() - t0,
          durationMs: scenario.load.durationMs,
          sent: totals.sent,
          succeeded: totals.succeeded,
          failed: totals.failed,
          inFlight: running.pending,
          lastEvent: last === undefined ? undefined : describeEvent({ atMs: 0, ...last.event }),
        });
      }, PROGRESS_INTERVAL_MS);
    }
    await load.done();
    options.signal?.removeEventListener('abort', onAbort);
    if (progressTimer !== undefined) clearInterval(progressTimer);
    progressTimer = undefined;
    await timeline.finish();
    await new Promise((resolve) => setTimeout(resolve, EVENT_GRACE_MS));
    watcher?.stop();

    let retries: { count: number | null; source: RetrySource | null } = { count: null, source: null };
    const after = await environment.afterLoad?.();
    if (after?.retries !== undefined) retries = { count: after.retries, source: 'access-log' };
    else if (retriesBefore !== undefined && scenario.admin !== undefined) {
      const retriesAfter = await scrapeRetries(scenario.admin.url);
      if (retriesAfter !== undefined) retries = { count: retriesAfter - retriesBefore, source: 'metrics' };
    }
    if (options.signal?.aborted === true) warnings.push('the drill was stopped before the end of the load');
    return buildReport({
      scenario,
      startWall,
      buckets,
      totals: load.totals,
      faults: timeline.outcomes,
      eventSource: follower.source,
      events: follower.events,
      dns: watcher?.observations,
      retries,
      warnings: [...warnings, ...follower.warnings],
      errors: [],
    });
  } finally {
    if (progressTimer !== undefined) clearInterval(progressTimer);
    load?.stop();
    await timeline?.finish();
    watcher?.stop();
    await follower.close();
    await load?.close();
    resolver?.close();
    dnsClient?.close();
    await Promise.all([...processes.values()].map((managed) => managed.terminate()));
  }
}
