import type { Logger } from 'pino';
import type { BallastConfig, HttpListenerConfig, HttpsListenerConfig, ListenerConfig, PoolConfig, TcpListenerConfig } from '../config/types.js';
import { EventBus } from '../core/events.js';
import { formatHostPort } from '../core/server.js';
import { VERSION } from '../core/version.js';
import { HttpListener } from '../listeners/http.js';
import { TcpListener } from '../listeners/tcp.js';
import { Pool } from '../pools/pool.js';
import type { PoolServer } from '../pools/server.js';
import type { ServerSnapshot } from '../pools/pool.js';
import type { CheckResult } from '../health/types.js';
import { Router } from '../router/router.js';
import type { AdminServer } from '../admin/api.js';
import type { AvailabilityLedger } from '../admin/ledger.js';
import type { AdminView, ReloadResult } from '../admin/view.js';
import { loadConfigFile } from '../config/index.js';
import { BallastError, ConfigError, ErrorCodes, formatConfigIssue } from '../core/errors.js';
import { resolve as resolvePath } from 'node:path';
import type { HookDispatcher } from '../hooks/dispatcher.js';
import { createLoggers, type Loggers } from './logging.js';
import type { Telemetry } from './telemetry.js';
import type { GslbNode } from '../gslb/index.js';
import { DiscoveryBinding } from '../discovery/index.js';
import { mergeWorkerStatuses, type PoolStatus, type RuntimeStatus } from './status.js';

type Listener = HttpListener | TcpListener;

/** How long start-up waits for the first answers of the pools' discovery sources. */
const DISCOVERY_READY_MS = 5000;

/**
 * How a runtime takes part in a multi-process deployment (`workers`):
 * `single` does everything in one process; a `primary` runs health checks,
 * the admin API, the ledger and GSLB but binds no listener; a `worker` binds
 * the listeners and follows the primary's health verdicts.
 */
export type RuntimeRole = 'single' | 'primary' | 'worker';

export interface RuntimeOptions {
  readonly role?: RuntimeRole;
  readonly loggers?: Loggers;
  /** Server states to apply before the listeners bind (a worker starting under a primary). */
  readonly initialSnapshots?: Readonly<Record<string, Readonly<Record<string, ServerSnapshot>>>>;
}

/** What a primary learns from its workers, for status and metrics. */
export interface WorkerFleet {
  /** The latest status each live worker reported. */
  statuses(): readonly RuntimeStatus[];
  /** Each live worker's metrics registry as prom-client JSON. */
  metrics(): Promise<readonly object[][]>;
  /** Worker processes and their pids. */
  workers(): readonly { readonly id: number; readonly pid: number | undefined }[];
}

/** What an operator can do to one server (admin API, programmatic API). */
export type ServerAction =
  | { readonly type: 'drain' }
  | { readonly type: 'disable' }
  | { readonly type: 'enable' }
  | { readonly type: 'weight'; readonly weight: number };

/**
 * The live graph built from one config snapshot: pools, listeners and the
 * routes between them. `reload` applies a new snapshot by difference.
 */
export class Runtime {
  readonly events = new EventBus();
  private config: BallastConfig;
  private readonly loggers: Loggers;
  private readonly pools = new Map<string, Pool>();
  /** Discovery of the pools that have a `discovery` list, by pool name. */
  private readonly discoveries = new Map<string, DiscoveryBinding>();
  /** The latest server states from the primary (workers), re-applied to servers discovery adds. */
  private lastSnapshots: Readonly<Record<string, Readonly<Record<string, ServerSnapshot>>>> = {};
  private readonly listeners = new Map<string, Listener>();
  private readonly startedAt = new Date();
  private closing: Promise<void> | undefined;
  /**
   * Metrics, the availability ledger and the admin API exist only when
   * `admin` is configured (metrics also in workers, for the primary). These
   * and GSLB and hooks are loaded on demand, so a plain proxy carries none
   * of their code.
   */
  private telemetry: Telemetry | undefined;
  private ledger: AvailabilityLedger | undefined;
  private admin: AdminServer | undefined;
  private gslb: GslbNode | undefined;
  readonly role: RuntimeRole;
  private fleet: WorkerFleet | undefined;
  /** Event hooks; never in workers, whose events the primary announces (hooks would run once per worker). */
  private hooks: HookDispatcher | undefined;

