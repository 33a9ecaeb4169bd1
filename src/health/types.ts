/**
 * Types shared by the active checks, the rise/fall state machine, the
 * checker and the outlier detector.
 */
import type { HealthCheckConfig } from '../config/types.js';
import type { HostPort } from '../core/server.js';

/**
 * The verdict of one active check. `reason` is short and stable enough for
 * events and the status API: the status code (`200`), `status 503`,
 * `timeout`, `refused`, `reset`, `body mismatch`, `in recovery`,
 * `role:slave`, `auth failed: ...`.
 */
export interface CheckResult {
  readonly ok: boolean;
  readonly reason: string;
}

export type HttpHealthCheckConfig = Extract<HealthCheckConfig, { readonly type: 'http' }>;
export type TcpHealthCheckConfig = Extract<HealthCheckConfig, { readonly type: 'tcp' }>;
export type PostgresHealthCheckConfig = Extract<HealthCheckConfig, { readonly type: 'postgres' }>;
export type RedisHealthCheckConfig = Extract<HealthCheckConfig, { readonly type: 'redis' }>;

/**
 * One probe of one server.
 *
 * Contract: resolves (never rejects) within `config.timeout` plus scheduling
 * slack, and promptly once `signal` aborts; it releases every socket it
 * opened before resolving.
 */
export type CheckFunction = (target: HostPort, config: HealthCheckConfig, signal: AbortSignal) => Promise<CheckResult>;

/** What active health checking says about a server. */
export type HealthStatus = 'unknown' | 'healthy' | 'unhealthy';
