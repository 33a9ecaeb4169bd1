/**
 * Ballast as a library: start a load balancer from a config file, a config
 * object (same shape as the YAML) or an already validated config.
 *
 * ```ts
 * import { start } from 'ballast';
 * const lb = await start({ listeners: [...], pools: [...] });
 * console.log(lb.status());
 * await lb.close();
 * ```
 */
import { configFromObject, loadConfigFile } from './config/index.js';
import type { BallastConfig } from './config/types.js';
import type { BallastEvent } from './core/events.js';
import { Runtime, type ServerAction } from './runtime/runtime.js';
import type { RuntimeStatus } from './runtime/status.js';

export interface BallastHandle {
  /** Applies a new config (path, object or validated config); the running one stays if the new one is invalid. */
  reload(config: ConfigInput): Promise<void>;
  status(): RuntimeStatus;
  /** The bound address of a listener by name (handy with port 0). */
  address(listener: string): { host: string; port: number } | undefined;
  /** The bound admin API address, when `admin` is configured. */
  adminAddress(): { host: string; port: number } | undefined;
  /** Drains, disables, enables or reweights one server; throws a 404-typed BallastError for unknown names. */
  serverAction(pool: string, server: string, action: ServerAction): void;
  /** Follows state changes; returns the unsubscribe function. */
  onEvent(listener: (event: BallastEvent) => void): () => void;
  /** Stops accepting, lets in-flight requests finish (up to `drainMs`, default the config's drainTimeout), releases everything. */
  close(drainMs?: number): Promise<void>;
}

/** A config file path, a plain object shaped like the YAML file, or a validated config. */
export type ConfigInput = string | BallastConfig | Record<string, unknown>;

export async function resolveConfig(input: ConfigInput): Promise<BallastConfig> {
  if (typeof input === 'string') return loadConfigFile(input);
  if (isValidated(input)) return input;
  return configFromObject(input);
}

function isValidated(input: BallastConfig | Record<string, unknown>): input is BallastConfig {
  return Object.isFrozen(input) && typeof input.source === 'string' && 'drainTimeout' in input;
}

export async function start(input: ConfigInput): Promise<BallastHandle> {
  const runtime = await Runtime.start(await resolveConfig(input));
  return {
    reload: async (config) => runtime.reload(await resolveConfig(config)),
    status: () => runtime.status(),
    address: (listener) => runtime.listenerAddress(listener),
    adminAddress: () => runtime.adminAddress(),
    serverAction: (pool, server, action) => runtime.serverAction(pool, server, action),
    onEvent: (listener) => runtime.events.subscribe(listener),
    close: (drainMs) => runtime.close(drainMs),
  };
}

export { ConfigError, BallastError, ErrorCodes, formatConfigIssue } from './core/errors.js';
export type { ConfigIssue, ErrorCode } from './core/errors.js';
export type { BallastEvent, BallastEventType } from './core/events.js';
export type * from './config/types.js';
export type { RuntimeStatus, PoolStatus, ServerStatus, ListenerStatus } from './runtime/status.js';
export type { ServerAction } from './runtime/runtime.js';
export { loadConfigFile, configFromObject } from './config/index.js';