  private constructor(config: BallastConfig, loggers: Loggers, role: RuntimeRole) {
    this.config = config;
    this.loggers = loggers;
    this.role = role;
    this.events.subscribe((event) => {
      this.hooks?.handle(event);
      this.loggers.logger.info({ event }, event.type);
      this.telemetry?.event(event);
      this.ledger?.recordEvent(event);
    });
  }

  /** Builds the graph and binds every listener; rejects (and releases what was bound) on failure. */
  static async start(config: BallastConfig, options: RuntimeOptions = {}): Promise<Runtime> {
    const role = options.role ?? 'single';
    const loggers = options.loggers ?? createLoggers(config.log);
    const runtime = new Runtime(config, loggers, role);
    try {
      // Workers always count, so that the primary can aggregate what they saw.
      if (config.admin !== undefined || role === 'worker') {
        const { Telemetry } = await import('./telemetry.js');
        runtime.telemetry = new Telemetry();
      }
      await runtime.updateHooks(config);
      if (config.admin !== undefined && role !== 'worker') {
        const [{ AvailabilityLedger }, { AdminServer }] = await Promise.all([import('../admin/ledger.js'), import('../admin/api.js')]);
        runtime.ledger = AvailabilityLedger.open(resolvePath(config.dataDir), {
          onError: (error) => loggers.logger.error({ err: error }, 'availability ledger write failed'),
        });
        runtime.admin = new AdminServer(config.admin, runtime.adminView(), loggers.logger);
        await runtime.admin.listen();
        loggers.logger.info({ address: formatHostPort(config.admin.listen) }, 'admin API listening');
      }
      for (const poolConfig of config.pools) runtime.pools.set(poolConfig.name, runtime.createPool(poolConfig));
      await Promise.all([...runtime.discoveries.values()].map((binding) => binding.ready(DISCOVERY_READY_MS)));
      if (options.initialSnapshots !== undefined) runtime.applySnapshots(options.initialSnapshots);
      if (config.gslb !== undefined && role !== 'worker') {
        // A site must not announce itself down at boot only because its first health checks have not run yet.
        await runtime.firstVerdicts();
        const { GslbNode } = await import('../gslb/index.js');
        const rateLimit = config.gslb.dns?.rateLimit;
        runtime.gslb = new GslbNode(
          config.gslb,
          {
            localReady: () => runtime.hasServingServer(),
            logger: loggers.logger,
            onEvent: (event) => runtime.events.publish(event),
          },
          rateLimit === undefined ? {} : { rateLimit },
        );
        await runtime.gslb.start();
        loggers.logger.info({ site: config.gslb.site }, 'gslb started');
      }
      for (const listenerConfig of role === 'primary' ? [] : config.listeners) {
        const listener = runtime.createListener(listenerConfig);
        runtime.listeners.set(listenerConfig.name, listener);
        await listener.listen();
        loggers.logger.info({ listener: listenerConfig.name, address: formatHostPort(listenerConfig.listen) }, 'listening');
      }
    } catch (error) {
      await runtime.close(0);
      throw error;
    }
    return runtime;
  }

  get logger(): Logger {
    return this.loggers.logger;
  }

  get currentConfig(): BallastConfig {
    return this.config;
  }

  pool(name: string): Pool | undefined {
    return this.pools.get(name);
  }

  /** The pool named `name`, or a 404-typed error for the admin API. */
  requirePool(name: string): Pool {
    const pool = this.pools.get(name);
    if (pool === undefined) throw new BallastError(ErrorCodes.UNKNOWN_POOL, `no pool named "${name}"`, 404);
    return pool;
  }

  /** Applies an operator action to one server; unknown pool or server throw 404-typed errors. */
  serverAction(poolName: string, serverName: string, action: ServerAction): void {
    const pool = this.requirePool(poolName);
    const server = pool.require(serverName);
    switch (action.type) {
      case 'drain':
        pool.drain(server);
        return;
      case 'disable':
        pool.disable(server);
        return;
      case 'enable':
        pool.enable(server);
        return;
      case 'weight':
        pool.setWeight(server, action.weight);
        return;
      default: {
        const unreachable: never = action;
        throw new BallastError(ErrorCodes.BAD_REQUEST, `unknown server action ${JSON.stringify(unreachable)}`, 400);
      }
    }
  }

