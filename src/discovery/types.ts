/**
 * Service discovery settings of a pool, in their validated, normalized form
 * (the shape `schema.ts` produces and `PoolConfig.discovery` holds): every
 * default applied, durations in milliseconds, addresses split into host and
 * port, file paths absolute.
 */
import type { HostPort } from '../core/server.js';

/** Milliseconds. */
type Millis = number;

/** Which addresses of an SRV target become servers. */
export const ADDRESS_FAMILIES = ['ipv4', 'ipv6', 'both'] as const;
export type AddressFamily = (typeof ADDRESS_FAMILIES)[number];

interface DnsDiscoveryCommon {
  readonly type: 'dns';
  /** Absolute name, lower case, without the trailing dot (`_api._tcp.example.com`). */
  readonly name: string;
  /** DNS servers asked, in order; empty means the system's (`/etc/resolv.conf`). */
  readonly resolvers: readonly HostPort[];
  /** Longest time between two resolutions; a shorter TTL re-resolves sooner. Default 5s. */
  readonly interval: Millis;
  /** Shortest time between two resolutions, whatever the TTL says. Default 1s. */
  readonly minInterval: Millis;
  /** Time one query waits for an answer from one resolver. Default 2s. */
  readonly timeout: Millis;
  /** Every server found is a backup. Default false. */
  readonly backup: boolean;
}

/** Servers from SRV records: port, weight and priority come from each record. */
export interface SrvDiscoveryConfig extends DnsDiscoveryCommon {
  readonly recordType: 'SRV';
  /** Target addresses used: A (ipv4), AAAA (ipv6) or both. Default ipv4. */
  readonly family: AddressFamily;
}

/** Servers from A or AAAA records: one server per address, on a configured port. */
export interface AddressDiscoveryConfig extends DnsDiscoveryCommon {
  readonly recordType: 'A' | 'AAAA';
  readonly port: number;
  /** Weight of every server found. Default 1. */
  readonly weight: number;
}

export type DnsDiscoveryConfig = SrvDiscoveryConfig | AddressDiscoveryConfig;

/** Servers listed in a YAML or JSON file that is watched for changes. */
export interface FileDiscoveryConfig {
  readonly type: 'file';
  /** Absolute path (a relative path in the config file is relative to the config file). */
  readonly path: string;
  /** How often the file is checked when change notifications are unavailable or missed. Default 5s. */
  readonly interval: Millis;
}

export type DiscoveryConfig = DnsDiscoveryConfig | FileDiscoveryConfig;
