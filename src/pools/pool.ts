import type { Balancer, PickContext } from '../balancers/types.js';
import { createBalancer } from '../balancers/index.js';
import type { PoolConfig, ServerConfig } from '../config/types.js';
import { systemClock, type Clock } from '../core/clock.js';
import type { BallastEventType, EventBus } from '../core/events.js';
import { BallastError, ErrorCodes } from '../core/errors.js';
import { systemRandom, type Random } from '../core/random.js';
import { ActiveHealthChecker } from '../health/checker.js';
import { OutlierDetector, type OutlierEvent } from '../health/outlier.js';
import type { CheckFunction, CheckResult } from '../health/types.js';
import { StickyCookie } from '../persistence/cookie.js';
import { hashKeyExtractor, type HashKeyExtractor } from '../persistence/hash-key.js';
import { PoolServer, type HealthVerdict } from './server.js';
import { RequestQueue, type QueueWaiter } from './queue.js';
import { RetryBudget } from './retry-budget.js';
import { SlowStart } from './slow-start.js';

export interface PoolDeps {
  readonly events: EventBus;
  readonly clock?: Clock;
  readonly random?: Random;
  /** Replaces the active check the config names (tests). */
  readonly check?: CheckFunction;
  /** Told about every completed active check (metrics). */
  readonly onCheck?: (pool: Pool, server: PoolServer, result: CheckResult) => void;
  /**
   * False in worker processes: another process runs the active checks and
   * sends its verdicts (`setHealth`). Default true.
   */
  readonly activeChecks?: boolean;
}

/** The shared part of a server's state that a primary process hands to its workers. */
export interface ServerSnapshot {
  readonly health: HealthVerdict;
  readonly draining: boolean;
  readonly disabled: boolean;
  readonly weight: number;
}

/** What `acquire` did with a request that wants a server. */
export type Acquisition = PoolServer | 'queued' | 'unavailable' | 'queue-full';

/** Pool-level availability: `up` while a primary serves, `backup` when only backups do. */
export type PoolHealth = 'up' | 'degraded' | 'backup' | 'empty';

/**
 * A pool: its servers, one balancer for primaries and one for backups, and
 * the rules that decide which servers may take new requests.
 *
 * Every change of a server's eligibility goes through `refresh`, which tells
 * the balancer (setUp/setDown) only when eligibility actually flips.
 */
export class Pool {
  readonly name: string;
  config: PoolConfig;
  /** Extracts the consistent-hash key of a request; undefined for other algorithms. */
  readonly hashKey: HashKeyExtractor | undefined;
  /** Cookie stickiness, when `stickySession.type` is `cookie`. */
  readonly stickyCookie: StickyCookie | undefined;
  private readonly servers = new Map<string, PoolServer>();
  /** Servers removed by a reload that still finish in-flight requests. */
  private readonly retiring = new Set<PoolServer>();
  /**
   * Servers of the pool's first config still waiting for their first check
   * verdict. They come up at full weight, without slow start: the pool is
   * starting, not recovering, and ramping all but the first server to pass a
   * check would flood that one.
   */
  private readonly startingUp = new Set<PoolServer>();
  private readonly primaries: Balancer<PoolServer>;
  private readonly backups: Balancer<PoolServer>;
  /** Every primary, up regardless of health: used in panic mode only. */
  private readonly panic: Balancer<PoolServer> | undefined;
  private readonly checker: ActiveHealthChecker<PoolServer> | undefined;
  private readonly outlier: OutlierDetector<PoolServer> | undefined;
  private returnTimer: NodeJS.Timeout | undefined;
  private readonly queue: RequestQueue;
  private readonly slowStart: SlowStart;
  private primaryCount = 0;
  private readonly events: EventBus;
  private readonly clock: Clock;
  private servingPrimaries = 0;
  private servingBackups = 0;
  private lastHealth: PoolHealth = 'empty';
  /** Requests or connections in flight across all servers. */
  inFlight = 0;
  private readonly retryBudget: RetryBudget;

