/**
 * The link between one pool's discovery and the live pool: what the runtime
 * holds per pool that has a `discovery` list.
 *
 * Every new merged list is applied with `Pool.applyServers`, exactly as a
 * reload applies a new static list: servers that stay keep their state and
 * take their new weight, removed ones drain and leave once idle, new ones
 * start per the health check, with slow start.
 */
import type { ServerConfig } from '../config/types.js';
import type { Pool } from '../pools/pool.js';
import { diffServers } from './diff.js';
import { createDiscovery, type DiscoveryDeps, type DiscoveryPoolConfig, type PoolDiscovery, type PoolDiscoveryStatus } from './pool-discovery.js';
import { silentLogger, type DiscoveryLogger } from './source.js';

/** Reason recorded in the events of changes made by discovery. */
export const DISCOVERY_REASON = 'discovery';

export interface DiscoveryBindingOptions extends DiscoveryDeps {
  /**
   * Called after each list was applied to the pool, e.g. for a worker
   * process to re-apply the primary's latest server states to servers it
   * just added.
   */
  readonly onApplied?: (pool: Pool) => void;
}

/**
 * Starts a pool's sources and keeps the pool equal to the merged list.
 * `attach` follows a reload: a pool rebuilt from a changed policy, or a
 * changed `servers`/`discovery` list; sources whose settings did not change
 * keep running, so nothing is resolved again.
 */
export class DiscoveryBinding {
  private pool: Pool;
  private readonly discovery: PoolDiscovery;
  private readonly onApplied: ((pool: Pool) => void) | undefined;
  private readonly logger: DiscoveryLogger;
  /** The last list applied. */
  private applied: readonly ServerConfig[];

  /** Starts the sources of `config.discovery`; the pool is expected to hold `config.servers`. */
  constructor(pool: Pool, config: DiscoveryPoolConfig, options: DiscoveryBindingOptions = {}) {
    this.pool = pool;
    this.applied = config.servers;
    this.onApplied = options.onApplied;
    this.logger = options.logger ?? silentLogger;
    this.discovery = createDiscovery(config, options);
    this.discovery.subscribe((servers) => this.apply(servers));
    this.discovery.start();
  }

  /** The pool's servers as discovery wants them now (static first). */
  servers(): readonly ServerConfig[] {
    return this.discovery.servers();
  }

  /** See {@link PoolDiscovery.ready}. */
  ready(timeoutMs: number): Promise<boolean> {
    return this.discovery.ready(timeoutMs);
  }

  /**
   * Follows `pool` (the same pool, or one rebuilt by a reload) with the
   * reloaded `config`, and gives it the resulting list at once.
   */
  attach(pool: Pool, config: DiscoveryPoolConfig): void {
    this.pool = pool;
    this.discovery.reconfigure(config);
    this.apply(this.discovery.servers());
  }

  status(): PoolDiscoveryStatus {
    return this.discovery.status();
  }

  /** Stops the sources; the pool keeps its servers. */
  stop(): Promise<void> {
    return this.discovery.stop();
  }

  private apply(servers: readonly ServerConfig[]): void {
    const diff = diffServers(this.applied, servers);
    this.applied = servers;
    this.pool.applyServers(servers, DISCOVERY_REASON);
    if (diff.added.length + diff.removed.length + diff.changed.length > 0) {
      this.logger.info(
        {
          pool: this.pool.name,
          added: diff.added.map((server) => server.name),
          removed: diff.removed.map((server) => server.name),
          changed: diff.changed.map((change) => change.after.name),
        },
        'discovery: pool servers changed',
      );
    }
    this.onApplied?.(this.pool);
  }
}
