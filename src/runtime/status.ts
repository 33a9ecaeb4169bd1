import type { ServerState } from '../core/server.js';
import type { PoolHealth } from '../pools/pool.js';

/** The shape of `GET /api/v1/status` and of `handle.status()`; a public contract. */
export interface RuntimeStatus {
  readonly version: string;
  readonly startedAt: string;
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
