import type { UpstreamPool } from '../http1/client.js';
import type { ServerConfig } from '../config/types.js';
import type { BalancerTarget, HostPort, ServerState } from '../core/server.js';

/** Health as the active checker sees it; independent of admin and outlier states. */
export type HealthVerdict = 'unknown' | 'healthy' | 'unhealthy';

/** Live counters of one server, read by status and metrics. */
export interface ServerCounters {
  requests: number;
  failures: number;
  /** Total upstream latency (ms) of completed requests, for the mean. */
  latencyTotalMs: number;
  /** Exponentially weighted latency (ms) for status displays. */
  latencyEwmaMs: number;
}

/**
 * One server of one pool at run time. The pool owns every field that changes;
 * balancers read it through `BalancerTarget`.
 */
export class PoolServer implements BalancerTarget {
  readonly name: string;
  readonly pool: string;
  readonly address: HostPort;
  readonly backup: boolean;
  /** Weight from config or the admin API, before slow start scaling. */
  configuredWeight: number;
  /** Effective weight the balancer sees. */
  weight: number;
  inFlight = 0;
  /** Per-server connection limit; Infinity when unlimited. */
  maxConnections: number;
  health: HealthVerdict;
  ejected = false;
  draining = false;
  disabled = false;
  /** Whether the balancer currently holds this server as up; kept by the pool. */
  eligible = false;
  /** Keep-alive connections to this server, created by the HTTP proxy on first use. */
  httpClient: UpstreamPool | undefined;
  readonly counters: ServerCounters = { requests: 0, failures: 0, latencyTotalMs: 0, latencyEwmaMs: 0 };

  constructor(pool: string, config: ServerConfig, maxConnections: number | undefined, initialHealth: HealthVerdict) {
    this.name = config.name;
    this.pool = pool;
    this.address = config.address;
    this.backup = config.backup;
    this.configuredWeight = config.weight;
    this.weight = config.weight;
    this.maxConnections = maxConnections ?? Infinity;
    this.health = initialHealth;
  }

  get atCapacity(): boolean {
    return this.inFlight >= this.maxConnections;
  }

  /** The single state the admin API reports; admin decisions outrank health. */
  get state(): ServerState {
    if (this.disabled) return 'disabled';
    if (this.draining) return 'draining';
    if (this.ejected) return 'ejected';
    return this.health;
  }

  /** True when the server may receive new requests. */
  get serving(): boolean {
    return this.health === 'healthy' && !this.ejected && !this.draining && !this.disabled;
  }
}