  constructor(config: PoolConfig, deps: PoolDeps) {
    this.name = config.name;
    this.config = config;
    this.events = deps.events;
    this.clock = deps.clock ?? systemClock;
    const options = { clock: this.clock, random: deps.random ?? systemRandom };

    // Source-IP stickiness is consistent hashing on the client address, so only a failed server's clients move.
    const sticky = config.stickySession;
    const algorithm = sticky?.type === 'source-ip' ? 'source-ip' : config.algorithm;
    this.primaries = createBalancer<PoolServer>(algorithm, options);
    this.backups = createBalancer<PoolServer>(algorithm, options);
    this.panic = config.panicThreshold === undefined ? undefined : createBalancer<PoolServer>(algorithm, options);
    this.hashKey =
      algorithm === 'consistent-hash' ? hashKeyExtractor(config.hashKey ?? { kind: 'source-ip' }) : undefined;
    this.stickyCookie =
      sticky?.type === 'cookie'
        ? new StickyCookie({ pool: config.name, cookie: sticky.cookie, secret: sticky.secret, ttlMs: sticky.ttl })
        : undefined;
    this.queue = new RequestQueue(config.queue.size, config.queue.timeout);
    this.retryBudget = new RetryBudget(this.clock);
    this.slowStart = new SlowStart(config.slowStart, (server, weight) => this.applyWeight(server, weight));
    if (config.healthCheck !== undefined && deps.activeChecks !== false) {
      this.checker = new ActiveHealthChecker<PoolServer>({
        config: config.healthCheck,
        onChange: (server, _from, to, reason) => this.onActiveVerdict(server, to, reason),
        ...(deps.onCheck === undefined ? {} : { onResult: (server: PoolServer, result: CheckResult) => deps.onCheck?.(this, server, result) }),
        ...(deps.check === undefined ? {} : { check: deps.check }),
        ...(deps.random === undefined ? {} : { random: deps.random }),
        clock: this.clock,
      });
    }
    if (config.outlierDetection !== undefined) {
      this.outlier = new OutlierDetector<PoolServer>(config.outlierDetection, {
        clock: this.clock,
        onEvent: (event) => this.onOutlierEvent(event),
      });
    }
    for (const serverConfig of config.servers) {
      const server = new PoolServer(this.name, serverConfig, config.maxConnections, this.initialHealth());
      if (server.health === 'unknown') this.startingUp.add(server);
      this.addServer(server, false);
    }
    this.lastHealth = this.computeHealth();
  }

  /** Starts active health checks. */
  start(): void {
    this.checker?.start();
  }

  /** Stops health checks and timers and turns away queued requests. */
  async stop(): Promise<void> {
    if (this.returnTimer !== undefined) clearTimeout(this.returnTimer);
    this.slowStart.stop();
    this.queue.rejectAll();
    await this.checker?.stop();
  }

  /**
   * Picks a server for a new request or connection, or null when none can
   * take it now. Primaries first; backups only while no primary serves; in
   * panic mode (too few healthy primaries) every primary — but healthy
   * backups still come before panic when no primary is healthy.
   */
  pick(ctx: PickContext): PoolServer | null {
    if (this.servingPrimaries === 0 && this.servingBackups > 0) return this.backups.pick(ctx);
    if (this.panic !== undefined && this.inPanic()) return this.panic.pick(ctx);
    return this.servingPrimaries > 0 ? this.primaries.pick(ctx) : null;
  }

  /**
   * A server now, or a place in the queue when every serving server is at
   * its connection limit. A queued waiter is later granted a server or
   * rejected (queue timeout, pool stopped).
   */
  acquire(ctx: PickContext, waiter: QueueWaiter): Acquisition {
    const server = this.pick(ctx);
    if (server !== null) return server;
    if (this.servingPrimaries === 0 && this.servingBackups === 0) return 'unavailable';
    return this.queue.enqueue(waiter) ? 'queued' : 'queue-full';
  }

  /**
   * The server a sticky cookie names, when it may take the request now:
   * serving (healthy, not ejected, draining or disabled) and below its
   * connection limit. Otherwise the request is balanced normally.
   */
  stickyServer(name: string): PoolServer | undefined {
    const server = this.servers.get(name);
    if (server === undefined || !server.eligible || server.atCapacity) return undefined;
    return server.backup && this.servingPrimaries > 0 ? undefined : server;
  }

  /** Health and admin state of every server, for worker processes. */
  snapshot(): Record<string, ServerSnapshot> {
    const snapshot: Record<string, ServerSnapshot> = {};
    for (const server of this.servers.values()) {
      snapshot[server.name] = { health: server.health, draining: server.draining, disabled: server.disabled, weight: server.configuredWeight };
    }
    return snapshot;
  }

  /**
   * Takes over a primary's view of the servers, quietly (the primary already
   * announced the changes). Unknown names are ignored: a reload may be under way.
   */
  applySnapshot(snapshot: Readonly<Record<string, ServerSnapshot>>): void {
    for (const [name, state] of Object.entries(snapshot)) {
      const server = this.servers.get(name);
      if (server === undefined) continue;
      if (state.weight !== server.configuredWeight) {
        server.configuredWeight = state.weight;
        this.applyWeight(server, state.weight);
      }
      server.disabled = state.disabled;
      server.draining = state.draining;
      server.health = state.health;
      this.refresh(server);
    }
  }

