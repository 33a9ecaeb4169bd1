/**
 * Service discovery for pools: servers from DNS (SRV, A, AAAA) and from
 * watched files, merged with a pool's static servers into the one list the
 * pool should have, and applied to the live pool as they change.
 *
 * Wiring, per pool with a `discovery` list:
 *   const binding = new DiscoveryBinding(pool, poolConfig, { logger });
 *   await binding.ready(5000);           // first answers before serving
 *   binding.attach(pool, reloadedConfig); // after a reload (same or rebuilt pool)
 *   await binding.stop();                // pool removed, discovery removed, shutdown
 */
export * from './types.js';
export { DISCOVERY_REASON, DiscoveryBinding, type DiscoveryBindingOptions } from './binding.js';
export { addressKey, canonicalHost, diffServers, mergeServers, sameServer, sameServerList, serverNameFor } from './diff.js';
export type { MergeConflict, MergeResult, ServerChange, ServerDiff } from './diff.js';
export { DnsSource, refreshDelay, retryDelay, systemResolvers } from './dns.js';
export { FileSource, parseServerFile } from './file.js';
export { createDiscovery, createSource, PoolDiscovery } from './pool-discovery.js';
export type { DiscoveryDeps, DiscoveryPoolConfig, PoolDiscoveryStatus } from './pool-discovery.js';
export { discoveryListSchema, discoverySchema, fileServersSchema, parseResolver } from './schema.js';
export type { DiscoveryLogger, DiscoverySource, SourceState, SourceStatus } from './source.js';
