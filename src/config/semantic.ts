/**
 * Checks that relate several parts of a config: references to pools and
 * sites, duplicate names, listeners that would bind the same address. They
 * run on the raw (not yet validated) data, so they are reported together with
 * schema problems; parts too malformed to check are skipped, as the schema
 * reports those. O(size of the config).
 */
import { formatHostPort } from '../core/server.js';
import type { HostPort } from '../core/server.js';
import type { ConfigPath, PathIssue } from './issues.js';
import { parseAddress } from './units.js';

export interface SemanticFindings {
  readonly errors: PathIssue[];
  readonly warnings: PathIssue[];
}

type Mapping = Readonly<Record<string, unknown>>;

function mapping(value: unknown): Mapping | undefined {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Mapping) : undefined;
}

function list(value: unknown): readonly unknown[] {
  return Array.isArray(value) ? value : [];
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

/** Reports the second and later occurrences of each name. */
function checkUnique(
  items: readonly { name: string; path: ConfigPath }[],
  what: string,
  errors: PathIssue[],
): void {
  const first = new Map<string, ConfigPath>();
  for (const item of items) {
    const earlier = first.get(item.name);
    if (earlier === undefined) first.set(item.name, item.path);
    else errors.push({ path: item.path, at: 'value', message: `duplicate ${what} "${item.name}"`, related: earlier });
  }
}

function named(items: readonly unknown[], basePath: ConfigPath, key: string): { name: string; path: ConfigPath }[] {
  const out: { name: string; path: ConfigPath }[] = [];
  items.forEach((item, index) => {
    const value = text(mapping(item)?.[key]);
    if (value !== undefined) out.push({ name: value, path: [...basePath, index, key] });
  });
  return out;
}

const WILDCARD_HOSTS = new Set(['0.0.0.0', '::']);

interface Binding {
  readonly address: HostPort;
  readonly owner: string;
  readonly path: ConfigPath;
}

/**
 * Two sockets clash when they share a port and either the same host or one
 * of them is a wildcard. Port 0 (any free port) never clashes. Host names are
 * compared as written, not resolved. O(n²) in the number of listen addresses.
 */
function checkBindings(bindings: readonly Binding[], errors: PathIssue[]): void {
  const seen: Binding[] = [];
  for (const binding of bindings) {
    if (binding.address.port === 0) continue;
    const clash = seen.find(
      (other) =>
        other.address.port === binding.address.port &&
        (other.address.host === binding.address.host ||
          WILDCARD_HOSTS.has(other.address.host) ||
          WILDCARD_HOSTS.has(binding.address.host)),
    );
    if (clash !== undefined) {
      const same = clash.address.host === binding.address.host;
      errors.push({
        path: binding.path,
        at: 'value',
        message: same
          ? `address ${formatHostPort(binding.address)} is already used by ${clash.owner}`
          : `address ${formatHostPort(binding.address)} overlaps ${formatHostPort(clash.address)} used by ${clash.owner}`,
        related: clash.path,
      });
    }
    seen.push(binding);
  }
}

function binding(value: unknown, owner: string, path: ConfigPath): Binding[] {
  const raw = text(value);
  if (raw === undefined) return [];
  try {
    return [{ address: parseAddress(raw), owner, path }];
  } catch {
    return []; // the schema reports the malformed address
  }
}

export function checkSemantics(raw: unknown): SemanticFindings {
  const errors: PathIssue[] = [];
  const warnings: PathIssue[] = [];
  const root = mapping(raw);
  if (root === undefined) return { errors, warnings };

  const listeners = list(root['listeners']);
  const pools = list(root['pools']);
  const gslb = mapping(root['gslb']);

  // Names.
  checkUnique(named(listeners, ['listeners'], 'name'), 'listener name', errors);
  checkUnique(named(pools, ['pools'], 'name'), 'pool name', errors);
  pools.forEach((pool, index) => {
    const servers = list(mapping(pool)?.['servers']);
    checkUnique(named(servers, ['pools', index, 'servers'], 'name'), 'server name', errors);
  });

  // Pool references.
  const poolNames = new Set(named(pools, ['pools'], 'name').map((item) => item.name));
  const used = new Set<string>();
  const reference = (value: unknown, path: ConfigPath): void => {
    const poolName = text(value);
    if (poolName === undefined) return;
    used.add(poolName);
    if (!poolNames.has(poolName)) errors.push({ path, at: 'value', message: `unknown pool "${poolName}"` });
  };
  listeners.forEach((item, index) => {
    const listener = mapping(item);
    if (listener === undefined) return;
    if (listener['protocol'] === 'tcp') {
      reference(listener['pool'], ['listeners', index, 'pool']);
      if (listener['acceptProxyProtocol'] === true && list(listener['trustedProxies']).length === 0) {
        errors.push({
          path: ['listeners', index, 'acceptProxyProtocol'],
          at: 'value',
          message: 'acceptProxyProtocol needs trustedProxies: the peers allowed to send a PROXY header',
        });
      }
    } else {
      list(listener['routes']).forEach((route, routeIndex) =>
        reference(mapping(route)?.['pool'], ['listeners', index, 'routes', routeIndex, 'pool']),
      );
    }
  });
  pools.forEach((item, index) => {
    const pool = mapping(item);
    const poolName = text(pool?.['name']);
    if (poolName !== undefined && !used.has(poolName)) {
      warnings.push({ path: ['pools', index, 'name'], at: 'value', message: `pool "${poolName}" is not used by any listener` });
    }
    const algorithm = pool?.['algorithm'] ?? 'round-robin';
    if (pool?.['hashKey'] !== undefined && algorithm !== 'consistent-hash') {
      warnings.push({
        path: ['pools', index, 'hashKey'],
        at: 'key',
        message: `hashKey is ignored: only algorithm consistent-hash uses it (this pool uses ${String(algorithm)})`,
      });
    }
  });

  // Addresses bound by this instance.
  const bindings: Binding[] = [];
  listeners.forEach((item, index) => {
    const listener = mapping(item);
    const owner = `listener "${text(listener?.['name']) ?? index}"`;
    bindings.push(...binding(listener?.['listen'], owner, ['listeners', index, 'listen']));
  });
  bindings.push(...binding(mapping(root['admin'])?.['listen'], 'admin', ['admin', 'listen']));
  bindings.push(...binding(mapping(gslb?.['heartbeat'])?.['listen'], 'gslb.heartbeat', ['gslb', 'heartbeat', 'listen']));
  bindings.push(...binding(mapping(gslb?.['dns'])?.['listen'], 'gslb.dns', ['gslb', 'dns', 'listen']));
  checkBindings(bindings, errors);

  if (gslb !== undefined) checkGslb(gslb, errors);
  checkHooks(list(root['hooks']), poolNames, gslb, errors);
  return { errors, warnings };
}

function checkGslb(gslb: Mapping, errors: PathIssue[]): void {
  const ownSite = text(gslb['site']);
  const peers = list(gslb['peers']);
  const peerSites = named(peers, ['gslb', 'peers'], 'site');
  for (const peer of peerSites) {
    if (peer.name === ownSite) {
      errors.push({ path: peer.path, at: 'value', message: `peer site "${peer.name}" is this instance's own site` });
    }
  }
  checkUnique(peerSites, 'peer site', errors);

  const sites = new Set(peerSites.map((peer) => peer.name));
  if (ownSite !== undefined) sites.add(ownSite);
  const records = list(mapping(gslb['dns'])?.['records']);
  const recordKeys: { name: string; path: ConfigPath }[] = [];
  records.forEach((item, index) => {
    const record = mapping(item);
    const recordName = text(record?.['name']);
    if (recordName !== undefined) {
      recordKeys.push({ name: `${recordName.toLowerCase()} ${text(record?.['type']) ?? 'A'}`, path: ['gslb', 'dns', 'records', index, 'name'] });
    }
    list(record?.['targets']).forEach((target, targetIndex) => {
      const site = text(mapping(target)?.['site']);
      if (site !== undefined && !sites.has(site)) {
        errors.push({
          path: ['gslb', 'dns', 'records', index, 'targets', targetIndex, 'site'],
          at: 'value',
          message: `unknown site "${site}": not gslb.site nor a peer's site`,
        });
      }
    });
  });
  checkUnique(recordKeys, 'DNS record', errors);
}

/** Hook names are unique; pool and site filters name pools and sites of this config. */
function checkHooks(hooks: readonly unknown[], poolNames: ReadonlySet<string>, gslb: Mapping | undefined, errors: PathIssue[]): void {
  checkUnique(named(hooks, ['hooks'], 'name'), 'hook name', errors);
  const sites = new Set(named(list(gslb?.['peers']), ['gslb', 'peers'], 'site').map((peer) => peer.name));
  const ownSite = text(gslb?.['site']);
  if (ownSite !== undefined) sites.add(ownSite);
  hooks.forEach((item, index) => {
    const hook = mapping(item);
    list(hook?.['pools']).forEach((value, poolIndex) => {
      const poolName = text(value);
      if (poolName !== undefined && !poolNames.has(poolName)) {
        errors.push({ path: ['hooks', index, 'pools', poolIndex], at: 'value', message: `unknown pool "${poolName}"` });
      }
    });
    list(hook?.['sites']).forEach((value, siteIndex) => {
      const site = text(value);
      if (site !== undefined && !sites.has(site)) {
        errors.push({ path: ['hooks', index, 'sites', siteIndex], at: 'value', message: `unknown site "${site}": not gslb.site nor a peer's site` });
      }
    });
  });
}