  /** Withdraws a queued waiter (its client went away). */
  leaveQueue(waiter: QueueWaiter): void {
    this.queue.remove(waiter);
  }

  get queued(): number {
    return this.queue.length;
  }

  /** True when healthy primaries are below `panicThreshold` percent of all primaries. */
  private inPanic(): boolean {
    const threshold = this.config.panicThreshold;
    if (threshold === undefined || this.primaryCount === 0) return false;
    return (this.servingPrimaries * 100) / this.primaryCount < threshold;
  }

  /** Call when a request or connection to `server` starts. */
  begin(server: PoolServer): void {
    this.retryBudget.recordAttempt();
    this.inFlight++;
    server.inFlight++;
    server.counters.requests++;
    this.balancerOf(server).onRequestStart?.(server);
  }

  /**
   * Call exactly once per `begin`, when the exchange ends. `latencyMs` is the
   * time to the response headers (or the connection time for TCP).
   */
  end(server: PoolServer, latencyMs: number, failed: boolean): void {
    this.inFlight--;
    server.inFlight--;
    if (failed) server.counters.failures++;
    else {
      server.counters.latencyTotalMs += latencyMs;
      const ewma = server.counters.latencyEwmaMs;
      server.counters.latencyEwmaMs = ewma === 0 ? latencyMs : ewma * 0.9 + latencyMs * 0.1;
    }
    this.balancerOf(server).onRequestEnd?.(server, latencyMs);
    if (server.inFlight === 0 && this.retiring.has(server)) {
      this.finishRetiring(server);
      return;
    }
    if (this.outlier !== undefined) {
      if (failed) this.outlier.recordFailure(server);
      else this.outlier.recordSuccess(server);
    }
    if (this.queue.length > 0) this.serveQueue();
  }

  /**
   * Applies a new server list without touching anything else: servers that
   * stay (same name, address and role) keep health, counters, admin state and
   * connections and take their new weight; removed ones drain and leave once
   * idle; new ones start per the health check, with slow start.
   */
  applyServers(configs: readonly ServerConfig[], reason = 'reload'): void {
    const next = new Map(configs.map((config) => [config.name, config]));
    for (const server of [...this.servers.values()]) {
      const config = next.get(server.name);
      if (config === undefined || !sameServer(server, config)) this.retire(server, reason);
    }
    for (const config of configs) {
      const existing = this.servers.get(config.name);
      if (existing === undefined) {
        this.addServer(new PoolServer(this.name, config, this.config.maxConnections, this.initialHealth()));
        continue;
      }
      existing.maxConnections = this.config.maxConnections ?? Infinity;
      if (existing.configuredWeight !== config.weight) this.setWeight(existing, config.weight, reason);
    }
  }

  /**
   * Takes over the live state of servers that a previous pool of the same
   * name also had (a reload that changed the pool's policy): health verdict,
   * admin state, counters, and the keep-alive connections when the timeouts
   * did not change. The previous pool then retires everything it kept.
   */
  adopt(previous: Pool): void {
    const sameTimeouts = JSON.stringify(previous.config.timeouts) === JSON.stringify(this.config.timeouts);
    for (const server of this.servers.values()) {
      const old = previous.servers.get(server.name);
      if (old === undefined || !sameServer(old, server)) {
        // New with this reload: ramps up like any server added at run time.
        this.startingUp.delete(server);
        continue;
      }
      Object.assign(server.counters, old.counters);
      if (sameTimeouts && old.httpClient !== undefined) {
        server.httpClient = old.httpClient;
        old.httpClient = undefined;
      }
      server.draining = old.draining;
      server.disabled = old.disabled;
      if (old.health !== 'unknown') {
        server.health = old.health;
        this.startingUp.delete(server);
      }
      this.refresh(server, false);
    }
    previous.retireAll('replaced by reload');
  }

  /** Retires every server (the pool is being replaced or removed) and stops checks. */
  retireAll(reason: string): void {
    for (const server of [...this.servers.values()]) this.retire(server, reason);
    void this.stop();
  }

  /** True once every retired server finished its in-flight work. */
  get retired(): boolean {
    return this.servers.size === 0 && this.retiring.size === 0;
  }

