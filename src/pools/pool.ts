import type { Balancer, PickContext } from '../balancers/types.js';
import { createBalancer } from '../balancers/index.js';
import type { PoolConfig } from '../config/types.js';
import { systemClock, type Clock } from '../core/clock.js';
import type { BallastEventType, EventBus } from '../core/events.js';
import { BallastError, ErrorCodes } from '../core/errors.js';
import { systemRandom, type Random } from '../core/random.js';
import { PoolServer, type HealthVerdict } from './server.js';

export interface PoolDeps {
  readonly events: EventBus;
  readonly clock?: Clock;
  readonly random?: Random;
}

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
  private readonly servers = new Map<string, PoolServer>();
  private readonly primaries: Balancer<PoolServer>;
  private readonly backups: Balancer<PoolServer>;
  private readonly events: EventBus;
  private readonly clock: Clock;
  private servingPrimaries = 0;
  private servingBackups = 0;
  private lastHealth: PoolHealth = 'empty';
  /** Requests or connections in flight across all servers. */
  inFlight = 0;
  private retriesInFlight = 0;

  constructor(config: PoolConfig, deps: PoolDeps) {
    this.name = config.name;
    this.config = config;
    this.events = deps.events;
    this.clock = deps.clock ?? systemClock;
    const options = { clock: this.clock, random: deps.random ?? systemRandom };
    this.primaries = createBalancer<PoolServer>(config.algorithm, options);
    this.backups = createBalancer<PoolServer>(config.algorithm, options);
    const initial: HealthVerdict = config.healthCheck === undefined || config.healthCheck.initialState === 'healthy' ? 'healthy' : 'unknown';
    for (const serverConfig of config.servers) {
      this.addServer(new PoolServer(this.name, serverConfig, config.maxConnections, initial));
    }
    this.lastHealth = this.computeHealth();
  }

  /** Picks a server for a new request or connection, or null when none can take it now. */
  pick(ctx: PickContext): PoolServer | null {
    if (this.servingPrimaries > 0) return this.primaries.pick(ctx);
    if (this.servingBackups > 0) return this.backups.pick(ctx);
    return null;
  }

  /** Call when a request or connection to `server` starts. */
  begin(server: PoolServer): void {
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
  }

  /**
   * Retry budget: a request may start retrying while fewer than
   * max(`minimum`, `percent` % of in-flight requests) requests are retrying.
   * Bounds retry storms when a whole pool fails (Envoy's retry budget).
   */
  tryTakeRetryToken(minimum: number, percent: number): boolean {
    const allowed = Math.max(minimum, (this.inFlight * percent) / 100);
    if (this.retriesInFlight >= allowed) return false;
    this.retriesInFlight++;
    return true;
  }

  returnRetryToken(): void {
    this.retriesInFlight--;
  }

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

  addServer(server: PoolServer): void {
    this.servers.set(server.name, server);
    this.balancerOf(server).add(server);
    this.refresh(server);
  }

  /** Removes a server at once; callers drain it first when they want in-flight work to finish. */
  removeServer(server: PoolServer): void {
    if (server.eligible) this.setEligible(server, false);
    this.balancerOf(server).remove(server);
    this.servers.delete(server.name);
    this.updatePoolHealth('removed');
  }

  setHealth(server: PoolServer, verdict: HealthVerdict, reason: string): void {
    if (server.health === verdict) return;
    server.health = verdict;
    if (verdict === 'healthy') this.announce('server-up', server, reason);
    else if (verdict === 'unhealthy') this.announce('server-down', server, reason);
    this.refresh(server);
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
    this.applyWeight(server, weight);
    this.announce('server-weight', server, reason, { weight });
  }

  /** Sets the effective weight only (slow start); the configured weight stays. */
  applyWeight(server: PoolServer, weight: number): void {
    if (server.weight === weight) return;
    server.weight = weight;
    this.balancerOf(server).reweight(server);
  }

  private refresh(server: PoolServer): void {
    const serving = server.serving;
    if (serving !== server.eligible) this.setEligible(server, serving);
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
    const previous = this.lastHealth;
    this.lastHealth = next;
    if (next === 'empty') this.announce('pool-empty', undefined, reason);
    else if (next === 'up') this.announce('pool-restored', undefined, reason);
    else if (previous === 'up' || previous === 'empty') this.announce('pool-degraded', undefined, reason, { health: next });
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
