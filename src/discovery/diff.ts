/**
 * Pure helpers over server lists: the names given to discovered servers, the
 * merge of a pool's static servers with what its sources found, and the
 * difference between two lists that a pool applies.
 *
 * A server's identity in a pool is its name. Discovered servers without a
 * name of their own are named after their address, so the same address keeps
 * the same name (and with it health, counters and sticky sessions) across
 * resolutions.
 */
import { isIPv6 } from 'node:net';
import type { ServerConfig } from '../config/types.js';
import type { HostPort } from '../core/server.js';

/**
 * The canonical text of a host: IPv6 addresses compressed and lower-cased
 * (`0:0::1` and `::1` are one address), names lower-cased, IPv4 unchanged.
 */
export function canonicalHost(host: string): string {
  if (isIPv6(host) && !host.includes('%')) return new URL(`http://[${host}]/`).hostname.slice(1, -1);
  return host.toLowerCase();
}

/** `host:port` with the canonical host; the key under which two entries are the same server. */
export function addressKey(address: HostPort): string {
  const host = canonicalHost(address.host);
  return host.includes(':') ? `[${host}]:${address.port}` : `${host}:${address.port}`;
}

/**
 * The name of a discovered server at `address`: the canonical host with
 * colons as `-`, then `_` and the port (`10.0.0.1_8080`,
 * `2001-db8--1_8080`, `0--1_8080` for `::1`). It is a valid server name
 * (letters, digits, `.`, `_`, `-`, starting with a letter or digit) and
 * distinct addresses get distinct names: the port follows the last `_`, and
 * hosts never contain `_` after the mapping.
 */
export function serverNameFor(address: HostPort): string {
  let host = canonicalHost(address.host);
  if (host.startsWith(':')) host = `0${host}`;
  return `${host.replace(/[^A-Za-z0-9.-]/g, '-')}_${address.port}`;
}

/** Same name, address, weight and backup flag. */
export function sameServer(a: ServerConfig, b: ServerConfig): boolean {
  return (
    a.name === b.name &&
    a.weight === b.weight &&
    a.backup === b.backup &&
    a.address.port === b.address.port &&
    canonicalHost(a.address.host) === canonicalHost(b.address.host)
  );
}

/** The same servers, in any order. O(n). */
export function sameServerList(a: readonly ServerConfig[], b: readonly ServerConfig[]): boolean {
  if (a.length !== b.length) return false;
  const byName = new Map(a.map((server) => [server.name, server]));
  return b.every((server) => {
    const other = byName.get(server.name);
    return other !== undefined && sameServer(other, server);
  });
}

export interface ServerChange {
  readonly before: ServerConfig;
  readonly after: ServerConfig;
}

export interface ServerDiff {
  /** Names in `next` only. */
  readonly added: readonly ServerConfig[];
  /** Names in `current` only. */
  readonly removed: readonly ServerConfig[];
  /** Names in both whose weight, address or backup flag differ. */
  readonly changed: readonly ServerChange[];
}

/**
 * What turns `current` into `next`, matched by name. Each list keeps the
 * order of the list it comes from. Names must be unique within each list.
 * O(n + m).
 */
export function diffServers(current: readonly ServerConfig[], next: readonly ServerConfig[]): ServerDiff {
  const before = new Map(current.map((server) => [server.name, server]));
  const nextNames = new Set(next.map((server) => server.name));
  const added: ServerConfig[] = [];
  const changed: ServerChange[] = [];
  for (const server of next) {
    const old = before.get(server.name);
    if (old === undefined) added.push(server);
    else if (!sameServer(old, server)) changed.push({ before: old, after: server });
  }
  const removed = current.filter((server) => !nextNames.has(server.name));
  return { added, removed, changed };
}

/** One entry left out of a merge, and why. */
export interface MergeConflict {
  readonly server: ServerConfig;
  /** The entry that was kept instead. */
  readonly kept: ServerConfig;
  readonly reason: 'same-address' | 'same-name';
}

export interface MergeResult {
  readonly servers: readonly ServerConfig[];
  readonly conflicts: readonly MergeConflict[];
}

/**
 * A pool's servers: its static servers, then each source's in order. The
 * first entry for an address wins (a static server beats a discovered one
 * at the same address); a later entry whose name is taken by another
 * address is left out. Both are reported as conflicts. O(total entries).
 */
export function mergeServers(
  staticServers: readonly ServerConfig[],
  discovered: readonly (readonly ServerConfig[])[],
): MergeResult {
  const servers: ServerConfig[] = [];
  const conflicts: MergeConflict[] = [];
  const byAddress = new Map<string, ServerConfig>();
  const byName = new Map<string, ServerConfig>();
  for (const list of [staticServers, ...discovered]) {
    for (const server of list) {
      const key = addressKey(server.address);
      const sameAddress = byAddress.get(key);
      if (sameAddress !== undefined) {
        if (sameAddress !== server) conflicts.push({ server, kept: sameAddress, reason: 'same-address' });
        continue;
      }
      const sameName = byName.get(server.name);
      if (sameName !== undefined) {
        conflicts.push({ server, kept: sameName, reason: 'same-name' });
        continue;
      }
      byAddress.set(key, server);
      byName.set(server.name, server);
      servers.push(server);
    }
  }
  return { servers, conflicts };
}