  private retire(server: PoolServer, reason: string): void {
    this.drain(server, reason);
    this.servers.delete(server.name);
    this.checker?.remove(server);
    this.outlier?.remove(server);
    this.slowStart.cancel(server);
    this.startingUp.delete(server);
    this.retiring.add(server);
    if (server.inFlight === 0) this.finishRetiring(server);
  }

  private finishRetiring(server: PoolServer): void {
    this.retiring.delete(server);
    if (server.eligible) this.setEligible(server, false);
    this.balancerOf(server).remove(server);
    this.panic?.remove(server);
    if (!server.backup) this.primaryCount--;
    const client = server.httpClient;
    server.httpClient = undefined;
    void client?.close();
    this.updatePoolHealth('removed');
  }

  private initialHealth(): HealthVerdict {
    const check = this.config.healthCheck;
    return check === undefined || check.initialState === 'healthy' ? 'healthy' : 'unknown';
  }

  /** Hands freed capacity to queued requests, oldest first. */
  private serveQueue(): void {
    while (this.queue.length > 0) {
      const waiter = this.queue.peek() as QueueWaiter;
      const server = this.pick(waiter.ctx);
      if (server === null) return;
      this.queue.shift();
      waiter.granted(server);
    }
  }

  /**
   * Takes one retry from the pool's budget (`RetryBudget`): retries stay below
   * `percent` % of the requests of the last ten seconds, plus
   * `minimumPerSecond` per second. False when the budget is spent.
   */
  tryTakeRetryToken(minimumPerSecond: number, percent: number): boolean {
    return this.retryBudget.tryRetry(minimumPerSecond, percent);
  }

  /**
   * A rate budget is spent, not lent, so nothing is given back. Kept so that
   * callers written for the former concurrency budget (the TCP proxy) still
   * compile; remove once they no longer call it.
   */
  returnRetryToken(): void {}

  get(name: string): PoolServer | undefined {
    return this.servers.get(name);
  }

  /** The server named `name`, or a 404-typed error for the admin API. */
  require(name: string): PoolServer {
    const server = this.servers.get(name);
    if (server === undefined) {
      throw new BallastError(ErrorCodes.UNKNOWN_SERVER, `pool "${this.name}" has no server "${name}"`, 404);
    }
    return server;
  }

  list(): IterableIterator<PoolServer> {
    return this.servers.values();
  }

  get health(): PoolHealth {
    return this.lastHealth;
  }

  /** Adds a server; `rampUp` allows slow start for it (servers added at run time). */
  addServer(server: PoolServer, rampUp = true): void {
    this.servers.set(server.name, server);
    if (!server.backup) this.primaryCount++;
    this.balancerOf(server).add(server);
    if (this.panic !== undefined && !server.backup) this.panic.add(server);
    this.outlier?.add(server);
    this.checker?.add(server);
    this.refresh(server, rampUp);
  }

  /** Removes a server at once; callers drain it first when they want in-flight work to finish. */
  removeServer(server: PoolServer): void {
    if (server.eligible) this.setEligible(server, false);
    this.balancerOf(server).remove(server);
    this.panic?.remove(server);
    this.outlier?.remove(server);
    this.checker?.remove(server);
    this.slowStart.cancel(server);
    this.startingUp.delete(server);
    if (!server.backup) this.primaryCount--;
    this.servers.delete(server.name);
    this.updatePoolHealth('removed');
  }

  /** The active check's latest verdict for a server, for status. */
  lastCheck(server: PoolServer): { ok: boolean; reason: string; at: number } | undefined {
    return this.checker?.lastCheck(server);
  }

  private onActiveVerdict(server: PoolServer, to: HealthVerdict, reason: string): void {
    if (to === 'healthy' && server.ejected) this.outlier?.returnNow(server);
    this.setHealth(server, to, reason);
  }

  private onOutlierEvent(event: OutlierEvent<PoolServer>): void {
    this.setEjected(event.server, event.type === 'ejected', event.reason);
    this.scheduleReturns();
  }

  /** Keeps one timer armed for the earliest end of an ejection. */
  private scheduleReturns(): void {
    const outlier = this.outlier;
    if (outlier === undefined) return;
    if (this.returnTimer !== undefined) clearTimeout(this.returnTimer);
    this.returnTimer = undefined;
    const next = outlier.nextReturnAt();
    if (next === undefined) return;
    this.returnTimer = setTimeout(() => {
      this.returnTimer = undefined;
      outlier.expired();
      this.scheduleReturns();
    }, Math.max(0, next - this.clock.now()));
    this.returnTimer.unref();
  }