  /**
   * Resolves once every health-checked server has had its first verdict, or
   * after the longest first-check time (interval + timeout) has passed.
   */
  private async firstVerdicts(): Promise<void> {
    const limit = Math.max(0, ...this.config.pools.map((pool) => (pool.healthCheck === undefined ? 0 : pool.healthCheck.interval + pool.healthCheck.timeout)));
    const deadline = Date.now() + limit;
    const pending = (): boolean => [...this.pools.values()].some((pool) => [...pool.list()].some((server) => server.health === 'unknown'));
    while (pending() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
  }

  /**
   * Whether this site can serve: at least one pool has a server taking
   * traffic. GSLB peers learn it through heartbeats. O(pools).
   */
  hasServingServer(): boolean {
    for (const pool of this.pools.values()) if (pool.health !== 'empty') return true;
    return false;
  }

  /** Manual failback of a GSLB site (`failback: manual`); 404/409-typed errors from the GSLB engine. */
  gslbFailback(site: string): unknown {
    if (this.gslb === undefined) throw new BallastError(ErrorCodes.NOT_FOUND, 'gslb is not configured', 404);
    return this.gslb.failback(site);
  }

  /** Creates the hook dispatcher when hooks appear (never in workers), or hands it the new list. */
  private async updateHooks(config: BallastConfig): Promise<void> {
    if (this.role === 'worker') return;
    if (this.hooks !== undefined) {
      this.hooks.update(config.hooks);
      return;
    }
    if (config.hooks.length === 0) return;
    const { HookDispatcher } = await import('../hooks/dispatcher.js');
    this.hooks = new HookDispatcher(config.hooks, { logger: this.loggers.logger });
  }

  /** Lets a primary merge its workers' statuses and metrics into its own. */
  attachFleet(fleet: WorkerFleet): void {
    this.fleet = fleet;
  }

  /** Health and admin state of every server of every pool (primary → workers). */
  snapshots(): Record<string, Record<string, ServerSnapshot>> {
    const all: Record<string, Record<string, ServerSnapshot>> = {};
    for (const [name, pool] of this.pools) all[name] = pool.snapshot();
    return all;
  }

  /** Applies a primary's snapshots (workers). */
  applySnapshots(snapshots: Readonly<Record<string, Readonly<Record<string, ServerSnapshot>>>>): void {
    this.lastSnapshots = snapshots;
    for (const [name, snapshot] of Object.entries(snapshots)) this.pools.get(name)?.applySnapshot(snapshot);
  }

  /** This process's metrics as prom-client JSON (workers answer the primary with it). */
  async metricsJson(): Promise<object[]> {
    if (this.telemetry === undefined) return [];
    this.telemetry.refreshPools(this.pools.values());
    return this.telemetry.json();
  }

  /** The bound admin API address, when `admin` is configured. */
  adminAddress(): { host: string; port: number } | undefined {
    if (this.admin === undefined) return undefined;
    const address = this.admin.address;
    return { host: address.address, port: address.port };
  }

  /** Re-reads the config file this runtime was started from and applies it; the running config stays on error. */
  async reloadFromSource(): Promise<ReloadResult> {
    try {
      await this.reload(await loadConfigFile(this.config.source));
      return { ok: true };
    } catch (error) {
      const errors = error instanceof ConfigError ? error.issues.map(formatConfigIssue) : [(error as Error).message];
      this.events.publish({ type: 'config-reload-failed', time: Date.now(), reason: errors.join('; ') });
      return { ok: false, errors };
    }
  }

  private adminView(): AdminView {
    return {
      status: () => this.status(),
      serverAction: (pool, server, action) => this.serverAction(pool, server, action),
      reload: () => this.reloadFromSource(),
      events: this.events,
      availability: () => this.ledger?.availability() ?? {},
      failback: (site) => this.gslbFailback(site),
      metrics: async () => {
        const telemetry = this.telemetry as Telemetry;
        telemetry.refreshPools(this.pools.values());
        if (this.fleet === undefined) return telemetry.render();
        const { AggregatorRegistry } = await import('prom-client');
        const merged = AggregatorRegistry.aggregate([await telemetry.json(), ...(await this.fleet.metrics())] as Parameters<typeof AggregatorRegistry.aggregate>[0]);
        return { contentType: merged.contentType, body: await merged.metrics() };
      },
    };
  }

  /** The bound address of a listener (useful when the config asked for port 0). */
  listenerAddress(name: string): { host: string; port: number } | undefined {
    const listener = this.listeners.get(name);
    if (listener === undefined) return undefined;
    const address = listener.address;
    return { host: address.address, port: address.port };
  }

  /**
   * Applies a new config: unchanged pools keep their servers' state; listeners
   * whose address and protocol did not change keep their socket; a changed
   * address binds the new socket before the old one is closed.
   */
  async reload(next: BallastConfig): Promise<void> {
    this.reloadPools(next.pools);
    const bound = new Map<string, Listener>();
    try {
      for (const listenerConfig of this.role === 'primary' ? [] : next.listeners) {
        const existing = this.listeners.get(listenerConfig.name);
        if (existing !== undefined && sameSocket(this.listenerConfig(listenerConfig.name), listenerConfig)) {
          this.updateListener(existing, listenerConfig);
          bound.set(listenerConfig.name, existing);
          continue;
        }
        const listener = this.createListener(listenerConfig);
        await listener.listen();
        bound.set(listenerConfig.name, listener);
      }
    } catch (error) {
      // A new address could not be bound: release what this reload bound and keep the old listeners.
      for (const [name, listener] of bound) if (this.listeners.get(name) !== listener) void listener.close(0);
      throw error;
    }
    for (const [name, listener] of this.listeners) {
      if (bound.get(name) !== listener) void listener.close(this.config.drainTimeout);
    }
    this.listeners.clear();
    for (const [name, listener] of bound) this.listeners.set(name, listener);
    this.config = next;
    await this.updateHooks(next);
    this.events.publish({ type: 'config-reloaded', time: Date.now(), reason: next.source });
  }

  /**
   * Pools are diffed: a pool whose policy is unchanged only applies its new
   * server list (servers that stay keep everything); a pool whose policy
   * changed is rebuilt and adopts the live state of the servers it keeps; a
   * pool that disappeared retires its servers once their requests finish.
   */
  private reloadPools(configs: readonly PoolConfig[]): void {
    const names = new Set(configs.map((config) => config.name));
    for (const config of configs) {
      const existing = this.pools.get(config.name);
      if (existing === undefined) {
        this.pools.set(config.name, this.createPool(config));
      } else if (samePolicy(existing.config, config)) {
        existing.config = config;
        this.bindDiscovery(existing, config);
      } else {
        const replacement = this.createPool(config);
        replacement.adopt(existing);
        this.pools.set(config.name, replacement);
      }
    }
    for (const [name, pool] of this.pools) {
      if (names.has(name)) continue;
      this.unbindDiscovery(name);
      pool.retireAll('removed by reload');
      this.pools.delete(name);
    }
  }

  status(): RuntimeStatus {
    const own = this.gslb === undefined ? this.ownStatus() : { ...this.ownStatus(), gslb: this.gslb.status() };
    return this.fleet === undefined ? own : mergeWorkerStatuses(own, this.fleet.statuses(), this.fleet.workers());
  }

  private ownStatus(): RuntimeStatus {
    return {
      version: VERSION,
      startedAt: this.startedAt.toISOString(),
      listeners: [...this.listeners.values()].map((listener) => ({
        name: listener.name,
        protocol: this.listenerConfig(listener.name)?.protocol ?? 'http',
        address: formatHostPort({ host: listener.address.address, port: listener.address.port }),
        inFlight: listener.inFlight,
      })),
      pools: [...this.pools.values()].map((pool) => poolStatus(pool, this.discoveries.get(pool.name))),
    };
  }

  /** Stops accepting, waits up to `drainMs` for in-flight requests, then releases everything. Idempotent. */
  close(drainMs = this.config.drainTimeout): Promise<void> {
    this.closing ??= (async () => {
      // Hooks work through their queues while the listeners drain, within the same time.
      await Promise.all([...[...this.listeners.values()].map((listener) => listener.close(drainMs)), this.hooks?.close(drainMs)]);
      await Promise.all([...this.discoveries.values()].map((binding) => binding.stop()));
      await Promise.all([...this.pools.values()].map(async (pool) => {
        await pool.stop();
        await closePoolClients(pool);
      }));
      await this.gslb?.close();
      await this.admin?.close();
      this.ledger?.close();
      this.loggers.close();
    })();
    return this.closing;
  }

  private listenerConfig(name: string): ListenerConfig | undefined {
    return this.config.listeners.find((listener) => listener.name === name);
  }

  private createPool(config: PoolConfig): Pool {
    const telemetry = this.telemetry;
    const pool = new Pool(config, {
      events: this.events,
      activeChecks: this.role !== 'worker',
      ...(telemetry === undefined ? {} : { onCheck: (_pool: Pool, server: PoolServer, result: CheckResult) => telemetry.healthCheck(server, result) }),
    });
    pool.start();
    this.bindDiscovery(pool, config);
    return pool;
  }

  /**
   * Gives `pool` its servers: the static list, plus what discovery finds
   * when the config has a `discovery` list. Sources whose settings did not
   * change keep running across reloads.
   */
  private bindDiscovery(pool: Pool, config: PoolConfig): void {
    const binding = this.discoveries.get(config.name);
    if (config.discovery.length === 0) {
      this.unbindDiscovery(config.name);
      pool.applyServers(config.servers);
      return;
    }
    if (binding !== undefined) {
      binding.attach(pool, config);
      return;
    }
    this.discoveries.set(
      config.name,
      new DiscoveryBinding(pool, config, {
        logger: this.loggers.logger,
        // A worker adds discovered servers itself; their health comes from the primary.
        onApplied: (target) => {
          const snapshot = this.lastSnapshots[target.name];
          if (this.role === 'worker' && snapshot !== undefined) target.applySnapshot(snapshot);
        },
      }),
    );
  }

  private unbindDiscovery(name: string): void {
    const binding = this.discoveries.get(name);
    if (binding === undefined) return;
    this.discoveries.delete(name);
    void binding.stop();
  }

  private createListener(config: ListenerConfig): Listener {
    switch (config.protocol) {
      case 'http':
      case 'https':
        return new HttpListener(config, this.routerFor(config), this.loggers.accessLog, this.telemetry?.forListener(config.name));
      case 'tcp':
        return new TcpListener(config, this.tcpPool(config), this.loggers.accessLog);
      default: {
        const unreachable: never = config;
        throw new Error(`unknown listener protocol in ${JSON.stringify(unreachable)}`);
      }
    }
  }

  private updateListener(listener: Listener, config: ListenerConfig): void {
    if (listener instanceof TcpListener && config.protocol === 'tcp') {
      listener.update(config, this.tcpPool(config), this.loggers.accessLog);
    } else if (listener instanceof HttpListener && config.protocol !== 'tcp') {
      listener.update(config, this.routerFor(config), this.loggers.accessLog);
    }
  }

  private tcpPool(config: TcpListenerConfig): Pool {
    const pool = this.pools.get(config.pool);
    if (pool === undefined) throw new Error(`listener "${config.name}" names unknown pool "${config.pool}"`);
    return pool;
  }

  private routerFor(config: HttpListenerConfig | HttpsListenerConfig): Router<Pool> {
    return new Router(config.routes, (name) => {
      const pool = this.pools.get(name);
      if (pool === undefined) throw new Error(`route of listener "${config.name}" names unknown pool "${name}"`);
      return pool;
    });
  }
}

/** True when two pool configs differ at most in their servers, discovery sources and per-server connection limit. */
function samePolicy(a: PoolConfig, b: PoolConfig): boolean {
  const policy = (config: PoolConfig): string => JSON.stringify({ ...config, servers: undefined, discovery: undefined, maxConnections: undefined });
  return policy(a) === policy(b);
}

function sameSocket(a: ListenerConfig | undefined, b: ListenerConfig): boolean {
  return a !== undefined && a.protocol === b.protocol && a.listen.host === b.listen.host && a.listen.port === b.listen.port;
}

async function closePoolClients(pool: Pool): Promise<void> {
  await Promise.all([...pool.list()].map((server) => server.httpClient?.close()));
}

function poolStatus(pool: Pool, discovery: DiscoveryBinding | undefined): PoolStatus {
  return {
    name: pool.name,
    algorithm: pool.config.algorithm,
    health: pool.health,
    inFlight: pool.inFlight,
    ...(discovery === undefined ? {} : { discovery: discovery.status() }),
    servers: [...pool.list()].map((server) => ({
      name: server.name,
      address: formatHostPort(server.address),
      state: server.state,
      backup: server.backup,
      weight: server.configuredWeight,
      effectiveWeight: server.weight,
      activeConnections: server.inFlight,
      requests: server.counters.requests,
      failures: server.counters.failures,
      latencyMs: Math.round(server.counters.latencyEwmaMs * 100) / 100,
    })),
  };
}
