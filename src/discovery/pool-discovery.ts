/**
 * A pool's static servers merged with what each of its discovery sources
 * finds, and the factory that builds the sources from their config.
 */
import type { ServerConfig } from '../config/types.js';
import type { Clock } from '../core/clock.js';
import type { HostPort } from '../core/server.js';
import { systemTimers, type Timers } from '../core/timers.js';
import { mergeServers, sameServerList, type MergeConflict } from './diff.js';
import { DnsSource } from './dns.js';
import { FileSource } from './file.js';
import { silentLogger, type DiscoveryLogger, type DiscoverySource, type SourceStatus } from './source.js';
import type { DiscoveryConfig } from './types.js';

/** The part of a pool's config discovery reads (`PoolConfig` once it has `discovery`). */
export interface DiscoveryPoolConfig {
  readonly name: string;
  readonly servers: readonly ServerConfig[];
  readonly discovery: readonly DiscoveryConfig[];
}

export interface DiscoveryDeps {
  readonly logger?: DiscoveryLogger;
  readonly timers?: Timers;
  readonly clock?: Clock;
  /** Resolvers of DNS sources that name none. Default: the system's. */
  readonly systemResolvers?: () => readonly HostPort[];
  /** File sources also use change notifications. Default true. */
  readonly watchFiles?: boolean;
}

/** One source for `pool`. Exhaustive over the source types. */
export function createSource(config: DiscoveryConfig, pool: string, deps: DiscoveryDeps = {}): DiscoverySource {
  const common = {
    pool,
    ...(deps.logger === undefined ? {} : { logger: deps.logger }),
    ...(deps.timers === undefined ? {} : { timers: deps.timers }),
    ...(deps.clock === undefined ? {} : { clock: deps.clock }),
  };
  switch (config.type) {
    case 'dns':
      return new DnsSource(config, { ...common, ...(deps.systemResolvers === undefined ? {} : { systemResolvers: deps.systemResolvers }) });
    case 'file':
      return new FileSource(config, { ...common, ...(deps.watchFiles === undefined ? {} : { watch: deps.watchFiles }) });
    default: {
      const unknownType: never = config;
      throw new Error(`unknown discovery source type ${JSON.stringify(unknownType)}`);
    }
  }
}

export interface PoolDiscoveryStatus {
  readonly sources: readonly SourceStatus[];
  /** Discovered entries left out: the same address or name as an earlier entry. */
  readonly conflicts: readonly string[];
}

interface Entry {
  readonly config: DiscoveryConfig;
  /** Canonical text of `config`, to recognise an unchanged source across reloads. */
  readonly key: string;
  readonly source: DiscoverySource;
  found: readonly ServerConfig[];
}

/**
 * A pool's static servers plus what each of its sources currently finds,
 * merged by {@link mergeServers}. Listeners hear the merged list each time
 * it changes; a source's failure never changes it (the source keeps its
 * last list).
 */
export class PoolDiscovery {
  readonly pool: string;
  private staticServers: readonly ServerConfig[];
  private entries: Entry[];
  private readonly deps: DiscoveryDeps;
  private readonly listeners = new Set<(servers: readonly ServerConfig[]) => void>();
  private readonly logger: DiscoveryLogger;
  private readonly timers: Timers;
  private merged: readonly ServerConfig[];
  private conflicts: readonly string[] = [];
  private started = false;
  private stopped = false;

  /** Builds one source per entry of `config.discovery`; nothing runs before `start`. */
  constructor(config: DiscoveryPoolConfig, deps: DiscoveryDeps = {}) {
    this.pool = config.name;
    this.deps = deps;
    this.staticServers = config.servers;
    this.entries = config.discovery.map((source) => this.entry(source));
    this.merged = config.servers;
    this.logger = deps.logger ?? silentLogger;
    this.timers = deps.timers ?? systemTimers;
  }

  /** Calls `listener` with every new merged list; returns the unsubscribe function. */
  subscribe(listener: (servers: readonly ServerConfig[]) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Starts every source. Call once. */
  start(): void {
    if (this.started) throw new Error(`discovery of pool "${this.pool}" was already started`);
    this.started = true;
    for (const entry of this.entries) this.startEntry(entry);
  }

  /**
   * Takes a reloaded pool config: a source whose settings did not change
   * keeps running with its servers; a removed or changed one stops and its
   * servers leave; a new one starts and its servers join when found. New
   * static servers apply at once. O(sources²) to match the sources.
   */
  reconfigure(config: DiscoveryPoolConfig): void {
    if (this.stopped) throw new Error(`discovery of pool "${this.pool}" was stopped`);
    const unused = [...this.entries];
    const next = config.discovery.map((source) => {
      const key = JSON.stringify(source);
      const index = unused.findIndex((entry) => entry.key === key);
      if (index >= 0) return unused.splice(index, 1)[0] as Entry;
      const entry = this.entry(source);
      if (this.started) this.startEntry(entry);
      return entry;
    });
    for (const entry of unused) void entry.source.stop();
    this.entries = next;
    this.staticServers = config.servers;
    this.remerge();
  }

  /** The merged list now: static servers first, then each source's. */
  servers(): readonly ServerConfig[] {
    return this.merged;
  }

  /**
   * Resolves true once every source has made its first attempt, or false
   * after `timeoutMs` (the sources keep trying). Never rejects.
   */
  ready(timeoutMs: number): Promise<boolean> {
    return new Promise((resolve) => {
      const timer = this.timers.setTimeout(() => resolve(false), timeoutMs);
      void Promise.all(this.entries.map((entry) => entry.source.firstAttempt())).then(() => {
        this.timers.clearTimeout(timer);
        resolve(true);
      });
    });
  }

  status(): PoolDiscoveryStatus {
    return { sources: this.entries.map((entry) => entry.source.status()), conflicts: this.conflicts };
  }

  /** Stops every source; the merged list stays as it is. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.listeners.clear();
    await Promise.all(this.entries.map((entry) => entry.source.stop()));
  }

  private entry(config: DiscoveryConfig): Entry {
    return { config, key: JSON.stringify(config), source: createSource(config, this.pool, this.deps), found: [] };
  }

  private startEntry(entry: Entry): void {
    entry.source.start((servers) => {
      entry.found = servers;
      // A source replaced by a reload may still report while it stops.
      if (this.entries.includes(entry)) this.remerge();
    });
  }

  private remerge(): void {
    const { servers, conflicts } = mergeServers(
      this.staticServers,
      this.entries.map((entry) => entry.found),
    );
    const described = conflicts.map(describeConflict);
    if (described.join('\n') !== this.conflicts.join('\n') && described.length > 0) {
      this.logger.warn({ pool: this.pool, conflicts: described }, 'discovery: servers left out');
    }
    this.conflicts = described;
    if (sameServerList(this.merged, servers)) return;
    this.merged = servers;
    for (const listener of this.listeners) listener(servers);
  }
}

function describeConflict(conflict: MergeConflict): string {
  const why = conflict.reason === 'same-address' ? `has the address of "${conflict.kept.name}"` : 'has a name already in use for another address';
  return `server "${conflict.server.name}" ${why}`;
}

/** The discovery of one pool, with one source per entry of `pool.discovery`. Not started. */
export function createDiscovery(pool: DiscoveryPoolConfig, deps: DiscoveryDeps = {}): PoolDiscovery {
  return new PoolDiscovery(pool, deps);
}