  setHealth(server: PoolServer, verdict: HealthVerdict, reason: string): void {
    if (server.health === verdict) return;
    server.health = verdict;
    const rampUp = !this.startingUp.delete(server);
    if (verdict === 'healthy') this.announce('server-up', server, reason);
    else if (verdict === 'unhealthy') this.announce('server-down', server, reason);
    this.refresh(server, rampUp);
  }

  setEjected(server: PoolServer, ejected: boolean, reason: string): void {
    if (server.ejected === ejected) return;
    server.ejected = ejected;
    this.announce(ejected ? 'server-ejected' : 'server-restored', server, reason);
    this.refresh(server);
  }

  drain(server: PoolServer, reason = 'admin'): void {
    if (server.draining) return;
    server.draining = true;
    this.announce('server-draining', server, reason);
    this.refresh(server);
  }

  disable(server: PoolServer, reason = 'admin'): void {
    if (server.disabled) return;
    server.disabled = true;
    this.announce('server-disabled', server, reason);
    this.refresh(server);
  }

  /** Clears both drain and disable. */
  enable(server: PoolServer, reason = 'admin'): void {
    if (!server.disabled && !server.draining) return;
    server.disabled = false;
    server.draining = false;
    this.announce('server-enabled', server, reason);
    this.refresh(server);
  }

  setWeight(server: PoolServer, weight: number, reason = 'admin'): void {
    server.configuredWeight = weight;
    this.slowStart.cancel(server);
    this.applyWeight(server, weight);
    this.announce('server-weight', server, reason, { weight });
  }

  /** Sets the effective weight only (slow start); the configured weight stays. */
  applyWeight(server: PoolServer, weight: number): void {
    if (server.weight === weight) return;
    server.weight = weight;
    this.balancerOf(server).reweight(server);
    if (this.panic !== undefined && !server.backup) this.panic.reweight(server);
  }

  /**
   * Re-evaluates one server after any change. Slow start applies to a server
   * that starts serving while others already serve (as HAProxy, not when the
   * whole pool comes up).
   */
  private refresh(server: PoolServer, rampUp = true): void {
    if (this.panic !== undefined && !server.backup) {
      if (server.disabled || server.draining) this.panic.setDown(server);
      else this.panic.setUp(server);
    }
    const serving = server.serving;
    if (serving !== server.eligible) {
      if (serving && rampUp && this.servingPrimaries + this.servingBackups > 0) this.slowStart.begin(server);
      if (!serving) this.slowStart.cancel(server);
      this.setEligible(server, serving);
      if (serving && this.queue.length > 0) this.serveQueue();
    }
    this.updatePoolHealth(server.state);
  }

  private setEligible(server: PoolServer, eligible: boolean): void {
    server.eligible = eligible;
    const delta = eligible ? 1 : -1;
    if (server.backup) this.servingBackups += delta;
    else this.servingPrimaries += delta;
    if (eligible) this.balancerOf(server).setUp(server);
    else this.balancerOf(server).setDown(server);
  }

  private computeHealth(): PoolHealth {
    let primaries = 0;
    for (const server of this.servers.values()) if (!server.backup) primaries++;
    if (this.servingPrimaries > 0) return this.servingPrimaries < primaries ? 'degraded' : 'up';
    return this.servingBackups > 0 ? 'backup' : 'empty';
  }

  private updatePoolHealth(reason: string): void {
    const next = this.computeHealth();
    if (next === this.lastHealth) return;
    this.lastHealth = next;
    if (next === 'empty') this.announce('pool-empty', undefined, reason);
    else if (next === 'up') this.announce('pool-restored', undefined, reason);
    // Also between `degraded` and `backup`: the switch to and from backups is a state change too.
    else this.announce('pool-degraded', undefined, reason, { health: next });
  }

  private balancerOf(server: PoolServer): Balancer<PoolServer> {
    return server.backup ? this.backups : this.primaries;
  }

  private announce(
    type: BallastEventType,
    server: PoolServer | undefined,
    reason: string,
    detail?: Record<string, string | number | boolean>,
  ): void {
    this.events.publish({
      type,
      time: this.clock.wallNow(),
      pool: this.name,
      ...(server === undefined ? {} : { server: server.name }),
      reason,
      ...(detail === undefined ? {} : { detail }),
    });
  }
}

function sameServer(server: Pick<PoolServer, 'address' | 'backup'>, config: Pick<ServerConfig, 'address' | 'backup'>): boolean {
  return server.address.host === config.address.host && server.address.port === config.address.port && server.backup === config.backup;
}
