import type { ServerState } from '../core/server.js';
import type { PoolDiscoveryStatus } from '../discovery/index.js';
import type { GslbStatus } from '../gslb/index.js';
import type { PoolHealth } from '../pools/pool.js';

/** The shape of `GET /api/v1/status` and of `handle.status()`; a public contract. */
export interface RuntimeStatus {
  readonly version: string;
  readonly startedAt: string;
  /** Sites, quorum and DNS answers, when `gslb` is configured. */
  readonly gslb?: GslbStatus;
  /** Proxy worker processes, when `workers` > 1. */
  readonly workers?: readonly { readonly id: number; readonly pid: number | undefined }[];
  readonly listeners: readonly ListenerStatus[];
  readonly pools: readonly PoolStatus[];
}

export interface ListenerStatus {
  readonly name: string;
  readonly protocol: 'http' | 'https' | 'tcp';
  readonly address: string;
  readonly inFlight: number;
}

export interface PoolStatus {
  readonly name: string;
  readonly algorithm: string;
  readonly health: PoolHealth;
  readonly inFlight: number;
  readonly servers: readonly ServerStatus[];
  /** Each discovery source's state, when the pool has a `discovery` list. */
  readonly discovery?: PoolDiscoveryStatus;
}

export interface ServerStatus {
  readonly name: string;
  readonly address: string;
  readonly state: ServerState;
  readonly backup: boolean;
  readonly weight: number;
  readonly effectiveWeight: number;
  readonly activeConnections: number;
  readonly requests: number;
  readonly failures: number;
  /** Smoothed time to response headers, in milliseconds. */
  readonly latencyMs: number;
}

/**
 * A primary's view: its own pools hold the authoritative states (it runs the
 * checks and takes admin actions); traffic counters and listeners come from
 * the workers and are summed.
 */
export function mergeWorkerStatuses(
  primary: RuntimeStatus,
  workerStatuses: readonly RuntimeStatus[],
  workers: readonly { readonly id: number; readonly pid: number | undefined }[],
): RuntimeStatus {
  const listeners = new Map<string, ListenerStatus>();
  for (const status of workerStatuses) {
    for (const listener of status.listeners) {
      const seen = listeners.get(listener.name);
      listeners.set(listener.name, seen === undefined ? listener : { ...seen, inFlight: seen.inFlight + listener.inFlight });
    }
  }
  const pools = primary.pools.map((pool) => {
    const fromWorkers = workerStatuses.map((status) => status.pools.find((p) => p.name === pool.name));
    return {
      ...pool,
      inFlight: fromWorkers.reduce((sum, p) => sum + (p?.inFlight ?? 0), 0),
      servers: pool.servers.map((server) => {
        const copies = fromWorkers.map((p) => p?.servers.find((s) => s.name === server.name)).filter((s) => s !== undefined);
        const requests = copies.reduce((sum, s) => sum + s.requests, 0);
        return {
          ...server,
          activeConnections: copies.reduce((sum, s) => sum + s.activeConnections, 0),
          requests,
          failures: copies.reduce((sum, s) => sum + s.failures, 0),
          latencyMs:
            requests === 0 ? 0 : Math.round((copies.reduce((sum, s) => sum + s.latencyMs * s.requests, 0) / requests) * 100) / 100,
        };
      }),
    };
  });
  return { ...primary, workers, listeners: [...listeners.values()], pools };
}
